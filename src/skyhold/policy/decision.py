"""The outcome of an evaluation and how it is told: Decision, its reasons and AWS's
AccessDenied message.

The hot path records only tuples (policy type, label, statement index, sid, effect);
text is rendered when someone asks. The full per-statement trace (`explain()`) is
recomputed on demand by re-running the pure evaluation in tracing mode.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from skyhold.policy.evaluate import PolicySet
    from skyhold.policy.request import RequestContext

# Policy types, worded as AWS words them in AccessDenied messages.
IDENTITY = "identity-based policy"
RESOURCE = "resource-based policy"
BOUNDARY = "permissions boundary"
SESSION = "session policy"
SCP = "service control policy"
RCP = "resource control policy"
ENDPOINT = "VPC endpoint policy"

_ARTICLE = {IDENTITY: "an", RESOURCE: "a", BOUNDARY: "a", SESSION: "a", SCP: "a", RCP: "a", ENDPOINT: "a"}
# Denials of these calls carry only this fixed text on AWS: "Not authorized to perform <action>".
_FEDERATION_ACTIONS = frozenset({"sts:AssumeRoleWithWebIdentity", "sts:AssumeRoleWithSAML"})


class DecisionKind(enum.Enum):
    ALLOWED = "Allowed"
    EXPLICITLY_DENIED = "ExplicitlyDenied"
    IMPLICITLY_DENIED = "ImplicitlyDenied"


@dataclass(frozen=True, slots=True)
class StatementRef:
    """A statement that applied to the request (action, resource, principal, conditions)."""

    policy_type: str
    label: str
    index: int
    sid: str | None
    effect: str

    def describe(self) -> str:
        sid = f" (Sid {self.sid})" if self.sid else ""
        return f"{self.effect} statement {self.index}{sid} of {self.policy_type} {self.label}"


@dataclass(slots=True)
class Decision:
    kind: DecisionKind
    # The policy type that decided a denial (None when allowed).
    denied_by: str | None
    # Statements that applied, in evaluation order (allows and the deciding deny):
    # (policy type, LabeledPolicy, CompiledStatement), rendered only when asked.
    matched: list[tuple[str, Any, Any]]
    request: RequestContext
    policies: PolicySet
    # How the allow was reached, e.g. "identity-based policy" or "resource-based policy".
    allowed_by: str | None = None
    _trace: dict[str, Any] | None = field(default=None, repr=False)

    @property
    def allowed(self) -> bool:
        return self.kind is DecisionKind.ALLOWED

    @property
    def statements(self) -> list[StatementRef]:
        return [StatementRef(t, lp.label, st.index, st.sid, st.effect) for t, lp, st in self.matched]

    @property
    def reasons(self) -> list[str]:
        out = [s.describe() + " applies" for s in self.statements]
        out += self._not_principal_notes()
        if self.kind is DecisionKind.EXPLICITLY_DENIED:
            out.append(f"explicitly denied by {_ARTICLE[self.denied_by or IDENTITY]} {self.denied_by}")
        elif self.kind is DecisionKind.IMPLICITLY_DENIED:
            out.append(f"no {self.denied_by} allows {self.request.action}")
        else:
            out.append(f"allowed by {self.allowed_by}")
        return out

    def _not_principal_notes(self) -> list[str]:
        """Why an applying Deny's NotPrincipal, which lists the caller, did not exempt it."""
        caller = self.request.caller
        out = []
        for t, lp, st in self.matched:
            if st.allow or not st.not_principal or st.principal is None:
                continue
            ref = StatementRef(t, lp.label, st.index, st.sid, st.effect).describe()
            if self.policies.boundary is not None and st.principal.excludes(caller):
                out.append(f"{ref}: its NotPrincipal lists the caller, but a Deny with NotPrincipal always "
                           "applies to a principal that has a permissions boundary")
            elif caller.arn in st.principal.arns and caller.account in st.principal.accounts:
                out.append(f"{ref}: its NotPrincipal lists the role session and its account but not "
                           "its role, so the session is not exempt")
        return out

    def denial_message(self, quote_resource: bool = True, say_why: bool = True,
                       resource_text: str | None = None) -> str:
        """AWS's AccessDenied text; some services quote the resource (S3), some don't.
        `say_why`: name the policy type that decided (STS never does for a role's trust
        policy: who may assume a role is not told to those who may not). `resource_text`
        names a resource the request named only indirectly (a ciphertext's key)."""
        if self.allowed:
            return ""
        req = self.request
        action = req.action
        if action in _FEDERATION_ACTIONS:
            # STS names neither the caller nor the role to a federated caller it refuses
            # (the message SDKs and GitHub Actions users see on AWS).
            return f"Not authorized to perform {action}"
        head = f"User: {req.caller.arn} is not authorized to perform: {action}"
        if resource_text:  # the request named the resource only indirectly
            head += f" on {resource_text}"
        elif req.resource and req.resource != "*":
            res = f'"{req.resource}"' if quote_resource else req.resource
            head += f" on resource: {res}"
        t = self.denied_by or IDENTITY
        if not say_why:
            return head
        if self.kind is DecisionKind.EXPLICITLY_DENIED:
            return f"{head} with an explicit deny in {_ARTICLE[t]} {t}"
        return f"{head} because no {t} allows the {action} action"

    def explain(self) -> dict[str, Any]:
        """Decision, deciding policy type, message and the per-statement trace."""
        if self._trace is None:
            from skyhold.policy.evaluate import trace

            self._trace = trace(self.request, self.policies)
        out: dict[str, Any] = {"decision": self.kind.value}
        if self.allowed:
            out["allowed_by"] = self.allowed_by
        else:
            out["denied_by"] = self.denied_by
            out["message"] = self.denial_message()
        out["matched_statements"] = [
            {"policy_type": t, "policy": lp.label, "statement": st.index, "sid": st.sid, "effect": st.effect,
             "document": _statement_document(lp.policy.document, st.index)}
            for t, lp, st in self.matched
        ]
        out["reasons"] = (self.reasons + _how_conditions_held(self._trace["policies"])
                          + _why_not(self._trace["policies"], self.request.matched_as or self.request.resource))
        out["policies"] = self._trace["policies"]
        return out


def _statement_document(document: dict[str, Any], index: int) -> dict[str, Any]:
    """Statement `index` of a policy document as written (Statement may be one object)."""
    statements = document.get("Statement")
    statements = statements if isinstance(statements, list) else [statements]
    found = statements[index] if 0 <= index < len(statements) else None
    return found if isinstance(found, dict) else {}


def _where(p: dict[str, Any], st: dict[str, Any]) -> str:
    sid = f" (Sid {st['sid']})" if st["sid"] else ""
    return f"{st['effect']} statement {st['statement']}{sid} of {p['policy_type']} {p['policy']}"


def _request_value(c: dict[str, Any]) -> str:
    return "is missing" if c["missing"] else f"is {c['request_value']!r}"


def _how_conditions_held(policies: list[dict[str, Any]]) -> list[str]:
    """One line per condition of a statement that applied: which request value (or its
    absence, as ...IfExists and Null read it) made it hold."""
    out = []
    for p in policies:
        for st in p["statements"]:
            if st["applies"]:
                out += [f"{_where(p, st)}: condition {c['operator']} {c['key']} {c['policy_values']} held: the "
                        f"request value {_request_value(c)}" for c in st["conditions"]]
    return out


def _why_not(policies: list[dict[str, Any]], resource: str) -> list[str]:
    """One line per statement whose action matched but which did not apply, saying why."""
    out = []
    for p in policies:
        for st in p["statements"]:
            if not st["action_matched"] or st["applies"]:
                continue
            where = _where(p, st)
            if st["principal_matched"] is False:
                why = "the principal does not match"
            elif st["resource_matched"] is None:
                why = "a policy variable in its resource element cannot be resolved"
            elif not st["resource_matched"]:
                why = f"resource {resource} does not match"
            else:
                c = next(c for c in st["conditions"] if not c["passed"])
                why = (f"condition {c['operator']} {c['key']} {c['policy_values']} failed: the request value "
                       f"{_request_value(c)}")
            out.append(f"{where} does not apply: {why}")
    return out
