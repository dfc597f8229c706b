"""A signal `skyhold up` receives before uvicorn's handlers are in place still stops it."""

from __future__ import annotations

import signal
import socket
from typing import Any

import pytest
import uvicorn

from skyhold.serve import _make_server
from skyhold.stop_signals import StartupSignals, Stopped


async def _app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    if scope["type"] == "lifespan":
        while (await receive())["type"] != "lifespan.shutdown":
            await send({"type": "lifespan.startup.complete"})
        await send({"type": "lifespan.shutdown.complete"})


def _run(signals: StartupSignals) -> list[str]:
    printed: list[str] = []
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    config = uvicorn.Config(_app, lifespan="on", log_level="warning")
    server = _make_server(config, None, signals, lambda: printed.append("serving"))
    # A server that starts serving stops at once: should_exit set from its first loop turn.
    orig = server.main_loop

    async def stop_soon() -> None:
        server.should_exit = True
        await orig()

    server.main_loop = stop_soon  # type: ignore[method-assign]
    server.run(sockets=[sock])
    return printed


def test_a_signal_recorded_before_uvicorn_stops_it_before_it_serves() -> None:
    signals = StartupSignals()
    signals.received = signal.SIGINT  # came between start-up's last check and uvicorn's handlers
    assert _run(signals) == []
    assert not signals.serving


def test_without_a_signal_it_serves() -> None:
    signals = StartupSignals()
    assert _run(signals) == ["serving"]
    assert signals.serving


def test_first_signal_is_recorded_a_second_stops_at_once_and_none_after_serving() -> None:
    signals = StartupSignals()
    signals.check()
    signals._handle(signal.SIGTERM, None)
    with pytest.raises(Stopped) as stopped:
        signals.check()
    assert stopped.value.exit_status == 143
    with pytest.raises(Stopped) as again:
        signals._handle(signal.SIGINT, None)
    assert again.value.exit_status == 130
    serving = StartupSignals()
    serving.serving = True
    serving._handle(signal.SIGINT, None)  # uvicorn's graceful stop re-raises it here
    serving.check()
    assert serving.received is None
