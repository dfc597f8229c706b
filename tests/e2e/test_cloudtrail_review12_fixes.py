"""CloudTrail differences a review reproduced: STS credential calls recorded as writes,
EC2 error codes without their Client./Server. side, a multi-region trail's events all
filed under its home region, data-event selector Values ignored, KmsKeyId ignored, and
a bucket policy without CloudTrail's s3:GetBucketAcl statement accepted."""

from __future__ import annotations

import datetime as dt
import gzip
import json
import re
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from .conftest import (
    AwsEnv, aws_error, new_bucket, own_server, wait_for, cloudtrail_bucket_policy, validate_logs,
    assert_all_logs_valid,
)

REGION = "us-east-1"


def _unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


@pytest.fixture(scope="module")
def log_bucket(admin: AwsEnv, account: str) -> str:
    s3 = admin.client("s3", region_name=REGION)
    name = new_bucket(s3, "ct12-logs")
    # each trail writes under a key prefix of its own
    s3.put_bucket_policy(Bucket=name, Policy=cloudtrail_bucket_policy(name))
    return name


@pytest.fixture
def trail(admin: AwsEnv, log_bucket: str) -> Iterator[Callable[..., str]]:
    """make(selectors=None, **create_kw) → a new logging trail's S3KeyPrefix (= its name)."""
    ct = admin.client("cloudtrail", region_name=REGION)
    made: list[str] = []

    def make(selectors: list[dict[str, Any]] | None = None, **kw: Any) -> str:
        name = _unique("ct12")
        ct.create_trail(Name=name, S3BucketName=log_bucket, S3KeyPrefix=name, **kw)
        if selectors:
            ct.put_event_selectors(TrailName=name, EventSelectors=selectors)
        ct.start_logging(Name=name)
        made.append(name)
        return name

    yield make
    for name in made:
        ct.delete_trail(Name=name)


def _delivered(admin: AwsEnv, bucket: str, prefix: str) -> dict[str, list[dict[str, Any]]]:
    """Log file key → its records."""
    s3 = admin.client("s3", region_name=REGION)
    listed = s3.list_objects_v2(Bucket=bucket, Prefix=prefix).get("Contents", [])
    return {o["Key"]: json.loads(gzip.decompress(s3.get_object(Bucket=bucket, Key=o["Key"])["Body"].read()))["Records"]
            for o in listed if "/CloudTrail/" in o["Key"]}


def _records(admin: AwsEnv, bucket: str, prefix: str) -> list[dict[str, Any]]:
    return [r for records in _delivered(admin, bucket, prefix).values() for r in records]


def _lookup(admin: AwsEnv, key: str, value: str) -> list[dict[str, Any]]:
    ct = admin.client("cloudtrail", region_name=REGION)
    events = ct.lookup_events(LookupAttributes=[{"AttributeKey": key, "AttributeValue": value}])["Events"]
    return [json.loads(e["CloudTrailEvent"]) for e in events]


def _role(admin: AwsEnv, account: str) -> str:
    return admin.client("iam").create_role(RoleName=_unique("ct12-role"), AssumeRolePolicyDocument=json.dumps({
        "Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{account}:root"},
                                                "Action": "sts:AssumeRole"}]}))["Role"]["Arn"]


# ---- 1. STS credential calls are reads ------------------------------------------------

def test_assume_role_and_session_tokens_are_read_only(admin: AwsEnv, account: str) -> None:
    session = _unique("ro-session")
    creds = admin.client("sts").assume_role(RoleArn=_role(admin, account), RoleSessionName=session)["Credentials"]
    assumed = [e for e in _lookup(admin, "EventName", "AssumeRole")
               if e["requestParameters"]["roleSessionName"] == session][0]
    assert assumed["readOnly"] is True
    # a read all the same written with its answer (the session's key id)
    assert assumed["responseElements"]["credentials"]["accessKeyId"] == creds["AccessKeyId"]
    # LookupEvents' ReadOnly=true finds it
    ct = admin.client("cloudtrail", region_name=REGION)
    reads = ct.lookup_events(LookupAttributes=[{"AttributeKey": "ReadOnly", "AttributeValue": "true"}],
                             MaxResults=50)["Events"]
    assert assumed["eventID"] in {e["EventId"] for e in reads}

    key = admin.new_user({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": "sts:GetSessionToken", "Resource": "*"}]})
    token = admin.client_for(key, "sts").get_session_token()["Credentials"]  # type: ignore[attr-defined]
    issued = [e for e in _lookup(admin, "AccessKeyId", key["AccessKeyId"]) if e["eventName"] == "GetSessionToken"]
    assert issued and issued[0]["readOnly"] is True
    assert issued[0]["responseElements"]["credentials"]["accessKeyId"] == token["AccessKeyId"]


def test_write_only_trail_skips_assume_role(admin: AwsEnv, account: str, log_bucket: str,
                                            trail: Callable[..., str]) -> None:
    prefix = trail([{"ReadWriteType": "WriteOnly", "IncludeManagementEvents": True}])
    session = _unique("wo-session")
    admin.client("sts").assume_role(RoleArn=_role(admin, account), RoleSessionName=session)
    marker = _unique("wo-user")
    admin.client("iam").create_user(UserName=marker)
    records = wait_for(lambda: (found := _records(admin, log_bucket, prefix + "/")) and any(
        r["eventName"] == "CreateUser" and r["requestParameters"]["userName"] == marker for r in found) and found)
    assert not [r for r in records if r["eventName"] == "AssumeRole"
                and r["requestParameters"]["roleSessionName"] == session]
    assert all(r["readOnly"] is False for r in records)


# ---- 2. EC2's error codes carry their side ----------------------------------------------

def test_ec2_error_code_is_prefixed_in_events_only(admin: AwsEnv) -> None:
    key = admin.new_user({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": "iam:GetUser", "Resource": "*"}]})
    ec2 = admin.client_for(key, "ec2")
    code, _, _ = aws_error(lambda: ec2.describe_vpcs())  # type: ignore[attr-defined]
    assert code == "UnauthorizedOperation"  # the wire keeps EC2's own code
    events = [e for e in _lookup(admin, "AccessKeyId", key["AccessKeyId"]) if e["eventSource"] == "ec2.amazonaws.com"]
    assert events and events[0]["errorCode"] == "Client.UnauthorizedOperation"
    # other services' codes are written as they are
    iam = admin.client_for(key, "iam")
    code, _, _ = aws_error(lambda: iam.list_users())  # type: ignore[attr-defined]
    denied = [e for e in _lookup(admin, "AccessKeyId", key["AccessKeyId"]) if e["eventName"] == "ListUsers"]
    assert denied and denied[0]["errorCode"] == code == "AccessDenied"


# ---- 3. a multi-region trail files each region's events under that region -----------------

def test_multi_region_trail_writes_one_file_per_region(admin: AwsEnv, account: str, log_bucket: str,
                                                       trail: Callable[..., str]) -> None:
    prefix = trail(IsMultiRegionTrail=True)
    admin.client("kms", region_name="us-west-2").list_keys()
    admin.client("kms", region_name=REGION).list_keys()

    def both() -> dict[str, list[dict[str, Any]]] | None:
        files = _delivered(admin, log_bucket, prefix + "/")
        regions = {r["awsRegion"] for records in files.values() for r in records if r["eventName"] == "ListKeys"}
        return files if {"us-west-2", REGION} <= regions else None

    files = wait_for(both)
    assert files
    for key, records in files.items():
        folder = re.search(rf"/AWSLogs/{account}/CloudTrail/([a-z0-9-]+)/\d{{4}}/\d\d/\d\d/"
                           rf"{account}_CloudTrail_([a-z0-9-]+)_\d{{8}}T\d{{4}}Z_\w{{16}}\.json\.gz$", key)
        assert folder and folder.group(1) == folder.group(2), key
        assert {r["awsRegion"] for r in records} == {folder.group(1)}, key


def test_multi_region_digests_validate_per_region(tmp_path: Any) -> None:
    with own_server(tmp_path) as (srv, admin):
        account = admin.client("sts").get_caller_identity()["Account"]
        s3 = admin.client("s3", region_name=REGION)
        s3.create_bucket(Bucket="mr-digests")
        s3.put_bucket_policy(Bucket="mr-digests", Policy=cloudtrail_bucket_policy("mr-digests", f"AWSLogs/{account}/*"))
        ct = admin.client("cloudtrail", region_name=REGION)
        arn = ct.create_trail(Name="mr-trail", S3BucketName="mr-digests", IsMultiRegionTrail=True,
                              EnableLogFileValidation=True)["TrailARN"]
        ct.start_logging(Name="mr-trail")
        start = (dt.datetime.now(dt.timezone.utc) - dt.timedelta(minutes=5)).strftime("%Y-%m-%dT%H:%M:%SZ")
        admin.client("kms", region_name="us-west-2").list_keys()
        admin.client("iam").list_users()

        def logs(region: str) -> list[str]:
            listed = s3.list_objects_v2(Bucket="mr-digests", Prefix=f"AWSLogs/{account}/CloudTrail/{region}/")
            return [o["Key"] for o in listed.get("Contents", [])]

        wait_for(lambda: logs("us-west-2") and logs(REGION))
        assert srv.cli("clock", "advance", "1h", "--endpoint", srv.endpoint).returncode == 0

        def digests(region: str) -> list[str]:
            listed = s3.list_objects_v2(Bucket="mr-digests", Prefix=f"AWSLogs/{account}/CloudTrail-Digest/{region}/")
            return [o["Key"] for o in listed.get("Contents", [])]

        wait_for(lambda: digests("us-west-2") and digests(REGION))
        assert re.search(rf"/{account}_CloudTrail-Digest_us-west-2_mr-trail_{REGION}_\d{{8}}T\d{{6}}Z\.json\.gz$",
                         digests("us-west-2")[0])
        for region in ("us-west-2", REGION):
            assert_all_logs_valid(validate_logs(admin, arn, start, region))


# ---- 4. data resource Values and each selector's ReadWriteType ------------------------------

def test_data_selectors_match_values_by_prefix(admin: AwsEnv, log_bucket: str, trail: Callable[..., str]) -> None:
    s3 = admin.client("s3", region_name=REGION)
    watched, unwatched, partly = (new_bucket(s3, p) for p in ("ct12-watched", "ct12-unwatched", "ct12-partly"))
    prefix = trail([
        {"ReadWriteType": "All", "IncludeManagementEvents": False, "DataResources": [
            {"Type": "AWS::S3::Object", "Values": [f"arn:aws:s3:::{watched}/", f"arn:aws:s3:::{partly}/logs/"]}]},
        {"ReadWriteType": "WriteOnly", "IncludeManagementEvents": False, "DataResources": [
            {"Type": "AWS::S3::Object", "Values": [f"arn:aws:s3:::{unwatched}/writes/"]}]},
    ])
    s3.put_object(Bucket=watched, Key="a.txt", Body=b"a")
    s3.get_object(Bucket=watched, Key="a.txt")
    s3.put_object(Bucket=unwatched, Key="b.txt", Body=b"b")
    s3.put_object(Bucket=unwatched, Key="writes/w.txt", Body=b"w")
    s3.get_object(Bucket=unwatched, Key="writes/w.txt")
    s3.put_object(Bucket=partly, Key="logs/in.txt", Body=b"i")
    s3.put_object(Bucket=partly, Key="other/out.txt", Body=b"o")
    marker = _unique("last")
    s3.put_object(Bucket=watched, Key=marker, Body=b"m")

    def seen() -> set[tuple[str, str, str]] | None:
        found = {(r["eventName"], r["requestParameters"]["bucketName"], r["requestParameters"]["key"])
                 for r in _records(admin, log_bucket, prefix + "/") if r["eventCategory"] == "Data"}
        return found if ("PutObject", watched, marker) in found else None

    found = wait_for(seen)
    assert found == {("PutObject", watched, "a.txt"), ("GetObject", watched, "a.txt"),
                     ("PutObject", unwatched, "writes/w.txt"), ("PutObject", partly, "logs/in.txt"),
                     ("PutObject", watched, marker)}


# ---- 5. KmsKeyId -----------------------------------------------------------------------

def _cloudtrail_key_policy(account: str) -> str:
    # AWS's required key policy elements for trails: the account's root, and CloudTrail's encrypt statement
    return json.dumps({"Version": "2012-10-17", "Statement": [
        {"Sid": "Enable IAM User Permissions", "Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{account}:root"},
         "Action": "kms:*", "Resource": "*"},
        {"Sid": "Allow CloudTrail to encrypt logs", "Effect": "Allow",
         "Principal": {"Service": "cloudtrail.amazonaws.com"}, "Action": "kms:GenerateDataKey*", "Resource": "*",
         "Condition": {"StringLike": {"kms:EncryptionContext:aws:cloudtrail:arn":
                                      f"arn:aws:cloudtrail:*:{account}:trail/*"}}}]})


def test_kms_key_needs_cloudtrail_in_its_policy(admin: AwsEnv, account: str, log_bucket: str) -> None:
    kms = admin.client("kms", region_name=REGION)
    ct = admin.client("cloudtrail", region_name=REGION)
    plain = kms.create_key()["KeyMetadata"]["Arn"]  # default key policy: nothing for CloudTrail
    code, message, status = aws_error(lambda: ct.create_trail(Name=_unique("ct12-kms"), S3BucketName=log_bucket,
                                                              KmsKeyId=plain))
    assert (code, status) == ("InsufficientEncryptionPolicyException", 400)
    assert message == f"Insufficient permissions to access S3 bucket {log_bucket} or KMS key {plain}."

    meta = kms.create_key(Policy=_cloudtrail_key_policy(account))["KeyMetadata"]
    alias = f"alias/{_unique('ct12')}"
    kms.create_alias(AliasName=alias, TargetKeyId=meta["KeyId"])
    name = _unique("ct12-kms")
    try:
        created = ct.create_trail(Name=name, S3BucketName=log_bucket, KmsKeyId=alias)
        assert created["KmsKeyId"] == meta["Arn"]
        assert ct.get_trail(Name=name)["Trail"]["KmsKeyId"] == meta["Arn"]
        assert ct.describe_trails(trailNameList=[name])["trailList"][0]["KmsKeyId"] == meta["Arn"]
    finally:
        ct.delete_trail(Name=name)


# ---- 6. the bucket policy must let CloudTrail read the bucket's ACL -----------------------

def test_bucket_policy_without_acl_check_is_refused(admin: AwsEnv, account: str) -> None:
    s3 = admin.client("s3", region_name=REGION)
    bucket = new_bucket(s3, "ct12-noacl")
    s3.put_bucket_policy(Bucket=bucket, Policy=cloudtrail_bucket_policy(bucket, f"AWSLogs/{account}/*", acl_check=False))
    ct = admin.client("cloudtrail", region_name=REGION)
    name = _unique("ct12-noacl")
    code, message, status = aws_error(lambda: ct.create_trail(Name=name, S3BucketName=bucket))
    assert (code, status) == ("InsufficientS3BucketPolicyException", 400)
    assert message == f"Incorrect S3 bucket policy is detected for bucket: {bucket}"
    assert name not in {t["Name"] for t in ct.describe_trails()["trailList"]}
    # with AWS's AWSCloudTrailAclCheck statement added, the same bucket is accepted
    s3.put_bucket_policy(Bucket=bucket, Policy=cloudtrail_bucket_policy(bucket, f"AWSLogs/{account}/*"))
    ct.create_trail(Name=name, S3BucketName=bucket)
    ct.delete_trail(Name=name)
