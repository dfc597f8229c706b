"""Incremental checks of a (decoded) request body against what the client declared.

`PayloadVerifier` is fed the body as it streams and, at `finish()`, compares it with
the signed `x-amz-content-sha256`, `Content-MD5` and `x-amz-checksum-*` values (S3's
XAmzContentSHA256Mismatch / BadDigest). It holds no body bytes: memory stays constant
whatever the upload size.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
from collections.abc import Mapping

from skyhold.auth import checksums, errors
from skyhold.auth.sigv4 import is_sha256_hex


class PayloadVerifier:
    """Pass-through body filter: `feed(data) -> data`, then `finish() -> {}` (or raises)."""

    __slots__ = ("_sha256", "_expected_sha256", "_md5", "_expected_md5", "_sums", "_trailer_alg", "_trailer_sum", "length")

    def __init__(
        self,
        *,
        expected_sha256: str | None = None,
        content_md5: str | None = None,
        header_checksums: Mapping[str, str] | None = None,
        trailer_algorithm: str | None = None,
    ) -> None:
        self._expected_sha256 = expected_sha256 if expected_sha256 and is_sha256_hex(expected_sha256) else None
        self._sha256 = hashlib.sha256() if self._expected_sha256 else None
        self._expected_md5: str | None = None
        self._md5 = None
        if content_md5 is not None:
            try:
                raw = base64.b64decode(content_md5, validate=True)
            except (binascii.Error, ValueError):
                raw = b""
            if len(raw) != 16:
                raise errors.invalid_digest(content_md5)
            self._expected_md5 = content_md5
            self._md5 = hashlib.md5()
        self._sums: list[tuple[str, str, checksums.Checksum]] = []
        for algorithm, value in (header_checksums or {}).items():
            if not checksums.well_formed(algorithm, value):
                raise errors.invalid_checksum_value(checksums.PREFIX + algorithm, trailer=False)
            self._sums.append((algorithm, value, checksums.new(algorithm)))
        self._trailer_alg = trailer_algorithm
        self._trailer_sum = checksums.new(trailer_algorithm) if trailer_algorithm else None
        self.length = 0

    @property
    def idle(self) -> bool:
        """True when there is nothing to check (the pipeline may skip feeding it)."""
        return not (self._sha256 or self._md5 or self._sums or self._trailer_sum)

    def feed(self, data: bytes) -> bytes:
        self.length += len(data)
        if self._sha256 is not None:
            self._sha256.update(data)
        if self._md5 is not None:
            self._md5.update(data)
        for _, _, running in self._sums:
            running.update(data)
        if self._trailer_sum is not None:
            self._trailer_sum.update(data)
        return data

    def finish(self, trailers: Mapping[str, str] | None = None) -> dict[str, str]:
        if self._sha256 is not None and self._expected_sha256 is not None:
            computed = self._sha256.hexdigest()
            if computed != self._expected_sha256:
                raise errors.content_sha256_mismatch(self._expected_sha256, computed)
        if self._md5 is not None and self._expected_md5 is not None:
            computed_md5 = base64.b64encode(self._md5.digest()).decode("ascii")
            if computed_md5 != self._expected_md5:
                raise errors.bad_digest(self._expected_md5, computed_md5)
        for algorithm, expected, running in self._sums:
            if running.b64digest() != expected:
                raise errors.bad_checksum(algorithm)
        if self._trailer_sum is not None and self._trailer_alg is not None:
            name = checksums.PREFIX + self._trailer_alg
            value = (trailers or {}).get(name)
            if value is None:
                raise errors.missing_trailer(name)
            if not checksums.well_formed(self._trailer_alg, value):
                raise errors.invalid_checksum_value(name, trailer=True)
            if self._trailer_sum.b64digest() != value:
                raise errors.bad_checksum(self._trailer_alg)
        return dict(trailers or {})


def header_checksums(headers: Mapping[str, str]) -> dict[str, str]:
    """The x-amz-checksum-<alg> headers Skyhold can verify, by algorithm."""
    found = {}
    for name, value in headers.items():
        if name.startswith(checksums.PREFIX):
            algorithm = checksums.algorithm_of(name)
            if algorithm is not None:
                found[algorithm] = value
    return found
