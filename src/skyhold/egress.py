"""Responses leave only after the trail has the events they answer for.

A call that succeeded and only read answers once its event line is in the trail
writer's pipe (trail/recorder.py), which happens once per loop turn, for all the
turn's calls together. Rather than every such call awaiting that hand-over (another
loop turn and task switch per call), the connection holds whatever it would send while
any turn's lines are not handed over yet, and sends it right after they are: in the
order written, closes included (http_protocol.py writes through here).

One gate for the process: the server runs one event loop, and a write held for a
recorder that has nothing to do with it is only sent a turn later, never lost.
"""

from __future__ import annotations

import logging
from collections.abc import Hashable
from typing import Protocol

log = logging.getLogger("skyhold")


class Outlet(Protocol):
    """A connection's way out (http_protocol's transport)."""

    def send_now(self, parts: tuple[bytes, ...] | None) -> None:
        """Write `parts`, or close when None."""

    def abort_now(self) -> None:
        """Drop the connection: what was held must never be sent."""


_pending: set[Hashable] = set()  # turns whose lines are not in the writer's pipe yet
_held: list[tuple[Outlet, tuple[bytes, ...] | None]] = []


def holding() -> bool:
    return bool(_pending)


def hold(turn: Hashable) -> None:
    """From now until `release(turn)`, writes through `send` wait."""
    _pending.add(turn)


def send(outlet: Outlet, parts: tuple[bytes, ...] | None) -> bool:
    """Hold `parts` (None: a close) for `outlet` if any turn is pending; False if not
    (the caller writes at once)."""
    if not _pending:
        return False
    _held.append((outlet, parts))
    return True


def release(turn: Hashable) -> None:
    """`turn`'s lines are in the pipe: once no turn is pending, send what waited."""
    _pending.discard(turn)
    if not _pending and _held:
        held = _held.copy()
        _held.clear()
        for outlet, parts in held:
            try:
                outlet.send_now(parts)
            except Exception:  # one connection's trouble must not keep the others' answers
                log.exception("sending a held response failed")


def fail(turn: Hashable) -> None:
    """`turn`'s lines are lost: the answers held meanwhile must not look done, so
    their connections are dropped unsent (a client sees a reset and may retry)."""
    _pending.discard(turn)
    held = _held.copy()
    _held.clear()
    for outlet in dict.fromkeys(outlet for outlet, _ in held):
        outlet.abort_now()
