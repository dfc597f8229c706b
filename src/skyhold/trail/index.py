"""Moving journaled events into the trail database, where they can be searched.

The database remembers how far into the journal it has indexed (one record, updated
in the same transaction as the rows), so indexing resumes exactly where it stopped,
after a crash too. Replaying a line that is already indexed changes nothing, and the
write lock (BEGIN IMMEDIATE) lets the server and a `skyhold explain` process both
catch up safely.
"""

from __future__ import annotations

from pathlib import Path

from skyhold.store.sqlite import SqliteStore
from skyhold.trail import journal

MARK = "cloudtrail.journal"


# Lines indexed per transaction: a backlog is indexed in slices, so neither memory
# nor the write lock is held for all of it at once.
SLICE_BYTES = 4 << 20


def catch_up(store: SqliteStore, folder: Path, *, tidy: bool = False) -> None:
    """Index every complete journal line not indexed yet; `tidy`: also delete the
    segments that are wholly indexed (the server does; readers leave them)."""
    if not folder.is_dir():
        return
    while True:
        with store.transaction():
            mark = store.get(MARK, "indexed")
            start = (mark.value["segment"], mark.value["offset"]) if mark else (0, 0)
            lines, end = journal.read_since(folder, start, max_bytes=SLICE_BYTES)
            if lines:
                store.append_json(lines)
            if end != start:
                store.put(MARK, "indexed", {"segment": end[0], "offset": end[1]})
        if end == start or not lines:
            break
    if tidy:
        journal.remove_before(folder, end[0])
