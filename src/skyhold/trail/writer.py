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

A turn with a call that waits for its line to be on disk carries the line URGENT and is
written at once. Lines no call waits for (calls that only read) linger up to LINGER
for others to join them: under load, fewer and larger disk writes. While lines linger
the process sleeps rather than wake for every write that follows (a wake-up costs the
server's event loop as much as a small request's work); the server rings the bell pipe
after a turn with an URGENT line, which ends the lingering at once.

An indexer thread moves journaled lines into the trail database (index.catch_up) once
writes pause for INDEX_IDLE, and under steady writes every INDEX_AT_MOST seconds:
indexing takes the GIL from the thread that acknowledges, so it is done in few, large
rounds. Readers (LookupEvents, `skyhold explain`) catch up themselves first, so the
index is never stale to them. When the server's end of the pipe closes (shutdown, or the
server died) the writer writes what it was given, indexes it, and exits.

Run by the recorder as `python -m skyhold.trail.writer FOLDER TRAIL_DB DATA_FD ACK_FD BELL_FD [WAL]`.
"""

from __future__ import annotations

import fcntl
import logging
import os
import select
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
URGENT = b"\x03\n"  # a call waits for what precedes it: write without lingering
# Lines no call waits for yet (calls that only read) linger this long for more to join
# them in one write (fewer, larger disk writes under load), unless this many gather.
LINGER = 0.002  # seconds
LINGER_BYTES = 256 * 1024
INDEX_IDLE = 0.05  # seconds
INDEX_AT_MOST = 2.0  # seconds
READ_BYTES = 1 << 20

log = logging.getLogger("skyhold.trail")


def spawn(
    folder: Path, trail_db: Path, pipe_bytes: int, wal: Path | None = None
) -> tuple[subprocess.Popen[bytes], int, int, int]:
    """Start a writer: (the process, the fd to write lines to, the fd acks come from,
    the bell's fd: a byte written there ends a linger, see `ring`). `wal`: the server
    store's WAL, which SYNC makes durable."""
    data_r, data_w = os.pipe()
    ack_r, ack_w = os.pipe()
    bell_r, bell_w = os.pipe()
    os.set_blocking(bell_w, False)
    try:
        fcntl.fcntl(data_w, fcntl.F_SETPIPE_SZ, pipe_bytes)
    except OSError:  # capped by /proc/sys/fs/pipe-max-size: the default will do
        pass
    env = dict(os.environ)
    source = str(Path(skyhold.__file__).parent.parent)  # also when run from a source tree
    env["PYTHONPATH"] = os.pathsep.join(p for p in (source, env.get("PYTHONPATH")) if p)
    command = [sys.executable, "-m", "skyhold.trail.writer", str(folder), str(trail_db), str(data_r), str(ack_w),
               str(bell_r)]
    if wal is not None:
        command.append(str(wal))
    process = subprocess.Popen(command, pass_fds=(data_r, ack_w, bell_r), env=env)
    for fd in (data_r, ack_w, bell_r):
        os.close(fd)
    return process, data_w, ack_r, bell_w


def ring(bell_fd: int) -> None:
    """Wake a lingering writer: what it was sent ends with an URGENT line (sent first)."""
    try:
        os.write(bell_fd, b"!")
    except (BlockingIOError, BrokenPipeError):  # rung already and not yet heard, or the writer is gone
        pass


def run(folder: Path, trail_db: Path, data_fd: int, ack_fd: int, bell_fd: int, wal: Path | None = None) -> None:
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
    due: float | None = None  # when the complete lines waiting must be written at the latest
    acking = True  # until the server's end of the ack pipe is gone (it died)
    os.set_blocking(bell_fd, False)
    while True:
        if due is None:  # nothing lingers: the first write wakes this process
            ready = select.select([data_fd, bell_fd], [], [])[0]
        else:  # lingering: asleep until due, unless the bell rings
            ready = select.select([bell_fd], [], [], max(0.0, due - time.monotonic()))[0]
            if select.select([data_fd], [], [], 0)[0]:
                ready.append(data_fd)
        if bell_fd in ready:
            _hear(bell_fd)
        if data_fd in ready:
            chunk = os.read(data_fd, READ_BYTES)
            if not chunk:
                break
            pending += chunk
        complete = pending.rfind(b"\n") + 1  # a write may stop inside a line
        if not complete:
            continue
        lines = pending[:complete]
        if URGENT not in lines and complete < LINGER_BYTES:
            if due is None:
                due = time.monotonic() + LINGER
            if time.monotonic() < due:
                continue  # nobody waits for these yet: gather more into one write
        due = None
        _write(lines, out, wal, wrote)
        durable += complete
        pending = pending[complete:]
        acking = acking and _ack(ack_fd, durable)
    complete = pending.rfind(b"\n") + 1  # the server is gone or done: write what it gave
    if complete:
        _write(pending[:complete], out, wal, wrote)
        acking and _ack(ack_fd, durable + complete)
    out.close()
    stop.set()
    indexer.join()
    index.catch_up(store, folder, tidy=True)
    store.close()


def _hear(bell_fd: int) -> None:
    """Empty the bell pipe (what it says is in the data pipe already)."""
    try:
        os.read(bell_fd, 4096)
    except BlockingIOError:
        pass


def _ack(ack_fd: int, durable: int) -> bool:
    """Tell the server how many of its bytes are on disk; False once it is gone."""
    try:
        os.write(ack_fd, ACK.pack(durable))
    except BrokenPipeError:
        return False
    return True


def _write(lines: bytes, out: journal.Journal, wal: Path | None, wrote: list[float]) -> None:
    """Make complete lines durable: the store's WAL first if a SYNC asks, then the
    lines (calls expanded into their events) in one write."""
    if SYNC in lines:
        assert wal is not None, "asked to sync a store it was not given"
        fsync_path(wal)  # by path: SQLite may have replaced the file since
        lines = lines.replace(SYNC, b"")
    if URGENT in lines:
        lines = lines.replace(URGENT, b"")
    if events.CALL in lines:
        lines = _with_events(lines)
    if lines:
        out.append(lines)
        wrote[0] = time.monotonic()


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
    run(Path(sys.argv[1]), Path(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5]),
        Path(sys.argv[6]) if len(sys.argv) > 6 else None)
