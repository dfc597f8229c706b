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


def decoded(explanation: dict[str, Any], principal_id: str, principal_arn: str,
            context: Mapping[str, Any]) -> dict[str, Any]:
    matched = [{"statementId": s.get("sid") or "", "effect": s["effect"], "policy": s["policy"],
                "policyType": s["policy_type"]} for s in explanation.get("matched_statements", [])]
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
