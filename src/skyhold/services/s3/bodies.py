"""Object bodies in and out of the blob store, encrypted, in bounded memory.

An object's body is a list of segments `{"b": blob id, "n": plaintext size,
"k": wrapped data key}`; reads decrypt only the frames a range touches. A body of
at most INLINE_MAX bytes keeps its sealed frame in the segment itself (`"i"`,
base64) instead of a blob: the record's commit is then its only write to disk,
where a blob costs a file, its fsync and its directory's fsync.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import io
from collections.abc import AsyncIterator, Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, BinaryIO

from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from skyhold.auth import checksums
from skyhold.auth.payload import PayloadVerifier
from skyhold.services.s3 import crypto, sse_c

if TYPE_CHECKING:
    from skyhold.pipeline import Call
    from skyhold.store.blobs import BlobWriter

INLINE_MAX = crypto.FRAME  # one sealed frame


@dataclass
class Written:
    segment: dict[str, Any]
    size: int
    md5: bytes
    # algorithm → base64 value (verified against the request's, or computed)
    checksum: dict[str, str] = field(default_factory=dict)


async def write(
    call: Call,
    chunks: AsyncIterator[bytes] | Iterable[bytes],
    sse: dict[str, str],
    context: dict[str, str],
    *,
    checksum_algorithm: str | None = None,
    declared: dict[str, str] | None = None,
    customer: sse_c.CustomerKey | None = None,
) -> Written:
    """Encrypt `chunks` into a new segment (a blob once it outgrows INLINE_MAX).
    `declared`: x-amz-checksum-* values the request carries (verified here; BadDigest
    leaves nothing behind). `customer`: an SSE-C key, which then seals the data key."""
    key = crypto.new_data_key(call, sse, context, customer and customer.key)
    sealer = crypto.FrameSealer(key.plaintext)
    md5 = hashlib.md5()
    verifier = PayloadVerifier(header_checksums=declared) if declared else None
    running = checksums.new(checksum_algorithm) if checksum_algorithm and not (
        declared and checksum_algorithm in declared) else None
    size = 0
    held: list[bytes] = []  # sealed frames while the body may still be inlined
    writer: BlobWriter | None = None

    def put(sealed: bytes) -> None:
        nonlocal writer
        if writer is None and size <= INLINE_MAX:
            held.append(sealed)
            return
        if writer is None:
            writer = call.pipeline.blobs.writer()
            for frame in held:
                writer.write(frame)
            held.clear()
        writer.write(sealed)

    def take(data: bytes) -> None:
        nonlocal size
        size += len(data)
        md5.update(data)
        if verifier is not None:
            verifier.feed(data)
        if running is not None:
            running.update(data)
        for sealed in sealer.feed(data):
            put(sealed)

    try:
        if hasattr(chunks, "__aiter__"):
            async for data in chunks:  # type: ignore[union-attr]
                take(data)
        else:
            for data in chunks:  # type: ignore[union-attr]
                take(data)
        for sealed in sealer.close():
            put(sealed)
        if verifier is not None:
            verifier.finish()
        segment: dict[str, Any] = {"n": size, "k": key.wrapped}
        if writer is None:
            segment["i"] = base64.b64encode(b"".join(held)).decode()
        else:
            # fsync off the event loop: other requests go on while this one waits for the disk
            segment["b"] = await asyncio.to_thread(writer.commit)
    finally:
        if writer is not None:
            writer.abort()  # no-op once committed
    found = dict(declared or {})
    if running is not None and checksum_algorithm:
        found[checksum_algorithm] = running.b64digest()
    return Written(segment, size, md5.digest(), found)


def read(call: Call, segments: list[dict[str, Any]], context: dict[str, str],
         start: int = 0, end: int | None = None, customer: sse_c.CustomerKey | None = None) -> AsyncIterator[bytes]:
    """Plaintext bytes start..end (inclusive) of a body. Blob files are opened now, so
    a concurrent overwrite (which deletes the old blobs) cannot cut the stream short."""
    total = sum(s["n"] for s in segments)
    end = total - 1 if end is None else end
    plan: list[tuple[BinaryIO, AESGCM, int, int]] = []
    offset = 0
    try:
        for seg in segments:
            lo, hi = offset, offset + seg["n"] - 1
            offset += seg["n"]
            if seg["n"] == 0 or hi < start or lo > end:
                continue
            aead = crypto.opener(call, seg["k"], context, customer and customer.key)
            plan.append((_open(call, seg), aead, max(start, lo) - lo, min(end, hi) - lo))
    except BaseException:  # a refused key (KMS, SSE-C): close what was opened
        for fh, *_ in plan:
            fh.close()
        raise
    return _stream(plan)


def _open(call: Call, seg: dict[str, Any]) -> BinaryIO:
    if "i" in seg:
        return io.BytesIO(base64.b64decode(seg["i"]))
    return call.pipeline.blobs.open(seg["b"])


async def _stream(plan: list[tuple[BinaryIO, AESGCM, int, int]]) -> AsyncIterator[bytes]:
    try:
        for fh, aead, first, last in plan:
            index = first // crypto.FRAME
            fh.seek(index * crypto.SEALED_FRAME)
            while index * crypto.FRAME <= last:
                plain = crypto.open_frame(aead, index, fh.read(crypto.SEALED_FRAME))
                base = index * crypto.FRAME
                lo = max(first - base, 0)
                hi = min(last - base + 1, len(plain))
                yield plain[lo:hi] if (lo, hi) != (0, len(plain)) else plain
                index += 1
    finally:
        for fh, *_ in plan:
            fh.close()


def delete(call: Call, segments: Iterable[dict[str, Any]]) -> None:
    for seg in segments:
        if "b" in seg:
            call.pipeline.blobs.delete(seg["b"])
