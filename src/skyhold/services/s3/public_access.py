"""Block Public Access: the bucket's settings OR'ed with its owner's account's, and
AWS's rules for when a bucket policy is "public".

A policy is public when an Allow statement grants to everyone (Principal "*" or
{"AWS": "*"}) without a condition that pins the request to fixed values of a key
that names who or where the caller is (source IP block, VPC, account, ARN, org).
"""

from __future__ import annotations

import ipaddress
import json
from typing import Any

from skyhold.store.base import Store

SETTINGS = ("BlockPublicAcls", "IgnorePublicAcls", "BlockPublicPolicy", "RestrictPublicBuckets")
ALL_ON = {name: True for name in SETTINGS}
ACCOUNT_KIND = "s3.account-pab"  # key: account id

# Keys whose fixed values make a grant non-public (lower-cased, as IAM compares them).
_PINNING_KEYS = frozenset({
    "aws:sourcearn", "aws:sourcevpc", "aws:sourcevpce", "aws:sourceaccount", "aws:sourceowner",
    "aws:principalaccount", "aws:principalarn", "aws:principalorgid", "aws:principalorgpaths",
    "aws:userid", "aws:sourceorgid", "aws:sourceorgpaths", "s3:dataaccesspointarn",
    "s3:dataaccesspointaccount", "aws:sourceip",
})
_FIXED_OPERATORS = ("stringequals", "stringequalsignorecase", "arnequals", "arnlike", "ipaddress",
                    "stringlike")


def account_settings(store: Store, account: str) -> dict[str, bool] | None:
    rec = store.get(ACCOUNT_KIND, account)
    return rec.value if rec else None


def effective(store: Store, bucket: dict[str, Any]) -> dict[str, bool]:
    own = bucket.get("PublicAccessBlock") or {}
    acct = account_settings(store, bucket["Owner"]) or {}
    return {name: bool(own.get(name)) or bool(acct.get(name)) for name in SETTINGS}


def is_public_policy(policy: str | dict[str, Any] | None) -> bool:
    if not policy:
        return False
    doc = json.loads(policy) if isinstance(policy, str) else policy
    statements = doc.get("Statement", [])
    for st in statements if isinstance(statements, list) else [statements]:
        if st.get("Effect") == "Allow" and _grants_everyone(st) and not _pinned(st.get("Condition") or {}):
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


def _pinned(condition: dict[str, Any]) -> bool:
    for operator, block in condition.items():
        op = operator.lower().removeprefix("forallvalues:").removeprefix("foranyvalue:")
        if op.endswith("ifexists") or op not in _FIXED_OPERATORS or not isinstance(block, dict):
            continue
        for key, values in block.items():
            key = key.lower()
            if key not in _PINNING_KEYS:
                continue
            vals = values if isinstance(values, list) else [values]
            if key == "aws:sourceip":
                if all(_narrow_cidr(str(v)) for v in vals):
                    return True
            elif all("*" not in str(v) and "?" not in str(v) for v in vals):
                return True
    return False


def _narrow_cidr(text: str) -> bool:
    """AWS treats IPv4 blocks wider than /8 (and IPv6 wider than /32) as public."""
    try:
        net = ipaddress.ip_network(text, strict=False)
    except ValueError:
        return False
    return net.prefixlen >= (8 if net.version == 4 else 32)
