"""Recording calls without slowing the request path, and without losing one.

The event loop never touches the disk. A call's line (events.call_line) goes over a
pipe to the trail's writer process (writer.py), which builds the call's events, makes
everything waiting in the pipe durable in one write, and acknowledges it.

The calls of one loop turn hand their lines over together, as one write on the pipe
at the end of the turn. A call waits for one of two things:
- durable: the loop, woken by the writer's acknowledgement, releases the call once
  its line is on disk. Neither a crash of Skyhold nor of the machine loses the event
  of an answered call.
- handed over: the call goes on at once, but what the server sends meanwhile waits
  at the egress gate (egress.py) until the turn's lines are in the pipe. The pipe
  belongs to the writer, so a crash of the server loses nothing; the writer writes
  the line within a few milliseconds (writer.LINGER), and only a crash of the machine
  before then could lose it. If the writer has fallen behind (the pipe is full), the
  answers wait until the lines are on disk.

Whatever the writer has not acknowledged stays here: if the writer dies, a new one is
started and given it all again (a line written twice is indexed once: its keys are
the same). Only if writers keep dying without acknowledging anything are the waiting
calls failed.

Readers want an index, not a log: the writer's indexer moves journaled events into
the trail database when writes pause, and anything that reads events (LookupEvents,
delivery, `skyhold explain`) catches up first (index.catch_up); in this process,
`index` first waits for everything handed over to be on disk.
"""

from __future__ import annotations

import asyncio
import logging
import os
import subprocess
import time
from collections import deque
from pathlib import Path

from skyhold import egress
from skyhold.store.sqlite import SqliteStore
from skyhold.trail import index, journal, writer

PIPE_BYTES = 1 << 20  # room for a burst of turns while the writer is on the disk
FRUITLESS_STARTS = 2  # writers that died with no acknowledgement between them: give up on what they held

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
        self._turn: _Turn | None = None  # this loop turn's lines, not yet handed over

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

    async def record(self, line: bytes, *, durable: bool = True) -> None:
        """Hand `line` (journal lines, or a call line) to the writer with this loop
        turn's others. Returns once it is on disk (`durable`), or else at once: the
        egress gate holds the server's answers until the line is in the writer's pipe."""
        turn = self._turn
        if turn is None:
            loop = asyncio.get_running_loop()
            turn = self._turn = _Turn(loop)
            egress.hold(turn)
            loop.call_soon(self._hand_over, loop)
        turn.lines.append(line)
        if durable:
            turn.urgent = True
            await turn.durable

    async def index(self) -> None:
        """Bring the index up to every event handed over so far: first wait until it
        is all on disk (an empty urgent line: acknowledgements are cumulative)."""
        if self._writer is not None or self._turn is not None:
            await self.record(b"", durable=True)
        index.catch_up(self._store, self._folder)

    def _attached(self, loop: asyncio.AbstractEventLoop) -> _Writer:
        self.start()
        assert self._writer is not None
        if self._writer.loop is not loop:  # a new event loop (tests run several)
            self._writer.attach(loop)
        return self._writer

    def _hand_over(self, loop: asyncio.AbstractEventLoop) -> None:
        turn = self._turn
        assert turn is not None
        self._turn = None
        self._attached(loop).send(self._payload(turn), turn)

    def _payload(self, turn: _Turn) -> bytes:
        return self._sync_mark() + (writer.URGENT if turn.urgent else b"") + b"".join(turn.lines)

    def _sync_mark(self) -> bytes:
        """SYNC when the store was committed to since the last mark: those commits
        were all made before the lines that follow the mark were handed over."""
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
                self._writer.send(self._payload(self._turn), self._turn)
                self._turn = None
            self._writer.close()
            self._writer = None
        index.catch_up(self._store, self._folder, tidy=True)


class _Turn:
    """The lines of one event-loop turn, and what their calls wait for."""

    __slots__ = ("lines", "urgent", "handed_over", "durable")

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.lines: list[bytes] = []
        self.urgent = False  # a call waits for these to be on disk
        self.handed_over = False  # all in the pipe (the egress gate is released)
        self.durable: asyncio.Future[None] = loop.create_future()  # all on disk

    def hand_over(self) -> None:
        if not self.handed_over:
            self.handed_over = True
            egress.release(self)


class _Writer:
    """One writer process at a time, the pipes to it, and what it has not acknowledged."""

    def __init__(self, trail_db: Path, folder: Path, wal: Path | None) -> None:
        self._trail_db = trail_db
        self._folder = folder
        self._wal = wal
        self.loop: asyncio.AbstractEventLoop | None = None
        self.starts = 0
        self._fruitless = 0  # writers that died since the last acknowledgement
        # (end offset in this writer's pipe, bytes, the turn they are) not acknowledged yet
        self._unacked: deque[tuple[int, bytes, _Turn | None]] = deque()
        self._spawn()

    def _spawn(self) -> None:
        self._process, self._data, self._ack, self._bell = writer.spawn(self._folder, self._trail_db, PIPE_BYTES,
                                                                        self._wal)
        self.starts += 1
        os.set_blocking(self._data, False)
        os.set_blocking(self._ack, False)
        self._sent = 0  # bytes handed to this process
        self._outbox = bytearray()  # bytes the pipe had no room for yet
        self._acks = bytearray()

    def attach(self, loop: asyncio.AbstractEventLoop) -> None:
        self._detach()
        self.loop = loop
        loop.add_reader(self._ack, self._on_ack)

    def send(self, data: bytes, turn: _Turn | None) -> None:
        self._sent += len(data)
        self._unacked.append((self._sent, data, turn))
        self._write(data)
        if turn is not None and turn.urgent:
            writer.ring(self._bell)  # a call waits for these lines: the writer must not linger
        if turn is not None and not self._outbox:
            turn.hand_over()

    def _write(self, data: bytes) -> None:
        if self._outbox:
            self._outbox += data
            return
        try:
            written = os.write(self._data, data)
        except BlockingIOError:
            written = 0
        except BrokenPipeError:  # the process is gone: its end of the ack pipe says so
            written = 0
        if written < len(data):
            self._outbox += data[written:]
            if self.loop is not None:
                self.loop.add_writer(self._data, self._flush)

    def _flush(self) -> None:
        try:
            written = os.write(self._data, self._outbox)
        except BlockingIOError:
            return
        except BrokenPipeError:  # the ack pipe's end starts a new writer, which gets it all
            if self.loop is not None:
                self.loop.remove_writer(self._data)
            return
        del self._outbox[:written]
        if not self._outbox and self.loop is not None:
            self.loop.remove_writer(self._data)

    def _on_ack(self) -> None:
        if not self._read_acks():
            self._stopped()

    def _read_acks(self) -> bool:
        """Settle what the process says is durable; False once it is gone."""
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
            self._fruitless = 0
            unacked = self._unacked
            while unacked and unacked[0][0] <= durable:
                turn = unacked.popleft()[2]
                if turn is not None:  # handed over long since, unless the pipe was full
                    turn.hand_over()
                    if not turn.durable.done():
                        turn.durable.set_result(None)
        return True

    def _stopped(self) -> None:
        """The process is gone: start another and give it what this one did not
        acknowledge; fail it instead if writers keep dying without writing anything."""
        log.error("the trail writer stopped (exit code %s); starting a new one", self._process.poll())
        self._fruitless += 1
        held = list(self._unacked)
        self._unacked.clear()
        loop = self.loop
        self._detach()
        for fd in (self._data, self._ack, self._bell):
            os.close(fd)
        self._process.wait()
        self._spawn()
        if loop is not None:
            self.attach(loop)
        if self._fruitless >= FRUITLESS_STARTS:
            self._fruitless = 0
            failed = WriterStopped("the audit trail could not record this call")
            for _, _, turn in held:
                if turn is not None:
                    if not turn.handed_over:
                        egress.fail(turn)  # answers held for it are never sent
                    if not turn.durable.done():
                        turn.durable.set_exception(failed)
                        turn.durable.exception()  # no call may wait on it: no warning for that
            return
        for _, data, turn in held:  # whole turns: resent as they were
            self.send(data, turn)

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
        os.close(self._bell)
        try:
            self._process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            log.error("the trail writer did not finish within 60 s")
            self._process.kill()
        os.set_blocking(self._ack, True)
        while self._read_acks():  # settle what it acknowledged before it exited
            pass
        os.close(self._ack)
