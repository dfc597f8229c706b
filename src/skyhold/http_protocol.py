"""uvicorn's HTTP protocol, with each response's head and body sent in one system call.

uvicorn writes a response's status line and headers with one transport write and its
body with another; each reaches the kernel as a send of its own: two TCP segments and,
on loopback, two wake-ups of the client for one small response. Here the head is held
back until the body's first bytes follow it (or the response ends without a body, as
a HEAD's does), and both go out together.

Every write and close goes through the egress gate (egress.py): while the trail's
lines of this loop turn are not handed over yet, what a connection sends waits for
them. Held bytes count against the connection's flow control as if the transport
buffered them, so a streamed body cannot pile up in memory meanwhile.

A request repeating Content-Length with one value (rclone's presigned uploads send
`Content-Length` and `content-length`) is read as if it said it once, as AWS and RFC 9110
§8.6 allow; llhttp refuses it outright, so its head is mended and parsed again.

A request's head is at most HEAD_MAX bytes (llhttp buffers a header line without
limit: a client sending one endlessly would fill the memory). A client that shuts down
its sending side (half-close) still gets its answer: IncompleteBody when the body it
announced was cut short, as S3 answers. A body that stops arriving for BODY_IDLE_TIMEOUT
seconds ends as S3 ends it, in RequestTimeout: a stalled client holds no connection,
task or temp blob file for ever.
Everything else is uvicorn's own.
"""

from __future__ import annotations

import asyncio
import re
from typing import Any

import httptools
from uvicorn.protocols.http.flow_control import HIGH_WATER_LIMIT
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from skyhold import egress, ids

_INTERIM = b"HTTP/1.1 1"  # a 1xx line (100 Continue) never waits for a body: the client waits for it
_REQUEST_LINE = re.compile(rb"(?:\r\n)*[A-Z]+ \S+ HTTP/1\.[01]\r\n")
_CONTENT_LENGTH_LINE = re.compile(rb"\r\ncontent-length[ \t]*:[ \t]*([^\r\n]*?)[ \t]*(?=\r\n)", re.I)
# A request line and headers larger than this are refused as S3 refuses them
# (RequestHeaderSectionTooLarge). S3 allows 8 KiB; Skyhold twice that, as Node's and h11's
# defaults: its requests carry longer tokens than AWS's, and a client's presigned URL
# that works against S3 must work here.
HEAD_MAX = 16 << 10
BODY_IDLE_TIMEOUT = 20.0  # S3's: "20 seconds idle" closes with 400 RequestTimeout
# While stopping: uvicorn cancels what still runs after its graceful timeout (10 s), and a
# cancelled upload answers 500; one idle this long is ended first, in RequestTimeout.
STOPPING_BODY_IDLE_TIMEOUT = 5.0
# Set in a request's scope when its body ended early: "IncompleteBody" (the client shut
# down its sending side) or "RequestTimeout" (nothing came for too long). The body then
# reads as ended, and server.AsgiBody answers that error rather than take it as whole.
BODY_CUT = "skyhold.body_cut"


class _HeadJoiningTransport:
    """The connection's transport, joining a response's head to what follows it and
    sending through the egress gate."""

    __slots__ = ("_transport", "_protocol", "_held", "_waiting", "_paused", "_closed", "expect_head",
                 "pause_reading", "resume_reading")

    def __init__(self, transport: asyncio.Transport, protocol: asyncio.Protocol) -> None:
        self._transport = transport
        self._protocol = protocol
        self._held: bytes | None = None
        self._waiting = 0  # bytes the egress gate holds for this connection
        self._paused = False  # writing paused by us, for what the gate holds
        self._closed = False  # closed by uvicorn (the close itself may wait at the gate)
        self.expect_head = False  # the next final write is a response's head
        # What uvicorn calls on every request, bound once rather than looked up through
        # __getattr__ each time.
        self.pause_reading = transport.pause_reading
        self.resume_reading = transport.resume_reading

    def write(self, data: bytes) -> None:
        held = self._held
        if held is not None:
            self._held = None
            self._out((held, data))
        elif self.expect_head and not data.startswith(_INTERIM):
            self.expect_head = False
            self._held = data
        else:
            self._out((data,))

    def release(self) -> None:
        """Send a held head (the response ended without a body)."""
        held = self._held
        if held is not None:
            self._held = None
            self._out((held,))

    def is_closing(self) -> bool:
        # Closing from the moment uvicorn closes: it must not read another request
        # from this connection while the close waits at the gate.
        return self._closed or self._transport.is_closing()

    def close(self) -> None:
        self.release()
        self._closed = True
        if not egress.send(self, None):
            self._transport.close()

    def _out(self, parts: tuple[bytes, ...]) -> None:
        if not egress.send(self, parts):
            self._transport.writelines(parts)
            return
        self._waiting += sum(map(len, parts))
        if self._waiting > HIGH_WATER_LIMIT:
            self._paused = True
            self._protocol.pause_writing()  # uvicorn's send then waits to drain

    def send_now(self, parts: tuple[bytes, ...] | None) -> None:
        """What the gate held, now that it may go (None: a close)."""
        if self._transport.is_closing():  # the client left meanwhile: a closed transport refuses writes
            return
        if parts is None:
            self._transport.close()
            return
        self._transport.writelines(parts)
        self._waiting -= sum(map(len, parts))
        if self._paused and not self._waiting:
            self._paused = False
            transport = self._transport
            # Unless the transport itself is full now: it resumes writing once it drains.
            if transport.get_write_buffer_size() <= transport.get_write_buffer_limits()[1]:
                self._protocol.resume_writing()

    def abort_now(self) -> None:
        self._transport.abort()

    def holds_nothing(self) -> bool:
        """Nothing of this connection's waits here or at the egress gate."""
        return self._held is None and not self._waiting

    def __getattr__(self, name: str) -> Any:
        return getattr(self._transport, name)


class HttpProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol; pass it as uvicorn's `http`."""

    transport: _HeadJoiningTransport  # type: ignore[assignment]

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(_HeadJoiningTransport(transport, self))  # type: ignore[arg-type]

    _head_size = 0  # bytes of the head being read, as far as it has come
    _cut: Any = None  # the request cycle whose body ended early (half-close or idle)
    _idle_timer: asyncio.TimerHandle | None = None  # watches a body being received
    _last_read = 0.0  # loop time of the last bytes received
    _idle_limit = BODY_IDLE_TIMEOUT

    def data_received(self, data: bytes) -> None:
        cycle = self.cycle
        # Whether `data` starts a request: no body and no head is part-read. (A head read
        # in part has its scope already, without a method until the head is complete.)
        heading = self.scope is not None and "method" not in self.scope
        fresh = (cycle is None or not cycle.more_body) and not heading
        if not heading:
            self._head_size = 0
        if fresh or heading:  # (a head that starts after a body in `data` goes uncounted: one read at most)
            end = data.find(b"\r\n\r\n")
            self._head_size += len(data) if end < 0 else end
            if self._head_size > HEAD_MAX:
                self._refuse_head()
                return
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserError as err:
            # Read again only when nothing of `data` reached the app: no head completed.
            mended = _one_content_length(data) if fresh and self.cycle is cycle and "Content-Length" in str(err) \
                else None
            if mended is None:
                self.logger.warning("Invalid HTTP request received.")
                self.send_400_response("Invalid HTTP request received.")
                return
            self.parser = httptools.HttpRequestParser(self)
            self.parser.set_dangerous_leniencies(lenient_data_after_close=True)  # as uvicorn's own parser
            super().data_received(mended)
        except httptools.HttpParserUpgrade:  # as uvicorn
            if self._should_upgrade():
                self.handle_websocket_upgrade()
            else:
                self._unsupported_upgrade_warning()
        self._last_read = self.loop.time()
        if self._idle_timer is None and self.cycle is not None and self.cycle.more_body:
            self._idle_timer = self.loop.call_later(BODY_IDLE_TIMEOUT, self._body_idle)

    def _body_idle(self) -> None:
        """A body is being received: end it if nothing came for `_idle_limit` seconds."""
        self._idle_timer = None
        cycle = self.cycle
        if cycle is None or not cycle.more_body or cycle.response_complete or self.transport.is_closing() \
                or self._cut is cycle:
            return
        idle = self.loop.time() - self._last_read
        # Not idle when Skyhold itself is not reading (the app is behind) or the client
        # waits for "100 Continue".
        if idle < self._idle_limit or self.flow.read_paused or cycle.waiting_for_100_continue:
            self._idle_timer = self.loop.call_later(max(self._idle_limit - idle, 0.5), self._body_idle)
            return
        self._end_body(cycle, "RequestTimeout")

    def _end_body(self, cycle: Any, why: str) -> None:
        """No more of `cycle`'s body will come: it reads as ended, its scope says why
        (BODY_CUT), and the connection closes after the answer. (Marked in the scope
        rather than by wrapping each request's receive: that wrapper cost every request
        ~8 µs of CPU.)"""
        cycle.keep_alive = False
        self._cut = cycle
        cycle.scope[BODY_CUT] = why
        cycle.more_body = False
        cycle.message_event.set()  # a receive waiting for more wakes to find the end

    def shutdown(self) -> None:
        """The server stops: as uvicorn, and a body being received is watched more closely."""
        super().shutdown()
        self._idle_limit = STOPPING_BODY_IDLE_TIMEOUT
        if self._idle_timer is not None:
            self._idle_timer.cancel()
            self._idle_timer = self.loop.call_later(STOPPING_BODY_IDLE_TIMEOUT, self._body_idle)

    def connection_lost(self, exc: Exception | None) -> None:
        if self._idle_timer is not None:
            self._idle_timer.cancel()
            self._idle_timer = None
        super().connection_lost(exc)

    def _refuse_head(self) -> None:
        self.logger.warning("Request head larger than %d bytes refused.", HEAD_MAX)
        request_id = ids.request_id()
        body = ('<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>RequestHeaderSectionTooLarge</Code>'
                '<Message>Your request header section exceeds the maximum allowed size.</Message>'
                f'<MaxSizeAllowed>{HEAD_MAX}</MaxSizeAllowed><RequestId>{request_id}</RequestId></Error>').encode()
        head = (f"HTTP/1.1 400 Bad Request\r\nx-amz-request-id: {request_id}\r\ncontent-type: application/xml\r\n"
                f"content-length: {len(body)}\r\nconnection: close\r\n\r\n").encode()
        self.transport.write(head + body)
        self.transport.close()

    def eof_received(self) -> bool | None:  # type: ignore[override]
        """The client shut down its sending side: an idle connection closes; a request
        in progress is answered first (IncompleteBody if its body was cut short)."""
        cycle = self.cycle
        if cycle is None or cycle.response_complete:
            return None  # asyncio closes the transport
        if cycle.more_body:
            self._end_body(cycle, "IncompleteBody")
        else:
            cycle.keep_alive = False  # nothing more can come: close once answered
        return True

    def _start_asgi_task(self, cycle: Any, app: Any) -> None:
        # A response begins only here (a pipelined request waits for the one before it).
        self.transport.expect_head = True
        super()._start_asgi_task(cycle, app)

    def on_response_complete(self) -> None:
        self.transport.release()
        super().on_response_complete()


def _one_content_length(data: bytes) -> bytes | None:
    """`data` (a request's start) with a repeated Content-Length said once; None when its
    head is not all there or the values differ (a request smuggling attempt stays refused)."""
    end = data.find(b"\r\n\r\n")
    if end < 0 or not _REQUEST_LINE.match(data):
        return None
    head = data[:end + 2]  # with its last line's CRLF
    lines = list(_CONTENT_LENGTH_LINE.finditer(head))
    if len(lines) < 2 or len({m.group(1) for m in lines}) != 1:
        return None
    kept = head[:lines[0].end()] + b"".join(head[a.end():b.start()] for a, b in zip(lines, lines[1:]))
    return kept + head[lines[-1].end():] + data[end + 2:]


TLS_SCOPE_KEY = "skyhold.tls"  # the connection's TLS details, for CloudTrail's tlsDetails


class TlsHttpProtocol(HttpProtocol):
    """The HTTPS listener's protocol: each request's scope also carries its connection's
    TLS version and cipher suite (OpenSSL's names, as CloudTrail writes them)."""

    _tls: dict[str, str] | None = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        ssl_object = transport.get_extra_info("ssl_object")
        if ssl_object is not None:
            cipher = ssl_object.cipher()
            self._tls = {"tlsVersion": ssl_object.version() or "", "cipherSuite": cipher[0] if cipher else ""}
        super().connection_made(transport)

    def eof_received(self) -> None:  # type: ignore[override]
        super().eof_received()  # (a TLS transport closes on EOF whatever this answers)

    def shutdown(self) -> None:
        """At a stop, an idle connection is dropped rather than closed: a TLS close waits
        for the client's close_notify (up to the transport's ssl_shutdown_timeout), and a
        pooled connection's client is not reading, so the stop waited with it. Nothing is
        lost: no request is on it and nothing of it is held."""
        transport = self.transport
        if ((self.cycle is None or self.cycle.response_complete) and isinstance(transport, _HeadJoiningTransport)
                and transport.holds_nothing() and not transport.is_closing()):
            transport.abort_now()
            return
        super().shutdown()

    def on_message_begin(self) -> None:
        super().on_message_begin()
        if self._tls is not None:
            self.scope[TLS_SCOPE_KEY] = self._tls  # type: ignore[literal-required]
