"""AWS-style identifiers: unique ids, access keys, request ids, account ids.

IAM unique ids are a four-letter prefix naming the kind (AIDA user, AROA role,
AGPA group, ANPA policy, AIPA instance profile) followed by 17 characters of
base32 ([A-Z2-7]): 21 in all, as AWS issues them. Access key ids (AKIA long-term,
ASIA temporary) are 20: the prefix and 16 characters.
"""

from __future__ import annotations

import random
import secrets
import time

_random = random.Random()

_BASE32 = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"
_SECRET_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"


def unique_id(prefix: str, length: int = 17) -> str:
    return prefix + "".join(secrets.choice(_BASE32) for _ in range(length))


def user_id() -> str:
    return unique_id("AIDA")


def role_id() -> str:
    return unique_id("AROA")


def access_key_id() -> str:
    return unique_id("AKIA", 16)


def temporary_access_key_id() -> str:
    return unique_id("ASIA", 16)


def secret_access_key() -> str:
    return "".join(secrets.choice(_SECRET_ALPHABET) for _ in range(40))


def account_id() -> str:
    # AWS account ids are 12 digits and never start with 0 in practice.
    return str(secrets.randbelow(9 * 10**11) + 10**11)


def request_id() -> str:
    """A version-7 UUID's text: milliseconds since the epoch first, then randomness.
    Time-ordered, so the trail's index of requests grows at its end rather than
    touching a random page for every call. Not secrets: a PRNG is enough (os.urandom,
    behind uuid4, releases the GIL on every call), formatted directly."""
    h = (time.time_ns() // 1_000_000).to_bytes(6, "big").hex() + _random.randbytes(10).hex()
    # Version 7 replaces h[12], the variant's two bits the top of h[16] (picked by the
    # random hex digit's code point: bytes.hex() is faster than formatting integers).
    return f"{h[:8]}-{h[8:12]}-7{h[13:16]}-{_VARIANT[ord(h[16])]}{h[17:20]}-{h[20:]}"


_VARIANT = "89ab" * 32  # indexed by a hex digit's code point (< 128)
