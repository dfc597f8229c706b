"""The policies that apply to an identity: its inline and attached policies (a user's
groups' too) and its permissions boundary — one home for the authorizer and the
policy simulator."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from skyhold.services.iam import managed, records
from skyhold.services.iam.aws_managed import is_aws_managed
from skyhold.store.base import Store

# A boundary whose policy is gone allows nothing, as on AWS.
_EMPTY = json.dumps({"Version": "2012-10-17", "Statement": []})


@dataclass(frozen=True, slots=True)
class SourcedPolicy:
    label: str  # how explanations name it
    document: str
    source_type: str  # the simulator's PolicySourceType: user, group, role, aws-managed, user-managed
    source_id: str  # the simulator's SourcePolicyId


def owned(store: Store, account: str, owner: dict[str, Any], kind: str) -> list[SourcedPolicy]:
    """Inline and attached policies of one user, group or role record."""
    found = [SourcedPolicy(f"{kind} inline policy {name}", text, kind, name)
             for name, text in owner.get("Policies", {}).items()]
    for policy_arn in owner.get("AttachedPolicies", []):
        hit = managed.find(store, account, policy_arn)
        if hit is not None:
            kind_of = "aws-managed" if is_aws_managed(policy_arn) else "user-managed"
            found.append(SourcedPolicy(policy_arn, managed.default_document(hit[0]), kind_of,
                                       policy_arn.rsplit("/", 1)[-1]))
    return found


def of_user(store: Store, account: str, user: dict[str, Any]) -> list[SourcedPolicy]:
    found = owned(store, account, user, "user")
    for group_name in user.get("Groups", []):
        group = store.get(records.GROUP, records.name_key(account, group_name))
        if group is not None:
            found += owned(store, account, group.value, "group")
    return found


def boundary(store: Store, account: str, owner: dict[str, Any]) -> str | None:
    value = owner.get("PermissionsBoundary")
    if not value:
        return None
    arn_ = value["PermissionsBoundaryArn"] if isinstance(value, dict) else value
    hit = managed.find(store, account, arn_)
    return managed.default_document(hit[0]) if hit else _EMPTY
