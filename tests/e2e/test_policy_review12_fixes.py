"""Policy-engine fixes from review 12, through S3 bucket policies: `${*}` in StringEquals,
Deny + NotPrincipal for principals with a permissions boundary, role sessions in
NotPrincipal, and federated users (GetFederationToken) granted through the IAM user
that made them."""

from __future__ import annotations

import json
import uuid
from typing import Any

from .conftest import AwsEnv, aws_error, new_bucket

ALLOW_S3 = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:*", "Resource": "*"}]}
ALLOW_SQS = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "sqs:*", "Resource": "*"}]}


def _uniq(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"




def _user(admin: AwsEnv, policy: dict[str, Any] | None = None, boundary: dict[str, Any] | None = None,
          name: str | None = None) -> tuple[dict[str, Any], str]:
    """A new user (access key, ARN), with an inline policy and a boundary if given."""
    iam: Any = admin.client("iam")
    name = name or _uniq("r12")
    arn = iam.create_user(UserName=name)["User"]["Arn"]
    if policy is not None:
        iam.put_user_policy(UserName=name, PolicyName="inline", PolicyDocument=json.dumps(policy))
    if boundary is not None:
        pol = iam.create_policy(PolicyName=_uniq("r12-b"), PolicyDocument=json.dumps(boundary))["Policy"]["Arn"]
        iam.put_user_permissions_boundary(UserName=name, PermissionsBoundary=pol)
    return iam.create_access_key(UserName=name)["AccessKey"], arn


def _bucket_with(admin: AwsEnv, prefix: str, statements: list[dict[str, Any]]) -> tuple[str, Any]:
    s3: Any = admin.client("s3", region_name="us-east-1")
    bucket = new_bucket(s3, prefix)
    s3.put_object(Bucket=bucket, Key="k", Body=b"x")
    policy = {"Version": "2012-10-17", "Statement": statements}
    s3.put_bucket_policy(Bucket=bucket, Policy=json.dumps(policy).replace("BUCKET", bucket))
    return bucket, s3


def _account(admin: AwsEnv) -> str:
    sts: Any = admin.client("sts", region_name="us-east-1")
    return str(sts.get_caller_identity()["Account"])


# --- `${*}` / `${?}` in StringEquals ----------------------------------------------------


def test_special_variables_in_string_equals_are_literal(admin: AwsEnv) -> None:
    s3: Any = admin.client("s3", region_name="us-east-1")
    bucket = new_bucket(s3, "r12-vars")
    arn = f"arn:aws:s3:::{bucket}"
    deny_key, _ = _user(admin, {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": "s3:ListBucket", "Resource": arn},
        {"Effect": "Deny", "Action": "s3:ListBucket", "Resource": arn,
         "Condition": {"StringEquals": {"s3:prefix": "secret${*}"}}}]})
    denied = admin.client_for(deny_key, "s3")
    code, message, status = aws_error(lambda: denied.list_objects_v2(Bucket=bucket, Prefix="secret*"))
    assert (code, status) == ("AccessDenied", 403)
    assert message.endswith("with an explicit deny in an identity-based policy")
    denied.list_objects_v2(Bucket=bucket, Prefix="secrets")  # `${*}` is no wildcard

    allow_key, _ = _user(admin, {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": "s3:ListBucket", "Resource": arn,
         "Condition": {"StringEquals": {"s3:prefix": "what${?}"}}}]})
    allowed = admin.client_for(allow_key, "s3")
    assert allowed.list_objects_v2(Bucket=bucket, Prefix="what?")["KeyCount"] == 0
    assert aws_error(lambda: allowed.list_objects_v2(Bucket=bucket, Prefix="whatX"))[0] == "AccessDenied"


# --- Deny + NotPrincipal and permissions boundaries --------------------------------------


def _deny_all_but(principals: list[str]) -> list[dict[str, Any]]:
    return [{"Effect": "Deny", "NotPrincipal": {"AWS": principals}, "Action": "s3:*",
             "Resource": ["arn:aws:s3:::BUCKET", "arn:aws:s3:::BUCKET/*"]}]


def test_deny_not_principal_denies_a_listed_user_with_a_boundary(admin: AwsEnv) -> None:
    root = f"arn:aws:iam::{_account(admin)}:root"
    plain_key, plain_arn = _user(admin, ALLOW_S3)
    bucket, _ = _bucket_with(admin, "r12-np", _deny_all_but([plain_arn, root]))
    assert admin.client_for(plain_key, "s3").get_object(Bucket=bucket, Key="k")["Body"].read() == b"x"

    bounded_key, bounded_arn = _user(admin, ALLOW_S3, boundary=ALLOW_S3)
    bucket, _ = _bucket_with(admin, "r12-npb", _deny_all_but([bounded_arn, root]))
    code, message, status = aws_error(lambda: admin.client_for(bounded_key, "s3").get_object(Bucket=bucket, Key="k"))
    assert (code, status) == ("AccessDenied", 403)
    assert message == (f'User: {bounded_arn} is not authorized to perform: s3:GetObject on resource: '
                       f'"arn:aws:s3:::{bucket}/k" with an explicit deny in a resource-based policy')


# --- NotPrincipal and role sessions ------------------------------------------------------


def test_not_principal_exempts_a_role_session_only_with_its_role_listed(admin: AwsEnv) -> None:
    account = _account(admin)
    iam: Any = admin.client("iam")
    trust = {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{account}:root"}, "Action": "sts:AssumeRole"}]}
    role = _uniq("r12-role")
    role_arn = iam.create_role(RoleName=role, AssumeRolePolicyDocument=json.dumps(trust))["Role"]["Arn"]
    iam.put_role_policy(RoleName=role, PolicyName="s3", PolicyDocument=json.dumps(ALLOW_S3))
    sts: Any = admin.client("sts", region_name="us-east-1")
    assumed = sts.assume_role(RoleArn=role_arn, RoleSessionName="audit")
    session_arn = assumed["AssumedRoleUser"]["Arn"]
    s3 = admin.client_for(assumed["Credentials"], "s3")
    root = f"arn:aws:iam::{account}:root"

    listed, _ = _bucket_with(admin, "r12-nps", _deny_all_but([session_arn, role_arn, root]))
    assert s3.get_object(Bucket=listed, Key="k")["Body"].read() == b"x"
    no_role, _ = _bucket_with(admin, "r12-npr", _deny_all_but([session_arn, root]))
    assert aws_error(lambda: s3.get_object(Bucket=no_role, Key="k"))[::2] == ("AccessDenied", 403)


# --- federated users and the IAM user that made them -------------------------------------


def _federate(admin: AwsEnv, key: dict[str, Any], session_policy: dict[str, Any]) -> tuple[Any, str]:
    sts = admin.client_for(key, "sts")
    out = sts.get_federation_token(Name=_uniq("fed")[:32], Policy=json.dumps(session_policy))
    return admin.client_for(out["Credentials"], "s3"), out["FederatedUser"]["Arn"]


def _get_allowed_for(principal: str) -> list[dict[str, Any]]:
    return [{"Effect": "Allow", "Principal": {"AWS": principal}, "Action": "s3:GetObject",
             "Resource": "arn:aws:s3:::BUCKET/*"}]


ISSUE = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "sts:GetFederationToken",
                                                 "Resource": "*"}]}


def test_bucket_policy_naming_the_issuing_user_grants_its_federated_user(admin: AwsEnv) -> None:
    # The issuing user has no S3 permission of its own: only the bucket policy grants.
    key, user_arn = _user(admin, ISSUE)
    bucket, _ = _bucket_with(admin, "r12-fed", _get_allowed_for(user_arn))
    fed, fed_arn = _federate(admin, key, ALLOW_S3)
    assert fed.get_object(Bucket=bucket, Key="k")["Body"].read() == b"x"

    # The session policy limits what the user's grant passes on.
    limited, limited_arn = _federate(admin, key, ALLOW_SQS)
    code, message, status = aws_error(lambda: limited.get_object(Bucket=bucket, Key="k"))
    assert (code, status) == ("AccessDenied", 403)
    assert message.startswith(f"User: {limited_arn} is not authorized to perform: s3:GetObject")


def test_bucket_policy_naming_the_federated_user_grants_despite_the_session_policy(admin: AwsEnv) -> None:
    key, _ = _user(admin, ISSUE)
    fed, fed_arn = _federate(admin, key, ALLOW_SQS)
    bucket, _ = _bucket_with(admin, "r12-fedd", _get_allowed_for(fed_arn))
    assert fed.get_object(Bucket=bucket, Key="k")["Body"].read() == b"x"


def test_recreated_issuing_user_does_not_regain_the_grant(admin: AwsEnv) -> None:
    name = _uniq("r12-rc")
    key, user_arn = _user(admin, ISSUE, name=name)
    bucket, _ = _bucket_with(admin, "r12-fedr", _get_allowed_for(user_arn))
    fed, _ = _federate(admin, key, ALLOW_S3)
    assert fed.get_object(Bucket=bucket, Key="k")["Body"].read() == b"x"

    iam: Any = admin.client("iam")
    iam.delete_access_key(UserName=name, AccessKeyId=key["AccessKeyId"])
    iam.delete_user_policy(UserName=name, PolicyName="inline")
    iam.delete_user(UserName=name)
    key2, arn2 = _user(admin, ISSUE, name=name)
    assert arn2 == user_arn
    fed2, _ = _federate(admin, key2, ALLOW_S3)
    assert aws_error(lambda: fed2.get_object(Bucket=bucket, Key="k"))[::2] == ("AccessDenied", 403)
