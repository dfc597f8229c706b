"""Binding the users and roles a policy names to their unique ids (principals.bind),
and the two faces of a bound policy: what the engine decides with, what Get shows."""

from __future__ import annotations

import json
from typing import Any

from skyhold.services.iam import principals

from .conftest import ACCOUNT, Run

USER = f"arn:aws:iam::{ACCOUNT}:user/team/alice"
ROOT = f"arn:aws:iam::{ACCOUNT}:root"


def policy(*entries: str, condition: dict[str, Any] | None = None, layout: int | None = 1) -> str:
    statement: dict[str, Any] = {"Effect": "Allow", "Principal": {"AWS": list(entries)}, "Action": "s3:GetObject",
                                 "Resource": "*"}
    if condition:
        statement["Condition"] = condition
    return json.dumps({"Version": "2012-10-17", "Statement": [statement]}, indent=layout)


def named(text: str) -> list[str]:
    return json.loads(text)["Statement"][0]["Principal"]["AWS"]


def test_bind_names_users_and_roles_by_id(iam: Run, store: Any) -> None:
    user_id = iam("CreateUser", UserName="alice", Path="/team/")["User"]["UserId"]
    text = policy(USER, ROOT, ACCOUNT, "*")
    binding = principals.bind(store, text)
    assert binding["Ids"] == {USER: user_id}
    evaluated = principals.evaluated(store, text, binding)
    assert named(evaluated) == [user_id, ROOT, ACCOUNT, "*"]
    # only the principal changed
    assert json.loads(evaluated) == json.loads(text.replace(json.dumps(USER), json.dumps(user_id)))
    assert principals.displayed(store, text, binding) == text  # the user still exists


def test_display_keeps_the_layout_only_where_the_text_means_the_same(iam: Run, store: Any) -> None:
    user_id = iam("CreateUser", UserName="alice", Path="/team/")["User"]["UserId"]
    plain = policy(USER, layout=4)
    binding = principals.bind(store, plain)
    iam("DeleteUser", UserName="alice")
    assert principals.displayed(store, plain, binding) == plain.replace(json.dumps(USER), json.dumps(user_id))
    # The principal escaped ("\/"), the same ARN plain in a condition: a text replace
    # would bind the condition and miss the principal; the document is written anew.
    tricky = policy(USER, condition={"StringEquals": {"aws:PrincipalArn": USER}}).replace(
        json.dumps(USER), json.dumps(USER).replace("/", "\\/"), 1)
    assert named(tricky) == [USER]
    iam("CreateUser", UserName="alice", Path="/team/")
    binding = principals.bind(store, tricky)
    evaluated = json.loads(principals.evaluated(store, tricky, binding))
    iam("DeleteUser", UserName="alice")
    shown = json.loads(principals.displayed(store, tricky, binding))
    for doc in (evaluated, shown):
        assert doc["Statement"][0]["Principal"]["AWS"] == [binding["Ids"][USER]]
        assert doc["Statement"][0]["Condition"] == {"StringEquals": {"aws:PrincipalArn": USER}}


def test_nothing_to_bind_keeps_the_text(store: Any) -> None:
    text = policy(ROOT, ACCOUNT)
    binding = principals.bind(store, text)
    assert binding == {"Ids": {}}
    assert principals.evaluated(store, text, binding) == text


def test_a_deleted_or_recreated_principal_shows_as_its_id(iam: Run, store: Any) -> None:
    user_id = iam("CreateUser", UserName="alice", Path="/team/")["User"]["UserId"]
    text = policy(USER, ROOT)
    binding = principals.bind(store, text)
    iam("DeleteUser", UserName="alice")
    assert named(principals.displayed(store, text, binding)) == [user_id, ROOT]
    new_id = iam("CreateUser", UserName="alice", Path="/team/")["User"]["UserId"]
    assert new_id != user_id
    assert named(principals.displayed(store, text, binding)) == [user_id, ROOT]  # not the new alice
    assert named(principals.evaluated(store, text, binding)) == [user_id, ROOT]


def test_the_arn_in_a_condition_is_left_alone(iam: Run, store: Any) -> None:
    trust = json.dumps({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Principal": {"AWS": ROOT}, "Action": "sts:AssumeRole"}]})
    role_id = iam("CreateRole", RoleName="app", AssumeRolePolicyDocument=trust)["Role"]["RoleId"]
    role = f"arn:aws:iam::{ACCOUNT}:role/app"
    text = policy(role, condition={"ArnEquals": {"aws:PrincipalArn": role}})
    evaluated = json.loads(principals.evaluated(store, text, principals.bind(store, text)))
    assert evaluated["Statement"][0]["Principal"] == {"AWS": [role_id]}
    assert evaluated["Statement"][0]["Condition"] == {"ArnEquals": {"aws:PrincipalArn": role}}


def test_a_policy_stored_before_bindings_is_bound_when_read(iam: Run, store: Any) -> None:
    user_id = iam("CreateUser", UserName="alice", Path="/team/")["User"]["UserId"]
    text = policy(USER)
    assert named(principals.evaluated(store, text, None)) == [user_id]
    assert principals.displayed(store, text, None) == text


def test_policies_stored_before_bindings_are_bound_once(iam: Run, store: Any) -> None:
    from skyhold.services.iam import records, roles

    user_id = iam("CreateUser", UserName="alice", Path="/team/")["User"]["UserId"]
    trust = json.dumps({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Principal": {"AWS": USER}, "Action": "sts:AssumeRole"}]})
    iam("CreateRole", RoleName="legacy", AssumeRolePolicyDocument=trust)
    key = records.name_key(ACCOUNT, "legacy")
    old = store.get(records.ROLE, key).value
    store.put(records.ROLE, key, {k: v for k, v in old.items() if k != roles.TRUST_BINDING})  # as stored before
    assert principals.bind_unbound(store) == 1
    assert principals.bind_unbound(store) == 0  # once
    iam("DeleteUser", UserName="alice")
    iam("CreateUser", UserName="alice", Path="/team/")
    evaluated = json.loads(roles.evaluated_trust(store, store.get(records.ROLE, key).value))
    assert evaluated["Statement"][0]["Principal"] == {"AWS": user_id}  # the first alice's


def test_role_trust_is_stored_bound(iam: Run, store: Any) -> None:
    from skyhold.services.iam import records, roles

    user_id = iam("CreateUser", UserName="alice", Path="/team/")["User"]["UserId"]
    trust = json.dumps({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Principal": {"AWS": USER}, "Action": "sts:AssumeRole"}]})
    iam("CreateRole", RoleName="trusting", AssumeRolePolicyDocument=trust)
    record = store.get(records.ROLE, records.name_key(ACCOUNT, "trusting"))
    evaluated = json.loads(roles.evaluated_trust(store, record.value))
    assert evaluated["Statement"][0]["Principal"] == {"AWS": user_id}
