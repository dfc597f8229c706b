"""The bucket and key a raw S3 request names, for the requests S3 answers outside its
API model (CORS preflights, browser form uploads): virtual-hosted
(`<bucket>.s3.<host>/<key>`) or path-style (`/<bucket>/<key>`)."""

from __future__ import annotations

from urllib.parse import unquote

from skyhold.wire.http import HttpRequest
from skyhold.wire.route import s3_bucket_from_host


def target(req: HttpRequest) -> tuple[str | None, str]:
    """(bucket or None, key or "") the request's host and path name."""
    path = req.path or "/"
    bucket = s3_bucket_from_host(req.headers.get("host", ""))
    if bucket is None:
        bucket, _, path = path.lstrip("/").partition("/")
        return (unquote(bucket) or None), unquote(path)
    return bucket, unquote(path[1:])


def is_virtual_hosted(req: HttpRequest) -> bool:
    return s3_bucket_from_host(req.headers.get("host", "")) is not None
