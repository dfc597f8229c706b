"""Policy-engine fixes from review 12: `${*}`/`${?}`/`${$}` in every condition operator,
NotPrincipal with permissions boundaries and role sessions, and federated users named
through the IAM user that made them."""

from __future__ import annotations

from typing import Any

import pytest

from skyhold import principal as P
from skyhold.policy import Caller, PolicySet, RequestContext, evaluate

ACCT = "111122223333"
OTHER = "444455556666"
ALLOW_ALL = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:*", "Resource": "*"}]}
ALICE = Caller.from_arn(f"arn:aws:iam::{ACCT}:user/alice", user_id="AIDAALICE")


def _doc(*statements: dict[str, Any]) -> dict[str, Any]:
    return {"Version": "2012-10-17", "Statement": list(statements)}


def _decide(caller: Caller, *, context: dict[str, Any] | None = None, resource_account: str | None = None,
            **policies: Any) -> str:
    req = RequestContext(caller, "s3:GetObject", "arn:aws:s3:::b/k", resource_account=resource_account,
                         context=context or {})
    return str(evaluate(req, PolicySet.build(**policies)).kind.value)


# --- 1. special-character variables ------------------------------------------------------


def _with_condition(effect: str, operator: str, value: str) -> dict[str, Any]:
    cond = {"Effect": effect, "Action": "s3:GetObject", "Resource": "*", "Condition": {operator: {"s3:prefix": value}}}
    if effect == "Deny":
        return _doc({"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"}, cond)
    return _doc(cond)


@pytest.mark.parametrize(
    ("operator", "value", "request_value", "matches"),
    [
        ("StringEquals", "secret${*}", "secret*", True),
        ("StringEquals", "secret${*}", "secretX", False),
        ("StringEquals", "what${?}", "what?", True),
        ("StringEquals", "cost${$}", "cost$", True),
        ("StringEqualsIgnoreCase", "SECRET${*}", "secret*", True),
        ("StringNotEquals", "secret${*}", "secret*", False),
        ("StringNotEqualsIgnoreCase", "what${?}", "WHAT?", False),
        ("StringEquals", "${aws:username}${*}", "alice*", True),
        # Wildcard operators keep them literal: `${*}` is no wildcard.
        ("StringLike", "secret${*}", "secret*", True),
        ("StringLike", "secret${*}", "secretX", False),
        ("StringNotLike", "what${?}", "whatX", True),
    ],
)
def test_special_variables_are_their_literal_characters(operator: str, value: str, request_value: str,
                                                        matches: bool) -> None:
    allowed = _decide(ALICE, identity=[_with_condition("Allow", operator, value)],
                      context={"s3:prefix": request_value})
    assert allowed == ("Allowed" if matches else "ImplicitlyDenied")


def test_deny_with_special_variable_denies_the_literal_prefix() -> None:
    deny = _with_condition("Deny", "StringEquals", "secret${*}")
    assert _decide(ALICE, identity=[deny], context={"s3:prefix": "secret*"}) == "ExplicitlyDenied"
    assert _decide(ALICE, identity=[deny], context={"s3:prefix": "secrets"}) == "Allowed"


def test_binary_equals_with_special_variable() -> None:
    # BinaryEquals compares base64 text: `${?}` is a literal "?" there too.
    policy = _doc({"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*",
                   "Condition": {"BinaryEquals": {"s3:x": "QUJD${?}"}}})
    assert _decide(ALICE, identity=[policy], context={"s3:x": "QUJD?"}) == "Allowed"


def test_resource_with_special_variable_is_literal() -> None:
    policy = _doc({"Effect": "Allow", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::b/k${*}"})
    for resource, want in (("arn:aws:s3:::b/k*", "Allowed"), ("arn:aws:s3:::b/kX", "ImplicitlyDenied")):
        req = RequestContext(ALICE, "s3:GetObject", resource)
        assert evaluate(req, PolicySet.build(identity=[policy])).kind.value == want


def test_explanation_shows_policy_values_as_written() -> None:
    req = RequestContext(ALICE, "s3:GetObject", "arn:aws:s3:::b/k", context={"s3:prefix": "x"})
    d = evaluate(req, PolicySet.build(identity=[_with_condition("Allow", "StringLike", "secret${*}")]))
    conditions = d.explain()["policies"][0]["statements"][0]["conditions"]
    assert conditions[0]["policy_values"] == ["secret${*}"]


# --- 2. Deny + NotPrincipal and permissions boundaries ----------------------------------

BOB = Caller.from_arn(f"arn:aws:iam::{OTHER}:user/Bob", user_id="AIDABOB")
SESSION = Caller.from_arn(f"arn:aws:sts::{OTHER}:assumed-role/R/app", user_id="AROAR:app")
ROLE_ARN = f"arn:aws:iam::{OTHER}:role/R"
OTHER_ROOT = f"arn:aws:iam::{OTHER}:root"


def _bucket(not_principal: list[str], effect: str = "Deny") -> dict[str, Any]:
    return _doc(
        {"Effect": "Allow", "Principal": {"AWS": OTHER_ROOT}, "Action": "s3:GetObject", "Resource": "*"},
        {"Effect": effect, "NotPrincipal": {"AWS": not_principal}, "Action": "s3:*", "Resource": "*"},
    )


def _cross(caller: Caller, not_principal: list[str], **kw: Any) -> str:
    return _decide(caller, resource_account=ACCT, identity=[ALLOW_ALL], resource=_bucket(not_principal), **kw)


def test_deny_not_principal_always_denies_a_caller_with_a_boundary() -> None:
    listed = [BOB.arn, OTHER_ROOT]
    assert _cross(BOB, listed) == "Allowed"
    assert _cross(BOB, listed, boundary=ALLOW_ALL) == "ExplicitlyDenied"
    session_listed = [SESSION.arn, ROLE_ARN, OTHER_ROOT]
    assert _cross(SESSION, session_listed) == "Allowed"
    assert _cross(SESSION, session_listed, boundary=ALLOW_ALL) == "ExplicitlyDenied"


def test_boundary_note_in_explanation() -> None:
    req = RequestContext(BOB, "s3:GetObject", "arn:aws:s3:::b/k", resource_account=ACCT)
    d = evaluate(req, PolicySet.build(identity=[ALLOW_ALL], boundary=ALLOW_ALL, resource=_bucket([BOB.arn, OTHER_ROOT])))
    assert any("permissions boundary" in r and "NotPrincipal" in r for r in d.explain()["reasons"])


def test_allow_not_principal_is_not_changed_by_a_boundary() -> None:
    # Only a Deny's NotPrincipal ignores the list for bounded callers; an Allow with
    # NotPrincipal still excludes the listed caller (so grants nothing to it).
    allow_others = _doc({"Effect": "Allow", "NotPrincipal": {"AWS": [BOB.arn, OTHER_ROOT]},
                         "Action": "s3:GetObject", "Resource": "*"})
    kw: dict[str, Any] = {"resource_account": ACCT, "identity": [ALLOW_ALL], "resource": allow_others}
    assert _decide(BOB, **kw) == "ImplicitlyDenied"
    assert _decide(BOB, boundary=ALLOW_ALL, **kw) == "ImplicitlyDenied"


# --- 4. NotPrincipal and role sessions ---------------------------------------------------


def test_role_session_is_exempt_only_with_account_role_and_session_listed() -> None:
    assert _cross(SESSION, [SESSION.arn, ROLE_ARN, OTHER_ROOT]) == "Allowed"
    assert _cross(SESSION, [SESSION.arn, OTHER_ROOT]) == "ExplicitlyDenied"  # role missing
    assert _cross(SESSION, [ROLE_ARN, OTHER_ROOT]) == "ExplicitlyDenied"  # session missing
    assert _cross(SESSION, [SESSION.arn, ROLE_ARN]) == "ExplicitlyDenied"  # account missing
    # The role bound to its unique id, as IAM stores it, counts as the role.
    assert _cross(SESSION, [SESSION.arn, "AROAR", OTHER_ROOT]) == "Allowed"


def test_users_and_roots_are_exempt_as_before() -> None:
    assert _cross(BOB, [BOB.arn, OTHER_ROOT]) == "Allowed"
    assert _cross(BOB, ["AIDABOB", OTHER_ROOT]) == "Allowed"
    assert _cross(BOB, [BOB.arn]) == "ExplicitlyDenied"
    root = Caller.from_arn(OTHER_ROOT)
    assert _cross(root, [OTHER_ROOT]) == "Allowed"


def test_missing_role_note_in_explanation() -> None:
    req = RequestContext(SESSION, "s3:GetObject", "arn:aws:s3:::b/k", resource_account=ACCT)
    d = evaluate(req, PolicySet.build(identity=[ALLOW_ALL], resource=_bucket([SESSION.arn, OTHER_ROOT])))
    assert any("not its role" in r for r in d.explain()["reasons"])


# --- 3. federated users and their issuing user -------------------------------------------

ISSUER_ARN = f"arn:aws:iam::{ACCT}:user/issuer"


def _federated(source_id: str = "AIDAISSUER") -> Caller:
    who = P.Principal(type=P.FEDERATED_USER, account=ACCT, arn=f"arn:aws:sts::{ACCT}:federated-user/fed",
                      user_id=f"{ACCT}:fed", name="fed",
                      session={"source_user": "issuer", "source_user_arn": ISSUER_ARN, "source_user_id": source_id})
    return Caller.from_principal(who)


def _names(principal: str) -> dict[str, Any]:
    return _doc({"Effect": "Allow", "Principal": {"AWS": principal}, "Action": "s3:GetObject", "Resource": "*"})


DENY_NOTHING_SESSION = _doc({"Effect": "Allow", "Action": "sqs:*", "Resource": "*"})


def test_policy_naming_the_issuing_user_grants_within_the_session_policy() -> None:
    fed = _federated()
    for named in (ISSUER_ARN, "AIDAISSUER"):  # as written, and as IAM binds it
        assert _decide(fed, resource=_names(named), session=[ALLOW_ALL]) == "Allowed"
        # The session policy limits what the user's grant passes on.
        assert _decide(fed, resource=_names(named), session=[DENY_NOTHING_SESSION]) == "ImplicitlyDenied"


def test_policy_naming_the_federated_user_grants_despite_the_session_policy() -> None:
    fed = _federated()
    assert _decide(fed, resource=_names(fed.arn), session=[DENY_NOTHING_SESSION]) == "Allowed"


def test_a_recreated_issuer_is_not_the_one_the_policy_named() -> None:
    fed = _federated(source_id="AIDANEWISSUER")
    assert _decide(fed, resource=_names("AIDAISSUER"), session=[ALLOW_ALL]) == "ImplicitlyDenied"


def test_another_users_federated_user_of_the_same_name_is_not_matched() -> None:
    # Same federated ARN (account + name), another issuer: the match cache must not mix them.
    named = _names("AIDAISSUER")
    assert _decide(_federated(), resource=named, session=[ALLOW_ALL]) == "Allowed"
    assert _decide(_federated("AIDAOTHER"), resource=named, session=[ALLOW_ALL]) == "ImplicitlyDenied"
