"""S3's general purpose bucket naming rules."""

from __future__ import annotations

import pytest

from skyhold.services.s3.names import valid_bucket_name


@pytest.mark.parametrize("name", [
    "abc", "a" * 63, "my-bucket", "my.bucket.example", "0bucket", "bucket9", "a-b.c-d", "xn-is-fine",
    "192.168.5", "s3-bucket", "bucket-s3alias-not",
])
def test_valid(name: str) -> None:
    assert valid_bucket_name(name)


@pytest.mark.parametrize("name", [
    "ab",  # 3 to 63 characters
    "a" * 64,
    "My-Bucket",  # lower case only
    "my_bucket",
    "-bucket", "bucket-", ".bucket", "bucket.",  # starts and ends with a letter or digit
    "my..bucket", "my.-bucket", "my-.bucket",  # no adjacent periods, nor a period next to a hyphen
    "192.168.5.4",  # not an IP address
    "xn--bucket",  # reserved prefixes
    "sthree-bucket",
    "amzn-s3-demo-bucket",
    "bucket-s3alias",  # reserved suffixes
    "bucket--ol-s3",
    "bucket.mrap",
    "bucket--x-s3",
    "bucket--table-s3",
    "bücket",
    "",
])
def test_invalid(name: str) -> None:
    assert not valid_bucket_name(name)
