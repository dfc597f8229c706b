"""Holes a security review found in CloudTrail: trail operations decided on "*"
instead of the trail's ARN (so a Deny on one trail was ignored and an Allow on one
trail granted nothing), and secrets written into events (an SSM overwrite that keeps
its SecureString type without repeating it; EC2 user data)."""

from __future__ import annotations

import base64
import json
import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from .conftest import AwsEnv, Server, aws_error, new_account, new_bucket

# Each test's instances count against the shared account's quota till the module is done.
pytestmark = pytest.mark.usefixtures("instances_terminated")

REGION = "us-east-1"
AL2023 = "ami-0453ec754f44f9a4a"


def _allow_cloudtrail(s3: Any, bucket: str) -> None:
    # AWS's documented bucket policy for CloudTrail delivery
    s3.put_bucket_policy(Bucket=bucket, Policy=json.dumps({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Principal": {"Service": "cloudtrail.amazonaws.com"}, "Action": "s3:GetBucketAcl",
         "Resource": f"arn:aws:s3:::{bucket}"},
        {"Effect": "Allow", "Principal": {"Service": "cloudtrail.amazonaws.com"}, "Action": "s3:PutObject",
         "Resource": f"arn:aws:s3:::{bucket}/*"}]}))


@pytest.fixture(scope="module")
def bucket(admin: AwsEnv) -> str:
    s3 = admin.client("s3", region_name=REGION)
    name = new_bucket(s3, "ct-review")
    _allow_cloudtrail(s3, name)
    return name


@pytest.fixture
def trails(admin: AwsEnv, bucket: str) -> Iterator[Any]:
    """make(prefix, **kw) → a new logging trail's name; every trail made is deleted after the test."""
    made: list[tuple[str, str]] = []

    def make(prefix: str, region: str = REGION, **kw: Any) -> str:
        ct = admin.client("cloudtrail", region_name=region)
        name = f"{prefix}-{uuid.uuid4().hex[:8]}"
        ct.create_trail(Name=name, S3BucketName=bucket, **kw)
        ct.start_logging(Name=name)
        made.append((name, region))
        return name

    yield make
    for name, region in made:
        ct = admin.client("cloudtrail", region_name=region)
        try:
            ct.delete_trail(Name=name)
        except ct.exceptions.TrailNotFoundException:
            pass


def _arn(account: str, name: str, region: str = REGION) -> str:
    return f"arn:aws:cloudtrail:{region}:{account}:trail/{name}"


def _logging(admin: AwsEnv, name: str) -> bool:
    return admin.client("cloudtrail", region_name=REGION).get_trail_status(Name=name)["IsLogging"]


def _user(admin: AwsEnv, *statements: dict[str, Any]) -> Any:
    key = admin.new_user({"Version": "2012-10-17", "Statement": list(statements)})
    return admin.client_for(key, "cloudtrail")


# ---- 1. trail-level permissions ------------------------------------------------------

def test_a_deny_on_one_trails_arn_protects_that_trail(admin: AwsEnv, account: str, trails: Any) -> None:
    org, dev = trails("org-trail"), trails("dev-trail")
    ct = _user(admin, {"Effect": "Allow", "Action": "cloudtrail:*", "Resource": "*"},
               {"Effect": "Deny", "Action": ["cloudtrail:StopLogging", "cloudtrail:DeleteTrail"],
                "Resource": _arn(account, org)})
    for ref in (org, _arn(account, org)):  # by name and by ARN
        code, message, status = aws_error(lambda: ct.stop_logging(Name=ref))
        assert (code, status) == ("AccessDeniedException", 400)
        assert f"cloudtrail:StopLogging on resource: {_arn(account, org)}" in message
        assert "explicit deny" in message
        code, message, _ = aws_error(lambda: ct.delete_trail(Name=ref))
        assert code == "AccessDeniedException" and f"on resource: {_arn(account, org)}" in message
    assert _logging(admin, org)
    assert ct.get_trail(Name=org)["Trail"]["Name"] == org  # what the Deny does not name is still allowed
    ct.stop_logging(Name=dev)
    assert not _logging(admin, dev)


def test_an_allow_on_one_trails_arn_lets_the_user_stop_that_trail_only(
        admin: AwsEnv, account: str, trails: Any) -> None:
    mine, other = trails("dev-trail"), trails("prod-trail")
    ct = _user(admin, {"Effect": "Allow", "Action": ["cloudtrail:StopLogging", "cloudtrail:GetTrailStatus"],
                       "Resource": _arn(account, mine)})
    ct.stop_logging(Name=mine)
    assert ct.get_trail_status(Name=_arn(account, mine))["IsLogging"] is False
    code, message, _ = aws_error(lambda: ct.stop_logging(Name=other))
    assert code == "AccessDeniedException" and f"on resource: {_arn(account, other)}" in message
    assert "no identity-based policy allows" in message
    assert _logging(admin, other)


def test_an_arn_is_never_read_as_a_different_trail_than_the_one_authorized(
        admin: AwsEnv, account: str, trails: Any) -> None:
    """Denied on its us-east-1 ARN, the user names a same-named trail elsewhere: the
    call may not fall through to the protected trail."""
    org = trails("org-trail")
    ct = _user(admin, {"Effect": "Allow", "Action": "cloudtrail:*", "Resource": "*"},
               {"Effect": "Deny", "Action": "cloudtrail:StopLogging", "Resource": _arn(account, org)})
    elsewhere = _arn(account, org, "us-west-2")
    code, message, status = aws_error(lambda: ct.stop_logging(Name=elsewhere))
    assert (code, status) == ("TrailNotFoundException", 400)
    assert message == f"Unknown trail: {elsewhere} for the user: {account}"
    code, _, _ = aws_error(lambda: ct.stop_logging(Name=f"arn:aws:cloudtrail:{REGION}:{account}:trail/x/{org}"))
    assert code == "CloudTrailARNInvalidException"
    assert _logging(admin, org)


def test_another_accounts_trail_arn_reaches_no_trail(
        admin: AwsEnv, server: Server, account: str, tmp_path: Any) -> None:
    partner, partner_account = new_account(server, tmp_path, "ct-partner")
    s3 = partner.client("s3", region_name=REGION)
    bucket = new_bucket(s3, "ct-partner")
    _allow_cloudtrail(s3, bucket)
    name = f"theirs-{uuid.uuid4().hex[:8]}"
    theirs = partner.client("cloudtrail", region_name=REGION)
    theirs.create_trail(Name=name, S3BucketName=bucket)
    theirs.start_logging(Name=name)
    ct = admin.client("cloudtrail", region_name=REGION)
    arn = _arn(partner_account, name)
    for call in (lambda: ct.stop_logging(Name=arn), lambda: ct.get_trail_status(Name=arn),
                 lambda: ct.delete_trail(Name=arn)):
        assert aws_error(call)[:2] == ("TrailNotFoundException", f"Unknown trail: {arn} for the user: {account}")
    assert theirs.get_trail_status(Name=name)["IsLogging"] is True


def test_a_multi_region_trail_is_read_by_arn_from_another_region_but_changed_only_at_home(
        admin: AwsEnv, account: str, trails: Any) -> None:
    name = trails("everywhere", IsMultiRegionTrail=True)
    away = admin.client("cloudtrail", region_name="us-west-2")
    assert away.get_trail(Name=_arn(account, name))["Trail"]["HomeRegion"] == REGION
    assert away.get_trail_status(Name=_arn(account, name))["IsLogging"] is True
    code, _, status = aws_error(lambda: away.stop_logging(Name=_arn(account, name)))
    assert (code, status) == ("InvalidHomeRegionException", 400)
    assert _logging(admin, name)


def test_request_and_resource_tags_are_condition_keys(admin: AwsEnv, account: str, bucket: str,
                                                      trails: Any) -> None:
    protected = trails("protected", TagsList=[{"Key": "protected", "Value": "true"}])
    plain = trails("plain")
    ct = _user(admin, {"Effect": "Allow", "Action": "cloudtrail:*", "Resource": "*"},
               {"Effect": "Deny", "Action": "cloudtrail:StopLogging", "Resource": "*",
                "Condition": {"StringEquals": {"aws:ResourceTag/protected": "true"}}},
               {"Effect": "Deny", "Action": "cloudtrail:CreateTrail", "Resource": "*",
                "Condition": {"StringEquals": {"aws:RequestTag/team": "red"}}})
    code, message, _ = aws_error(lambda: ct.stop_logging(Name=protected))
    assert code == "AccessDeniedException" and _arn(account, protected) in message
    ct.stop_logging(Name=plain)
    assert _logging(admin, protected) and not _logging(admin, plain)
    red = f"red-{uuid.uuid4().hex[:8]}"
    code, message, _ = aws_error(lambda: ct.create_trail(Name=red, S3BucketName=bucket,
                                                         TagsList=[{"Key": "team", "Value": "red"}]))
    assert code == "AccessDeniedException" and _arn(account, red) in message
    blue = f"blue-{uuid.uuid4().hex[:8]}"
    ct.create_trail(Name=blue, S3BucketName=bucket, TagsList=[{"Key": "team", "Value": "blue"}])
    ct.delete_trail(Name=blue)


def test_lookups_and_listings_stay_on_star(admin: AwsEnv, trails: Any) -> None:
    name = trails("listed")
    ct = _user(admin, {"Effect": "Allow", "Action": ["cloudtrail:LookupEvents", "cloudtrail:DescribeTrails",
                                                     "cloudtrail:ListTrails"], "Resource": "*"},
               {"Effect": "Deny", "Action": "cloudtrail:*", "Resource": "arn:aws:cloudtrail:*:*:trail/*"})
    assert name in [t["Name"] for t in ct.describe_trails(trailNameList=[name])["trailList"]]
    assert name in [t["Name"] for t in ct.list_trails()["Trails"]]
    ct.lookup_events(MaxResults=1)
    assert aws_error(lambda: ct.get_trail(Name=name))[0] == "AccessDeniedException"


# ---- 2. secrets in events ------------------------------------------------------------

def _events(admin: AwsEnv, name: str) -> list[dict[str, Any]]:
    found = admin.client("cloudtrail", region_name=REGION).lookup_events(
        LookupAttributes=[{"AttributeKey": "EventName", "AttributeValue": name}], MaxResults=50)["Events"]
    return [json.loads(e["CloudTrailEvent"]) for e in found]


def test_an_overwrite_keeping_the_secure_string_type_is_hidden(admin: AwsEnv) -> None:
    ssm = admin.client("ssm", region_name=REGION)
    name = f"/review/db-password-{uuid.uuid4().hex[:8]}"
    ssm.put_parameter(Name=name, Value="first-s3cret", Type="SecureString")
    ssm.put_parameter(Name=name, Value="HUNTER2-overwritten", Overwrite=True)  # no Type: stays a SecureString
    assert ssm.get_parameter(Name=name)["Parameter"]["Type"] == "SecureString"
    plain = f"/review/url-{uuid.uuid4().hex[:8]}"
    ssm.put_parameter(Name=plain, Value="https://example.com/plain", Type="String")
    mine = [e for e in _events(admin, "PutParameter") if e["requestParameters"]["name"] in (name, plain)]
    assert len(mine) == 3
    overwrite = next(e for e in mine if e["requestParameters"].get("overwrite"))
    assert overwrite["requestParameters"]["value"] == "HIDDEN_DUE_TO_SECURITY_REASONS"
    assert "type" not in overwrite["requestParameters"]
    # AWS hides every PutParameter value, a String's too.
    assert {e["requestParameters"]["value"] for e in mine} == {"HIDDEN_DUE_TO_SECURITY_REASONS"}
    text = json.dumps(mine)
    assert "HUNTER2-overwritten" not in text and "first-s3cret" not in text and "example.com/plain" not in text


def test_run_instances_user_data_is_removed(admin: AwsEnv) -> None:
    ec2 = admin.client("ec2", region_name=REGION)
    token = uuid.uuid4().hex
    secret = f"ud-s3cret-{token[:8]}"
    user_data = base64.b64encode(f"#!/bin/sh\nexport DB_PASSWORD={secret}\n".encode()).decode()
    out = ec2.run_instances(ImageId=AL2023, MinCount=1, MaxCount=1, UserData=user_data, ClientToken=token)
    try:
        mine = [e for e in _events(admin, "RunInstances") if e["requestParameters"].get("clientToken") == token]
        assert len(mine) == 1
        assert mine[0]["requestParameters"]["userData"] == "<sensitiveDataRemoved>"
        text = json.dumps(mine)
        assert user_data not in text and secret not in text
    finally:
        ec2.terminate_instances(InstanceIds=[i["InstanceId"] for i in out["Instances"]])
