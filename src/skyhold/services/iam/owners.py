"""The three kinds of IAM identity that hold policies — users, groups, roles — described
once, so inline-policy and attachment handlers are written once for all three."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from skyhold.services.iam import common, records

if TYPE_CHECKING:
    from skyhold.pipeline import Call


@dataclass(frozen=True, slots=True)
class Owner:
    kind: str  # store kind
    label: str  # "user": used in IAM's messages
    param: str  # "UserName": the request parameter and the record field naming it
    quota: str  # IAM's quota name for attached managed policies

    def load(self, call: Call, name: str) -> tuple[dict[str, Any], int]:
        return common.require(call.store, self.kind, common.account_of(call), name, self.label)

    def save(self, call: Call, value: dict[str, Any], version: int) -> None:
        common.put(call.store, self.kind, common.account_of(call), value, value[self.param], version)


USER = Owner(records.USER, "user", "UserName", "PoliciesPerUser")
GROUP = Owner(records.GROUP, "group", "GroupName", "PoliciesPerGroup")
ROLE = Owner(records.ROLE, "role", "RoleName", "PoliciesPerRole")
ALL = {"User": USER, "Group": GROUP, "Role": ROLE}

MAX_ATTACHED = 10
