"""S3's security model end to end: identity policies, bucket policies across
accounts, Block Public Access, anonymous callers, presigned URLs."""

from __future__ import annotations

import json
import re
import time
import urllib.error
import urllib.request
import uuid

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from .conftest import AwsEnv, Server, aws_error, clean_env


def _name() -> str:
    return f"sec-{uuid.uuid4().hex[:12]}"


def _client(admin: AwsEnv, key: dict, service: str = "s3") -> object:
    return boto3.client(service, aws_access_key_id=key["AccessKeyId"], aws_secret_access_key=key["SecretAccessKey"],
                        endpoint_url=admin.endpoint, region_name="us-east-1",
                        config=Config(retries={"max_attempts": 1}, signature_version="s3v4"))


@pytest.fixture
def s3(admin: AwsEnv):
    return admin.client("s3", region_name="us-east-1")


@pytest.fixture
def bucket(s3) -> str:
    name = _name()
    s3.create_bucket(Bucket=name)
    s3.put_object(Bucket=name, Key="doc.txt", Body=b"hello")
    return name


@pytest.fixture
def account_id(admin: AwsEnv) -> str:
    return admin.client("sts").get_caller_identity()["Account"]


def _user(admin: AwsEnv, managed: str | None = None, inline: dict | None = None) -> tuple[str, dict]:
    iam = admin.client("iam")
    name = f"u-{uuid.uuid4().hex[:8]}"
    iam.create_user(UserName=name)
    if managed:
        iam.attach_user_policy(UserName=name, PolicyArn=managed)
    if inline:
        iam.put_user_policy(UserName=name, PolicyName="p", PolicyDocument=json.dumps(inline))
    return name, iam.create_access_key(UserName=name)["AccessKey"]


def test_read_only_user_reads_but_cannot_write(admin: AwsEnv, bucket: str, account_id: str) -> None:
    name, key = _user(admin, managed="arn:aws:iam::aws:policy/AmazonS3ReadOnlyAccess")
    s3 = _client(admin, key)
    assert bucket in [b["Name"] for b in s3.list_buckets()["Buckets"]]
    assert [o["Key"] for o in s3.list_objects_v2(Bucket=bucket)["Contents"]] == ["doc.txt"]
    assert s3.get_object(Bucket=bucket, Key="doc.txt")["Body"].read() == b"hello"
    with pytest.raises(ClientError) as e:
        s3.put_object(Bucket=bucket, Key="new.txt", Body=b"x")
    err = e.value.response["Error"]
    assert e.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403
    assert err["Code"] == "AccessDenied"
    assert err["Message"] == (
        f'User: arn:aws:iam::{account_id}:user/{name} is not authorized to perform: s3:PutObject on resource: '
        f'"arn:aws:s3:::{bucket}/new.txt" because no identity-based policy allows the s3:PutObject action')
    with pytest.raises(ClientError) as e:  # the same connection still works after a refused upload
        s3.delete_bucket(Bucket=bucket)
    assert e.value.response["Error"]["Code"] == "AccessDenied"


def test_missing_key_without_list_permission_is_access_denied(admin: AwsEnv, bucket: str) -> None:
    _, key = _user(admin, inline={"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": "s3:GetObject", "Resource": f"arn:aws:s3:::{bucket}/*"}]})
    s3 = _client(admin, key)
    assert s3.get_object(Bucket=bucket, Key="doc.txt")["Body"].read() == b"hello"
    with pytest.raises(ClientError) as e:
        s3.get_object(Bucket=bucket, Key="nothing-here")
    assert e.value.response["Error"]["Code"] == "AccessDenied", e.value.response


def test_bucket_policy_grants_another_account(admin: AwsEnv, server: Server, s3, bucket: str, tmp_path) -> None:
    out = server.cli("account", "create", f"partner-{uuid.uuid4().hex[:6]}")
    assert out.returncode == 0, out.stderr
    partner_id = re.search(r"Created account (\d{12})", out.stdout).group(1)
    name = out.stdout and re.search(r"account (\d{12})", out.stdout) and f"partner-p{uuid.uuid4().hex[:4]}"
    env = clean_env(tmp_path)
    acct_name = out.args[3] if len(out.args) > 3 else None
    out = server.cli("configure", "--profile", "partner", "--account", acct_name, "--endpoint", server.endpoint,
                     env=env)
    assert out.returncode == 0, out.stderr
    partner = AwsEnv(env=env, profile="partner", endpoint=server.endpoint)
    p3 = partner.client("s3", region_name="us-east-1")
    # no bucket policy yet: the partner's own admin rights do not reach our bucket
    with pytest.raises(ClientError) as e:
        p3.get_object(Bucket=bucket, Key="doc.txt")
    assert e.value.response["Error"]["Code"] == "AccessDenied"
    s3.put_bucket_policy(Bucket=bucket, Policy=json.dumps({"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{partner_id}:root"},
        "Action": ["s3:GetObject", "s3:ListBucket"],
        "Resource": [f"arn:aws:s3:::{bucket}", f"arn:aws:s3:::{bucket}/*"]}]}))
    assert p3.get_object(Bucket=bucket, Key="doc.txt")["Body"].read() == b"hello"
    assert [o["Key"] for o in p3.list_objects_v2(Bucket=bucket)["Contents"]] == ["doc.txt"]
    with pytest.raises(ClientError) as e:
        p3.put_object(Bucket=bucket, Key="x", Body=b"x")
    assert e.value.response["Error"]["Code"] == "AccessDenied"
    # a partner user whose own identity policy allows nothing is still refused
    piam = partner.client("iam")
    piam.create_user(UserName="nobody")
    key = piam.create_access_key(UserName="nobody")["AccessKey"]
    with pytest.raises(ClientError) as e:
        _client(partner, key).get_object(Bucket=bucket, Key="doc.txt")
    assert e.value.response["Error"]["Code"] == "AccessDenied"
    del name


def _anonymous_get(url: str) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(url) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()


def test_public_policy_blocked_until_bpa_off(admin: AwsEnv, s3, bucket: str, account_id: str) -> None:
    public = json.dumps({"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow", "Principal": "*", "Action": "s3:GetObject", "Resource": f"arn:aws:s3:::{bucket}/*"}]})
    url = f"{admin.endpoint}/{bucket}/doc.txt"
    assert _anonymous_get(url)[0] == 403
    assert s3.get_public_access_block(Bucket=bucket)["PublicAccessBlockConfiguration"]["BlockPublicPolicy"] is True
    with pytest.raises(ClientError) as e:
        s3.put_bucket_policy(Bucket=bucket, Policy=public)
    assert e.value.response["Error"]["Code"] == "AccessDenied"
    assert "BlockPublicPolicy" in e.value.response["Error"]["Message"]
    s3.delete_public_access_block(Bucket=bucket)
    s3.put_bucket_policy(Bucket=bucket, Policy=public)
    assert s3.get_bucket_policy_status(Bucket=bucket)["PolicyStatus"]["IsPublic"] is True
    assert _anonymous_get(url) == (200, b"hello")
    status, body = _anonymous_get(f"{admin.endpoint}/{bucket}?list-type=2")
    assert status == 403 and b"<Code>AccessDenied</Code>" in body  # the policy grants reads, not listing
    s3.delete_bucket_policy(Bucket=bucket)
    assert _anonymous_get(url)[0] == 403


def test_malformed_bucket_policies(s3, bucket: str) -> None:
    cases = {
        "not json": "Policies must be valid JSON and the first byte must be '{'",
        json.dumps({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": "*",
                    "Action": "s3:GetObject", "Resource": "arn:aws:s3:::some-other-bucket/*"}]}):
            "Policy has invalid resource",
        json.dumps({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": "*",
                    "Action": "iam:CreateUser", "Resource": f"arn:aws:s3:::{bucket}/*"}]}):
            "Policy has invalid action",
        json.dumps({"Version": "2012-10-17", "Statement": [{"Effect": "Allow",
                    "Action": "s3:GetObject", "Resource": f"arn:aws:s3:::{bucket}/*"}]}):
            "Missing required field Principal",
        # a user that does not exist (S3 resolves the users and roles a policy names)
        json.dumps({"Version": "2012-10-17", "Statement": [{"Effect": "Allow",
                    "Principal": {"AWS": "arn:aws:iam::123456789012:user/nobody-here"},
                    "Action": "s3:GetObject", "Resource": f"arn:aws:s3:::{bucket}/*"}]}):
            "Invalid principal in policy",
    }
    for doc, message in cases.items():
        with pytest.raises(ClientError) as e:
            s3.put_bucket_policy(Bucket=bucket, Policy=doc)
        assert (e.value.response["Error"]["Code"], e.value.response["Error"]["Message"]) == ("MalformedPolicy", message)
    with pytest.raises(ClientError) as e:
        s3.get_bucket_policy(Bucket=bucket)
    assert e.value.response["Error"]["Code"] == "NoSuchBucketPolicy"


def test_presigned_url_until_it_expires(admin: AwsEnv, bucket: str) -> None:
    s3 = admin.session().client("s3", region_name="us-east-1", endpoint_url=admin.endpoint,
                                config=Config(signature_version="s3v4"))
    url = s3.generate_presigned_url("get_object", Params={"Bucket": bucket, "Key": "doc.txt"}, ExpiresIn=2)
    assert _anonymous_get(url) == (200, b"hello")
    put_url = s3.generate_presigned_url("put_object", Params={"Bucket": bucket, "Key": "up.txt"}, ExpiresIn=60)
    req = urllib.request.Request(put_url, data=b"uploaded", method="PUT")
    with urllib.request.urlopen(req) as r:
        assert r.status == 200
    assert s3.get_object(Bucket=bucket, Key="up.txt")["Body"].read() == b"uploaded"
    time.sleep(3.2)
    status, body = _anonymous_get(url)
    assert status == 403 and b"<Code>AccessDenied</Code>" in body and b"Request has expired" in body


def test_policy_denies_unencrypted_uploads(admin: AwsEnv, s3, bucket: str) -> None:
    s3.put_bucket_policy(Bucket=bucket, Policy=json.dumps({"Version": "2012-10-17", "Statement": [
        {"Sid": "DenyIncorrectEncryptionHeader", "Effect": "Deny", "Principal": "*", "Action": "s3:PutObject",
         "Resource": f"arn:aws:s3:::{bucket}/*",
         "Condition": {"StringNotEquals": {"s3:x-amz-server-side-encryption": "AES256"}}},
        {"Sid": "DenyUnEncryptedObjectUploads", "Effect": "Deny", "Principal": "*", "Action": "s3:PutObject",
         "Resource": f"arn:aws:s3:::{bucket}/*",
         "Condition": {"Null": {"s3:x-amz-server-side-encryption": "true"}}}]}))
    with pytest.raises(ClientError) as e:
        s3.put_object(Bucket=bucket, Key="plain", Body=b"x")
    err = e.value.response["Error"]
    assert err["Code"] == "AccessDenied" and "with an explicit deny in a resource-based policy" in err["Message"]
    s3.put_object(Bucket=bucket, Key="sealed", Body=b"x", ServerSideEncryption="AES256")
    assert s3.head_object(Bucket=bucket, Key="sealed")["ServerSideEncryption"] == "AES256"


def test_sse_kms_needs_the_callers_kms_permissions(admin: AwsEnv, bucket: str) -> None:
    kms = admin.client("kms")
    key_arn = kms.create_key()["KeyMetadata"]["Arn"]
    s3 = admin.client("s3", region_name="us-east-1")
    out = s3.put_object(Bucket=bucket, Key="kms-doc", Body=b"kms protected", ServerSideEncryption="aws:kms",
                        SSEKMSKeyId=key_arn)
    assert out["ServerSideEncryption"] == "aws:kms" and out["SSEKMSKeyId"] == key_arn
    assert s3.get_object(Bucket=bucket, Key="kms-doc")["Body"].read() == b"kms protected"
    # a reader allowed s3:GetObject but not kms:Decrypt is refused, as on AWS
    _, key = _user(admin, inline={"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"}]})
    with pytest.raises(ClientError) as e:
        _client(admin, key).get_object(Bucket=bucket, Key="kms-doc")
    assert e.value.response["Error"]["Code"] == "AccessDenied"
    assert "kms:Decrypt" in e.value.response["Error"]["Message"]


def test_expected_bucket_owner_refuses_a_bucket_of_another_account(admin: AwsEnv) -> None:
    """`--expected-bucket-owner` guards against writing to (or reading from) a bucket whose
    name another account holds: a mismatch is 403 whatever the caller's permissions."""
    s3 = admin.client("s3", region_name="us-east-1")
    account = admin.client("sts").get_caller_identity()["Account"]
    other = "111122223333" if account != "111122223333" else "444455556666"
    bucket = f"owner-{uuid.uuid4().hex[:10]}"
    s3.create_bucket(Bucket=bucket)
    s3.put_object(Bucket=bucket, Key="doc", Body=b"mine", ExpectedBucketOwner=account)
    assert s3.get_object(Bucket=bucket, Key="doc", ExpectedBucketOwner=account)["Body"].read() == b"mine"

    for call in (lambda: s3.put_object(Bucket=bucket, Key="leak", Body=b"x", ExpectedBucketOwner=other),
                 lambda: s3.get_object(Bucket=bucket, Key="doc", ExpectedBucketOwner=other),
                 lambda: s3.list_objects_v2(Bucket=bucket, ExpectedBucketOwner=other),
                 lambda: s3.copy_object(Bucket=bucket, Key="copy", CopySource={"Bucket": bucket, "Key": "doc"},
                                        ExpectedSourceBucketOwner=other)):
        assert aws_error(call)[::2] == ("AccessDenied", 403)
    assert [o["Key"] for o in s3.list_objects_v2(Bucket=bucket)["Contents"]] == ["doc"]  # nothing written

    out = admin.aws("s3api", "head-bucket", "--bucket", bucket, "--expected-bucket-owner", other)
    assert out.returncode != 0 and "403" in out.stderr
    assert admin.aws("s3api", "head-bucket", "--bucket", bucket, "--expected-bucket-owner", account).returncode == 0


def test_the_owners_root_can_always_repair_the_bucket_policy(admin: AwsEnv, server: Server, s3, bucket: str) -> None:
    """A policy denying everyone everything: the admin is locked out, but the owner
    account's root may still read, replace and delete the policy (S3 API reference,
    DeleteBucketPolicy), and only those three."""
    deny_all = json.dumps({"Version": "2012-10-17", "Statement": [
        {"Effect": "Deny", "Principal": "*", "Action": "s3:*", "Resource": [
            f"arn:aws:s3:::{bucket}", f"arn:aws:s3:::{bucket}/*"]}]})
    s3.put_bucket_policy(Bucket=bucket, Policy=deny_all)
    assert aws_error(lambda: s3.get_bucket_policy(Bucket=bucket))[0] == "AccessDenied"
    out = server.cli("account", "root-key")
    assert out.returncode == 0, out.stderr
    key = re.search(r"access key id:\s+(\S+)", out.stdout).group(1)
    secret = re.search(r"secret access key:\s+(\S+)", out.stdout).group(1)
    root = _client(admin, {"AccessKeyId": key, "SecretAccessKey": secret})
    assert json.loads(root.get_bucket_policy(Bucket=bucket)["Policy"]) == json.loads(deny_all)
    assert aws_error(lambda: root.get_object(Bucket=bucket, Key="doc.txt"))[0] == "AccessDenied"  # only the three
    root.put_bucket_policy(Bucket=bucket, Policy=deny_all)
    root.delete_bucket_policy(Bucket=bucket)
    assert s3.get_object(Bucket=bucket, Key="doc.txt")["Body"].read() == b"hello"
