"""S3 listings and their paging (review 14): list limits read as S3 reads them (empty is
absent, anything but a 32-bit integer refused with S3's own wording), max-keys=0, and
<Version>/<DeleteMarker> elements in listing order."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from typing import Any

import botocore.awsrequest
import pytest
from botocore.auth import S3SigV4Auth

from .conftest import AwsEnv, error_and_status, new_bucket, send_signed, signing_credentials

NS = "{http://s3.amazonaws.com/doc/2006-03-01/}"


def _s3(admin: AwsEnv) -> Any:
    return admin.client("s3", region_name="us-east-1")


def _upload_with_a_part(s3: Any, bucket: str, key: str) -> str:
    upload_id: str = s3.create_multipart_upload(Bucket=bucket, Key=key)["UploadId"]
    s3.upload_part(Bucket=bucket, Key=key, UploadId=upload_id, PartNumber=1, Body=b"data")
    return upload_id


def _signed_get(admin: AwsEnv, path_and_query: str) -> tuple[int, bytes]:
    url = f"{admin.endpoint}{path_and_query}"
    req = botocore.awsrequest.AWSRequest(method="GET", url=url, headers={"x-amz-content-sha256": "UNSIGNED-PAYLOAD"})
    S3SigV4Auth(signing_credentials(admin), "s3", "us-east-1").add_auth(req)
    return send_signed(req)


# ---- empty list limits are absent ------------------------------------------------------------

@pytest.mark.parametrize("param", ["PartNumberMarker", "MaxParts"])
def test_list_parts_reads_an_empty_limit_as_absent(admin: AwsEnv, param: str) -> None:
    """AWS (LocalStack's validated test_list_parts_empty_part_number_marker) lists the parts."""
    s3 = admin.unchecked_client("s3", region_name="us-east-1")
    bucket = new_bucket(s3, "r14-lp-empty")
    upload_id = _upload_with_a_part(s3, bucket, "k")
    out = s3.list_parts(Bucket=bucket, Key="k", UploadId=upload_id, **{param: ""})
    assert [p["PartNumber"] for p in out["Parts"]] == [1]
    assert (out["PartNumberMarker"], out["NextPartNumberMarker"], out["MaxParts"], out["IsTruncated"]) == (
        0, 1, 1000, False)


@pytest.mark.parametrize("operation,param", [("list_objects", "MaxKeys"), ("list_objects_v2", "MaxKeys"),
                                             ("list_object_versions", "MaxKeys"),
                                             ("list_multipart_uploads", "MaxUploads")])
def test_an_empty_max_keys_or_max_uploads_is_the_default(admin: AwsEnv, operation: str, param: str) -> None:
    s3 = admin.unchecked_client("s3", region_name="us-east-1")
    bucket = new_bucket(s3, "r14-empty-limit")
    s3.put_object(Bucket=bucket, Key="k", Body=b"x")
    s3.create_multipart_upload(Bucket=bucket, Key="k")
    out = getattr(s3, operation)(Bucket=bucket, **{param: ""})
    assert (out[param], out["IsTruncated"]) == (1000, False)


# ---- limits that are not 32-bit integers ------------------------------------------------------

@pytest.mark.parametrize("operation,param,name", [
    ("list_objects", "MaxKeys", "max-keys"), ("list_objects_v2", "MaxKeys", "max-keys"),
    ("list_object_versions", "MaxKeys", "max-keys"), ("list_multipart_uploads", "MaxUploads", "max-uploads"),
    ("list_buckets", "MaxBuckets", "max-buckets"),
])
@pytest.mark.parametrize("value", ["abc", "1.5", str(2**31)])
def test_a_limit_that_is_not_a_32_bit_integer(admin: AwsEnv, operation: str, param: str, name: str,
                                              value: str) -> None:
    """S3's wording (versitygw's list-limiter parser, moto for max-parts), naming the
    query parameter, where Skyhold answered "Invalid value for MaxKeys" (or listed, for 2**31)."""
    s3 = admin.unchecked_client("s3", region_name="us-east-1")
    bucket = new_bucket(s3, "r14-nonint")
    kwargs = {} if operation == "list_buckets" else {"Bucket": bucket}
    err, status = error_and_status(lambda: getattr(s3, operation)(**kwargs, **{param: value}))
    assert (err["Code"], err["Message"], status) == (
        "InvalidArgument", f"Provided {name} not an integer or within integer range", 400)
    assert (err["ArgumentName"], err["ArgumentValue"]) == (name, value)


@pytest.mark.parametrize("param,name", [("MaxParts", "max-parts"), ("PartNumberMarker", "part-number-marker")])
def test_list_parts_limit_that_is_not_an_integer(admin: AwsEnv, param: str, name: str) -> None:
    s3 = admin.unchecked_client("s3", region_name="us-east-1")
    bucket = new_bucket(s3, "r14-lp-nonint")
    upload_id = _upload_with_a_part(s3, bucket, "k")
    err, status = error_and_status(lambda: s3.list_parts(Bucket=bucket, Key="k", UploadId=upload_id,
                                                         **{param: "many"}))
    assert (err["Code"], err["Message"], err["ArgumentName"], err["ArgumentValue"], status) == (
        "InvalidArgument", f"Provided {name} not an integer or within integer range", name, "many", 400)


# ---- negative max-keys ---------------------------------------------------------------------

@pytest.mark.parametrize("operation,message", [
    ("list_objects", "Argument maxKeys must be an integer between 0 and 2147483647"),
    ("list_objects_v2", "Argument maxKeys must be an integer between 0 and 2147483647"),
    # ListObjectVersions words it apart (versitygw#1809, measured against S3).
    ("list_object_versions", "max-keys cannot be negative"),
])
def test_a_negative_max_keys(admin: AwsEnv, operation: str, message: str) -> None:
    s3 = admin.unchecked_client("s3", region_name="us-east-1")
    bucket = new_bucket(s3, "r14-negkeys")
    err, status = error_and_status(lambda: getattr(s3, operation)(Bucket=bucket, MaxKeys=-3))
    assert (err["Code"], err["Message"], err["ArgumentName"], err["ArgumentValue"], status) == (
        "InvalidArgument", message, "maxKeys", "-3", 400)


# ---- max-keys=0 ------------------------------------------------------------------------------

@pytest.mark.parametrize("operation", ["list_objects", "list_objects_v2", "list_object_versions"])
def test_max_keys_zero_is_an_empty_page_not_truncated(admin: AwsEnv, operation: str) -> None:
    """Ceph's s3-tests (test_bucket_list_maxkeys_zero, test_bucket_listv2_maxkeys_zero) as
    AWS answers: no keys and IsTruncated false. Skyhold said truncated, with nothing to go
    on from (no NextMarker, no token): a client following IsTruncated would loop."""
    s3 = _s3(admin)
    bucket = new_bucket(s3, "r14-zero", versioning="Enabled")
    for key in ("a", "b/c", "d"):
        s3.put_object(Bucket=bucket, Key=key, Body=b"x")
    out = getattr(s3, operation)(Bucket=bucket, MaxKeys=0, Delimiter="/")
    assert (out["MaxKeys"], out["IsTruncated"]) == (0, False)
    assert not {"Contents", "Versions", "DeleteMarkers", "CommonPrefixes"} & out.keys()
    assert not {"NextMarker", "NextContinuationToken", "NextKeyMarker", "NextVersionIdMarker"} & out.keys()
    if operation == "list_objects_v2":
        assert out["KeyCount"] == 0


# ---- ListObjectVersions: one listing order in the document -----------------------------------

def test_versions_and_delete_markers_interleave_in_listing_order(admin: AwsEnv) -> None:
    """S3 writes <Version> and <DeleteMarker> in listing order, a key's newest first
    (minio-go reads ListVersionsResult in document order to keep it). Skyhold wrote every
    <Version>, then every <DeleteMarker>."""
    s3 = _s3(admin)
    bucket = new_bucket(s3, "r14-interleave", versioning="Enabled")
    written = []
    for key, op in [("a", "put"), ("a", "delete"), ("a", "put"), ("b", "put"), ("b", "delete")]:
        if op == "put":
            written.append((key, "Version", s3.put_object(Bucket=bucket, Key=key, Body=b"x")["VersionId"]))
        else:
            written.append((key, "DeleteMarker", s3.delete_object(Bucket=bucket, Key=key)["VersionId"]))
    # Keys in order, each key's versions newest first.
    expected = sorted(written, key=lambda w: (w[0], -written.index(w)))
    status, body = _signed_get(admin, f"/{bucket}?versions")
    assert status == 200, body
    root = ET.fromstring(body)
    listed = [(e.findtext(f"{NS}Key"), e.tag[len(NS):], e.findtext(f"{NS}VersionId"))
              for e in root if e.tag in (f"{NS}Version", f"{NS}DeleteMarker")]
    assert listed == expected
    # Paged one by one, the same order; the SDK's two lists still hold every entry.
    paged, markers = [], {}
    while True:
        page = s3.list_object_versions(Bucket=bucket, MaxKeys=1, **markers)
        paged += [(v["Key"], "Version", v["VersionId"]) for v in page.get("Versions", [])]
        paged += [(d["Key"], "DeleteMarker", d["VersionId"]) for d in page.get("DeleteMarkers", [])]
        if not page["IsTruncated"]:
            break
        markers = {"KeyMarker": page["NextKeyMarker"], "VersionIdMarker": page["NextVersionIdMarker"]}
    assert paged == expected


# ---- continuation tokens Skyhold did not issue -------------------------------------------------

def test_a_continuation_token_not_issued_for_the_listing_is_incorrect(admin: AwsEnv) -> None:
    """Any base64 text passed as a token: Skyhold listed after what it decoded to ("Zm9v":
    after "foo"); S3 refuses a token it did not issue, as it refuses an empty one."""
    s3 = _s3(admin)
    bucket = new_bucket(s3, "r14-token")
    other = new_bucket(s3, "r14-token-other")
    for name in (bucket, other):
        for key in ("a", "foo", "z"):
            s3.put_object(Bucket=name, Key=key, Body=b"x")
    issued = s3.list_objects_v2(Bucket=other, MaxKeys=1)["NextContinuationToken"]
    for token in ("Zm9v", issued):
        err, status = error_and_status(lambda: s3.list_objects_v2(Bucket=bucket, ContinuationToken=token))
        assert (err["Code"], err["Message"], err["ArgumentName"], status) == (
            "InvalidArgument", "The continuation token provided is incorrect", "continuation-token", 400)
    # A token issued for the listing still pages through it.
    first = s3.list_objects_v2(Bucket=bucket, MaxKeys=1)
    rest = s3.list_objects_v2(Bucket=bucket, ContinuationToken=first["NextContinuationToken"])
    assert [o["Key"] for o in first["Contents"] + rest["Contents"]] == ["a", "foo", "z"]
