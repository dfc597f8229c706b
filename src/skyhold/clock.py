"""The one source of time.

Everything that expires, ages or runs on a schedule reads `clock.now()`. A lab or a
test can move this clock forward (`skyhold clock advance`); the offset is persisted
by the server. Signature clock-skew checks deliberately use `wall_now()` instead,
because a client signs with the real wall clock.
"""

from __future__ import annotations

import time
from datetime import datetime, timedelta, timezone

_offset_seconds: float = 0.0


def wall_now() -> datetime:
    return datetime.now(timezone.utc)


def now() -> datetime:
    return datetime.fromtimestamp(time.time() + _offset_seconds, timezone.utc)


def now_epoch() -> float:
    return time.time() + _offset_seconds


def offset() -> timedelta:
    return timedelta(seconds=_offset_seconds)


def set_offset(seconds: float) -> None:
    if seconds < 0:
        raise ValueError("Skyhold's clock only moves forward")
    global _offset_seconds
    _offset_seconds = float(seconds)


_stamp: tuple[int, str] = (-1, "")


def now_iso8601() -> str:
    """iso8601(now()), formatted once per second: events and responses ask for it
    on every call."""
    global _stamp
    second = int(time.time() + _offset_seconds)
    if _stamp[0] != second:
        _stamp = (second, iso8601(datetime.fromtimestamp(second, timezone.utc)))
    return _stamp[1]


def iso8601(dt: datetime) -> str:
    """AWS's usual timestamp text, e.g. 2026-11-22T10:00:00Z."""
    return dt.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
