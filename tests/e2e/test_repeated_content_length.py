"""A request that repeats Content-Length with one value is served (rclone's presigned
uploads send it twice, and AWS takes it); with two values it stays a 400."""

from __future__ import annotations

import socket

from tests.e2e.conftest import Server


def _exchange(server: Server, *requests: bytes) -> list[bytes]:
    """Send each request on one keep-alive connection; the status line of each answer."""
    lines = []
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as sock:
        reader = sock.makefile("rb")
        for request in requests:
            sock.sendall(request)
            status = reader.readline()
            lines.append(status)
            length = 0
            while (line := reader.readline()) not in (b"\r\n", b""):
                name, _, value = line.partition(b":")
                if name.strip().lower() == b"content-length":
                    length = int(value)
            reader.read(length)
    return lines


def _put(lengths: tuple[int, ...]) -> bytes:
    said = b"".join(b"%s: %d\r\n" % (name, n) for name, n in zip((b"Content-Length", b"content-length"), lengths))
    return b"PUT /no-such-bucket-for-lengths/k HTTP/1.1\r\nHost: 127.0.0.1\r\n" + said + b"\r\nhello"


def test_one_value_twice_is_served_on_a_kept_connection(server: Server) -> None:
    first, second = _exchange(server, _put((5,)), _put((5, 5)))
    # Anonymous, on no bucket: S3's own refusal, not the HTTP parser's 400.
    assert first.startswith(b"HTTP/1.1 404") or first.startswith(b"HTTP/1.1 403"), first
    assert second.split()[1] == first.split()[1], second


def test_two_values_stay_refused(server: Server) -> None:
    (status,) = _exchange(server, _put((5, 6)))
    assert status.startswith(b"HTTP/1.1 400"), status
