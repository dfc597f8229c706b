"""RFC 6238 TOTP computed independently of Skyhold (what an authenticator app does)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import struct
import time


def code(seed_base32: str, step: int) -> str:
    key = base64.b32decode(seed_base32 + "=" * (-len(seed_base32) % 8))
    digest = hmac.new(key, struct.pack(">Q", step), hashlib.sha1).digest()
    offset = digest[-1] & 0x0F
    value = struct.unpack(">I", digest[offset : offset + 4])[0] & 0x7FFFFFFF
    return f"{value % 1_000_000:06d}"


def current_step(offset_seconds: float = 0.0) -> int:
    return int((time.time() + offset_seconds) // 30)
