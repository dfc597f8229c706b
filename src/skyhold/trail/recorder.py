"""Recording events without slowing the request path, and without losing one.

Every call's event is on disk before its response leaves. Appends made during one
turn of the event loop are written together, in one transaction, at the end of that
turn (the trail database runs in WAL mode with synchronous=NORMAL, so the commit
itself costs no fsync and never blocks the loop). A syncer thread then fsyncs the
WAL — one fsync for everything committed since its last one (group commit) — and
only then releases the waiting calls. So neither a crash of Skyhold nor of the
machine loses an event of an answered call, and the loop never waits on the disk.

The trail has its own database (store.open_trail_store). Layout: kind
`cloudtrail.event`, key "<account>/<time-ordered id>" (newest last; LookupEvents
scans an account's prefix backwards), value {"event": record, "explain": decision
trace or None}. Kind `cloudtrail.request`, key request id → the event keys, for
`skyhold explain`.
"""

from __future__ import annotations

import asyncio
import os
import threading
import time
from typing import Any

from skyhold.store.base import Store

EVENT = "cloudtrail.event"
REQUEST = "cloudtrail.request"
CHECKPOINT_EVERY = 1.0  # seconds

Row = tuple[str, str, dict[str, Any]]


class Recorder:
    def __init__(self, store: Store) -> None:
        self._store = store
        self._pending: list[tuple[list[Row], asyncio.Future[None]]] = []
        self._scheduled = False
        self._seq = 0
        # Commits not yet fsynced: (commit number, the calls waiting on it).
        self._unsynced: list[tuple[int, list[asyncio.Future[None]]]] = []
        self._committed = 0
        self._loop: asyncio.AbstractEventLoop | None = None
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._syncer = threading.Thread(target=self._sync, name="trail-fsync", daemon=True)
        self._syncer.start()
        self._checkpointer = threading.Thread(target=self._checkpoint, name="trail-checkpoint", daemon=True)
        self._checkpointer.start()

    def key(self, account: str) -> str:
        # time-ordered and unique within this process: nanoseconds + a counter
        self._seq = (self._seq + 1) % 1_000_000
        return f"{account}/{time.time_ns():020d}{self._seq:06d}"

    async def record(self, rows: list[Row]) -> None:
        """Returns once the rows are committed (with everything else of this loop turn)."""
        loop = self._loop = asyncio.get_running_loop()
        done: asyncio.Future[None] = loop.create_future()
        self._pending.append((rows, done))
        if not self._scheduled:
            self._scheduled = True
            loop.call_soon(self._flush)
        await done

    def _flush(self) -> None:
        self._scheduled = False
        batch, self._pending = self._pending, []
        by_kind: dict[str, list[tuple[str, dict[str, Any]]]] = {}
        for rows, _ in batch:
            for kind, key, value in rows:
                by_kind.setdefault(kind, []).append((key, value))
        error: BaseException | None = None
        try:
            with self._store.transaction():
                for kind, items in by_kind.items():
                    self._store.append_events(kind, items)
        except Exception as exc:  # the waiting calls learn of it
            error = exc
        if error is not None:
            for _, done in batch:
                if not done.done():
                    done.set_exception(error)
            return
        self._committed += 1
        self._unsynced.append((self._committed, [done for _, done in batch]))
        self._wake.set()

    def _sync(self) -> None:
        """fsync the WAL for every commit made so far, then release their calls."""
        wal = f"{self._store.path}-wal"  # type: ignore[attr-defined]
        while not self._stop.is_set():
            self._wake.wait(0.5)
            self._wake.clear()
            target = self._committed
            loop = self._loop
            if loop is None or not self._unsynced:
                continue
            try:
                fd = os.open(wal, os.O_RDONLY)
                try:
                    os.fsync(fd)
                finally:
                    os.close(fd)
            except FileNotFoundError:  # checkpointed and removed: already in the database file
                pass
            loop.call_soon_threadsafe(self._release, target)

    def _release(self, target: int) -> None:
        while self._unsynced and self._unsynced[0][0] <= target:
            _, futures = self._unsynced.pop(0)
            for done in futures:
                if not done.done():
                    done.set_result(None)

    def _checkpoint(self) -> None:
        while not self._stop.wait(CHECKPOINT_EVERY):
            try:
                self._store.checkpoint()
            except Exception:  # the next round tries again
                pass

    def close(self) -> None:
        self._stop.set()
        self._wake.set()
        self._syncer.join(timeout=10)
        self._checkpointer.join(timeout=10)
