"""Crashes, power cuts and full disks around S3's blobs (review 13): what a crash leaves
is swept at the next start, a dropped blob goes only once its record change is durable,
and a full disk answers S3's own InternalError."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import time
from pathlib import Path

import pytest

from .conftest import aws_error, debian_package, own_server

BIG = 300_000  # past the inline limit: the body lives in a blob file


def blob_files(data_dir: Path) -> set[Path]:
    return {p for p in (data_dir / "blobs").glob("*/*") if p.is_file()}


def test_restart_sweeps_blobs_no_record_names(tmp_path: Path) -> None:
    """A SIGKILL between a blob's rename and its record's commit (or between a record's
    change and the unlink of the blob it dropped) leaves a whole blob no record names:
    nothing ever reads or deletes it again. The next start removes it, and only it."""
    body = os.urandom(BIG)
    with own_server(tmp_path) as (srv, adm):
        s3 = adm.client("s3", region_name="us-east-1")
        s3.create_bucket(Bucket="sweep-r13")
        s3.put_object(Bucket="sweep-r13", Key="kept", Body=body)
        live = blob_files(srv.data_dir)
        assert len(live) == 1
        srv.stop()
        # What a crash leaves: a committed blob no record names (ids are random hex).
        orphan = srv.data_dir / "blobs" / "ab" / ("ab" + "0" * 30)
        orphan.parent.mkdir(exist_ok=True)
        orphan.write_bytes(os.urandom(BIG))
        srv.start()
        assert blob_files(srv.data_dir) == live, "an orphaned blob survived the restart"
        assert s3.get_object(Bucket="sweep-r13", Key="kept")["Body"].read() == body


def test_old_blob_is_unlinked_only_after_the_record_change_is_durable(tmp_path: Path) -> None:
    """The server's commits wait for no fsync (they are made durable before the answer).
    An overwrite that unlinked the old blob before that fsync would, after a power cut,
    bring back the old record (the one acknowledged before) naming a deleted blob."""
    debian_package("/usr/bin/strace", "strace")
    with own_server(tmp_path) as (srv, adm):
        s3 = adm.client("s3", region_name="us-east-1")
        s3.create_bucket(Bucket="order-r13")
        s3.put_object(Bucket="order-r13", Key="k", Body=os.urandom(BIG))
        (old,) = blob_files(srv.data_dir)
        trace = tmp_path / "trace"
        assert srv.proc is not None
        tracer = subprocess.Popen(["strace", "-f", "-qq", "-y", "-o", str(trace), "-e",
                                   "trace=pwrite64,write,fsync,fdatasync,unlink,unlinkat", "-p", str(srv.proc.pid)])
        try:
            time.sleep(1.0)  # attached
            s3.put_object(Bucket="order-r13", Key="k", Body=os.urandom(BIG))
            time.sleep(0.5)
        finally:
            tracer.terminate()
            tracer.wait()
    lines = trace.read_text().splitlines()
    unlinked = [i for i, line in enumerate(lines) if "unlink" in line and old.name in line]
    assert unlinked, "the overwritten blob was never deleted"
    before = lines[:unlinked[0]]
    wal = re.compile(r"skyhold\.db-wal>")
    commit = max(i for i, line in enumerate(before) if line.split()[1].startswith(("pwrite64(", "write(")) and wal.search(line))
    assert any(line.split()[1].startswith(("fsync(", "fdatasync(")) and wal.search(line) for line in before[commit:]), \
        "the old blob was unlinked before the commit that dropped it reached the disk"


@pytest.fixture
def small_disk(tmp_path: Path):  # type: ignore[no-untyped-def]
    """A 48 MiB file system of the test's own (tmpfs: needs root)."""
    mount = tmp_path / "small"
    mount.mkdir()
    if os.geteuid() != 0 or subprocess.run(["mount", "-t", "tmpfs", "-o", "size=48m", "tmpfs", str(mount)]).returncode:
        pytest.skip("needs root to mount a small tmpfs")
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)])


def test_full_disk_put_answers_s3_internal_error_and_leaves_nothing(small_disk: Path) -> None:
    """ENOSPC mid-upload: S3's InternalError (code, text, 500), at once, and no trace of
    the object; once there is room again, writes go on."""
    with own_server(small_disk) as (srv, adm):
        s3 = adm.client("s3", region_name="us-east-1")
        s3.create_bucket(Bucket="full-r13")
        free = shutil.disk_usage(small_disk).free
        started = time.monotonic()
        code, message, status = aws_error(lambda: s3.put_object(Bucket="full-r13", Key="big", Body=os.urandom(free + (4 << 20))))
        assert time.monotonic() - started < 20
        assert (code, message, status) == ("InternalError", "We encountered an internal error. Please try again.", 500)
        assert "Contents" not in s3.list_objects_v2(Bucket="full-r13")
        assert not blob_files(srv.data_dir), "the failed upload left a blob or temp file"
        s3.put_object(Bucket="full-r13", Key="small", Body=b"x" * 1000)
        assert s3.get_object(Bucket="full-r13", Key="small")["Body"].read() == b"x" * 1000
