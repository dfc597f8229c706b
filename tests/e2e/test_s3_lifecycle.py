"""S3 Lifecycle end to end: rules set with `aws s3api put-bucket-lifecycle-configuration`,
applied as Skyhold's clock moves (`skyhold clock advance`), seen through the aws CLI and
boto3.

These tests move the clock by weeks, which would expire the short-lived credentials
of the shared server's profile: they run a server of their own, with a long-lived key.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from email.utils import format_datetime, parsedate_to_datetime
from pathlib import Path

import pytest

from .conftest import AwsEnv, Server, free_port, static_admin

BIG = 200_000  # bytes: transitions leave objects under 128 KB where they are, by default


@pytest.fixture(scope="module")
def srv(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    server = Server(tmp_path_factory.mktemp("lifecycle") / "data", free_port())
    server.start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def aws(srv: Server, tmp_path_factory: pytest.TempPathFactory) -> AwsEnv:
    return static_admin(srv, tmp_path_factory.mktemp("lifecycle-home"))


@pytest.fixture
def bucket(aws: AwsEnv) -> str:
    name = f"lc-{uuid.uuid4().hex[:12]}"
    aws.aws_json("s3api", "create-bucket", "--bucket", name)
    return name


def _advance(srv: Server, span: str) -> None:
    out = srv.cli("clock", "advance", span, "--endpoint", srv.endpoint)
    assert out.returncode == 0, out.stderr


def _put(aws: AwsEnv, bucket: str, key: str, path: Path, size: int = 10) -> dict:
    path.write_bytes(b"x" * size)
    return aws.aws_json("s3api", "put-object", "--bucket", bucket, "--key", key, "--body", str(path))


def _set_rules(aws: AwsEnv, bucket: str, tmp_path: Path, *rules: dict) -> dict:
    config = tmp_path / "lifecycle.json"
    config.write_text(json.dumps({"Rules": list(rules)}))
    return aws.aws_json("s3api", "put-bucket-lifecycle-configuration", "--bucket", bucket,
                        "--lifecycle-configuration", f"file://{config}")


def _keys(aws: AwsEnv, bucket: str) -> list[str]:
    listed = aws.aws_json("s3api", "list-objects-v2", "--bucket", bucket)
    return [o["Key"] for o in listed.get("Contents", [])]


def _next_midnight(moment: datetime, days: int) -> datetime:
    """AWS's rule: creation time + days, rounded up to the next midnight UTC."""
    later = moment + timedelta(days=days)
    day = datetime(later.year, later.month, later.day, tzinfo=timezone.utc)
    return day if day == later else day + timedelta(days=1)


def test_expiration_by_days_after_the_clock_moves(srv: Server, aws: AwsEnv, bucket: str, tmp_path: Path) -> None:
    for key in ("logs/a", "logs/b", "keep/c"):
        _put(aws, bucket, key, tmp_path / "body")
    put = _set_rules(aws, bucket, tmp_path,
                     {"ID": "expire logs", "Status": "Enabled", "Filter": {"Prefix": "logs/"},
                      "Expiration": {"Days": 1}},
                     {"ID": "later", "Status": "Disabled", "Filter": {}, "Expiration": {"Days": 1}})
    assert put["TransitionDefaultMinimumObjectSize"] == "all_storage_classes_128K"
    rules = aws.aws_json("s3api", "get-bucket-lifecycle-configuration", "--bucket", bucket)["Rules"]
    assert [(r["ID"], r["Status"]) for r in rules] == [("expire logs", "Enabled"), ("later", "Disabled")]

    head = aws.aws_json("s3api", "head-object", "--bucket", bucket, "--key", "logs/a")
    modified = parsedate_to_datetime(head["LastModified"])
    due = format_datetime(_next_midnight(modified, 1), usegmt=True)
    assert head["Expiration"] == f'expiry-date="{due}", rule-id="expire logs"'
    assert "Expiration" not in aws.aws_json("s3api", "head-object", "--bucket", bucket, "--key", "keep/c")

    _advance(srv, "2d")
    assert _keys(aws, bucket) == ["keep/c"]
    gone = aws.aws("s3api", "head-object", "--bucket", bucket, "--key", "logs/a")
    assert gone.returncode != 0 and "404" in gone.stderr

    assert aws.aws("s3api", "delete-bucket-lifecycle", "--bucket", bucket).returncode == 0
    missing = aws.aws("s3api", "get-bucket-lifecycle-configuration", "--bucket", bucket)
    assert "NoSuchLifecycleConfiguration" in missing.stderr


def test_versioned_bucket_gets_a_delete_marker(srv: Server, aws: AwsEnv, bucket: str, tmp_path: Path) -> None:
    aws.aws("s3api", "put-bucket-versioning", "--bucket", bucket, "--versioning-configuration", "Status=Enabled")
    first = _put(aws, bucket, "doc", tmp_path / "body")["VersionId"]
    second = _put(aws, bucket, "doc", tmp_path / "body")["VersionId"]
    _set_rules(aws, bucket, tmp_path,
               {"ID": "expire", "Status": "Enabled", "Filter": {}, "Expiration": {"Days": 3}},
               {"ID": "prune", "Status": "Enabled", "Filter": {},
                "NoncurrentVersionExpiration": {"NoncurrentDays": 30}})
    _advance(srv, "4d")
    s3 = aws.client("s3")
    listed = s3.list_object_versions(Bucket=bucket)
    assert [(m["Key"], m["IsLatest"]) for m in listed["DeleteMarkers"]] == [("doc", True)]
    assert [v["VersionId"] for v in listed["Versions"]] == [second, first]  # kept, now noncurrent
    assert _keys(aws, bucket) == []
    _advance(srv, "20d")
    assert len(s3.list_object_versions(Bucket=bucket)["Versions"]) == 2  # noncurrent for 20 days only
    _advance(srv, "11d")
    listed = s3.list_object_versions(Bucket=bucket)
    # noncurrent for 30 days: gone for good; and the marker, left alone and older than
    # the 3 days of "Days", is cleaned up with them
    assert "Versions" not in listed and "DeleteMarkers" not in listed


def test_transitions_and_archived_get(srv: Server, aws: AwsEnv, bucket: str, tmp_path: Path) -> None:
    _put(aws, bucket, "data/big", tmp_path / "big", size=BIG)
    _put(aws, bucket, "data/small", tmp_path / "small", size=10)
    _set_rules(aws, bucket, tmp_path, {"ID": "tiers", "Status": "Enabled", "Filter": {"Prefix": "data/"},
                                       "Transitions": [{"Days": 30, "StorageClass": "STANDARD_IA"},
                                                       {"Days": 90, "StorageClass": "GLACIER"}]})
    _advance(srv, "31d")
    listed = aws.aws_json("s3api", "list-objects-v2", "--bucket", bucket)["Contents"]
    assert {o["Key"]: o["StorageClass"] for o in listed} == {"data/big": "STANDARD_IA", "data/small": "STANDARD"}
    head = aws.aws_json("s3api", "head-object", "--bucket", bucket, "--key", "data/big")
    assert head["StorageClass"] == "STANDARD_IA"
    assert aws.aws("s3api", "get-object", "--bucket", bucket, "--key", "data/big",
                   str(tmp_path / "out")).returncode == 0
    _advance(srv, "60d")
    assert aws.aws_json("s3api", "head-object", "--bucket", bucket, "--key", "data/big")["StorageClass"] == "GLACIER"
    refused = aws.aws("s3api", "get-object", "--bucket", bucket, "--key", "data/big", str(tmp_path / "out"))
    assert refused.returncode != 0
    assert "(InvalidObjectState)" in refused.stderr
    assert "The operation is not valid for the object's storage class" in refused.stderr
    s3 = aws.client("s3")
    with pytest.raises(s3.exceptions.InvalidObjectState) as e:
        s3.get_object(Bucket=bucket, Key="data/big")
    assert e.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403
    assert e.value.response["Error"]["StorageClass"] == "GLACIER"


def test_incomplete_multipart_upload_is_aborted(srv: Server, aws: AwsEnv, bucket: str, tmp_path: Path) -> None:
    upload = aws.aws_json("s3api", "create-multipart-upload", "--bucket", bucket, "--key", "up/big")["UploadId"]
    part = tmp_path / "part"
    part.write_bytes(b"p" * 1024)
    aws.aws_json("s3api", "upload-part", "--bucket", bucket, "--key", "up/big", "--upload-id", upload,
                 "--part-number", "1", "--body", str(part))
    _set_rules(aws, bucket, tmp_path, {"ID": "abort", "Status": "Enabled", "Filter": {"Prefix": "up/"},
                                       "AbortIncompleteMultipartUpload": {"DaysAfterInitiation": 1}})
    assert [u["UploadId"] for u in aws.aws_json("s3api", "list-multipart-uploads", "--bucket", bucket)["Uploads"]] \
        == [upload]
    # S3 names the rule and the date it will abort an upload (x-amz-abort-date, x-amz-abort-rule-id)
    listed = aws.aws_json("s3api", "list-parts", "--bucket", bucket, "--key", "up/big", "--upload-id", upload,
                          "--no-paginate")  # the CLI's paginator keeps neither header
    assert listed["AbortRuleId"] == "abort" and listed["AbortDate"]
    other = aws.aws_json("s3api", "create-multipart-upload", "--bucket", bucket, "--key", "up/other")
    assert other["AbortRuleId"] == "abort" and other["AbortDate"] == listed["AbortDate"]
    elsewhere = aws.aws_json("s3api", "create-multipart-upload", "--bucket", bucket, "--key", "down/x")
    assert "AbortDate" not in elsewhere and "AbortRuleId" not in elsewhere
    _advance(srv, "2d")
    left = aws.aws_json("s3api", "list-multipart-uploads", "--bucket", bucket).get("Uploads", [])
    assert [u["Key"] for u in left] == ["down/x"]
    parts = aws.aws("s3api", "list-parts", "--bucket", bucket, "--key", "up/big", "--upload-id", upload)
    assert "(NoSuchUpload)" in parts.stderr


def test_a_past_date_applies_without_moving_the_clock(aws: AwsEnv, bucket: str, tmp_path: Path) -> None:
    _put(aws, bucket, "old", tmp_path / "body")
    _set_rules(aws, bucket, tmp_path, {"ID": "dated", "Status": "Enabled", "Filter": {},
                                       "Expiration": {"Date": "2020-01-01T00:00:00Z"}})
    deadline = time.monotonic() + 20  # the job runs every few seconds
    while _keys(aws, bucket) and time.monotonic() < deadline:
        time.sleep(0.5)
    assert _keys(aws, bucket) == []


@pytest.mark.parametrize(("rule", "code", "message"), [
    ({"Expiration": {"Days": 0}}, "InvalidArgument", "'Days' for Expiration action must be a positive integer"),
    ({"Transitions": [{"Days": 10, "StorageClass": "STANDARD_IA"}]}, "InvalidArgument",
     "'Days' in Transition action must be greater than or equal to 30 for storageClass 'STANDARD_IA'"),
    ({"Expiration": {"Date": "2030-01-01T12:00:00Z"}}, "InvalidArgument", "'Date' must be at midnight GMT"),
    ({"Status": "enabled", "Expiration": {"Days": 1}}, "MalformedXML", "The XML you provided was not well-formed"),
    ({"Filter": {"Tag": {"Key": "k", "Value": "v"}}, "AbortIncompleteMultipartUpload": {"DaysAfterInitiation": 1}},
     "InvalidRequest", "AbortIncompleteMultipartUpload cannot be specified with Tags."),
])
def test_invalid_rules(aws: AwsEnv, bucket: str, tmp_path: Path, rule: dict, code: str, message: str) -> None:
    out = aws.aws("s3api", "put-bucket-lifecycle-configuration", "--bucket", bucket, "--lifecycle-configuration",
                  json.dumps({"Rules": [{"ID": "r", "Status": "Enabled", "Filter": {}, **rule}]}))
    assert out.returncode != 0
    assert f"({code})" in out.stderr and message in out.stderr, out.stderr


def test_rule_ids_and_their_number(aws: AwsEnv, bucket: str) -> None:
    s3 = aws.client("s3")
    rule = {"Status": "Enabled", "Filter": {}, "Expiration": {"Days": 1}}
    with pytest.raises(s3.exceptions.ClientError) as e:
        s3.put_bucket_lifecycle_configuration(Bucket=bucket, LifecycleConfiguration={
            "Rules": [{"ID": "same", **rule}, {"ID": "same", **rule}]})
    assert e.value.response["Error"] == {"Code": "InvalidArgument", "Message":
                                         "Rule ID must be unique. Found same ID for more than one rule"}
    with pytest.raises(s3.exceptions.ClientError) as e:
        s3.put_bucket_lifecycle_configuration(Bucket=bucket, LifecycleConfiguration={
            "Rules": [{"ID": str(i), **rule} for i in range(1001)]})
    assert e.value.response["Error"]["Code"] == "InvalidRequest"
    s3.put_bucket_lifecycle_configuration(Bucket=bucket, LifecycleConfiguration={"Rules": [rule]})
    named = s3.get_bucket_lifecycle_configuration(Bucket=bucket)["Rules"][0]["ID"]
    assert len(named) == 48  # S3 names a rule given no ID
