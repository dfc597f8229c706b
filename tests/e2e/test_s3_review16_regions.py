"""x-amz-bucket-region beyond the wrong-region errors (test_s3_regions.py) and HeadBucket:
the other answers S3 names a bucket's region in, read by boto3 (ResponseMetadata)."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from botocore.exceptions import ClientError

from .conftest import AwsEnv


@pytest.fixture
def eu_s3(admin: AwsEnv) -> Any:
    return admin.client("s3", region_name="eu-west-1")


@pytest.fixture
def eu_bucket(eu_s3: Any) -> str:
    name = f"region-{uuid.uuid4().hex[:12]}"
    eu_s3.create_bucket(Bucket=name, CreateBucketConfiguration={"LocationConstraint": "eu-west-1"})
    return name


def test_recreating_an_owned_bucket_names_its_region(eu_s3: Any, eu_bucket: str) -> None:
    """Recorded from AWS (a us-west-2 bucket): the 409 BucketAlreadyOwnedByYou carries
    x-amz-bucket-region."""
    with pytest.raises(ClientError) as info:
        eu_s3.create_bucket(Bucket=eu_bucket, CreateBucketConfiguration={"LocationConstraint": "eu-west-1"})
    assert info.value.response["Error"]["Code"] == "BucketAlreadyOwnedByYou"
    assert info.value.response["ResponseMetadata"]["HTTPHeaders"]["x-amz-bucket-region"] == "eu-west-1"


def test_head_bucket_names_its_region(eu_s3: Any, eu_bucket: str) -> None:
    out = eu_s3.head_bucket(Bucket=eu_bucket)
    assert out["BucketRegion"] == "eu-west-1"
    assert out["ResponseMetadata"]["HTTPHeaders"]["x-amz-bucket-region"] == "eu-west-1"


def test_listing_a_bucket_outside_us_east_1_names_its_region(eu_s3: Any, eu_bucket: str) -> None:
    """LocalStack's AWS-validated test_region_header_exists_outside_us_east_1: ListObjectsV2
    of a us-west-2 bucket answers x-amz-bucket-region (LocalStack sends it for ListObjects
    too, for buckets outside us-east-1 only)."""
    for listing in (eu_s3.list_objects_v2, eu_s3.list_objects):
        out = listing(Bucket=eu_bucket)
        assert out["ResponseMetadata"]["HTTPHeaders"]["x-amz-bucket-region"] == "eu-west-1"


def test_listing_a_bucket_in_us_east_1_names_no_region(admin: AwsEnv) -> None:
    """LocalStack's validated snapshots leave it out there."""
    s3 = admin.client("s3")
    name = f"region-{uuid.uuid4().hex[:12]}"
    s3.create_bucket(Bucket=name)
    assert "x-amz-bucket-region" not in s3.list_objects_v2(Bucket=name)["ResponseMetadata"]["HTTPHeaders"]
