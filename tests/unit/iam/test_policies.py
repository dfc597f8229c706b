from __future__ import annotations

import json
from urllib.parse import unquote

from .conftest import ACCOUNT, POLICY, TRUST, fails


def _doc(n: int) -> str:
    return json.dumps({"Version": "2012-10-17",
                       "Statement": [{"Effect": "Allow", "Action": f"s3:Get{n}", "Resource": "*"}]})


def test_managed_policy_versions(iam):
    p = iam("CreatePolicy", PolicyName="reader", Path="/team/", PolicyDocument=_doc(1), Description="d")["Policy"]
    arn = p["Arn"]
    assert arn == f"arn:aws:iam::{ACCOUNT}:policy/team/reader" and p["PolicyId"].startswith("ANPA")
    assert p["DefaultVersionId"] == "v1"
    fails(iam, "CreatePolicy", "EntityAlreadyExists",
          "A policy called reader already exists. Duplicate names are not allowed.",
          PolicyName="reader", PolicyDocument=_doc(1))
    for n in range(2, 6):
        v = iam("CreatePolicyVersion", PolicyArn=arn, PolicyDocument=_doc(n), SetAsDefault=(n == 3))["PolicyVersion"]
        assert v["VersionId"] == f"v{n}"
    fails(iam, "CreatePolicyVersion", "LimitExceeded",
          "A managed policy can have up to 5 versions. Before you create a new version, you must delete an "
          "existing version.", PolicyArn=arn, PolicyDocument=_doc(6))
    assert iam("GetPolicy", PolicyArn=arn)["Policy"]["DefaultVersionId"] == "v3"
    fails(iam, "DeletePolicyVersion", "DeleteConflict", "Cannot delete the default version of a policy.",
          PolicyArn=arn, VersionId="v3")
    iam("DeletePolicyVersion", PolicyArn=arn, VersionId="v1")
    got = iam("GetPolicyVersion", PolicyArn=arn, VersionId="v2")["PolicyVersion"]
    assert json.loads(unquote(got["Document"])) == json.loads(_doc(2)) and got["IsDefaultVersion"] is False
    assert [v["VersionId"] for v in iam("ListPolicyVersions", PolicyArn=arn)["Versions"]] == ["v5", "v4", "v3", "v2"]
    assert iam("CreatePolicyVersion", PolicyArn=arn, PolicyDocument=_doc(7))["PolicyVersion"]["VersionId"] == "v6"
    iam("SetDefaultPolicyVersion", PolicyArn=arn, VersionId="v6")
    fails(iam, "DeletePolicy", "DeleteConflict", PolicyArn=arn)  # non-default versions remain
    for v in ("v2", "v3", "v4", "v5"):
        iam("DeletePolicyVersion", PolicyArn=arn, VersionId=v)
    iam("DeletePolicy", PolicyArn=arn)
    fails(iam, "GetPolicy", "NoSuchEntity", f"Policy {arn} was not found.", PolicyArn=arn)


def test_managed_policy_size_quota(iam):
    big = json.dumps({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": [f"s3:GetObject{i}" for i in range(400)], "Resource": "*"}]})
    fails(iam, "CreatePolicy", "LimitExceeded", "Cannot exceed quota for PolicySize: 6144",
          PolicyName="big", PolicyDocument=big)
    padded = json.dumps(json.loads(POLICY), indent=40) + " " * 7000  # whitespace does not count
    assert len(padded) > 6144
    iam("CreatePolicy", PolicyName="spaced", PolicyDocument=padded)


def test_attach_detach_and_entities(iam):
    iam("CreateUser", UserName="u")
    iam("CreateGroup", GroupName="g")
    iam("CreateRole", RoleName="r", AssumeRolePolicyDocument=TRUST)
    arn = iam("CreatePolicy", PolicyName="p", PolicyDocument=POLICY)["Policy"]["Arn"]
    iam("AttachUserPolicy", UserName="u", PolicyArn=arn)
    iam("AttachGroupPolicy", GroupName="g", PolicyArn=arn)
    iam("AttachRolePolicy", RoleName="r", PolicyArn=arn)
    assert iam("GetPolicy", PolicyArn=arn)["Policy"]["AttachmentCount"] == 3
    ents = iam("ListEntitiesForPolicy", PolicyArn=arn)
    assert [u["UserName"] for u in ents["PolicyUsers"]] == ["u"]
    assert [g["GroupName"] for g in ents["PolicyGroups"]] == ["g"]
    assert [r["RoleName"] for r in ents["PolicyRoles"]] == ["r"]
    assert iam("ListEntitiesForPolicy", PolicyArn=arn, EntityFilter="Role")["PolicyUsers"] == []
    fails(iam, "DeletePolicy", "DeleteConflict", "Cannot delete a policy attached to entities.", PolicyArn=arn)
    assert iam("ListAttachedRolePolicies", RoleName="r")["AttachedPolicies"] == [{"PolicyName": "p", "PolicyArn": arn}]
    only = iam("ListPolicies", Scope="Local", OnlyAttached=True)["Policies"]
    assert [p["PolicyName"] for p in only] == ["p"]
    iam("DetachRolePolicy", RoleName="r", PolicyArn=arn)
    fails(iam, "DetachRolePolicy", "NoSuchEntity", f"Policy {arn} was not found.", RoleName="r", PolicyArn=arn)
    missing = f"arn:aws:iam::{ACCOUNT}:policy/missing"
    fails(iam, "AttachUserPolicy", "NoSuchEntity", f"Policy {missing} does not exist or is not attachable.",
          UserName="u", PolicyArn=missing)


def test_attached_policy_quota(iam):
    iam("CreateRole", RoleName="r", AssumeRolePolicyDocument=TRUST)
    for i in range(10):
        arn = iam("CreatePolicy", PolicyName=f"p{i}", PolicyDocument=POLICY)["Policy"]["Arn"]
        iam("AttachRolePolicy", RoleName="r", PolicyArn=arn)
    fails(iam, "AttachRolePolicy", "LimitExceeded", "Cannot exceed quota for PoliciesPerRole: 10",
          RoleName="r", PolicyArn="arn:aws:iam::aws:policy/AdministratorAccess")


def test_inline_policies_and_size_limits(iam):
    iam("CreateUser", UserName="u")
    iam("PutUserPolicy", UserName="u", PolicyName="p1", PolicyDocument=POLICY)
    got = iam("GetUserPolicy", UserName="u", PolicyName="p1")
    assert got["UserName"] == "u" and json.loads(unquote(got["PolicyDocument"])) == json.loads(POLICY)
    assert iam("ListUserPolicies", UserName="u")["PolicyNames"] == ["p1"]
    fails(iam, "GetUserPolicy", "NoSuchEntity", "The user policy with name nope cannot be found.",
          UserName="u", PolicyName="nope")
    fails(iam, "PutUserPolicy", "MalformedPolicyDocument", "Policy document should not specify a principal.",
          UserName="u", PolicyName="p2", PolicyDocument=TRUST)
    fails(iam, "PutUserPolicy", "NoSuchEntity", "The user with name ghost cannot be found.",
          UserName="ghost", PolicyName="p", PolicyDocument="{bad")
    # Aggregate non-whitespace size: user 2048, group 5120, role 10240.
    filler = json.dumps({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::" + "b" * 1900}]})
    fails(iam, "PutUserPolicy", "LimitExceeded", "Maximum policy size of 2048 bytes exceeded for user u",
          UserName="u", PolicyName="p2", PolicyDocument=filler)
    iam("CreateGroup", GroupName="g")
    iam("PutGroupPolicy", GroupName="g", PolicyName="p2", PolicyDocument=filler)
    iam("CreateRole", RoleName="r", AssumeRolePolicyDocument=TRUST)
    for i in range(4):
        iam("PutRolePolicy", RoleName="r", PolicyName=f"p{i}", PolicyDocument=filler)
    larger = filler.replace("b" * 1900, "c" * 3000)  # 4 × ~1960 + ~3060 > 10240
    fails(iam, "PutRolePolicy", "LimitExceeded", "Maximum policy size of 10240 bytes exceeded for role r",
          RoleName="r", PolicyName="p9", PolicyDocument=larger)
    iam("DeleteUserPolicy", UserName="u", PolicyName="p1")
    assert iam("ListUserPolicies", UserName="u")["PolicyNames"] == []


def test_aws_managed_policies_are_listed_and_read_only(iam):
    names = {p["PolicyName"] for p in iam("ListPolicies", Scope="AWS", MaxItems=1000)["Policies"]}
    assert {"AdministratorAccess", "ReadOnlyAccess", "AWSDenyAll", "ViewOnlyAccess"} <= names
    view = iam("GetPolicy", PolicyArn="arn:aws:iam::aws:policy/job-function/ViewOnlyAccess")["Policy"]
    assert view["Path"] == "/job-function/"
    deny_all = "arn:aws:iam::aws:policy/AWSDenyAll"
    default = iam("GetPolicy", PolicyArn=deny_all)["Policy"]["DefaultVersionId"]
    v = iam("GetPolicyVersion", PolicyArn=deny_all, VersionId=default)
    assert json.loads(unquote(v["PolicyVersion"]["Document"]))["Statement"][0]["Effect"] == "Deny"
    fails(iam, "DeletePolicy", "AccessDenied", PolicyArn=deny_all)


def test_list_entities_for_policy_pages_through_every_kind(iam):
    arn = "arn:aws:iam::aws:policy/ReadOnlyAccess"
    for i in range(2):
        iam("CreateUser", UserName=f"u{i}")
        iam("AttachUserPolicy", UserName=f"u{i}", PolicyArn=arn)
        iam("CreateGroup", GroupName=f"g{i}")
        iam("AttachGroupPolicy", GroupName=f"g{i}", PolicyArn=arn)
        iam("CreateRole", RoleName=f"r{i}", AssumeRolePolicyDocument=TRUST)
        iam("AttachRolePolicy", RoleName=f"r{i}", PolicyArn=arn)
    seen, marker = [], None
    while True:
        page = iam("ListEntitiesForPolicy", PolicyArn=arn, MaxItems=4, **({"Marker": marker} if marker else {}))
        seen += [u["UserName"] for u in page["PolicyUsers"]] + [g["GroupName"] for g in page["PolicyGroups"]]
        seen += [r["RoleName"] for r in page["PolicyRoles"]]
        if not page["IsTruncated"]:
            break
        marker = page["Marker"]
    assert sorted(seen) == ["g0", "g1", "r0", "r1", "u0", "u1"]
