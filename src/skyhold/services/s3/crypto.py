"""Encryption at rest: every object body is encrypted before it reaches the disk.

Each body segment (a PUT's body, a multipart part) has its own 256-bit data key.
The body is cut into 64 KiB frames, each sealed with AES-GCM under that key
(nonce = frame index, unique per key), so a byte range is served by opening only
the frames it touches. The data key is stored wrapped:
- SSE-S3 (AES256): sealed with the data dir's root key (skyhold.crypto.root).
- SSE-KMS (aws:kms) and DSSE-KMS (aws:kms:dsse): a KMS data key, generated and
  opened with the caller's KMS permissions via S3 (skyhold.services.kms.on_behalf);
  with an S3 Bucket Key (sse["bk"], SSE-KMS only), derived from the bucket's key
  instead (bucket_keys.py). (DSSE objects written before DSSE used KMS hold an
  "s3:" key and still open with the root key: `unwrap` goes by the prefix.)
- SSE-C: sealed with the key the caller sent (sse_c.py); Skyhold keeps nothing that
  opens it.
"""

from __future__ import annotations

import base64
import os
import secrets
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from skyhold.crypto import root
from skyhold.errors import AwsError
from skyhold.services.kms import on_behalf
from skyhold.services.s3 import bucket_keys, errors

if TYPE_CHECKING:
    from skyhold.pipeline import Call

FRAME = 64 * 1024
TAG = 16
SEALED_FRAME = FRAME + TAG
_WRAP_AAD = b"skyhold s3 data key"
_NONCE = 12


KMS_ALGORITHMS = ("aws:kms", "aws:kms:dsse")


def uses_kms(sse: dict[str, Any]) -> bool:
    """Whether an object's encryption goes through KMS: SSE-KMS and DSSE-KMS both use
    the KMS key on every write and read (kms:GenerateDataKey / kms:Decrypt)."""
    return sse.get("alg") in KMS_ALGORITHMS


@dataclass(frozen=True, slots=True)
class DataKey:
    plaintext: bytes
    wrapped: str  # what the object record keeps: "s3:<b64>", "kms:<b64>", "c:<b64>" or "bk:…"


def new_data_key(call: Call, sse: dict[str, Any], context: dict[str, str],
                 customer: bytes | None = None) -> DataKey:
    if customer is not None:
        plaintext = AESGCM.generate_key(256)
        nonce = secrets.token_bytes(_NONCE)
        sealed = nonce + AESGCM(customer).encrypt(nonce, plaintext, _WRAP_AAD)
        return DataKey(plaintext, "c:" + base64.b64encode(sealed).decode())
    if uses_kms(sse):
        # The caller needs kms:GenerateDataKey on the key, via S3, as on AWS.
        key_ref = sse.get("kms") or on_behalf.managed_key(call, "s3")
        try:
            if sse.get("bk"):
                plaintext, text, key_arn = bucket_keys.new_data_key(
                    call, bucket_keys.bucket_of_context(context), key_ref, bucket_keys.extra_of(context))
                sse["kms"] = key_arn
                return DataKey(plaintext, text)
            plaintext, blob, key_arn = on_behalf.generate_data_key(call, key_ref, context, "s3")
        except AwsError as err:
            raise _from_kms(err) from None
        sse["kms"] = key_arn
        return DataKey(plaintext, "kms:" + base64.b64encode(blob).decode())
    plaintext = os.urandom(32)  # a fresh AES-256 key for every object (AESGCM.generate_key, directly)
    sealed = root.seal(call.pipeline.data_dir, plaintext, _WRAP_AAD)
    return DataKey(plaintext, "s3:" + base64.b64encode(sealed).decode())


def etag_digest(sse: dict[str, Any], md5: bytes, customer: bool) -> bytes:
    """The 16 bytes a body's ETag (an object's, a part's) shows. S3's ETag is the MD5 of
    the data only under SSE-S3: under SSE-KMS, DSSE-KMS or SSE-C it is not (S3 does not
    say what it is, and the same bytes written twice get two ETags), so code that checks
    an ETag against an MD5 must meet that here too."""
    if customer or uses_kms(sse):
        return secrets.token_bytes(16)
    return md5


_SSE_HEADER = "x-amz-server-side-encryption"


def refuse_sse_header(call: Call) -> None:
    """An object's encryption is chosen when it is created (PUT, copy, multipart create):
    S3 refuses x-amz-server-side-encryption on a read (GET, HEAD) or on a part or the
    completion of an upload, with the header named and its value echoed."""
    value = call.request.headers.get(_SSE_HEADER)
    if value is not None:
        raise errors.invalid_argument(f"{_SSE_HEADER} header is not supported for this operation.",
                                      _SSE_HEADER, value)


def _from_kms(err: AwsError) -> AwsError:
    """S3 passes KMS's own failure on with its code prefixed "KMS." (KMS.NotFoundException,
    KMS.DisabledException, ...); a denial stays S3's AccessDenied."""
    if err.status == 403 or err.code == "AccessDenied" or err.code.startswith("KMS."):
        return err
    return AwsError(f"KMS.{err.code}", err.message, err.status, sender_fault=err.sender_fault,
                    explanation=err.explanation)


def unwrap(call: Call, wrapped: str, context: dict[str, str], customer: bytes | None = None) -> bytes:
    """The data key in the clear. SSE-C keys need the customer's key: a missing or
    wrong one is AccessDenied, as S3 answers it."""
    kind, _, text = wrapped.partition(":")
    if kind == "bk":
        try:
            return bucket_keys.open_data_key(call, wrapped)
        except AwsError as err:
            raise _from_kms(err) from None
    raw = base64.b64decode(text)
    if kind == "c":
        if customer is None:
            raise errors.sse_c_wrong_key()
        try:
            return AESGCM(customer).decrypt(raw[:_NONCE], raw[_NONCE:], _WRAP_AAD)
        except InvalidTag:
            raise errors.sse_c_wrong_key() from None
    if kind == "kms":
        try:
            plaintext, _ = on_behalf.decrypt(call, raw, context, "s3")
        except AwsError as err:
            raise _from_kms(err) from None
        return plaintext
    return root.unseal(call.pipeline.data_dir, raw, _WRAP_AAD)


# SSE-S3 data keys already opened, by data dir and sealed text: a GET of a hot object
# would otherwise unseal its key with the root key every time. Holding them exposes
# nothing the process does not hold already (the root key opens them all); KMS keys
# are never kept here (every use is a KMS decision; bucket keys keep their own
# per-requester window: bucket_keys.py) nor SSE-C ones (Skyhold keeps nothing that
# opens them).
_opened: dict[tuple[str, str], AESGCM] = {}
_MAX_OPENED = 4096


def opener(call: Call, wrapped: str, context: dict[str, str], customer: bytes | None = None) -> AESGCM:
    """The AEAD that opens a segment's frames (see `unwrap` for the errors)."""
    if not wrapped.startswith("s3:"):
        return AESGCM(unwrap(call, wrapped, context, customer))
    slot = (str(call.pipeline.data_dir), wrapped)
    aead = _opened.get(slot)
    if aead is None:
        aead = AESGCM(unwrap(call, wrapped, context, customer))
        if len(_opened) >= _MAX_OPENED:
            _opened.clear()
        _opened[slot] = aead
    return aead


def _nonce(index: int) -> bytes:
    return index.to_bytes(12, "big")


class FrameSealer:
    """Feed plaintext, get sealed frames; `close()` seals the last partial frame."""

    __slots__ = ("_aead", "_buf", "_index")

    def __init__(self, key: bytes) -> None:
        self._aead = AESGCM(key)
        self._buf = bytearray()
        self._index = 0

    def feed(self, data: bytes) -> list[bytes]:
        out: list[bytes] = []
        buf = self._buf
        if not buf and len(data) == FRAME:  # the common case with 64 KiB reads: no copy
            out.append(self._seal(data))
            return out
        buf += data
        if len(buf) < FRAME:
            return out
        view = memoryview(buf)
        pos = 0
        while len(buf) - pos >= FRAME:
            out.append(self._seal(bytes(view[pos:pos + FRAME])))
            pos += FRAME
        view.release()
        del buf[:pos]
        return out

    def close(self) -> list[bytes]:
        if not self._buf:
            return []
        last = self._seal(bytes(self._buf))
        self._buf.clear()
        return [last]

    def _seal(self, plain: bytes) -> bytes:
        sealed = self._aead.encrypt(_nonce(self._index), plain, None)
        self._index += 1
        return sealed


def open_frame(aead: AESGCM, index: int, sealed: bytes | memoryview) -> bytes:
    return aead.decrypt(_nonce(index), sealed, None)
