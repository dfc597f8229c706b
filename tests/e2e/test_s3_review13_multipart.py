"""Multipart uploads, review 13: what earlier rounds missed, checked against S3's
recorded answers (conditional completion after a conflicting write, the checksum
settings ListMultipartUploads lists, its markers, and the list limits S3 refuses)."""

from __future__ import annotations

import filecmp
from pathlib import Path
from typing import Any

import pytest

from .conftest import AwsEnv, error_and_status, new_bucket

CONFLICT = "The conditional request cannot succeed due to a conflicting operation against this resource."
PRECONDITION = "At least one of the pre-conditions you specified did not hold"


def _s3(admin: AwsEnv) -> Any:
    return admin.client("s3", region_name="us-east-1")


def _one_part_upload(s3: Any, bucket: str, key: str) -> tuple[str, list[dict[str, Any]]]:
    upload_id = s3.create_multipart_upload(Bucket=bucket, Key=key)["UploadId"]
    etag = s3.upload_part(Bucket=bucket, Key=key, UploadId=upload_id, PartNumber=1, Body=b"test")["ETag"]
    return upload_id, [{"ETag": etag, "PartNumber": 1}]


def _complete(s3: Any, bucket: str, key: str, upload_id: str, parts: list[dict[str, Any]], **kw: Any) -> Any:
    return s3.complete_multipart_upload(Bucket=bucket, Key=key, UploadId=upload_id,
                                        MultipartUpload={"Parts": parts}, **kw)


@pytest.mark.parametrize("versioning", [None, "Enabled"])
def test_conditional_completion_after_a_delete_conflicts(admin: AwsEnv, versioning: str | None) -> None:
    """If-None-Match: * holds at completion, but the key was deleted after the upload
    began: S3 answers 409 ConditionalRequestConflict; a new upload then succeeds."""
    s3 = _s3(admin)
    bucket = new_bucket(s3, "r13-cond-del", versioning)
    key = "test-precondition"
    s3.put_object(Bucket=bucket, Key=key, IfNoneMatch="*")
    upload_id, parts = _one_part_upload(s3, bucket, key)
    err, status = error_and_status(lambda: _complete(s3, bucket, key, upload_id, parts, IfNoneMatch="*"))
    assert (err["Code"], err["Message"], err["Condition"], status) == (
        "PreconditionFailed", PRECONDITION, "If-None-Match", 412)
    s3.delete_object(Bucket=bucket, Key=key)
    err, status = error_and_status(lambda: _complete(s3, bucket, key, upload_id, parts, IfNoneMatch="*"))
    assert (err["Code"], err["Message"], err["Condition"], err["Key"], status) == (
        "ConditionalRequestConflict", CONFLICT, "If-None-Match", key, 409)
    upload_id, parts = _one_part_upload(s3, bucket, key)
    assert _complete(s3, bucket, key, upload_id, parts, IfNoneMatch="*")["ETag"].endswith('-1"')


def test_conditional_completion_after_an_overwrite_conflicts(admin: AwsEnv) -> None:
    """If-Match on the current ETag, the object rewritten (same body, same ETag) after the
    upload began: 409; an ETag that no longer matches is still 412 first."""
    s3 = _s3(admin)
    bucket = new_bucket(s3, "r13-cond-put")
    key = "test-precondition"
    first = s3.put_object(Bucket=bucket, Key=key, Body=b"test")["ETag"]
    upload_id, parts = _one_part_upload(s3, bucket, key)
    second = s3.put_object(Bucket=bucket, Key=key, Body=b"test2")["ETag"]
    err, status = error_and_status(lambda: _complete(s3, bucket, key, upload_id, parts, IfMatch=first))
    assert (err["Code"], err["Condition"], status) == ("PreconditionFailed", "If-Match", 412)
    err, status = error_and_status(lambda: _complete(s3, bucket, key, upload_id, parts, IfMatch=second))
    assert (err["Code"], err["Message"], err["Condition"], err["Key"], status) == (
        "ConditionalRequestConflict", CONFLICT, "If-Match", key, 409)
    # The same body again: the ETag is unchanged, the write still conflicts.
    upload_id, parts = _one_part_upload(s3, bucket, key)
    assert s3.put_object(Bucket=bucket, Key=key, Body=b"test2")["ETag"] == second
    err, status = error_and_status(lambda: _complete(s3, bucket, key, upload_id, parts, IfMatch=second))
    assert (err["Code"], status) == ("ConditionalRequestConflict", 409)
    # Nothing written in between: the conditional completion succeeds.
    upload_id, parts = _one_part_upload(s3, bucket, key)
    _complete(s3, bucket, key, upload_id, parts, IfMatch=second)
    assert s3.head_object(Bucket=bucket, Key=key)["ETag"].endswith('-1"')


def test_conditional_completion_after_delete_then_put_conflicts(admin: AwsEnv) -> None:
    s3 = _s3(admin)
    bucket = new_bucket(s3, "r13-cond-delput")
    key = "test-precondition"
    etag = s3.put_object(Bucket=bucket, Key=key, Body=b"test")["ETag"]
    upload_id, parts = _one_part_upload(s3, bucket, key)
    s3.delete_object(Bucket=bucket, Key=key)
    err, status = error_and_status(lambda: _complete(s3, bucket, key, upload_id, parts, IfMatch=etag))
    assert (err["Code"], err["Key"], status) == ("NoSuchKey", key, 404)
    again = s3.put_object(Bucket=bucket, Key=key, Body=b"test")["ETag"]
    err, status = error_and_status(lambda: _complete(s3, bucket, key, upload_id, parts, IfMatch=again))
    assert (err["Code"], err["Condition"], status) == ("ConditionalRequestConflict", "If-Match", 409)


def test_unconditional_completion_ignores_writes_in_between(admin: AwsEnv) -> None:
    s3 = _s3(admin)
    bucket = new_bucket(s3, "r13-uncond")
    key = "k"
    s3.put_object(Bucket=bucket, Key=key, Body=b"before")
    upload_id, parts = _one_part_upload(s3, bucket, key)
    s3.put_object(Bucket=bucket, Key=key, Body=b"during")
    _complete(s3, bucket, key, upload_id, parts)
    assert s3.get_object(Bucket=bucket, Key=key)["Body"].read() == b"test"


def test_list_multipart_uploads_shows_each_uploads_checksum_settings(admin: AwsEnv) -> None:
    s3 = _s3(admin)
    bucket = new_bucket(s3, "r13-lmu-cks")
    s3.create_multipart_upload(Bucket=bucket, Key="a-composite", ChecksumAlgorithm="CRC32", ChecksumType="COMPOSITE")
    s3.create_multipart_upload(Bucket=bucket, Key="b-full", ChecksumAlgorithm="CRC32C", ChecksumType="FULL_OBJECT")
    s3.create_multipart_upload(Bucket=bucket, Key="c-sha", ChecksumAlgorithm="SHA256")
    s3.create_multipart_upload(Bucket=bucket, Key="d-none")
    uploads = {u["Key"]: u for u in s3.list_multipart_uploads(Bucket=bucket)["Uploads"]}
    seen = {k: (u.get("ChecksumAlgorithm"), u.get("ChecksumType")) for k, u in uploads.items()}
    assert seen == {"a-composite": ("CRC32", "COMPOSITE"), "b-full": ("CRC32C", "FULL_OBJECT"),
                    "c-sha": ("SHA256", "COMPOSITE"), "d-none": (None, None)}


def test_list_multipart_uploads_ignores_an_upload_id_marker_without_key_marker(admin: AwsEnv) -> None:
    s3 = _s3(admin)
    bucket = new_bucket(s3, "r13-lmu-idm")
    for key in ("test_b", "test_a", "test_a"):
        s3.create_multipart_upload(Bucket=bucket, Key=key)
    first = s3.list_multipart_uploads(Bucket=bucket, MaxUploads=1)
    out = s3.list_multipart_uploads(Bucket=bucket, MaxUploads=1, UploadIdMarker=first["NextUploadIdMarker"])
    # The marker is ignored, so neither echoed: the listing starts over.
    assert (out["KeyMarker"], out["UploadIdMarker"]) == ("", "")
    assert out["Uploads"][0]["UploadId"] == first["Uploads"][0]["UploadId"]
    assert out["IsTruncated"] is True


@pytest.mark.parametrize("param,name", [("MaxParts", "max-parts"), ("PartNumberMarker", "part-number-marker")])
@pytest.mark.parametrize("value,message", [
    (-3, "Argument {name} must be an integer between 0 and 2147483647"),
    (2**31, "Provided {name} not an integer or within integer range"),
])
def test_list_parts_refuses_a_limit_out_of_range(admin: AwsEnv, param: str, name: str, value: int,
                                                  message: str) -> None:
    s3 = admin.unchecked_client("s3", region_name="us-east-1")
    bucket = new_bucket(s3, "r13-lp-range")
    upload_id, _ = _one_part_upload(s3, bucket, "k")
    err, status = error_and_status(lambda: s3.list_parts(Bucket=bucket, Key="k", UploadId=upload_id,
                                                         **{param: value}))
    assert (err["Code"], err["Message"], status) == ("InvalidArgument", message.format(name=name), 400)
    assert (err["ArgumentName"], err["ArgumentValue"]) == (name, str(value))


def test_list_multipart_uploads_refuses_a_negative_max_uploads(admin: AwsEnv) -> None:
    s3 = admin.unchecked_client("s3", region_name="us-east-1")
    bucket = new_bucket(s3, "r13-lmu-neg")
    s3.create_multipart_upload(Bucket=bucket, Key="k")
    err, status = error_and_status(lambda: s3.list_multipart_uploads(Bucket=bucket, MaxUploads=-1))
    assert (err["Code"], err["Message"], status) == (
        "InvalidArgument", "Argument max-uploads must be an integer between 0 and 2147483647", 400)
    assert (err["ArgumentName"], err["ArgumentValue"]) == ("max-uploads", "-1")


def test_cli_multipart_round_trip_with_default_checksums(admin: AwsEnv, tmp_path: Path) -> None:
    """`aws s3 cp` of a 20 MiB file: a multipart upload with the SDK's default CRC32
    (COMPOSITE, "-3"), read back with checksum validation on."""
    s3 = _s3(admin)
    bucket = new_bucket(s3, "r13-cli")
    src, back = tmp_path / "src.bin", tmp_path / "back.bin"
    src.write_bytes(bytes(range(256)) * (20 * 4096) + b"tail")
    up = admin.aws("s3", "cp", str(src), f"s3://{bucket}/big.bin")
    assert up.returncode == 0, up.stderr
    head = s3.head_object(Bucket=bucket, Key="big.bin", ChecksumMode="ENABLED")
    assert head["ETag"].endswith('-3"') and head["ChecksumType"] == "COMPOSITE"
    assert head["ChecksumCRC32"].endswith("-3")
    down = admin.aws("s3", "cp", f"s3://{bucket}/big.bin", str(back))
    assert down.returncode == 0, down.stderr
    assert filecmp.cmp(src, back, shallow=False)


@pytest.mark.parametrize("versioning", [None, "Enabled"])
def test_completing_an_upload_again_answers_as_the_first_time(admin: AwsEnv, versioning: str | None) -> None:
    """S3's CompleteMultipartUpload is idempotent (an SDK retries it after a lost answer):
    while the key still holds the object the upload made, a repeat answers the same."""
    s3 = _s3(admin)
    bucket = new_bucket(s3, "r13-again", versioning)
    key = "again"
    upload_id = s3.create_multipart_upload(Bucket=bucket, Key=key, ChecksumAlgorithm="SHA256")["UploadId"]
    part = s3.upload_part(Bucket=bucket, Key=key, UploadId=upload_id, PartNumber=1, Body=b"abc",
                          ChecksumAlgorithm="SHA256")
    parts = [{"ETag": part["ETag"], "PartNumber": 1, "ChecksumSHA256": part["ChecksumSHA256"]}]
    fields = ("Location", "Bucket", "Key", "ETag", "ChecksumSHA256", "ChecksumType", "VersionId",
              "ServerSideEncryption")
    first = _complete(s3, bucket, key, upload_id, parts)
    second = _complete(s3, bucket, key, upload_id, parts)
    assert {f: second.get(f) for f in fields} == {f: first.get(f) for f in fields}
    assert ("VersionId" in second) == (versioning == "Enabled")
    # Once the key holds another object, the upload is gone for good.
    s3.put_object(Bucket=bucket, Key=key, Body=b"other")
    err, status = error_and_status(lambda: _complete(s3, bucket, key, upload_id, parts))
    assert (err["Code"], err["UploadId"], status) == ("NoSuchUpload", upload_id, 404)
    # An upload of another key is no completed upload of this one.
    err, status = error_and_status(lambda: _complete(s3, bucket, "elsewhere", upload_id, parts))
    assert (err["Code"], status) == ("NoSuchUpload", 404)
