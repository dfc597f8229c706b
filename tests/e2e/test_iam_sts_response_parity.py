"""IAM and STS successful answers shaped as real AWS shapes them (LocalStack's
AWS-validated snapshots of tests/aws/services/iam/test_iam.py and
tests/aws/services/sts/test_sts.py): which members are present, absent, and how
they are written."""

from __future__ import annotations

import json
import re
import uuid
from typing import Any

from .conftest import AwsEnv

TRUST = {"Version": "2012-10-17", "Statement": [
    {"Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"}, "Action": "sts:AssumeRole"}]}
BOUNDARY = json.dumps({"Version": "2012-10-17", "Statement": [
    {"Effect": "Allow", "Action": ["lambda:ListFunctions"], "Resource": ["*"]}]})


def _name(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def test_role_members_per_operation(admin: AwsEnv) -> None:
    """CreateRole leaves out MaxSessionDuration and RoleLastUsed; GetRole has both
    (and Tags); ListRoles has MaxSessionDuration but no RoleLastUsed, Tags or
    PermissionsBoundary."""
    iam: Any = admin.client("iam")
    path, name = f"/{uuid.uuid4().hex[:8]}/", _name("role")
    created = iam.create_role(RoleName=name, Path=path, AssumeRolePolicyDocument=json.dumps(TRUST),
                              Tags=[{"Key": "test", "Value": "value"}])["Role"]
    assert set(created) == {"Arn", "AssumeRolePolicyDocument", "CreateDate", "Path", "RoleId", "RoleName", "Tags"}
    assert created["Tags"] == [{"Key": "test", "Value": "value"}]
    assert re.fullmatch(r"AROA[A-Z0-9]{17}", created["RoleId"])

    got = iam.get_role(RoleName=name)["Role"]
    assert set(got) == set(created) | {"MaxSessionDuration", "RoleLastUsed"}
    assert got["MaxSessionDuration"] == 3600 and got["RoleLastUsed"] == {}

    policy_arn = iam.create_policy(PolicyName=_name("policy"), PolicyDocument=BOUNDARY)["Policy"]["Arn"]
    iam.put_role_permissions_boundary(RoleName=name, PermissionsBoundary=policy_arn)
    listed = iam.list_roles(PathPrefix=path)
    assert listed["IsTruncated"] is False
    assert [set(r) for r in listed["Roles"]] == [
        {"Arn", "AssumeRolePolicyDocument", "CreateDate", "MaxSessionDuration", "Path", "RoleId", "RoleName"}]


def test_service_linked_role_trust_policy_and_deletion(admin: AwsEnv) -> None:
    """AWS writes a service-linked role's trust policy with scalar Service and Action."""
    iam: Any = admin.client("iam")
    service = "autoscaling.amazonaws.com"
    suffix = uuid.uuid4().hex[:8]
    name = iam.create_service_linked_role(AWSServiceName=service, CustomSuffix=suffix)["Role"]["RoleName"]
    assert name == f"AWSServiceRoleForAutoScaling_{suffix}"
    role = iam.get_role(RoleName=name)["Role"]
    assert role["Path"] == f"/aws-service-role/{service}/"
    assert role["Arn"].endswith(f":role/aws-service-role/{service}/{name}")
    assert role["AssumeRolePolicyDocument"] == {"Version": "2012-10-17", "Statement": [
        {"Action": "sts:AssumeRole", "Effect": "Allow", "Principal": {"Service": service}}]}
    assert role["MaxSessionDuration"] == 3600 and role["RoleLastUsed"] == {}
    assert iam.list_role_policies(RoleName=name)["PolicyNames"] == []

    task = iam.delete_service_linked_role(RoleName=name)["DeletionTaskId"]
    assert re.fullmatch(rf"task/aws-service-role/{re.escape(service)}/{name}/[0-9a-f-]{{36}}", task)
    assert iam.get_service_linked_role_deletion_status(DeletionTaskId=task)["Status"] == "SUCCEEDED"


def test_simulate_principal_policy_resource_results_list_missing_context_values(admin: AwsEnv) -> None:
    """Each ResourceSpecificResults entry carries MissingContextValues, even when empty."""
    iam: Any = admin.client("iam")
    policy_arn = iam.create_policy(PolicyName=_name("policy"), PolicyDocument=json.dumps({
        "Version": "2012-10-17",
        "Statement": {"Sid": "", "Effect": "Allow", "Action": "s3:PutObject", "Resource": "*"}}))["Policy"]["Arn"]
    user = _name("user")
    arn = iam.create_user(UserName=user)["User"]["Arn"]
    iam.attach_user_policy(UserName=user, PolicyArn=policy_arn)
    bucket_arn = f"arn:aws:s3:::{_name('bucket')}"
    out = iam.simulate_principal_policy(PolicySourceArn=arn, ActionNames=["s3:PutObject", "s3:GetObjectVersion"],
                                        ResourceArns=[bucket_arn])
    assert out["IsTruncated"] is False
    put, get = out["EvaluationResults"]
    assert (put["EvalDecision"], get["EvalDecision"]) == ("allowed", "implicitDeny")
    assert put["MatchedStatements"][0]["StartPosition"] == {"Line": 1, "Column": 41}
    assert put["MatchedStatements"][0]["EndPosition"] == {"Line": 1, "Column": 113}
    for result in (put, get):
        assert result["EvalDecisionDetails"] == {} and result["MissingContextValues"] == []
        [specific] = result["ResourceSpecificResults"]
        assert set(specific) == {"EvalResourceDecision", "EvalResourceName", "MatchedStatements",
                                 "MissingContextValues"}
        assert specific["MissingContextValues"] == []
        assert specific["MatchedStatements"] == result["MatchedStatements"]


def test_get_federation_token_reports_packed_policy_size_zero(admin: AwsEnv) -> None:
    """GetFederationToken always has PackedPolicySize (0 with no session policy);
    AssumeRole without a session policy or tags leaves it out."""
    key = admin.new_user({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": ["sts:GetFederationToken", "sts:AssumeRole"], "Resource": "*"}]})
    sts: Any = admin.client_for(key, "sts")
    account = sts.get_caller_identity()["Account"]
    name = f"TestName{uuid.uuid4().hex[:6]}"
    out = sts.get_federation_token(Name=name, DurationSeconds=900)
    assert out["PackedPolicySize"] == 0
    assert out["FederatedUser"] == {"FederatedUserId": f"{account}:{name}",
                                    "Arn": f"arn:aws:sts::{account}:federated-user/{name}"}
    assert set(out["Credentials"]) == {"AccessKeyId", "Expiration", "SecretAccessKey", "SessionToken"}

    iam: Any = admin.client("iam")
    role = iam.create_role(RoleName=_name("role"), AssumeRolePolicyDocument=json.dumps({
        "Version": "2012-10-17",
        "Statement": [{"Action": "sts:AssumeRole", "Principal": {"AWS": account}, "Effect": "Allow"}]}))["Role"]
    assumed = sts.assume_role(RoleArn=role["Arn"], RoleSessionName="session-1")
    assert set(assumed) - {"ResponseMetadata"} == {"AssumedRoleUser", "Credentials"}
    assert assumed["AssumedRoleUser"] == {"AssumedRoleId": f"{role['RoleId']}:session-1",
                                          "Arn": f"arn:aws:sts::{account}:assumed-role/{role['RoleName']}/session-1"}
