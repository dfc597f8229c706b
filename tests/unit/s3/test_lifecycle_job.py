"""The lifecycle job against a real store and blob store: what each action leaves
behind once Skyhold's clock has passed its due date."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from skyhold import clock
from skyhold.services.s3.lifecycle import LifecycleJob
from tests.unit.s3.conftest import S3Harness

BIG = b"x" * (128 * 1024)  # transitions leave smaller objects where they are, by default; bodies this
# size live in blobs (smaller ones inline in their records), so deleting them shows in blob_count

pytestmark = pytest.mark.usefixtures("moved_clock")


def _days(n: float) -> None:
    clock.set_offset(clock.offset().total_seconds() + n * 86400)


def _run(h: S3Harness) -> None:
    asyncio.run(LifecycleJob(h.pipeline).apply())


def _rules(h: S3Harness, bucket: str, *rules: dict[str, Any], **params: Any) -> None:
    full = [{"Status": "Enabled", "Filter": {}, **r} for r in rules]
    h.s3("PutBucketLifecycleConfiguration", Bucket=bucket, LifecycleConfiguration={"Rules": full}, **params)


def _keys(h: S3Harness, bucket: str) -> list[str]:
    return [o["Key"] for o in h.s3("ListObjectsV2", Bucket=bucket).get("Contents", [])]


def test_expiration_deletes_objects_and_their_blobs(h: S3Harness) -> None:
    h.bucket("exp")
    for key in ("logs/1", "logs/2", "keep"):
        h.s3("PutObject", Bucket="exp", Key=key, Body=BIG)
    _rules(h, "exp", {"ID": "logs", "Filter": {"Prefix": "logs/"}, "Expiration": {"Days": 1}},
           {"ID": "off", "Status": "Disabled", "Expiration": {"Days": 1}})
    blobs = h.blob_count()
    _run(h)
    assert _keys(h, "exp") == ["keep", "logs/1", "logs/2"]  # not due yet
    _days(2)
    _run(h)
    assert _keys(h, "exp") == ["keep"]
    assert h.blob_count() == blobs - 2
    assert h.s3_fails("GetObject", Bucket="exp", Key="logs/1").code == "NoSuchKey"


def test_date_in_the_past_expires_at_once(h: S3Harness) -> None:
    h.bucket("dated")
    h.s3("PutObject", Bucket="dated", Key="k", Body=b"x")
    midnight = clock.now().replace(hour=0, minute=0, second=0, microsecond=0)
    _rules(h, "dated", {"ID": "d", "Expiration": {"Date": midnight}})
    _run(h)
    assert _keys(h, "dated") == []


def test_versioned_expiration_adds_a_delete_marker_then_noncurrent_versions_go(h: S3Harness) -> None:
    h.bucket("ver", versioned=True)
    for n in (b"1", b"2", b"3", b"4"):
        h.s3("PutObject", Bucket="ver", Key="k", Body=n + BIG)
    _rules(h, "ver", {"ID": "cur", "Expiration": {"Days": 10}},
           {"ID": "old", "NoncurrentVersionExpiration": {"NoncurrentDays": 2, "NewerNoncurrentVersions": 1}})
    blobs = h.blob_count()
    _days(3)
    _run(h)
    versions = h.s3("ListObjectVersions", Bucket="ver")["Versions"]
    # the newest noncurrent version stays (NewerNoncurrentVersions 1), the older two go
    assert len(versions) == 2 and versions[0]["IsLatest"] is True
    assert h.blob_count() == blobs - 2
    _days(8)
    _run(h)
    out = h.s3("ListObjectVersions", Bucket="ver")
    assert [m["IsLatest"] for m in out["DeleteMarkers"]] == [True]
    assert len(out["Versions"]) == 2 and not any(v["IsLatest"] for v in out["Versions"])
    assert h.s3_fails("GetObject", Bucket="ver", Key="k").code == "NoSuchKey"
    assert h.blob_count() == blobs - 2  # a delete marker deletes no data


def test_expired_object_delete_marker_goes_once_alone(h: S3Harness) -> None:
    h.bucket("marks", versioned=True)
    h.s3("PutObject", Bucket="marks", Key="k", Body=b"1")
    h.s3("DeleteObject", Bucket="marks", Key="k")
    _rules(h, "marks", {"ID": "m", "Expiration": {"ExpiredObjectDeleteMarker": True}},
           {"ID": "n", "Filter": {"Prefix": "k"}, "NoncurrentVersionExpiration": {"NoncurrentDays": 1}})
    _days(0.5)
    _run(h)
    assert len(h.s3("ListObjectVersions", Bucket="marks")["DeleteMarkers"]) == 1
    _days(2)
    _run(h)  # the noncurrent version goes, and the marker, left alone, with it
    out = h.s3("ListObjectVersions", Bucket="marks")
    assert "Versions" not in out and "DeleteMarkers" not in out


def test_suspended_bucket_expiry_replaces_the_null_version_with_a_null_marker(h: S3Harness) -> None:
    h.bucket("susp", versioned=True)
    kept = h.s3("PutObject", Bucket="susp", Key="k", Body=b"v")["VersionId"]
    h.s3("PutBucketVersioning", Bucket="susp", VersioningConfiguration={"Status": "Suspended"})
    h.s3("PutObject", Bucket="susp", Key="k", Body=b"null")
    _rules(h, "susp", {"ID": "e", "Expiration": {"Days": 1}})
    _days(2)
    _run(h)
    out = h.s3("ListObjectVersions", Bucket="susp")
    assert [m["VersionId"] for m in out["DeleteMarkers"]] == ["null"]
    assert [v["VersionId"] for v in out["Versions"]] == [kept]


def test_transitions_change_the_storage_class_and_archived_objects_refuse_get(h: S3Harness) -> None:
    h.bucket("cold")
    h.s3("PutObject", Bucket="cold", Key="big", Body=BIG)
    h.s3("PutObject", Bucket="cold", Key="small", Body=b"x")
    _rules(h, "cold", {"ID": "t", "Transitions": [{"Days": 30, "StorageClass": "STANDARD_IA"},
                                                   {"Days": 60, "StorageClass": "GLACIER"}]})
    _days(31)
    _run(h)
    classes = {o["Key"]: o["StorageClass"] for o in h.s3("ListObjectsV2", Bucket="cold")["Contents"]}
    assert classes == {"big": "STANDARD_IA", "small": "STANDARD"}
    assert h.s3("HeadObject", Bucket="cold", Key="big")["StorageClass"] == "STANDARD_IA"
    h.s3("GetObject", Bucket="cold", Key="big")  # infrequent access is still access
    _days(30)
    _run(h)
    assert h.s3("HeadObject", Bucket="cold", Key="big")["StorageClass"] == "GLACIER"
    err = h.s3_fails("GetObject", Bucket="cold", Key="big")
    assert (err.code, err.status, err.extra) == ("InvalidObjectState", 403, {"StorageClass": "GLACIER"})
    assert err.message == "The operation is not valid for the object's storage class"
    err = h.s3_fails("CopyObject", Bucket="cold", Key="thawed", CopySource="cold/big")  # no way round it
    assert (err.code, err.status) == ("ObjectNotInActiveTierError", 403)


def test_noncurrent_versions_transition(h: S3Harness) -> None:
    h.bucket("ncold", versioned=True)
    old = h.s3("PutObject", Bucket="ncold", Key="k", Body=BIG)["VersionId"]
    h.s3("PutObject", Bucket="ncold", Key="k", Body=BIG)
    _rules(h, "ncold", {"ID": "nt", "NoncurrentVersionTransitions": [{"NoncurrentDays": 5,
                                                                       "StorageClass": "DEEP_ARCHIVE"}]})
    _days(6)
    _run(h)
    classes = {v["VersionId"]: v["StorageClass"] for v in h.s3("ListObjectVersions", Bucket="ncold")["Versions"]}
    assert classes[old] == "DEEP_ARCHIVE"
    assert sorted(classes.values()) == ["DEEP_ARCHIVE", "STANDARD"]
    assert h.s3_fails("GetObject", Bucket="ncold", Key="k", VersionId=old).code == "InvalidObjectState"


def test_incomplete_multipart_uploads_are_aborted(h: S3Harness) -> None:
    h.bucket("mpu")
    upload = h.s3("CreateMultipartUpload", Bucket="mpu", Key="up/big")["UploadId"]
    h.s3("UploadPart", Bucket="mpu", Key="up/big", UploadId=upload, PartNumber=1, Body=BIG)
    other = h.s3("CreateMultipartUpload", Bucket="mpu", Key="elsewhere")["UploadId"]
    _rules(h, "mpu", {"ID": "a", "Filter": {"Prefix": "up/"}, "AbortIncompleteMultipartUpload": {
        "DaysAfterInitiation": 1}})
    blobs = h.blob_count()
    _days(2)
    _run(h)
    assert [u["UploadId"] for u in h.s3("ListMultipartUploads", Bucket="mpu")["Uploads"]] == [other]
    assert h.s3_fails("ListParts", Bucket="mpu", Key="up/big", UploadId=upload).code == "NoSuchUpload"
    assert h.blob_count() == blobs - 1


def test_expiration_header_names_the_rule_and_date(h: S3Harness) -> None:
    h.bucket("hdr", versioned=True)
    _rules(h, "hdr", {"ID": "soon", "Filter": {"Prefix": "a"}, "Expiration": {"Days": 2}})
    put = h.s3("PutObject", Bucket="hdr", Key="a1", Body=b"x")
    assert put["Expiration"].endswith('rule-id="soon"') and put["Expiration"].startswith('expiry-date="')
    head = h.s3("HeadObject", Bucket="hdr", Key="a1")
    assert head["Expiration"] == put["Expiration"]
    assert "Expiration" not in h.s3("HeadObject", Bucket="hdr", Key="a1", VersionId=put["VersionId"])
    assert "Expiration" not in h.s3("PutObject", Bucket="hdr", Key="b1", Body=b"x")
    copied = h.s3("CopyObject", Bucket="hdr", Key="a2", CopySource="hdr/b1")
    assert copied["Expiration"].endswith('rule-id="soon"')
