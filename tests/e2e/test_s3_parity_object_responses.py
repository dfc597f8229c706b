"""Successful object responses as AWS recorded them: which members S3 sends (a version id
only for a versioned write, DeleteMarkerVersionId when a marker is deleted by id) and
when a GET or HEAD carries the object's checksum (whenever the whole object is served,
whatever the Range header said, and x-amz-checksum-mode in any case)."""

from __future__ import annotations

from typing import Any

import pytest

from .conftest import AwsEnv, new_bucket


@pytest.fixture
def s3(admin: AwsEnv) -> Any:
    return admin.client("s3", region_name="us-east-1")


def _bucket(s3: Any, versioning: str | None = None) -> str:
    return new_bucket(s3, "parity-resp", versioning)


def test_writes_to_a_suspended_bucket_name_no_version(s3: Any) -> None:
    bucket = _bucket(s3, "Enabled")
    assert "VersionId" in s3.put_object(Bucket=bucket, Key="k", Body=b"v1")
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Suspended"})
    put = s3.put_object(Bucket=bucket, Key="k", Body=b"test-version-suspended")
    assert "VersionId" not in put and put["ETag"] == '"bb7af07292c35f415ac7da933eb5c927"'
    copy = s3.copy_object(Bucket=bucket, Key="copy", CopySource={"Bucket": bucket, "Key": "k"})
    assert copy["VersionId"] == "null"  # a copy names its null version (AWS, recorded), unlike PutObject
    # what is read back, and what a delete makes, is the null version
    assert s3.get_object(Bucket=bucket, Key="k")["VersionId"] == "null"
    assert s3.head_object(Bucket=bucket, Key="k")["VersionId"] == "null"
    deleted = s3.delete_object(Bucket=bucket, Key="k")
    assert (deleted["DeleteMarker"], deleted["VersionId"]) == (True, "null")


def test_delete_objects_names_a_delete_marker_deleted_by_id(s3: Any) -> None:
    bucket = _bucket(s3, "Enabled")
    version = s3.put_object(Bucket=bucket, Key="k", Body=b"test-delete")["VersionId"]
    made = s3.delete_objects(Bucket=bucket, Delete={"Objects": [{"Key": "k"}]})["Deleted"]
    marker = made[0]["DeleteMarkerVersionId"]
    assert made == [{"Key": "k", "DeleteMarker": True, "DeleteMarkerVersionId": marker}]
    gone = s3.delete_objects(Bucket=bucket, Delete={"Objects": [{"Key": "k", "VersionId": marker}]})["Deleted"]
    assert gone == [{"Key": "k", "VersionId": marker, "DeleteMarker": True, "DeleteMarkerVersionId": marker}]
    plain = s3.delete_objects(Bucket=bucket, Delete={"Objects": [{"Key": "k", "VersionId": version}]})["Deleted"]
    assert plain == [{"Key": "k", "VersionId": version}]


@pytest.mark.parametrize(("header", "status", "whole"), [
    ("bytes=0-8", 206, False),
    ("bytes=1-0", 200, True),      # ignored: the whole object
    ("bytes=-15", 206, True),      # more than there is: all of it
    ("bytes=0-100", 206, True),
    ("bytes=0-1,3-4", 200, True),  # several ranges: ignored
    ("bytes=-2", 206, False),
])
def test_a_range_carries_the_checksum_when_it_is_the_whole_object(s3: Any, header: str, status: int,
                                                                    whole: bool) -> None:
    bucket = _bucket(s3)
    s3.put_object(Bucket=bucket, Key="k", Body=b"0123456789", ChecksumAlgorithm="CRC32")
    out = s3.get_object(Bucket=bucket, Key="k", Range=header, ChecksumMode="ENABLED")
    out["Body"].read()
    assert out["ResponseMetadata"]["HTTPStatusCode"] == status
    if whole:
        assert (out["ChecksumCRC32"], out["ChecksumType"]) == ("poTHxg==", "FULL_OBJECT")
    else:
        assert "ChecksumCRC32" not in out and "ChecksumType" not in out


def test_checksum_mode_is_read_in_any_case(s3: Any) -> None:
    bucket = _bucket(s3)
    s3.put_object(Bucket=bucket, Key="k", Body=b"test-checksum", ChecksumAlgorithm="SHA256")
    out = s3.head_object(Bucket=bucket, Key="k", ChecksumMode="enabled")
    assert out["ChecksumSHA256"] == "1YQo81vx2VFUl0q5ccWISq8AkSBQQ0WO80S82TmfdIQ="
