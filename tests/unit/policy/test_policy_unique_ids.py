"""Principals named by unique id: a user id (AIDA…) names that user, a role id (AROA…)
names that role's sessions — and nobody who merely has the same name."""

from __future__ import annotations

from skyhold.policy import Caller, RequestContext, evaluate
from skyhold.policy.evaluate import PolicySet
from skyhold.policy.principals import DIRECT, NONE, ROLE_MATCH, PrincipalMatcher

from .conftest import ACCT, ALICE, OTHER, doc, kind, stmt

USER_ID = "AIDAEXAMPLEUSER00001"
ROLE_ID = "AROAEXAMPLEROLE00001"
SESSION = f"arn:aws:sts::{ACCT}:assumed-role/Builder/s1"


def alice(user_id: str = USER_ID) -> Caller:
    return Caller.from_arn(ALICE, user_id=user_id)


def session(role_id: str = ROLE_ID) -> Caller:
    return Caller.from_arn(SESSION, user_id=f"{role_id}:s1")


def test_user_id_names_the_user_whose_id_it_is() -> None:
    m = PrincipalMatcher.compile({"AWS": USER_ID})
    assert m.match(alice()) == DIRECT  # as the user's ARN would
    assert m.match(alice("AIDAEXAMPLEUSER00002")) == NONE  # alice, deleted and created again


def test_role_id_names_the_role_sessions_like_the_role_arn() -> None:
    m = PrincipalMatcher.compile({"AWS": [ROLE_ID]})
    assert m.match(session()) == ROLE_MATCH
    assert m.match(session("AROAEXAMPLEROLE00002")) == NONE  # a new role of the same name
    assert m.match(Caller.from_arn(f"arn:aws:iam::{ACCT}:role/Builder", user_id=ROLE_ID)) == ROLE_MATCH
    # A user whose id happens to share the prefix is not a session of the role.
    assert m.match(alice(ROLE_ID)) == NONE


def test_not_principal_role_id_exempts_the_role_not_its_sessions() -> None:
    m = PrincipalMatcher.compile({"AWS": [ROLE_ID, ACCT]})
    assert m.excludes(Caller.from_arn(f"arn:aws:iam::{ACCT}:role/Builder", user_id=ROLE_ID))
    assert not m.excludes(Caller.from_arn(f"arn:aws:iam::{ACCT}:role/Builder", user_id="AROAEXAMPLEROLE00002"))
    assert not m.excludes(session())  # as with the role's ARN: sessions are listed by session ARN


def test_not_principal_user_id_exempts_only_that_user() -> None:
    deny_others = doc(
        stmt(action="*", resource="*", Principal="*"),
        {"Effect": "Deny", "Action": "*", "Resource": "*", "NotPrincipal": {"AWS": [USER_ID, ACCT]}},
    )

    def decide(caller: Caller) -> str:
        return kind(evaluate(RequestContext(caller, "s3:GetObject", "arn:aws:s3:::b/k"),
                             PolicySet.build(resource=deny_others)))

    assert decide(alice()) == "Allowed"
    assert decide(alice("AIDAEXAMPLEUSER00002")) == "ExplicitlyDenied"


def test_cross_account_resource_policy_by_role_id() -> None:
    policy = doc(stmt(resource="arn:aws:s3:::b/*", Principal={"AWS": ROLE_ID}))
    other_session = f"arn:aws:sts::{OTHER}:assumed-role/Builder/s1"

    def decide(role_id: str) -> bool:
        caller = Caller.from_arn(other_session, user_id=f"{role_id}:s1")
        return evaluate(RequestContext(caller, "s3:GetObject", "arn:aws:s3:::b/k", resource_account=ACCT),
                        PolicySet.build(identity=[doc(stmt(action="*"))], resource=policy)).allowed

    assert decide(ROLE_ID)
    assert not decide("AROAEXAMPLEROLE00002")
