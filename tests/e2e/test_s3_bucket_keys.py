"""S3 Bucket Keys for SSE-KMS, as AWS documents them (S3 user guide, "Reducing the cost
of SSE-KMS with Amazon S3 Bucket Keys"): set on the bucket or per object, echoed as
BucketKeyEnabled, a bucket-level KMS data key with the bucket's ARN as encryption
context, fetched once per requester and window -- and still every requester's own KMS
decision."""

from __future__ import annotations

import json
import time
import uuid
from pathlib import Path
from typing import Any

import pytest
import requests

from .conftest import AwsEnv, Server, aws_error, new_bucket, own_server

ALLOW_S3 = {"Effect": "Allow", "Action": "s3:*", "Resource": "*"}
ALLOW_KMS = {"Effect": "Allow", "Action": ["kms:GenerateDataKey", "kms:Decrypt"], "Resource": "*"}
PART = 5 * 1024 * 1024


def _policy(*statements: dict) -> dict:
    return {"Version": "2012-10-17", "Statement": list(statements)}


@pytest.fixture(scope="module")
def s3(admin: AwsEnv) -> Any:
    return admin.client("s3", region_name="us-east-1")


@pytest.fixture(scope="module")
def key_arn(admin: AwsEnv) -> str:
    return admin.client("kms").create_key(Description="bucket keys")["KeyMetadata"]["Arn"]


def _kms_default(s3: Any, bucket: str, key: str | None, bucket_key: bool, alg: str = "aws:kms") -> None:
    default: dict[str, str] = {"SSEAlgorithm": alg}
    if key:
        default["KMSMasterKeyID"] = key
    s3.put_bucket_encryption(Bucket=bucket, ServerSideEncryptionConfiguration={"Rules": [
        {"ApplyServerSideEncryptionByDefault": default, "BucketKeyEnabled": bucket_key}]})


def _bk(response: dict) -> Any:
    return response.get("BucketKeyEnabled")


def test_bucket_default_applies_to_new_objects_only(s3: Any, key_arn: str) -> None:
    bucket = new_bucket(s3, "bk-default")
    s3.put_object(Bucket=bucket, Key="before", Body=b"old")
    _kms_default(s3, bucket, key_arn, True)
    body = uuid.uuid4().bytes * 20_000  # several frames: a blob
    put = s3.put_object(Bucket=bucket, Key="after", Body=body)
    assert (put["ServerSideEncryption"], put["SSEKMSKeyId"], _bk(put)) == ("aws:kms", key_arn, True)
    head = s3.head_object(Bucket=bucket, Key="after")
    assert (head["ServerSideEncryption"], head["SSEKMSKeyId"], _bk(head)) == ("aws:kms", key_arn, True)
    got = s3.get_object(Bucket=bucket, Key="after")
    assert _bk(got) is True and got["Body"].read() == body
    part = s3.get_object(Bucket=bucket, Key="after", Range="bytes=70000-200000")
    assert part["Body"].read() == body[70000:200001]
    small = s3.put_object(Bucket=bucket, Key="small", Body=b"tiny")  # inline in its record
    assert _bk(small) is True and s3.get_object(Bucket=bucket, Key="small")["Body"].read() == b"tiny"
    # the object stored before is as it was: SSE-S3, no bucket key
    old = s3.get_object(Bucket=bucket, Key="before")
    assert old["ServerSideEncryption"] == "AES256" and "BucketKeyEnabled" not in old
    assert old["Body"].read() == b"old"
    # the AWS managed key (aws/s3) works with a bucket key too
    managed = new_bucket(s3, "bk-managed")
    _kms_default(s3, managed, None, True)
    put = s3.put_object(Bucket=managed, Key="k", Body=b"managed")
    assert _bk(put) is True and put["SSEKMSKeyId"].startswith("arn:aws:kms:")
    assert s3.get_object(Bucket=managed, Key="k")["Body"].read() == b"managed"


def test_object_header_overrides_the_bucket_both_ways(s3: Any, key_arn: str) -> None:
    on = new_bucket(s3, "bk-on")
    _kms_default(s3, on, key_arn, True)
    put = s3.put_object(Bucket=on, Key="off", Body=b"x", BucketKeyEnabled=False)
    assert put["ServerSideEncryption"] == "aws:kms" and "BucketKeyEnabled" not in put  # false is never sent
    assert "BucketKeyEnabled" not in s3.head_object(Bucket=on, Key="off")
    # an explicit aws:kms header still takes the bucket's bucket key setting
    put = s3.put_object(Bucket=on, Key="explicit", Body=b"x", ServerSideEncryption="aws:kms")
    assert _bk(put) is True

    off = new_bucket(s3, "bk-off")
    _kms_default(s3, off, key_arn, False)
    assert "BucketKeyEnabled" not in s3.put_object(Bucket=off, Key="plain", Body=b"x")
    put = s3.put_object(Bucket=off, Key="on", Body=b"y", BucketKeyEnabled=True)
    assert _bk(put) is True and _bk(s3.head_object(Bucket=off, Key="on")) is True
    assert s3.get_object(Bucket=off, Key="on")["Body"].read() == b"y"


def test_sse_s3_ignores_the_bucket_key_setting(s3: Any) -> None:
    bucket = new_bucket(s3, "bk-sses3")
    _kms_default(s3, bucket, None, True, alg="AES256")
    put = s3.put_object(Bucket=bucket, Key="a", Body=b"a")
    assert put["ServerSideEncryption"] == "AES256" and "BucketKeyEnabled" not in put
    put = s3.put_object(Bucket=bucket, Key="b", Body=b"b", ServerSideEncryption="AES256", BucketKeyEnabled=True)
    assert put["ServerSideEncryption"] == "AES256" and "BucketKeyEnabled" not in put
    assert "BucketKeyEnabled" not in s3.head_object(Bucket=bucket, Key="b")


def test_aws_cli_object_level_bucket_key(admin: AwsEnv, s3: Any, key_arn: str, tmp_path: Path) -> None:
    bucket = new_bucket(s3, "bk-cli")
    src = tmp_path / "up.txt"
    src.write_bytes(b"from the cli " * 100)
    out = admin.aws_json("s3api", "put-object", "--bucket", bucket, "--key", "cli", "--body", str(src),
                         "--server-side-encryption", "aws:kms", "--ssekms-key-id", key_arn, "--bucket-key-enabled")
    assert (out["ServerSideEncryption"], out["SSEKMSKeyId"], out["BucketKeyEnabled"]) == ("aws:kms", key_arn, True)
    head = admin.aws_json("s3api", "head-object", "--bucket", bucket, "--key", "cli")
    assert head["BucketKeyEnabled"] is True
    down = tmp_path / "down.txt"
    done = admin.aws("s3", "cp", f"s3://{bucket}/cli", str(down))
    assert done.returncode == 0, done.stderr
    assert down.read_bytes() == src.read_bytes()
    out = admin.aws_json("s3api", "put-object", "--bucket", bucket, "--key", "no-bk", "--body", str(src),
                         "--server-side-encryption", "aws:kms", "--ssekms-key-id", key_arn, "--no-bucket-key-enabled")
    assert "BucketKeyEnabled" not in out


def test_multipart_upload_with_a_bucket_key(s3: Any, key_arn: str) -> None:
    bucket = new_bucket(s3, "bk-mpu")
    s3.put_object(Bucket=bucket, Key="source", Body=b"S" * 1000)  # SSE-S3 source for a part copy
    created = s3.create_multipart_upload(Bucket=bucket, Key="big", ServerSideEncryption="aws:kms",
                                         SSEKMSKeyId=key_arn, BucketKeyEnabled=True)
    assert (created["SSEKMSKeyId"], _bk(created)) == (key_arn, True)
    upload = created["UploadId"]
    first = b"a" * PART
    part1 = s3.upload_part(Bucket=bucket, Key="big", UploadId=upload, PartNumber=1, Body=first)
    assert (part1["ServerSideEncryption"], _bk(part1)) == ("aws:kms", True)
    part2 = s3.upload_part_copy(Bucket=bucket, Key="big", UploadId=upload, PartNumber=2,
                                CopySource={"Bucket": bucket, "Key": "source"})
    assert _bk(part2) is True
    done = s3.complete_multipart_upload(Bucket=bucket, Key="big", UploadId=upload, MultipartUpload={"Parts": [
        {"PartNumber": 1, "ETag": part1["ETag"]}, {"PartNumber": 2, "ETag": part2["CopyPartResult"]["ETag"]}]})
    assert (done["SSEKMSKeyId"], _bk(done)) == (key_arn, True)
    got = s3.get_object(Bucket=bucket, Key="big")
    assert _bk(got) is True and got["Body"].read() == first + b"S" * 1000
    # the bucket's default (no bucket key) does not reach into an upload that asked for one, and back
    _kms_default(s3, bucket, key_arn, True)
    plain = s3.create_multipart_upload(Bucket=bucket, Key="plain", BucketKeyEnabled=False)
    assert plain["ServerSideEncryption"] == "aws:kms" and "BucketKeyEnabled" not in plain
    part = s3.upload_part(Bucket=bucket, Key="plain", UploadId=plain["UploadId"], PartNumber=1, Body=b"p")
    assert "BucketKeyEnabled" not in part
    done = s3.complete_multipart_upload(Bucket=bucket, Key="plain", UploadId=plain["UploadId"],
                                        MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": part["ETag"]}]})
    assert "BucketKeyEnabled" not in done and "BucketKeyEnabled" not in s3.head_object(Bucket=bucket, Key="plain")


def test_copy_turns_a_bucket_key_on_for_an_existing_object(s3: Any, key_arn: str) -> None:
    bucket = new_bucket(s3, "bk-copy")
    s3.put_object(Bucket=bucket, Key="doc", Body=b"existing", ServerSideEncryption="aws:kms", SSEKMSKeyId=key_arn)
    assert "BucketKeyEnabled" not in s3.head_object(Bucket=bucket, Key="doc")
    copied = s3.copy_object(Bucket=bucket, Key="doc", CopySource={"Bucket": bucket, "Key": "doc"},
                            ServerSideEncryption="aws:kms", SSEKMSKeyId=key_arn, BucketKeyEnabled=True)
    assert (copied["SSEKMSKeyId"], _bk(copied)) == (key_arn, True)
    got = s3.get_object(Bucket=bucket, Key="doc")
    assert _bk(got) is True and got["Body"].read() == b"existing"
    # a copy re-encrypts under the destination's choice: not the source's bucket key
    again = s3.copy_object(Bucket=bucket, Key="doc-copy", CopySource={"Bucket": bucket, "Key": "doc"},
                           ServerSideEncryption="aws:kms", SSEKMSKeyId=key_arn)
    assert "BucketKeyEnabled" not in again
    aes = s3.copy_object(Bucket=bucket, Key="doc-aes", CopySource={"Bucket": bucket, "Key": "doc"})
    assert aes["ServerSideEncryption"] == "AES256" and "BucketKeyEnabled" not in aes
    assert s3.get_object(Bucket=bucket, Key="doc-aes")["Body"].read() == b"existing"


def test_form_post_field_sets_a_bucket_key(s3: Any, key_arn: str) -> None:
    bucket = new_bucket(s3, "bk-post")
    fields = {"x-amz-server-side-encryption": "aws:kms", "x-amz-server-side-encryption-aws-kms-key-id": key_arn,
              "x-amz-server-side-encryption-bucket-key-enabled": "true"}
    post = s3.generate_presigned_post(bucket, "posted", Fields=fields,
                                      Conditions=[{k: v} for k, v in fields.items()], ExpiresIn=300)
    r = requests.post(post["url"], data=post["fields"], files={"file": ("f", b"posted body")}, timeout=30)
    assert r.status_code == 204, r.text
    assert r.headers.get("x-amz-server-side-encryption-bucket-key-enabled") == "true"
    head = s3.head_object(Bucket=bucket, Key="posted")
    assert (head["SSEKMSKeyId"], _bk(head)) == (key_arn, True)


def _key_for_context(admin: AwsEnv, account: str, user_arn: str, condition: dict) -> str:
    """A key whose policy lets the account administer it and `user_arn` use it only
    under `condition` (the user's IAM policy grants no KMS permission)."""
    policy = _policy(
        {"Sid": "Admin", "Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{account}:root"},
         "Action": "kms:*", "Resource": "*"},
        {"Sid": "Use", "Effect": "Allow", "Principal": {"AWS": user_arn},
         "Action": ["kms:GenerateDataKey", "kms:Decrypt"], "Resource": "*", "Condition": condition})
    return admin.client("kms").create_key(Policy=json.dumps(policy))["KeyMetadata"]["Arn"]


def test_key_policy_sees_the_bucket_arn_as_encryption_context(admin: AwsEnv, s3: Any) -> None:
    account = admin.client("sts").get_caller_identity()["Account"]
    bucket = new_bucket(s3, "bk-context")
    key = admin.new_user(_policy(ALLOW_S3))
    user_arn = admin.client_for(key, "sts").get_caller_identity()["Arn"]
    time.sleep(0.2)
    bucket_arn = f"arn:aws:s3:::{bucket}"
    by_bucket = _key_for_context(admin, account, user_arn,
                                 {"StringEquals": {"kms:EncryptionContext:aws:s3:arn": bucket_arn}})
    by_object = _key_for_context(admin, account, user_arn,
                                 {"StringLike": {"kms:EncryptionContext:aws:s3:arn": f"{bucket_arn}/*"}})
    user = admin.client_for(key, "s3")

    # with a bucket key, KMS sees the bucket's ARN
    user.put_object(Bucket=bucket, Key="bk", Body=b"bucket key", ServerSideEncryption="aws:kms",
                    SSEKMSKeyId=by_bucket, BucketKeyEnabled=True)
    assert user.get_object(Bucket=bucket, Key="bk")["Body"].read() == b"bucket key"
    code, message, status = aws_error(lambda: user.put_object(
        Bucket=bucket, Key="bk2", Body=b"x", ServerSideEncryption="aws:kms", SSEKMSKeyId=by_object,
        BucketKeyEnabled=True))
    assert (code, status) == ("AccessDenied", 403) and "kms:GenerateDataKey" in message

    # without one, the object's ARN (the reverse)
    user.put_object(Bucket=bucket, Key="plain", Body=b"per object", ServerSideEncryption="aws:kms",
                    SSEKMSKeyId=by_object)
    assert user.get_object(Bucket=bucket, Key="plain")["Body"].read() == b"per object"
    code, message, status = aws_error(lambda: user.put_object(
        Bucket=bucket, Key="plain2", Body=b"x", ServerSideEncryption="aws:kms", SSEKMSKeyId=by_bucket))
    assert (code, status) == ("AccessDenied", 403) and "kms:GenerateDataKey" in message

    # an object the admin wrote with a bucket key under the object-ARN key: the user cannot read it
    s3.put_object(Bucket=bucket, Key="admin-bk", Body=b"x", ServerSideEncryption="aws:kms", SSEKMSKeyId=by_object,
                  BucketKeyEnabled=True)
    code, message, status = aws_error(lambda: user.get_object(Bucket=bucket, Key="admin-bk"))
    assert (code, status) == ("AccessDenied", 403) and "kms:Decrypt" in message


def test_a_reader_without_kms_decrypt_is_refused_after_another_read(admin: AwsEnv, s3: Any, key_arn: str) -> None:
    bucket = new_bucket(s3, "bk-decrypt")
    _kms_default(s3, bucket, key_arn, True)
    s3.put_object(Bucket=bucket, Key="bk", Body=b"secret")
    s3.put_object(Bucket=bucket, Key="plain", Body=b"secret", BucketKeyEnabled=False)
    reader = admin.client_for(admin.new_user(_policy(ALLOW_KMS, ALLOW_S3)), "s3")
    no_kms = admin.client_for(admin.new_user(_policy(ALLOW_S3)), "s3")
    time.sleep(0.2)
    assert reader.get_object(Bucket=bucket, Key="bk")["Body"].read() == b"secret"
    assert s3.get_object(Bucket=bucket, Key="bk")["Body"].read() == b"secret"
    refused = aws_error(lambda: no_kms.get_object(Bucket=bucket, Key="bk"))
    # the same refusal as for an object without a bucket key: S3's AccessDenied naming kms:Decrypt
    assert refused == aws_error(lambda: no_kms.get_object(Bucket=bucket, Key="plain"))
    assert refused[0] == "AccessDenied" and refused[2] == 403 and "kms:Decrypt" in refused[1]
    assert no_kms.head_object(Bucket=bucket, Key="bk")["BucketKeyEnabled"] is True  # HEAD opens no key


def test_encrypted_at_rest_under_bucket_keys(s3: Any, key_arn: str, server: Server) -> None:
    bucket = new_bucket(s3, "bk-rest")
    _kms_default(s3, bucket, key_arn, True)
    marker = b"BUCKET-KEY-PLAINTEXT-" + uuid.uuid4().hex.encode()
    s3.put_object(Bucket=bucket, Key="small", Body=marker * 100)  # inline in its record
    s3.put_object(Bucket=bucket, Key="large", Body=marker * 5000)  # a blob
    stored = [p for p in server.data_dir.rglob("*") if p.is_file()]  # blobs, and small bodies in the database
    assert stored and not any(marker in p.read_bytes() for p in stored)
    assert s3.get_object(Bucket=bucket, Key="large")["Body"].read() == marker * 5000


def _kms_events(env: AwsEnv, name: str, user_arn: str) -> list[dict]:
    events = env.client("cloudtrail").lookup_events(
        LookupAttributes=[{"AttributeKey": "EventName", "AttributeValue": name}], MaxResults=50)["Events"]
    found = [json.loads(e["CloudTrailEvent"]) for e in events]
    return [e for e in found if e["eventSource"] == "kms.amazonaws.com" and e["userIdentity"].get("arn") == user_arn]


def _wait_count(env: AwsEnv, name: str, user_arn: str, count: int) -> list[dict]:
    deadline = time.monotonic() + 10
    while True:
        found = _kms_events(env, name, user_arn)
        if len(found) >= count or time.monotonic() > deadline:
            return found
        time.sleep(0.2)


def test_cloudtrail_shows_one_kms_call_per_requester_and_window(tmp_path: Path) -> None:
    with own_server(tmp_path) as (srv, admin):
        s3 = admin.client("s3", region_name="us-east-1")
        key_arn = admin.client("kms").create_key()["KeyMetadata"]["Arn"]
        bucket = new_bucket(s3, "bk-trail")
        bucket_arn = f"arn:aws:s3:::{bucket}"
        _kms_default(s3, bucket, key_arn, True)
        access = admin.new_user(_policy(ALLOW_KMS, ALLOW_S3))
        user_arn = admin.client_for(access, "sts").get_caller_identity()["Arn"]
        user = admin.client_for(access, "s3")
        time.sleep(0.2)
        for i in range(3):
            user.put_object(Bucket=bucket, Key=f"k{i}", Body=b"v%d" % i)
        for i in range(3):
            assert user.get_object(Bucket=bucket, Key=f"k{i}")["Body"].read() == b"v%d" % i
        generated = _wait_count(admin, "GenerateDataKey", user_arn, 1)
        decrypted = _wait_count(admin, "Decrypt", user_arn, 1)
        assert len(generated) == 1 and len(decrypted) == 1
        for event in generated + decrypted:
            assert event["requestParameters"]["encryptionContext"] == {"aws:s3:arn": bucket_arn}
            assert event["resources"][0]["ARN"] == key_arn and "errorCode" not in event
        assert generated[0]["requestParameters"]["keyId"] == key_arn
        material = admin.client("kms").describe_key(KeyId=key_arn)["KeyMetadata"]["CurrentKeyMaterialId"]
        assert generated[0]["additionalEventData"] == {"keyMaterialId": material}

        # past the window, the requester meets KMS again
        assert srv.cli("clock", "advance", "10m", "--endpoint", srv.endpoint).returncode == 0
        user.put_object(Bucket=bucket, Key="later", Body=b"later")
        assert user.get_object(Bucket=bucket, Key="k0")["Body"].read() == b"v0"
        assert len(_wait_count(admin, "GenerateDataKey", user_arn, 2)) == 2
        assert len(_wait_count(admin, "Decrypt", user_arn, 2)) == 2

        # another requester gets its own bucket key
        other = admin.new_user(_policy(ALLOW_KMS, ALLOW_S3))
        other_arn = admin.client_for(other, "sts").get_caller_identity()["Arn"]
        time.sleep(0.2)
        admin.client_for(other, "s3").put_object(Bucket=bucket, Key="other", Body=b"o")
        assert len(_wait_count(admin, "GenerateDataKey", other_arn, 1)) == 1

        # a requester KMS refuses is refused by S3, and its KMS attempt is recorded as denied
        refused = admin.new_user(_policy(ALLOW_S3))
        refused_arn = admin.client_for(refused, "sts").get_caller_identity()["Arn"]
        time.sleep(0.2)
        code, _, status = aws_error(lambda: admin.client_for(refused, "s3").put_object(
            Bucket=bucket, Key="no", Body=b"no"))
        assert (code, status) == ("AccessDenied", 403)
        denied = _wait_count(admin, "GenerateDataKey", refused_arn, 1)
        assert [e.get("errorCode") for e in denied] == ["AccessDeniedException"]

        # a deleted bucket takes its bucket keys along: a new bucket of that name starts afresh
        for listed in s3.list_objects_v2(Bucket=bucket)["Contents"]:
            s3.delete_object(Bucket=bucket, Key=listed["Key"])
        s3.delete_bucket(Bucket=bucket)
        s3.create_bucket(Bucket=bucket)
        _kms_default(s3, bucket, key_arn, True)
        user.put_object(Bucket=bucket, Key="again", Body=b"again")
        assert len(_wait_count(admin, "GenerateDataKey", user_arn, 3)) == 3


def test_a_recreated_user_meets_kms_again(admin: AwsEnv, s3: Any, key_arn: str) -> None:
    """Requesters are told apart by unique id: a user deleted and created again under
    the same name has not met KMS, whatever its namesake's window holds."""
    iam: Any = admin.client("iam")
    bucket = new_bucket(s3, "bk-recreated")
    _kms_default(s3, bucket, key_arn, True)
    s3.put_object(Bucket=bucket, Key="k", Body=b"top secret")
    name = f"bk-bob-{uuid.uuid4().hex[:6]}"
    iam.create_user(UserName=name)
    iam.put_user_policy(UserName=name, PolicyName="p", PolicyDocument=json.dumps(_policy(ALLOW_S3, ALLOW_KMS)))
    key = iam.create_access_key(UserName=name)["AccessKey"]
    assert admin.client_for(key, "s3").get_object(Bucket=bucket, Key="k")["Body"].read() == b"top secret"

    iam.delete_access_key(UserName=name, AccessKeyId=key["AccessKeyId"])
    iam.delete_user_policy(UserName=name, PolicyName="p")
    iam.delete_user(UserName=name)
    iam.create_user(UserName=name)
    iam.put_user_policy(UserName=name, PolicyName="p", PolicyDocument=json.dumps(_policy(ALLOW_S3)))
    key = iam.create_access_key(UserName=name)["AccessKey"]
    code, message, status = aws_error(lambda: admin.client_for(key, "s3").get_object(Bucket=bucket, Key="k"))
    assert (code, status) == ("AccessDenied", 403) and "kms:Decrypt" in message
