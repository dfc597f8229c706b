from __future__ import annotations

from datetime import datetime

from skyhold.services.iam import records

from .conftest import ACCOUNT, POLICY, fails, user_principal


def test_create_get_user_with_path_and_tags(iam):
    out = iam("CreateUser", UserName="alice", Path="/eng/", Tags=[{"Key": "team", "Value": "blue"}])["User"]
    assert out["Arn"] == f"arn:aws:iam::{ACCOUNT}:user/eng/alice"
    assert out["UserId"].startswith("AIDA")
    assert isinstance(out["CreateDate"], datetime)
    got = iam("GetUser", UserName="ALICE")["User"]  # names are case-insensitive
    assert got["UserId"] == out["UserId"] and got["Tags"] == [{"Key": "team", "Value": "blue"}]


def test_duplicate_and_missing_user(iam):
    iam("CreateUser", UserName="bob")
    fails(iam, "CreateUser", "EntityAlreadyExists", "User with name BOB already exists.", 409, UserName="BOB")
    fails(iam, "GetUser", "NoSuchEntity", "The user with name nobody cannot be found.", 404, UserName="nobody")


def test_user_name_and_path_validation(iam):
    fails(iam, "CreateUser", "ValidationError",
          "The specified value for userName is invalid. It must contain only alphanumeric characters "
          "and/or the following: +=,.@_-", UserName="bad name")
    fails(iam, "CreateUser", "ValidationError",
          "1 validation error detected: Value at 'userName' failed to satisfy constraint: "
          "Member must have length less than or equal to 64", UserName="a" * 65)
    fails(iam, "CreateUser", "ValidationError",
          "The specified value for path is invalid. It must begin and end with / and contain only "
          "alphanumeric characters and/or / characters.", UserName="ok", Path="nope")


def test_get_user_defaults_to_caller(iam, store):
    iam("CreateUser", UserName="carol")
    me = user_principal(store, "carol")
    assert iam("GetUser", as_=me)["User"]["UserName"] == "carol"
    root = iam("GetUser")["User"]
    assert root["Arn"] == f"arn:aws:iam::{ACCOUNT}:root" and root["UserId"] == ACCOUNT


def test_list_users_paginates_with_marker(iam):
    for i in range(7):
        iam("CreateUser", UserName=f"user{i}", Path="/p/" if i % 2 else "/")
    seen, marker = [], None
    while True:
        page = iam("ListUsers", MaxItems=3, **({"Marker": marker} if marker else {}))
        seen += [u["UserName"] for u in page["Users"]]
        assert len(page["Users"]) <= 3
        if not page["IsTruncated"]:
            assert "Marker" not in page
            break
        marker = page["Marker"]
    assert seen == [f"user{i}" for i in range(7)]
    odd = iam("ListUsers", PathPrefix="/p/")["Users"]
    assert [u["UserName"] for u in odd] == ["user1", "user3", "user5"]
    assert "Tags" not in odd[0]  # list operations return a subset of attributes


def test_update_user_renames_and_moves_keys(iam, store):
    iam("CreateUser", UserName="dave")
    key = iam("CreateAccessKey", UserName="dave")["AccessKey"]["AccessKeyId"]
    iam("UpdateUser", UserName="dave", NewUserName="david", NewPath="/ops/")
    fails(iam, "GetUser", "NoSuchEntity", UserName="dave")
    user = iam("GetUser", UserName="david")["User"]
    assert user["Arn"] == f"arn:aws:iam::{ACCOUNT}:user/ops/david"
    assert store.get(records.ACCESS_KEY, key).value["UserName"] == "david"
    iam("CreateUser", UserName="erin")
    fails(iam, "UpdateUser", "EntityAlreadyExists", "User with name erin already exists.",
          UserName="david", NewUserName="erin")


def test_delete_user_conflicts_in_order(iam):
    iam("CreateUser", UserName="frank")
    iam("CreateGroup", GroupName="g")
    iam("AddUserToGroup", GroupName="g", UserName="frank")
    iam("PutUserPolicy", UserName="frank", PolicyName="p", PolicyDocument=POLICY)
    iam("AttachUserPolicy", UserName="frank", PolicyArn="arn:aws:iam::aws:policy/ReadOnlyAccess")
    iam("CreateAccessKey", UserName="frank")
    iam("CreateLoginProfile", UserName="frank", Password="Sup3r-secret!")
    steps = [
        ("Cannot delete entity, must delete policies first.", "DeleteUserPolicy", {"PolicyName": "p"}),
        ("Cannot delete entity, must detach all policies first.", "DetachUserPolicy",
         {"PolicyArn": "arn:aws:iam::aws:policy/ReadOnlyAccess"}),
        ("Cannot delete entity, must delete login profile first.", "DeleteLoginProfile", {}),
        ("Cannot delete entity, must delete access keys first.", None, {}),
        ("Cannot delete entity, must remove users from group first.", "RemoveUserFromGroup",
         {"GroupName": "g"}),
    ]
    for message, fix, extra in steps:
        fails(iam, "DeleteUser", "DeleteConflict", message, 409, UserName="frank")
        if fix:
            iam(fix, UserName="frank", **extra)
        else:
            for k in iam("ListAccessKeys", UserName="frank")["AccessKeyMetadata"]:
                iam("DeleteAccessKey", UserName="frank", AccessKeyId=k["AccessKeyId"])
    iam("DeleteUser", UserName="frank")
    fails(iam, "GetUser", "NoSuchEntity", UserName="frank")


def test_user_tags(iam):
    iam("CreateUser", UserName="gina")
    iam("TagUser", UserName="gina", Tags=[{"Key": "env", "Value": "prod"}, {"Key": "b", "Value": ""}])
    iam("TagUser", UserName="gina", Tags=[{"Key": "ENV", "Value": "dev"}])  # same key, new casing wins
    assert iam("ListUserTags", UserName="gina")["Tags"] == [{"Key": "ENV", "Value": "dev"}, {"Key": "b", "Value": ""}]
    iam("UntagUser", UserName="gina", TagKeys=["env", "missing"])
    assert iam("ListUserTags", UserName="gina")["Tags"] == [{"Key": "b", "Value": ""}]
    fails(iam, "TagUser", "InvalidInput",
          "Duplicate tag keys found. Please note that Tag keys are case insensitive.",
          UserName="gina", Tags=[{"Key": "x", "Value": "1"}, {"Key": "X", "Value": "2"}])
    fails(iam, "TagUser", "LimitExceeded", "The number of tags has reached the maximum limit.",
          UserName="gina", Tags=[{"Key": f"k{i}", "Value": "v"} for i in range(50)])


def test_groups_membership(iam):
    iam("CreateUser", UserName="hank")
    group = iam("CreateGroup", GroupName="admins", Path="/x/")["Group"]
    assert group["GroupId"].startswith("AGPA") and group["Arn"].endswith(":group/x/admins")
    fails(iam, "CreateGroup", "EntityAlreadyExists", "Group with name admins already exists.", GroupName="admins")
    iam("AddUserToGroup", GroupName="admins", UserName="hank")
    iam("AddUserToGroup", GroupName="admins", UserName="hank")  # idempotent
    got = iam("GetGroup", GroupName="admins")
    assert [u["UserName"] for u in got["Users"]] == ["hank"]
    assert [g["GroupName"] for g in iam("ListGroupsForUser", UserName="hank")["Groups"]] == ["admins"]
    fails(iam, "DeleteGroup", "DeleteConflict", "Cannot delete entity, must remove users from group first.",
          GroupName="admins")
    iam("UpdateGroup", GroupName="admins", NewGroupName="root-admins")
    assert [g["GroupName"] for g in iam("ListGroupsForUser", UserName="hank")["Groups"]] == ["root-admins"]
    iam("RemoveUserFromGroup", GroupName="root-admins", UserName="hank")
    assert iam("GetGroup", GroupName="root-admins")["Users"] == []
    iam("DeleteGroup", GroupName="root-admins")
    fails(iam, "GetGroup", "NoSuchEntity", "The group with name root-admins cannot be found.",
          GroupName="root-admins")


def test_groups_per_user_quota(iam):
    iam("CreateUser", UserName="ivy")
    for i in range(10):
        iam("CreateGroup", GroupName=f"g{i}")
        iam("AddUserToGroup", GroupName=f"g{i}", UserName="ivy")
    iam("CreateGroup", GroupName="g10")
    fails(iam, "AddUserToGroup", "LimitExceeded", "Cannot exceed quota for GroupsPerUser: 10",
          GroupName="g10", UserName="ivy")
