"""The one source of time.

Everything that expires, ages or runs on a schedule reads `clock.now()`. A lab or a
test can move this clock forward (`skyhold clock advance`); the offset is persisted
by the server. Signature clock-skew checks deliberately use `wall_now()` instead,
because a client signs with the real wall clock; a signed request's validity window
(a presigned URL's X-Amz-Expires) runs on wall time plus `advanced_since(signed)`.
"""

from __future__ import annotations

import math
import time
from bisect import bisect_right
from datetime import datetime, timedelta, timezone

_offset_seconds: float = 0.0

# How far back the offset's history is kept: the longest a presigned URL lives.
HISTORY_SECONDS = 7 * 86400
# Changes of the offset, oldest first: (wall epoch second of the change, offset after
# it). The first entry is a baseline: its offset held before it too. Empty while the
# offset never changed. Whole seconds, as X-Amz-Date is: a URL signed in the second
# the clock moved is taken as signed after the move (the admin API moves the clock on
# a second's boundary, so that no URL is signed in that second before the move).
_changes: list[tuple[float, float]] = []

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


def set_offset(seconds: float, at: float | None = None) -> None:
    """Move the clock to `seconds` past real time, noting the change in its history as
    made at wall time `at` (a whole second; default: this one)."""
    global _offset_seconds
    seconds = check_offset(seconds)
    if seconds == _offset_seconds:
        return
    wall = float(math.floor(time.time() if at is None else at))
    if not _changes:
        _changes.append((0.0, _offset_seconds))
    _changes.append((wall, seconds))
    # Keep the newest change older than the window as the baseline for older times.
    while len(_changes) > 2 and _changes[1][0] <= wall - HISTORY_SECONDS:
        del _changes[0]
    _offset_seconds = seconds


def history() -> list[tuple[float, float]]:
    """The offset's recent changes, (wall epoch, offset after), to persist."""
    return list(_changes)


def restore(seconds: float, changes: list[tuple[float, float]]) -> None:
    """Take a persisted offset and its history (not a change of its own). ValueError
    for an offset the clock cannot take; a malformed history is dropped."""
    global _offset_seconds, _changes
    _offset_seconds = check_offset(seconds)
    valid = all(math.isfinite(at) and math.isfinite(off) for at, off in changes)
    ordered = all(a[0] <= b[0] for a, b in zip(changes, changes[1:]))
    _changes = list(changes) if valid and ordered else []


def advanced_since(wall_epoch: float) -> float:
    """Seconds Skyhold's clock got ahead of where it stood at wall time `wall_epoch`:
    the highest offset since then less the offset then (0 if it never rose). A request
    signed at `wall_epoch` is that much older on Skyhold's clock than its wall age;
    the highest, not the current, offset so that a reset never revives a URL that an
    advance expired, nor lets one live longer than its wall age allows."""
    if not _changes or wall_epoch >= _changes[-1][0]:
        return 0.0  # the common case: no move since then, a constant-time check
    at = bisect_right(_changes, wall_epoch, key=lambda change: change[0]) - 1
    then = _changes[max(at, 0)][1]
    peak = max(offset for _, offset in _changes[at + 1:])
    return max(0.0, peak - then)


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
