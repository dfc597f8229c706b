"""IAM's policy simulator on Skyhold's policy engine: SimulatePrincipalPolicy,
SimulateCustomPolicy and GetContextKeysFor{Principal,Custom}Policy.

Each (action, resource) pair is decided by `skyhold.policy.evaluate` exactly as a real
request would be, with the simulated caller, context entries, resource policy and
owner. Results carry the statements that applied (with their line/column in the
document, as IAM counts them) and the context keys the policies asked for but the
simulation did not supply.

What real IAM returns, where it differs from the API reference's enums (observed in
recorded responses): identity-based policies have SourcePolicyType "IAM Policy", the
ResourcePolicy input "Resource Policy"; an inline policy's SourcePolicyId is
`<user|group|role>_<entity name>_<policy name>`, a managed policy's is its name.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING, Any

from skyhold.authz import Access
from skyhold.errors import AwsError
from skyhold.policy import (
    Caller,
    CompiledPolicy,
    DecisionKind,
    PolicyParseError,
    PolicySet,
    RequestContext,
    compile_policy,
    evaluate,
    statement_results,
    validate_policy,
)
from skyhold.policy.decision import BOUNDARY, RESOURCE
from skyhold.services.iam import common, effective, errors, records

if TYPE_CHECKING:
    from skyhold.pipeline import Call

IDENTITY_SOURCE = "IAM Policy"
RESOURCE_SOURCE = "Resource Policy"

_DECISION = {
    DecisionKind.ALLOWED: "allowed",
    DecisionKind.EXPLICITLY_DENIED: "explicitDeny",
    DecisionKind.IMPLICITLY_DENIED: "implicitDeny",
}
_ACCOUNT = re.compile(r"^\d{12}$")
_ACCOUNT_ARN = re.compile(r"^arn:aws[\w-]*:iam::(\d{12}):root$")

Span = tuple[tuple[int, int], tuple[int, int]]


@dataclass(frozen=True, slots=True)
class Source:
    """One policy in a simulation, named as the simulator names it."""

    source_id: str  # SourcePolicyId
    source_type: str  # SourcePolicyType
    document: str

    @property
    def compiled(self) -> CompiledPolicy:
        return _compiled(self.document)


@lru_cache(maxsize=1024)
def _compiled(document: str) -> CompiledPolicy:
    try:
        return compile_policy(document)
    except PolicyParseError as e:
        raise AwsError("PolicyEvaluation", f"The policy could not be evaluated: {e}", 500,
                       sender_fault=False) from None


# ---- statement positions ---------------------------------------------------------------

@lru_cache(maxsize=1024)
def statement_spans(text: str) -> tuple[Span, ...]:
    """(start, end) (line, column), 1-based, of each statement, as IAM reports them.

    IAM reads documents with a streaming JSON parser and records where the parser stood:
    the start is just after the token before the statement (the `[`, the previous
    statement's `}` — so a statement starts where the one before it ended — or, for a
    lone statement object, its own `{`, which the parser reads ahead with the member
    name); the end is just after the statement's `}`.
    """
    value_at = _member_value(text, "Statement")
    if value_at is None:
        return ()
    decoder = json.JSONDecoder()
    if text[value_at] == "{":
        _, end = decoder.raw_decode(text, value_at)
        return ((_position(text, value_at + 1), _position(text, end)),)
    if text[value_at] != "[":
        return ()
    spans: list[Span] = []
    before = i = value_at + 1
    while True:
        while text[i] in " \t\r\n,":
            i += 1
        if text[i] == "]":
            return tuple(spans)
        _, end = decoder.raw_decode(text, i)
        spans.append((_position(text, before), _position(text, end)))
        before = i = end


def _member_value(text: str, key: str) -> int | None:
    """Offset of the value of the top-level member `key` of a JSON object text."""
    decoder = json.JSONDecoder()
    i = text.index("{") + 1
    while True:
        while text[i] in " \t\r\n,":
            i += 1
        if text[i] == "}":
            return None
        name, after = decoder.raw_decode(text, i)
        j = text.index(":", after) + 1
        while text[j].isspace():
            j += 1
        if name == key:
            return j
        _, i = decoder.raw_decode(text, j)


def _position(text: str, offset: int) -> tuple[int, int]:
    line = text.count("\n", 0, offset) + 1
    return line, offset - text.rfind("\n", 0, offset)


# ---- inputs -------------------------------------------------------------------------------

def _document(text: str, policy_type: str) -> str:
    # The simulator reports bad documents as InvalidInput (MalformedPolicyDocument is
    # not among its errors), with IAM's usual wording.
    try:
        validate_policy(text, policy_type)
    except AwsError as e:
        raise errors.invalid_input(e.message) from None
    return text


def _inputs(params: dict[str, Any], name: str, policy_type: str) -> list[Source]:
    return [Source(f"{name}.{i}", IDENTITY_SOURCE, _document(text, policy_type))
            for i, text in enumerate(params.get(name) or [], start=1)]


def _boundary_input(params: dict[str, Any]) -> Source | None:
    given = _inputs(params, "PermissionsBoundaryPolicyInputList", "identity")
    if len(given) > 1:
        raise errors.invalid_input("Only one permissions boundary policy can be simulated.")
    return given[0] if given else None


def _context(entries: list[dict[str, Any]]) -> dict[str, Any]:
    """ContextEntries → condition context; list types stay lists (multi-valued keys)."""
    ctx: dict[str, Any] = {}
    for entry in entries:
        values = list(entry.get("ContextKeyValues") or [])
        if (entry.get("ContextKeyType") or "").endswith("List") or len(values) > 1:
            ctx[entry["ContextKeyName"]] = values
        elif values:
            ctx[entry["ContextKeyName"]] = values[0]
    return ctx


def _owner(params: dict[str, Any], caller: Caller) -> str:
    owner = params.get("ResourceOwner")
    if not owner:
        return caller.account
    if _ACCOUNT.match(owner):
        return owner
    if m := _ACCOUNT_ARN.match(owner):
        return m.group(1)
    raise errors.invalid_input(f"'{owner}' is not a valid as a Resource Owner.")


def _resources(params: dict[str, Any]) -> list[str]:
    resources = params.get("ResourceArns") or ["*"]
    for r in resources:
        if r != "*" and not (r.startswith("arn:") and len(r.split(":", 5)) == 6):
            raise errors.invalid_input(f"ResourceNames are not in a valid ARN format: {r}.")
    return resources


def _caller(arn: str) -> Caller:
    # IAM simulates only its own entities as callers: "You cannot specify the ARN of an
    # assumed role, federated user, or a service principal" (IAM API reference).
    parts = arn.split(":", 5)
    if len(parts) != 6 or parts[2] != "iam" or not parts[5].startswith(("user/", "role/")):
        raise errors.invalid_input(f"Invalid CallerArn: {arn}")
    try:
        return Caller.from_arn(arn)
    except ValueError:
        raise errors.invalid_input(f"Invalid CallerArn: {arn}") from None


# ---- simulation --------------------------------------------------------------------------

@dataclass(slots=True)
class _Simulation:
    caller: Caller
    identity: list[Source]
    boundary: Source | None
    resource_policy: Source | None
    owner: str
    context: dict[str, Any]

    def policy_set(self, with_resource: bool = True) -> PolicySet:
        return PolicySet.build(
            identity=[(s.source_id, s.compiled) for s in self.identity],
            boundary=(self.boundary.source_id, self.boundary.compiled) if self.boundary else None,
            resource=("ResourcePolicy", self.resource_policy.compiled)
            if with_resource and self.resource_policy else None,
        )

    def run(self, action: str, resource: str) -> dict[str, Any]:
        req = RequestContext(self.caller, action, resource, resource_account=self.owner, context=self.context)
        decision = evaluate(req, self.policy_set())
        by_id = {s.source_id: s for s in self._sources()}
        # The resource policy's statements come first, as IAM lists them; a boundary
        # shows only when its Deny decided (its Allows are in the boundary detail).
        ordered = sorted(decision.matched, key=lambda m: m[0] != RESOURCE)
        matched = [_statement(by_id[lp.label], st.index) for kind, lp, st in ordered
                   if lp.label in by_id and (kind != BOUNDARY or not st.allow)]
        missing = self._missing(req)
        result: dict[str, Any] = {
            "EvalActionName": action,
            "EvalResourceName": resource,
            "EvalDecision": _DECISION[decision.kind],
            "MatchedStatements": matched,
            "MissingContextValues": missing,
        }
        boundary = None
        if self.boundary is not None:
            boundary = {"AllowedByPermissionsBoundary": _alone(self.boundary, req) == "allowed"}
            result["PermissionsBoundaryDecisionDetail"] = boundary
        if resource == "*":
            return result
        # With a named resource IAM always returns the details map; it is filled only
        # when the caller and the resource are in different accounts.
        details = {} if req.same_account else self._details(req)
        result["EvalDecisionDetails"] = details
        specific: dict[str, Any] = {"EvalResourceName": resource, "EvalResourceDecision": result["EvalDecision"],
                                    "MatchedStatements": matched, "MissingContextValues": missing}
        if details:
            specific["EvalDecisionDetails"] = details
        if boundary is not None:
            specific["PermissionsBoundaryDecisionDetail"] = boundary
        result["ResourceSpecificResults"] = [specific]
        return result

    def _sources(self) -> list[Source]:
        return self.identity + [s for s in (self.boundary, self.resource_policy) if s is not None]

    def _details(self, req: RequestContext) -> dict[str, str]:
        """Each policy type's own verdict, for cross-account simulations."""
        own = RequestContext(self.caller, req.action, req.resource, context=self.context)
        out = {IDENTITY_SOURCE: _DECISION[evaluate(own, self.policy_set(with_resource=False)).kind]}
        if self.resource_policy is not None:
            # A Deny's NotPrincipal never exempts a caller with a permissions boundary.
            out[RESOURCE_SOURCE] = _alone(self.resource_policy, req, bounded=self.boundary is not None)
        return out

    def _missing(self, req: RequestContext) -> list[str]:
        """Condition keys of statements that match the action and resource but that the
        simulation left unset."""
        keys: list[str] = []
        for source in self._sources():
            for st in statement_results(source.compiled, req):
                if st.action_matched and st.resource_matched and st.principal_matched is not False:
                    keys += [k for k in st.missing_context_keys if k not in keys]
        return keys


def _alone(source: Source, req: RequestContext, *, bounded: bool = False) -> str:
    """One policy's own verdict: a Deny that applies wins, then an Allow that applies.
    `bounded`: the caller has a permissions boundary."""
    applying = [st for st in statement_results(source.compiled, req, bounded) if st.applies]
    if any(st.effect == "Deny" for st in applying):
        return "explicitDeny"
    return "allowed" if applying else "implicitDeny"


def _statement(source: Source, index: int) -> dict[str, Any]:
    out: dict[str, Any] = {"SourcePolicyId": source.source_id, "SourcePolicyType": source.source_type}
    spans = statement_spans(source.document)
    if index < len(spans):
        (sl, sc), (el, ec) = spans[index]
        out["StartPosition"] = {"Line": sl, "Column": sc}
        out["EndPosition"] = {"Line": el, "Column": ec}
    return out


def _simulate(params: dict[str, Any], caller: Caller, identity: list[Source], boundary: Source | None) -> dict[str, Any]:
    resource_policy = None
    if params.get("ResourcePolicy"):
        resource_policy = Source("ResourcePolicy", RESOURCE_SOURCE, _document(params["ResourcePolicy"], "resource"))
    sim = _Simulation(caller, identity, boundary, resource_policy, _owner(params, caller),
                      _context(params.get("ContextEntries") or []))
    resources = _resources(params)
    results = [sim.run(action, resource) for action in params["ActionNames"] for resource in resources]
    numbered = list(enumerate(results))
    page, more = common.paginate(numbered, params, key=lambda item: f"{item[0]:08d}")
    return {"EvaluationResults": [r for _, r in page], **more}


def simulate_custom_policy(call: Call, params: dict[str, Any]) -> dict[str, Any]:
    identity = _inputs(params, "PolicyInputList", "identity")
    boundary = _boundary_input(params)
    if params.get("ResourcePolicy") and not params.get("CallerArn"):
        raise errors.invalid_input("CallerArn is required when ResourcePolicy is specified.")
    caller = _caller(params["CallerArn"]) if params.get("CallerArn") else _unnamed_caller(call.principal.account)
    return _simulate(params, caller, identity, boundary)


def _unnamed_caller(account: str) -> Caller:
    # Without a CallerArn the identity policies are simulated for an IAM user of the
    # calling account (the policies' Principal-free statements do not look at its name).
    return Caller.from_arn(f"arn:aws:iam::{account}:user/SimulatedUser")


# ---- the principal's own policies --------------------------------------------------------

def _with_ids(found: list[effective.SourcedPolicy], kind: str, entity: str) -> list[Source]:
    out = []
    for s in found:
        inline = s.source_type in ("user", "group", "role")
        out.append(Source(f"{kind}_{entity}_{s.source_id}" if inline else s.source_id, IDENTITY_SOURCE, s.document))
    return out


def principal_policies(call: Call, source_arn: str) -> tuple[str, dict[str, Any], list[Source], Source | None]:
    """(kind, record, identity policies, boundary) of a user (with its groups'), group or
    role, gathered by `effective` as the authorizer gathers them."""
    account = call.principal.account
    parts = source_arn.split(":", 5)
    kind, _, path_name = parts[5].partition("/") if len(parts) == 6 and parts[2] == "iam" else ("", "", "")
    name = path_name.rsplit("/", 1)[-1]
    if kind == "user":
        record, _ = common.require_user(call.store, account, name)
        found = _with_ids(effective.owned(call.store, account, record, "user"), "user", name)
        for group_name in record.get("Groups", []):
            group = call.store.get(records.GROUP, records.name_key(account, group_name))
            if group is not None:
                found += _with_ids(effective.owned(call.store, account, group.value, "group"), "group", group_name)
    elif kind == "role":
        record, _ = common.require_role(call.store, account, name)
        found = _with_ids(effective.owned(call.store, account, record, "role"), "role", name)
    elif kind == "group":
        record, _ = common.require_group(call.store, account, name)
        found = _with_ids(effective.owned(call.store, account, record, "group"), "group", name)
    else:
        raise errors.invalid_input(f"Invalid PolicySourceArn: {source_arn}")
    boundary = None
    if kind != "group" and (text := effective.boundary(call.store, account, record)) is not None:
        value = record["PermissionsBoundary"]
        arn_ = value["PermissionsBoundaryArn"] if isinstance(value, dict) else value
        boundary = Source(arn_.rsplit("/", 1)[-1], IDENTITY_SOURCE, text)
    return kind, record, found, boundary


def simulate_principal_policy(call: Call, params: dict[str, Any]) -> dict[str, Any]:
    kind, record, found, boundary = principal_policies(call, params["PolicySourceArn"])
    extra = _inputs(params, "PolicyInputList", "identity")
    boundary = _boundary_input(params) or boundary  # a given boundary replaces the entity's
    if params.get("CallerArn"):
        caller = _caller(params["CallerArn"])
    elif kind == "group":
        if params.get("ResourcePolicy"):
            raise errors.invalid_input("CallerArn is required when ResourcePolicy is specified.")
        caller = _unnamed_caller(call.principal.account)
    else:
        # The simulated user or role carries its own tags, as its requests would.
        caller = Caller.from_arn(record["Arn"], user_id=record.get(f"{kind.capitalize()}Id", ""),
                                 tags=records.principal_tags(record))
    return _simulate(params, caller, found + extra, boundary)


# ---- context keys ------------------------------------------------------------------------

def _keys(sources: list[Source]) -> dict[str, Any]:
    seen: dict[str, str] = {}
    for source in sources:
        for key in source.compiled.context_keys():
            seen.setdefault(key.lower(), key)
    return {"ContextKeyNames": list(seen.values())}


def get_context_keys_for_custom_policy(call: Call, params: dict[str, Any]) -> dict[str, Any]:
    return _keys(_inputs(params, "PolicyInputList", "identity"))


def get_context_keys_for_principal_policy(call: Call, params: dict[str, Any]) -> dict[str, Any]:
    _, _, found, _ = principal_policies(call, params["PolicySourceArn"])
    return _keys(found + _inputs(params, "PolicyInputList", "identity"))


HANDLERS = {
    "SimulateCustomPolicy": simulate_custom_policy,
    "SimulatePrincipalPolicy": simulate_principal_policy,
    "GetContextKeysForCustomPolicy": get_context_keys_for_custom_policy,
    "GetContextKeysForPrincipalPolicy": get_context_keys_for_principal_policy,
}


def _on_source(action: str) -> Any:
    # Simulating an entity's policies is an action on that entity.
    def authz(call: Call, params: dict[str, Any]) -> list[Access]:
        return [Access(action, params["PolicySourceArn"])]

    return authz


AUTHZ = {
    "SimulateCustomPolicy": lambda call, params: [Access("iam:SimulateCustomPolicy", "*")],
    "GetContextKeysForCustomPolicy": lambda call, params: [Access("iam:GetContextKeysForCustomPolicy", "*")],
    "SimulatePrincipalPolicy": _on_source("iam:SimulatePrincipalPolicy"),
    "GetContextKeysForPrincipalPolicy": _on_source("iam:GetContextKeysForPrincipalPolicy"),
}
