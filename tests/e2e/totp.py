"""RFC 6238 TOTP computed independently of Skyhold (what an authenticator app does)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import struct
import time
from typing import Any


def code(seed_base32: str, step: int) -> str:
    key = base64.b32decode(seed_base32 + "=" * (-len(seed_base32) % 8))
    digest = hmac.new(key, struct.pack(">Q", step), hashlib.sha1).digest()
    offset = digest[-1] & 0x0F
    value = struct.unpack(">I", digest[offset : offset + 4])[0] & 0x7FFFFFFF
    return f"{value % 1_000_000:06d}"


def current_step(offset_seconds: float = 0.0) -> int:
    return int((time.time() + offset_seconds) // 30)


def enable_virtual_device(iam: Any, device_name: str, user_name: str) -> tuple[str, str, int]:
    """Create a virtual MFA device and enable it for `user_name` ("root" for the caller,
    root) with two consecutive codes, as an authenticator app's user would: its serial,
    its base32 seed and the last step used (the next valid code is step + 1's)."""
    device = iam.create_virtual_mfa_device(VirtualMFADeviceName=device_name)["VirtualMFADevice"]
    seed = device["Base32StringSeed"].decode()
    step = current_step()
    iam.enable_mfa_device(UserName=user_name, SerialNumber=device["SerialNumber"],
                          AuthenticationCode1=code(seed, step - 1), AuthenticationCode2=code(seed, step))
    return device["SerialNumber"], seed, step
