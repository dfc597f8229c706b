"""A response's head goes out with its body, in one write; nothing is held that a
client waits for."""

from __future__ import annotations

from typing import Any

from skyhold.http_protocol import _HeadJoiningTransport

HEAD = b"HTTP/1.1 200 OK\r\ncontent-length: 5\r\n\r\n"


class Recording:
    """A transport that notes what reaches the socket, one entry per system call."""

    def __init__(self) -> None:
        self.sends: list[bytes] = []
        self.closed = False

    def write(self, data: bytes) -> None:
        self.sends.append(data)

    def writelines(self, parts: Any) -> None:
        self.sends.append(b"".join(parts))

    def close(self) -> None:
        self.closed = True

    def is_closing(self) -> bool:
        return self.closed

    def pause_reading(self) -> None: ...

    def resume_reading(self) -> None: ...

    def get_extra_info(self, name: str) -> str:
        return f"info:{name}"


def _joining() -> tuple[_HeadJoiningTransport, Recording]:
    raw = Recording()
    return _HeadJoiningTransport(raw), raw  # type: ignore[arg-type]


def test_head_and_body_are_one_send() -> None:
    t, raw = _joining()
    t.expect_head = True
    t.write(HEAD)
    assert raw.sends == []
    t.write(b"hello")
    assert raw.sends == [HEAD + b"hello"]
    t.write(b" more")  # a streamed body's later chunks go straight out
    assert raw.sends == [HEAD + b"hello", b" more"]


def test_a_bodiless_response_is_released_when_it_ends() -> None:
    t, raw = _joining()
    t.expect_head = True
    t.write(HEAD)  # e.g. a HEAD request's answer: no body write follows
    t.release()
    assert raw.sends == [HEAD]
    t.release()
    assert raw.sends == [HEAD]


def test_100_continue_is_never_held() -> None:
    """The client sends its body only after this line: holding it would hang both."""
    t, raw = _joining()
    t.expect_head = True
    t.write(b"HTTP/1.1 100 Continue\r\n\r\n")
    assert raw.sends == [b"HTTP/1.1 100 Continue\r\n\r\n"]
    t.write(HEAD)  # the final response's head is still joined to its body
    t.write(b"hello")
    assert raw.sends[1:] == [HEAD + b"hello"]


def test_writes_between_responses_are_not_held() -> None:
    t, raw = _joining()
    t.write(b"anything")  # no response started: straight through
    assert raw.sends == [b"anything"]


def test_close_sends_a_held_head_first() -> None:
    t, raw = _joining()
    t.expect_head = True
    t.write(HEAD)
    t.close()
    assert raw.sends == [HEAD] and raw.closed and t.is_closing()
    assert t.get_extra_info("peername") == "info:peername"
