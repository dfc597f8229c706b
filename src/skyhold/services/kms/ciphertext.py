"""Symmetric ciphertext blobs: self-describing, bound to their encryption context.

Layout: b"SKY1" | key id (36 ASCII bytes) | material version (2 bytes) | nonce (12) |
AES-256-GCM ciphertext+tag. The encryption context is the associated data (as KMS
does), so Decrypt with a different context fails, and the header names the key, so
Decrypt needs no KeyId.
"""

from __future__ import annotations

import json
import secrets

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from skyhold.errors import AwsError

MAGIC = b"SKY1"
_HEADER = len(MAGIC) + 36 + 2


def _aad(key_id: str, context: dict[str, str] | None) -> bytes:
    return key_id.encode() + json.dumps(context or {}, sort_keys=True, separators=(",", ":")).encode()


def encrypt(key_id: str, version: int, material: bytes, plaintext: bytes, context: dict[str, str] | None) -> bytes:
    nonce = secrets.token_bytes(12)
    header = MAGIC + key_id.encode() + version.to_bytes(2, "big")
    return header + nonce + AESGCM(material).encrypt(nonce, plaintext, _aad(key_id, context))


def invalid() -> AwsError:
    return AwsError("InvalidCiphertextException", "", 400)


def key_of(blob: bytes) -> tuple[str, int]:
    """(key id, material version) a ciphertext was made with."""
    if len(blob) < _HEADER + 12 + 16 or not blob.startswith(MAGIC):
        raise invalid()
    try:
        key_id = blob[4:40].decode("ascii")
    except UnicodeDecodeError:
        raise invalid() from None
    return key_id, int.from_bytes(blob[40:42], "big")


def decrypt(key_id: str, material: bytes, blob: bytes, context: dict[str, str] | None) -> bytes:
    nonce, body = blob[_HEADER:_HEADER + 12], blob[_HEADER + 12:]
    try:
        return AESGCM(material).decrypt(nonce, body, _aad(key_id, context))
    except InvalidTag:
        raise invalid() from None
