"""Holes a security review found in Secrets Manager and Parameter Store authorization,
each reproduced and now refused (or allowed) as AWS does: tag conditions on the tagging
calls, public resource policies hidden behind a condition, and Secrets Manager's own
condition keys."""

from __future__ import annotations

import json
import uuid
from typing import Any

import pytest

from .conftest import AwsEnv, aws_error

ALLOW_SM = {"Effect": "Allow", "Action": "secretsmanager:*", "Resource": "*"}


def _policy(*statements: dict[str, Any]) -> dict[str, Any]:
    return {"Version": "2012-10-17", "Statement": list(statements)}


def _denied(call: Any, action: str, *, explicit: bool = True) -> None:
    code, message, status = aws_error(call)
    assert (code, status) == ("AccessDeniedException", 400)
    assert f"perform: {action} " in message
    assert ("with an explicit deny" in message) == explicit, message


def _secret(admin: AwsEnv, prefix: str, **kw: Any) -> str:
    name = f"{prefix}-{uuid.uuid4().hex[:8]}"
    admin.client("secretsmanager").create_secret(Name=name, **kw)
    return name


def _tags(admin: AwsEnv, name: str) -> dict[str, str]:
    return {t["Key"]: t["Value"] for t in admin.client("secretsmanager").describe_secret(SecretId=name)["Tags"]}


# --- 1. tag conditions on the tagging calls -----------------------------------------

GUARD_OWNER = _policy(
    {"Effect": "Allow", "Action": ["secretsmanager:TagResource", "secretsmanager:UntagResource",
                                   "ssm:AddTagsToResource", "ssm:RemoveTagsFromResource"], "Resource": "*"},
    # nobody may change or remove the "owner" tag
    {"Effect": "Deny", "Action": ["secretsmanager:TagResource", "secretsmanager:UntagResource",
                                  "ssm:AddTagsToResource", "ssm:RemoveTagsFromResource"], "Resource": "*",
     "Condition": {"ForAnyValue:StringEquals": {"aws:TagKeys": ["owner"]}}})


def test_secret_tagging_calls_carry_aws_tag_keys(admin: AwsEnv) -> None:
    name = _secret(admin, "tagguard", SecretString="s", Tags=[{"Key": "owner", "Value": "team-a"}])
    sm = admin.client_for(admin.new_user(GUARD_OWNER), "secretsmanager")
    _denied(lambda: sm.untag_resource(SecretId=name, TagKeys=["owner"]), "secretsmanager:UntagResource")
    _denied(lambda: sm.tag_resource(SecretId=name, Tags=[{"Key": "owner", "Value": "mallory"}]),
            "secretsmanager:TagResource")
    # other keys are still the user's to set and remove
    sm.tag_resource(SecretId=name, Tags=[{"Key": "env", "Value": "dev"}])
    sm.untag_resource(SecretId=name, TagKeys=["env"])
    assert _tags(admin, name) == {"owner": "team-a"}


def test_secret_tag_resource_carries_aws_request_tag(admin: AwsEnv) -> None:
    name = _secret(admin, "reqtag", SecretString="s")
    only_dev = _policy({"Effect": "Allow", "Action": "secretsmanager:TagResource", "Resource": "*",
                        "Condition": {"StringEquals": {"aws:RequestTag/env": "dev"}}})
    sm = admin.client_for(admin.new_user(only_dev), "secretsmanager")
    sm.tag_resource(SecretId=name, Tags=[{"Key": "env", "Value": "dev"}])
    _denied(lambda: sm.tag_resource(SecretId=name, Tags=[{"Key": "env", "Value": "prod"}]),
            "secretsmanager:TagResource", explicit=False)
    assert _tags(admin, name) == {"env": "dev"}


def test_a_tag_change_that_would_lock_the_caller_out_is_refused(admin: AwsEnv) -> None:
    """Secrets Manager blocks TagResource/UntagResource when completing it would take
    the caller's permission for the secret away (API reference, UntagResource)."""
    name = _secret(admin, "lockout", SecretString="s", Tags=[{"Key": "team", "Value": "blue"}])
    blue_only = _policy({"Effect": "Allow", "Action": "secretsmanager:*", "Resource": "*",
                         "Condition": {"StringEquals": {"secretsmanager:ResourceTag/team": "blue"}}})
    sm = admin.client_for(admin.new_user(blue_only), "secretsmanager")
    sm.tag_resource(SecretId=name, Tags=[{"Key": "env", "Value": "dev"}])  # keeps team=blue: fine
    _denied(lambda: sm.untag_resource(SecretId=name, TagKeys=["team"]), "secretsmanager:UntagResource",
            explicit=False)
    _denied(lambda: sm.tag_resource(SecretId=name, Tags=[{"Key": "team", "Value": "red"}]),
            "secretsmanager:TagResource", explicit=False)
    assert _tags(admin, name) == {"team": "blue", "env": "dev"}  # nothing changed
    sm.untag_resource(SecretId=name, TagKeys=["env"])
    assert _tags(admin, name) == {"team": "blue"}
    # a caller whose permission does not hang on the tag may remove it
    admin.client("secretsmanager").untag_resource(SecretId=name, TagKeys=["team"])
    assert _tags(admin, name) == {}


def test_parameter_tagging_calls_carry_aws_tag_keys(admin: AwsEnv) -> None:
    name = f"/review/tags-{uuid.uuid4().hex[:8]}"
    ssm = admin.client("ssm")
    ssm.put_parameter(Name=name, Value="v", Type="String", Tags=[{"Key": "owner", "Value": "team-a"}])
    user = admin.client_for(admin.new_user(GUARD_OWNER), "ssm")
    _denied(lambda: user.remove_tags_from_resource(ResourceType="Parameter", ResourceId=name, TagKeys=["owner"]),
            "ssm:RemoveTagsFromResource")
    _denied(lambda: user.add_tags_to_resource(ResourceType="Parameter", ResourceId=name,
                                              Tags=[{"Key": "owner", "Value": "x"}]), "ssm:AddTagsToResource")
    user.add_tags_to_resource(ResourceType="Parameter", ResourceId=name, Tags=[{"Key": "env", "Value": "dev"}])
    user.remove_tags_from_resource(ResourceType="Parameter", ResourceId=name, TagKeys=["env"])
    tags = ssm.list_tags_for_resource(ResourceType="Parameter", ResourceId=name)["TagList"]
    assert tags == [{"Key": "owner", "Value": "team-a"}]


def test_put_parameter_carries_ssm_overwrite(admin: AwsEnv) -> None:
    # AWS's own example: create parameters, never change existing ones
    no_overwrite = _policy({"Effect": "Allow", "Action": "ssm:PutParameter", "Resource": "*"},
                           {"Effect": "Deny", "Action": "ssm:PutParameter", "Resource": "*",
                            "Condition": {"StringEquals": {"ssm:Overwrite": ["true"]}}})
    user = admin.client_for(admin.new_user(no_overwrite), "ssm")
    name = f"/review/overwrite-{uuid.uuid4().hex[:8]}"
    user.put_parameter(Name=name, Value="v1", Type="String")
    _denied(lambda: user.put_parameter(Name=name, Value="v2", Type="String", Overwrite=True), "ssm:PutParameter")
    assert admin.client("ssm").get_parameter(Name=name)["Parameter"]["Value"] == "v1"


# --- 2. public resource policies behind a condition ---------------------------------

def _grant_everyone(condition: dict[str, Any] | None) -> str:
    st: dict[str, Any] = {"Effect": "Allow", "Principal": "*", "Action": "secretsmanager:GetSecretValue",
                          "Resource": "*"}
    if condition:
        st["Condition"] = condition
    return json.dumps(_policy(st))


@pytest.mark.parametrize("condition", [
    None,
    {"Bool": {"aws:SecureTransport": "true"}},
    {"StringLike": {"aws:PrincipalArn": "*"}},
    {"IpAddress": {"aws:SourceIp": "0.0.0.0/0"}},
    {"StringLike": {"aws:SourceAccount": "*"}},  # a wildcard is no fixed value
    {"StringEqualsIfExists": {"aws:SourceAccount": "111122223333"}},  # absent key lets anyone in
], ids=["none", "secure-transport", "principal-arn-wildcard", "any-ip", "source-account-wildcard",
        "if-exists"])
def test_broad_grants_are_public_whatever_their_condition(admin: AwsEnv, condition: dict[str, Any] | None) -> None:
    sm = admin.client("secretsmanager")
    name = _secret(admin, "public", SecretString="top-secret")
    policy = _grant_everyone(condition)
    result = sm.validate_resource_policy(ResourcePolicy=policy)
    assert not result["PolicyValidationPassed"]
    assert [e["CheckName"] for e in result["ValidationErrors"]] == ["PUBLIC_ACCESS_CHECK"]
    code, _, status = aws_error(lambda: sm.put_resource_policy(SecretId=name, ResourcePolicy=policy,
                                                                BlockPublicPolicy=True))
    assert (code, status) == ("PublicPolicyException", 400)
    assert "ResourcePolicy" not in sm.get_resource_policy(SecretId=name)


@pytest.mark.parametrize("condition", [
    {"StringEquals": {"aws:SourceAccount": "111122223333"}},
    {"StringEquals": {"aws:SourceVpce": "vpce-1a2b3c4d"}},
    {"ArnEquals": {"aws:SourceArn": "arn:aws:lambda:us-east-1:111122223333:function:rotator"}},
], ids=["source-account", "source-vpce", "source-arn"])
def test_grants_pinned_to_fixed_sources_are_not_public(admin: AwsEnv, condition: dict[str, Any]) -> None:
    sm = admin.client("secretsmanager")
    name = _secret(admin, "pinned", SecretString="s")
    policy = _grant_everyone(condition)
    assert sm.validate_resource_policy(ResourcePolicy=policy)["PolicyValidationPassed"]
    sm.put_resource_policy(SecretId=name, ResourcePolicy=policy, BlockPublicPolicy=True)
    assert json.loads(sm.get_resource_policy(SecretId=name)["ResourcePolicy"])["Statement"][0]["Condition"] \
        == condition


# --- 3. Secrets Manager's own condition keys ----------------------------------------

def test_delete_secret_carries_force_and_recovery_window(admin: AwsEnv) -> None:
    user = _policy(ALLOW_SM,
                   {"Effect": "Deny", "Action": "secretsmanager:DeleteSecret", "Resource": "*",
                    "Condition": {"Bool": {"secretsmanager:ForceDeleteWithoutRecovery": "true"}}},
                   {"Effect": "Deny", "Action": "secretsmanager:DeleteSecret", "Resource": "*",
                    "Condition": {"NumericLessThan": {"secretsmanager:RecoveryWindowInDays": "14"}}})
    sm = admin.client_for(admin.new_user(user), "secretsmanager")
    name = _secret(admin, "delkeys", SecretString="s")
    _denied(lambda: sm.delete_secret(SecretId=name, ForceDeleteWithoutRecovery=True), "secretsmanager:DeleteSecret")
    _denied(lambda: sm.delete_secret(SecretId=name, RecoveryWindowInDays=7), "secretsmanager:DeleteSecret")
    sm.delete_secret(SecretId=name, RecoveryWindowInDays=20)
    assert "DeletedDate" in admin.client("secretsmanager").describe_secret(SecretId=name)


def test_put_resource_policy_carries_block_public_policy(admin: AwsEnv) -> None:
    user = _policy(ALLOW_SM, {"Effect": "Deny", "Action": "secretsmanager:PutResourcePolicy", "Resource": "*",
                              "Condition": {"Bool": {"secretsmanager:BlockPublicPolicy": "false"}}})
    sm = admin.client_for(admin.new_user(user), "secretsmanager")
    name = _secret(admin, "bpp", SecretString="s")
    account = admin.client("sts").get_caller_identity()["Account"]
    policy = json.dumps(_policy({"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{account}:root"},
                                 "Action": "secretsmanager:GetSecretValue", "Resource": "*"}))
    _denied(lambda: sm.put_resource_policy(SecretId=name, ResourcePolicy=policy, BlockPublicPolicy=False),
            "secretsmanager:PutResourcePolicy")
    sm.put_resource_policy(SecretId=name, ResourcePolicy=policy, BlockPublicPolicy=True)


def test_create_secret_carries_name_and_description(admin: AwsEnv) -> None:
    team_a = f"team-a-{uuid.uuid4().hex[:6]}"
    user = _policy({"Effect": "Allow", "Action": "secretsmanager:CreateSecret", "Resource": "*",
                    "Condition": {"StringLike": {"secretsmanager:Name": f"{team_a}/*"}}},
                   {"Effect": "Deny", "Action": "secretsmanager:CreateSecret", "Resource": "*",
                    "Condition": {"StringLike": {"secretsmanager:Description": "*password*"}}})
    sm = admin.client_for(admin.new_user(user), "secretsmanager")
    sm.create_secret(Name=f"{team_a}/x")
    _denied(lambda: sm.create_secret(Name=f"team-b-{uuid.uuid4().hex[:6]}/x"), "secretsmanager:CreateSecret",
            explicit=False)
    _denied(lambda: sm.create_secret(Name=f"{team_a}/y", Description="the db password"),
            "secretsmanager:CreateSecret")
    assert admin.client("secretsmanager").describe_secret(SecretId=f"{team_a}/x")["Name"] == f"{team_a}/x"


def test_create_secret_carries_the_kms_key_arn_an_alias_names(admin: AwsEnv) -> None:
    kms = admin.client("kms")
    key_arn = kms.create_key()["KeyMetadata"]["Arn"]
    alias = f"alias/review-{uuid.uuid4().hex[:8]}"
    kms.create_alias(AliasName=alias, TargetKeyId=key_arn)
    user = _policy({"Effect": "Allow", "Action": "secretsmanager:CreateSecret", "Resource": "*",
                    "Condition": {"ArnEquals": {"secretsmanager:KmsKeyArn": key_arn}}})
    sm = admin.client_for(admin.new_user(user), "secretsmanager")
    sm.create_secret(Name=f"cmk-{uuid.uuid4().hex[:8]}", KmsKeyId=alias)
    _denied(lambda: sm.create_secret(Name=f"cmk-{uuid.uuid4().hex[:8]}"), "secretsmanager:CreateSecret",
            explicit=False)


def test_kms_key_arn_is_only_a_create_and_update_key(admin: AwsEnv) -> None:
    """The reference lists secretsmanager:KmsKeyArn for CreateSecret and UpdateSecret
    only: on DescribeSecret a condition sees it missing, whatever the secret's key."""
    key_arn = admin.client("kms").create_key()["KeyMetadata"]["Arn"]
    name = _secret(admin, "kmsarn", KmsKeyId=key_arn)
    user = _policy({"Effect": "Allow", "Action": "secretsmanager:DescribeSecret", "Resource": "*"},
                   {"Effect": "Deny", "Action": "secretsmanager:DescribeSecret", "Resource": "*",
                    "Condition": {"Null": {"secretsmanager:KmsKeyArn": "false"}}})
    sm = admin.client_for(admin.new_user(user), "secretsmanager")
    assert sm.describe_secret(SecretId=name)["KmsKeyId"] == key_arn


def test_rotate_secret_carries_the_rotation_lambda_arn(admin: AwsEnv) -> None:
    allowed = "arn:aws:lambda:us-east-1:111122223333:function:approved-rotator"
    user = _policy(ALLOW_SM, {"Effect": "Deny", "Action": "secretsmanager:RotateSecret", "Resource": "*",
                              "Condition": {"ArnNotEquals": {"secretsmanager:RotationLambdaARN": allowed}}})
    sm = admin.client_for(admin.new_user(user), "secretsmanager")
    name = _secret(admin, "rotkeys", SecretString="s")
    other = "arn:aws:lambda:us-east-1:111122223333:function:rogue"
    # refused by the policy before Secrets Manager looks for the function
    _denied(lambda: sm.rotate_secret(SecretId=name, RotationLambdaARN=other), "secretsmanager:RotateSecret")
