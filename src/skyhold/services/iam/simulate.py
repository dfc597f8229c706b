"""IAM's policy simulator on Skyhold's policy engine: SimulatePrincipalPolicy,
SimulateCustomPolicy and GetContextKeysFor{Principal,Custom}Policy.

Each (action, resource) pair is decided exactly as a real request would be, with the
simulated caller, context entries, resource policy and owner; results carry the
statements that decided (with their line/column in the document) and the context
keys the policies asked for but the simulation did not supply.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from skyhold import arn as arns
from skyhold.authz import Access
from skyhold.errors import AwsError
from skyhold.policy import (
    Caller,
    DecisionKind,
    PolicySet,
    RequestContext,
    compile_policy,
    evaluate,
    statement_results,
    validate_policy,
)
from skyhold.services.iam import common, effective, errors, records
from skyhold.services.iam.effective import SourcedPolicy

if TYPE_CHECKING:
    from skyhold.pipeline import Call

_DECISION = {
    DecisionKind.ALLOWED: "allowed",
    DecisionKind.EXPLICITLY_DENIED: "explicitDeny",
    DecisionKind.IMPLICITLY_DENIED: "implicitDeny",
}


def _inputs(params: dict[str, Any], name: str, source_type: str, policy_type: str) -> list[SourcedPolicy]:
    found = []
    for i, text in enumerate(params.get(name) or [], start=1):
        validate_policy(text, policy_type)
        found.append(SourcedPolicy(f"{name}.{i}", text, source_type, f"{name}.{i}"))
    return found


def _context(entries: list[dict[str, Any]]) -> dict[str, Any]:
    ctx: dict[str, Any] = {}
    for entry in entries or []:
        values = entry.get("ContextKeyValues") or []
        ctx[entry["ContextKeyName"]] = values if entry.get("ContextKeyType", "").endswith("List") else (
            values[0] if values else "")
    return ctx


def _positions(text: str) -> list[tuple[tuple[int, int], tuple[int, int]]]:
    """(start, end) (line, column), 1-based, of each statement in a policy's text."""
    decoder = json.JSONDecoder()
    spans: list[tuple[int, int]] = []
    key_at = _find_key(text, "Statement")
    if key_at is None:
        return []
    i = text.index(":", key_at) + 1
    while text[i].isspace():
        i += 1
    if text[i] == "{":
        _, end = decoder.raw_decode(text, i)
        spans.append((i, end))
    elif text[i] == "[":
        i += 1
        while True:
            while text[i] in " \t\r\n,":
                i += 1
            if text[i] == "]":
                break
            _, end = decoder.raw_decode(text, i)
            spans.append((i, end))
            i = end
    return [(_line_col(text, a), _line_col(text, b)) for a, b in spans]


def _find_key(text: str, key: str) -> int | None:
    """Offset of the top-level `"key"` member of a JSON object text."""
    decoder = json.JSONDecoder()
    i = text.index("{") + 1
    while i < len(text):
        while text[i] in " \t\r\n,":
            i += 1
        if text[i] == "}":
            return None
        name, after = decoder.raw_decode(text, i)
        colon = text.index(":", after)
        j = colon + 1
        while text[j].isspace():
            j += 1
        _, value_end = decoder.raw_decode(text, j)
        if name == key:
            return i
        i = value_end
    return None


def _line_col(text: str, offset: int) -> tuple[int, int]:
    line = text.count("\n", 0, offset) + 1
    column = offset - (text.rfind("\n", 0, offset) + 1) + 1
    return line, column


def _simulate(
    call: Call,
    params: dict[str, Any],
    caller: Caller,
    identity: list[SourcedPolicy],
    boundary: SourcedPolicy | None,
) -> dict[str, Any]:
    resource_policy = None
    if params.get("ResourcePolicy"):
        validate_policy(params["ResourcePolicy"], "resource")
        resource_policy = SourcedPolicy("ResourcePolicy", params["ResourcePolicy"], "resource", "ResourcePolicy")
    owner = call.principal.account
    if params.get("ResourceOwner"):
        try:
            owner = arns.parse(params["ResourceOwner"]).account
        except ValueError:
            raise errors.invalid_input(f"Invalid ResourceOwner: {params['ResourceOwner']}") from None
    context = _context(params.get("ContextEntries") or [])
    by_label = {s.label: s for s in identity + [p for p in (boundary, resource_policy) if p]}
    policy_set = PolicySet.build(
        identity=[(s.label, s.document) for s in identity],
        resource=(resource_policy.label, resource_policy.document) if resource_policy else None,
        boundary=(boundary.label, boundary.document) if boundary else None,
    )
    results = []
    for action in params["ActionNames"]:
        for resource in params.get("ResourceArns") or ["*"]:
            req = RequestContext(caller, action, resource, resource_account=owner, context=context)
            decision = evaluate(req, policy_set)
            result: dict[str, Any] = {
                "EvalActionName": action,
                "EvalResourceName": resource,
                "EvalDecision": _DECISION[decision.kind],
                "MatchedStatements": [_matched(by_label[s.label], s.index) for s in decision.statements
                                      if s.label in by_label],
                "MissingContextValues": _missing(list(by_label.values()), req),
            }
            if boundary is not None:
                alone = evaluate(req, PolicySet.build(identity=[(boundary.label, boundary.document)]))
                result["PermissionsBoundaryDecisionDetail"] = {"AllowedByPermissionsBoundary": alone.allowed}
            if resource_policy is not None:
                result["EvalDecisionDetails"] = {"IAM Policy": _DECISION[evaluate(req, PolicySet.build(
                    identity=[(s.label, s.document) for s in identity])).kind]}
            results.append(result)
    page, more = common.paginate(results, params, key=lambda r: f"{results.index(r):08d}")
    return {"EvaluationResults": page, **more}


def _matched(policy: SourcedPolicy, index: int) -> dict[str, Any]:
    spans = _positions(policy.document)
    out: dict[str, Any] = {"SourcePolicyId": policy.source_id, "SourcePolicyType": policy.source_type}
    if index < len(spans):
        (sl, sc), (el, ec) = spans[index]
        out["StartPosition"] = {"Line": sl, "Column": sc}
        out["EndPosition"] = {"Line": el, "Column": ec}
    return out


def _missing(policies: list[SourcedPolicy], req: RequestContext) -> list[str]:
    keys: list[str] = []
    for policy in policies:
        for st in statement_results(compile_policy(policy.document), req):
            if st.action_matched and st.resource_matched:
                keys += [k for k in st.missing_context_keys if k not in keys]
    return keys


def _default_caller(call: Call) -> Caller:
    # Without CallerArn AWS simulates an unnamed caller of the calling account.
    return Caller.from_arn(arns.user(call.principal.account, "SimulatedUser"))


def simulate_custom_policy(call: Call, params: dict[str, Any]) -> dict[str, Any]:
    identity = _inputs(params, "PolicyInputList", "none", "identity")
    bounds = _inputs(params, "PermissionsBoundaryPolicyInputList", "none", "boundary")
    caller = Caller.from_arn(params["CallerArn"]) if params.get("CallerArn") else _default_caller(call)
    if params.get("ResourcePolicy") and not params.get("CallerArn"):
        raise errors.invalid_input("Invalid input: CallerArn is required when ResourcePolicy is specified.")
    return _simulate(call, params, caller, identity, bounds[0] if bounds else None)


def _principal_policies(call: Call, source_arn: str) -> tuple[Caller, list[SourcedPolicy], SourcedPolicy | None]:
    account = call.principal.account
    try:
        parsed = arns.parse(source_arn)
    except ValueError:
        raise errors.invalid_input(f"Invalid PolicySourceArn: {source_arn}") from None
    kind, _, name = parsed.resource.partition("/")
    name = name.rsplit("/", 1)[-1]
    if kind == "user":
        user, _ = common.require_user(call.store, account, name)
        found, owner = effective.of_user(call.store, account, user), user
    elif kind == "role":
        role, _ = common.require_role(call.store, account, name)
        found, owner = effective.owned(call.store, account, role, "role"), role
    elif kind == "group":
        group, _ = common.require_group(call.store, account, name)
        found, owner = effective.owned(call.store, account, group, "group"), None
    else:
        raise errors.invalid_input(f"Invalid PolicySourceArn: {source_arn}")
    bound_text = effective.boundary(call.store, account, owner) if owner else None
    bound = SourcedPolicy("permissions boundary", bound_text, "user-managed", "PermissionsBoundary") if bound_text else None
    caller_arn = source_arn if kind in ("user", "role") else arns.user(account, "SimulatedUser")
    return Caller.from_arn(caller_arn), found, bound


def simulate_principal_policy(call: Call, params: dict[str, Any]) -> dict[str, Any]:
    caller, found, bound = _principal_policies(call, params["PolicySourceArn"])
    extra = _inputs(params, "PolicyInputList", "none", "identity")
    override = _inputs(params, "PermissionsBoundaryPolicyInputList", "none", "boundary")
    if params.get("CallerArn"):
        caller = Caller.from_arn(params["CallerArn"])
    return _simulate(call, params, caller, found + extra, override[0] if override else bound)


def _keys(policies: list[SourcedPolicy]) -> dict[str, Any]:
    names: list[str] = []
    for policy in policies:
        for key in compile_policy(policy.document).context_keys():
            if key.lower() not in (n.lower() for n in names):
                names.append(key)
    return {"ContextKeyNames": names}


def get_context_keys_for_custom_policy(call: Call, params: dict[str, Any]) -> dict[str, Any]:
    return _keys(_inputs(params, "PolicyInputList", "none", "identity"))


def get_context_keys_for_principal_policy(call: Call, params: dict[str, Any]) -> dict[str, Any]:
    _, found, _ = _principal_policies(call, params["PolicySourceArn"])
    return _keys(found + _inputs(params, "PolicyInputList", "none", "identity"))


HANDLERS = {
    "SimulateCustomPolicy": simulate_custom_policy,
    "SimulatePrincipalPolicy": simulate_principal_policy,
    "GetContextKeysForCustomPolicy": get_context_keys_for_custom_policy,
    "GetContextKeysForPrincipalPolicy": get_context_keys_for_principal_policy,
}


def _on_source(action: str) -> Any:
    def authz(call: Call, params: dict[str, Any]) -> list[Access]:
        return [Access(action, params["PolicySourceArn"])]

    return authz


AUTHZ = {
    "SimulateCustomPolicy": lambda call, params: [Access("iam:SimulateCustomPolicy", "*")],
    "GetContextKeysForCustomPolicy": lambda call, params: [Access("iam:GetContextKeysForCustomPolicy", "*")],
    "SimulatePrincipalPolicy": _on_source("iam:SimulatePrincipalPolicy"),
    "GetContextKeysForPrincipalPolicy": _on_source("iam:GetContextKeysForPrincipalPolicy"),
}
