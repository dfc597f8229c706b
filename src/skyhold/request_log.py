"""One line per request: time, service, operation, principal, status, latency, id.

Written straight to the stream: the logging module's record machinery costs more
than the rest of a GetCallerIdentity call. While an event loop is attached (the
server's, from start-up to shutdown), lines wait until the loop's current round of
callbacks is done and go out in one write: a write per request is a system call per
request, and each one hands the GIL to other threads.
"""

from __future__ import annotations

import asyncio
import atexit
import sys
import time
from typing import TextIO

_stream: TextIO | None = None
_loop: asyncio.AbstractEventLoop | None = None
_second = -1
_stamp = ""
_pending: list[str] = []


def configure(stream: TextIO | None = None) -> None:
    global _stream
    flush()
    _stream = stream or sys.stderr


def attach(loop: asyncio.AbstractEventLoop | None) -> None:
    """Batch lines per round of `loop` (None: write each at once). Asked once, rather
    than per line: asyncio.get_running_loop() costs a system call on every call."""
    global _loop
    flush()
    _loop = loop


def write(line: str) -> None:
    global _second, _stamp
    if _stream is None:
        return
    now = time.time()
    if int(now) != _second:  # format the timestamp once per second
        _second = int(now)
        _stamp = time.strftime("%Y-%m-%dT%H:%M:%SZ ", time.gmtime(now))
    text = f"{_stamp}{line}\n"
    if _loop is None:  # no event loop (CLI, tests): write at once
        _stream.write(text)
        _stream.flush()
        return
    if not _pending:
        _loop.call_soon(flush)
    _pending.append(text)


def flush() -> None:
    """Write out the lines waiting for the end of the event loop's round."""
    if not _pending or _stream is None:
        _pending.clear()
        return
    text = "".join(_pending)
    _pending.clear()
    _stream.write(text)
    _stream.flush()


atexit.register(flush)  # lines of the last requests before a stop
