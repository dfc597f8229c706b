"""The five checksum algorithms S3 added in April 2026, against their published test
vectors: MD5 (RFC 1321, appendix A.5), SHA-512 (FIPS 180-2, appendix C.1), and
XXH64 / XXH3-64 / XXH3-128 of the empty input with seed 0 (xxHash's reference values,
Cyan4973/xxHash). S3 sends each as the base64 of the digest's big-endian bytes."""

from __future__ import annotations

import base64

import pytest

from skyhold.auth import checksums
from skyhold.auth.payload import PayloadVerifier, header_checksums
from skyhold.errors import AwsError


def _digest(algorithm: str, *pieces: bytes) -> str:
    running = checksums.new(algorithm)
    for piece in pieces:
        running.update(piece)
    return running.b64digest()


def _hex(value: str) -> str:
    return base64.b64decode(value).hex()


@pytest.mark.parametrize(("algorithm", "data", "expected"), [
    ("md5", b"", "d41d8cd98f00b204e9800998ecf8427e"),
    ("md5", b"abc", "900150983cd24fb0d6963f7d28e17f72"),
    ("sha512", b"abc", "ddaf35a193617abacc417349ae20413112e6fa4e89a97ea20a9eeee64b55d39a"
                       "2192992a274fc1a836ba3c23a3feebbd454d4423643ce80e2a9ac94fa54ca49f"),
    ("xxhash64", b"", "ef46db3751d8e999"),
    ("xxhash3", b"", "2d06800538d394c2"),
    ("xxhash128", b"", "99aa06d3014798d86001c324468d497f"),
])
def test_published_vectors(algorithm: str, data: bytes, expected: str) -> None:
    assert algorithm in checksums.SUPPORTED
    assert _hex(_digest(algorithm, data)) == expected


def test_xxhash64_matches_what_s3_answered() -> None:
    # aws/aws-sdk-go-v2#3404: S3 took "RatnNLIeaWg=" as the XXHASH64 of "hello world".
    assert _digest("xxhash64", b"hello world") == "RatnNLIeaWg="


@pytest.mark.parametrize("algorithm", ["md5", "sha512", "xxhash64", "xxhash3", "xxhash128"])
def test_incremental_equals_one_shot(algorithm: str) -> None:
    data = bytes(range(256)) * 1000
    assert _digest(algorithm, data[:7], data[7:4096], data[4096:]) == _digest(algorithm, data)


@pytest.mark.parametrize(("algorithm", "size"), [
    ("md5", 16), ("sha512", 64), ("xxhash64", 8), ("xxhash3", 8), ("xxhash128", 16)])
def test_values_of_the_wrong_length_are_malformed(algorithm: str, size: int) -> None:
    assert checksums.well_formed(algorithm, base64.b64encode(b"\1" * size).decode())
    for wrong in (size - 1, size + 1):
        assert not checksums.well_formed(algorithm, base64.b64encode(b"\1" * wrong).decode())
    assert not checksums.well_formed(algorithm, "not base64!")


def test_headers_of_the_new_algorithms_are_recognised_and_verified() -> None:
    value = _digest("xxhash3", b"body")
    headers = {"x-amz-checksum-xxhash3": value, "x-amz-checksum-type": "COMPOSITE",
               "x-amz-checksum-algorithm": "XXHASH3", "x-amz-checksum-mode": "ENABLED"}
    assert header_checksums(headers) == {"xxhash3": value}
    good = PayloadVerifier(header_checksums={"xxhash3": value})
    good.feed(b"body")
    good.finish()
    bad = PayloadVerifier(header_checksums={"xxhash3": value})
    bad.feed(b"other")
    with pytest.raises(AwsError) as err:
        bad.finish()
    assert (err.value.code, err.value.message) == (
        "BadDigest", "The XXHASH3 you specified did not match the calculated checksum.")
