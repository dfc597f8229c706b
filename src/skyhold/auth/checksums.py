"""S3's flexible checksums (x-amz-checksum-*), computed incrementally over a body.

CRC32C comes from google-crc32c (Google's C library, hardware-accelerated, with a pure
Python fallback); CRC64NVME -- S3's default checksum -- and the XXHash family from awscrt,
AWS's own C library, which also combines CRCs of consecutive parts into the CRC of the whole.
S3 took ten algorithms as of April 2026: the five of 2022/2024 and MD5, SHA512, XXHASH64,
XXHASH3 and XXHASH128. Every value travels as the base64 of the digest's big-endian bytes.
"""

from __future__ import annotations

import base64
import hashlib
import zlib
from collections.abc import Callable
from types import ModuleType
from typing import Protocol

import google_crc32c


class Checksum(Protocol):
    def update(self, data: bytes) -> None: ...

    def b64digest(self) -> str: ...


class _Crc32:
    __slots__ = ("_crc",)

    def __init__(self) -> None:
        self._crc = 0

    def update(self, data: bytes) -> None:
        self._crc = zlib.crc32(data, self._crc)

    def b64digest(self) -> str:
        return base64.b64encode(self._crc.to_bytes(4, "big")).decode("ascii")


class _Crc32c:
    __slots__ = ("_sum",)

    def __init__(self) -> None:
        self._sum = google_crc32c.Checksum()

    def update(self, data: bytes) -> None:
        self._sum.update(data)

    def b64digest(self) -> str:
        return base64.b64encode(self._sum.digest()).decode("ascii")


class _Hash:
    __slots__ = ("_h",)

    def __init__(self, name: str) -> None:
        self._h = hashlib.new(name)

    def update(self, data: bytes) -> None:
        self._h.update(data)

    def b64digest(self) -> str:
        return base64.b64encode(self._h.digest()).decode("ascii")


def _crt() -> ModuleType:
    """awscrt's checksums, imported on first use: loading its native library takes ~40 ms
    that the server's start-up does without (skyhold.cli hides awscrt from botocore)."""
    from awscrt import checksums as crt  # type: ignore[import-untyped]

    return crt


class _Crc64Nvme:
    __slots__ = ("_crc", "_fn")

    def __init__(self) -> None:
        self._fn = _crt().crc64nvme
        self._crc = 0

    def update(self, data: bytes) -> None:
        self._crc = self._fn(data, self._crc)

    def b64digest(self) -> str:
        return base64.b64encode(self._crc.to_bytes(8, "big")).decode("ascii")


class _XxHash:
    """XXH64, XXH3-64 or XXH3-128 (seed 0), as S3 computes them (awscrt's, as botocore's)."""

    __slots__ = ("_h",)

    def __init__(self, variant: str) -> None:
        self._h = getattr(_crt().XXHash, f"new_{variant}")()

    def update(self, data: bytes) -> None:
        self._h.update(data)

    def b64digest(self) -> str:
        return base64.b64encode(self._h.finalize()).decode("ascii")


_FACTORIES: dict[str, Callable[[], Checksum]] = {
    "crc32": _Crc32,
    "crc32c": _Crc32c,
    "crc64nvme": _Crc64Nvme,
    "sha1": lambda: _Hash("sha1"),
    "sha256": lambda: _Hash("sha256"),
    "sha512": lambda: _Hash("sha512"),
    "md5": lambda: _Hash("md5"),
    "xxhash64": lambda: _XxHash("xxhash64"),
    "xxhash3": lambda: _XxHash("xxhash3_64"),
    "xxhash128": lambda: _XxHash("xxhash3_128"),
}
SUPPORTED = frozenset(_FACTORIES)

# What S3 stores for an object uploaded without a checksum (since December 2024).
DEFAULT = "crc64nvme"
# The CRCs whose values over consecutive bytes combine into the CRC of the whole.
CRCS = frozenset({"crc32", "crc32c", "crc64nvme"})

# Digest sizes, to reject a malformed value before reading a byte of the body.
_SIZES = {"crc32": 4, "crc32c": 4, "sha1": 20, "sha256": 32, "crc64nvme": 8, "sha512": 64, "md5": 16,
          "xxhash64": 8, "xxhash3": 8, "xxhash128": 16}

PREFIX = "x-amz-checksum-"


def algorithm_of(header_name: str) -> str | None:
    """'x-amz-checksum-crc32c' -> 'crc32c' when Skyhold can compute it."""
    if not header_name.startswith(PREFIX):
        return None
    name = header_name[len(PREFIX) :]
    return name if name in _FACTORIES else None


def new(algorithm: str) -> Checksum:
    return _FACTORIES[algorithm]()


def well_formed(algorithm: str, value: str) -> bool:
    try:
        raw = base64.b64decode(value, validate=True)
    except ValueError:
        return False
    return len(raw) == _SIZES[algorithm]



def combine(algorithm: str, first: str, second: str, second_len: int) -> str:
    """The CRC (base64) of A+B from the CRCs of A and of B (`second_len` bytes long):
    a multipart upload's FULL_OBJECT checksum, without reading a byte again."""
    width = _SIZES[algorithm]
    crc = getattr(_crt(), f"combine_{algorithm}")(
        int.from_bytes(base64.b64decode(first), "big"), int.from_bytes(base64.b64decode(second), "big"), second_len)
    return base64.b64encode(crc.to_bytes(width, "big")).decode("ascii")
