"""Encryption at rest: every object body is encrypted before it reaches the disk.

Each body segment (a PUT's body, a multipart part) has its own 256-bit data key.
The body is cut into 64 KiB frames, each sealed with AES-GCM under that key
(nonce = frame index, unique per key), so a byte range is served by opening only
the frames it touches. The data key is stored wrapped:
- SSE-S3 (AES256): under Skyhold's S3 master key, a file in the data dir.
- SSE-KMS (aws:kms): by the KMS service (see `KMS_HOOK`).
"""

from __future__ import annotations

import base64
import os
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from skyhold.errors import AwsError

if TYPE_CHECKING:
    from skyhold.pipeline import Call

FRAME = 64 * 1024
TAG = 16
SEALED_FRAME = FRAME + TAG
_MASTER_FILE = "s3-master.key"
_WRAP_AAD = b"skyhold s3 data key"

_masters: dict[Path, AESGCM] = {}
_lock = threading.Lock()


def _master(data_dir: Path) -> AESGCM:
    key = _masters.get(data_dir)
    if key is not None:
        return key
    with _lock:
        path = data_dir / _MASTER_FILE
        if not path.exists():
            tmp = path.with_suffix(".tmp")
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(fd, "wb") as fh:
                fh.write(AESGCM.generate_key(256))
                fh.flush()
                os.fsync(fh.fileno())
            os.replace(tmp, path)
        _masters[data_dir] = AESGCM(path.read_bytes())
        return _masters[data_dir]


@dataclass(frozen=True, slots=True)
class DataKey:
    plaintext: bytes
    wrapped: str  # what the object record keeps: "s3:<b64>" or "kms:<b64>"


# SSE-KMS hook: the KMS service registers two functions here (from its package
# import): generate(call, key_id, encryption_context) -> (plaintext key, ciphertext
# blob, key ARN) and decrypt(call, ciphertext blob, encryption_context) -> plaintext
# key. Each must authorize the caller for kms:GenerateDataKey / kms:Decrypt itself
# (call.pipeline.authorizer.check_access) as S3 does on the caller's behalf.
KMS_HOOK: dict[str, Callable[..., Any]] = {}


def new_data_key(call: Call, sse: dict[str, str], context: dict[str, str]) -> DataKey:
    if sse.get("alg") == "aws:kms":
        generate = KMS_HOOK.get("generate")
        if generate is None:
            raise AwsError("NotImplemented", "SSE-KMS needs Skyhold's KMS service, which is not available",
                           501, sender_fault=False)
        plaintext, blob, key_arn = generate(call, sse.get("kms") or "alias/aws/s3", context)
        sse["kms"] = key_arn
        return DataKey(plaintext, "kms:" + base64.b64encode(blob).decode())
    plaintext = AESGCM.generate_key(256)
    nonce = os.urandom(12)
    sealed = _master(call.pipeline.data_dir).encrypt(nonce, plaintext, _WRAP_AAD)
    return DataKey(plaintext, "s3:" + base64.b64encode(nonce + sealed).decode())


def unwrap(call: Call, wrapped: str, context: dict[str, str]) -> bytes:
    kind, _, text = wrapped.partition(":")
    raw = base64.b64decode(text)
    if kind == "kms":
        decrypt = KMS_HOOK.get("decrypt")
        if decrypt is None:
            raise AwsError("NotImplemented", "SSE-KMS needs Skyhold's KMS service, which is not available",
                           501, sender_fault=False)
        return decrypt(call, raw, context)
    return _master(call.pipeline.data_dir).decrypt(raw[:12], raw[12:], _WRAP_AAD)


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


def open_frame(aead: AESGCM, index: int, sealed: bytes) -> bytes:
    return aead.decrypt(_nonce(index), sealed, None)
