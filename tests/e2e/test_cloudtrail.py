"""Every call is recorded as CloudTrail records it; `skyhold explain` answers why."""

from __future__ import annotations

import json
import uuid

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from . import totp
from .conftest import VENV_BIN, AwsEnv, Server

VENV = VENV_BIN / "skyhold"


def _client(admin: AwsEnv, service: str, creds: dict) -> object:
    return boto3.client(service, endpoint_url=admin.endpoint, region_name="us-east-1",
                        aws_access_key_id=creds["AccessKeyId"], aws_secret_access_key=creds["SecretAccessKey"],
                        aws_session_token=creds.get("SessionToken"), config=Config(retries={"max_attempts": 1}))


@pytest.fixture(scope="module")
def story(admin: AwsEnv) -> dict:
    """Admin creates a user and key; the user reads, is denied a write, assumes a role with MFA."""
    iam = admin.client("iam")
    name = f"audited-{uuid.uuid4().hex[:6]}"
    user = iam.create_user(UserName=name)["User"]
    key = iam.create_access_key(UserName=name)["AccessKey"]
    iam.put_user_policy(UserName=name, PolicyName="read", PolicyDocument=json.dumps({
        "Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": ["iam:ListUsers", "sts:AssumeRole"],
                                                "Resource": "*"}]}))
    serial, seed, step = totp.enable_virtual_device(iam, name, name)
    role = iam.create_role(RoleName=name + "-role", AssumeRolePolicyDocument=json.dumps({
        "Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"AWS": user["Arn"]},
                                                "Action": "sts:AssumeRole"}]}))["Role"]
    user_iam = _client(admin, "iam", key)
    user_iam.list_users()
    with pytest.raises(ClientError) as denied:
        user_iam.create_group(GroupName=name + "-g")
    creds = _client(admin, "sts", key).assume_role(
        RoleArn=role["Arn"], RoleSessionName="audit", SerialNumber=serial,
        TokenCode=totp.code(seed, step + 1))["Credentials"]
    return {"name": name, "key": key, "role": role, "creds": creds,
            "denied_request": denied.value.response["ResponseMetadata"]["RequestId"],
            "denied_message": denied.value.response["Error"]["Message"]}


def _events(admin: AwsEnv, *attr: str) -> list[dict]:
    args = ["cloudtrail", "lookup-events", "--max-results", "50"]
    if attr:
        args += ["--lookup-attributes", f"AttributeKey={attr[0]},AttributeValue={attr[1]}"]
    return admin.aws_json(*args)["Events"]


def test_lookup_events_shows_the_story(admin: AwsEnv, story: dict) -> None:
    events = _events(admin, "Username", story["name"])
    names = [e["EventName"] for e in events]
    assert names[:3] == ["AssumeRole", "CreateGroup", "ListUsers"]  # newest first
    records = {e["EventName"]: json.loads(e["CloudTrailEvent"]) for e in events}
    denied = records["CreateGroup"]
    assert denied["errorCode"] == "AccessDenied"
    assert denied["errorMessage"] == story["denied_message"]
    assert denied["userIdentity"]["type"] == "IAMUser"
    assert denied["userIdentity"]["userName"] == story["name"]
    assert denied["userIdentity"]["accessKeyId"] == story["key"]["AccessKeyId"]
    assert denied["eventSource"] == "iam.amazonaws.com" and denied["readOnly"] is False
    assert records["ListUsers"]["readOnly"] is True and "errorCode" not in records["ListUsers"]
    assume = records["AssumeRole"]
    assert assume["requestParameters"]["roleArn"] == story["role"]["Arn"]
    assert assume["responseElements"]["credentials"]["accessKeyId"] == story["creds"]["AccessKeyId"]
    assert "sessionToken" not in assume["responseElements"]["credentials"]
    assert story["creds"]["SecretAccessKey"] not in e_text(events)
    for key in ("eventVersion", "eventTime", "awsRegion", "sourceIPAddress", "userAgent", "requestID", "eventID",
                "eventType", "managementEvent", "recipientAccountId", "eventCategory"):
        assert key in assume


def e_text(events: list[dict]) -> str:
    return json.dumps(events)


def test_session_identity_and_mfa(admin: AwsEnv, story: dict) -> None:
    _client(admin, "sts", story["creds"]).get_caller_identity()
    events = _events(admin, "AccessKeyId", story["creds"]["AccessKeyId"])
    record = json.loads(events[0]["CloudTrailEvent"])
    ident = record["userIdentity"]
    assert ident["type"] == "AssumedRole"
    assert ident["arn"].endswith(f":assumed-role/{story['role']['RoleName']}/audit")
    assert ident["sessionContext"]["sessionIssuer"]["arn"] == story["role"]["Arn"]
    assert ident["sessionContext"]["attributes"]["mfaAuthenticated"] == "true"


def test_no_secret_material_in_the_trail(admin: AwsEnv) -> None:
    iam = admin.client("iam")
    name = f"secret-{uuid.uuid4().hex[:6]}"
    iam.create_user(UserName=name)
    key = iam.create_access_key(UserName=name)["AccessKey"]
    iam.create_login_profile(UserName=name, Password="Sup3r-Secret-Passw0rd!")
    text = e_text(_events(admin, "ResourceName", name)) + e_text(_events(admin, "EventName", "CreateAccessKey"))
    assert key["AccessKeyId"] in text
    assert key["SecretAccessKey"] not in text
    assert "Sup3r-Secret-Passw0rd!" not in text


def test_lookup_pagination_and_bad_input(admin: AwsEnv) -> None:
    ct = admin.client("cloudtrail")
    for _ in range(3):  # at least three management events, whatever ran before
        admin.client("iam").list_users()
    first = ct.lookup_events(MaxResults=2)
    second = ct.lookup_events(MaxResults=2, NextToken=first["NextToken"])
    assert {e["EventId"] for e in first["Events"]}.isdisjoint({e["EventId"] for e in second["Events"]})
    with pytest.raises(ClientError) as e:
        ct.lookup_events(LookupAttributes=[{"AttributeKey": "EventName", "AttributeValue": "a"},
                                           {"AttributeKey": "Username", "AttributeValue": "b"}])
    assert e.value.response["Error"]["Code"] == "InvalidLookupAttributesException"


def test_explain_names_the_missing_permission(server: Server, story: dict) -> None:
    out = server.cli("explain", story["denied_request"])
    assert out.returncode == 0, out.stderr
    assert "ImplicitlyDenied" in out.stdout and "iam:CreateGroup" in out.stdout
    assert '"Action": "iam:CreateGroup"' in out.stdout  # the statement that would allow it
    by_principal = server.cli("explain", "--last-denied", story["name"], "--json")
    record = json.loads(by_principal.stdout)
    assert record["event"]["requestID"] == story["denied_request"]
    assert record["suggestion"]["statement"] == {"Effect": "Allow", "Action": "iam:CreateGroup",
                                                 "Resource": record["explain"]["resource"]}


def test_a_read_is_explainable_the_moment_it_is_answered(admin: AwsEnv, server: Server) -> None:
    """A successful read answers before its event is on disk (it is in the trail
    writer's pipe); `skyhold explain` right after still finds it."""
    request_id = admin.client("iam").list_users()["ResponseMetadata"]["RequestId"]
    out = server.cli("explain", request_id)
    assert out.returncode == 0, out.stderr
    assert f"Request {request_id}" in out.stdout and "iam:ListUsers" in out.stdout and "success" in out.stdout


def test_cross_account_call_is_recorded_in_both_accounts(admin: AwsEnv, server: Server, tmp_path) -> None:
    from .conftest import new_account

    partner, _ = new_account(server, tmp_path, "ctpartner")
    account = admin.client("sts").get_caller_identity()["Account"]
    role_arn = partner.client("iam").create_role(RoleName="from-main", AssumeRolePolicyDocument=json.dumps({
        "Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{account}:root"},
                                                "Action": "sts:AssumeRole"}]}))["Role"]["Arn"]
    request_id = admin.client("sts").assume_role(RoleArn=role_arn, RoleSessionName="visit")[
        "ResponseMetadata"]["RequestId"]
    mine = [json.loads(e["CloudTrailEvent"]) for e in admin.client("cloudtrail").lookup_events(
        LookupAttributes=[{"AttributeKey": "EventName", "AttributeValue": "AssumeRole"}])["Events"]]
    theirs = [json.loads(e["CloudTrailEvent"]) for e in partner.client("cloudtrail").lookup_events(
        LookupAttributes=[{"AttributeKey": "EventName", "AttributeValue": "AssumeRole"}])["Events"]]
    mine = [e for e in mine if e["requestID"] == request_id]
    theirs = [e for e in theirs if e["requestID"] == request_id]
    assert mine[0]["recipientAccountId"] == account
    partner_account = role_arn.split(":")[4]
    assert theirs[0]["recipientAccountId"] == partner_account
    assert theirs[0]["userIdentity"]["accountId"] == account  # the caller, seen from the resource's account


def test_no_audit_records_nothing(tmp_path) -> None:
    """`skyhold up --no-audit` exists only to measure recording's cost; it must say so and record nothing."""
    from .conftest import Server, free_port, static_admin

    srv = Server(tmp_path / "data", free_port())
    import subprocess as sp

    srv.start()
    srv.stop()
    # restart the same data dir without the trail
    log = open(tmp_path / "noaudit.log", "w")
    srv.proc = sp.Popen([str(VENV) , "up", "--port", str(srv.port), "--data-dir", str(srv.data_dir), "--no-audit"],
                        stdout=log, stderr=sp.STDOUT)
    try:
        import time
        import urllib.request

        for _ in range(100):
            try:
                urllib.request.urlopen(f"{srv.endpoint}/_skyhold/health", timeout=1)
                break
            except OSError:
                time.sleep(0.05)
        admin = static_admin(srv, tmp_path)
        admin.client("iam").list_users()
        assert admin.client("cloudtrail").lookup_events()["Events"] == []
    finally:
        srv.stop()
    assert "Audit trail OFF" in (tmp_path / "noaudit.log").read_text()
