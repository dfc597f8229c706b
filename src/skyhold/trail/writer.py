"""The trail's writer: a process of its own that makes events durable, then indexes them.

The server (recorder.py) hands calls over a pipe as call lines (events.call_line), or
as ready journal lines (journal.encode). This process takes every complete line
waiting in the pipe, turns each call into its CloudTrail events, appends them all to
the journal in one O_DSYNC write, and then acknowledges: it writes back the running
total of pipe bytes now on disk. While it writes, the next lines gather in the pipe,
so batches grow with the load (group commit).

A process rather than a thread, because it never needs the server's GIL: the event
loop pays one compact line per call and one write to hand lines over, and the
events' envelopes, their encoding, the disk and the indexing run on another core.

A turn whose calls committed to the server's store (opened with grouped sync: its
commits do not wait for the disk) starts with the line SYNC; the writer then fsyncs
that store's WAL before it writes the turn's lines, so one acknowledgement stands for
both: the calls' changes and their events are on disk.

An indexer thread moves journaled lines into the trail database (index.catch_up) once
writes pause for INDEX_IDLE, and under steady writes every INDEX_AT_MOST seconds:
indexing takes the GIL from the thread that acknowledges, so it is done in few, large
rounds. Readers (LookupEvents, `skyhold explain`) catch up themselves first, so the
index is never stale to them. When the server's end of the pipe closes (shutdown, or the
server died) the writer writes what it was given, indexes it, and exits.

Run by the recorder as `python -m skyhold.trail.writer FOLDER TRAIL_DB DATA_FD ACK_FD [WAL]`.
"""

from __future__ import annotations

import fcntl
import logging
import os
import signal
import struct
import subprocess
import sys
import threading
import time
from pathlib import Path

import skyhold
from skyhold.store.fsync import fsync_path
from skyhold.store.sqlite import SqliteStore
from skyhold.trail import events, index, journal

ACK = struct.Struct("<Q")  # bytes durable so far
SYNC = b"\x01\n"  # never inside a journal line: JSON escapes control characters
INDEX_IDLE = 0.05  # seconds
INDEX_AT_MOST = 2.0  # seconds
READ_BYTES = 1 << 20

log = logging.getLogger("skyhold.trail")


def spawn(
    folder: Path, trail_db: Path, pipe_bytes: int, wal: Path | None = None
) -> tuple[subprocess.Popen[bytes], int, int]:
    """Start a writer: (the process, the fd to write lines to, the fd acks come from).
    `wal`: the server store's WAL, which SYNC makes durable."""
    data_r, data_w = os.pipe()
    ack_r, ack_w = os.pipe()
    try:
        fcntl.fcntl(data_w, fcntl.F_SETPIPE_SZ, pipe_bytes)
    except OSError:  # capped by /proc/sys/fs/pipe-max-size: the default will do
        pass
    env = dict(os.environ)
    source = str(Path(skyhold.__file__).parent.parent)  # also when run from a source tree
    env["PYTHONPATH"] = os.pathsep.join(p for p in (source, env.get("PYTHONPATH")) if p)
    command = [sys.executable, "-m", "skyhold.trail.writer", str(folder), str(trail_db), str(data_r), str(ack_w)]
    if wal is not None:
        command.append(str(wal))
    process = subprocess.Popen(command, pass_fds=(data_r, ack_w), env=env)
    os.close(data_r)
    os.close(ack_w)
    return process, data_w, ack_r


def run(folder: Path, trail_db: Path, data_fd: int, ack_fd: int, wal: Path | None = None) -> None:
    # Ctrl-C reaches the whole process group: the server shuts down and closes the
    # pipe, and only then may this process stop, having written everything.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    # The indexer's Python work must not keep the writer from the GIL for the default
    # 5 ms when a write returns: every waiting call waits that long too.
    sys.setswitchinterval(0.0002)
    store = SqliteStore(trail_db)
    stop = threading.Event()
    wrote = [time.monotonic()]  # when lines were last written (read by the indexer)
    indexer = threading.Thread(target=_index_loop, args=(store, folder, stop, wrote), name="trail-indexer",
                               daemon=True)
    indexer.start()
    out = journal.Journal(folder)
    pending = b""
    durable = 0
    while chunk := os.read(data_fd, READ_BYTES):
        pending += chunk
        complete = pending.rfind(b"\n") + 1  # a write may stop inside a line
        if complete:
            lines = pending[:complete]
            if SYNC in lines:
                assert wal is not None, "asked to sync a store it was not given"
                fsync_path(wal)  # by path: SQLite may have replaced the file since
                lines = lines.replace(SYNC, b"")
            if events.CALL in lines:
                lines = _with_events(lines)
            if lines:
                out.append(lines)
                wrote[0] = time.monotonic()
            durable += complete
            pending = pending[complete:]
            os.write(ack_fd, ACK.pack(durable))
    out.close()
    stop.set()
    indexer.join()
    index.catch_up(store, folder, tidy=True)
    store.close()


def _with_events(lines: bytes) -> bytes:
    """Complete lines with each call line replaced by its events' journal lines."""
    out = []
    for line in lines.split(b"\n")[:-1]:
        if line.startswith(events.CALL):
            try:
                out.append(events.journal_lines(line[1:]))
            except Exception:  # a line we cannot read must not stop the trail for every other call
                log.exception("an unreadable call line was skipped: %r", line[:200])
        else:
            out.append(line + b"\n")
    return b"".join(out)


def _index_loop(store: SqliteStore, folder: Path, stop: threading.Event, wrote: list[float]) -> None:
    indexed = time.monotonic()  # when the last round began
    while not stop.wait(INDEX_IDLE):
        now = time.monotonic()
        if wrote[0] <= indexed or (now - wrote[0] < INDEX_IDLE and now - indexed < INDEX_AT_MOST):
            continue  # nothing new, or writes still coming and the last round is recent
        indexed = now
        try:
            index.catch_up(store, folder, tidy=True)
        except Exception:  # the next round tries again; the journal keeps the lines
            log.exception("indexing the trail failed")


if __name__ == "__main__":
    run(Path(sys.argv[1]), Path(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]),
        Path(sys.argv[5]) if len(sys.argv) > 5 else None)
