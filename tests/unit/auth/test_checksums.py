"""S3's checksums: CRC64NVME as AWS computes it, and CRCs combined across parts."""

from __future__ import annotations

import os

import pytest

from skyhold.auth import checksums


def _digest(algorithm: str, data: bytes) -> str:
    running = checksums.new(algorithm)
    running.update(data)
    return running.b64digest()


def test_crc64nvme_is_first_class_and_matches_aws() -> None:
    assert {"crc64nvme", checksums.DEFAULT} <= checksums.SUPPORTED
    assert _digest("crc64nvme", b"test data..") == "qUVrWYOrIAM="  # what S3 answered for these bytes
    running = checksums.new("crc64nvme")  # fed in pieces: the same value
    for piece in (b"test", b" ", b"data.."):
        running.update(piece)
    assert running.b64digest() == "qUVrWYOrIAM="
    assert checksums.well_formed("crc64nvme", "qUVrWYOrIAM=") and not checksums.well_formed("crc64nvme", "AAAA")


@pytest.mark.parametrize("algorithm", sorted(checksums.CRCS))
@pytest.mark.parametrize("sizes", [(1, 1), (5 << 20, 3), (0, 7), (1000, 0)])
def test_combine_is_the_crc_of_the_concatenation(algorithm: str, sizes: tuple[int, int]) -> None:
    first, second = os.urandom(sizes[0]), os.urandom(sizes[1])
    combined = checksums.combine(algorithm, _digest(algorithm, first), _digest(algorithm, second), len(second))
    assert combined == _digest(algorithm, first + second)
