"""Recording events without slowing the request path, and without losing one.

Every call's event is on disk before its response leaves, yet the event loop never
touches the disk: a call hands its rows over and waits; one writer thread appends
everything handed over since its last write to the journal (journal.py) in a single
O_DSYNC write, then releases the waiting calls. While it writes, the next batch
gathers: group commit, with batches that grow with the load. Calls made in one turn
of the event loop are handed over together, so the threads meet once per turn.
Neither a crash of Skyhold nor of the machine loses an event of an answered call.

Readers want an index, not a log: an indexer thread moves journaled lines into the
trail database every INDEX_EVERY seconds (index.catch_up), and anything that reads
events (LookupEvents, delivery, `skyhold explain`) catches up first, so it sees
every call answered before it asked.

Layout of the trail database (store.open_trail_store): kind `cloudtrail.event`, key
"<account>/<time-ordered id>" (newest last; LookupEvents scans an account's prefix
backwards), value {"event": record, "explain": decision trace or None}. Kind
`cloudtrail.request`, key request id → the event keys, for `skyhold explain`.
"""

from __future__ import annotations

import asyncio
import json
import logging
import threading
import time
from pathlib import Path
from typing import Any

from skyhold.store.sqlite import SqliteStore
from skyhold.trail import index, journal

EVENT = "cloudtrail.event"
REQUEST = "cloudtrail.request"
INDEX_EVERY = 0.2  # seconds

Row = tuple[str, str, dict[str, Any]]
Waiting = tuple[list[Row], asyncio.Future[None]]

_dumps = json.JSONEncoder(separators=(",", ":")).encode  # ASCII: any key, any text
log = logging.getLogger("skyhold.trail")


class Recorder:
    def __init__(self, store: SqliteStore, folder: Path) -> None:
        self._store = store
        self._folder = folder
        index.catch_up(store, folder, tidy=True)  # what a previous run journaled
        self._journal = journal.Journal(folder)
        self._seq = 0
        self._turn: list[Waiting] = []  # handed over at the end of this loop turn
        self._scheduled = False
        self._pending: list[Waiting] = []  # handed over, not yet written
        self._ready = threading.Condition()
        self._stopping = False
        self._stop_indexing = threading.Event()
        self._writer = threading.Thread(target=self._write_loop, name="trail-writer", daemon=True)
        self._writer.start()
        self._indexer = threading.Thread(target=self._index_loop, name="trail-indexer", daemon=True)
        self._indexer.start()

    def key(self, account: str) -> str:
        # time-ordered and unique within this process: nanoseconds + a counter
        self._seq = (self._seq + 1) % 1_000_000
        return f"{account}/{time.time_ns():020d}{self._seq:06d}"

    async def record(self, rows: list[Row]) -> None:
        """Returns once the rows are on disk."""
        loop = asyncio.get_running_loop()
        done: asyncio.Future[None] = loop.create_future()
        self._turn.append((rows, done))
        if not self._scheduled:
            self._scheduled = True
            loop.call_soon(self._hand_over)
        await done

    def index(self) -> None:
        """Bring the index up to every event recorded so far."""
        index.catch_up(self._store, self._folder)

    def _hand_over(self) -> None:
        self._scheduled = False
        turn, self._turn = self._turn, []
        with self._ready:
            self._pending.extend(turn)
            self._ready.notify()

    def _write_loop(self) -> None:
        while True:
            with self._ready:
                while not self._pending and not self._stopping:
                    self._ready.wait()
                batch, self._pending = self._pending, []
            if not batch:
                return  # stopping, and everything handed over is written
            self._write(batch)

    def _write(self, batch: list[Waiting]) -> None:
        error: BaseException | None = None
        try:
            self._journal.append(
                "".join([journal.encode(kind, key, _dumps(value)) for rows, _ in batch for kind, key, value in rows])
            )
        except Exception as exc:  # the waiting calls learn of it
            log.exception("could not record %d calls", len(batch))
            error = exc
        by_loop: dict[asyncio.AbstractEventLoop, list[asyncio.Future[None]]] = {}
        for _, done in batch:
            by_loop.setdefault(done.get_loop(), []).append(done)
        for loop, futures in by_loop.items():
            try:
                loop.call_soon_threadsafe(_settle, futures, error)
            except RuntimeError:  # that loop is closed: nobody waits any more
                pass

    def _index_loop(self) -> None:
        while not self._stop_indexing.wait(INDEX_EVERY):
            try:
                index.catch_up(self._store, self._folder, tidy=True)
            except Exception:  # the next round tries again; the journal keeps the lines
                log.exception("indexing the trail failed")

    def close(self) -> None:
        """Write what was handed over, index it, and stop both threads."""
        if self._turn:
            self._hand_over()
        with self._ready:
            self._stopping = True
            self._ready.notify()
        self._writer.join(timeout=30)
        self._stop_indexing.set()
        self._indexer.join(timeout=30)
        self._journal.close()
        index.catch_up(self._store, self._folder, tidy=True)


def _settle(futures: list[asyncio.Future[None]], error: BaseException | None) -> None:
    for done in futures:
        if done.done():
            continue
        if error is None:
            done.set_result(None)
        else:
            done.set_exception(error)
