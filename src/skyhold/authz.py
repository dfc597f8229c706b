"""What an operation means to IAM: the contract between services and the authorizer.

Each service may export `AUTHZ: dict[str, AuthzFn]` (operation name → function).
The function turns the call's parameters into the list of `Access` checks the
operation needs (CopyObject needs get on the source and put on the destination;
most operations need one). An operation without an entry needs
`<service prefix>:<OperationName>` on `*` — right for many list/describe calls.

The pipeline evaluates every Access with the caller's identity policies, boundary,
session policies (and later SCPs/RCPs) plus the Access's resource policy; the
first denial stops the call with AWS's AccessDenied message.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from skyhold.pipeline import Call


@dataclass(slots=True)
class Access:
    action: str  # "iam:CreateUser"
    resource: str  # the resource ARN, or "*"
    # Request-specific condition keys (aws:RequestTag/…, aws:TagKeys, iam:PassedToService, s3:prefix…).
    context: dict[str, Any] = field(default_factory=dict)
    # The account that owns the resource; None means the caller's account.
    resource_account: str | None = None
    # The resource's own policy document (JSON text), when the resource has one.
    resource_policy: str | None = None
    # KMS key policies and role trust policies must allow even in the same account.
    resource_policy_required: bool = False
    # How a denial names the resource when the request did not (KMS Decrypt of a
    # ciphertext without KeyId: "the resource associated with this ciphertext").
    denied_resource_text: str | None = None
    # What policies' Resource elements are matched against when the request names no
    # resource ("*") but the service still checks one (S3's ListAllMyBuckets).
    matched_as: str | None = None


AuthzFn = Callable[["Call", dict[str, Any]], list[Access]]
