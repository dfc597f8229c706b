"""Object bodies: small ones sealed inline in their record, larger ones in blobs;
either way whole and ranged reads give back the bytes written."""

from __future__ import annotations

import asyncio
import base64
import os

import pytest

from skyhold.services.s3 import bodies
from tests.unit.s3.conftest import S3Harness


async def _read(body) -> bytes:
    """A GET's body: bytes when it was small enough to be held inline, else a stream."""
    if isinstance(body, bytes):
        return body
    return b"".join([chunk async for chunk in body])


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
    body = h.s3("GetObject", Bucket="bod", Key="k")["Body"]
    assert isinstance(body, bytes) == inline  # a small body is answered in one piece
    assert asyncio.run(_read(body)) == data
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


async def _chunks(data: bytes, size: int, fail_after: int | None = None):
    for at in range(0, len(data), size):
        if fail_after is not None and at >= fail_after:
            raise ValueError("the client went away")
        yield data[at:at + size]
        await asyncio.sleep(0)  # a real body arrives across loop turns


def _put_streamed(h: S3Harness, key: str, stream, **params):
    call = h.call("s3", "PutObject", h.admin)
    call.body_stream = stream
    params = {"Bucket": "bod", "Key": key, **params}
    h.pipeline.authorizer.check(call, params)
    return asyncio.run(h.pipeline.handlers["s3"]["PutObject"](call, params))


@pytest.mark.parametrize("chunk", [1000, 65536, 300_001], ids=["small-reads", "frame-reads", "odd-large-reads"])
def test_a_large_streamed_body_is_hashed_and_sealed_in_order(h: S3Harness, chunk: int) -> None:
    """Past one batch, hashing and sealing run in worker threads while the next batch
    arrives: the ETag, the checksum and every byte read back must still be in order."""
    import hashlib
    from skyhold.auth import checksums

    h.bucket("bod")
    data = os.urandom(3 * bodies.BATCH + 54321)
    out = _put_streamed(h, "big", _chunks(data, chunk))  # no checksum sent: S3's default CRC64NVME
    assert out["ETag"] == f'"{hashlib.md5(data).hexdigest()}"'
    crc = checksums.new("crc64nvme")
    crc.update(data)
    assert out["ChecksumCRC64NVME"] == crc.b64digest()
    assert asyncio.run(_read(h.s3("GetObject", Bucket="bod", Key="big")["Body"])) == data
    lo, hi = bodies.BATCH - 17, 2 * bodies.BATCH + 99
    got = h.s3("GetObject", Bucket="bod", Key="big", Range=f"bytes={lo}-{hi}")
    assert asyncio.run(_read(got["Body"])) == data[lo:hi + 1]


def test_a_body_that_breaks_off_mid_way_leaves_no_blob(h: S3Harness) -> None:
    h.bucket("bod")
    data = os.urandom(4 * bodies.BATCH)
    with pytest.raises(ValueError):
        _put_streamed(h, "big", _chunks(data, 65536, fail_after=2 * bodies.BATCH + 65536))
    assert h.blob_count() == 0
    assert h.store.get("s3.object", "bod/big") is None
