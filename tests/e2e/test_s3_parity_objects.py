"""S3 object operations answer as AWS does: codes, messages, statuses and error fields
taken from responses recorded against real S3 (conditional requests, SSE-KMS and
SSE-C failures, object tagging, delete markers, copies, part numbers)."""

from __future__ import annotations

import base64
from datetime import timedelta
from typing import Any

import pytest

from .conftest import AwsEnv, allow_sse_c, aws_error, error_and_status, new_bucket, sse_c_headers

KEY_1 = b"1234567890abcdef1234567890abcdef"
KEY_2 = b"abcdef1234567890abcdef1234567890"


@pytest.fixture
def s3(admin: AwsEnv) -> Any:
    return admin.client("s3", region_name="us-east-1")


def _bucket(s3: Any, versioned: bool = False) -> str:
    return new_bucket(s3, "parity-obj", "Enabled" if versioned else None)


# --- checksums ---------------------------------------------------------------------------

def test_two_checksum_headers_are_refused_before_either_is_read(s3: Any) -> None:
    bucket = _bucket(s3)
    err, status = error_and_status(lambda: s3.put_object(Bucket=bucket, Key="k", Body=b"test data..",
                                               ChecksumSHA256="abc", ChecksumCRC32="def"))
    assert (err["Code"], err["Message"], status) == (
        "InvalidRequest", "Expecting a single x-amz-checksum- header. Multiple checksum Types are not allowed.", 400)


# --- SSE-KMS ----------------------------------------------------------------------------

def test_kms_failures_reach_the_caller_with_s3s_kms_prefix(admin: AwsEnv, s3: Any) -> None:
    bucket = _bucket(s3)
    kms_west = admin.client("kms", region_name="us-west-2")
    west_key = kms_west.create_key()["KeyMetadata"]
    kms_args = {"ServerSideEncryption": "aws:kms", "SSEKMSKeyId": "fake-key-id"}
    invalid = ("KMS.NotFoundException", "Invalid keyId 'fake-key-id'", 400)
    assert aws_error(lambda: s3.put_object(Bucket=bucket, Key="k", Body=b"x", **kms_args)) == invalid
    # a key of another Region, by ARN, is refused too (it was used)
    assert aws_error(lambda: s3.put_object(Bucket=bucket, Key="k", Body=b"x", ServerSideEncryption="aws:kms",
                                           SSEKMSKeyId=west_key["Arn"])) == (
        "KMS.NotFoundException", "Invalid arn us-west-2", 400)
    # CreateMultipartUpload checks the key when the upload begins (it was accepted)
    assert aws_error(lambda: s3.create_multipart_upload(Bucket=bucket, Key="m", **kms_args)) == invalid
    s3.put_object(Bucket=bucket, Key="src", Body=b"x")
    assert aws_error(lambda: s3.copy_object(Bucket=bucket, Key="dst", CopySource={"Bucket": bucket, "Key": "src"},
                                            **kms_args)) == invalid


def test_create_multipart_upload_names_the_kms_key_by_arn(admin: AwsEnv, s3: Any) -> None:
    bucket = _bucket(s3)
    key = admin.client("kms", region_name="us-east-1").create_key()["KeyMetadata"]
    out = s3.create_multipart_upload(Bucket=bucket, Key="m", ServerSideEncryption="aws:kms",
                                     SSEKMSKeyId=key["KeyId"])
    assert out["SSEKMSKeyId"] == key["Arn"]


def test_kms_key_states_reach_the_caller_with_s3s_kms_prefix(admin: AwsEnv, s3: Any) -> None:
    bucket = _bucket(s3)
    kms = admin.client("kms", region_name="us-east-1")
    key = kms.create_key()["KeyMetadata"]
    s3.put_object(Bucket=bucket, Key="k", Body=b"x", ServerSideEncryption="aws:kms", SSEKMSKeyId=key["KeyId"])
    kms.disable_key(KeyId=key["KeyId"])
    disabled = ("KMS.DisabledException", f"{key['Arn']} is disabled.", 400)
    assert aws_error(lambda: s3.get_object(Bucket=bucket, Key="k")) == disabled
    assert aws_error(lambda: s3.put_object(Bucket=bucket, Key="k2", Body=b"x", ServerSideEncryption="aws:kms",
                                           SSEKMSKeyId=key["KeyId"])) == disabled
    kms.schedule_key_deletion(KeyId=key["KeyId"], PendingWindowInDays=7)
    assert aws_error(lambda: s3.get_object(Bucket=bucket, Key="k")) == (
        "KMS.KMSInvalidStateException", f"{key['Arn']} is pending deletion.", 400)


# --- SSE-C ------------------------------------------------------------------------------

@pytest.fixture
def sse_c_bucket(s3_tls: Any) -> str:
    s3 = s3_tls  # SSE-C keys travel over HTTPS only
    bucket = _bucket(s3)
    allow_sse_c(s3, bucket)
    return bucket


def test_sse_c_argument_errors_name_the_encryption_header(s3_tls: Any, sse_c_bucket: str) -> None:
    s3 = s3_tls  # SSE-C keys travel over HTTPS only
    good = sse_c_headers(KEY_1)
    short = sse_c_headers(KEY_1[:10])
    bad_md5 = {**good, "SSECustomerKeyMD5": ("a" if good["SSECustomerKeyMD5"][0] != "a" else "b")
               + good["SSECustomerKeyMD5"][1:]}
    cases = [
        ({k: v for k, v in good.items() if k != "SSECustomerAlgorithm"},
         "Requests specifying Server Side Encryption with Customer provided keys must provide a valid encryption "
         "algorithm."),
        ({k: v for k, v in good.items() if k != "SSECustomerKey"},
         "Requests specifying Server Side Encryption with Customer provided keys must provide an appropriate "
         "secret key."),
        (short, "The secret key was invalid for the specified algorithm."),
        (bad_md5, "The calculated MD5 hash of the key did not match the hash that was provided."),
    ]
    for sse, message in cases:
        err, status = error_and_status(lambda: s3.put_object(Bucket=sse_c_bucket, Key="k", Body=b"x", **sse))
        # one argument name for all, and no ArgumentValue
        assert (err["Code"], err["Message"], err.get("ArgumentName"), "ArgumentValue" in err, status) == (
            "InvalidArgument", message, "x-amz-server-side-encryption", False, 400)
    err, status = error_and_status(lambda: s3.put_object(Bucket=sse_c_bucket, Key="k", Body=b"x",
                                               **{**good, "SSECustomerAlgorithm": "KMS"}))
    assert (err["Code"], err["ArgumentName"], err["ArgumentValue"], status) == (
        "InvalidEncryptionAlgorithmError", "x-amz-server-side-encryption", "KMS", 400)
    s3.put_object(Bucket=sse_c_bucket, Key="src", Body=b"x", **good)
    err, status = error_and_status(lambda: s3.copy_object(
        Bucket=sse_c_bucket, Key="dst", CopySource=f"{sse_c_bucket}/src", CopySourceSSECustomerAlgorithm="KMS",
        CopySourceSSECustomerKey=good["SSECustomerKey"], CopySourceSSECustomerKeyMD5=good["SSECustomerKeyMD5"]))
    assert (err["Code"], err["ArgumentName"], err["ArgumentValue"], status) == (
        "InvalidEncryptionAlgorithmError", "x-amz-server-side-encryption", "KMS", 400)


def test_sse_c_wrong_key_on_read_is_access_denied_with_s3s_message(s3_tls: Any, sse_c_bucket: str) -> None:
    s3 = s3_tls  # SSE-C keys travel over HTTPS only
    s3.put_object(Bucket=sse_c_bucket, Key="k", Body=b"x", **sse_c_headers(KEY_1))
    wrong = ("AccessDenied", "Requests specifying Server Side Encryption with Customer provided keys must provide "
             "the correct secret key.", 403)
    assert aws_error(lambda: s3.get_object(Bucket=sse_c_bucket, Key="k", **sse_c_headers(KEY_2))) == wrong
    # a key of the wrong size is a wrong key on a read (the SDK sends this one when the
    # caller's key is already base64: it encodes it again)
    text_key = base64.b64encode(KEY_1).decode()
    assert aws_error(lambda: s3.get_object(Bucket=sse_c_bucket, Key="k", SSECustomerAlgorithm="AES256",
                                           SSECustomerKey=text_key)) == wrong
    assert aws_error(lambda: s3.head_object(Bucket=sse_c_bucket, Key="k", SSECustomerAlgorithm="AES256",
                                            SSECustomerKey=text_key))[2] == 403


def test_sse_c_part_for_an_upload_begun_without_it(s3_tls: Any, sse_c_bucket: str) -> None:
    s3 = s3_tls  # SSE-C keys travel over HTTPS only
    upload = s3.create_multipart_upload(Bucket=sse_c_bucket, Key="m")["UploadId"]
    assert aws_error(lambda: s3.upload_part(Bucket=sse_c_bucket, Key="m", UploadId=upload, PartNumber=1,
                                            Body=b"x", **sse_c_headers(KEY_1))) == (
        "InvalidRequest", "The multipart upload initiate requested encryption. Subsequent part requests must "
        "include the appropriate encryption parameters.", 400)


# --- delete markers -----------------------------------------------------------------------

def _marker(err: dict[str, Any], status: int) -> tuple[str, str | None, str | None, int]:
    return err["Code"], err.get("Method"), err.get("ResourceType"), status


def test_put_object_acl_on_a_delete_marker(s3: Any) -> None:
    bucket = _bucket(s3, versioned=True)
    s3.put_bucket_ownership_controls(Bucket=bucket, OwnershipControls={"Rules": [{"ObjectOwnership": "ObjectWriter"}]})
    s3.put_object(Bucket=bucket, Key="k", Body=b"x")
    marker = s3.delete_object(Bucket=bucket, Key="k")["VersionId"]
    refused = ("MethodNotAllowed", "PUT", "DeleteMarker", 405)
    assert _marker(*error_and_status(lambda: s3.put_object_acl(Bucket=bucket, Key="k", ACL="private"))) == refused
    assert _marker(*error_and_status(lambda: s3.put_object_acl(Bucket=bucket, Key="k", ACL="private",
                                                     VersionId=marker))) == refused
    assert aws_error(lambda: s3.get_object_acl(Bucket=bucket, Key="k"))[::2] == ("NoSuchKey", 404)


def test_object_tagging_on_a_delete_marker(s3: Any) -> None:
    bucket = _bucket(s3, versioned=True)
    s3.put_object(Bucket=bucket, Key="k", Body=b"x", Tagging="a=1")
    marker = s3.delete_object(Bucket=bucket, Key="k")["VersionId"]
    tags = {"TagSet": [{"Key": "b", "Value": "2"}]}
    for version in ({"VersionId": marker}, {}):  # named, then as the current version
        assert _marker(*error_and_status(lambda: s3.put_object_tagging(Bucket=bucket, Key="k", Tagging=tags,
                                                             **version))) == (
            "MethodNotAllowed", "PUT", "DeleteMarker", 405)
        assert _marker(*error_and_status(lambda: s3.get_object_tagging(Bucket=bucket, Key="k", **version))) == (
            "MethodNotAllowed", "GET", "DeleteMarker", 405)
        assert _marker(*error_and_status(lambda: s3.delete_object_tagging(Bucket=bucket, Key="k", **version))) == (
            "MethodNotAllowed", "DELETE", "DeleteMarker", 405)


# --- copies ------------------------------------------------------------------------------

def test_copy_does_not_keep_the_source_storage_class(s3: Any) -> None:
    bucket = _bucket(s3)
    s3.put_object(Bucket=bucket, Key="src", Body=b"test", StorageClass="STANDARD_IA")
    s3.copy_object(Bucket=bucket, Key="dst", CopySource=f"{bucket}/src")
    assert "StorageClass" not in s3.head_object(Bucket=bucket, Key="dst")  # STANDARD
    assert s3.head_object(Bucket=bucket, Key="src")["StorageClass"] == "STANDARD_IA"


def test_copy_from_a_delete_marker_by_version_id(s3: Any) -> None:
    bucket = _bucket(s3, versioned=True)
    s3.put_object(Bucket=bucket, Key="src", Body=b"x")
    marker = s3.delete_object(Bucket=bucket, Key="src")["VersionId"]
    assert aws_error(lambda: s3.copy_object(Bucket=bucket, Key="dst", CopySource={
        "Bucket": bucket, "Key": "src", "VersionId": marker})) == (
        "InvalidRequest", "The source of a copy request may not specifically refer to a delete marker by version id.",
        400)


# --- tagging ------------------------------------------------------------------------------

_HEADER_MESSAGE = ("The header 'x-amz-tagging' shall be encoded as UTF-8 then URLEncoded URL query parameters "
                   "without tag name duplicates.")


@pytest.mark.parametrize("tagging", ["key1=val1&key1=val2", "key1=val1,key2=val2"])
def test_tagging_header_that_is_not_distinct_tags(s3: Any, tagging: str) -> None:
    bucket = _bucket(s3)
    err, status = error_and_status(lambda: s3.put_object(Bucket=bucket, Key="k", Body=b"", Tagging=tagging))
    assert (err["Code"], err["Message"], err["ArgumentName"], err["ArgumentValue"], status) == (
        "InvalidArgument", _HEADER_MESSAGE, "x-amz-tagging", tagging, 400)
    assert aws_error(lambda: s3.head_object(Bucket=bucket, Key="k"))[::2] == ("404", 404)  # nothing stored


@pytest.mark.parametrize(("tag", "message", "fields"), [
    ({"Key": "Key1,Key2", "Value": "v"}, "The TagKey you have provided is invalid", {"TagKey": "Key1,Key2"}),
    ({"Key": "aws:prefixed", "Value": "v"}, "Your TagKey cannot be prefixed with aws:", {"TagKey": "aws:prefixed"}),
])
def test_object_tag_validation(s3: Any, tag: dict[str, str], message: str, fields: dict[str, str]) -> None:
    bucket = _bucket(s3)
    s3.put_object(Bucket=bucket, Key="k", Body=b"")
    err, status = error_and_status(lambda: s3.put_object_tagging(Bucket=bucket, Key="k", Tagging={"TagSet": [tag]}))
    assert (err["Code"], err["Message"], {k: err.get(k) for k in fields}, status) == (
        "InvalidTag", message, fields, 400)


def test_get_object_tagging_of_a_missing_key_names_it_with_its_bucket(s3: Any) -> None:
    bucket = _bucket(s3)
    err, status = error_and_status(lambda: s3.get_object_tagging(Bucket=bucket, Key="fake-key"))
    assert (err["Code"], err["Key"], status) == ("NoSuchKey", f"{bucket}/fake-key", 404)
    err, _ = error_and_status(lambda: s3.delete_object_tagging(Bucket=bucket, Key="fake-key"))
    assert err["Key"] == "fake-key"  # the other tagging calls name the key alone


# --- conditional requests ---------------------------------------------------------------------

_NOT_IMPLEMENTED = "A header you provided implies functionality that is not implemented"


def _not_implemented(err: dict[str, Any], status: int) -> tuple[str, str, str | None, str | None, int]:
    return err["Code"], err["Message"], err.get("Header"), err.get("additionalMessage"), status


def test_write_conditions_s3_does_not_serve(s3: Any) -> None:
    bucket = _bucket(s3)
    etag = s3.put_object(Bucket=bucket, Key="src", Body=b"source")["ETag"]
    for write in (lambda **kw: s3.put_object(Bucket=bucket, Key="dst", Body=b"x", **kw),
                  lambda **kw: s3.copy_object(Bucket=bucket, Key="dst", CopySource=f"{bucket}/src", **kw)):
        assert _not_implemented(*error_and_status(lambda: write(IfNoneMatch=etag))) == (
            "NotImplemented", _NOT_IMPLEMENTED, "If-None-Match",
            "We don't accept the provided value of If-None-Match header for this API", 501)
        assert _not_implemented(*error_and_status(lambda: write(IfMatch="*"))) == (
            "NotImplemented", _NOT_IMPLEMENTED, "If-Match",
            "We don't accept the provided value of If-Match header for this API", 501)
        assert _not_implemented(*error_and_status(lambda: write(IfMatch="*", IfNoneMatch=etag))) == (
            "NotImplemented", _NOT_IMPLEMENTED, "If-Match,If-None-Match",
            "Multiple conditional request headers present in the request", 501)
    assert aws_error(lambda: s3.head_object(Bucket=bucket, Key="dst"))[::2] == ("404", 404)  # nothing written


def test_delete_object_if_match(s3: Any) -> None:
    bucket = _bucket(s3)
    etag = s3.put_object(Bucket=bucket, Key="k", Body=b"x")["ETag"]
    err, status = error_and_status(lambda: s3.delete_object(Bucket=bucket, Key="k", IfMatch='"badvalue"'))
    assert (err["Code"], err["Message"], err["Condition"], status) == (
        "PreconditionFailed", "At least one of the pre-conditions you specified did not hold", "If-Match", 412)
    s3.head_object(Bucket=bucket, Key="k")  # still there
    s3.delete_object(Bucket=bucket, Key="k", IfMatch=etag)
    assert aws_error(lambda: s3.head_object(Bucket=bucket, Key="k"))[::2] == ("404", 404)


def test_delete_object_conditions_of_directory_buckets(s3: Any) -> None:
    bucket = _bucket(s3)
    s3.put_object(Bucket=bucket, Key="k", Body=b"x")
    when = s3.head_object(Bucket=bucket, Key="k")["LastModified"] - timedelta(days=1)
    for kw, header in (({"IfMatchLastModifiedTime": when}, "x-amz-if-match-last-modified-time"),
                       ({"IfMatchSize": 10}, "x-amz-if-match-size"),
                       ({"IfMatchSize": 10, "IfMatch": "x", "IfMatchLastModifiedTime": when},
                        "x-amz-if-match-last-modified-time")):
        assert _not_implemented(*error_and_status(lambda: s3.delete_object(Bucket=bucket, Key="k", **kw))) == (
            "NotImplemented", _NOT_IMPLEMENTED, header, None, 501)
    s3.head_object(Bucket=bucket, Key="k")  # not deleted


def test_if_modified_since_in_the_future_is_ignored(s3: Any) -> None:
    bucket = _bucket(s3)
    s3.put_object(Bucket=bucket, Key="k", Body=b"data")
    modified = s3.head_object(Bucket=bucket, Key="k")["LastModified"]
    future = modified + timedelta(days=1)  # Skyhold's clock, not this machine's
    assert s3.get_object(Bucket=bucket, Key="k", IfModifiedSince=future)["Body"].read() == b"data"
    assert s3.head_object(Bucket=bucket, Key="k", IfModifiedSince=future)["ContentLength"] == 4
    s3.copy_object(Bucket=bucket, Key="dst", CopySource=f"{bucket}/k", CopySourceIfModifiedSince=future)
    # the object's own time still fails the condition
    assert aws_error(lambda: s3.get_object(Bucket=bucket, Key="k", IfModifiedSince=modified))[::2] == ("304", 304)


# --- part numbers --------------------------------------------------------------------------

def test_get_object_by_part_number(s3: Any) -> None:
    bucket = _bucket(s3)
    first = b"a" * (5 * 1024 * 1024)
    upload = s3.create_multipart_upload(Bucket=bucket, Key="mp")["UploadId"]
    parts = [{"PartNumber": n, "ETag": s3.upload_part(Bucket=bucket, Key="mp", UploadId=upload, PartNumber=n,
                                                      Body=body)["ETag"]}
             for n, body in ((1, first), (2, b"test content 123"))]
    s3.complete_multipart_upload(Bucket=bucket, Key="mp", UploadId=upload, MultipartUpload={"Parts": parts})
    size = len(first) + 16
    got = s3.get_object(Bucket=bucket, Key="mp", PartNumber=2)
    assert got["Body"].read() == b"test content 123"
    assert (got["ResponseMetadata"]["HTTPStatusCode"], got["ContentRange"], got["ContentLength"],
            got["PartsCount"]) == (206, f"bytes {len(first)}-{size - 1}/{size}", 16, 2)
    head = s3.head_object(Bucket=bucket, Key="mp", PartNumber=2)
    assert (head["ResponseMetadata"]["HTTPStatusCode"], head["ContentLength"]) == (206, 16)

    err, status = error_and_status(lambda: s3.get_object(Bucket=bucket, Key="mp", PartNumber=10))
    assert (err["Code"], err["Message"], err["PartNumberRequested"], err["ActualPartCount"], status) == (
        "InvalidPartNumber", "The requested partnumber is not satisfiable", "10", "2", 416)
    assert aws_error(lambda: s3.get_object(Bucket=bucket, Key="mp", PartNumber=0))[::2] == ("InvalidArgument", 400)
    assert aws_error(lambda: s3.get_object(Bucket=bucket, Key="mp", PartNumber=2, Range="bytes=0-8")) == (
        "InvalidRequest", "Cannot specify both Range header and partNumber query parameter", 400)

    s3.put_object(Bucket=bucket, Key="single", Body=b"test-123")
    err, status = error_and_status(lambda: s3.get_object(Bucket=bucket, Key="single", PartNumber=2))
    assert (err["Code"], err["PartNumberRequested"], err["ActualPartCount"], status) == (
        "InvalidPartNumber", "2", "1", 416)
    whole = s3.get_object(Bucket=bucket, Key="single", PartNumber=1)
    assert (whole["ResponseMetadata"]["HTTPStatusCode"], whole["ContentRange"], whole["Body"].read()) == (
        206, "bytes 0-7/8", b"test-123")
