"""Successful S3 bucket, listing and multipart responses shaped as AWS shapes them:
which members are present, their formats and order (recorded from real AWS in
LocalStack's AWS-validated snapshots of the same requests)."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from botocore.exceptions import ClientError

from .conftest import AwsEnv, aws_error


def _bucket(admin: AwsEnv, prefix: str) -> tuple[Any, str]:
    s3: Any = admin.client("s3", region_name="us-east-1")
    name = f"parity-{prefix}-{uuid.uuid4().hex[:8]}"
    s3.create_bucket(Bucket=name)
    return s3, name


def _body(response: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in response.items() if k != "ResponseMetadata"}


# --- ListMultipartUploads / ListParts ---------------------------------------------------

def test_list_multipart_uploads_always_names_next_markers_and_omits_unasked_prefix(admin: AwsEnv) -> None:
    s3, name = _bucket(admin, "mpu-empty")
    assert _body(s3.list_multipart_uploads(Bucket=name)) == {
        "Bucket": name, "KeyMarker": "", "UploadIdMarker": "", "NextKeyMarker": "", "NextUploadIdMarker": "",
        "MaxUploads": 1000, "IsTruncated": False}
    upload = s3.create_multipart_upload(Bucket=name, Key="only")["UploadId"]
    listed = s3.list_multipart_uploads(Bucket=name)
    assert not listed["IsTruncated"]
    assert (listed["NextKeyMarker"], listed["NextUploadIdMarker"]) == ("only", upload)  # even when not truncated


def test_list_multipart_uploads_orders_a_keys_uploads_by_initiation(admin: AwsEnv) -> None:
    s3, name = _bucket(admin, "mpu-order")
    ids = [s3.create_multipart_upload(Bucket=name, Key=key)["UploadId"] for key in ("k3", "k2", "k1", "k1", "k1")]
    listed = s3.list_multipart_uploads(Bucket=name)["Uploads"]
    assert [(u["Key"], u["UploadId"]) for u in listed] == [
        ("k1", ids[2]), ("k1", ids[3]), ("k1", ids[4]), ("k2", ids[1]), ("k3", ids[0])]
    page = s3.list_multipart_uploads(Bucket=name, KeyMarker="k1", UploadIdMarker=ids[2], MaxUploads=1)
    assert [u["UploadId"] for u in page["Uploads"]] == [ids[3]]
    assert (page["NextKeyMarker"], page["NextUploadIdMarker"], page["IsTruncated"]) == ("k1", ids[3], True)


def test_list_multipart_uploads_folds_common_prefixes(admin: AwsEnv) -> None:
    s3, name = _bucket(admin, "mpu-delim")
    for key in ("test/foo/bar/123", "test/foo/bar/456", "test/bar/foo/123"):
        s3.create_multipart_upload(Bucket=name, Key=key)
    listed = s3.list_multipart_uploads(Bucket=name, Prefix="test/", EncodingType="url", Delimiter="/")
    assert _body(listed) == {
        "Bucket": name, "CommonPrefixes": [{"Prefix": "test/bar/"}, {"Prefix": "test/foo/"}], "Delimiter": "/",
        "EncodingType": "url", "IsTruncated": False, "KeyMarker": "", "MaxUploads": 1000, "NextKeyMarker": "",
        "NextUploadIdMarker": "", "Prefix": "test/", "UploadIdMarker": ""}
    first = s3.list_multipart_uploads(Bucket=name, Prefix="test/", Delimiter="/", MaxUploads=1)
    assert (first["CommonPrefixes"], first["IsTruncated"], first["NextKeyMarker"]) == (
        [{"Prefix": "test/bar/"}], True, "")
    # A key marker inside a common prefix resumes past the whole prefix.
    rest = s3.list_multipart_uploads(Bucket=name, Prefix="test/", Delimiter="/", KeyMarker="test/bar/foo/1")
    assert rest["CommonPrefixes"] == [{"Prefix": "test/foo/"}] and "Uploads" not in rest
    leaf = s3.list_multipart_uploads(Bucket=name, Prefix="test/foo/bar/", Delimiter="/")
    assert [u["Key"] for u in leaf["Uploads"]] == ["test/foo/bar/123", "test/foo/bar/456"]


def test_list_parts_names_next_marker_zero_and_the_initiating_user(admin: AwsEnv) -> None:
    s3, name = _bucket(admin, "parts")
    upload = s3.create_multipart_upload(Bucket=name, Key="k")["UploadId"]
    empty = s3.list_parts(Bucket=name, Key="k", UploadId=upload)
    assert (empty["NextPartNumberMarker"], empty["PartNumberMarker"], "Parts" in empty) == (0, 0, False)
    s3.upload_part(Bucket=name, Key="k", UploadId=upload, PartNumber=1, Body=b"data")
    past = s3.list_parts(Bucket=name, Key="k", UploadId=upload, MaxParts=1, PartNumberMarker=10)
    assert (past["NextPartNumberMarker"], past["PartNumberMarker"], past["IsTruncated"]) == (0, 10, False)
    # An IAM user initiates as its ARN and name; the upload's Owner stays the account (no DisplayName).
    me: Any = admin.client("sts").get_caller_identity()
    parts = s3.list_parts(Bucket=name, Key="k", UploadId=upload)
    assert parts["Initiator"] == {"ID": me["Arn"], "DisplayName": me["Arn"].rsplit("/", 1)[1]}
    assert set(parts["Owner"]) == {"ID"} and len(parts["Owner"]["ID"]) == 64
    assert s3.list_multipart_uploads(Bucket=name)["Uploads"][0]["Initiator"] == parts["Initiator"]


def test_complete_multipart_location_percent_encodes_the_key(admin: AwsEnv) -> None:
    s3, name = _bucket(admin, "mpu-loc")
    key = "test-unicode_\u2014_file"
    upload = s3.create_multipart_upload(Bucket=name, Key=key)["UploadId"]
    etag = s3.upload_part(Bucket=name, Key=key, UploadId=upload, PartNumber=1, Body=b"part")["ETag"]
    done = s3.complete_multipart_upload(Bucket=name, Key=key, UploadId=upload,
                                        MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": etag}]})
    assert done["Location"].endswith(f"/{name}/test-unicode_%E2%80%94_file")
    assert done["Key"] == key


# --- CreateBucket / GetBucketLocation -----------------------------------------------------

def test_create_bucket_applies_configuration_tags(admin: AwsEnv) -> None:
    s3: Any = admin.unchecked_client("s3", region_name="us-east-1")
    name = f"parity-tags-{uuid.uuid4().hex[:8]}"
    created = s3.create_bucket(Bucket=name, CreateBucketConfiguration={"Tags": [{"Key": "tag1", "Value": "value1"}]})
    assert _body(created) == {"BucketArn": f"arn:aws:s3:::{name}", "Location": f"/{name}"}
    assert s3.get_bucket_tagging(Bucket=name)["TagSet"] == [{"Key": "tag1", "Value": "value1"}]
    # us-east-1's legacy 200 for a re-create holds only without tags; the tags stay as created.
    code, _, status = aws_error(lambda: s3.create_bucket(
        Bucket=name, CreateBucketConfiguration={"Tags": [{"Key": "tag1", "Value": "value1"}]}))
    assert (code, status) == ("BucketAlreadyOwnedByYou", 409)
    assert s3.create_bucket(Bucket=name)["ResponseMetadata"]["HTTPStatusCode"] == 200
    assert s3.create_bucket(Bucket=name, CreateBucketConfiguration={"Tags": []})["Location"] == f"/{name}"
    assert s3.get_bucket_tagging(Bucket=name)["TagSet"] == [{"Key": "tag1", "Value": "value1"}]


def test_create_bucket_refuses_aws_prefixed_configuration_tags(admin: AwsEnv) -> None:
    s3: Any = admin.unchecked_client("s3", region_name="us-east-1")
    name = f"parity-tags-{uuid.uuid4().hex[:8]}"
    with pytest.raises(ClientError) as e:
        s3.create_bucket(Bucket=name, CreateBucketConfiguration={"Tags": [{"Key": "aws:test", "Value": "v"}]})
    assert e.value.response["Error"] == {
        "Code": "InvalidTag", "Message": 'User-defined tag keys can\'t start with "aws:". This prefix is reserved '
        'for system tags. Remove "aws:" from your tag keys and try again.'}
    assert name not in [b["Name"] for b in s3.list_buckets(Prefix=name)["Buckets"]]


def test_eu_location_constraint_reads_back_as_eu(admin: AwsEnv) -> None:
    s3: Any = admin.client("s3", region_name="us-east-1")
    name = f"parity-eu-{uuid.uuid4().hex[:8]}"
    s3.create_bucket(Bucket=name, CreateBucketConfiguration={"LocationConstraint": "EU"})
    assert s3.get_bucket_location(Bucket=name)["LocationConstraint"] == "EU"
    assert [b["BucketRegion"] for b in s3.list_buckets(Prefix=name)["Buckets"]] == ["eu-west-1"]
