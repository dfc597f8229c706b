"""Which services and operations Skyhold serves, and the handler for each.

A service is a package `skyhold.services.<name>` (the botocore service name) that
exports `HANDLERS: dict[str, Handler]` keyed by operation name and, optionally,
`AUTHZ: dict[str, AuthzFn]` (see skyhold.authz). Adding a service means adding its
package — nothing else; this module discovers it.
"""

from __future__ import annotations

import importlib
from collections.abc import Awaitable, Callable
from functools import cache
from types import ModuleType
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


@cache
def _packages() -> dict[str, ModuleType]:
    found = {}
    for name in SERVED:
        try:
            found[name] = importlib.import_module(f"skyhold.services.{name}")
        except ModuleNotFoundError as err:
            if err.name != f"skyhold.services.{name}":
                raise  # a real import error inside an existing service
    return found


def load_handlers() -> dict[str, dict[str, Handler]]:
    return {name: getattr(pkg, "HANDLERS", {}) for name, pkg in _packages().items()}


def load_authz() -> dict[str, dict[str, AuthzFn]]:
    """Each service's authorization map (operation → the Access checks it needs)."""
    return {name: getattr(pkg, "AUTHZ", {}) for name, pkg in _packages().items()}


def load_lifecycle() -> list[ModuleType]:
    """Service packages that run something alongside the server: they export
    `async def on_startup(pipeline)` and/or `async def on_shutdown(pipeline)`
    (e.g. EC2 starts each running instance's metadata service)."""
    return [pkg for pkg in _packages().values() if hasattr(pkg, "on_startup") or hasattr(pkg, "on_shutdown")]
