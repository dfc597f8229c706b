"""S3's security model, review 13: where Skyhold decided otherwise than AWS.

- "Is public" (GetBucketPolicyStatus, BlockPublicPolicy): a fixed KMS key id pins a
  grant; a policy variable or a ForAllValues: test does not.
- The conditional-write keys (s3:if-none-match, s3:if-match, s3:ObjectCreationOperation)
  that AWS's documented "enforce conditional writes" bucket policies test.
- s3:TlsVersion over HTTPS.
"""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Any

import pytest
from botocore.config import Config

from skyhold import tls

from .conftest import AwsEnv, Server, aws_error, new_account, new_bucket


@pytest.fixture
def s3(admin: AwsEnv) -> Any:
    return admin.client("s3", region_name="us-east-1")


def _denied(call: Any) -> bool:
    code, _, status = aws_error(call)
    return (code, status) == ("AccessDenied", 403)


def _statement(bucket: str, condition: dict[str, Any]) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow", "Principal": "*", "Action": "s3:GetObject", "Resource": f"arn:aws:s3:::{bucket}/*",
        "Condition": condition}]})


def _open_bucket(s3: Any, prefix: str) -> str:
    """A bucket whose own Block Public Access settings are off (so a public policy can be stored)."""
    bucket = new_bucket(s3, prefix)
    s3.delete_public_access_block(Bucket=bucket)
    return bucket


def _is_public(s3: Any, bucket: str, condition: dict[str, Any]) -> bool:
    s3.put_bucket_policy(Bucket=bucket, Policy=_statement(bucket, condition))
    return bool(s3.get_bucket_policy_status(Bucket=bucket)["PolicyStatus"]["IsPublic"])


def _block_public_policy(s3: Any, bucket: str) -> None:
    s3.put_public_access_block(Bucket=bucket, PublicAccessBlockConfiguration={
        "BlockPublicAcls": False, "IgnorePublicAcls": False, "BlockPublicPolicy": True,
        "RestrictPublicBuckets": False})


# --- 1. "Is public": the KMS key id pins; variables and ForAllValues do not -----------------

KMS_KEY = "arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab"


def test_a_grant_pinned_to_a_fixed_kms_key_id_is_not_public(s3: Any) -> None:
    # AWS's PublicAccessBlockConfiguration documentation lists "A fixed value of
    # s3:x-amz-server-side-encryption-aws-kms-key-id" among what makes a policy non-public.
    bucket = _open_bucket(s3, "r13-kms-pin")
    pinned = {"StringEquals": {"s3:x-amz-server-side-encryption-aws-kms-key-id": KMS_KEY}}
    assert _is_public(s3, bucket, pinned) is False
    assert _is_public(s3, bucket, {"StringLike": {"s3:x-amz-server-side-encryption-aws-kms-key-id": "arn:aws:kms:*"}})

    _block_public_policy(s3, bucket)
    s3.put_bucket_policy(Bucket=bucket, Policy=_statement(bucket, pinned))  # not refused: not public
    assert json.loads(s3.get_bucket_policy(Bucket=bucket)["Policy"])["Statement"][0]["Condition"] == pinned


@pytest.mark.parametrize("condition", [
    {"StringEquals": {"aws:SourceAccount": "${aws:PrincipalAccount}"}},
    {"ArnEquals": {"aws:PrincipalArn": "arn:aws:iam::${aws:PrincipalAccount}:role/reader"}},
    {"ForAllValues:StringEquals": {"aws:SourceVpce": "vpce-1a2b3c4d"}},
], ids=["variable-account", "variable-arn", "for-all-values"])
def test_variables_and_for_all_values_do_not_make_a_grant_non_public(s3: Any, condition: dict[str, Any]) -> None:
    # Non-public takes fixed values, "values that don't contain a wildcard or ... Variables"
    # (AWS Config's s3-bucket-public-read-prohibited, after S3's "The meaning of public");
    # ForAllValues: holds for a request without the key at all, so it restricts no one.
    bucket = _open_bucket(s3, "r13-var")
    assert _is_public(s3, bucket, condition) is True
    assert _is_public(s3, bucket, {"StringEquals": {"aws:SourceVpce": "vpce-1a2b3c4d"}}) is False  # fixed: pins

    _block_public_policy(s3, bucket)
    code, message, status = aws_error(lambda: s3.put_bucket_policy(Bucket=bucket, Policy=_statement(bucket, condition)))
    assert (code, status) == ("AccessDenied", 403)
    assert message.endswith("because public policies are blocked by the BlockPublicPolicy block public access "
                            "setting."), message


# --- 2. Conditional writes enforced by a bucket policy ------------------------------------

def test_the_documented_conditional_write_policy(admin: AwsEnv, s3: Any) -> None:
    """S3 User Guide, "Enforce conditional writes", example 1: PutObject and
    CompleteMultipartUpload only with If-None-Match; s3:ObjectCreationOperation false
    exempts CreateMultipartUpload and UploadPart (they take no conditional headers)."""
    bucket = new_bucket(s3, "r13-cond")
    key = admin.new_user()  # no identity policy: the bucket policy is all it has
    user_arn = admin.client("iam").get_user(UserName=key["UserName"])["User"]["Arn"]
    objects = f"arn:aws:s3:::{bucket}/*"
    s3.put_bucket_policy(Bucket=bucket, Policy=json.dumps({"Version": "2012-10-17", "Statement": [
        {"Sid": "AllowConditionalPut", "Effect": "Allow", "Principal": {"AWS": user_arn}, "Action": "s3:PutObject",
         "Resource": objects, "Condition": {"Null": {"s3:if-none-match": "false"}}},
        {"Sid": "AllowConditionalPutwithMPUs", "Effect": "Allow", "Principal": {"AWS": user_arn},
         "Action": "s3:PutObject", "Resource": objects, "Condition": {"Bool": {"s3:ObjectCreationOperation": "false"}}},
    ]}))
    alice = admin.client_for(key, "s3")

    assert _denied(lambda: alice.put_object(Bucket=bucket, Key="plain", Body=b"x"))
    alice.put_object(Bucket=bucket, Key="new", Body=b"x", IfNoneMatch="*")
    assert s3.get_object(Bucket=bucket, Key="new")["Body"].read() == b"x"

    upload = alice.create_multipart_upload(Bucket=bucket, Key="mpu")["UploadId"]
    etag = alice.upload_part(Bucket=bucket, Key="mpu", UploadId=upload, PartNumber=1, Body=b"part")["ETag"]
    parts = {"Parts": [{"ETag": etag, "PartNumber": 1}]}
    assert _denied(lambda: alice.complete_multipart_upload(Bucket=bucket, Key="mpu", UploadId=upload,
                                                            MultipartUpload=parts))
    alice.complete_multipart_upload(Bucket=bucket, Key="mpu", UploadId=upload, MultipartUpload=parts,
                                    IfNoneMatch="*")
    assert s3.get_object(Bucket=bucket, Key="mpu")["Body"].read() == b"part"

    # "CopyObject requests without an If-None-Match or If-Match HTTP header fail with a 403".
    assert _denied(lambda: alice.copy_object(Bucket=bucket, Key="copy", CopySource={"Bucket": bucket, "Key": "new"}))


def test_a_policy_requiring_if_match_on_deletes(s3: Any) -> None:
    bucket = new_bucket(s3, "r13-cond-del")
    etag = s3.put_object(Bucket=bucket, Key="k", Body=b"x")["ETag"]
    s3.put_bucket_policy(Bucket=bucket, Policy=json.dumps({"Version": "2012-10-17", "Statement": [{
        "Effect": "Deny", "Principal": "*", "Action": "s3:DeleteObject", "Resource": f"arn:aws:s3:::{bucket}/*",
        "Condition": {"Null": {"s3:if-match": "true"}}}]}))
    assert _denied(lambda: s3.delete_object(Bucket=bucket, Key="k"))
    s3.delete_object(Bucket=bucket, Key="k", IfMatch=etag)
    assert aws_error(lambda: s3.head_object(Bucket=bucket, Key="k"))[2] == 404


# --- 3. s3:TlsVersion ---------------------------------------------------------------------

def test_tls_version_is_a_condition_key_over_https(https_server: Server, https_admin: AwsEnv, s3_tls: Any) -> None:
    admin, s3 = https_admin, s3_tls
    bucket = f"r13-tls-{uuid.uuid4().hex[:10]}"
    s3.create_bucket(Bucket=bucket)
    s3.put_object(Bucket=bucket, Key="k", Body=b"over tls")
    key = admin.new_user()
    user_arn = admin.client("iam").get_user(UserName=key["UserName"])["User"]["Arn"]
    # The S3 User Guide's TLS example, as an Allow: only TLS 1.2 or later reads.
    s3.put_bucket_policy(Bucket=bucket, Policy=json.dumps({"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow", "Principal": {"AWS": user_arn}, "Action": "s3:GetObject",
        "Resource": f"arn:aws:s3:::{bucket}/*", "Condition": {"NumericGreaterThanEquals": {"s3:TlsVersion": "1.2"}}}]}))

    def user_s3(endpoint: str) -> Any:
        return admin.session().client("s3", endpoint_url=endpoint, region_name="us-east-1",
                                      aws_access_key_id=key["AccessKeyId"],
                                      aws_secret_access_key=key["SecretAccessKey"],
                                      verify=str(https_server.data_dir / tls.FOLDER / tls.CA_CERT),
                                      config=Config(retries={"max_attempts": 1}))

    assert user_s3(https_server.https_endpoint).get_object(Bucket=bucket, Key="k")["Body"].read() == b"over tls"
    # Plain HTTP has no TLS version: the condition does not hold.
    assert _denied(lambda: user_s3(https_server.endpoint).get_object(Bucket=bucket, Key="k"))


# --- 4. AccessDenied's text for another account -------------------------------------------

def test_another_account_is_told_only_access_denied(server: Server, admin: AwsEnv, s3: Any, tmp_path: Path) -> None:
    # "Amazon S3 now includes additional context in access denied (HTTP 403 Forbidden)
    # errors for requests made to resources within the same AWS account" (S3 User Guide,
    # "Troubleshoot access denied (403 Forbidden) errors"): another account learns nothing.
    bucket = new_bucket(s3, "r13-xacct")
    s3.put_object(Bucket=bucket, Key="k", Body=b"x")
    other, _ = new_account(server, tmp_path, "r13x")
    outsider = other.client("s3", region_name="us-east-1")
    assert aws_error(lambda: outsider.get_object(Bucket=bucket, Key="k")) == ("AccessDenied", "Access Denied", 403)
    assert aws_error(lambda: outsider.get_bucket_policy(Bucket=bucket)) == ("AccessDenied", "Access Denied", 403)
    failed = outsider.delete_objects(Bucket=bucket, Delete={"Objects": [{"Key": "k"}]})["Errors"]
    assert [(e["Key"], e["Code"], e["Message"]) for e in failed] == [("k", "AccessDenied", "Access Denied")]

    # A user of the bucket's own account still reads why.
    key = admin.new_user()
    user_arn = admin.client("iam").get_user(UserName=key["UserName"])["User"]["Arn"]
    code, message, status = aws_error(lambda: admin.client_for(key, "s3").get_object(Bucket=bucket, Key="k"))
    assert (code, status) == ("AccessDenied", 403)
    assert message == (f'User: {user_arn} is not authorized to perform: s3:GetObject on resource: '
                       f'"arn:aws:s3:::{bucket}/k" because no identity-based policy allows the s3:GetObject action')
