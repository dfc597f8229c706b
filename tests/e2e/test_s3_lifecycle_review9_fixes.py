"""Client-chosen S3 durations past Skyhold's clock limit: a lifecycle rule of millions
of days never falls due (no x-amz-expiration, no 500s), an Object Lock default
retention over S3's 100 years is refused as S3 refuses it, and one bucket whose rules
fail stops no other account's lifecycle."""

from __future__ import annotations

import json
import re
import sqlite3
import uuid
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from .conftest import AwsEnv, Server, clean_env, new_bucket, own_server


def _rule(action: str, value: Any) -> dict[str, Any]:
    return {"ID": "r", "Status": "Enabled", "Filter": {"Prefix": ""}, action: value}


@pytest.mark.parametrize("rule", [
    _rule("Expiration", {"Days": 3_000_000}),
    _rule("Expiration", {"Days": 2_147_483_647}),
    _rule("Transitions", [{"Days": 3_000_000, "StorageClass": "GLACIER"}]),
    _rule("AbortIncompleteMultipartUpload", {"DaysAfterInitiation": 3_000_000}),
])
def test_days_past_the_clock_limit_never_fall_due(admin: AwsEnv, rule: dict[str, Any]) -> None:
    s3: Any = admin.client("s3", region_name="us-east-1")
    bucket = new_bucket(s3, "r9-lc")
    s3.put_bucket_lifecycle_configuration(Bucket=bucket, LifecycleConfiguration={"Rules": [rule]})
    put = s3.put_object(Bucket=bucket, Key="k", Body=b"x")
    assert put["ResponseMetadata"]["HTTPStatusCode"] == 200 and "Expiration" not in put
    head = s3.head_object(Bucket=bucket, Key="k")
    assert head["ResponseMetadata"]["HTTPStatusCode"] == 200 and "Expiration" not in head
    got = s3.get_object(Bucket=bucket, Key="k")
    assert got["Body"].read() == b"x" and "Expiration" not in got
    upload = s3.create_multipart_upload(Bucket=bucket, Key="mp")
    assert "AbortDate" not in upload and "AbortRuleId" not in upload
    s3.abort_multipart_upload(Bucket=bucket, Key="mp", UploadId=upload["UploadId"])


def test_a_near_expiration_still_shows_next_to_a_never_one(admin: AwsEnv) -> None:
    s3: Any = admin.client("s3", region_name="us-east-1")
    bucket = new_bucket(s3, "r9-lc")
    rules = [dict(_rule("Expiration", {"Days": 3_000_000}), ID="never"),
             {"ID": "soon", "Status": "Enabled", "Filter": {"Prefix": "k"}, "Expiration": {"Days": 5}}]
    s3.put_bucket_lifecycle_configuration(Bucket=bucket, LifecycleConfiguration={"Rules": rules})
    s3.put_object(Bucket=bucket, Key="k", Body=b"x")
    assert s3.head_object(Bucket=bucket, Key="k")["Expiration"].endswith('rule-id="soon"')


@pytest.mark.parametrize("retention", [{"Days": 36501}, {"Days": 10_000_000}, {"Years": 101}, {"Years": 7000}])
def test_default_retention_over_100_years_is_refused(admin: AwsEnv, retention: dict[str, int]) -> None:
    s3: Any = admin.client("s3", region_name="us-east-1")
    bucket = f"r9-ol-{uuid.uuid4().hex[:12]}"
    s3.create_bucket(Bucket=bucket, ObjectLockEnabledForBucket=True)
    config = {"ObjectLockEnabled": "Enabled", "Rule": {"DefaultRetention": {"Mode": "GOVERNANCE", **retention}}}
    with pytest.raises(ClientError) as caught:
        s3.put_object_lock_configuration(Bucket=bucket, ObjectLockConfiguration=config)
    error = caught.value.response["Error"]
    assert (error["Code"], error["Message"], caught.value.response["ResponseMetadata"]["HTTPStatusCode"]) == \
        ("InvalidArgument", "Default retention period too large.", 400)
    assert error["ArgumentName"] == next(iter(retention))
    assert "Rule" not in s3.get_object_lock_configuration(Bucket=bucket)["ObjectLockConfiguration"]
    assert s3.put_object(Bucket=bucket, Key="k", Body=b"x")["ResponseMetadata"]["HTTPStatusCode"] == 200


@pytest.mark.parametrize("retention", [{"Days": 36500}, {"Years": 100}])
def test_default_retention_of_100_years_applies(admin: AwsEnv, retention: dict[str, int]) -> None:
    s3: Any = admin.client("s3", region_name="us-east-1")
    bucket = f"r9-ol-{uuid.uuid4().hex[:12]}"
    s3.create_bucket(Bucket=bucket, ObjectLockEnabledForBucket=True)
    config = {"ObjectLockEnabled": "Enabled", "Rule": {"DefaultRetention": {"Mode": "GOVERNANCE", **retention}}}
    s3.put_object_lock_configuration(Bucket=bucket, ObjectLockConfiguration=config)
    put = s3.put_object(Bucket=bucket, Key="k", Body=b"x")
    head = s3.head_object(Bucket=bucket, Key="k", VersionId=put["VersionId"])
    created = head["LastModified"]
    years = (head["ObjectLockRetainUntilDate"] - created).days / 365.25
    assert head["ObjectLockMode"] == "GOVERNANCE" and 99.9 < years < 100.1


def _advance(srv: Server, span: str) -> None:
    out = srv.cli("clock", "advance", span, "--endpoint", srv.endpoint)
    assert out.returncode == 0, out.stderr


def _other_account(srv: Server, home: Path) -> AwsEnv:
    """A second account's admin with its long-lived key (the clock will move days)."""
    name = f"victim-{uuid.uuid4().hex[:6]}"
    out = srv.cli("account", "create", name)
    assert out.returncode == 0, out.stderr
    env = clean_env(home)
    out = srv.cli("configure", "--profile", name, "--account", name, "--static-keys", "--endpoint", srv.endpoint,
                  env=env)
    assert out.returncode == 0, out.stderr
    return AwsEnv(env=env, profile=name, endpoint=srv.endpoint)


def _break_rules(data_dir: Path, bucket: str) -> None:
    """Store a rule no check would let through (Days as text), as an older Skyhold might
    have: the lifecycle job fails on this bucket whatever the request checks."""
    db = sqlite3.connect(data_dir / "skyhold.db")
    try:
        rows = [(k, v) for k, v in db.execute("SELECT key, value FROM records WHERE kind = 's3.bucket'")
                if json.loads(v).get("Name") == bucket]
        assert len(rows) == 1
        value = json.loads(rows[0][1])
        value["Lifecycle"][0]["Expiration"] = {"Days": "soon"}
        db.execute("UPDATE records SET value = ? WHERE kind = 's3.bucket' AND key = ?", (json.dumps(value), rows[0][0]))
        db.commit()
    finally:
        db.close()


def _keys(s3: Any, bucket: str) -> list[str]:
    return [o["Key"] for o in s3.list_objects_v2(Bucket=bucket).get("Contents", [])]


def test_one_failing_bucket_does_not_stop_lifecycle_for_other_accounts(tmp_path: Path) -> None:
    with own_server(tmp_path) as (srv, owner):
        poisoned: Any = owner.client("s3", region_name="us-east-1")
        victim: Any = _other_account(srv, tmp_path / "victim").client("s3", region_name="us-east-1")
        huge, broken = new_bucket(poisoned, "r9-huge"), new_bucket(poisoned, "r9-broken")
        for bucket in (huge, broken):
            poisoned.put_bucket_lifecycle_configuration(Bucket=bucket, LifecycleConfiguration={"Rules": [
                _rule("Expiration", {"Days": 3_000_000})]})
            poisoned.put_object(Bucket=bucket, Key="old", Body=b"x")
        first, second = new_bucket(victim, "zz-r9-victim"), new_bucket(victim, "zz-r9-victim")
        for bucket in (first, second):
            victim.put_bucket_lifecycle_configuration(Bucket=bucket, LifecycleConfiguration={"Rules": [
                _rule("Expiration", {"Days": 1})]})

        victim.put_object(Bucket=first, Key="old", Body=b"x")
        _advance(srv, "3d")
        assert _keys(victim, first) == []  # a rule of millions of days is no fault
        assert _keys(poisoned, huge) == ["old"]

        srv.stop()  # a rule that does fail the job: only its own bucket is skipped
        _break_rules(srv.data_dir, broken)
        srv.start()
        victim.put_object(Bucket=second, Key="old", Body=b"x")
        _advance(srv, "3d")
        assert _keys(victim, second) == []
        assert _keys(poisoned, broken) == ["old"]
        logged = [line for line in srv.log().splitlines() if "lifecycle" in line.lower() and broken in line]
        assert logged and re.search(r"TypeError", srv.log())
