"""The ASGI application `skyhold up` serves: HTTP in, pipeline, HTTP out.

A raw ASGI callable rather than a framework: the pipeline is the framework, and
every microsecond here is paid on every request.
"""

from __future__ import annotations

import asyncio
import gc
import json
from collections.abc import AsyncIterator, Awaitable, Callable
from operator import methodcaller
from typing import Any

from skyhold import request_log
from skyhold.auth.errors import incomplete_body, request_timeout
from skyhold.errors import AwsError
from skyhold.http_protocol import BODY_CUT, TLS_SCOPE_KEY
from skyhold.pipeline import Pipeline
from skyhold.services.registry import load_lifecycle
from skyhold.wire.http import HttpRequest

Scope = dict[str, Any]
Receive = Callable[[], Awaitable[dict[str, Any]]]
Send = Callable[[dict[str, Any]], Awaitable[None]]

HEALTH_PATH = "/_skyhold/health"
ADMIN_PREFIX = "/_skyhold/"
_LATIN1_DECODE = methodcaller("decode", "latin-1")
_LATIN1_ENCODE = methodcaller("encode", "latin-1")


def _header_bytes(value: str) -> bytes:
    """A header value as bytes: Latin-1 as HTTP has it, else the UTF-8 the client sent."""
    try:
        return value.encode("latin-1")
    except UnicodeEncodeError:
        pass
    try:
        return value.encode("utf-8", "surrogateescape")  # bytes of the query that were not UTF-8
    except UnicodeEncodeError:
        return value.encode("utf-8", "replace")


class AsgiBody:
    """The request body, read from ASGI `receive` once: whole or as a stream."""

    __slots__ = ("_receive", "_scope", "_done", "_pending")

    @property
    def exhausted(self) -> bool:
        """Whether the whole body has been received."""
        return self._done

    def __init__(self, receive: Receive, scope: Scope | None = None) -> None:
        self._receive = receive
        self._scope = scope  # where the server says a body was cut short (BODY_CUT)
        self._done = False
        # A message `read` took from `receive` but did not finish (a multi-part body).
        self._pending: dict[str, Any] | None = None

    async def read(self, limit: int) -> bytes:
        if not self._done:  # the usual case: the whole body in the first message
            message = await self._receive()
            if message["type"] == "http.request" and not message.get("more_body", False):
                self._done = True
                self._check_cut()
                body: bytes = message.get("body", b"")
                if len(body) > limit:
                    raise _too_large(limit)
                return body
            self._pending = message
        parts: list[bytes] = []
        size = 0
        async for chunk in self.stream():
            size += len(chunk)
            if size > limit:
                raise _too_large(limit)
            parts.append(chunk)
        return b"".join(parts)

    async def stream(self) -> AsyncIterator[bytes]:
        while not self._done:
            message = self._pending or await self._receive()
            self._pending = None
            if message["type"] == "http.disconnect":
                self._done = True
                raise incomplete_body()
            chunk = message.get("body", b"")
            self._done = not message.get("more_body", False)
            if self._done:
                self._check_cut()
            if chunk:
                yield chunk

    def _check_cut(self) -> None:
        """The body ended because the client stopped sending, not because it was whole."""
        why = self._scope.get(BODY_CUT) if self._scope is not None else None
        if why is not None:
            raise request_timeout() if why == "RequestTimeout" else incomplete_body()


def _too_large(limit: int) -> AwsError:
    return AwsError(
        "RequestEntityTooLarge",
        f"Request body is larger than the {limit} bytes this operation accepts",
        status=413,
    )


class App:
    def __init__(self, pipeline: Pipeline) -> None:
        self.pipeline = pipeline
        self.ready = False

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        kind = scope["type"]
        if kind == "http":
            await self._http(scope, receive, send)
        elif kind == "lifespan":
            await self._lifespan(receive, send)

    async def _lifespan(self, receive: Receive, send: Send) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                for pkg in load_lifecycle():
                    if hasattr(pkg, "on_startup"):
                        await pkg.on_startup(self.pipeline)
                # Everything loaded so far lives as long as the process; frozen, the
                # cyclic GC stops walking it on each full collection (models do the
                # same as they load: see wire.models).
                gc.freeze()
                request_log.attach(asyncio.get_running_loop())
                self.ready = True
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                self.ready = False
                for pkg in load_lifecycle():
                    if hasattr(pkg, "on_shutdown"):
                        await pkg.on_shutdown(self.pipeline)
                request_log.attach(None)  # writes out what waits
                self.pipeline.close()
                await send({"type": "lifespan.shutdown.complete"})
                return

    async def _http(self, scope: Scope, receive: Receive, send: Send) -> None:
        raw_path = scope.get("raw_path") or scope["path"].encode()
        path = raw_path.decode("utf-8", "surrogateescape")
        # A virtual-hosted S3 request's path is an object key: "_skyhold/..." is any
        # bucket's to use, not Skyhold's endpoints.
        if path.startswith(ADMIN_PREFIX) and not _virtual_hosted_s3(scope["headers"]):
            if path == HEALTH_PATH and scope["method"] in ("GET", "HEAD"):  # HEAD: `curl -I`, load balancers
                await _send_simple(send, 200 if self.ready else 503,
                                   {"status": "ready" if self.ready else "starting"}, head=scope["method"] == "HEAD")
                return
            await self._admin(scope, path, receive, send)
            return
        raw = scope["headers"]
        # ASGI servers send names lower-cased (the spec requires it); a repeated
        # header (rare) makes the dict shorter than the list: only then join values.
        # Decoded with map/zip: the loop runs in C, not once per header in bytecode.
        names, values = zip(*raw) if raw else ((), ())
        headers = dict(zip(map(_LATIN1_DECODE, names), map(_LATIN1_DECODE, values)))
        if len(headers) != len(raw):
            headers = _joined_headers(raw)
        client = scope.get("client")
        req = HttpRequest(
            method=scope["method"],
            path=path,
            query=scope["query_string"].decode("latin-1"),
            headers=headers,
            body=None,
            source_ip=client[0] if client else "127.0.0.1",
            scheme=scope.get("scheme", "http"),
            tls=scope.get(TLS_SCOPE_KEY),
        )
        response = await self.pipeline.handle(req, AsgiBody(receive, scope))
        names, values = zip(*response.headers) if response.headers else ((), ())
        try:
            raw_headers = list(zip(map(_LATIN1_ENCODE, names), map(_LATIN1_ENCODE, values)))
        except UnicodeEncodeError:  # a value echoed from the query (S3's response-* overrides)
            raw_headers = list(zip(map(_LATIN1_ENCODE, names), map(_header_bytes, values)))
        body = response.body
        if isinstance(body, bytes):
            if "content-length" not in names and "Content-Length" not in names:
                raw_headers.append((b"content-length", b"%d" % len(body)))
            await send({"type": "http.response.start", "status": response.status, "headers": raw_headers})
            await send({"type": "http.response.body", "body": body if scope["method"] != "HEAD" else b""})
            return
        await send({"type": "http.response.start", "status": response.status, "headers": raw_headers})
        async for chunk in body:
            await send({"type": "http.response.body", "body": chunk, "more_body": True})
        await send({"type": "http.response.body", "body": b""})


    async def _admin(self, scope: Scope, path: str, receive: Receive, send: Send) -> None:
        """Skyhold's own signed administrative API (see admin_api)."""
        from skyhold import admin_api

        headers = _joined_headers(scope["headers"])  # signed as AWS signs a repeated header
        client = scope.get("client")
        req = HttpRequest(scope["method"], path, scope["query_string"].decode("latin-1"), headers, None,
                          client[0] if client else "127.0.0.1", scope.get("scheme", "http"))
        writes = self.pipeline.store.writes
        response = await admin_api.handle(self.pipeline, req, AsgiBody(receive, scope))  # logs the call
        self.pipeline.store.sync_since(writes)  # e.g. a moved clock, before it is acknowledged
        await send({"type": "http.response.start", "status": response.status,
                    "headers": [(k.encode(), v.encode()) for k, v in response.headers]})
        await send({"type": "http.response.body", "body": response.body})


def _virtual_hosted_s3(raw: list[tuple[bytes, bytes]]) -> bool:
    """Whether the request's Host names an S3 bucket (`<bucket>.s3.<anything>`)."""
    from skyhold.wire.route import s3_bucket_from_host

    host = next((v for k, v in raw if k.lower() == b"host"), b"")
    return s3_bucket_from_host(host.decode("latin-1")) is not None


def _joined_headers(raw: list[tuple[bytes, bytes]]) -> dict[str, str]:
    """Names lower-cased, repeated headers joined with "," as HTTP allows."""
    headers: dict[str, str] = {}
    for name, value in raw:
        key = name.decode("latin-1").lower()
        text = value.decode("latin-1")
        headers[key] = f"{headers[key]},{text}" if key in headers else text
    return headers


async def _send_simple(send: Send, status: int, payload: dict[str, Any], head: bool = False) -> None:
    body = json.dumps(payload).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())],
        }
    )
    await send({"type": "http.response.body", "body": b"" if head else body})
