"""Time-based one-time passwords (RFC 6238: HMAC-SHA-1, 30-second steps, 6 digits),
as virtual MFA apps compute them."""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import struct

STEP_SECONDS = 30
DIGITS = 6


def new_seed() -> str:
    """A Base32 secret: 40 random bytes → 64 characters, no padding."""
    return base64.b32encode(secrets.token_bytes(40)).decode()


def counter_at(epoch_seconds: float) -> int:
    return int(epoch_seconds // STEP_SECONDS)


def code(seed: str, counter: int) -> str:
    """RFC 4226 HOTP value for `counter` (RFC 6238 uses the time step as the counter)."""
    key = base64.b32decode(seed + "=" * (-len(seed) % 8), casefold=True)
    mac = hmac.new(key, struct.pack(">Q", counter), hashlib.sha1).digest()
    offset = mac[-1] & 0x0F
    value = struct.unpack(">I", mac[offset : offset + 4])[0] & 0x7FFFFFFF
    return str(value % 10**DIGITS).zfill(DIGITS)


def find_counter(seed: str, given: str, around: int, before: int, after: int) -> int | None:
    """The time step in [around-before, around+after] whose code is `given`."""
    for counter in range(around - before, around + after + 1):
        if hmac.compare_digest(code(seed, counter), given):
            return counter
    return None
