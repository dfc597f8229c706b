"""S3 Object Lock and lifecycle against what AWS recorded or documents: the wording of the
refusal of lock headers on a write to a bucket without Object Lock, the order in which
PutObjectRetention and PutObjectLegalHold refuse a bad body (before the bucket's lock and
the object are looked at), and x-amz-expiration on CompleteMultipartUpload."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any


from .conftest import AwsEnv, aws_error, new_bucket
from .test_s3_object_lock import _later, _locked_bucket, s3  # noqa: F401 (s3: the same fixture)

MALFORMED = ("MalformedXML", "The XML you provided was not well-formed or did not validate against our published "
             "schema", 400)
# S3's words for a write (PutObject, CopyObject, CreateMultipartUpload) that carries
# x-amz-object-lock-* headers into a bucket without Object Lock: no spaces in
# "ObjectLockConfiguration", unlike the retention and legal hold operations' message.
WRITE_TO_UNLOCKED = ("InvalidRequest", "Bucket is missing ObjectLockConfiguration", 400)
UNLOCKED = ("InvalidRequest", "Bucket is missing Object Lock Configuration", 400)


def test_lock_headers_on_writes_to_an_unlocked_bucket_use_s3s_write_wording(s3: Any) -> None:
    """versitygw#1751 (against S3, 2026): PutObject, CopyObject and CreateMultipartUpload
    answer "Bucket is missing ObjectLockConfiguration", retention or legal hold alike;
    PutObjectRetention keeps the spaced wording (LocalStack's recording)."""
    plain = new_bucket(s3, "review13-lock-plain")
    s3.put_object(Bucket=plain, Key="src", Body=b"x")
    retention = {"ObjectLockMode": "GOVERNANCE", "ObjectLockRetainUntilDate": _later(days=2)}
    for lock in (retention, {"ObjectLockLegalHoldStatus": "ON"}):
        assert aws_error(lambda: s3.put_object(Bucket=plain, Key="o", Body=b"x", **lock)) == WRITE_TO_UNLOCKED
        assert aws_error(lambda: s3.copy_object(Bucket=plain, Key="o", CopySource=f"{plain}/src", **lock)) \
            == WRITE_TO_UNLOCKED
        assert aws_error(lambda: s3.create_multipart_upload(Bucket=plain, Key="o", **lock)) == WRITE_TO_UNLOCKED
    assert aws_error(lambda: s3.put_object_retention(
        Bucket=plain, Key="src", Retention={"Mode": "GOVERNANCE", "RetainUntilDate": _later(days=2)})) == UNLOCKED


def test_a_bad_legal_hold_status_is_refused_before_the_bucket_and_key(admin: AwsEnv, s3: Any) -> None:
    """versitygw's PutObjectLegalHold_invalid_status: a status other than ON/OFF, to a
    bucket without Object Lock and a key that does not exist, is MalformedXML."""
    raw = admin.unchecked_client("s3", region_name="us-east-1")
    plain = new_bucket(s3, "review13-lock-plain")
    locked = _locked_bucket(s3)
    for bucket in (plain, locked):
        assert aws_error(lambda: raw.put_object_legal_hold(Bucket=bucket, Key="no-such-key",
                                                           LegalHold={"Status": "invalid_status"})) == MALFORMED
    # a good status still meets the missing object
    assert aws_error(lambda: s3.put_object_legal_hold(Bucket=locked, Key="no-such-key",
                                                      LegalHold={"Status": "ON"}))[0] == "NoSuchKey"


def test_a_bad_retention_is_refused_before_the_key_is_looked_up(admin: AwsEnv, s3: Any) -> None:
    """versitygw's PutObjectRetention_invalid_mode and _expired_retain_until_date: on a
    key that does not exist, a bad mode is MalformedXML and a past date InvalidArgument."""
    raw = admin.unchecked_client("s3", region_name="us-east-1")
    locked = _locked_bucket(s3)
    assert aws_error(lambda: raw.put_object_retention(
        Bucket=locked, Key="no-such-key", Retention={"Mode": "invalid_mode", "RetainUntilDate": _later(hours=3)})) \
        == MALFORMED
    code, message, status = aws_error(lambda: s3.put_object_retention(
        Bucket=locked, Key="no-such-key", Retention={"Mode": "COMPLIANCE",
                                                     "RetainUntilDate": datetime(2020, 1, 1, tzinfo=UTC)}))
    assert (code, message, status) == ("InvalidArgument", "The retain until date must be in the future!", 400)
    # a good retention still meets the missing object
    assert aws_error(lambda: s3.put_object_retention(
        Bucket=locked, Key="no-such-key", Retention={"Mode": "GOVERNANCE", "RetainUntilDate": _later(hours=3)}))[0] \
        == "NoSuchKey"


def test_complete_multipart_upload_names_the_objects_expiration(s3: Any) -> None:
    """CompleteMultipartUpload's x-amz-expiration (API reference: "If the object expiration
    is configured, this will contain the expiration date (expiry-date) and rule ID
    (rule-id)"), as PutObject and HeadObject name it."""
    bucket = new_bucket(s3, "review13-lc-mpu")
    s3.put_bucket_lifecycle_configuration(Bucket=bucket, LifecycleConfiguration={"Rules": [
        {"ID": "logs-go", "Status": "Enabled", "Filter": {"Prefix": "logs/"}, "Expiration": {"Days": 3}}]})
    for key in ("logs/big", "other/big"):
        up = s3.create_multipart_upload(Bucket=bucket, Key=key)
        part = s3.upload_part(Bucket=bucket, Key=key, UploadId=up["UploadId"], PartNumber=1, Body=b"part")
        done = s3.complete_multipart_upload(Bucket=bucket, Key=key, UploadId=up["UploadId"], MultipartUpload={
            "Parts": [{"PartNumber": 1, "ETag": part["ETag"]}]})
        head = s3.head_object(Bucket=bucket, Key=key)
        if key.startswith("logs/"):
            assert 'rule-id="logs-go"' in head["Expiration"]
            assert done.get("Expiration") == head["Expiration"]
        else:
            assert "Expiration" not in done and "Expiration" not in head
