"""Object bodies: small ones sealed inline in their record, larger ones in blobs;
either way whole and ranged reads give back the bytes written."""

from __future__ import annotations

import asyncio
import base64
import os

import pytest

from skyhold.services.s3 import bodies
from tests.unit.s3.conftest import S3Harness


async def _read(stream) -> bytes:
    return b"".join([chunk async for chunk in stream])


@pytest.mark.parametrize("size, inline", [
    (0, True), (1, True), (bodies.INLINE_MAX, True), (bodies.INLINE_MAX + 1, False), (3 * bodies.INLINE_MAX + 7, False),
])
def test_bodies_round_trip_inline_or_in_a_blob(h: S3Harness, size: int, inline: bool) -> None:
    h.bucket("bod")
    data = os.urandom(size)
    h.s3("PutObject", Bucket="bod", Key="k", Body=data)
    segment = h.store.get("s3.object", "bod/k").value["segs"][0]
    assert ("i" in segment, "b" in segment) == (inline, not inline)
    assert h.blob_count() == (0 if inline else 1)
    if inline:  # sealed: the plaintext plus an AES-GCM tag, and not the plaintext
        sealed = base64.b64decode(segment["i"])
        # (a byte or two of plaintext may turn up in random ciphertext by chance)
        assert len(sealed) == (size + 16 if size else 0) and (size < 8 or data not in sealed)
    assert asyncio.run(_read(h.s3("GetObject", Bucket="bod", Key="k")["Body"])) == data
    if size > 10:
        got = h.s3("GetObject", Bucket="bod", Key="k", Range=f"bytes=5-{size - 3}")
        assert asyncio.run(_read(got["Body"])) == data[5:size - 2]


def test_overwriting_deletes_the_old_blob_and_never_an_inline_body(h: S3Harness) -> None:
    h.bucket("bod")
    h.s3("PutObject", Bucket="bod", Key="k", Body=os.urandom(bodies.INLINE_MAX + 1))
    assert h.blob_count() == 1
    h.s3("PutObject", Bucket="bod", Key="k", Body=b"small now")
    assert h.blob_count() == 0
    assert asyncio.run(_read(h.s3("GetObject", Bucket="bod", Key="k")["Body"])) == b"small now"


def test_reads_after_a_write_see_the_write(h: S3Harness) -> None:
    """GET's object record and opened data key are memoized; a write shows at once."""
    h.bucket("bod")
    h.s3("PutObject", Bucket="bod", Key="k", Body=b"first")
    for _ in range(2):  # the second read is served from the memo
        assert asyncio.run(_read(h.s3("GetObject", Bucket="bod", Key="k")["Body"])) == b"first"
    h.s3("PutObject", Bucket="bod", Key="k", Body=b"second")
    assert asyncio.run(_read(h.s3("GetObject", Bucket="bod", Key="k")["Body"])) == b"second"
    h.s3("DeleteObject", Bucket="bod", Key="k")
    assert h.s3_fails("GetObject", Bucket="bod", Key="k").code == "NoSuchKey"
