"""Client mistakes the operation fuzzer found answered with a 500: each now gets S3's
own error."""

from __future__ import annotations

from typing import Any

import pytest
from botocore.exceptions import ClientError

from .conftest import AwsEnv


@pytest.mark.parametrize(("value", "message"), [
    (0, "Argument max-buckets must be an integer between 1 and 10000."),
    (-1, "Argument max-buckets must be an integer between 1 and 10000."),
    (10001, "Argument max-buckets must be an integer between 1 and 10000."),
    (2**31, "Provided max-buckets not an integer or within integer range"),
])
def test_list_buckets_max_buckets_out_of_range(admin: AwsEnv, value: int, message: str) -> None:
    s3 = admin.unchecked_client("s3", region_name="us-east-1")  # the SDK would refuse these itself
    with pytest.raises(ClientError) as e:
        s3.list_buckets(MaxBuckets=value)
    err = e.value.response["Error"]
    assert (err["Code"], err["Message"], err["ArgumentName"], err["ArgumentValue"]) == (
        "InvalidArgument", message, "max-buckets", str(value))
    assert e.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    assert len(s3.list_buckets(MaxBuckets=1)["Buckets"]) <= 1  # the bounds themselves are fine
    s3.list_buckets(MaxBuckets=10000)


def test_response_header_overrides_beyond_latin1_are_sent_as_utf8(admin: AwsEnv) -> None:
    """A response-* override is echoed as a header; one no Latin-1 byte can carry was a
    500. It goes back as the UTF-8 bytes the client sent in the query."""
    s3: Any = admin.client("s3", region_name="us-east-1")
    s3.create_bucket(Bucket="fuzz-fixes-overrides")
    s3.put_object(Bucket="fuzz-fixes-overrides", Key="doc", Body=b"hi")
    head = s3.head_object(Bucket="fuzz-fixes-overrides", Key="doc", ResponseCacheControl="max-age=60 中",
                          ResponseContentDisposition='attachment; filename="é.txt"')
    headers = head["ResponseMetadata"]["HTTPHeaders"]
    # http.client reads header bytes as Latin-1: the UTF-8 bytes show through that.
    assert headers["cache-control"].encode("latin-1").decode("utf-8") == "max-age=60 中"
    assert head["ContentDisposition"] == 'attachment; filename="é.txt"'  # Latin-1 fits as it is


@pytest.mark.parametrize("region", ["mars-1", "X", "US-EAST-1"])
def test_list_buckets_in_a_region_aws_does_not_have(admin: AwsEnv, region: str) -> None:
    """Was an empty listing: S3 refuses the bucket-region instead."""
    s3 = admin.unchecked_client("s3", region_name="us-east-1")
    s3.create_bucket(Bucket="fuzz-fixes-bucket-region")
    with pytest.raises(ClientError) as e:
        s3.list_buckets(BucketRegion=region)
    err = e.value.response["Error"]
    assert (err["Code"], err["Message"], err["ArgumentName"], "ArgumentValue" in err) == (
        "InvalidArgument", f"Argument value {region} is not a valid AWS Region", "bucket-region", False)
    assert e.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    names = [b["Name"] for b in s3.list_buckets(BucketRegion="us-east-1")["Buckets"]]
    assert "fuzz-fixes-bucket-region" in names
