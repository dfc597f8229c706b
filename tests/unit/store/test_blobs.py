"""The blob store: atomic, streamed, never named by users."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from skyhold.store import BlobStore


def test_write_commit_read(tmp_path: Path) -> None:
    blobs = BlobStore(tmp_path)
    with blobs.writer() as w:
        w.write(b"hello ")
        w.write(b"world")
        blob_id = w.commit()
    assert blobs.size(blob_id) == 11
    with blobs.open(blob_id) as fh:
        fh.seek(6)
        assert fh.read() == b"world"


def test_uncommitted_or_failed_writes_are_invisible(tmp_path: Path) -> None:
    blobs = BlobStore(tmp_path)
    w = blobs.writer()
    w.write(b"half")
    with pytest.raises(KeyError):
        blobs.open(w.blob_id)  # not visible before commit
    with pytest.raises(ValueError):
        with blobs.writer() as w2:
            w2.write(b"x")
            raise ValueError
    with pytest.raises(KeyError):
        blobs.open(w2.blob_id)
    # a crashed writer's temp file is swept at the next start
    assert BlobStore(tmp_path).sweep_orphans() == 1
    assert not list(tmp_path.glob("*/*.partial"))


def test_blob_ids_are_not_paths(tmp_path: Path) -> None:
    blobs = BlobStore(tmp_path)
    for bad in ("../etc/passwd", "a" * 32 + "/..", "", "ZZ" * 16):
        with pytest.raises(KeyError):
            blobs.open(bad)


# Peak RSS from VmHWM: ru_maxrss survives execve and would report the (large) test
# worker that spawned this process.
STREAM_SCRIPT = r"""
import sys
from pathlib import Path
from skyhold.store import BlobStore
blobs = BlobStore(Path(sys.argv[1]))
chunk = bytes(range(256)) * 4096  # 1 MiB
with blobs.writer() as w:
    for _ in range(300):
        w.write(chunk)
    blob_id = w.commit()
total = 0
with blobs.open(blob_id) as fh:
    while data := fh.read(1 << 20):
        total += len(data)
hwm = next(l for l in open("/proc/self/status") if l.startswith("VmHWM:")).split()[1]
print(total, hwm)
"""


def test_streaming_300_mib_keeps_memory_bounded(tmp_path: Path) -> None:
    out = subprocess.run([sys.executable, "-c", STREAM_SCRIPT, str(tmp_path)], capture_output=True, text=True, check=True)
    total, peak_kib = map(int, out.stdout.split())
    assert total == 300 * (1 << 20)
    assert peak_kib < 120 * 1024, f"peak RSS {peak_kib} KiB"


def _pattern(size: int) -> bytes:
    return bytes(i * 7 % 251 for i in range(size))


@pytest.mark.parametrize("direct", [True, False], ids=["direct-io", "file-system-refuses-direct-io"])
def test_large_blobs_round_trip_at_any_offset(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, direct: bool) -> None:
    """A blob past one direct-I/O buffer, with a tail that is no multiple of the block
    size, written in odd pieces; read back whole, from unaligned offsets, across buffer
    edges and past its end — the same with direct I/O and without (tmpfs refuses it)."""
    from skyhold.store import blobs as blobs_module

    if not direct:
        monkeypatch.setattr(blobs_module, "_set_direct", lambda fd, on: False)
    size = 3 * blobs_module.DIRECT_BUFFER + 12345
    data = _pattern(size)
    store = BlobStore(tmp_path)
    with store.writer() as w:
        for at in range(0, size, 70001):
            w.write(data[at:at + 70001])
        blob_id = w.commit()
    assert store.size(blob_id) == size
    assert not list(tmp_path.glob("*/*.partial"))
    with store.open(blob_id) as fh:
        assert isinstance(fh, blobs_module.DirectReader) is direct
        assert fh.read() == data
        for offset, count in ((1, 5000), (blobs_module.DIRECT_BUFFER - 3, 10), (4095, 1 << 20), (size - 7, 100)):
            fh.seek(offset)
            assert fh.read(count) == data[offset:offset + count], (offset, count)
        fh.seek(size + 10)
        assert fh.read(10) == b""


def test_a_failed_large_blob_leaves_nothing(tmp_path: Path) -> None:
    from skyhold.store.blobs import DIRECT_BUFFER

    store = BlobStore(tmp_path)
    with pytest.raises(RuntimeError):
        with store.writer() as w:
            w.write(b"x" * (2 * DIRECT_BUFFER + 1))
            raise RuntimeError("the body broke off")
    assert not list(tmp_path.glob("*/*"))


def test_a_file_system_that_refuses_direct_io_mid_way_is_read_and_written_cached(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Some file systems accept the O_DIRECT flag and then refuse the I/O (EINVAL): the
    blob is still written and read whole, through the page cache."""
    import errno
    import os as real_os
    import types

    from skyhold.store import blobs as blobs_module

    refused = {"write": 0, "preadv": 0}

    def write(fd: int, data) -> int:
        if len(data) == blobs_module.DIRECT_BUFFER and not refused["write"]:
            refused["write"] += 1
            raise OSError(errno.EINVAL, "Invalid argument")
        return real_os.write(fd, data)

    def preadv(fd: int, buffers, offset: int) -> int:
        refused["preadv"] += 1
        raise OSError(errno.EINVAL, "Invalid argument")

    fake_os = types.SimpleNamespace(**{n: getattr(real_os, n) for n in dir(real_os) if not n.startswith("__")})
    fake_os.write, fake_os.preadv = write, preadv
    monkeypatch.setattr(blobs_module, "os", fake_os)
    data = _pattern(2 * blobs_module.DIRECT_BUFFER + 999)
    store = BlobStore(tmp_path)
    with store.writer() as w:
        w.write(data)
        blob_id = w.commit()
    with store.open(blob_id) as fh:
        fh.seek(12345)
        assert fh.read(1 << 20) == data[12345:12345 + (1 << 20)]
        assert fh.read() == data[12345 + (1 << 20):]
    assert refused == {"write": 1, "preadv": 1}
