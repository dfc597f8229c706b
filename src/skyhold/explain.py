"""`skyhold explain`: why was a call allowed or denied, and what would allow it.

Reads the audit trail in the data dir: the call's CloudTrail event and, for a
denial, the policy engine's decision trace recorded with it.
"""

from __future__ import annotations

import json
from typing import Any

from skyhold.store.base import Store
from skyhold.trail.events import EVENT, REQUEST


def find_by_request(store: Store, request_id: str) -> dict[str, Any] | None:
    index = store.get(REQUEST, request_id)
    if index is None:
        return None
    rec = store.get(EVENT, index.value["events"][0])
    return rec.value if rec else None


def find_last_denied(store: Store, principal: str, scan_limit: int = 100_000) -> dict[str, Any] | None:
    """The newest denied call of a principal (ARN, or user/role/session name)."""
    before = ""
    seen = 0
    while seen < scan_limit:
        rows = store.scan(EVENT, before=before, limit=500, reverse=True)
        if not rows:
            return None
        for row in rows:
            before = row.key
            seen += 1
            value = row.value
            if value.get("explain") and _is_principal(value["event"], principal):
                return value
    return None


def _is_principal(event: dict[str, Any], wanted: str) -> bool:
    ident = event["userIdentity"]
    arn = ident.get("arn", "")
    # A role session's calls are the role's too: a learner names the role they assumed
    # (its name or ARN), not the session ARN the CLI made up.
    issuer = (ident.get("sessionContext") or {}).get("sessionIssuer") or {}
    names = (arn, ident.get("userName"), arn.rsplit("/", 1)[-1], issuer.get("userName"), issuer.get("arn"))
    return wanted in names or (
        wanted.startswith("arn:") and arn.startswith(wanted.rstrip("/") + "/")
    )


def suggestion(explain: dict[str, Any]) -> dict[str, Any] | None:
    """The smallest statement that would turn this denial into an allow, and where
    it goes; None when only removing an explicit deny would help, or no policy can."""
    if explain.get("decision") == "ExplicitlyDenied" or "fix" in explain:
        return None
    action, resource, principal = explain.get("action"), explain.get("resource"), explain.get("principal")
    statement: dict[str, Any] = {"Effect": "Allow", "Action": action, "Resource": resource}
    where = {
        "identity-based policy": "an identity-based policy of the caller (user, group or role)",
        "permissions boundary": "the caller's permissions boundary",
        "session policy": "the session policy passed when the session was created",
        "resource-based policy": "the resource's policy (bucket policy, key policy, trust policy…)",
        "service control policy": "a service control policy at every level from the root to the account",
        "resource control policy": "a resource control policy at every level from the root to the account",
        "VPC endpoint policy": "the VPC endpoint policy",
    }.get(explain.get("denied_by") or "", "an identity-based policy of the caller")
    if explain.get("denied_by") == "resource-based policy" and principal:
        statement = {"Effect": "Allow", "Principal": {"AWS": _principal_for_policy(principal)},
                     "Action": action, "Resource": resource}
    return {"add_to": where, "statement": statement}


def _principal_for_policy(arn: str) -> str:
    # A role session is named in policies by its role (or by the session ARN itself).
    return arn


def render(record: dict[str, Any]) -> str:
    event, explain = record["event"], record.get("explain")
    ident = event["userIdentity"]
    lines = [
        f"Request {event['requestID']} at {event['eventTime']}",
        f"  call:      {event['eventSource'].split('.')[0]}:{event['eventName']} in {event['awsRegion']}",
        f"  principal: {ident.get('arn') or ident.get('type')} ({ident.get('type')})",
        f"  result:    {event.get('errorCode') or 'success'}",
    ]
    if event.get("errorMessage"):
        lines.append(f"  message:   {event['errorMessage']}")
    if not explain:
        lines.append("No policy decision was recorded for this call (it was allowed, or failed before authorization).")
        return "\n".join(lines)
    lines.append(f"\nDecision: {explain['decision']} by {explain.get('denied_by') or explain.get('allowed_by')}")
    lines.append(f"  action {explain.get('action')} on {explain.get('resource')}")
    for reason in explain.get("reasons", []):
        lines.append(f"  - {reason}")
    for st in explain.get("matched_statements", []):
        lines.append(f"  matched: {st['effect']} statement {st['statement']} of {st['policy_type']} {st['policy']}")
    fix = suggestion(explain)
    if "fix" in explain:  # a limit no policy can lift
        lines.append(f"\nNo policy can allow it. {explain['fix']}")
    elif fix is None:
        lines.append("\nAn explicit Deny decided this call: no Allow can override it; narrow or remove that statement.")
    else:
        lines.append(f"\nThe smallest statement that would allow it, added to {fix['add_to']}:")
        lines.append(json.dumps(fix["statement"], indent=2))
    return "\n".join(lines)
