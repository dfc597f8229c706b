"""Helpers for the policy-engine tests: build requests and policy sets tersely."""

from __future__ import annotations

from typing import Any

import pytest

from skyhold.policy import Caller, Decision, PolicySet, RequestContext, evaluate

ACCT = "111122223333"
OTHER = "444455556666"
ALICE = f"arn:aws:iam::{ACCT}:user/alice"
ROLE = f"arn:aws:iam::{ACCT}:role/app/Builder"
SESSION = f"arn:aws:sts::{ACCT}:assumed-role/Builder/s1"


def stmt(effect: str = "Allow", action: Any = "s3:GetObject", resource: Any = "*", **extra: Any) -> dict[str, Any]:
    s: dict[str, Any] = {"Effect": effect, "Action": action}
    if resource is not None:
        s["Resource"] = resource
    s.update(extra)
    return s


def doc(*statements: dict[str, Any], version: str = "2012-10-17") -> dict[str, Any]:
    return {"Version": version, "Statement": list(statements)}


def decide(
    principal: str = ALICE,
    action: str = "s3:GetObject",
    resource: str = "arn:aws:s3:::b/k",
    context: dict[str, Any] | None = None,
    resource_account: str | None = None,
    flags: dict[str, bool] | None = None,
    **policies: Any,
) -> Decision:
    req = RequestContext(
        Caller.from_arn(principal),
        action,
        resource,
        resource_account=resource_account,
        context=context or {},
        **(flags or {}),
    )
    # `resource` is the resource ARN here; the resource policy is `resource_policy`.
    if "resource_policy" in policies:
        policies["resource"] = policies.pop("resource_policy")
    return evaluate(req, PolicySet.build(**policies))


def kind(d: Decision) -> str:
    return d.kind.value


@pytest.fixture
def allow_all() -> dict[str, Any]:
    return doc(stmt(action="*"))
