"""The IAM policy simulator through the real aws CLI agrees with `skyhold policy evaluate`."""

from __future__ import annotations

import json
import subprocess
import sys
import uuid

import pytest

from .conftest import AwsEnv

IDENTITY = json.dumps({"Version": "2012-10-17", "Statement": [
    {"Sid": "Read", "Effect": "Allow", "Action": ["s3:GetObject", "s3:ListBucket"], "Resource": "*"},
    {"Sid": "NoSecrets", "Effect": "Deny", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::vault/*"},
    {"Sid": "FromOffice", "Effect": "Allow", "Action": "s3:PutObject", "Resource": "*",
     "Condition": {"IpAddress": {"aws:SourceIp": "203.0.113.0/24"}}},
]}, indent=2)

CASES = [
    ("s3:GetObject", "arn:aws:s3:::public/a", {}),
    ("s3:GetObject", "arn:aws:s3:::vault/a", {}),
    ("s3:DeleteObject", "arn:aws:s3:::public/a", {}),
    ("s3:PutObject", "arn:aws:s3:::public/a", {"aws:SourceIp": "203.0.113.9"}),
    ("s3:PutObject", "arn:aws:s3:::public/a", {"aws:SourceIp": "198.51.100.1"}),
]
AWS_NAMES = {"Allowed": "allowed", "ExplicitlyDenied": "explicitDeny", "ImplicitlyDenied": "implicitDeny"}


def _skyhold_decision(account: str, action: str, resource: str, context: dict, resource_policy=None) -> str:
    case = {"principal": f"arn:aws:iam::{account}:user/SimulatedUser", "action": action, "resource": resource,
            "context": context, "identity_policies": [json.loads(IDENTITY)], "resource_policy": resource_policy}
    out = subprocess.run([sys.executable, "-m", "skyhold.cli", "policy", "evaluate", "-"], input=json.dumps(case),
                         capture_output=True, text=True, check=True)
    return AWS_NAMES[json.loads(out.stdout)["decision"]]


@pytest.mark.parametrize("action,resource,context", CASES)
def test_simulate_custom_policy_matches_policy_evaluate(admin: AwsEnv, action: str, resource: str, context: dict) -> None:
    account = admin.client("sts").get_caller_identity()["Account"]
    args = ["iam", "simulate-custom-policy", "--policy-input-list", IDENTITY, "--action-names", action,
            "--resource-arns", resource]
    for key, value in context.items():
        args += ["--context-entries", f"ContextKeyName={key},ContextKeyValues={value},ContextKeyType=ip"]
    result = admin.aws_json(*args)["EvaluationResults"][0]
    assert result["EvalDecision"] == _skyhold_decision(account, action, resource, context)


def test_matched_statements_and_missing_context(admin: AwsEnv) -> None:
    out = admin.aws_json("iam", "simulate-custom-policy", "--policy-input-list", IDENTITY,
                         "--action-names", "s3:GetObject", "s3:PutObject", "--resource-arns", "arn:aws:s3:::vault/x")
    get, put = out["EvaluationResults"]
    assert get["EvalDecision"] == "explicitDeny"
    [deny] = [m for m in get["MatchedStatements"] if m["StartPosition"]["Line"] > 5]
    assert deny["SourcePolicyId"] == "PolicyInputList.1"
    # the Deny statement starts on line 9 of the indented document above
    assert IDENTITY.splitlines()[deny["StartPosition"]["Line"] - 1].strip().startswith("{")
    assert '"NoSecrets"' in IDENTITY.splitlines()[deny["StartPosition"]["Line"]]
    assert put["EvalDecision"] == "implicitDeny" and put["MissingContextValues"] == ["aws:SourceIp"]
    keys = admin.aws_json("iam", "get-context-keys-for-custom-policy", "--policy-input-list", IDENTITY)
    assert [k.lower() for k in keys["ContextKeyNames"]] == ["aws:sourceip"]


def test_simulate_principal_policy_with_groups_and_boundary(admin: AwsEnv) -> None:
    iam = admin.client("iam")
    name = f"sim-{uuid.uuid4().hex[:6]}"
    boundary = iam.create_policy(PolicyName=name + "-b", PolicyDocument=json.dumps({
        "Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "iam:List*", "Resource": "*"}]}))
    user = iam.create_user(UserName=name, PermissionsBoundary=boundary["Policy"]["Arn"])["User"]
    iam.create_group(GroupName=name)
    iam.put_group_policy(GroupName=name, PolicyName="all-iam", PolicyDocument=json.dumps({
        "Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "iam:*", "Resource": "*"}]}))
    iam.add_user_to_group(GroupName=name, UserName=name)
    out = iam.simulate_principal_policy(PolicySourceArn=user["Arn"], ActionNames=["iam:ListUsers", "iam:CreateUser"])
    decisions = {r["EvalActionName"]: r for r in out["EvaluationResults"]}
    assert decisions["iam:ListUsers"]["EvalDecision"] == "allowed"
    assert decisions["iam:ListUsers"]["MatchedStatements"][0]["SourcePolicyType"] == "group"
    assert decisions["iam:CreateUser"]["EvalDecision"] == "implicitDeny"
    assert decisions["iam:CreateUser"]["PermissionsBoundaryDecisionDetail"] == {"AllowedByPermissionsBoundary": False}
    with pytest.raises(iam.exceptions.NoSuchEntityException):
        iam.simulate_principal_policy(PolicySourceArn=user["Arn"] + "x", ActionNames=["iam:ListUsers"])
