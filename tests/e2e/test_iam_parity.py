"""IAM errors as real AWS answers them (LocalStack's AWS-validated snapshots of
tests/aws/services/iam/test_iam.py): code, message and status."""

from __future__ import annotations

import json
import uuid
from typing import Any

import pytest

from .conftest import AwsEnv, aws_error

TRUST = json.dumps({"Version": "2012-10-17", "Statement": [
    {"Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"}, "Action": "sts:AssumeRole"}]})
POLICY = json.dumps({"Version": "2012-10-17", "Statement": [
    {"Effect": "Allow", "Action": ["lambda:ListFunctions"], "Resource": ["*"]}]})


def _name(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def test_trust_policy_that_is_not_json(admin: AwsEnv) -> None:
    iam: Any = admin.client("iam")
    trailing_comma = """{"Version": "2012-10-17", "Statement": [
        {"Action": "sts:AssumeRole", "Principal": "*", "Effect": "Allow",}]}"""
    assert aws_error(lambda: iam.create_role(RoleName=_name("role"), AssumeRolePolicyDocument=trailing_comma)) == (
        "MalformedPolicyDocument", "This policy contains invalid Json", 400)


@pytest.mark.parametrize("kind", ["role", "user"])
def test_attach_policy_arn_that_is_not_an_arn(admin: AwsEnv, kind: str) -> None:
    iam: Any = admin.client("iam")
    policy_name = _name("test-policy")
    policy_arn = iam.create_policy(PolicyName=policy_name, PolicyDocument=POLICY)["Policy"]["Arn"]
    owner = _name(f"test-{kind}")
    if kind == "role":
        iam.create_role(RoleName=owner, AssumeRolePolicyDocument=TRUST)

        def attach(arn: str) -> Any:
            return iam.attach_role_policy(RoleName=owner, PolicyArn=arn)
    else:
        iam.create_user(UserName=owner)

        def attach(arn: str) -> Any:
            return iam.attach_user_policy(UserName=owner, PolicyArn=arn)

    # Not an ARN at all, and the name of a policy that exists: both unparseable.
    for bad in ("longpolicynamebutnoarn", policy_name):
        assert aws_error(lambda: attach(bad)) == ("ValidationError", "Invalid ARN:  Could not be parsed!", 400)
    # A well-formed ARN of no policy is still NoSuchEntity.
    assert aws_error(lambda: attach(f"{policy_arn}123")) == (
        "NoSuchEntity", f"Policy {policy_arn}123 does not exist or is not attachable.", 404)
    attach(policy_arn)


def test_list_service_specific_credentials_of_unsupported_service(admin: AwsEnv) -> None:
    iam: Any = admin.client("iam")
    user = _name("user")
    iam.create_user(UserName=user)
    assert aws_error(lambda: iam.list_service_specific_credentials(
        UserName=user, ServiceName="nonexistentservice.amazonaws.com")) == (
        "NoSuchEntity",
        "No such service nonexistentservice.amazonaws.com is supported for Service Specific Credentials", 404)
    assert iam.list_service_specific_credentials(
        UserName=user, ServiceName="cassandra.amazonaws.com")["ServiceSpecificCredentials"] == []


@pytest.mark.parametrize("service", [
    "ecs.amazonaws.com", "rds.amazonaws.com", "batch.amazonaws.com", "ops.apigateway.amazonaws.com",
    "eks.amazonaws.com", "replication.ecr.amazonaws.com",
])
def test_service_linked_role_custom_suffix_not_allowed(admin: AwsEnv, service: str) -> None:
    iam: Any = admin.client("iam")
    assert aws_error(lambda: iam.create_service_linked_role(AWSServiceName=service, CustomSuffix="testsuffix")) == (
        "InvalidInput", f"Custom suffix is not allowed for {service}", 400)


def test_service_linked_role_custom_suffix_where_allowed(admin: AwsEnv) -> None:
    iam: Any = admin.client("iam")
    suffix = uuid.uuid4().hex[:8]
    role = iam.create_service_linked_role(AWSServiceName="lexv2.amazonaws.com", CustomSuffix=suffix)["Role"]
    assert (role["RoleName"], role["Path"]) == (
        f"AWSServiceRoleForLexV2Bots_{suffix}", "/aws-service-role/lexv2.amazonaws.com/")
    iam.delete_service_linked_role(RoleName=role["RoleName"])


def test_service_linked_role_already_exists(admin: AwsEnv) -> None:
    iam: Any = admin.client("iam")
    role = iam.create_service_linked_role(AWSServiceName="batch.amazonaws.com")["Role"]
    try:
        assert role["RoleName"] == "AWSServiceRoleForBatch"
        assert aws_error(lambda: iam.create_service_linked_role(AWSServiceName="batch.amazonaws.com")) == (
            "InvalidInput",
            "Service role name AWSServiceRoleForBatch has been taken in this account, please try a different suffix.",
            400)
    finally:
        iam.delete_service_linked_role(RoleName=role["RoleName"])
