"""S3's x-amz-server-side-encryption-context (SSEKMSEncryptionContext): the caller's
extra KMS encryption context pairs for SSE-KMS, stored with the object, sent to KMS
on the write and on every read, and visible to kms:EncryptionContext:<key> conditions."""

from __future__ import annotations

import base64
import json
from typing import Any

from .conftest import AwsEnv, aws_error, new_bucket

MIN_PART = 5 * 1024 * 1024
KMS_CONTEXT_HEADER = "x-amz-server-side-encryption-context"


def _encode(pairs: Any) -> str:
    return base64.b64encode(json.dumps(pairs).encode()).decode()


def _decode(text: str) -> dict[str, str]:
    return json.loads(base64.b64decode(text))


def _allow(*statements: dict[str, Any]) -> dict[str, Any]:
    return {"Version": "2012-10-17", "Statement": list(statements)}


S3_ALL = {"Effect": "Allow", "Action": "s3:*", "Resource": "*"}


def _kms_when_project(key_arn: str, project: str) -> dict[str, Any]:
    """The key's data key actions, only under an encryption context naming `project`."""
    return {"Effect": "Allow", "Action": ["kms:GenerateDataKey", "kms:Decrypt"], "Resource": key_arn,
            "Condition": {"StringEquals": {"kms:EncryptionContext:project": project}}}


def _setup(admin: AwsEnv, prefix: str) -> tuple[Any, str, str]:
    s3 = admin.client("s3", region_name="us-east-1")
    bucket = new_bucket(s3, prefix)
    key_arn = admin.client("kms").create_key(Description=prefix)["KeyMetadata"]["Arn"]
    return s3, bucket, key_arn


def test_put_echoes_the_whole_context_and_reads_use_it(admin: AwsEnv) -> None:
    s3, bucket, key_arn = _setup(admin, "ctx-put")
    body = bytes(range(256)) * 1024  # several frames: a range read opens only some
    put = s3.put_object(Bucket=bucket, Key="dir/k", Body=body, ServerSideEncryption="aws:kms", SSEKMSKeyId=key_arn,
                        SSEKMSEncryptionContext=_encode({"project": "alpha", "team": "blue"}))
    assert _decode(put["SSEKMSEncryptionContext"]) == {
        "project": "alpha", "team": "blue", "aws:s3:arn": f"arn:aws:s3:::{bucket}/dir/k"}
    assert put["SSEKMSKeyId"] == key_arn

    assert s3.get_object(Bucket=bucket, Key="dir/k")["Body"].read() == body
    assert s3.get_object(Bucket=bucket, Key="dir/k", Range="bytes=70000-70009")["Body"].read() == body[70000:70010]
    assert s3.head_object(Bucket=bucket, Key="dir/k")["SSEKMSKeyId"] == key_arn

    # Without the header nothing is echoed (the default context is S3's own).
    plain = s3.put_object(Bucket=bucket, Key="plain", Body=b"x", ServerSideEncryption="aws:kms", SSEKMSKeyId=key_arn)
    assert "SSEKMSEncryptionContext" not in plain
    assert s3.get_object(Bucket=bucket, Key="plain")["Body"].read() == b"x"


def test_key_conditions_see_the_callers_pairs(admin: AwsEnv) -> None:
    s3, bucket, key_arn = _setup(admin, "ctx-cond")
    user = admin.client_for(admin.new_user(_allow(S3_ALL, _kms_when_project(key_arn, "alpha"))), "s3")
    kms_args = {"ServerSideEncryption": "aws:kms", "SSEKMSKeyId": key_arn}

    code, message, status = aws_error(lambda: user.put_object(Bucket=bucket, Key="none", Body=b"x", **kms_args))
    assert (code, status) == ("AccessDenied", 403) and "kms:GenerateDataKey" in message, message
    code, _, status = aws_error(lambda: user.put_object(
        Bucket=bucket, Key="beta", Body=b"x", SSEKMSEncryptionContext=_encode({"project": "beta"}), **kms_args))
    assert (code, status) == ("AccessDenied", 403)

    user.put_object(Bucket=bucket, Key="alpha", Body=b"alpha data",
                    SSEKMSEncryptionContext=_encode({"project": "alpha"}), **kms_args)
    # The read sends the stored context again: the same condition lets the user decrypt.
    assert user.get_object(Bucket=bucket, Key="alpha")["Body"].read() == b"alpha data"

    # Objects written under another context (or none) stay closed to the user.
    s3.put_object(Bucket=bucket, Key="by-admin", Body=b"b", SSEKMSEncryptionContext=_encode({"project": "beta"}),
                  **kms_args)
    s3.put_object(Bucket=bucket, Key="no-ctx", Body=b"n", **kms_args)
    for key in ("by-admin", "no-ctx"):
        code, message, status = aws_error(lambda: user.get_object(Bucket=bucket, Key=key)["Body"].read())
        assert (code, status) == ("AccessDenied", 403) and "kms:Decrypt" in message, message


def test_malformed_or_misplaced_context_is_refused(admin: AwsEnv) -> None:
    s3, bucket, key_arn = _setup(admin, "ctx-bad")
    kms_args = {"ServerSideEncryption": "aws:kms", "SSEKMSKeyId": key_arn}
    bad = {"not base64": "%%%not-base64%%%", "a list": _encode(["a", "b"]),
           "a number value": _encode({"n": 1}), "not json": base64.b64encode(b"{oops").decode()}
    for why, text in bad.items():
        code, message, status = aws_error(lambda: s3.put_object(Bucket=bucket, Key="k", Body=b"x",
                                                                SSEKMSEncryptionContext=text, **kms_args))
        assert (code, status) == ("InvalidArgument", 400), (why, message)
        # AWS's words (an S3 answer quoted in HADOOP-19197)
        assert message == (f"The header '{KMS_CONTEXT_HEADER}' shall be Base64-encoded UTF-8 string holding JSON "
                           "which represents a string-string map"), (why, message)

    ctx = _encode({"project": "alpha"})
    for extra in ({}, {"ServerSideEncryption": "AES256"}):
        code, message, status = aws_error(lambda: s3.put_object(Bucket=bucket, Key="k", Body=b"x",
                                                                SSEKMSEncryptionContext=ctx, **extra))
        assert (code, status) == ("InvalidArgument", 400), message
        assert "aws:kms" in message, message
    # Nothing was stored by the refused writes.
    assert aws_error(lambda: s3.head_object(Bucket=bucket, Key="k"))[2] == 404

    # aws:s3:arn is S3's own pair: the object's ARN is accepted, another is not.
    same = s3.put_object(Bucket=bucket, Key="k", Body=b"x", **kms_args,
                         SSEKMSEncryptionContext=_encode({"aws:s3:arn": f"arn:aws:s3:::{bucket}/k", "p": "q"}))
    assert _decode(same["SSEKMSEncryptionContext"]) == {"aws:s3:arn": f"arn:aws:s3:::{bucket}/k", "p": "q"}
    code, message, status = aws_error(lambda: s3.put_object(
        Bucket=bucket, Key="k2", Body=b"x", SSEKMSEncryptionContext=_encode({"aws:s3:arn": "arn:aws:s3:::x/y"}),
        **kms_args))
    # AWS's words (thanos-io/thanos #4138)
    assert (code, message, status) == ("InvalidArgument", "The context value for 'aws:s3:arn' shall be equal to "
                                       "object's ARN", 400)


def test_copy_takes_the_requests_context_not_the_sources(admin: AwsEnv) -> None:
    s3, bucket, key_arn = _setup(admin, "ctx-copy")
    user = admin.client_for(admin.new_user(_allow(S3_ALL, _kms_when_project(key_arn, "alpha"))), "s3")
    kms_args = {"ServerSideEncryption": "aws:kms", "SSEKMSKeyId": key_arn}
    s3.put_object(Bucket=bucket, Key="src", Body=b"source body", SSEKMSEncryptionContext=_encode({"project": "alpha"}),
                  **kms_args)

    # The user decrypts the source under its stored context and writes the copy under the request's.
    copied = user.copy_object(Bucket=bucket, Key="dst", CopySource={"Bucket": bucket, "Key": "src"},
                              SSEKMSEncryptionContext=_encode({"project": "alpha", "copy": "1"}), **kms_args)
    assert _decode(copied["SSEKMSEncryptionContext"]) == {
        "project": "alpha", "copy": "1", "aws:s3:arn": f"arn:aws:s3:::{bucket}/dst"}
    assert user.get_object(Bucket=bucket, Key="dst")["Body"].read() == b"source body"

    # A copy without the header does not inherit the source's pairs: the user cannot write it.
    code, message, status = aws_error(lambda: user.copy_object(
        Bucket=bucket, Key="dst2", CopySource={"Bucket": bucket, "Key": "src"}, **kms_args))
    assert (code, status) == ("AccessDenied", 403) and "kms:GenerateDataKey" in message, message
    plain = s3.copy_object(Bucket=bucket, Key="dst3", CopySource={"Bucket": bucket, "Key": "src"}, **kms_args)
    assert "SSEKMSEncryptionContext" not in plain
    assert s3.get_object(Bucket=bucket, Key="dst3")["Body"].read() == b"source body"
    assert aws_error(lambda: user.get_object(Bucket=bucket, Key="dst3")["Body"].read())[0] == "AccessDenied"


def test_multipart_parts_and_completion_use_the_uploads_context(admin: AwsEnv) -> None:
    s3, bucket, key_arn = _setup(admin, "ctx-mpu")
    user = admin.client_for(admin.new_user(_allow(S3_ALL, _kms_when_project(key_arn, "alpha"))), "s3")
    created = user.create_multipart_upload(Bucket=bucket, Key="big", ServerSideEncryption="aws:kms",
                                           SSEKMSKeyId=key_arn, SSEKMSEncryptionContext=_encode({"project": "alpha"}))
    assert _decode(created["SSEKMSEncryptionContext"]) == {"project": "alpha",
                                                           "aws:s3:arn": f"arn:aws:s3:::{bucket}/big"}
    upload_id = created["UploadId"]
    first, second = b"a" * MIN_PART, b"tail"
    etags = [user.upload_part(Bucket=bucket, Key="big", UploadId=upload_id, PartNumber=n, Body=data)["ETag"]
             for n, data in ((1, first), (2, second))]
    user.complete_multipart_upload(Bucket=bucket, Key="big", UploadId=upload_id, MultipartUpload={
        "Parts": [{"PartNumber": n, "ETag": e} for n, e in enumerate(etags, 1)]})
    got = user.get_object(Bucket=bucket, Key="big", Range=f"bytes={MIN_PART - 2}-{MIN_PART + 1}")
    assert got["Body"].read() == b"aata"

    # Without pairs the upload cannot even start for this user.
    code, _, status = aws_error(lambda: user.create_multipart_upload(Bucket=bucket, Key="big2",
                                                                     ServerSideEncryption="aws:kms",
                                                                     SSEKMSKeyId=key_arn))
    assert (code, status) == ("AccessDenied", 403)


def test_bucket_key_objects_use_the_bucket_arn_and_the_pairs(admin: AwsEnv) -> None:
    s3, bucket, key_arn = _setup(admin, "ctx-bk")
    user = admin.client_for(admin.new_user(_allow(S3_ALL, _kms_when_project(key_arn, "alpha"))), "s3")
    put = user.put_object(Bucket=bucket, Key="k", Body=b"bucket keyed", ServerSideEncryption="aws:kms",
                          SSEKMSKeyId=key_arn, BucketKeyEnabled=True,
                          SSEKMSEncryptionContext=_encode({"project": "alpha"}))
    assert put["BucketKeyEnabled"] is True
    assert _decode(put["SSEKMSEncryptionContext"]) == {"project": "alpha", "aws:s3:arn": f"arn:aws:s3:::{bucket}"}
    assert user.get_object(Bucket=bucket, Key="k")["Body"].read() == b"bucket keyed"
    # The bucket key of other pairs is another KMS data key: the user may not make it.
    code, _, status = aws_error(lambda: user.put_object(
        Bucket=bucket, Key="k2", Body=b"x", ServerSideEncryption="aws:kms", SSEKMSKeyId=key_arn, BucketKeyEnabled=True,
        SSEKMSEncryptionContext=_encode({"project": "beta"})))
    assert (code, status) == ("AccessDenied", 403)


def test_the_aws_cli_sends_the_context(admin: AwsEnv, tmp_path: Any) -> None:
    s3, bucket, key_arn = _setup(admin, "ctx-cli")
    body = tmp_path / "body.txt"
    body.write_bytes(b"from the cli")
    out = admin.aws_json("s3api", "put-object", "--bucket", bucket, "--key", "cli", "--body", str(body),
                         "--server-side-encryption", "aws:kms", "--ssekms-key-id", key_arn,
                         "--ssekms-encryption-context", _encode({"origin": "cli"}))
    assert _decode(out["SSEKMSEncryptionContext"]) == {"origin": "cli", "aws:s3:arn": f"arn:aws:s3:::{bucket}/cli"}
    assert s3.get_object(Bucket=bucket, Key="cli")["Body"].read() == b"from the cli"
