"""Multipart uploads, listings and presigned URLs: the errors S3 answers, as recorded
from AWS (code, message, status and the extra <Error> fields)."""

from __future__ import annotations

import base64
import hashlib
import urllib.error
import urllib.request
import zlib
from typing import Any

import pytest
from botocore.config import Config

from .conftest import AwsEnv, error_and_status, new_bucket

MIB = 1024 * 1024


def _s3(admin: AwsEnv) -> Any:
    return admin.client("s3", region_name="us-east-1")


def _crc32(data: bytes) -> str:
    return base64.b64encode(zlib.crc32(data).to_bytes(4, "big")).decode()


def _upload(s3: Any, bucket: str, key: str, body: bytes, **create: Any) -> tuple[str, dict[str, Any]]:
    upload_id = s3.create_multipart_upload(Bucket=bucket, Key=key, **create)["UploadId"]
    part = s3.upload_part(Bucket=bucket, Key=key, UploadId=upload_id, PartNumber=1, Body=body)
    return upload_id, part


INVALID_PART = ("One or more of the specified parts could not be found.  The part may not have been uploaded, or "
                "the specified entity tag may not match the part's entity tag.")


def test_complete_errors_name_the_upload_and_part(admin: AwsEnv) -> None:
    s3 = _s3(admin)
    bucket = new_bucket(s3, "mpu-complete")
    key = "test-upload-part-exc"
    upload_id, part = _upload(s3, bucket, key, b"data")
    s3.upload_part(Bucket=bucket, Key=key, UploadId=upload_id, PartNumber=2, Body=b"data")
    bare = part["ETag"].strip('"')
    # No body at all: S3 asks for a part (not MalformedXML).
    err, status = error_and_status(lambda: s3.complete_multipart_upload(Bucket=bucket, Key=key, UploadId=upload_id))
    assert (err["Code"], err["Message"], status) == ("InvalidRequest", "You must specify at least one part", 400)
    # A part that is not there: the ETag comes back without its quotes, and the upload id.
    err, status = error_and_status(lambda: s3.complete_multipart_upload(
        Bucket=bucket, Key=key, UploadId=upload_id,
        MultipartUpload={"Parts": [{"ETag": part["ETag"], "PartNumber": 3}]}))
    assert (err["Code"], err["Message"], status) == ("InvalidPart", INVALID_PART, 400)
    assert (err["ETag"], err["PartNumber"], err["UploadId"]) == (bare, "3", upload_id)
    err, status = error_and_status(lambda: s3.complete_multipart_upload(
        Bucket=bucket, Key=key, UploadId=upload_id,
        MultipartUpload={"Parts": [{"ETag": part["ETag"], "PartNumber": 2}, {"ETag": part["ETag"], "PartNumber": 1}]}))
    assert (err["Code"], err["Message"], err["UploadId"], status) == (
        "InvalidPartOrder",
        "The list of parts was not in ascending order. Parts must be ordered by part number.", upload_id, 400)
    # Too small: names the part that is.
    parts = [{"ETag": part["ETag"], "PartNumber": 1}, {"ETag": part["ETag"], "PartNumber": 2}]
    err, status = error_and_status(lambda: s3.complete_multipart_upload(
        Bucket=bucket, Key=key, UploadId=upload_id, MultipartUpload={"Parts": parts}))
    assert (err["Code"], err["Message"], status) == (
        "EntityTooSmall", "Your proposed upload is smaller than the minimum allowed size", 400)
    assert (err["ProposedSize"], err["MinSizeAllowed"], err["PartNumber"], err["ETag"]) == (
        "4", "5242880", "1", bare)


def test_complete_checks_the_declared_object_size(admin: AwsEnv) -> None:
    s3 = _s3(admin)
    bucket = new_bucket(s3, "mpu-size")
    upload_id, part = _upload(s3, bucket, "k", b"aaaa")
    parts = {"Parts": [{"ETag": part["ETag"], "PartNumber": 1}]}
    err, status = error_and_status(lambda: s3.complete_multipart_upload(
        Bucket=bucket, Key="k", UploadId=upload_id, MultipartUpload=parts, MpuObjectSize=5))
    assert (err["Code"], err["Message"], status) == (
        "InvalidRequest", "The provided 'x-amz-mp-object-size' header value 5 does not match what was computed: 4", 400)
    s3.complete_multipart_upload(Bucket=bucket, Key="k", UploadId=upload_id, MultipartUpload=parts, MpuObjectSize=4)


@pytest.mark.parametrize(("create", "message"), [
    ({"ChecksumAlgorithm": "TEST"}, "Checksum algorithm provided is unsupported. Please try again with any of the "
                                    "valid types: [CRC32, CRC32C, CRC64NVME, MD5, SHA1, SHA256, SHA512, XXHASH128, "
                                    "XXHASH3, XXHASH64]"),  # ten since April 2026
    ({"ChecksumType": "COMPOSITE"},
     "The x-amz-checksum-type header can only be used with the x-amz-checksum-algorithm header."),
    ({"ChecksumType": "FULL_OBJECT"},
     "The x-amz-checksum-type header can only be used with the x-amz-checksum-algorithm header."),
    ({"ChecksumAlgorithm": "SHA1", "ChecksumType": "FULL_OBJECT"},
     "The FULL_OBJECT checksum type cannot be used with the sha1 checksum algorithm."),
    ({"ChecksumAlgorithm": "SHA256", "ChecksumType": "FULL_OBJECT"},
     "The FULL_OBJECT checksum type cannot be used with the sha256 checksum algorithm."),
    ({"ChecksumAlgorithm": "CRC64NVME", "ChecksumType": "COMPOSITE"},
     "The COMPOSITE checksum type cannot be used with the crc64nvme checksum algorithm."),
])
def test_create_refuses_checksum_settings_s3_refuses(admin: AwsEnv, create: dict[str, str], message: str) -> None:
    s3 = _s3(admin)
    bucket = new_bucket(s3, "mpu-cks-create")
    err, status = error_and_status(lambda: s3.create_multipart_upload(Bucket=bucket, Key="k", **create))
    assert (err["Code"], err["Message"], status) == ("InvalidRequest", message, 400)


def test_composite_upload_checks_part_checksums(admin: AwsEnv) -> None:
    s3 = _s3(admin)
    bucket = new_bucket(s3, "mpu-cks-comp")
    # The SDK checksums the part with CRC32 by default: the upload's algorithm.
    upload_id, part = _upload(s3, bucket, "k", b"abc", ChecksumAlgorithm="CRC32", ChecksumType="COMPOSITE")
    etag = part["ETag"]

    def complete(item: dict[str, Any], **kw: Any) -> Any:
        return s3.complete_multipart_upload(Bucket=bucket, Key="k", UploadId=upload_id,
                                            MultipartUpload={"Parts": [{"ETag": etag, "PartNumber": 1, **item}]}, **kw)

    sha = base64.b64encode(hashlib.sha256(b"abc").digest()).decode()
    err, status = error_and_status(lambda: complete({"ChecksumSHA256": sha}))
    assert (err["Code"], err["Message"], status) == (
        "BadDigest", "The sha256 you specified for part 1 did not match what we received.", 400)
    err, status = error_and_status(lambda: complete({}, ChecksumType="FULL_OBJECT"))
    assert (err["Code"], err["Message"], status) == (
        "InvalidRequest", "The upload was created using the COMPOSITE checksum mode. The complete request must use "
                          "the same checksum mode.", 400)
    err, status = error_and_status(lambda: complete({}))
    assert (err["Code"], err["Message"], status) == (
        "InvalidRequest", "The upload was created using a crc32 checksum. The complete request must include the "
                          "checksum for each part. It was missing for part 1 in the request.", 400)
    err, status = error_and_status(lambda: complete({"ChecksumCRC32": _crc32(b"bbb")}))
    assert (err["Code"], err["Message"], err["PartNumber"], err["UploadId"], status) == (
        "InvalidPart", INVALID_PART, "1", upload_id, 400)
    done = complete({"ChecksumCRC32": part["ChecksumCRC32"]})
    assert done["ChecksumType"] == "COMPOSITE"
    # A part checksummed otherwise than the upload says is refused before its body is read.
    upload_id = s3.create_multipart_upload(Bucket=bucket, Key="k2", ChecksumAlgorithm="SHA256")["UploadId"]
    err, status = error_and_status(lambda: s3.upload_part(Bucket=bucket, Key="k2", UploadId=upload_id, PartNumber=1,
                                                Body=b"abc", ChecksumAlgorithm="CRC32"))
    assert (err["Code"], err["Message"], status) == (
        "InvalidRequest", "Checksum Type mismatch occurred, expected checksum Type: sha256, actual checksum Type: "
                          "crc32", 400)


def test_upload_without_checksum_refuses_part_checksums_and_modes(admin: AwsEnv) -> None:
    s3 = _s3(admin)
    bucket = new_bucket(s3, "mpu-cks-null")
    upload_id, part = _upload(s3, bucket, "k", b"aaa")
    etag = part["ETag"]
    err, status = error_and_status(lambda: s3.complete_multipart_upload(
        Bucket=bucket, Key="k", UploadId=upload_id,
        MultipartUpload={"Parts": [{"ETag": etag, "PartNumber": 1, "ChecksumCRC32": part["ChecksumCRC32"]}]}))
    assert (err["Code"], err["PartNumber"], err["UploadId"], status) == ("InvalidPart", "1", upload_id, 400)
    for mode in ("FULL_OBJECT", "COMPOSITE"):
        err, status = error_and_status(lambda: s3.complete_multipart_upload(
            Bucket=bucket, Key="k", UploadId=upload_id, ChecksumType=mode,
            MultipartUpload={"Parts": [{"ETag": etag, "PartNumber": 1}]}))
        assert (err["Code"], err["Message"], status) == (
            "InvalidRequest", "The upload was created using the null checksum mode. The complete request must use "
                              "the same checksum mode.", 400)


def test_full_object_crc_is_combined_and_checked(admin: AwsEnv) -> None:
    s3 = _s3(admin)
    bucket = new_bucket(s3, "mpu-cks-full")
    first, last = b"a" * (5 * MIB + 1), b"tail bytes"
    upload_id = s3.create_multipart_upload(Bucket=bucket, Key="k", ChecksumAlgorithm="CRC32",
                                           ChecksumType="FULL_OBJECT")["UploadId"]
    parts = []
    for number, body in ((1, first), (2, last)):
        r = s3.upload_part(Bucket=bucket, Key="k", UploadId=upload_id, PartNumber=number, Body=body,
                           ChecksumAlgorithm="CRC32")
        parts.append({"ETag": r["ETag"], "PartNumber": number})
    whole = _crc32(first + last)

    def complete(**kw: Any) -> Any:
        return s3.complete_multipart_upload(Bucket=bucket, Key="k", UploadId=upload_id,
                                            MultipartUpload={"Parts": parts}, **kw)

    bad_digest = ("BadDigest", "The crc32 you specified did not match the calculated checksum.", 400)
    err, status = error_and_status(lambda: complete(ChecksumType="COMPOSITE"))
    assert (err["Code"], err["Message"], status) == (
        "InvalidRequest", "The upload was created using the FULL_OBJECT checksum mode. The complete request must use "
                          "the same checksum mode.", 400)
    err, status = error_and_status(lambda: complete(ChecksumCRC32=_crc32(b"bad"), ChecksumType="FULL_OBJECT"))
    assert (err["Code"], err["Message"], status) == bad_digest
    err, status = error_and_status(lambda: complete(ChecksumCRC32=whole))  # right value, but not said to be FULL_OBJECT
    assert (err["Code"], err["Message"], status) == bad_digest
    done = complete(ChecksumCRC32=whole, ChecksumType="FULL_OBJECT")
    assert (done["ChecksumCRC32"], done["ChecksumType"]) == (whole, "FULL_OBJECT")
    head = s3.head_object(Bucket=bucket, Key="k", ChecksumMode="ENABLED")
    assert head["ChecksumCRC32"] == whole


@pytest.mark.parametrize(("copy_range", "code", "message"), [
    ("bytes=1-", "InvalidArgument", "FORMAT"),
    ("bytes=-2", "InvalidArgument", "FORMAT"),
    ("bytes=-0", "InvalidArgument", "FORMAT"),
    ("bytes=0-100", "InvalidArgument", "Range specified is not valid for source object of size: 10"),
    ("bytes=100-200", "InvalidRequest", "The specified copy range is invalid for the source object size"),
])
def test_upload_part_copy_range_must_be_first_last_inside_the_source(
        admin: AwsEnv, copy_range: str, code: str, message: str) -> None:
    s3 = _s3(admin)
    bucket = new_bucket(s3, "mpu-copy-range")
    s3.put_object(Bucket=bucket, Key="src", Body=b"0123456789")
    upload_id = s3.create_multipart_upload(Bucket=bucket, Key="dst")["UploadId"]
    err, status = error_and_status(lambda: s3.upload_part_copy(Bucket=bucket, Key="dst", UploadId=upload_id, PartNumber=1,
                                                     CopySource=f"{bucket}/src", CopySourceRange=copy_range))
    if message == "FORMAT":
        message = ("The x-amz-copy-source-range value must be of the form bytes=first-last where first and last are "
                   "the zero-based offsets of the first and last bytes to copy")
    assert (err["Code"], err["Message"], status) == (code, message, 400)
    if code == "InvalidArgument":
        assert (err["ArgumentName"], err["ArgumentValue"]) == ("x-amz-copy-source-range", copy_range)
    copied = s3.upload_part_copy(Bucket=bucket, Key="dst", UploadId=upload_id, PartNumber=1,
                                 CopySource=f"{bucket}/src", CopySourceRange="bytes=0-9")
    assert copied["CopyPartResult"]["ETag"] == s3.head_object(Bucket=bucket, Key="src")["ETag"]


@pytest.mark.parametrize("operation", ["list_objects_v2", "list_objects", "list_object_versions",
                                       "list_multipart_uploads"])
@pytest.mark.parametrize("value", ["value", ""])
def test_list_encoding_type_other_than_url(admin: AwsEnv, operation: str, value: str) -> None:
    s3 = _s3(admin)
    bucket = new_bucket(s3, "list-encoding")
    unchecked = admin.unchecked_client("s3", region_name="us-east-1")
    err, status = error_and_status(lambda: getattr(unchecked, operation)(Bucket=bucket, EncodingType=value))
    assert (err["Code"], err["Message"], err["ArgumentName"], status) == (
        "InvalidArgument", "Invalid Encoding Method specified in Request", "encoding-type", 400)
    assert err["ArgumentValue"] == (value or None)  # empty: the element is there, empty
    getattr(unchecked, operation)(Bucket=bucket, EncodingType="url")


def test_list_objects_v2_empty_continuation_token(admin: AwsEnv) -> None:
    s3 = _s3(admin)
    bucket = new_bucket(s3, "list-token")
    err, status = error_and_status(lambda: s3.list_objects_v2(Bucket=bucket, ContinuationToken=""))
    assert (err["Code"], err["Message"], err["ArgumentName"], "ArgumentValue" in err, status) == (
        "InvalidArgument", "The continuation token provided is incorrect", "continuation-token", False, 400)


def test_list_object_versions_version_marker_needs_key_marker(admin: AwsEnv) -> None:
    s3 = _s3(admin)
    bucket = new_bucket(s3, "list-vmarker")
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    version = s3.put_object(Bucket=bucket, Key="k", Body=b"v")["VersionId"]
    err, status = error_and_status(lambda: s3.list_object_versions(Bucket=bucket, MaxKeys=1, VersionIdMarker=version))
    assert (err["Code"], err["Message"], err["ArgumentName"], err["ArgumentValue"], status) == (
        "InvalidArgument", "A version-id marker cannot be specified without a key marker.", "version-id-marker",
        version, 400)
    listed = s3.list_object_versions(Bucket=bucket, KeyMarker="k", VersionIdMarker=version)
    assert "Versions" not in listed


def test_list_multipart_uploads_upload_id_marker_of_another_key(admin: AwsEnv) -> None:
    s3 = _s3(admin)
    bucket = new_bucket(s3, "list-mpu-marker")
    ids = {key: s3.create_multipart_upload(Bucket=bucket, Key=key)["UploadId"] for key in ("test_c", "test_b")}
    err, status = error_and_status(lambda: s3.list_multipart_uploads(Bucket=bucket, MaxUploads=1, KeyMarker="test_c",
                                                           UploadIdMarker=ids["test_b"]))
    assert (err["Code"], err["Message"], err["ArgumentName"], err["ArgumentValue"], status) == (
        "InvalidArgument", "Invalid uploadId marker", "upload-id-marker", ids["test_b"], 400)
    listed = s3.list_multipart_uploads(Bucket=bucket, KeyMarker="test_b", UploadIdMarker=ids["test_b"])
    assert [u["Key"] for u in listed["Uploads"]] == ["test_c"]


def _put(url: str, headers: dict[str, str]) -> tuple[int, str]:
    req = urllib.request.Request(url, data=b"content 123", method="PUT", headers=headers)
    try:
        with urllib.request.urlopen(req) as r:
            return r.status, r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode()


@pytest.mark.parametrize(("params", "extra", "unsigned"), [
    # A signed x-amz-meta-foo left out *and* an unsigned one added: HeadersNotSigned wins.
    ({"Metadata": {"foo": "bar"}}, {"x-amz-meta-wrong": "wrong"}, "x-amz-meta-wrong"),
    ({"RequestPayer": "requester"}, {"x-amz-expires": "5"}, "x-amz-expires"),
])
def test_presigned_url_unsigned_headers_refused_before_the_signature(
        admin: AwsEnv, params: dict[str, Any], extra: dict[str, str], unsigned: str) -> None:
    s3 = _s3(admin)
    bucket = new_bucket(s3, "presign-unsigned")
    presigner = admin.session().client("s3", region_name="us-east-1", config=Config(signature_version="s3v4"))
    url = presigner.generate_presigned_url("put_object", Params={"Bucket": bucket, "Key": "k", **params})
    status, body = _put(url, extra)
    assert status == 403
    assert "<Code>AccessDenied</Code>" in body
    assert "<Message>There were headers present in the request which were not signed</Message>" in body
    assert f"<HeadersNotSigned>{unsigned}</HeadersNotSigned>" in body
    status, body = _put(url, {})  # the signed header missing alone: a signature mismatch
    assert status == 403 and "<Code>SignatureDoesNotMatch</Code>" in body
