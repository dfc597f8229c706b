"""Two SSE-KMS holes a review reproduced, now refused as AWS refuses them:
DSSE-KMS objects written and read without touching KMS, and a multipart SSE-KMS
upload uploading parts and completing without kms:Decrypt."""

from __future__ import annotations

from typing import Any

import pytest

from .conftest import AwsEnv, aws_error, new_bucket

MIN_PART = 5 * 1024 * 1024


def _allow(*statements: dict[str, Any]) -> dict[str, Any]:
    return {"Version": "2012-10-17", "Statement": list(statements)}


S3_ALL = {"Effect": "Allow", "Action": "s3:*", "Resource": "*"}


def _kms(actions: list[str], key_arn: str) -> dict[str, Any]:
    return {"Effect": "Allow", "Action": actions, "Resource": key_arn}


def _denied(call: Any, action: str, key_arn: str) -> None:
    code, message, status = aws_error(call)
    assert (code, status) == ("AccessDenied", 403), message
    assert f"kms:{action}" in message and key_arn in message, message


# --- 1. DSSE-KMS uses the KMS key on every write and read -----------------------------


def test_dsse_put_and_get_need_the_kms_key(admin: AwsEnv) -> None:
    s3 = admin.client("s3", region_name="us-east-1")
    bucket = new_bucket(s3, "r9-dsse")
    key_arn = admin.client("kms").create_key(Description="r9 dsse")["KeyMetadata"]["Arn"]
    no_kms = admin.client_for(admin.new_user(_allow(S3_ALL)), "s3")
    both = admin.client_for(admin.new_user(_allow(
        S3_ALL, _kms(["kms:GenerateDataKey", "kms:Decrypt"], key_arn))), "s3")

    _denied(lambda: no_kms.put_object(Bucket=bucket, Key="k", Body=b"x", ServerSideEncryption="aws:kms:dsse",
                                      SSEKMSKeyId=key_arn), "GenerateDataKey", key_arn)

    put = both.put_object(Bucket=bucket, Key="k", Body=b"secret", ServerSideEncryption="aws:kms:dsse",
                          SSEKMSKeyId=key_arn, BucketKeyEnabled=True)
    assert (put["ServerSideEncryption"], put["SSEKMSKeyId"]) == ("aws:kms:dsse", key_arn)
    assert "BucketKeyEnabled" not in put  # DSSE-KMS does not use S3 Bucket Keys

    _denied(lambda: no_kms.get_object(Bucket=bucket, Key="k")["Body"].read(), "Decrypt", key_arn)
    got = both.get_object(Bucket=bucket, Key="k")
    assert got["Body"].read() == b"secret"
    assert (got["ServerSideEncryption"], got["SSEKMSKeyId"]) == ("aws:kms:dsse", key_arn)
    # HeadObject reads no body: no KMS permission needed, as for SSE-KMS.
    assert no_kms.head_object(Bucket=bucket, Key="k")["SSEKMSKeyId"] == key_arn


def test_dsse_without_a_key_uses_the_aws_managed_s3_key(admin: AwsEnv) -> None:
    s3 = admin.client("s3", region_name="us-east-1")
    bucket = new_bucket(s3, "r9-dsse-managed")
    put = s3.put_object(Bucket=bucket, Key="k", Body=b"managed", ServerSideEncryption="aws:kms:dsse")
    managed = admin.client("kms").describe_key(KeyId="alias/aws/s3")["KeyMetadata"]["Arn"]
    assert put["SSEKMSKeyId"] == managed
    assert s3.get_object(Bucket=bucket, Key="k")["Body"].read() == b"managed"

    # aws/s3's key policy lets every principal of the account use it through S3.
    no_kms = admin.client_for(admin.new_user(_allow(S3_ALL)), "s3")
    assert no_kms.put_object(Bucket=bucket, Key="k2", Body=b"x",
                             ServerSideEncryption="aws:kms:dsse")["SSEKMSKeyId"] == managed
    assert no_kms.get_object(Bucket=bucket, Key="k")["Body"].read() == b"managed"


def test_dsse_bucket_default_goes_through_kms(admin: AwsEnv) -> None:
    s3 = admin.client("s3", region_name="us-east-1")
    bucket = new_bucket(s3, "r9-dsse-default")
    key_arn = admin.client("kms").create_key(Description="r9 dsse default")["KeyMetadata"]["Arn"]
    s3.put_bucket_encryption(Bucket=bucket, ServerSideEncryptionConfiguration={"Rules": [{
        "ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "aws:kms:dsse", "KMSMasterKeyID": key_arn},
        "BucketKeyEnabled": True}]})
    no_kms = admin.client_for(admin.new_user(_allow(S3_ALL)), "s3")
    _denied(lambda: no_kms.put_object(Bucket=bucket, Key="k", Body=b"x"), "GenerateDataKey", key_arn)
    put = s3.put_object(Bucket=bucket, Key="k", Body=b"by default")
    assert (put["ServerSideEncryption"], put["SSEKMSKeyId"]) == ("aws:kms:dsse", key_arn)
    assert "BucketKeyEnabled" not in put
    _denied(lambda: no_kms.get_object(Bucket=bucket, Key="k")["Body"].read(), "Decrypt", key_arn)


# --- 2. a multipart SSE-KMS upload needs kms:Decrypt too -------------------------------


@pytest.mark.parametrize("alg", ["aws:kms", "aws:kms:dsse"])
def test_multipart_kms_upload_needs_decrypt_for_parts_and_completion(admin: AwsEnv, alg: str) -> None:
    s3 = admin.client("s3", region_name="us-east-1")
    bucket = new_bucket(s3, "r9-mpu")
    key_arn = admin.client("kms").create_key(Description="r9 mpu")["KeyMetadata"]["Arn"]
    gdk_only = admin.client_for(admin.new_user(_allow(S3_ALL, _kms(["kms:GenerateDataKey"], key_arn))), "s3")
    both = admin.client_for(admin.new_user(_allow(
        S3_ALL, _kms(["kms:GenerateDataKey", "kms:Decrypt"], key_arn))), "s3")
    s3.put_object(Bucket=bucket, Key="src", Body=b"c" * 10)

    # CreateMultipartUpload asks for kms:GenerateDataKey; the parts and completion for kms:Decrypt.
    upload = gdk_only.create_multipart_upload(Bucket=bucket, Key="m", ServerSideEncryption=alg,
                                              SSEKMSKeyId=key_arn)["UploadId"]
    _denied(lambda: gdk_only.upload_part(Bucket=bucket, Key="m", UploadId=upload, PartNumber=1, Body=b"a"),
            "Decrypt", key_arn)
    _denied(lambda: gdk_only.upload_part_copy(Bucket=bucket, Key="m", UploadId=upload, PartNumber=2,
                                              CopySource={"Bucket": bucket, "Key": "src"}), "Decrypt", key_arn)

    first = both.upload_part(Bucket=bucket, Key="m", UploadId=upload, PartNumber=1, Body=b"a" * MIN_PART)
    assert first["SSEKMSKeyId"] == key_arn
    second = both.upload_part_copy(Bucket=bucket, Key="m", UploadId=upload, PartNumber=2,
                                   CopySource={"Bucket": bucket, "Key": "src"})
    parts = {"Parts": [{"PartNumber": 1, "ETag": first["ETag"]},
                       {"PartNumber": 2, "ETag": second["CopyPartResult"]["ETag"]}]}
    _denied(lambda: gdk_only.complete_multipart_upload(Bucket=bucket, Key="m", UploadId=upload,
                                                       MultipartUpload=parts), "Decrypt", key_arn)
    # The refused completion left the upload in place.
    assert len(both.list_parts(Bucket=bucket, Key="m", UploadId=upload)["Parts"]) == 2

    done = both.complete_multipart_upload(Bucket=bucket, Key="m", UploadId=upload, MultipartUpload=parts)
    assert (done["ServerSideEncryption"], done["SSEKMSKeyId"]) == (alg, key_arn)
    got = both.get_object(Bucket=bucket, Key="m")
    assert got["Body"].read() == b"a" * MIN_PART + b"c" * 10
    assert got["ServerSideEncryption"] == alg


def test_multipart_without_kms_needs_no_kms_permission(admin: AwsEnv) -> None:
    s3 = admin.client("s3", region_name="us-east-1")
    bucket = new_bucket(s3, "r9-mpu-plain")
    no_kms = admin.client_for(admin.new_user(_allow(S3_ALL)), "s3")
    upload = no_kms.create_multipart_upload(Bucket=bucket, Key="p")["UploadId"]
    part = no_kms.upload_part(Bucket=bucket, Key="p", UploadId=upload, PartNumber=1, Body=b"plain")
    no_kms.complete_multipart_upload(Bucket=bucket, Key="p", UploadId=upload,
                                     MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": part["ETag"]}]})
    assert no_kms.get_object(Bucket=bucket, Key="p")["Body"].read() == b"plain"
