"""The trail's writer: a process of its own that makes events durable, then indexes them.

The server (recorder.py) hands each event-loop turn's events over a pipe as one frame
(a length, then the rows pickled: several times cheaper on the loop than JSON). This
process takes everything waiting in the pipe, appends it to the journal as JSON lines
in one O_DSYNC write, and then acknowledges: it writes back the running total of frame
bytes that are now on disk. While it writes, the next frames gather in the pipe, so
batches grow with the load (group commit).

A process rather than a thread, because it never needs the server's GIL: the event
loop pays one write per turn to hand events over and one read to learn what is
durable, and the encoding, the disk and the indexing run on another core.

An indexer thread moves journaled lines into the trail database every INDEX_EVERY
seconds (index.catch_up). When the server's end of the pipe closes (shutdown, or the
server died) the writer writes what it was given, indexes it, and exits.

Run by the recorder as `python -m skyhold.trail.writer FOLDER TRAIL_DB DATA_FD ACK_FD`.
"""

from __future__ import annotations

import json
import logging
import os
import pickle
import signal
import struct
import sys
import threading
from pathlib import Path

from skyhold.store.sqlite import SqliteStore
from skyhold.trail import index, journal

FRAME = struct.Struct("<I")  # payload length, then the pickled list of rows
ACK = struct.Struct("<Q")  # frame bytes durable so far
INDEX_EVERY = 0.2  # seconds
READ_BYTES = 1 << 20

_dumps = json.JSONEncoder(separators=(",", ":")).encode  # ASCII: any key, any text
log = logging.getLogger("skyhold.trail")


def frame(rows: list[tuple[str, str, object]]) -> bytes:
    payload = pickle.dumps(rows, protocol=pickle.HIGHEST_PROTOCOL)
    return FRAME.pack(len(payload)) + payload


def complete_frames(buffer: bytes | bytearray) -> tuple[str, int]:
    """The journal text of every complete frame at the start of `buffer`, and how
    many bytes those frames take."""
    lines: list[str] = []
    used = 0
    view = memoryview(buffer)
    while len(view) - used >= FRAME.size:
        (size,) = FRAME.unpack_from(view, used)
        end = used + FRAME.size + size
        if end > len(view):
            break
        for kind, key, value in pickle.loads(view[used + FRAME.size : end]):
            lines.append(journal.encode(kind, key, _dumps(value)))
        used = end
    return "".join(lines), used


def run(folder: Path, trail_db: Path, data_fd: int, ack_fd: int) -> None:
    # Ctrl-C reaches the whole process group: the server shuts down and closes the
    # pipe, and only then may this process stop, having written everything.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    store = SqliteStore(trail_db)
    stop = threading.Event()
    indexer = threading.Thread(target=_index_loop, args=(store, folder, stop), name="trail-indexer", daemon=True)
    indexer.start()
    out = journal.Journal(folder)
    pending = bytearray()
    durable = 0
    while chunk := os.read(data_fd, READ_BYTES):
        pending += chunk
        text, used = complete_frames(pending)
        if used:
            out.append(text)
            del pending[:used]
            durable += used
            os.write(ack_fd, ACK.pack(durable))
    out.close()
    stop.set()
    indexer.join()
    index.catch_up(store, folder, tidy=True)
    store.close()


def _index_loop(store: SqliteStore, folder: Path, stop: threading.Event) -> None:
    while not stop.wait(INDEX_EVERY):
        try:
            index.catch_up(store, folder, tidy=True)
        except Exception:  # the next round tries again; the journal keeps the lines
            log.exception("indexing the trail failed")


if __name__ == "__main__":
    run(Path(sys.argv[1]), Path(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]))
