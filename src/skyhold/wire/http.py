"""Plain HTTP request/response values passed between server, auth and wire layers."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field


@dataclass
class HttpRequest:
    method: str
    # Raw path exactly as received (still percent-encoded), without the query.
    path: str
    # Raw query string (still percent-encoded), without the leading "?".
    query: str
    # Header names lower-cased; repeated headers joined with "," as HTTP allows.
    headers: dict[str, str]
    # The body when it has been read; None while it is still a stream (large
    # S3 uploads are streamed straight to the blob store).
    body: bytes | None = b""
    source_ip: str = "127.0.0.1"
    scheme: str = "http"
    # Over HTTPS: {"tlsVersion", "cipherSuite"} of the connection (CloudTrail's tlsDetails).
    tls: dict[str, str] | None = None


@dataclass
class HttpResponse:
    status: int = 200
    headers: list[tuple[str, str]] = field(default_factory=list)
    # bytes, or an async iterator of chunks for streamed bodies (S3 GetObject).
    body: bytes | AsyncIterator[bytes] = b""
