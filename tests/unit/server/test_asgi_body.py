"""Reading an ASGI request body: whole in one message, in parts, or cut short."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from skyhold.errors import AwsError
from skyhold.server import AsgiBody


def _receiver(messages: list[dict[str, Any]]):
    queue = list(messages)

    async def receive() -> dict[str, Any]:
        return queue.pop(0)

    return receive


def _read(messages: list[dict[str, Any]], limit: int = 1024) -> bytes:
    return asyncio.run(AsgiBody(_receiver(messages)).read(limit))


def test_single_message() -> None:
    assert _read([{"type": "http.request", "body": b"abc", "more_body": False}]) == b"abc"


def test_no_body() -> None:
    assert _read([{"type": "http.request"}]) == b""


def test_parts_are_joined_in_order() -> None:
    parts = [
        {"type": "http.request", "body": b"ab", "more_body": True},
        {"type": "http.request", "body": b"", "more_body": True},
        {"type": "http.request", "body": b"cd", "more_body": False},
    ]
    assert _read(parts) == b"abcd"


@pytest.mark.parametrize("messages", [
    [{"type": "http.request", "body": b"x" * 11, "more_body": False}],
    [{"type": "http.request", "body": b"x" * 6, "more_body": True},
     {"type": "http.request", "body": b"x" * 5, "more_body": False}],
])
def test_over_limit(messages: list[dict[str, Any]]) -> None:
    with pytest.raises(AwsError) as e:
        _read(messages, limit=10)
    assert (e.value.code, e.value.status) == ("RequestEntityTooLarge", 413)


@pytest.mark.parametrize("messages", [
    [{"type": "http.disconnect"}],
    [{"type": "http.request", "body": b"ab", "more_body": True}, {"type": "http.disconnect"}],
])
def test_disconnect_is_incomplete_body(messages: list[dict[str, Any]]) -> None:
    with pytest.raises(AwsError) as e:
        _read(messages)
    assert e.value.code == "IncompleteBody"


def test_stream_yields_every_chunk() -> None:
    body = AsgiBody(_receiver([
        {"type": "http.request", "body": b"a", "more_body": True},
        {"type": "http.request", "body": b"b", "more_body": False},
    ]))

    async def collect() -> list[bytes]:
        return [chunk async for chunk in body.stream()]

    assert asyncio.run(collect()) == [b"a", b"b"]
