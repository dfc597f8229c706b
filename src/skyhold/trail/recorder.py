"""Recording events without slowing the request path, and without losing one.

Every call's event is appended to the trail database before its response leaves.
Appends made during one turn of the event loop are written together, in one
transaction, at the end of that turn: no thread hand-off, no per-call commit. The
trail database runs in WAL mode with synchronous=NORMAL, so a committed append is
in the operating system the moment the response is sent — a crash or SIGKILL of
Skyhold loses no event of an answered call — and a background thread checkpoints
(fsyncs) it every second, which bounds what a crash of the whole machine could cost.

The trail has its own database (store.open_trail_store). Layout: kind
`cloudtrail.event`, key "<account>/<time-ordered id>" (newest last; LookupEvents
scans an account's prefix backwards), value {"event": record, "explain": decision
trace or None}. Kind `cloudtrail.request`, key request id → the event keys, for
`skyhold explain`.
"""

from __future__ import annotations

import asyncio
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
        self._stop = threading.Event()
        self._checkpointer = threading.Thread(target=self._checkpoint, name="trail-checkpoint", daemon=True)
        self._checkpointer.start()

    def key(self, account: str) -> str:
        # time-ordered and unique within this process: nanoseconds + a counter
        self._seq = (self._seq + 1) % 1_000_000
        return f"{account}/{time.time_ns():020d}{self._seq:06d}"

    async def record(self, rows: list[Row]) -> None:
        """Returns once the rows are committed (with everything else of this loop turn)."""
        loop = asyncio.get_running_loop()
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
        for _, done in batch:
            if not done.done():
                if error is None:
                    done.set_result(None)
                else:
                    done.set_exception(error)

    def _checkpoint(self) -> None:
        while not self._stop.wait(CHECKPOINT_EVERY):
            try:
                self._store.checkpoint()
            except Exception:  # the next round tries again
                pass

    def close(self) -> None:
        self._stop.set()
        self._checkpointer.join(timeout=10)
