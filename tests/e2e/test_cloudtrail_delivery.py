"""A logging trail delivers log files to its bucket, and `aws cloudtrail validate-logs`
(the real CLI) verifies Skyhold's signed digests — and names a tampered or deleted file."""

from __future__ import annotations

import datetime as dt
import gzip
import json

import pytest

from .conftest import (
    AwsEnv, Server, free_port, static_admin, wait_for, cloudtrail_bucket_policy, validate_logs,
    assert_all_logs_valid,
)






@pytest.fixture(scope="module")
def trail_env(tmp_path_factory) -> dict:
    home = tmp_path_factory.mktemp("trail")
    srv = Server(home / "data", free_port())
    srv.start()
    admin = static_admin(srv, home)
    yield {"server": srv, "admin": admin}
    srv.stop()


def test_trail_needs_a_bucket_policy_for_cloudtrail(trail_env: dict) -> None:
    admin: AwsEnv = trail_env["admin"]
    admin.client("s3").create_bucket(Bucket="no-policy-logs")
    out = admin.aws("cloudtrail", "create-trail", "--name", "no-policy", "--s3-bucket-name", "no-policy-logs")
    assert out.returncode != 0 and "InsufficientS3BucketPolicyException" in out.stderr


def test_trail_names_follow_cloudtrail_rules(trail_env: dict) -> None:
    """No adjacent periods, underscores or dashes, and nothing that looks like an IP address."""
    from botocore.exceptions import ClientError

    cloudtrail = trail_env["admin"].client("cloudtrail")
    refused = ("my--trail", "my_-trail", "my..trail", "192.168.5.4", "-trail", "ab")
    for name in refused:
        with pytest.raises(ClientError) as e:
            cloudtrail.create_trail(Name=name, S3BucketName="no-policy-logs")
        assert e.value.response["Error"]["Code"] == "InvalidTrailNameException", name
    assert not {t["Name"] for t in cloudtrail.describe_trails()["trailList"]} & set(refused)


def test_delivery_and_validate_logs(trail_env: dict) -> None:
    srv: Server = trail_env["server"]
    admin: AwsEnv = trail_env["admin"]
    account = admin.client("sts").get_caller_identity()["Account"]
    s3 = admin.client("s3")
    s3.create_bucket(Bucket="audit-logs")
    s3.put_bucket_policy(Bucket="audit-logs", Policy=cloudtrail_bucket_policy("audit-logs", f"AWSLogs/{account}/*"))
    trail = admin.aws_json("cloudtrail", "create-trail", "--name", "main", "--s3-bucket-name", "audit-logs",
                           "--enable-log-file-validation")
    assert admin.aws("cloudtrail", "start-logging", "--name", "main").returncode == 0
    assert admin.aws_json("cloudtrail", "get-trail-status", "--name", "main")["IsLogging"] is True
    admin.client("iam").create_user(UserName="audited-one")
    admin.client("iam").list_users()

    def log_files() -> list[str]:
        listed = s3.list_objects_v2(Bucket="audit-logs", Prefix=f"AWSLogs/{account}/CloudTrail/")
        return [o["Key"] for o in listed.get("Contents", [])]

    def delivered() -> list[dict]:
        return [r for k in log_files() for r in json.loads(gzip.decompress(
            s3.get_object(Bucket="audit-logs", Key=k)["Body"].read()))["Records"]]

    # a log file every few seconds; the calls above land in the first one or two
    wait_for(lambda: "CreateUser" in {r["eventName"] for r in delivered()})
    keys = log_files()
    assert keys[0].startswith(f"AWSLogs/{account}/CloudTrail/us-east-1/") and keys[0].endswith(".json.gz")
    created = [r for r in delivered() if r["eventName"] == "CreateUser"][0]
    assert created["requestParameters"]["userName"] == "audited-one"

    start = (dt.datetime.now(dt.timezone.utc) - dt.timedelta(minutes=5)).strftime("%Y-%m-%dT%H:%M:%SZ")
    assert srv.cli("clock", "advance", "1h", "--endpoint", srv.endpoint).returncode == 0

    def digests() -> list[str]:
        listed = s3.list_objects_v2(Bucket="audit-logs", Prefix=f"AWSLogs/{account}/CloudTrail-Digest/")
        return [o["Key"] for o in listed.get("Contents", [])]

    wait_for(digests)

    def validate() -> str:
        return validate_logs(admin, trail["TrailARN"], start)

    assert_all_logs_valid(validate())

    # tamper with a delivered log file: validate-logs names it
    tampered = keys[0]
    s3.put_object(Bucket="audit-logs", Key=tampered, Body=gzip.compress(b'{"Records":[]}'))
    report = validate()
    assert tampered in report and "INVALID" in report, report
    # delete it: named as missing
    s3.delete_object(Bucket="audit-logs", Key=tampered)
    report = validate()
    assert tampered in report and "INVALID: not found" in report, report
