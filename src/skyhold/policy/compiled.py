"""Policy documents compiled once into matchers; `compile_policy` caches by content.

A CompiledStatement answers "does this statement apply to this request?" with
precomputed pieces: lower-cased action literals in a frozenset plus wildcard matchers,
resource matchers (literal, prefix, regex, or a variable template resolved per
request), a compiled Principal element and compiled condition checks. A CompiledPolicy
also memoises, per action, which of its statements can apply — so on a warm cache a
policy costs one dict lookup for the statements that cannot apply.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

from skyhold.policy import wildcard
from skyhold.policy.conditions import ConditionCheck, compile_check
from skyhold.policy.principals import PrincipalMatcher
from skyhold.policy.variables import Template, parse, referenced_keys

VERSION_2012 = "2012-10-17"
VERSION_2008 = "2008-10-17"


class PolicyParseError(ValueError):
    """The document is not a policy the engine can evaluate (structure, not lint)."""


def _strings(stmt: dict[str, Any], name: str) -> list[str] | None:
    v = stmt.get(name)
    if v is None:
        return None
    if isinstance(v, str):
        return [v]
    if isinstance(v, list) and all(isinstance(x, str) or x is None for x in v):
        return [x for x in v if x is not None]
    raise PolicyParseError(f"{name} must be a string or a list of strings")


@dataclass(slots=True)
class CompiledStatement:
    index: int
    sid: str | None
    allow: bool
    not_action: bool
    action_any: bool
    action_literals: frozenset[str]
    action_matchers: tuple[wildcard.Matcher, ...]
    not_resource: bool
    resource_any: bool  # Resource "*" (or absent, as in trust policies)
    resources: tuple[Any, ...]  # Matcher | Template
    resource_patterns: tuple[str, ...]
    principal: PrincipalMatcher | None
    not_principal: bool
    conditions: tuple[ConditionCheck, ...]
    raw: dict[str, Any]
    # No principal, any resource, no condition: applies whenever the action does.
    unconditional: bool = False
    # Resolved variable patterns → matchers, per statement (bounded).
    _resolved: dict[str, wildcard.Matcher] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.unconditional = (
            self.principal is None and self.resource_any and not self.not_resource and not self.conditions
        )

    @property
    def effect(self) -> str:
        return "Allow" if self.allow else "Deny"

    def matches_action(self, action_lower: str) -> bool:
        hit = (
            self.action_any
            or action_lower in self.action_literals
            or any(m(action_lower) for m in self.action_matchers)
        )
        return hit != self.not_action

    def matches_resource(self, resource: str, ctx: Mapping[str, Any]) -> bool | None:
        """True/False; None when a variable in the element cannot be resolved."""
        if self.resource_any:
            return not self.not_resource
        hit = False
        unresolved = False
        for m in self.resources:
            if type(m) is Template:
                pattern = m.resolve(ctx)
                if pattern is None:
                    unresolved = True
                    continue
                resolved = self._resolved.get(pattern)
                if resolved is None:
                    if len(self._resolved) > 1024:
                        self._resolved.clear()
                    resolved = self._resolved[pattern] = wildcard.arn(pattern)
                m = resolved
            if m(resource):
                hit = True
                break
        if self.not_resource:
            # An unresolvable entry in NotResource: the statement does not match.
            return None if unresolved else not hit
        return hit if hit or not unresolved else None


@dataclass(slots=True)
class CompiledPolicy:
    version: str
    id: str | None
    statements: tuple[CompiledStatement, ...]
    document: dict[str, Any]
    _by_action: dict[str, tuple[CompiledStatement, ...]] = field(default_factory=dict)
    # No statement reads the request context (no condition, no variable in a
    # resource): its verdict depends only on caller, action and resource.
    context_free: bool = field(init=False)

    def __post_init__(self) -> None:
        self.context_free = not any(
            s.conditions or any(type(r) is Template for r in s.resources) for s in self.statements
        )

    def statements_for(self, action_lower: str) -> tuple[CompiledStatement, ...]:
        hit = self._by_action.get(action_lower)
        if hit is None:
            hit = tuple(s for s in self.statements if s.matches_action(action_lower))
            if len(self._by_action) > 8192:
                self._by_action.clear()
            self._by_action[action_lower] = hit
        return hit

    def context_keys(self) -> list[str]:
        """Condition keys and variables the policy references (first spelling, in order);
        what GetContextKeysForCustomPolicy reports."""
        seen: dict[str, str] = {}

        def add(k: str) -> None:
            seen.setdefault(k.lower(), k)

        variables = self.version == VERSION_2012
        for s in self.statements:
            if variables:
                for r in s.resource_patterns:
                    for k in referenced_keys(r):
                        add(k)
            for c in s.conditions:
                add(c.key)
                for v in c.values:
                    if isinstance(v, Template):
                        for k in v.keys:
                            add(k)
        return list(seen.values())


def _compile_statement(i: int, st: Any, variables: bool) -> CompiledStatement:
    if not isinstance(st, dict):
        raise PolicyParseError(f"Statement {i} is not an object")
    effect = st.get("Effect")
    if effect not in ("Allow", "Deny"):
        raise PolicyParseError(f"Statement {i}: Effect must be Allow or Deny")
    if "Action" in st and "NotAction" in st:
        raise PolicyParseError(f"Statement {i} has both Action and NotAction")
    if "Resource" in st and "NotResource" in st:
        raise PolicyParseError(f"Statement {i} has both Resource and NotResource")
    if "Principal" in st and "NotPrincipal" in st:
        raise PolicyParseError(f"Statement {i} has both Principal and NotPrincipal")

    not_action = "NotAction" in st
    actions = _strings(st, "NotAction" if not_action else "Action") or []
    lowered = [a.lower() for a in actions]
    action_any = "*" in lowered
    literals = frozenset(a for a in lowered if not wildcard.has_wildcard(a))
    matchers = tuple(wildcard.glob(a) for a in lowered if wildcard.has_wildcard(a) and a != "*")

    not_resource = "NotResource" in st
    res_list = _strings(st, "NotResource" if not_resource else "Resource")
    resource_any = res_list is None or "*" in res_list
    resources: list[Any] = []
    for r in res_list or []:
        t = parse(r, pattern=True) if variables else r
        resources.append(t if isinstance(t, Template) else wildcard.arn(t))

    principal = None
    not_principal = "NotPrincipal" in st
    if "Principal" in st or not_principal:
        el = st["NotPrincipal" if not_principal else "Principal"]
        if not (el == "*" or isinstance(el, dict)):
            raise PolicyParseError(f'Statement {i}: Principal must be "*" or an object')
        principal = PrincipalMatcher.compile(el)

    checks: list[ConditionCheck] = []
    cond = st.get("Condition")
    if cond is not None:
        if not isinstance(cond, dict):
            raise PolicyParseError(f"Statement {i}: Condition must be an object")
        for op_name, block in cond.items():
            if not isinstance(block, dict):
                raise PolicyParseError(f"Statement {i}: Condition {op_name} must be an object")
            for key, vals in block.items():
                vlist = vals if isinstance(vals, list) else [vals]
                if any(isinstance(v, dict | list) for v in vlist):
                    raise PolicyParseError(f"Statement {i}: Condition {op_name} {key} has a non-scalar value")
                try:
                    checks.append(compile_check(op_name, key, vlist, variables))
                except ValueError as e:
                    raise PolicyParseError(f"Statement {i}: {e}") from None

    sid = st.get("Sid")
    return CompiledStatement(
        index=i,
        sid=sid if isinstance(sid, str) else None,
        allow=effect == "Allow",
        not_action=not_action,
        action_any=action_any,
        action_literals=literals,
        action_matchers=matchers,
        not_resource=not_resource,
        resource_any=resource_any,
        resources=tuple(resources),
        resource_patterns=tuple(res_list or ()),
        principal=principal,
        not_principal=not_principal,
        conditions=tuple(checks),
        raw=st,
    )


def load_document(doc: str | bytes | Mapping[str, Any]) -> dict[str, Any]:
    if isinstance(doc, bytes):
        doc = doc.decode()
    if isinstance(doc, str):
        try:
            doc = json.loads(doc)
        except ValueError as e:
            raise PolicyParseError(f"not JSON: {e}") from None
    if not isinstance(doc, Mapping):
        raise PolicyParseError("a policy document must be a JSON object")
    return dict(doc)


@lru_cache(maxsize=2048)
def _compile_text(text: str) -> CompiledPolicy:
    doc = load_document(text)
    version = doc.get("Version", VERSION_2008)
    if version not in (VERSION_2012, VERSION_2008):
        raise PolicyParseError(f"unsupported Version {version!r}")
    raw = doc.get("Statement")
    if isinstance(raw, dict):
        raw = [raw]
    if not isinstance(raw, list):
        raise PolicyParseError("Statement must be an object or a list")
    variables = version == VERSION_2012
    statements = tuple(_compile_statement(i, st, variables) for i, st in enumerate(raw))
    pid = doc.get("Id")
    return CompiledPolicy(version, pid if isinstance(pid, str) else None, statements, doc)


def compile_policy(doc: str | bytes | Mapping[str, Any] | CompiledPolicy) -> CompiledPolicy:
    """Compile a policy document (JSON text or parsed), cached by its content."""
    if isinstance(doc, CompiledPolicy):
        return doc
    if isinstance(doc, bytes):
        doc = doc.decode()
    if not isinstance(doc, str):
        doc = json.dumps(doc, separators=(",", ":"))
    return _compile_text(doc)
