from __future__ import annotations

import json
from urllib.parse import unquote

from .conftest import ACCOUNT, POLICY, TRUST, fails


def test_role_lifecycle(iam):
    role = iam("CreateRole", RoleName="app", Path="/svc/", AssumeRolePolicyDocument=TRUST,
               Description="the app", MaxSessionDuration=7200, Tags=[{"Key": "a", "Value": "b"}])["Role"]
    assert role["RoleId"].startswith("AROA") and role["Arn"] == f"arn:aws:iam::{ACCOUNT}:role/svc/app"
    got = iam("GetRole", RoleName="app")["Role"]
    assert json.loads(unquote(got["AssumeRolePolicyDocument"])) == json.loads(TRUST)
    assert got["MaxSessionDuration"] == 7200 and got["Description"] == "the app"
    assert got["RoleLastUsed"] == {}
    fails(iam, "CreateRole", "EntityAlreadyExists", "Role with name APP already exists.",
          RoleName="APP", AssumeRolePolicyDocument=TRUST)
    iam("UpdateRole", RoleName="app", MaxSessionDuration=3600)
    assert iam("UpdateRoleDescription", RoleName="app", Description="new")["Role"]["Description"] == "new"
    new_trust = TRUST.replace("ec2", "lambda")
    iam("UpdateAssumeRolePolicy", RoleName="app", PolicyDocument=new_trust)
    got = iam("GetRole", RoleName="app")["Role"]
    assert "lambda" in unquote(got["AssumeRolePolicyDocument"]) and got["MaxSessionDuration"] == 3600
    listed = iam("ListRoles")["Roles"]
    assert [r["RoleName"] for r in listed] == ["app"] and "RoleLastUsed" not in listed[0]
    iam("DeleteRole", RoleName="app")
    fails(iam, "GetRole", "NoSuchEntity", "The role with name app cannot be found.", RoleName="app")


def test_trust_policy_rules(iam):
    fails(iam, "CreateRole", "MalformedPolicyDocument", "This policy contains invalid Json",
          RoleName="r", AssumeRolePolicyDocument="{not json")
    fails(iam, "CreateRole", "MalformedPolicyDocument", RoleName="r", AssumeRolePolicyDocument=POLICY)
    big = json.loads(TRUST)
    big["Statement"][0]["Sid"] = "x" * 2100
    fails(iam, "CreateRole", "LimitExceeded", "Cannot exceed quota for ACLSizePerRole: 2048",
          RoleName="r", AssumeRolePolicyDocument=json.dumps(big))
    fails(iam, "CreateRole", "ValidationError",
          "1 validation error detected: Value at 'maxSessionDuration' failed to satisfy constraint: "
          "Member must have value greater than or equal to 3600",
          RoleName="r", AssumeRolePolicyDocument=TRUST, MaxSessionDuration=60)


def test_role_boundary(iam):
    arn = "arn:aws:iam::aws:policy/PowerUserAccess"
    iam("CreateRole", RoleName="b", AssumeRolePolicyDocument=TRUST, PermissionsBoundary=arn)
    assert iam("GetRole", RoleName="b")["Role"]["PermissionsBoundary"] == {
        "PermissionsBoundaryType": "Policy", "PermissionsBoundaryArn": arn}
    iam("DeleteRolePermissionsBoundary", RoleName="b")
    assert "PermissionsBoundary" not in iam("GetRole", RoleName="b")["Role"]
    missing = f"arn:aws:iam::{ACCOUNT}:policy/nope"
    fails(iam, "PutRolePermissionsBoundary", "NoSuchEntity",
          f"Scope ARN: {missing} does not exist or is not attachable.", RoleName="b", PermissionsBoundary=missing)


def test_instance_profiles(iam):
    iam("CreateRole", RoleName="web", AssumeRolePolicyDocument=TRUST)
    iam("CreateRole", RoleName="other", AssumeRolePolicyDocument=TRUST)
    ip = iam("CreateInstanceProfile", InstanceProfileName="web-ip")["InstanceProfile"]
    assert ip["InstanceProfileId"].startswith("AIPA") and ip["Roles"] == []
    fails(iam, "CreateInstanceProfile", "EntityAlreadyExists", "Instance Profile web-ip already exists.",
          InstanceProfileName="web-ip")
    iam("AddRoleToInstanceProfile", InstanceProfileName="web-ip", RoleName="web")
    fails(iam, "AddRoleToInstanceProfile", "LimitExceeded",
          "Cannot exceed quota for InstanceSessionsPerInstanceProfile: 1",
          InstanceProfileName="web-ip", RoleName="other")
    got = iam("GetInstanceProfile", InstanceProfileName="web-ip")["InstanceProfile"]
    assert [r["RoleName"] for r in got["Roles"]] == ["web"]
    for_role = iam("ListInstanceProfilesForRole", RoleName="web")["InstanceProfiles"]
    assert [p["InstanceProfileName"] for p in for_role] == ["web-ip"]
    fails(iam, "DeleteRole", "DeleteConflict",
          "Cannot delete entity, must remove roles from instance profile first.", RoleName="web")
    fails(iam, "DeleteInstanceProfile", "DeleteConflict",
          "Cannot delete entity, must remove roles from instance profile first.", InstanceProfileName="web-ip")
    iam("RemoveRoleFromInstanceProfile", InstanceProfileName="web-ip", RoleName="web")
    iam("DeleteInstanceProfile", InstanceProfileName="web-ip")
    iam("DeleteRole", RoleName="web")
    fails(iam, "GetInstanceProfile", "NoSuchEntity", "Instance Profile web-ip cannot be found.",
          InstanceProfileName="web-ip")


def test_oidc_providers(iam):
    out = iam("CreateOpenIDConnectProvider", Url="https://token.example.com/path", ClientIDList=["a"],
              ThumbprintList=["9e99a48a9960b14926bb7f3b02e22da2b0ab7280"], Tags=[{"Key": "k", "Value": "v"}])
    arn = out["OpenIDConnectProviderArn"]
    assert arn == f"arn:aws:iam::{ACCOUNT}:oidc-provider/token.example.com/path"
    fails(iam, "CreateOpenIDConnectProvider", "EntityAlreadyExists",
          Url="https://token.example.com/path", ThumbprintList=["9e99a48a9960b14926bb7f3b02e22da2b0ab7280"])
    iam("AddClientIDToOpenIDConnectProvider", OpenIDConnectProviderArn=arn, ClientID="b")
    iam("RemoveClientIDFromOpenIDConnectProvider", OpenIDConnectProviderArn=arn, ClientID="a")
    iam("UpdateOpenIDConnectProviderThumbprint", OpenIDConnectProviderArn=arn, ThumbprintList=["f" * 40])
    got = iam("GetOpenIDConnectProvider", OpenIDConnectProviderArn=arn)
    assert got["Url"] == "token.example.com/path" and got["ClientIDList"] == ["b"]
    assert got["ThumbprintList"] == ["f" * 40] and got["Tags"] == [{"Key": "k", "Value": "v"}]
    assert iam("ListOpenIDConnectProviders")["OpenIDConnectProviderList"] == [{"Arn": arn}]
    iam("DeleteOpenIDConnectProvider", OpenIDConnectProviderArn=arn)
    fails(iam, "GetOpenIDConnectProvider", "NoSuchEntity", OpenIDConnectProviderArn=arn)


def test_role_last_used(iam, store):
    from skyhold.services.iam import record_role_use

    iam("CreateRole", RoleName="used", AssumeRolePolicyDocument=TRUST)
    record_role_use(store, ACCOUNT, "used", "eu-central-1")
    last = iam("GetRole", RoleName="used")["Role"]["RoleLastUsed"]
    assert last["Region"] == "eu-central-1" and last["LastUsedDate"] is not None


def test_service_linked_roles(iam, store):
    from skyhold.services.iam import AUTHZ

    from .conftest import ROOT, FakeCall

    role = iam("CreateServiceLinkedRole", AWSServiceName="autoscaling.amazonaws.com")["Role"]
    assert role["RoleName"] == "AWSServiceRoleForAutoScaling"
    assert role["Path"] == "/aws-service-role/autoscaling.amazonaws.com/"
    fails(iam, "CreateServiceLinkedRole", "InvalidInput",
          "Service role name AWSServiceRoleForAutoScaling has been taken in this account, please try a "
          "different suffix.", AWSServiceName="autoscaling.amazonaws.com")
    [access] = AUTHZ["CreateServiceLinkedRole"](FakeCall(store, ROOT, "CreateServiceLinkedRole"),
                                                 {"AWSServiceName": "autoscaling.amazonaws.com"})
    assert access.context == {"iam:AWSServiceName": "autoscaling.amazonaws.com"}
    task = iam("DeleteServiceLinkedRole", RoleName="AWSServiceRoleForAutoScaling")["DeletionTaskId"]
    assert iam("GetServiceLinkedRoleDeletionStatus", DeletionTaskId=task)["Status"] == "SUCCEEDED"
    fails(iam, "GetRole", "NoSuchEntity", RoleName="AWSServiceRoleForAutoScaling")
    iam("CreateRole", RoleName="plain", AssumeRolePolicyDocument=TRUST)
    fails(iam, "DeleteServiceLinkedRole", "InvalidInput", RoleName="plain")
