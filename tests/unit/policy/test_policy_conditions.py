"""Every condition operator, each as a PAIR: the same request flips between Allowed and
ImplicitlyDenied when only the request value changes. Plus the missing-key, IfExists,
set-operator, OR/AND and case rules."""

from __future__ import annotations

import base64
from typing import Any

import pytest

from .conftest import decide, doc, kind, stmt

KEY = "test:Key"


def with_condition(op: str, policy_value: Any, request_value: Any = None, present: bool = True) -> str:
    policy = doc(stmt(Condition={op: {KEY: policy_value}}))
    context = {KEY: request_value} if present else {}
    return kind(decide(context=context, identity=[policy]))


# (operator, policy value, request value that matches, request value that does not)
PAIRS = [
    ("StringEquals", "blue", "blue", "Blue"),
    ("StringNotEquals", "blue", "red", "blue"),
    ("StringEqualsIgnoreCase", "Blue", "bLUE", "red"),
    ("StringNotEqualsIgnoreCase", "Blue", "red", "BLUE"),
    ("StringLike", "home/*/x?", "home/a/b/xy", "home/a/b/x"),
    ("StringNotLike", "home/*", "work/a", "home/a"),
    ("NumericEquals", "10", "10.0", "11"),
    ("NumericNotEquals", "10", "11", "10"),
    ("NumericLessThan", "10", "9.5", "10"),
    ("NumericLessThanEquals", "10", "10", "10.5"),
    ("NumericGreaterThan", "10", "11", "10"),
    ("NumericGreaterThanEquals", "10", "10", "9"),
    ("DateEquals", "2024-01-01T00:00:00Z", "1704067200", "2024-01-01T00:00:01Z"),
    ("DateNotEquals", "2024-01-01T00:00:00Z", "2024-01-02T00:00:00Z", "2024-01-01T01:00:00+01:00"),
    ("DateLessThan", "2024-01-01T00:00:00Z", "2023-12-31T23:59:59Z", "2024-01-01T00:00:00Z"),
    ("DateLessThanEquals", "2024-01-01T00:00:00Z", "2024-01-01T00:00:00Z", "2024-01-01T00:00:01Z"),
    ("DateGreaterThan", "1704067200", "2024-01-01T00:00:01Z", "2023-06-01"),
    ("DateGreaterThanEquals", "2024-01-01", "2024-01-01T00:00:00Z", "2023-12-31T23:59:59Z"),
    ("Bool", "true", "true", "false"),
    ("Bool", True, "TRUE", "false"),
    ("BinaryEquals", base64.b64encode(b"abc").decode(), b"abc", b"abd"),
    ("IpAddress", "203.0.113.0/24", "203.0.113.200", "203.0.114.1"),
    ("IpAddress", "2001:db8::/32", "2001:db8:1::5", "2001:db9::1"),
    ("IpAddress", "203.0.113.7", "203.0.113.7", "203.0.113.8"),
    ("NotIpAddress", "10.0.0.0/8", "203.0.113.7", "10.1.2.3"),
    ("ArnEquals", "arn:aws:iam::111122223333:role/*", "arn:aws:iam::111122223333:role/a/b", "arn:aws:iam::999:role/a"),
    ("ArnLike", "arn:aws:s3:::b/*", "arn:aws:s3:::b/k", "arn:aws:s3:::c/k"),
    (
        "ArnNotEquals",
        "arn:aws:sns:*:111122223333:t",
        "arn:aws:sns:us-east-1:111122223333:u",
        "arn:aws:sns:us-east-1:111122223333:t",
    ),
    ("ArnNotLike", "arn:aws:sqs:*:*:q*", "arn:aws:sqs:eu-west-1:1:x", "arn:aws:sqs:eu-west-1:1:q1"),
]


@pytest.mark.parametrize("op,policy_value,match,no_match", PAIRS, ids=[f"{p[0]}-{i}" for i, p in enumerate(PAIRS)])
def test_operator_pair(op: str, policy_value: Any, match: Any, no_match: Any) -> None:
    assert with_condition(op, policy_value, match) == "Allowed"
    assert with_condition(op, policy_value, no_match) == "ImplicitlyDenied"


POSITIVE = [
    "StringEquals",
    "StringLike",
    "NumericEquals",
    "DateEquals",
    "Bool",
    "BinaryEquals",
    "IpAddress",
    "ArnLike",
    "ArnEquals",
    "StringEqualsIgnoreCase",
]
NEGATED = [
    "StringNotEquals",
    "StringNotLike",
    "NumericNotEquals",
    "DateNotEquals",
    "NotIpAddress",
    "ArnNotLike",
    "ArnNotEquals",
    "StringNotEqualsIgnoreCase",
]


@pytest.mark.parametrize("op", POSITIVE)
def test_missing_key_positive_operator_is_false_unless_ifexists(op: str) -> None:
    assert with_condition(op, "x", present=False) == "ImplicitlyDenied"
    assert with_condition(op + "IfExists", "x", present=False) == "Allowed"


@pytest.mark.parametrize("op", NEGATED)
def test_missing_key_negated_operator_is_true(op: str) -> None:
    assert with_condition(op, "x", present=False) == "Allowed"


def test_ifexists_still_evaluates_a_present_key() -> None:
    assert with_condition("StringEqualsIfExists", "a", "a") == "Allowed"
    assert with_condition("StringEqualsIfExists", "a", "b") == "ImplicitlyDenied"


def test_null_operator() -> None:
    assert with_condition("Null", "true", present=False) == "Allowed"
    assert with_condition("Null", "true", "v") == "ImplicitlyDenied"
    assert with_condition("Null", "false", "v") == "Allowed"
    assert with_condition("Null", False, present=False) == "ImplicitlyDenied"


def test_for_all_values() -> None:
    op = "ForAllValues:StringEquals"
    assert with_condition(op, ["a", "b"], ["a", "b"]) == "Allowed"
    assert with_condition(op, ["a", "b"], ["a", "c"]) == "ImplicitlyDenied"
    # Missing or empty key: vacuously true (AWS's documented trap).
    assert with_condition(op, ["a"], present=False) == "Allowed"
    assert with_condition(op, ["a"], []) == "Allowed"


def test_for_any_value() -> None:
    op = "ForAnyValue:StringEquals"
    assert with_condition(op, ["a"], ["c", "a"]) == "Allowed"
    assert with_condition(op, ["a"], ["c", "d"]) == "ImplicitlyDenied"
    assert with_condition(op, ["a"], present=False) == "ImplicitlyDenied"
    assert with_condition(op, ["a"], []) == "ImplicitlyDenied"
    assert with_condition(op + "IfExists", ["a"], present=False) == "Allowed"


def test_set_operators_with_negated_operators() -> None:
    # ForAllValues:StringNotEquals: no request value may be in the policy list.
    assert with_condition("ForAllValues:StringNotEquals", ["x"], ["a", "b"]) == "Allowed"
    assert with_condition("ForAllValues:StringNotEquals", ["x"], ["a", "x"]) == "ImplicitlyDenied"
    assert with_condition("ForAllValues:StringNotEquals", ["x"], present=False) == "Allowed"
    # ForAnyValue:StringNotEquals: at least one request value outside the list.
    assert with_condition("ForAnyValue:StringNotEquals", ["x"], ["x", "y"]) == "Allowed"
    assert with_condition("ForAnyValue:StringNotEquals", ["x"], ["x"]) == "ImplicitlyDenied"
    assert with_condition("ForAnyValue:StringNotEquals", ["x"], present=False) == "ImplicitlyDenied"


def test_multivalued_request_value_without_qualifier() -> None:
    assert with_condition("StringEquals", "a", ["b", "a"]) == "Allowed"
    assert with_condition("StringNotEquals", "a", ["b", "a"]) == "ImplicitlyDenied"


def test_values_are_ored_keys_and_operators_are_anded() -> None:
    p = doc(stmt(Condition={"StringEquals": {"k:a": ["1", "2"], "k:b": "x"}, "NumericLessThan": {"k:n": "5"}}))
    assert kind(decide(context={"k:a": "2", "k:b": "x", "k:n": 1}, identity=[p])) == "Allowed"
    assert kind(decide(context={"k:a": "3", "k:b": "x", "k:n": 1}, identity=[p])) == "ImplicitlyDenied"
    assert kind(decide(context={"k:a": "1", "k:b": "y", "k:n": 1}, identity=[p])) == "ImplicitlyDenied"
    assert kind(decide(context={"k:a": "1", "k:b": "x", "k:n": 7}, identity=[p])) == "ImplicitlyDenied"


def test_key_names_case_insensitive_values_case_sensitive() -> None:
    p = doc(stmt(Condition={"StringEquals": {"AWS:PrincipalTag/Team": "Blue"}}))
    assert kind(decide(context={"aws:principaltag/team": "Blue"}, identity=[p])) == "Allowed"
    assert kind(decide(context={"aws:principaltag/team": "blue"}, identity=[p])) == "ImplicitlyDenied"


def test_bad_request_values_do_not_match() -> None:
    assert with_condition("NumericEquals", "1", "one") == "ImplicitlyDenied"
    assert with_condition("DateLessThan", "2030-01-01", "yesterday") == "ImplicitlyDenied"
    assert with_condition("IpAddress", "10.0.0.0/8", "not-an-ip") == "ImplicitlyDenied"
    assert with_condition("ArnLike", "arn:aws:s3:::*", "s3-bucket") == "ImplicitlyDenied"


def test_arn_like_wildcard_does_not_cross_segments() -> None:
    # "arn:aws:iam::*" region segment wildcard inside a segment must not swallow colons.
    assert with_condition("ArnLike", "arn:aws:s*3:::b", "arn:aws:s3:::b") == "Allowed"
    assert with_condition("ArnLike", "arn:aws:s*3:::b", "arn:aws:sx:y3:::b") == "ImplicitlyDenied"


def test_deny_with_condition_pair() -> None:
    deny = doc(stmt(action="*"), stmt("Deny", action="*", Condition={"Bool": {"aws:SecureTransport": "false"}}))
    assert kind(decide(context={"aws:SecureTransport": False}, identity=[deny])) == "ExplicitlyDenied"
    assert kind(decide(context={"aws:SecureTransport": True}, identity=[deny])) == "Allowed"
