"""When a resource policy is "public", by the rule AWS's Zelkova checks apply (S3 Block
Public Access, Secrets Manager's BlockPublicPolicy and ValidateResourcePolicy).

An Allow statement is public when it grants to everyone (Principal "*", {"AWS": "*"},
or any NotPrincipal) unless one of its conditions pins the request to fixed values of
a key that names who or where the caller is. Which keys pin differs by service, so
each caller passes its own list (lower-cased, as IAM compares key names).
"""

from __future__ import annotations

import ipaddress
import json
from typing import Any

SOURCE_IP = "aws:sourceip"
# Operators that compare with fixed values; "Like"/"ArnLike" pin only without wildcards.
_FIXED_OPERATORS = ("stringequals", "stringequalsignorecase", "arnequals", "arnlike", "ipaddress",
                    "stringlike")


def is_public(policy: str | dict[str, Any] | None, pinning_keys: frozenset[str]) -> bool:
    if not policy:
        return False
    doc = json.loads(policy) if isinstance(policy, str) else policy
    statements = doc.get("Statement", [])
    for st in statements if isinstance(statements, list) else [statements]:
        if (st.get("Effect") == "Allow" and _grants_everyone(st)
                and not _pinned(st.get("Condition") or {}, pinning_keys)):
            return True
    return False


def _grants_everyone(st: dict[str, Any]) -> bool:
    if "NotPrincipal" in st:
        return True
    principal = st.get("Principal")
    if principal == "*":
        return True
    if isinstance(principal, dict):
        aws = principal.get("AWS")
        values = aws if isinstance(aws, list) else [aws]
        return "*" in values
    return False


def _pinned(condition: dict[str, Any], pinning_keys: frozenset[str]) -> bool:
    for operator, block in condition.items():
        lowered = operator.lower()
        op = lowered.removeprefix("forallvalues:").removeprefix("foranyvalue:")
        # "...IfExists" and "ForAllValues:" let a request without the key through: they pin nothing.
        if (op.endswith("ifexists") or lowered.startswith("forallvalues:") or op not in _FIXED_OPERATORS
                or not isinstance(block, dict)):
            continue
        for key, values in block.items():
            key = key.lower()
            if key not in pinning_keys:
                continue
            vals = values if isinstance(values, list) else [values]
            if key == SOURCE_IP:
                if all(_narrow_cidr(str(v)) for v in vals):
                    return True
            elif all(_fixed(str(v)) for v in vals):
                return True
    return False


def _fixed(value: str) -> bool:
    """A value without a wildcard or a policy variable ("${aws:username}"): AWS counts
    only such values as fixed (S3 User Guide, "The meaning of 'public'")."""
    return "*" not in value and "?" not in value and "${" not in value


def _narrow_cidr(text: str) -> bool:
    """AWS treats IPv4 blocks wider than /8 (and IPv6 wider than /32) as public."""
    try:
        net = ipaddress.ip_network(text, strict=False)
    except ValueError:
        return False
    return net.prefixlen >= (8 if net.version == 4 else 32)
