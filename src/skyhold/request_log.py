"""One line per request: time, service, operation, principal, status, latency, id.

Written straight to the stream: the logging module's record machinery costs more
than the rest of a GetCallerIdentity call.
"""

from __future__ import annotations

import sys
import time
from typing import TextIO

_stream: TextIO | None = None
_second = -1
_stamp = ""


def configure(stream: TextIO | None = None) -> None:
    global _stream
    _stream = stream or sys.stderr


def write(line: str) -> None:
    global _second, _stamp
    if _stream is None:
        return
    now = time.time()
    if int(now) != _second:  # format the timestamp once per second
        _second = int(now)
        _stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(now))
    _stream.write(f"{_stamp}Z {line}\n")
