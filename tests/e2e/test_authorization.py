"""Every call is authorized: users can do exactly what their policies allow."""

from __future__ import annotations

import json
import re
import uuid

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from .conftest import AwsEnv


def _client(admin: AwsEnv, service: str, key: dict) -> object:
    return boto3.client(
        service,
        aws_access_key_id=key["AccessKeyId"],
        aws_secret_access_key=key["SecretAccessKey"],
        endpoint_url=admin.endpoint,
        region_name="us-east-1",
        config=Config(retries={"max_attempts": 1}),
    )


@pytest.fixture
def make_user(admin: AwsEnv):
    iam = admin.client("iam")

    def make(policy: dict | None = None, group_policy: dict | None = None, boundary: str | None = None) -> tuple[str, dict]:
        name = f"u-{uuid.uuid4().hex[:8]}"
        kw = {"PermissionsBoundary": boundary} if boundary else {}
        iam.create_user(UserName=name, **kw)
        if policy:
            iam.put_user_policy(UserName=name, PolicyName="p", PolicyDocument=json.dumps(policy))
        if group_policy:
            iam.create_group(GroupName=name + "-g")
            iam.put_group_policy(GroupName=name + "-g", PolicyName="gp", PolicyDocument=json.dumps(group_policy))
            iam.add_user_to_group(GroupName=name + "-g", UserName=name)
        return name, iam.create_access_key(UserName=name)["AccessKey"]

    return make


def allow(action: str, resource: str = "*") -> dict:
    return {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": action, "Resource": resource}]}


def test_user_without_policy_is_denied_with_aws_message(admin: AwsEnv, make_user) -> None:
    name, key = make_user()
    account = admin.client("sts").get_caller_identity()["Account"]
    with pytest.raises(ClientError) as e:
        _client(admin, "iam", key).list_users()
    err = e.value.response["Error"]
    assert e.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403
    assert err["Code"] == "AccessDenied"
    assert err["Message"] == (
        f"User: arn:aws:iam::{account}:user/{name} is not authorized to perform: iam:ListUsers "
        f"on resource: arn:aws:iam::{account}:user/ because no identity-based policy allows the iam:ListUsers action"
    )
    # GetCallerIdentity needs no permission at all
    assert _client(admin, "sts", key).get_caller_identity()["Arn"].endswith(f":user/{name}")


def test_group_policy_grants_and_explicit_deny_wins(admin: AwsEnv, make_user) -> None:
    deny_create = {"Version": "2012-10-17", "Statement": [
        {"Effect": "Deny", "Action": "iam:CreateUser", "Resource": "*"}]}
    _, key = make_user(policy=deny_create, group_policy=allow("iam:*"))
    iam = _client(admin, "iam", key)
    assert "Users" in iam.list_users()  # the group's policy allows it
    with pytest.raises(ClientError) as e:
        iam.create_user(UserName="nope-" + uuid.uuid4().hex[:6])
    assert "with an explicit deny in an identity-based policy" in e.value.response["Error"]["Message"]


def test_boundary_caps_what_a_policy_grants(admin: AwsEnv, make_user) -> None:
    iam = admin.client("iam")
    boundary = iam.create_policy(PolicyName=f"b-{uuid.uuid4().hex[:6]}",
                                 PolicyDocument=json.dumps(allow("iam:List*")))["Policy"]["Arn"]
    _, key = make_user(policy=allow("iam:*"), boundary=boundary)
    user_iam = _client(admin, "iam", key)
    user_iam.list_groups()
    with pytest.raises(ClientError) as e:
        user_iam.create_group(GroupName="g-" + uuid.uuid4().hex[:6])
    assert "because no permissions boundary allows the iam:CreateGroup action" in e.value.response["Error"]["Message"]


def test_username_variable_scopes_self_management(admin: AwsEnv, make_user) -> None:
    # AWS's documented "manage your own access keys" policy
    self_keys = {"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow",
        "Action": ["iam:CreateAccessKey", "iam:ListAccessKeys", "iam:DeleteAccessKey", "iam:UpdateAccessKey"],
        "Resource": "arn:aws:iam::*:user/${aws:username}"}]}
    name, key = make_user(policy=self_keys)
    other, _ = make_user()
    iam = _client(admin, "iam", key)
    assert len(iam.list_access_keys(UserName=name)["AccessKeyMetadata"]) == 1
    with pytest.raises(ClientError) as e:
        iam.list_access_keys(UserName=other)
    assert e.value.response["Error"]["Code"] == "AccessDenied"


def test_deactivated_key_stops_at_once(admin: AwsEnv, make_user) -> None:
    name, key = make_user()
    sts = _client(admin, "sts", key)
    sts.get_caller_identity()
    admin.client("iam").update_access_key(UserName=name, AccessKeyId=key["AccessKeyId"], Status="Inactive")
    with pytest.raises(ClientError) as e:
        sts.get_caller_identity()
    assert e.value.response["Error"]["Code"] == "InvalidClientTokenId"


def test_key_last_used_is_recorded(admin: AwsEnv, make_user) -> None:
    name, key = make_user()
    _client(admin, "sts", key).get_caller_identity()
    last = admin.client("iam").get_access_key_last_used(AccessKeyId=key["AccessKeyId"])["AccessKeyLastUsed"]
    assert last["ServiceName"] == "sts" and last["Region"] == "us-east-1"


def test_cli_shows_denial(admin: AwsEnv, make_user) -> None:
    name, key = make_user(policy=allow("iam:ListUsers"))
    env = {"AWS_ACCESS_KEY_ID": key["AccessKeyId"], "AWS_SECRET_ACCESS_KEY": key["SecretAccessKey"]}
    base = ["--endpoint-url", admin.endpoint, "--region", "us-east-1"]
    import subprocess
    run = lambda *a: subprocess.run(["aws", *base, *a], capture_output=True, text=True,
                                    env={**admin.env, **env}, timeout=60)
    assert run("iam", "list-users").returncode == 0
    out = run("iam", "create-group", "--group-name", "x")
    assert out.returncode != 0
    assert re.search(r"AccessDenied.*not authorized to perform: iam:CreateGroup", out.stderr)
