"""Start-up independent of the data: after a graceful stop `skyhold up` skips the blob
store's orphan sweep (which reads every record); after a SIGKILL it sweeps (see the
clean-stop marker in store/__init__.py)."""

from __future__ import annotations

import os
import secrets
import signal
from pathlib import Path

from skyhold.store import CLEAN_STOP_FILE

from .conftest import Server, free_port, new_bucket, static_admin


def _plant_orphan(data_dir: Path, unseen: bool = False) -> Path:
    """A blob file no record names, as a crash between a blob's write and its record's
    commit leaves; `unseen`: beside another blob, its folder's mtime put back (what the
    marker's note of the blob folders cannot tell from a clean stop)."""
    near = next(data_dir.glob("blobs/*/*")).name if unseen else secrets.token_hex(1)
    path = data_dir / "blobs" / near[:2] / (near[:2] + secrets.token_hex(15))
    path.parent.mkdir(exist_ok=True)
    before = path.parent.stat()
    path.write_bytes(b"orphan")
    if unseen:
        os.utime(path.parent, ns=(before.st_atime_ns, before.st_mtime_ns))
    return path


def test_a_clean_stop_spares_the_next_start_its_sweep_and_a_sigkill_does_not(tmp_path: Path) -> None:
    data = tmp_path / "data"
    srv = Server(data, free_port())
    srv.start()
    try:
        s3 = static_admin(srv, tmp_path).client("s3")
        bucket = new_bucket(s3, "startup")
        body = secrets.token_bytes(200 * 1024)  # past one sealed frame: a blob file
        s3.put_object(Bucket=bucket, Key="big", Body=body)
        during = _plant_orphan(data)  # as an error between a blob's commit and its record's would
        assert srv.stop() == 0
        assert (data / CLEAN_STOP_FILE).exists()
        assert not during.exists(), "a stop after blob writes leaves no orphan behind"

        # The CLI's commands, reading or writing, leave the marker to the next `skyhold up`.
        for command in (("account", "list"), ("account", "create", f"startup-{secrets.token_hex(3)}")):
            out = srv.cli(*command)
            assert out.returncode == 0, out.stderr
        assert (data / CLEAN_STOP_FILE).exists()

        after_clean_stop = _plant_orphan(data, unseen=True)
        srv.start()
        assert not (data / CLEAN_STOP_FILE).exists(), "taken before serving: a crash from now on is seen"
        assert after_clean_stop.exists(), "a start after a clean stop reads no records to sweep"
        assert s3.get_object(Bucket=bucket, Key="big")["Body"].read() == body

        assert srv.stop(signal.SIGKILL) == -signal.SIGKILL
        assert not (data / CLEAN_STOP_FILE).exists()
        srv.start()
        assert not after_clean_stop.exists(), "a start after a crash sweeps"
        assert s3.get_object(Bucket=bucket, Key="big")["Body"].read() == body
    finally:
        if srv.proc is not None:
            srv.stop()
