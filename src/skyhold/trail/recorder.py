"""Recording events without slowing the request path, and without losing one.

Every call's event is on disk before its response leaves, yet the event loop never
touches the disk: the calls of one loop turn hand their rows over together, as one
write of journal lines on a pipe to the trail's writer process (writer.py), and wait;
the writer makes everything waiting in the pipe durable in one write and acknowledges
it, and the
loop, woken by that acknowledgement, releases the calls. Neither a crash of Skyhold
nor of the machine loses an event of an answered call. If the writer dies, the calls
waiting on it fail and a new writer is started for the next ones.

Readers want an index, not a log: the writer's indexer moves journaled lines into the
trail database every few tenths of a second, and anything that reads events
(LookupEvents, delivery, `skyhold explain`) catches up first (index.catch_up), so it
sees every call answered before it asked.

Layout of the trail database (store.open_trail_store): kind `cloudtrail.event`, key
"<account>/<time-ordered id>" (newest last; LookupEvents scans an account's prefix
backwards), value {"event": record, "explain": decision trace or None}. Kind
`cloudtrail.request`, key request id → the event keys, for `skyhold explain`.
"""

from __future__ import annotations

import asyncio
import logging
import os
import subprocess
import time
from collections import deque
from pathlib import Path
from typing import Any

from skyhold.store.sqlite import SqliteStore
from skyhold.trail import index, journal, writer

EVENT = "cloudtrail.event"
REQUEST = "cloudtrail.request"
PIPE_BYTES = 1 << 20  # room for a burst of turns while the writer is on the disk

Row = tuple[str, str, dict[str, Any]]

log = logging.getLogger("skyhold.trail")


class WriterStopped(RuntimeError):
    """The trail's writer process went away before it acknowledged these events."""


class Recorder:
    def __init__(self, store: SqliteStore, folder: Path, sync: SqliteStore | None = None) -> None:
        """`sync`: a store with grouped sync whose commits each turn makes durable
        together with its events (see writer.py)."""
        self._store = store
        self._folder = Path(folder)
        self._sync = sync
        self._synced: tuple[int, int] | None = None  # (writer's start, store writes) synced
        index.catch_up(store, self._folder, tidy=True)  # what a previous run journaled
        self._seq = 0
        self._writer: _Writer | None = None
        self._rows: list[Row] = []  # this loop turn's, not yet handed over
        self._turn: asyncio.Future[None] | None = None

    def start(self) -> None:
        """Start the writer process now rather than on the first event (`skyhold up`
        does, so its first call does not wait for a process to start)."""
        if self._writer is None:
            wal = self._sync.wal_path if self._sync is not None else None
            self._writer = _Writer(self._store.path, self._folder, wal)

    def key(self, account: str) -> str:
        # time-ordered and unique within this process: nanoseconds + a counter
        self._seq = (self._seq + 1) % 1_000_000
        return f"{account}/{time.time_ns():020d}{self._seq:06d}"

    async def record(self, rows: list[Row]) -> None:
        """Returns once the rows are on disk."""
        if self._turn is None:
            loop = asyncio.get_running_loop()
            self._turn = loop.create_future()
            loop.call_soon(self._hand_over, loop)
        done = self._turn
        self._rows.extend(rows)
        await done

    def index(self) -> None:
        """Bring the index up to every event recorded so far."""
        index.catch_up(self._store, self._folder)

    def _hand_over(self, loop: asyncio.AbstractEventLoop) -> None:
        rows, done = self._rows, self._turn
        self._rows, self._turn = [], None
        assert done is not None
        self.start()
        assert self._writer is not None
        if self._writer.loop is not loop:  # a new event loop (tests run several)
            self._writer.attach(loop)
        self._writer.send(self._payload(rows), done)

    def _payload(self, rows: list[Row]) -> bytes:
        return self._sync_mark() + b"".join([journal.encode(*row) for row in rows])

    def _sync_mark(self) -> bytes:
        """SYNC when the store was committed to since the last turn: those commits
        were all made before this turn's calls handed their events over."""
        if self._sync is None or self._writer is None:
            return b""
        # A new writer (the last one died) syncs again: its predecessor may not have.
        now = (self._writer.starts, self._sync.writes)
        if now == self._synced:
            return b""
        self._synced = now
        return writer.SYNC

    def close(self) -> None:
        """Hand over what is left, let the writer write and index it, and stop it."""
        if self._writer is not None:
            if self._turn is not None:
                self._writer.send(self._payload(self._rows), self._turn)
                self._rows, self._turn = [], None
            self._writer.close()
            self._writer = None
        index.catch_up(self._store, self._folder, tidy=True)


class _Writer:
    """One writer process, the pipes to it, and the turns it has not acknowledged."""

    def __init__(self, trail_db: Path, folder: Path, wal: Path | None) -> None:
        self._trail_db = trail_db
        self._folder = folder
        self._wal = wal
        self.loop: asyncio.AbstractEventLoop | None = None
        self.starts = 0
        self._spawn()

    def _spawn(self) -> None:
        self._process, self._data, self._ack = writer.spawn(self._folder, self._trail_db, PIPE_BYTES, self._wal)
        self.starts += 1
        os.set_blocking(self._data, False)
        os.set_blocking(self._ack, False)
        self._sent = 0  # bytes handed to the process
        self._waiting: deque[tuple[int, asyncio.Future[None]]] = deque()  # (end offset, turn)
        self._outbox = bytearray()  # bytes the pipe had no room for yet
        self._acks = bytearray()

    def attach(self, loop: asyncio.AbstractEventLoop) -> None:
        self._detach()
        self.loop = loop
        loop.add_reader(self._ack, self._on_ack)

    def send(self, data: bytes, done: asyncio.Future[None]) -> None:
        self._sent += len(data)
        self._waiting.append((self._sent, done))
        if self._outbox:
            self._outbox += data
            return
        try:
            written = os.write(self._data, data)
        except BlockingIOError:
            written = 0
        except BrokenPipeError:
            self._stopped()
            return
        if written < len(data):
            self._outbox += data[written:]
            if self.loop is not None:
                self.loop.add_writer(self._data, self._flush)

    def _flush(self) -> None:
        try:
            written = os.write(self._data, self._outbox)
        except BlockingIOError:
            return
        except BrokenPipeError:
            self._stopped()
            return
        del self._outbox[:written]
        if not self._outbox and self.loop is not None:
            self.loop.remove_writer(self._data)

    def _on_ack(self) -> None:
        if not self._read_acks():
            self._stopped()

    def _read_acks(self) -> bool:
        """Settle the turns the process says are durable; False once it is gone."""
        try:
            data = os.read(self._ack, writer.ACK.size * 512)
        except BlockingIOError:
            return True
        if not data:
            return False
        self._acks += data
        whole = len(self._acks) - len(self._acks) % writer.ACK.size
        if whole:
            (durable,) = writer.ACK.unpack_from(self._acks, whole - writer.ACK.size)
            del self._acks[:whole]
            waiting = self._waiting
            while waiting and waiting[0][0] <= durable:
                _, done = waiting.popleft()
                if not done.done():
                    done.set_result(None)
        return True

    def _stopped(self) -> None:
        """The process is gone: fail what it did not acknowledge and start afresh."""
        log.error("the trail writer stopped (exit code %s); starting a new one", self._process.poll())
        failed = WriterStopped("the audit trail could not record this call")
        while self._waiting:
            _, done = self._waiting.popleft()
            if not done.done():
                done.set_exception(failed)
        loop = self.loop
        self._detach()
        for fd in (self._data, self._ack):
            os.close(fd)
        self._process.wait()
        self._spawn()
        if loop is not None:
            self.attach(loop)

    def _detach(self) -> None:
        if self.loop is not None and not self.loop.is_closed():
            self.loop.remove_reader(self._ack)
            self.loop.remove_writer(self._data)
        self.loop = None

    def close(self) -> None:
        """Give the process everything (blocking), close its pipe, wait for it to
        write and index, and settle what it acknowledged."""
        self._detach()
        os.set_blocking(self._data, True)
        try:
            if self._outbox:
                os.write(self._data, self._outbox)
                self._outbox.clear()
        except BrokenPipeError:
            pass
        os.close(self._data)
        try:
            self._process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            log.error("the trail writer did not finish within 60 s")
            self._process.kill()
        os.set_blocking(self._ack, True)
        while self._read_acks():  # settle what it acknowledged before it exited
            pass
        os.close(self._ack)
