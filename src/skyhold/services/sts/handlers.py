"""STS operation handlers."""

from __future__ import annotations

from typing import Any

from skyhold.pipeline import Call


def get_caller_identity(call: Call, params: dict[str, Any]) -> dict[str, Any]:
    # Needs no permission on AWS: even a principal denied everything may ask.
    who = call.principal
    return {"UserId": who.user_id, "Account": who.account, "Arn": who.arn}


HANDLERS = {"GetCallerIdentity": get_caller_identity}

# "No permissions are required to perform this operation" (AWS STS API reference).
AUTHZ = {"GetCallerIdentity": lambda call, params: []}
