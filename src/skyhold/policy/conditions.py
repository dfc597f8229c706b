"""Condition operators, compiled once per (operator, key, values).

Semantics (IAM User Guide, "Condition operators" and "Set operators for multivalued
context keys"):
- several values for one key are ORed; several keys and several operators are ANDed;
- key names are case-insensitive, values case-sensitive unless the operator says not;
- a missing key makes a positive operator false and a negated operator (…Not…,
  NotIpAddress) true; `…IfExists` makes any operator true on a missing key;
- `ForAllValues:` is true when every request value satisfies the operator (true on a
  missing or empty key); `ForAnyValue:` when at least one does (false on a missing or
  empty key). For negated operators "satisfies" means "matches none of the policy values".
- without a set qualifier, a multivalued request value behaves like ForAnyValue for
  positive operators and "matches none" for negated ones.
Policy values containing `${…}` are resolved per request; an unresolvable variable makes
the condition false (the statement does not match).
"""

from __future__ import annotations

import base64
import operator
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from skyhold.policy import values as V
from skyhold.policy import wildcard
from skyhold.policy.variables import Template, parse

Pred = Callable[[Any], bool]  # one request value → matches any policy value?
PredFactory = Callable[[list[str]], Pred]


def _string_equals(vals: list[str]) -> Pred:
    if len(vals) == 1:
        only = vals[0]
        return lambda x: (x if type(x) is str else V.text(x)) == only
    s = frozenset(vals)
    return lambda x: (x if type(x) is str else V.text(x)) in s


def _string_equals_ic(vals: list[str]) -> Pred:
    s = frozenset(v.lower() for v in vals)
    return lambda x: V.text(x).lower() in s


def _string_like(vals: list[str]) -> Pred:
    m = wildcard.glob(vals[0]) if len(vals) == 1 else wildcard.glob_any(vals)
    return lambda x: bool(m(x if type(x) is str else V.text(x)))


def _arn_like(vals: list[str]) -> Pred:
    ms = [wildcard.arn_condition(v) for v in vals]
    return lambda x: isinstance(x, str) and any(m(x) for m in ms)


def _numeric(cmp: Callable[[float, float], bool]) -> PredFactory:
    def factory(vals: list[str]) -> Pred:
        nums = [n for n in (V.number_of(v) for v in vals) if n is not None]

        def pred(x: Any) -> bool:
            n = V.number_of(x)
            return n is not None and any(cmp(n, p) for p in nums)

        return pred

    return factory


def _date(cmp: Callable[[float, float], bool]) -> PredFactory:
    def factory(vals: list[str]) -> Pred:
        dates = [d for d in (V.parse_date(v) for v in vals) if d is not None]

        def pred(x: Any) -> bool:
            d = V.date_of(x)
            return d is not None and any(cmp(d, p) for p in dates)

        return pred

    return factory


def _bool(vals: list[str]) -> Pred:
    s = frozenset(v.lower() for v in vals)
    return lambda x: (x.lower() if type(x) is str else V.text(x).lower()) in s


def _binary(vals: list[str]) -> Pred:
    s = frozenset(vals)
    return lambda x: (base64.b64encode(x).decode() if isinstance(x, bytes) else V.text(x)) in s


def _ip(vals: list[str]) -> Pred:
    # Networks as (version, network int, mask int): containment is one AND.
    nets = [(n.version, int(n.network_address), int(n.netmask)) for n in map(V.network_of, vals) if n is not None]

    def pred(x: Any) -> bool:
        ip = V.ip_int_of(x) if type(x) is str else None
        if ip is None:
            return False
        version, value = ip
        for nv, net, mask in nets:
            if nv == version and value & mask == net:
                return True
        return False

    return pred


# base operator → (predicate factory, negated?)
OPERATORS: dict[str, tuple[PredFactory, bool]] = {
    "StringEquals": (_string_equals, False),
    "StringNotEquals": (_string_equals, True),
    "StringEqualsIgnoreCase": (_string_equals_ic, False),
    "StringNotEqualsIgnoreCase": (_string_equals_ic, True),
    "StringLike": (_string_like, False),
    "StringNotLike": (_string_like, True),
    "NumericEquals": (_numeric(operator.eq), False),
    "NumericNotEquals": (_numeric(operator.eq), True),
    "NumericLessThan": (_numeric(operator.lt), False),
    "NumericLessThanEquals": (_numeric(operator.le), False),
    "NumericGreaterThan": (_numeric(operator.gt), False),
    "NumericGreaterThanEquals": (_numeric(operator.ge), False),
    "DateEquals": (_date(operator.eq), False),
    "DateNotEquals": (_date(operator.eq), True),
    "DateLessThan": (_date(operator.lt), False),
    "DateLessThanEquals": (_date(operator.le), False),
    "DateGreaterThan": (_date(operator.gt), False),
    "DateGreaterThanEquals": (_date(operator.ge), False),
    "Bool": (_bool, False),
    "BinaryEquals": (_binary, False),
    "IpAddress": (_ip, False),
    "NotIpAddress": (_ip, True),
    "ArnEquals": (_arn_like, False),
    "ArnLike": (_arn_like, False),
    "ArnNotEquals": (_arn_like, True),
    "ArnNotLike": (_arn_like, True),
    "Null": (_bool, False),  # placeholder; Null is evaluated specially
}
SET_PREFIXES = ("ForAllValues:", "ForAnyValue:")
# Operators whose policy values are wildcard patterns (ArnEquals matches like ArnLike).
PATTERN_OPERATORS = frozenset({"StringLike", "StringNotLike", "ArnLike", "ArnNotLike", "ArnEquals", "ArnNotEquals"})


@dataclass(frozen=True, slots=True)
class OperatorName:
    base: str  # canonical spelling, e.g. "StringEquals"
    qualifier: str | None  # "ForAllValues" | "ForAnyValue" | None
    if_exists: bool


def parse_operator(name: str) -> OperatorName | None:
    """Split `ForAnyValue:StringLikeIfExists`; None if it is not an operator (exact case)."""
    qualifier = None
    rest = name
    for p in SET_PREFIXES:
        if rest.startswith(p):
            qualifier = p[:-1]
            rest = rest[len(p) :]
            break
    if_exists = rest.endswith("IfExists")
    if if_exists:
        rest = rest[: -len("IfExists")]
    if rest not in OPERATORS or (rest == "Null" and (if_exists or qualifier)):
        return None
    return OperatorName(rest, qualifier, if_exists)


def _is_missing(v: Any) -> bool:
    return v is None or (isinstance(v, list | tuple) and not v)


_UNRESOLVED = object()


@dataclass(slots=True)
class ConditionCheck:
    """One (operator, key) pair of a statement's Condition block."""

    operator: str  # as written
    key: str  # as written
    key_lower: str
    values: tuple[Any, ...]  # policy values, parsed (str | Template)
    op: OperatorName
    test: Callable[[Mapping[str, Any]], bool]
    written: tuple[str, ...] = ()  # policy values as written, for explanations

    def failure_detail(self, context: Mapping[str, Any]) -> dict[str, Any]:
        v = context.get(self.key_lower)
        return {
            "operator": self.operator,
            "key": self.key,
            "policy_values": list(self.written),
            "request_value": v,
            "missing": _is_missing(v),
        }


def compile_check(op_name: str, key: str, raw_values: list[Any], with_variables: bool) -> ConditionCheck:
    op = parse_operator(op_name)
    if op is None:
        raise ValueError(f"unknown condition operator {op_name!r}")
    key_lower = key.lower()
    pattern = op.base in PATTERN_OPERATORS
    written = tuple(raw if isinstance(raw, str) else V.text(raw) for raw in raw_values)
    vals: list[Any] = [parse(t, pattern=pattern) if with_variables else t for t in written]
    test = _make_test(op, key_lower, vals)
    return ConditionCheck(op_name, key, key_lower, tuple(vals), op, test, written)


def _make_test(op: OperatorName, key: str, vals: list[Any]) -> Callable[[Mapping[str, Any]], bool]:
    if op.base == "Null":
        want_null = {v.lower() if isinstance(v, str) else "" for v in vals}

        def null_test(ctx: Mapping[str, Any]) -> bool:
            missing = _is_missing(ctx.get(key))
            return ("true" in want_null and missing) or ("false" in want_null and not missing)

        return null_test

    factory, negated = OPERATORS[op.base]
    templated = any(isinstance(v, Template) for v in vals)
    static_pred = None if templated else factory(vals)
    cache: dict[tuple[str, ...], Pred] = {}

    def pred_for(ctx: Mapping[str, Any]) -> Any:
        if static_pred is not None:
            return static_pred
        resolved: list[str] = []
        for v in vals:
            if isinstance(v, Template):
                r = v.resolve(ctx)
                if r is None:
                    return _UNRESOLVED
                resolved.append(r)
            else:
                resolved.append(v)
        key_t = tuple(resolved)
        p = cache.get(key_t)
        if p is None:
            if len(cache) > 1024:
                cache.clear()
            p = cache[key_t] = factory(resolved)
        return p

    qualifier, if_exists = op.qualifier, op.if_exists

    if qualifier is None and static_pred is not None:
        # The hot shape: a single string value against fixed policy values.
        p0 = static_pred
        on_missing = if_exists or negated

        def test(ctx: Mapping[str, Any]) -> bool:
            v = ctx.get(key)
            if type(v) is str:
                return not p0(v) if negated else bool(p0(v))
            if v is None or v == []:
                return on_missing
            hit = any(p0(x) for x in v) if isinstance(v, list | tuple) else p0(v)
            return not hit if negated else bool(hit)

    elif qualifier is None:

        def test(ctx: Mapping[str, Any]) -> bool:
            v = ctx.get(key)
            if v is None or v == []:
                return if_exists or negated
            p = pred_for(ctx)
            if p is _UNRESOLVED:
                return False
            if isinstance(v, list | tuple):
                hit = any(p(x) for x in v)
            else:
                hit = p(v)
            return not hit if negated else bool(hit)

    elif qualifier == "ForAllValues":

        def test(ctx: Mapping[str, Any]) -> bool:
            v = ctx.get(key)
            if _is_missing(v):
                return True
            p = pred_for(ctx)
            if p is _UNRESOLVED:
                return False
            items = v if isinstance(v, list | tuple) else (v,)
            if negated:
                return not any(p(x) for x in items)
            return all(p(x) for x in items)

    else:  # ForAnyValue

        def test(ctx: Mapping[str, Any]) -> bool:
            v = ctx.get(key)
            if _is_missing(v):
                return if_exists
            p = pred_for(ctx)
            if p is _UNRESOLVED:
                return False
            items = v if isinstance(v, list | tuple) else (v,)
            if negated:
                return any(not p(x) for x in items)
            return any(p(x) for x in items)

    return test
