"""EC2: instances with instance profiles (each running instance with its own metadata
service), key pairs, images, tags, and the default VPC every account has."""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from skyhold.errors import AwsError
from skyhold.services.ec2 import associations, catalog, instances, keypairs, metadata, network, tags
from skyhold.services.ec2.authz import AUTHZ

if TYPE_CHECKING:
    from skyhold.pipeline import Call, Pipeline

Handler = Callable[["Call", dict[str, Any]], Any]


def _dry_runnable(handler: Handler) -> Handler:
    """EC2's DryRun: the call is authorized as usual (UnauthorizedOperation when it
    would be denied), then stops before it changes or reads anything."""

    def check(params: dict[str, Any]) -> None:
        if params.get("DryRun"):
            raise AwsError("DryRunOperation", "Request would have succeeded, but DryRun flag is set.", 412)

    if inspect.iscoroutinefunction(handler):
        async def run_async(call: Call, params: dict[str, Any]) -> Any:
            check(params)
            return await handler(call, params)
        return run_async

    def run(call: Call, params: dict[str, Any]) -> Any:
        check(params)
        return handler(call, params)
    return run


HANDLERS = {op: _dry_runnable(handler) for op, handler in {
    **instances.HANDLERS, **associations.HANDLERS, **catalog.HANDLERS, **keypairs.HANDLERS, **network.HANDLERS,
    **tags.HANDLERS}.items()}

__all__ = ["AUTHZ", "HANDLERS", "on_shutdown", "on_startup"]


async def on_startup(pipeline: Pipeline) -> None:
    """Bring back the metadata service of every running instance."""
    await metadata.start_all(pipeline)


async def on_shutdown(pipeline: Pipeline) -> None:
    await metadata.stop_all(pipeline)
