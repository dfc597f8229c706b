"""Encoded authorization failure messages (EC2's UnauthorizedOperation), which only
sts:DecodeAuthorizationMessage can open.

The decoded text has the shape AWS documents: allowed, explicitDeny,
matchedStatements, failures, and the context (principal, action, resource,
conditions). It is sealed with the data dir's root key, so nobody reads it without
going through STS (and its permission check), and bound to the denied principal's
account: a caller of another account cannot open it.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidTag

from skyhold import arn as arns
from skyhold.crypto import root

_AAD = b"authorization-message"


def _items(values: Any) -> dict[str, Any]:
    """AWS's list shape in these messages: {"items": [{"value": …}, …]}."""
    values = values if isinstance(values, list) else [] if values is None else [values]
    return {"items": [{"value": str(v)} for v in values]}


def _conditions(block: Any) -> dict[str, Any]:
    # The shape of the request context's conditions, one item per operator and key
    # (AWS's own rendering of a statement's conditions is not documented).
    items = [{"key": key, "values": _items(value)}
             for operator, keys in (block or {}).items() if isinstance(keys, dict)
             for key, value in keys.items()]
    return {"items": items}


def _statement(s: dict[str, Any], principal_id: str) -> dict[str, Any]:
    """A matched statement as AWS's decoded message shows it (STS API reference's
    DecodeAuthorizationMessage example): statementId, effect in capitals, principals
    (the unique id of the principal the statement applied to), principalGroups,
    actions, resources and conditions."""
    doc = s.get("document") or {}
    return {
        "statementId": s.get("sid") or "",
        "effect": str(s["effect"]).upper(),
        "principals": _items(principal_id.split(":", 1)[0]),
        "principalGroups": _items([]),
        "actions": _items(doc.get("Action", doc.get("NotAction"))),
        "resources": _items(doc.get("Resource", doc.get("NotResource", "*"))),
        "conditions": _conditions(doc.get("Condition")),
    }


def decoded(explanation: dict[str, Any], principal_id: str, principal_arn: str,
            context: Mapping[str, Any]) -> dict[str, Any]:
    # The statements that decided: an explicit denial's Deny statements (an implicit
    # denial has none: no statement decided it).
    explicit = explanation["decision"] == "ExplicitlyDenied"
    matched = [_statement(s, principal_id) for s in explanation.get("matched_statements", [])
               if explicit and s["effect"] == "Deny"]
    return {
        "allowed": explanation["decision"] == "Allowed",
        "explicitDeny": explanation["decision"] == "ExplicitlyDenied",
        "matchedStatements": {"items": matched},
        "failures": {"items": explanation.get("reasons", [])},
        "context": {
            "principal": {"id": principal_id, "arn": principal_arn},
            "action": explanation.get("action"),
            "resource": explanation.get("resource"),
            "conditions": {"items": [{"key": k, "values": {"items": [{"value": str(v)} for v in
                                                                     (v if isinstance(v, list) else [v])]}}
                                     for k, v in sorted(context.items())]},
        },
    }


def _aad(account: str) -> bytes:
    # The owning account is authenticated data: unsealing with any other account fails.
    return _AAD + b":" + account.encode()


def encode(data_dir: Path, message: dict[str, Any]) -> str:
    """Seal `message` (from `decoded`) for the account of the principal it denied."""
    account = arns.parse(message["context"]["principal"]["arn"]).account
    sealed = root.seal(data_dir, json.dumps(message, separators=(",", ":")).encode(), _aad(account))
    return base64.urlsafe_b64encode(sealed).decode().rstrip("=")


def decode(data_dir: Path, text: str, account: str) -> str | None:
    """The message's text if it was sealed here for `account` (the caller's), else None."""
    try:
        sealed = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
        return root.unseal(data_dir, sealed, _aad(account)).decode()
    except (ValueError, InvalidTag, UnicodeDecodeError):
        return None
