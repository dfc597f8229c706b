"""The one source of time.

Everything that expires, ages or runs on a schedule reads `clock.now()`. A lab or a
test can move this clock forward (`skyhold clock advance`); the offset is persisted
by the server. Signature clock-skew checks deliberately use `wall_now()` instead,
because a client signs with the real wall clock.
"""

from __future__ import annotations

import math
import time
from datetime import datetime, timedelta, timezone

_offset_seconds: float = 0.0

# datetime holds no time past year 9999. The clock stops well short of that: a stored
# offset keeps moving the clock as real time passes, and dates are computed from now,
# up to a century ahead (S3 Object Lock retention; a key's rotation period), so a clock
# nearer the limit would fail requests, even after a restart.
LATEST = datetime(9000, 1, 1, tzinfo=timezone.utc)


def wall_now() -> datetime:
    return datetime.now(timezone.utc)


def now() -> datetime:
    return datetime.fromtimestamp(time.time() + _offset_seconds, timezone.utc)


def now_epoch() -> float:
    return time.time() + _offset_seconds


def offset() -> timedelta:
    return timedelta(seconds=_offset_seconds)


def check_offset(seconds: float) -> float:
    """`seconds` if it is an offset the clock can take, else ValueError saying why."""
    if not math.isfinite(seconds):
        raise ValueError(f"the clock's offset must be a finite number of seconds, not {seconds}")
    if seconds < 0:
        raise ValueError("Skyhold's clock only moves forward")
    if time.time() + seconds >= LATEST.timestamp():
        raise ValueError(f"Skyhold's clock cannot go past {iso8601(LATEST)}")
    return float(seconds)


def set_offset(seconds: float) -> None:
    global _offset_seconds
    _offset_seconds = check_offset(seconds)


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
