"""Durable, fast event recording: group commit on a writer thread.

A call's response is sent only after its event is on disk, so a crash never loses
the event of an answered call. Waiting requests share commits: the writer takes
everything queued since its last commit and writes it in one transaction (one
fsync), so the cost per event falls as load rises, and the event loop never blocks
on the disk.

The trail has its own database (store.open_trail_store). Layout: kind `cloudtrail.event`, key "<account>/<time-ordered id>" (newest
last; LookupEvents scans an account's prefix backwards), value {"event": record,
"explain": decision trace or None}. Kind `cloudtrail.request`, key request id →
the event keys, for `skyhold explain`.
"""

from __future__ import annotations

import asyncio
import threading
import time
from typing import Any

from skyhold.store.base import Store

EVENT = "cloudtrail.event"
REQUEST = "cloudtrail.request"


class Recorder:
    def __init__(self, store: Store) -> None:
        self._store = store
        self._queue: list[tuple[list[tuple[str, str, dict[str, Any]]], asyncio.Future[None]]] = []
        self._lock = threading.Condition()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._seq = 0
        self._thread = threading.Thread(target=self._run, name="trail-writer", daemon=True)
        self._stopping = False
        self._thread.start()

    def key(self, account: str) -> str:
        # time-ordered and unique within this process: nanoseconds + a counter
        self._seq = (self._seq + 1) % 1_000_000
        return f"{account}/{time.time_ns():020d}{self._seq:06d}"

    async def record(self, rows: list[tuple[str, str, dict[str, Any]]]) -> None:
        """rows: (kind, key, value). Returns once they are durable."""
        loop = asyncio.get_running_loop()
        self._loop = loop
        done: asyncio.Future[None] = loop.create_future()
        with self._lock:
            self._queue.append((rows, done))
            self._lock.notify()
        await done

    def _run(self) -> None:
        while True:
            with self._lock:
                while not self._queue and not self._stopping:
                    self._lock.wait()
                if not self._queue and self._stopping:
                    return
                batch, self._queue = self._queue, []
            error: BaseException | None = None
            by_kind: dict[str, list[tuple[str, dict[str, Any]]]] = {}
            for rows, _ in batch:
                for kind, key, value in rows:
                    by_kind.setdefault(kind, []).append((key, value))
            try:
                with self._store.transaction():
                    for kind, items in by_kind.items():
                        self._store.append_events(kind, items)
            except BaseException as exc:  # the waiting calls learn of it
                error = exc
            loop = self._loop
            if loop is not None:
                loop.call_soon_threadsafe(_settle, [f for _, f in batch], error)

    def close(self) -> None:
        with self._lock:
            self._stopping = True
            self._lock.notify()
        self._thread.join(timeout=10)


def _settle(futures: list[asyncio.Future[None]], error: BaseException | None) -> None:
    for f in futures:
        if not f.done():
            if error is None:
                f.set_result(None)
            else:
                f.set_exception(error)
