"""The IAM policy simulator through the real aws CLI agrees with `skyhold policy evaluate`
run on the same inputs, and simulate-principal-policy sees a user's groups and boundary."""

from __future__ import annotations

import json
import subprocess
import sys
import uuid
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError

from .conftest import AwsEnv

IDENTITY = {"Version": "2012-10-17", "Statement": [
    {"Sid": "Read", "Effect": "Allow", "Action": ["s3:GetObject", "s3:ListBucket"], "Resource": "*"},
    {"Sid": "NoSecrets", "Effect": "Deny", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::vault/*"},
    {"Sid": "FromOffice", "Effect": "Allow", "Action": "s3:PutObject", "Resource": "*",
     "Condition": {"IpAddress": {"aws:SourceIp": "203.0.113.0/24"}}},
    {"Sid": "TaggedOnly", "Effect": "Allow", "Action": "s3:PutObjectTagging", "Resource": "*",
     "Condition": {"ForAllValues:StringEquals": {"aws:TagKeys": ["team", "env"]}}},
]}
OTHER_ACCOUNT = "444455556666"


def _bucket_policy(account: str) -> dict:
    return {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{account}:user/alice"},
         "Action": ["s3:DeleteObject", "s3:GetObject"], "Resource": "arn:aws:s3:::shared/*"},
        {"Effect": "Deny", "Principal": "*", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::shared/locked/*"},
    ]}


# (name, action, resource, context entries, with the bucket policy, resource owner)
CASES = [
    ("allow", "s3:GetObject", "arn:aws:s3:::public/a", [], False, None),
    ("explicit-deny", "s3:GetObject", "arn:aws:s3:::vault/a", [], False, None),
    ("implicit-deny", "s3:DeleteObject", "arn:aws:s3:::public/a", [], False, None),
    ("ip-in-range", "s3:PutObject", "arn:aws:s3:::public/a", [("aws:SourceIp", ["203.0.113.9"], "ip")], False, None),
    ("ip-out-of-range", "s3:PutObject", "arn:aws:s3:::public/a", [("aws:SourceIp", ["198.51.100.1"], "ip")],
     False, None),
    ("tag-list-ok", "s3:PutObjectTagging", "*", [("aws:TagKeys", ["team", "env"], "stringList")], False, None),
    ("tag-list-extra", "s3:PutObjectTagging", "*", [("aws:TagKeys", ["team", "cost"], "stringList")], False, None),
    ("resource-policy-grants-same-account", "s3:DeleteObject", "arn:aws:s3:::shared/a", [], True, None),
    ("resource-policy-deny", "s3:GetObject", "arn:aws:s3:::shared/locked/a", [], True, None),
    ("cross-account-needs-identity", "s3:DeleteObject", "arn:aws:s3:::shared/a", [], True, OTHER_ACCOUNT),
    ("cross-account-both-allow", "s3:GetObject", "arn:aws:s3:::shared/a", [], True, OTHER_ACCOUNT),
]
ENGINE_NAMES = {"Allowed": "allowed", "ExplicitlyDenied": "explicitDeny", "ImplicitlyDenied": "implicitDeny"}


def _engine_decision(case: dict[str, Any]) -> str:
    out = subprocess.run([sys.executable, "-m", "skyhold.cli", "policy", "evaluate", "-"], input=json.dumps(case),
                         capture_output=True, text=True, check=True, timeout=60)
    return ENGINE_NAMES[json.loads(out.stdout)["decision"]]


@pytest.mark.parametrize("name,action,resource,entries,with_policy,owner", CASES, ids=[c[0] for c in CASES])
def test_simulate_custom_policy_matches_policy_evaluate(admin: AwsEnv, account: str, name: str, action: str,
                                                        resource: str, entries: list, with_policy: bool,
                                                        owner: str | None) -> None:
    caller = f"arn:aws:iam::{account}:user/alice"
    args = ["iam", "simulate-custom-policy", "--policy-input-list", json.dumps(IDENTITY, indent=2),
            "--action-names", action, "--resource-arns", resource, "--caller-arn", caller]
    if entries:
        args += ["--context-entries", json.dumps([
            {"ContextKeyName": k, "ContextKeyValues": v, "ContextKeyType": t} for k, v, t in entries])]
    if with_policy:
        args += ["--resource-policy", json.dumps(_bucket_policy(account))]
    if owner:
        args += ["--resource-owner", f"arn:aws:iam::{owner}:root"]
    [result] = admin.aws_json(*args)["EvaluationResults"]

    case = {"principal": caller, "action": action, "resource": resource,
            "context": {k: (v if t.endswith("List") else v[0]) for k, v, t in entries},
            "identity_policies": [IDENTITY], "resource_policy": _bucket_policy(account) if with_policy else None,
            "resource_account": owner or account}
    assert result["EvalDecision"] == _engine_decision(case)
    assert result["EvalActionName"] == action and result["EvalResourceName"] == resource


def test_decisions_cover_every_outcome(admin: AwsEnv, account: str) -> None:
    # The comparison above is only meaningful if the cases reach all three decisions.
    out = admin.aws_json("iam", "simulate-custom-policy", "--policy-input-list", json.dumps(IDENTITY),
                         "--action-names", "s3:ListBucket", "s3:DeleteObject",
                         "--resource-arns", "arn:aws:s3:::vault/x", "arn:aws:s3:::public/x")
    decisions = {r["EvalDecision"] for r in out["EvaluationResults"]}
    out = admin.aws_json("iam", "simulate-custom-policy", "--policy-input-list", json.dumps(IDENTITY),
                         "--action-names", "s3:GetObject", "--resource-arns", "arn:aws:s3:::vault/x")
    decisions |= {r["EvalDecision"] for r in out["EvaluationResults"]}
    assert decisions == {"allowed", "explicitDeny", "implicitDeny"}


def test_matched_statements_and_missing_context(admin: AwsEnv) -> None:
    text = json.dumps(IDENTITY, indent=2)
    out = admin.aws_json("iam", "simulate-custom-policy", "--policy-input-list", text,
                         "--action-names", "s3:GetObject", "s3:PutObject", "--resource-arns", "arn:aws:s3:::vault/x")
    get, put = out["EvaluationResults"]
    assert get["EvalDecision"] == "explicitDeny"
    lines = text.splitlines()
    spans = {m["StartPosition"]["Line"]: m for m in get["MatchedStatements"]}
    # The deny statement ("NoSecrets") lies between its reported start and end lines.
    deny = [m for m in spans.values()
            if '"NoSecrets"' in "\n".join(lines[m["StartPosition"]["Line"] - 1:m["EndPosition"]["Line"]])
            and '"Read"' not in "\n".join(lines[m["StartPosition"]["Line"]:m["EndPosition"]["Line"]])]
    assert len(deny) == 1 and deny[0]["SourcePolicyId"] == "PolicyInputList.1"
    assert put["EvalDecision"] == "implicitDeny" and put["MissingContextValues"] == ["aws:SourceIp"]
    assert put["ResourceSpecificResults"][0]["MissingContextValues"] == ["aws:SourceIp"]
    keys = admin.aws_json("iam", "get-context-keys-for-custom-policy", "--policy-input-list", text)
    assert keys["ContextKeyNames"] == ["aws:SourceIp", "aws:TagKeys"]


def test_simulate_principal_policy_with_groups_and_boundary(admin: AwsEnv) -> None:
    iam = admin.client("iam")
    name = f"sim-{uuid.uuid4().hex[:6]}"
    boundary = iam.create_policy(PolicyName=name + "-b", PolicyDocument=json.dumps({
        "Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": ["iam:List*", "iam:Get*"],
                                                "Resource": "*"}]}))
    user = iam.create_user(UserName=name, PermissionsBoundary=boundary["Policy"]["Arn"])["User"]
    iam.create_group(GroupName=name)
    iam.put_group_policy(GroupName=name, PolicyName="all-iam", PolicyDocument=json.dumps({
        "Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "iam:*", "Resource": "*"}]}))
    iam.put_user_policy(UserName=name, PolicyName="no-get", PolicyDocument=json.dumps({
        "Version": "2012-10-17", "Statement": [{"Effect": "Deny", "Action": "iam:GetUser", "Resource": "*"}]}))
    iam.add_user_to_group(GroupName=name, UserName=name)

    out = admin.aws_json("iam", "simulate-principal-policy", "--policy-source-arn", user["Arn"],
                         "--action-names", "iam:ListUsers", "iam:CreateUser", "iam:GetUser")
    decisions = {r["EvalActionName"]: r for r in out["EvaluationResults"]}
    listing, creating, getting = decisions["iam:ListUsers"], decisions["iam:CreateUser"], decisions["iam:GetUser"]
    assert listing["EvalDecision"] == "allowed"  # the group grants, the boundary permits
    assert [m["SourcePolicyId"] for m in listing["MatchedStatements"]] == [f"group_{name}_all-iam"]
    assert creating["EvalDecision"] == "implicitDeny"  # the group grants, the boundary does not
    assert creating["PermissionsBoundaryDecisionDetail"] == {"AllowedByPermissionsBoundary": False}
    assert getting["EvalDecision"] == "explicitDeny"  # the user's own deny wins
    assert f"user_{name}_no-get" in [m["SourcePolicyId"] for m in getting["MatchedStatements"]]

    # The same decisions as a real request by that user would get.
    key = iam.create_access_key(UserName=name)["AccessKey"]
    as_user = boto3.client("iam", endpoint_url=admin.endpoint, region_name="us-east-1",
                           aws_access_key_id=key["AccessKeyId"], aws_secret_access_key=key["SecretAccessKey"])
    assert "Users" in as_user.list_users()
    for call in (lambda: as_user.create_user(UserName=name + "-x"), lambda: as_user.get_user(UserName=name)):
        with pytest.raises(ClientError) as e:
            call()
        assert e.value.response["Error"]["Code"] == "AccessDenied"

    with pytest.raises(iam.exceptions.NoSuchEntityException):
        iam.simulate_principal_policy(PolicySourceArn=user["Arn"] + "x", ActionNames=["iam:ListUsers"])
