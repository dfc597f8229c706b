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
import binascii
import hashlib
import io
from collections.abc import AsyncIterator, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, BinaryIO

from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from skyhold.auth import checksums
from skyhold.auth.payload import PayloadVerifier
from skyhold.services.s3 import crypto, sse_c
from skyhold.store.blobs import DirectReader

if TYPE_CHECKING:
    from skyhold.pipeline import Call
    from skyhold.store.blobs import BlobWriter

INLINE_MAX = crypto.FRAME  # one sealed frame

Reader = BinaryIO | DirectReader  # what a body is read from


@dataclass
class Written:
    segment: dict[str, Any]
    size: int
    md5: bytes
    # algorithm → base64 value (verified against the request's, or computed)
    checksum: dict[str, str] = field(default_factory=dict)
    etag: bytes = b""  # the 16 bytes the ETag shows (crypto.etag_digest): the MD5 only for SSE-S3


async def write(
    call: Call,
    chunks: AsyncIterator[bytes] | Iterable[bytes],
    sse: dict[str, str],
    context: dict[str, str],
    *,
    checksum_algorithms: Iterable[str] = (),
    declared: dict[str, str] | None = None,
    customer: sse_c.CustomerKey | None = None,
) -> Written:
    """Encrypt `chunks` into a new segment (a blob once it outgrows INLINE_MAX).
    `checksum_algorithms`: the checksums to compute (those `declared` are not computed
    twice). `declared`: x-amz-checksum-* values the request carries (verified here;
    BadDigest leaves nothing behind). `customer`: an SSE-C key, which then seals the data key."""
    key = crypto.new_data_key(call, sse, context, customer.key if customer is not None else None)
    sink = _Sink(call, key.plaintext, checksum_algorithms, declared)
    try:
        if hasattr(chunks, "__aiter__"):
            await _pipelined(sink, chunks)  # type: ignore[arg-type]
        else:
            for data in chunks:  # type: ignore[union-attr]
                sink.take([data])
        sink.close()
        segment: dict[str, Any] = {"n": sink.size, "k": key.wrapped}
        if sink.writer is None:
            segment["i"] = base64.b64encode(b"".join(sink.held)).decode()
        else:
            # fsync off the event loop: other requests go on while this one waits for the disk
            segment["b"] = await asyncio.to_thread(sink.writer.commit)
    finally:
        if sink.writer is not None:
            sink.writer.abort()  # no-op once committed
    md5 = sink.md5.digest()
    return Written(segment, sink.size, md5, sink.checksums(), crypto.etag_digest(sse, md5, customer is not None))


# A large body is handed to worker threads a batch at a time: hashing it (MD5 for the
# ETag, checksums) and sealing-and-writing it run on two other cores' worth of threads
# (hashlib, AES-GCM and file writes release the GIL) while the event loop receives the
# next batch. A batch is big enough that the hand-over cost vanishes, and at most two
# are held at once (memory stays bounded). Small bodies never leave the loop.
BATCH = 1 << 20


async def _pipelined(sink: _Sink, chunks: AsyncIterator[bytes]) -> None:
    batch: list[bytes] = []
    batched = 0
    running: list[asyncio.Future[None]] = []
    loop = asyncio.get_running_loop()
    try:
        async for data in chunks:
            if not running and sink.size + batched + len(data) <= BATCH:
                sink.take([data])  # still small: on the loop, no thread hop
                continue
            batch.append(data)
            batched += len(data)
            if batched >= BATCH:
                for job in running:  # in order: one batch in the workers at a time
                    await job
                running = [loop.run_in_executor(None, sink.digest, batch),
                           loop.run_in_executor(None, sink.seal, batch)]
                batch, batched = [], 0
        for job in running:
            await job
        running = []
        if batch:
            sink.take(batch)
    finally:
        if running:  # the body failed mid-way: the workers finish before the blob is dropped
            await asyncio.wait(running)
            for job in running:
                if not job.cancelled():
                    job.exception()  # retrieved: the failure that matters is already raised


class _Sink:
    """Where a body's bytes go: hashes (`digest`) and sealed frames (`seal`), each fed
    in order by one thread at a time, so the two may run side by side."""

    def __init__(self, call: Call, data_key: bytes, checksum_algorithms: Iterable[str],
                 declared: dict[str, str] | None) -> None:
        self._call = call
        self._sealer = crypto.FrameSealer(data_key)
        self.md5 = hashlib.md5()
        self._declared = declared
        self._verifier = PayloadVerifier(header_checksums=declared) if declared else None
        self._running = [(alg, checksums.new(alg)) for alg in dict.fromkeys(checksum_algorithms)
                         if alg not in (declared or ())]
        self.size = 0  # bytes hashed so far
        self._sealed_size = 0
        self.held: list[bytes] = []  # sealed frames while the body may still be inlined
        self.writer: BlobWriter | None = None

    def take(self, batch: list[bytes]) -> None:
        """Both, one after the other, on the calling thread."""
        self.digest(batch)
        self.seal(batch)

    def digest(self, batch: list[bytes]) -> None:
        for data in batch:
            self.size += len(data)
            self.md5.update(data)
            if self._verifier is not None:
                self._verifier.feed(data)
            for _, running in self._running:
                running.update(data)

    def seal(self, batch: list[bytes]) -> None:
        for data in batch:
            self._sealed_size += len(data)
            for sealed in self._sealer.feed(data):
                self._put(sealed)

    def close(self) -> None:
        for sealed in self._sealer.close():
            self._put(sealed)
        if self._verifier is not None:
            self._verifier.finish()

    def checksums(self) -> dict[str, str]:
        found = dict(self._declared or {})
        found.update((alg, running.b64digest()) for alg, running in self._running)
        return found

    def _put(self, sealed: bytes) -> None:
        if self.writer is None and self._sealed_size <= INLINE_MAX:
            self.held.append(sealed)
            return
        if self.writer is None:
            self.writer = self._call.pipeline.blobs.writer()
            for frame in self.held:
                self.writer.write(frame)
            self.held.clear()
        self.writer.write(sealed)


def read(call: Call, segments: list[dict[str, Any]], context: dict[str, str],
         start: int = 0, end: int | None = None, customer: sse_c.CustomerKey | None = None) -> AsyncIterator[bytes]:
    """Plaintext bytes start..end (inclusive) of a body. Blob files are opened now, so
    a concurrent overwrite (which deletes the old blobs) cannot cut the stream short."""
    total = sum(s["n"] for s in segments)
    end = total - 1 if end is None else end
    plan: list[tuple[Reader, AESGCM, int, int]] = []
    offset = 0
    try:
        for seg in segments:
            lo, hi = offset, offset + seg["n"] - 1
            offset += seg["n"]
            if seg["n"] == 0 or hi < start or lo > end:
                continue
            aead = crypto.opener(call, seg["k"], context, customer.key if customer is not None else None)
            plan.append((_open(call, seg), aead, max(start, lo) - lo, min(end, hi) - lo))
    except BaseException:  # a refused key (KMS, SSE-C): close what was opened
        for fh, *_ in plan:
            fh.close()
        raise
    return _stream(plan)


def read_inline(call: Call, segments: list[dict[str, Any]], context: dict[str, str],
                start: int = 0, end: int | None = None, customer: sse_c.CustomerKey | None = None) -> bytes | None:
    """Bytes start..end (inclusive) when every segment they touch is held inline in the
    record (None otherwise): a small GET answers with bytes, in one write, not a stream."""
    end = sum(s["n"] for s in segments) - 1 if end is None else end
    parts: list[bytes] = []
    offset = 0
    for seg in segments:
        lo, hi = offset, offset + seg["n"] - 1
        offset += seg["n"]
        if seg["n"] == 0 or hi < start or lo > end:
            continue
        if "i" not in seg:
            return None
        aead = crypto.opener(call, seg["k"], context, customer.key if customer is not None else None)
        plain = crypto.open_frame(aead, 0, _inline_frame(seg["i"]))  # inline: one frame
        parts.append(plain[max(start, lo) - lo:min(end, hi) - lo + 1])
    return parts[0] if len(parts) == 1 else b"".join(parts)


# Inline frames decoded from their base64 text, by that text: the same hot objects are
# read over and over (their records are memoized: records.current_object), and decoding
# a frame costs more than decrypting it. Sealed bytes only, never plaintext; bounded.
_FRAMES_MAX_BYTES = 8 << 20
_frames: dict[str, bytes] = {}
_frames_bytes = 0


def _inline_frame(text: str) -> bytes:
    global _frames_bytes
    frame = _frames.get(text)
    if frame is None:
        frame = binascii.a2b_base64(text)
        if _frames_bytes + len(frame) > _FRAMES_MAX_BYTES:
            _frames.clear()
            _frames_bytes = 0
        _frames[text] = frame
        _frames_bytes += len(frame)
    return frame


def _open(call: Call, seg: dict[str, Any]) -> Reader:
    if "i" in seg:
        return io.BytesIO(_inline_frame(seg["i"]))
    return call.pipeline.blobs.open(seg["b"])


# Frames read per system call: a large GET reads a mebibyte at a time, and a blob read
# with direct I/O (from the disk itself) reads its next window in a worker thread
# while the loop decrypts and sends the current one.
READ_FRAMES = 16


async def _stream(plan: list[tuple[Reader, AESGCM, int, int]]) -> AsyncIterator[bytes]:
    loop = asyncio.get_running_loop()
    ahead: asyncio.Future[bytes] | None = None
    try:
        for fh, aead, first, last in plan:
            index = first // crypto.FRAME
            final = last // crypto.FRAME
            fh.seek(index * crypto.SEALED_FRAME)
            threaded = isinstance(fh, DirectReader)
            ahead = None
            while index <= final:
                count = min(READ_FRAMES, final - index + 1)
                size = count * crypto.SEALED_FRAME
                if ahead is not None:
                    data = await ahead
                elif threaded:
                    data = await loop.run_in_executor(None, fh.read, size)
                else:
                    data = fh.read(size)
                following = min(READ_FRAMES, final - index - count + 1)
                ahead = loop.run_in_executor(None, fh.read, following * crypto.SEALED_FRAME) if (
                    threaded and following > 0) else None
                if not data:  # the blob is shorter than its record says
                    raise ValueError("blob truncated")
                window = memoryview(data)
                for at in range(0, len(window), crypto.SEALED_FRAME):
                    plain = crypto.open_frame(aead, index, window[at:at + crypto.SEALED_FRAME])
                    base = index * crypto.FRAME
                    lo = max(first - base, 0)
                    hi = min(last - base + 1, len(plain))
                    yield plain[lo:hi] if (lo, hi) != (0, len(plain)) else plain
                    index += 1
    finally:
        if ahead is not None:  # a read still running must end before its file closes
            await asyncio.wait([ahead])
        for fh, *_ in plan:
            fh.close()


def delete(call: Call, segments: Iterable[dict[str, Any]]) -> None:
    """Delete the blobs of segments whose records are gone (committed). Those commits
    reach the disk first: the server's commits wait for no fsync (store/sqlite.py), and
    a power cut after the unlink would otherwise bring back a record naming no blob.
    A crash before the unlink leaves an orphan, which the next start sweeps."""
    blob_ids = [seg["b"] for seg in segments if "b" in seg]
    pending = call.extras.get(_PENDING)
    if pending is not None:  # inside transaction(call): once it has committed
        pending += blob_ids
        return
    if blob_ids:
        call.store.sync()
    for blob_id in blob_ids:
        call.pipeline.blobs.delete(blob_id)


_PENDING = "s3.pending_blob_deletes"


@contextmanager
def transaction(call: Call) -> Iterator[None]:
    """One store transaction around several writes (versions.py's each delete blobs
    after their own commit): the blobs they free are deleted once it has committed,
    and not at all when it rolls back (the records naming them are back)."""
    if _PENDING in call.extras:
        yield
        return
    pending: list[str] = []
    call.extras[_PENDING] = pending
    try:
        with call.store.transaction():
            yield
    finally:
        del call.extras[_PENDING]
    delete(call, [{"b": blob_id} for blob_id in pending])
