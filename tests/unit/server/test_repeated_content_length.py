"""A request repeating Content-Length with one value is read as if it said it once;
anything else about it stays refused (http_protocol._one_content_length)."""

from __future__ import annotations

from skyhold.http_protocol import _one_content_length

HEAD = b"PUT /b/k?X-Amz-Signature=abc HTTP/1.1\r\nHost: h\r\n"


def test_one_value_said_twice_is_said_once() -> None:
    data = HEAD + b"Content-Length: 5\r\ncontent-length:5 \r\nX-A: b\r\n\r\nhello"
    assert _one_content_length(data) == HEAD + b"Content-Length: 5\r\nX-A: b\r\n\r\nhello"


def test_three_times_and_a_body_that_mentions_it() -> None:
    body = b"\r\ncontent-length: 9\r\n"
    data = (HEAD + b"content-length: %d\r\nX-A: b\r\nCONTENT-LENGTH: %d\r\nContent-Length: %d\r\n\r\n"
            % ((len(body),) * 3) + body)
    assert _one_content_length(data) == HEAD + b"content-length: %d\r\nX-A: b\r\n\r\n" % len(body) + body


def test_different_values_stay_refused() -> None:
    assert _one_content_length(HEAD + b"Content-Length: 5\r\nContent-Length: 6\r\n\r\nhello") is None


def test_a_head_not_all_there_or_not_a_request_start_is_left() -> None:
    assert _one_content_length(HEAD + b"Content-Length: 5\r\nContent-Length: 5\r\n") is None
    assert _one_content_length(b"Host: h\r\nContent-Length: 5\r\nContent-Length: 5\r\n\r\nhello") is None
    assert _one_content_length(HEAD + b"Content-Length: 5\r\n\r\nhello") is None  # nothing repeated
