"""An instance's metadata service, behaving as IMDS does (v1 and v2).

Each running instance gets a listener on 127.0.0.1 (its port is in the instance
record); `skyhold instance exec` points the SDKs there with
AWS_EC2_METADATA_SERVICE_ENDPOINT. Every request reads the instance record afresh, so
detaching a profile or changing metadata options applies at once.

Rules (AWS's documentation): PUT /latest/api/token with a TTL of 1–21600 s returns a
token (400 otherwise; 403 when the PUT carries X-Forwarded-For); with
HttpTokens=required a GET without a valid token is 401; an unknown or expired token
is 401; HttpEndpoint=disabled is 403; unknown paths are 404; directories list their
entries one per line, sub-directories ending in "/". The token response leaves with
the instance's hop limit as its IP TTL.
"""

from __future__ import annotations

import asyncio
import json
import logging
import secrets
import socket
import time
from typing import TYPE_CHECKING, Any

from skyhold.imds import tree

if TYPE_CHECKING:
    from skyhold.pipeline import Pipeline

log = logging.getLogger("skyhold.imds")
MAX_TTL = 21600
READ_TIMEOUT = 10  # seconds to receive a whole request (head and body)


class MetadataService:
    def __init__(self, pipeline: Pipeline, instance_id: str) -> None:
        self.pipeline = pipeline
        self.instance_id = instance_id
        self.tokens: dict[str, float] = {}  # token → monotonic expiry
        self.server: asyncio.base_events.Server | None = None

    async def start(self, port: int = 0) -> int:
        self.server = await asyncio.start_server(self._serve, "127.0.0.1", port)
        return self.server.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        if self.server is not None:
            self.server.close()
            self.server = None

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            # One deadline for the whole request, body included: a client that
            # announces a body and never sends it must not hold the connection.
            request = await asyncio.wait_for(_read_request(reader), timeout=READ_TIMEOUT)
            if request is None:
                status, extra, body = _error(400)
            else:
                method, target, headers = request
                status, extra, body = self.respond(method, target.split("?", 1)[0], headers)
            if extra.pop("_ttl", None) is not None:
                hop = self._instance().get("MetadataOptions", {}).get("HttpPutResponseHopLimit", 1)
                sock = writer.get_extra_info("socket")
                if sock is not None:
                    sock.setsockopt(socket.IPPROTO_IP, socket.IP_TTL, int(hop))
            reason = _REASONS.get(status, "OK")
            data = body.encode()
            out = [f"HTTP/1.1 {status} {reason}", f"Content-Length: {len(data)}", "Connection: close",
                   "Server: EC2ws", *(f"{k}: {v}" for k, v in extra.items())]
            writer.write(("\r\n".join(out) + "\r\n\r\n").encode() + data)
            await writer.drain()
        except (asyncio.IncompleteReadError, asyncio.TimeoutError, asyncio.LimitOverrunError, ConnectionError):
            pass
        except Exception:
            log.exception("metadata service of %s failed", self.instance_id)
        finally:
            writer.close()

    def _instance(self) -> dict[str, Any]:
        from skyhold.services.ec2.records import INSTANCE

        rec = self.pipeline.store.get(INSTANCE, self.instance_id)
        return rec.value if rec else {}

    def respond(self, method: str, path: str, headers: dict[str, str]) -> tuple[int, dict[str, str], str]:
        instance = self._instance()
        options = instance.get("MetadataOptions", {})
        if not instance or instance.get("State") != "running":
            return _error(404)
        if options.get("HttpEndpoint") == "disabled":
            return _error(403)
        text = {"Content-Type": "text/plain"}
        if path == "/latest/api/token":
            if method != "PUT":
                return _error(405)
            if "x-forwarded-for" in headers:
                return _error(403)
            try:
                ttl = int(headers.get("x-aws-ec2-metadata-token-ttl-seconds", ""))
            except ValueError:
                return _error(400)
            if not 1 <= ttl <= MAX_TTL:
                return _error(400)
            issued = secrets.token_urlsafe(42)
            now = time.monotonic()
            if len(self.tokens) > 10_000:  # forget expired tokens before the table grows without bound
                self.tokens = {t: expiry for t, expiry in self.tokens.items() if expiry > now}
            self.tokens[issued] = now + ttl
            return 200, {**text, "X-aws-ec2-metadata-token-ttl-seconds": str(ttl), "_ttl": "1"}, issued
        if method not in ("GET", "HEAD"):
            return _error(405)
        token = headers.get("x-aws-ec2-metadata-token")
        if token is not None:
            expiry = self.tokens.get(token)
            if expiry is None or expiry < time.monotonic():
                self.tokens.pop(token, None)
                return _error(401)
        elif options.get("HttpTokens") == "required":
            return _error(401)
        found = tree.lookup(self.pipeline, instance, path, with_token=token is not None)
        if found is None:
            return _error(404)
        if isinstance(found, dict):
            return 200, text, json.dumps(found, indent=2)
        return 200, text, found


async def _read_request(reader: asyncio.StreamReader) -> tuple[str, str, dict[str, str]] | None:
    """(method, target, headers) with any body read and discarded; None for a request
    whose Content-Length is not a non-negative decimal number (IMDS answers 400)."""
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    method, target, _ = (lines[0].split(" ") + ["", ""])[:3]
    headers = {k.strip().lower(): v.strip() for k, _, v in (ln.partition(":") for ln in lines[1:] if ln)}
    length = headers.get("content-length")
    if length is not None:
        if not (length.isascii() and length.isdigit()):
            return None
        remaining = int(length)
        while remaining:  # in chunks: IMDS ignores bodies, so none is held in memory
            remaining -= len(await reader.readexactly(min(remaining, 65536)))
    return method, target, headers


_REASONS = {200: "OK", 400: "Bad Request", 401: "Unauthorized", 403: "Forbidden", 404: "Not Found",
            405: "Method Not Allowed"}


def _error(status: int) -> tuple[int, dict[str, str], str]:
    """IMDS's error answer: its status and the small XHTML page it carries."""
    title = f"{status} - {_REASONS[status]}"
    page = ('<?xml version="1.0" encoding="iso-8859-1"?>\n'
            '<!DOCTYPE html PUBLIC "-//W3C//DTD XHTML 1.0 Transitional//EN"\n'
            '\t"http://www.w3.org/TR/xhtml1/DTD/xhtml1-transitional.dtd">\n'
            '<html xmlns="http://www.w3.org/1999/xhtml" xml:lang="en" lang="en">\n'
            f' <head>\n  <title>{title}</title>\n </head>\n <body>\n  <h1>{title}</h1>\n </body>\n</html>\n')
    return status, {"Content-Type": "text/html"}, page
