"""Action, resource and principal matching, and policy variables — each rule as a pair."""

from __future__ import annotations

import pytest

from skyhold.policy import wildcard

from .conftest import ACCT, ALICE, OTHER, ROLE, SESSION, decide, doc, kind, stmt

# --- actions: case-insensitive, * and ? -------------------------------------------------


@pytest.mark.parametrize(
    "pattern,hit,miss",
    [
        ("s3:GetObject", "S3:getobject", "s3:GetObjectAcl"),
        ("s3:Get*", "s3:GetBucketPolicy", "s3:PutObject"),
        ("s3:*Object", "s3:DeleteObject", "s3:DeleteObjects"),
        ("s3:Get?bject", "s3:GetObject", "s3:GetOObject"),
        ("*", "kms:Decrypt", None),
    ],
)
def test_action_patterns(pattern: str, hit: str, miss: str | None) -> None:
    p = doc(stmt(action=pattern))
    assert kind(decide(action=hit, identity=[p])) == "Allowed"
    if miss:
        assert kind(decide(action=miss, identity=[p])) == "ImplicitlyDenied"


def test_not_action() -> None:
    p = doc(stmt(action=None, NotAction="iam:*"))
    del p["Statement"][0]["Action"]
    assert kind(decide(action="s3:GetObject", identity=[p])) == "Allowed"
    assert kind(decide(action="IAM:CreateUser", identity=[p])) == "ImplicitlyDenied"


# --- resources: case-sensitive, per-segment wildcards -----------------------------------


@pytest.mark.parametrize(
    "pattern,hit,miss",
    [
        ("arn:aws:s3:::b/k", "arn:aws:s3:::b/k", "arn:aws:s3:::b/K"),
        ("arn:aws:s3:::b/*", "arn:aws:s3:::b/a/b:c", "arn:aws:s3:::bb/a"),
        ("arn:aws:s3:::b/?", "arn:aws:s3:::b/x", "arn:aws:s3:::b/xy"),
        # a * ending a segment expands past colons (AWS: "can expand beyond the colon boundaries")
        (
            "arn:aws:dynamodb:*:*:table/T",
            "arn:aws:dynamodb:us-east-1:111122223333:table/T",
            "arn:aws:dynamodb:us-east-1:111122223333:table/U",
        ),
        ("arn:aws:*", "arn:aws:sqs:us-east-1:1:q", "arn:aws-cn:sqs:us-east-1:1:q"),
        # an inner * does not cross a colon
        (
            "arn:aws:ec2:us-*-1:*:instance/*",
            "arn:aws:ec2:us-east-1:1:instance/i-1",
            "arn:aws:ec2:us-east:x-1:1:instance/i-1",
        ),
    ],
)
def test_resource_patterns(pattern: str, hit: str, miss: str) -> None:
    p = doc(stmt(resource=pattern))
    assert kind(decide(resource=hit, identity=[p])) == "Allowed"
    assert kind(decide(resource=miss, identity=[p])) == "ImplicitlyDenied"


def test_arn_wildcard_compiles_to_cheap_matchers() -> None:
    assert wildcard.arn("arn:aws:s3:::b/k")("arn:aws:s3:::b/k")
    assert wildcard.glob("s3:get*", ignore_case=True)("s3:getobject")


def test_not_resource() -> None:
    p = doc({"Effect": "Allow", "Action": "s3:*", "NotResource": "arn:aws:s3:::secret/*"})
    assert kind(decide(resource="arn:aws:s3:::b/k", identity=[p])) == "Allowed"
    assert kind(decide(resource="arn:aws:s3:::secret/k", identity=[p])) == "ImplicitlyDenied"


# --- policy variables ---------------------------------------------------------------------


def test_username_variable_in_resource() -> None:
    p = doc(stmt(resource="arn:aws:s3:::b/home/${aws:username}/*"))
    assert kind(decide(resource="arn:aws:s3:::b/home/alice/x", identity=[p])) == "Allowed"
    assert kind(decide(resource="arn:aws:s3:::b/home/bob/x", identity=[p])) == "ImplicitlyDenied"


def test_unresolvable_variable_does_not_match_but_default_does() -> None:
    p = doc(stmt(resource="arn:aws:s3:::b/${aws:PrincipalTag/team}/*"))
    assert kind(decide(resource="arn:aws:s3:::b/blue/x", identity=[p])) == "ImplicitlyDenied"
    assert (
        kind(decide(resource="arn:aws:s3:::b/blue/x", context={"aws:PrincipalTag/team": "blue"}, identity=[p]))
        == "Allowed"
    )
    d = doc(stmt(resource="arn:aws:s3:::b/${aws:PrincipalTag/team, 'shared'}/*"))
    assert kind(decide(resource="arn:aws:s3:::b/shared/x", identity=[d])) == "Allowed"
    assert kind(decide(resource="arn:aws:s3:::b/blue/x", identity=[d])) == "ImplicitlyDenied"


def test_unresolvable_variable_makes_a_deny_not_apply() -> None:
    p = doc(stmt(action="*"), stmt("Deny", Condition={"StringNotEquals": {"s3:prefix": "${aws:PrincipalTag/team}"}}))
    assert kind(decide(context={"s3:prefix": "x"}, identity=[p])) == "Allowed"
    assert kind(decide(context={"s3:prefix": "x", "aws:PrincipalTag/team": "y"}, identity=[p])) == "ExplicitlyDenied"


def test_special_variables_are_literal_characters() -> None:
    p = doc(stmt(resource="arn:aws:s3:::b/${*}${?}${$}"))
    assert kind(decide(resource="arn:aws:s3:::b/*?$", identity=[p])) == "Allowed"
    assert kind(decide(resource="arn:aws:s3:::b/ab$", identity=[p])) == "ImplicitlyDenied"


def test_variable_values_are_literal_not_wildcards() -> None:
    p = doc(stmt(Condition={"StringLike": {"s3:prefix": "${aws:PrincipalTag/p}"}}))
    ctx = {"aws:PrincipalTag/p": "a*"}
    assert kind(decide(context={**ctx, "s3:prefix": "a*"}, identity=[p])) == "Allowed"
    assert kind(decide(context={**ctx, "s3:prefix": "abc"}, identity=[p])) == "ImplicitlyDenied"


def test_variables_in_condition_values_and_any_context_key() -> None:
    p = doc(stmt(Condition={"StringEquals": {"s3:prefix": "home/${aws:userid}", "aws:SourceVpc": "${aws:SourceVpc}"}}))
    ctx = {"aws:userid": "AIDAX", "aws:SourceVpc": "vpc-1"}
    assert kind(decide(context={**ctx, "s3:prefix": "home/AIDAX"}, identity=[p])) == "Allowed"
    assert kind(decide(context={**ctx, "s3:prefix": "home/AIDAY"}, identity=[p])) == "ImplicitlyDenied"


def test_version_2008_treats_variables_literally() -> None:
    p = doc(stmt(resource="arn:aws:s3:::b/${aws:username}"), version="2008-10-17")
    assert kind(decide(resource="arn:aws:s3:::b/${aws:username}", identity=[p])) == "Allowed"
    assert kind(decide(resource="arn:aws:s3:::b/alice", identity=[p])) == "ImplicitlyDenied"


def test_derived_principal_keys() -> None:
    p = doc(
        stmt(
            Condition={
                "StringEquals": {"aws:PrincipalType": "AssumedRole", "aws:PrincipalArn": ROLE.replace("/app", "")}
            }
        )
    )
    assert kind(decide(principal=SESSION, identity=[p])) == "Allowed"
    assert kind(decide(principal=ALICE, identity=[p])) == "ImplicitlyDenied"


# --- principals (resource-based policies) ----------------------------------------------


def bucket(principal: object, effect: str = "Allow") -> dict:
    return doc(stmt(effect, resource="arn:aws:s3:::b/*", Principal=principal))


@pytest.mark.parametrize(
    "principal,caller,expected",
    [
        ({"AWS": OTHER}, f"arn:aws:iam::{OTHER}:user/bob", True),
        ({"AWS": f"arn:aws:iam::{OTHER}:root"}, f"arn:aws:sts::{OTHER}:assumed-role/R/s", True),
        ({"AWS": OTHER}, f"arn:aws:iam::{ACCT}:user/bob", False),
        ({"AWS": f"arn:aws:iam::{OTHER}:user/bob"}, f"arn:aws:iam::{OTHER}:user/bob", True),
        ({"AWS": f"arn:aws:iam::{OTHER}:user/bob"}, f"arn:aws:iam::{OTHER}:user/bobby", False),
        ({"AWS": f"arn:aws:iam::{OTHER}:role/path/R"}, f"arn:aws:sts::{OTHER}:assumed-role/R/any", True),
        ({"AWS": f"arn:aws:iam::{OTHER}:role/R"}, f"arn:aws:sts::{OTHER}:assumed-role/Q/any", False),
        ({"AWS": f"arn:aws:sts::{OTHER}:assumed-role/R/s1"}, f"arn:aws:sts::{OTHER}:assumed-role/R/s1", True),
        ({"AWS": f"arn:aws:sts::{OTHER}:assumed-role/R/s1"}, f"arn:aws:sts::{OTHER}:assumed-role/R/s2", False),
        ({"Service": "cloudtrail.amazonaws.com"}, "cloudtrail.amazonaws.com", True),
        ({"Service": "cloudtrail.amazonaws.com"}, "config.amazonaws.com", False),
        ("*", "anonymous", True),
        ({"AWS": "*"}, "anonymous", True),
        ({"AWS": OTHER}, "anonymous", False),
    ],
)
def test_principal_matching(principal: object, caller: str, expected: bool) -> None:
    # Cross-account, with identity permissions: only the bucket policy decides.
    d = decide(
        principal=caller,
        resource_account="999988887777",
        identity=[doc(stmt(action="*"))],
        resource_policy=bucket(principal),
    )
    assert d.allowed is expected, d.explain()


def test_not_principal_deny_exempts_only_listed_principal_with_its_account() -> None:
    deny_others = doc(
        stmt(action="*", resource="*", Principal="*"),
        {"Effect": "Deny", "Action": "*", "Resource": "*", "NotPrincipal": {"AWS": [ALICE, ACCT]}},
    )
    assert kind(decide(principal=ALICE, resource_policy=deny_others)) == "Allowed"
    assert kind(decide(principal=f"arn:aws:iam::{ACCT}:user/bob", resource_policy=deny_others)) == "ExplicitlyDenied"
    only_user = doc(
        stmt(action="*", resource="*", Principal="*"),
        {"Effect": "Deny", "Action": "*", "Resource": "*", "NotPrincipal": {"AWS": [ALICE]}},
    )
    # Without its account listed, the user is not exempt (User Guide, NotPrincipal).
    assert kind(decide(principal=ALICE, resource_policy=only_user)) == "ExplicitlyDenied"
