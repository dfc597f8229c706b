"""IAM authorization holes a security review reproduced:

- a new entity is checked on the ARN its Path gives it, and UpdateUser/UpdateGroup on
  the current and the new ARN ("to change Bob to Robert, the entity making the request
  must have permission on Bob and Robert", UpdateUser in the IAM API reference);
- iam:PassRole sees the role's tags (aws:ResourceTag, iam:ResourceTag) and
  iam:AssociatedResourceArn, for EC2 launches/associations and AddRoleToInstanceProfile;
- an IAM user's tags are its aws:PrincipalTag values, for its keys and its sessions;
- CreateServiceLinkedRole is checked on the role it creates, with iam:AWSServiceName;
and the simulator and `skyhold policy evaluate` decide as the live server does."""

from __future__ import annotations

import json
import subprocess
import sys
import uuid
from typing import Any

import pytest

from .conftest import AwsEnv, aws_error

# Each test's instances count against the shared account's quota till the module is done.
pytestmark = pytest.mark.usefixtures("instances_terminated")

UBUNTU = "ami-0e2c8caa4b6378d8c"
EC2_TRUST = {"Version": "2012-10-17", "Statement": [
    {"Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"}, "Action": "sts:AssumeRole"}]}


def _policy(*statements: dict[str, Any]) -> dict[str, Any]:
    return {"Version": "2012-10-17", "Statement": list(statements)}


def _uniq(prefix: str) -> str:
    return f"{prefix}{uuid.uuid4().hex[:8]}"


@pytest.fixture
def iam(admin: AwsEnv) -> Any:
    return admin.client("iam")


def _user(admin: AwsEnv, *statements: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    """(user name, access key) of a new user with these statements."""
    key = admin.new_user(_policy(*statements))
    return key["UserName"], key


def _denied_on(call: Any) -> str:
    """The message of IAM's AccessDenied for `call` (403)."""
    code, message, status = aws_error(call)
    assert (code, status) == ("AccessDenied", 403), message
    return message


# ---- 1. the ARN of a new, renamed or moved entity --------------------------------------

def test_create_is_checked_on_the_arn_its_path_gives(admin: AwsEnv, iam: Any, account: str) -> None:
    kinds = ("user", "role", "group", "instance-profile")
    _, key = _user(admin,
                   {"Effect": "Allow", "Action": ["iam:CreateUser", "iam:CreateRole", "iam:CreateGroup",
                                                  "iam:CreateInstanceProfile"], "Resource": "*"},
                   {"Effect": "Deny", "Action": "iam:*",
                    "Resource": [f"arn:aws:iam::{account}:{kind}/admins/*" for kind in kinds]})
    c = admin.client_for(key, "iam")
    names = {kind: _uniq("x") for kind in kinds}
    creates = {
        "user": lambda path: c.create_user(UserName=names["user"], Path=path),
        "role": lambda path: c.create_role(RoleName=names["role"], Path=path,
                                           AssumeRolePolicyDocument=json.dumps(EC2_TRUST)),
        "group": lambda path: c.create_group(GroupName=names["group"], Path=path),
        "instance-profile": lambda path: c.create_instance_profile(InstanceProfileName=names["instance-profile"],
                                                                   Path=path),
    }
    for kind, create in creates.items():
        message = _denied_on(lambda: create("/admins/"))
        assert f"on resource: arn:aws:iam::{account}:{kind}/admins/{names[kind]} with an explicit deny" in message
    assert aws_error(lambda: iam.get_user(UserName=names["user"]))[0] == "NoSuchEntity"  # nothing created
    # Elsewhere the same user may create (the Deny is about the path only).
    created = creates["group"]("/teams/")
    assert created["Group"]["Arn"] == f"arn:aws:iam::{account}:group/teams/{names['group']}"


def test_an_allow_on_a_path_lets_create_under_that_path(admin: AwsEnv, account: str) -> None:
    _, key = _user(admin, {"Effect": "Allow", "Action": "iam:CreateRole",
                           "Resource": f"arn:aws:iam::{account}:role/app/*"})
    c = admin.client_for(key, "iam")
    name = _uniq("r")
    role = c.create_role(RoleName=name, Path="/app/", AssumeRolePolicyDocument=json.dumps(EC2_TRUST))["Role"]
    assert role["Arn"] == f"arn:aws:iam::{account}:role/app/{name}"
    other = _uniq("r")
    message = _denied_on(lambda: c.create_role(RoleName=other, AssumeRolePolicyDocument=json.dumps(EC2_TRUST)))
    assert f"on resource: arn:aws:iam::{account}:role/{other} because no identity-based policy" in message


def test_rename_needs_permission_on_the_old_and_the_new_name(admin: AwsEnv, iam: Any, account: str) -> None:
    bob, grp = _uniq("bob"), _uniq("g")
    iam.create_user(UserName=bob)
    iam.create_group(GroupName=grp)
    source_only = [f"arn:aws:iam::{account}:user/{bob}", f"arn:aws:iam::{account}:group/{grp}"]
    _, key = _user(admin, {"Effect": "Allow", "Action": ["iam:UpdateUser", "iam:UpdateGroup"],
                           "Resource": source_only})
    c = admin.client_for(key, "iam")
    message = _denied_on(lambda: c.update_user(UserName=bob, NewUserName=bob + "-robert"))
    assert f"on resource: arn:aws:iam::{account}:user/{bob}-robert because no" in message
    message = _denied_on(lambda: c.update_group(GroupName=grp, NewGroupName=grp + "-new"))
    assert f"on resource: arn:aws:iam::{account}:group/{grp}-new because no" in message
    assert iam.get_user(UserName=bob)["User"]["UserName"] == bob  # nothing renamed

    # With permission on both names the rename goes through.
    _, key = _user(admin, {"Effect": "Allow", "Action": ["iam:UpdateUser", "iam:UpdateGroup"],
                           "Resource": source_only + [f"arn:aws:iam::{account}:user/{bob}-robert",
                                                      f"arn:aws:iam::{account}:group/{grp}-new"]})
    c = admin.client_for(key, "iam")
    c.update_user(UserName=bob, NewUserName=bob + "-robert")
    c.update_group(GroupName=grp, NewGroupName=grp + "-new")
    assert iam.get_user(UserName=bob + "-robert")["User"]["Arn"] == f"arn:aws:iam::{account}:user/{bob}-robert"
    assert iam.get_group(GroupName=grp + "-new")["Group"]["GroupName"] == grp + "-new"


def test_new_path_is_checked_on_the_moved_arn(admin: AwsEnv, iam: Any, account: str) -> None:
    name = _uniq("u")
    iam.create_user(UserName=name)
    _, key = _user(admin, {"Effect": "Allow", "Action": "iam:UpdateUser", "Resource": "*"},
                   {"Effect": "Deny", "Action": "iam:*", "Resource": f"arn:aws:iam::{account}:user/admins/*"})
    c = admin.client_for(key, "iam")
    message = _denied_on(lambda: c.update_user(UserName=name, NewPath="/admins/"))
    assert f"on resource: arn:aws:iam::{account}:user/admins/{name} with an explicit deny" in message
    assert iam.get_user(UserName=name)["User"]["Arn"] == f"arn:aws:iam::{account}:user/{name}"
    c.update_user(UserName=name, NewPath="/staff/")  # elsewhere: allowed
    assert iam.get_user(UserName=name)["User"]["Arn"] == f"arn:aws:iam::{account}:user/staff/{name}"


# ---- 2-3. iam:PassRole's context -------------------------------------------------------

def _role_with_profile(iam: Any, tags: dict[str, str]) -> tuple[str, str]:
    """(role name, instance profile name) of a new EC2 role in a new profile."""
    role, profile = _uniq("r"), _uniq("p")
    iam.create_role(RoleName=role, AssumeRolePolicyDocument=json.dumps(EC2_TRUST),
                    Tags=[{"Key": k, "Value": v} for k, v in tags.items()])
    iam.create_instance_profile(InstanceProfileName=profile)
    iam.add_role_to_instance_profile(InstanceProfileName=profile, RoleName=role)
    return role, profile


LAUNCH = {"Effect": "Allow", "Action": ["ec2:RunInstances", "ec2:Describe*"], "Resource": "*"}


def test_run_instances_pass_role_sees_role_tags_and_associated_resource(
        admin: AwsEnv, iam: Any, account: str, launched: list[str]) -> None:
    _, dev_profile = _role_with_profile(iam, {"team": "dev"})
    allowing = {
        "iam:ResourceTag": {"StringEquals": {"iam:ResourceTag/team": "dev"}},
        "aws:ResourceTag": {"StringEquals": {"aws:ResourceTag/team": "dev"}},
        "AssociatedResourceArn": {"StringEquals": {"iam:PassedToService": "ec2.amazonaws.com"},
                                  "ArnLike": {"iam:AssociatedResourceARN": f"arn:aws:ec2:us-east-1:{account}:instance/*"}},
    }
    for label, condition in allowing.items():
        _, key = _user(admin, LAUNCH, {"Effect": "Allow", "Action": "iam:PassRole", "Resource": "*",
                                       "Condition": condition})
        c = admin.client_for(key, "ec2")
        instance = c.run_instances(ImageId=UBUNTU, MinCount=1, MaxCount=1, InstanceType="t3.micro",
                                   IamInstanceProfile={"Name": dev_profile})["Instances"][0]
        launched.append(instance["InstanceId"])
        assert instance["IamInstanceProfile"]["Arn"].endswith(f"/{dev_profile}"), label
    # A guardrail on the role's tag refuses the launch.
    role, _ = _role_with_profile(iam, {"team": "prod"})
    prod_profile = iam.list_instance_profiles_for_role(RoleName=role)["InstanceProfiles"][0]["InstanceProfileName"]
    _, key = _user(admin, LAUNCH, {"Effect": "Allow", "Action": "iam:PassRole", "Resource": "*"},
                   {"Effect": "Deny", "Action": "iam:PassRole", "Resource": "*",
                    "Condition": {"StringEquals": {"iam:ResourceTag/team": "prod"}}})
    c = admin.client_for(key, "ec2")
    code, message, status = aws_error(lambda: c.run_instances(
        ImageId=UBUNTU, MinCount=1, MaxCount=1, InstanceType="t3.micro", IamInstanceProfile={"Name": prod_profile}))
    assert (code, status) == ("UnauthorizedOperation", 403), message
    assert f"iam:PassRole on resource: arn:aws:iam::{account}:role/{role} with an explicit deny" in message


def test_associate_profile_passes_the_instance_arn(admin: AwsEnv, iam: Any, ec2: Any, account: str,
                                                   launched: list[str]) -> None:
    _, profile = _role_with_profile(iam, {})
    ids = [i["InstanceId"] for i in ec2.run_instances(ImageId=UBUNTU, MinCount=2, MaxCount=2,
                                                      InstanceType="t3.micro")["Instances"]]
    launched.extend(ids)
    target, other = ids
    _, key = _user(admin, {"Effect": "Allow", "Action": "ec2:AssociateIamInstanceProfile", "Resource": "*"},
                   {"Effect": "Allow", "Action": "iam:PassRole", "Resource": "*", "Condition": {
                       "StringEquals": {"iam:PassedToService": "ec2.amazonaws.com"},
                       "ArnEquals": {"iam:AssociatedResourceArn": f"arn:aws:ec2:us-east-1:{account}:instance/{target}"}}})
    c = admin.client_for(key, "ec2")
    code, message, _ = aws_error(lambda: c.associate_iam_instance_profile(
        InstanceId=other, IamInstanceProfile={"Name": profile}))
    assert code == "UnauthorizedOperation" and "iam:PassRole" in message, message
    done = c.associate_iam_instance_profile(InstanceId=target, IamInstanceProfile={"Name": profile})
    assert done["IamInstanceProfileAssociation"]["InstanceId"] == target


def test_add_role_to_instance_profile_pass_role_context(admin: AwsEnv, iam: Any, account: str) -> None:
    role = _uniq("r")
    iam.create_role(RoleName=role, AssumeRolePolicyDocument=json.dumps(EC2_TRUST),
                    Tags=[{"Key": "team", "Value": "prod"}])
    profile = _uniq("p")
    iam.create_instance_profile(InstanceProfileName=profile)
    _, key = _user(admin, {"Effect": "Allow", "Action": ["iam:AddRoleToInstanceProfile", "iam:PassRole"],
                           "Resource": "*"},
                   {"Effect": "Deny", "Action": "iam:PassRole", "Resource": "*",
                    "Condition": {"StringEquals": {"iam:ResourceTag/team": "prod"}}})
    message = _denied_on(lambda: admin.client_for(key, "iam").add_role_to_instance_profile(
        InstanceProfileName=profile, RoleName=role))
    assert f"iam:PassRole on resource: arn:aws:iam::{account}:role/{role} with an explicit deny" in message
    # The API reference's value for AssociatedResourceArn, and the service the role goes to.
    _, key = _user(admin, {"Effect": "Allow", "Action": "iam:AddRoleToInstanceProfile", "Resource": "*"},
                   {"Effect": "Allow", "Action": "iam:PassRole", "Resource": "*", "Condition": {
                       "StringEquals": {"iam:PassedToService": "ec2.amazonaws.com"},
                       "ArnLike": {"iam:AssociatedResourceArn": f"arn:aws:ec2:*:{account}:instance/*"}}})
    admin.client_for(key, "iam").add_role_to_instance_profile(InstanceProfileName=profile, RoleName=role)
    assert iam.get_instance_profile(InstanceProfileName=profile)["InstanceProfile"]["Roles"][0]["RoleName"] == role


# ---- 4. an IAM user's tags are aws:PrincipalTag ------------------------------------------

CONTRACTOR_GUARD = {"Effect": "Deny", "Action": ["iam:ListUsers", "s3:ListAllMyBuckets"], "Resource": "*",
                    "Condition": {"StringEquals": {"aws:PrincipalTag/dept": "contractor"}}}


def _session_client(admin: AwsEnv, creds: dict[str, Any], service: str) -> Any:
    import boto3
    return boto3.client(service, aws_access_key_id=creds["AccessKeyId"], aws_secret_access_key=creds["SecretAccessKey"],
                        aws_session_token=creds["SessionToken"], endpoint_url=admin.endpoint, region_name="us-east-1")


def test_user_tags_are_principal_tags(admin: AwsEnv, iam: Any) -> None:
    name, key = _user(admin, {"Effect": "Allow", "Action": ["iam:ListUsers", "s3:ListAllMyBuckets",
                                                            "sts:GetSessionToken"], "Resource": "*"},
                      CONTRACTOR_GUARD)
    c = admin.client_for(key, "iam")
    c.list_users(MaxItems=1)  # untagged: allowed
    iam.tag_user(UserName=name, Tags=[{"Key": "dept", "Value": "contractor"}])
    assert "iam:ListUsers" in _denied_on(lambda: c.list_users(MaxItems=1))  # the very next request
    code, _, status = aws_error(lambda: admin.client_for(key, "s3").list_buckets())
    assert (code, status) == ("AccessDenied", 403)
    # GetSessionToken credentials are the same user: its tags apply too (S3 here, as
    # such credentials cannot call IAM without MFA).
    creds = admin.client_for(key, "sts").get_session_token()["Credentials"]
    code, message, status = aws_error(lambda: _session_client(admin, creds, "s3").list_buckets())
    assert (code, status) == ("AccessDenied", 403), message
    iam.untag_user(UserName=name, TagKeys=["dept"])
    c.list_users(MaxItems=1)
    assert "Buckets" in _session_client(admin, creds, "s3").list_buckets()


def test_principal_tag_variable_in_resource(admin: AwsEnv, iam: Any, account: str) -> None:
    team = _uniq("t")
    name, key = _user(admin, {"Effect": "Allow", "Action": "iam:GetUser",
                              "Resource": f"arn:aws:iam::{account}:user/${{aws:PrincipalTag/team}}-*"})
    iam.tag_user(UserName=name, Tags=[{"Key": "team", "Value": team}])
    mate, stranger = f"{team}-mate", _uniq("other-")
    iam.create_user(UserName=mate)
    iam.create_user(UserName=stranger)
    c = admin.client_for(key, "iam")
    assert c.get_user(UserName=mate)["User"]["UserName"] == mate
    _denied_on(lambda: c.get_user(UserName=stranger))


def test_federation_token_session_tags_override_user_tags(admin: AwsEnv, iam: Any) -> None:
    # Federated users cannot call IAM: S3 is the service asked.
    everything = {"Effect": "Allow", "Action": ["s3:ListAllMyBuckets", "sts:GetFederationToken", "sts:TagSession"],
                  "Resource": "*"}
    name, key = _user(admin, everything, CONTRACTOR_GUARD)
    iam.tag_user(UserName=name, Tags=[{"Key": "dept", "Value": "contractor"}])
    sts = admin.client_for(key, "sts")
    session_policy = json.dumps(_policy({"Effect": "Allow", "Action": "s3:ListAllMyBuckets", "Resource": "*"}))
    plain = sts.get_federation_token(Name=_uniq("f"), Policy=session_policy)["Credentials"]
    code, message, status = aws_error(lambda: _session_client(admin, plain, "s3").list_buckets())
    assert (code, status) == ("AccessDenied", 403), message
    retagged = sts.get_federation_token(Name=_uniq("f"), Policy=session_policy,
                                        Tags=[{"Key": "Dept", "Value": "staff"}])["Credentials"]
    assert "Buckets" in _session_client(admin, retagged, "s3").list_buckets()


# ---- 5. CreateServiceLinkedRole on the role's ARN ---------------------------------------

def test_create_service_linked_role_is_checked_on_its_arn(admin: AwsEnv, iam: Any, account: str) -> None:
    # The IAM User Guide's example policy shape: the role's path and name prefix, and the service.
    _, key = _user(admin, {"Effect": "Allow", "Action": "iam:CreateServiceLinkedRole",
                           "Resource": "arn:aws:iam::*:role/aws-service-role/autoscaling.amazonaws.com/"
                                       "AWSServiceRoleForAutoScaling*",
                           "Condition": {"StringLike": {"iam:AWSServiceName": "autoscaling.amazonaws.com"}}})
    c = admin.client_for(key, "iam")
    suffix = _uniq("s")
    role = c.create_service_linked_role(AWSServiceName="autoscaling.amazonaws.com", CustomSuffix=suffix)["Role"]
    expected = f"arn:aws:iam::{account}:role/aws-service-role/autoscaling.amazonaws.com/AWSServiceRoleForAutoScaling_{suffix}"
    assert role["Arn"] == expected
    message = _denied_on(lambda: c.create_service_linked_role(AWSServiceName="ecs.amazonaws.com"))
    assert (f"on resource: arn:aws:iam::{account}:role/aws-service-role/ecs.amazonaws.com/AWSServiceRoleForECS "
            "because no identity-based policy") in message
    _, key = _user(admin, {"Effect": "Allow", "Action": "iam:CreateServiceLinkedRole", "Resource": "*"},
                   {"Effect": "Deny", "Action": "iam:CreateServiceLinkedRole",
                    "Resource": "arn:aws:iam::*:role/aws-service-role/ecs.amazonaws.com/*"})
    message = _denied_on(lambda: admin.client_for(key, "iam").create_service_linked_role(
        AWSServiceName="ecs.amazonaws.com"))
    assert "with an explicit deny" in message


# ---- the simulator and the engine agree with the live server ------------------------------

def _engine(case: dict[str, Any]) -> str:
    out = subprocess.run([sys.executable, "-m", "skyhold.cli", "policy", "evaluate", "-"], input=json.dumps(case),
                         capture_output=True, text=True, check=True, timeout=60)
    return str(json.loads(out.stdout)["decision"])


def test_simulator_and_engine_agree_with_live_on_tags_and_paths(admin: AwsEnv, iam: Any, account: str) -> None:
    policy = _policy({"Effect": "Allow", "Action": ["iam:ListUsers", "iam:CreateUser"], "Resource": "*"},
                     CONTRACTOR_GUARD,
                     {"Effect": "Deny", "Action": "iam:CreateUser", "Resource": f"arn:aws:iam::{account}:user/admins/*"})
    key = admin.new_user(policy)
    name = key["UserName"]
    iam.tag_user(UserName=name, Tags=[{"Key": "dept", "Value": "contractor"}])
    user_arn = iam.get_user(UserName=name)["User"]["Arn"]
    new = _uniq("x")
    c = admin.client_for(key, "iam")
    _denied_on(lambda: c.list_users(MaxItems=1))
    _denied_on(lambda: c.create_user(UserName=new, Path="/admins/"))
    sim = iam.simulate_principal_policy(PolicySourceArn=user_arn, ActionNames=["iam:ListUsers", "iam:CreateUser"],
                                        ResourceArns=[f"arn:aws:iam::{account}:user/admins/{new}"])
    assert [r["EvalDecision"] for r in sim["EvaluationResults"]] == ["explicitDeny", "explicitDeny"]
    base = {"principal": user_arn, "identity_policies": [policy]}
    assert _engine({**base, "action": "iam:ListUsers", "resource": f"arn:aws:iam::{account}:user/",
                    "context": {"aws:PrincipalTag/dept": "contractor"}}) == "ExplicitlyDenied"
    assert _engine({**base, "action": "iam:CreateUser",
                    "resource": f"arn:aws:iam::{account}:user/admins/{new}"}) == "ExplicitlyDenied"
