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
