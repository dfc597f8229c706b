"""STS errors as real AWS answers them (LocalStack's AWS-validated snapshots of
tests/aws/services/sts/test_sts.py): code, message and status."""

from __future__ import annotations

import json
import uuid
from typing import Any

import boto3
import pytest
from botocore.config import Config

from .conftest import AwsEnv, aws_error


@pytest.mark.parametrize("role_arn", [
    "nothing-valid-in-here",
    "arn::b:::something/test-role",  # no partition
    "arn:a::::something/test-role",  # no service
    "arn:a:::something/test-role",  # five fields
    "arn:a:a::aaaaaaaaaa:",  # no resource
])
def test_assume_role_malformed_arn(admin: AwsEnv, role_arn: str) -> None:
    sts = admin.unchecked_client("sts")
    assert aws_error(lambda: sts.assume_role(RoleArn=role_arn, RoleSessionName="Session1")) == (
        "ValidationError", f"{role_arn} is invalid", 400)


def test_assume_role_session_name_checked_before_authorization(admin: AwsEnv) -> None:
    sts = admin.unchecked_client("sts")
    # A well-formed ARN of no role: the bad session name is reported, not AccessDenied.
    assert aws_error(lambda: sts.assume_role(RoleArn="arn:a:b:::something/test-role", RoleSessionName="Session1:2")) == (
        "ValidationError",
        "1 validation error detected: Value 'Session1:2' at 'roleSessionName' failed to satisfy constraint: "
        r"Member must satisfy regular expression pattern: [\w+=,.@-]*", 400)


def test_web_identity_session_name_and_arn_checked_before_the_token(admin: AwsEnv) -> None:
    """AssumeRoleWithWebIdentity refuses malformed input in the same order as AssumeRole,
    before it reads the token."""
    sts = admin.unchecked_client("sts")
    code, message, status = aws_error(lambda: sts.assume_role_with_web_identity(
        RoleArn="arn:a:b:::something/test-role", RoleSessionName="Session1:2", WebIdentityToken="not-a-jwt"))
    assert (code, status) == ("ValidationError", 400) and "'roleSessionName'" in message
    assert aws_error(lambda: sts.assume_role_with_web_identity(
        RoleArn="arn::b:::something/test-role", RoleSessionName="Session1", WebIdentityToken="not-a-jwt")) == (
        "ValidationError", "arn::b:::something/test-role is invalid", 400)


def _tagging_roles(admin: AwsEnv) -> tuple[str, str]:
    """Two roles the account may assume with session tags; the first may assume the second."""
    iam: Any = admin.client("iam")
    account = admin.client("sts").get_caller_identity()["Account"]  # type: ignore[attr-defined]
    trust = json.dumps({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": ["sts:AssumeRole", "sts:TagSession"], "Principal": {"AWS": account}}]})
    first, second = (iam.create_role(RoleName=f"role-{n}-{uuid.uuid4().hex[:8]}",
                                     AssumeRolePolicyDocument=trust)["Role"] for n in (1, 2))
    iam.put_role_policy(RoleName=first["RoleName"], PolicyName="chain", PolicyDocument=json.dumps({
        "Version": "2012-10-17", "Statement": [
            {"Effect": "Allow", "Action": ["sts:AssumeRole", "sts:TagSession"], "Resource": [second["Arn"]]}]}))
    return first["Arn"], second["Arn"]


def test_transitive_tag_keys_are_case_insensitive(admin: AwsEnv) -> None:
    sts: Any = admin.client("sts")
    first, _ = _tagging_roles(admin)
    tags = [{"Key": "SessionTag1", "Value": "SessionValue1"}]
    assert aws_error(lambda: sts.assume_role(RoleArn=first, RoleSessionName="SessionInvalidTransitiveKeys",
                                             Tags=tags, TransitiveTagKeys=["InvalidKey"])) == (
        "InvalidParameterValue", "The specified transitive tag key must be included in the requested tags.", 400)
    sts.assume_role(RoleArn=first, RoleSessionName="SessionCasing", Tags=tags, TransitiveTagKeys=["sessiontag1"])
    assert aws_error(lambda: sts.assume_role(
        RoleArn=first, RoleSessionName="SessionCasing", TransitiveTagKeys=["sessiontag1"],
        Tags=tags + [{"Key": "sessiontag1", "Value": "SessionValue2"}])) == (
        "InvalidParameterValue", "Duplicate tag keys found. Please note that Tag keys are case insensitive.", 400)


@pytest.mark.parametrize("transitive_key", ["SessionTag1", "sessiontag1"])
def test_chained_session_cannot_override_transitive_tag(admin: AwsEnv, transitive_key: str) -> None:
    first, second = _tagging_roles(admin)
    creds = admin.client("sts").assume_role(  # type: ignore[attr-defined]
        RoleArn=first, RoleSessionName="Session1", Tags=[{"Key": "SessionTag1", "Value": "SessionValue1"}],
        TransitiveTagKeys=[transitive_key])["Credentials"]
    chained = boto3.client("sts", endpoint_url=admin.endpoint, region_name="us-east-1",
                           aws_access_key_id=creds["AccessKeyId"], aws_secret_access_key=creds["SecretAccessKey"],
                           aws_session_token=creds["SessionToken"], config=Config(retries={"max_attempts": 1}))
    for key in ("SessionTag1", "sessiontag1"):
        assert aws_error(lambda: chained.assume_role(
            RoleArn=second, RoleSessionName="Session2SessionTagOverride",
            Tags=[{"Key": key, "Value": "SessionValue2"}])) == (
            "InvalidParameterValue", "One of the specified transitive tag keys can't be set because it conflicts "
            "with a transitive tag key from the calling session.", 400)
