"""A response's head goes out with its body, in one write; while the trail's lines of
a turn are not handed over, what a connection sends waits for them (egress)."""

from __future__ import annotations

from typing import Any

from skyhold import egress
from skyhold.http_protocol import _HeadJoiningTransport

HEAD = b"HTTP/1.1 200 OK\r\ncontent-length: 5\r\n\r\n"


class Recording:
    """A transport that notes what reaches the socket, one entry per system call."""

    def __init__(self) -> None:
        self.sends: list[bytes] = []
        self.closed = False
        self.aborted = False

    def write(self, data: bytes) -> None:
        assert not self.closed, "a closed transport refuses writes"
        self.sends.append(data)

    def writelines(self, parts: Any) -> None:
        assert not self.closed, "a closed transport refuses writes"
        self.sends.append(b"".join(parts))

    def close(self) -> None:
        self.closed = True

    def abort(self) -> None:
        self.aborted = True

    def get_write_buffer_size(self) -> int:
        return 0

    def get_write_buffer_limits(self) -> tuple[int, int]:
        return (16384, 65536)

    def is_closing(self) -> bool:
        return self.closed

    def pause_reading(self) -> None: ...

    def resume_reading(self) -> None: ...

    def get_extra_info(self, name: str) -> str:
        return f"info:{name}"


class Protocol:
    """uvicorn's protocol, as far as flow control goes."""

    def __init__(self) -> None:
        self.writing_paused = False

    def pause_writing(self) -> None:
        self.writing_paused = True

    def resume_writing(self) -> None:
        self.writing_paused = False


def _joining() -> tuple[_HeadJoiningTransport, Recording]:
    raw = Recording()
    return _HeadJoiningTransport(raw, Protocol()), raw  # type: ignore[arg-type]


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


def test_100_continue_is_never_held_back_for_a_body() -> None:
    """The client sends its body only after this line: waiting for one would hang both."""
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


class Turn:
    """A recorder's turn, as the gate knows it."""


def test_writes_wait_for_the_turns_hand_over_in_order_closes_included() -> None:
    first, raw_first = _joining()
    second, raw_second = _joining()
    turn, later = Turn(), Turn()
    egress.hold(turn)
    egress.hold(later)
    first.expect_head = True
    first.write(HEAD)
    first.write(b"hello")
    second.write(b"HTTP/1.1 100 Continue\r\n\r\n")
    first.close()
    assert raw_first.sends == [] and not raw_first.closed and raw_second.sends == []
    assert first.is_closing()  # uvicorn reads no further request from it meanwhile
    egress.release(turn)
    assert raw_first.sends == [] and raw_second.sends == []  # another turn is still pending
    egress.release(later)
    assert raw_first.sends == [HEAD + b"hello"] and raw_first.closed
    assert raw_second.sends == [b"HTTP/1.1 100 Continue\r\n\r\n"]
    second.write(b"next")  # nothing pending: straight out
    assert raw_second.sends[-1] == b"next"
    assert not egress.holding()


def test_answers_held_for_a_lost_turn_are_never_sent() -> None:
    t, raw = _joining()
    turn = Turn()
    egress.hold(turn)
    t.expect_head = True
    t.write(HEAD)
    t.write(b"hello")
    egress.fail(turn)
    assert raw.sends == [] and raw.aborted
    assert not egress.holding()


def test_held_bytes_count_against_flow_control() -> None:
    raw = Recording()
    protocol = Protocol()
    t = _HeadJoiningTransport(raw, protocol)  # type: ignore[arg-type]
    turn = Turn()
    egress.hold(turn)
    chunk = b"x" * 40_000
    t.write(chunk)
    assert not protocol.writing_paused
    t.write(chunk)  # past uvicorn's high-water mark: its send() waits to drain
    assert protocol.writing_paused
    egress.release(turn)
    assert raw.sends == [chunk, chunk] and not protocol.writing_paused


def test_a_client_gone_while_its_answer_waited_does_not_stop_the_others() -> None:
    gone, raw_gone = _joining()
    staying, raw_staying = _joining()
    turn = Turn()
    egress.hold(turn)
    gone.write(b"answer one")
    staying.write(b"answer two")
    raw_gone.close()  # the client hung up: uvicorn saw the connection lost
    egress.release(turn)
    assert raw_gone.sends == [] and raw_staying.sends == [b"answer two"]
