"""Which services and operations Skyhold serves, and the handler for each.

A service package exposes `HANDLERS: dict[str, Handler]` keyed by the botocore
operation name. Adding a service means adding its package here — nothing else.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from skyhold.authz import AuthzFn
    from skyhold.pipeline import Call

Handler = Callable[["Call", dict[str, Any]], "dict[str, Any] | Awaitable[dict[str, Any]]"]

# botocore service names whose wire format Skyhold speaks (unimplemented operations
# answer NotImplemented in the service's own protocol).
SERVED = (
    "iam", "sts", "s3", "s3control", "kms", "secretsmanager", "ssm", "ec2", "ecr",
    "cloudtrail", "organizations",
)


def load_authz() -> dict[str, dict[str, AuthzFn]]:
    """Each service's authorization map (operation → the Access checks it needs)."""
    from skyhold.services import iam, sts

    return {"sts": sts.AUTHZ, "iam": iam.AUTHZ}


def load_handlers() -> dict[str, dict[str, Handler]]:
    from skyhold.services import iam, sts

    return {"sts": sts.HANDLERS, "iam": iam.HANDLERS}
