"""EC2: instances with instance profiles (each running instance with its own metadata
service), key pairs, images, tags, and the default VPC every account has."""

from __future__ import annotations

from typing import TYPE_CHECKING

from skyhold.errors import AwsError
from skyhold.services.dry_run import dry_runnable
from skyhold.services.ec2 import associations, attributes, catalog, instances, keypairs, metadata, network, tags
from skyhold.services.ec2.authz import AUTHZ

if TYPE_CHECKING:
    from skyhold.pipeline import Pipeline


def _would_succeed() -> AwsError:
    return AwsError("DryRunOperation", "Request would have succeeded, but DryRun flag is set.", 412)


HANDLERS = {op: dry_runnable(handler, _would_succeed) for op, handler in {
    **instances.HANDLERS, **attributes.HANDLERS, **associations.HANDLERS, **catalog.HANDLERS, **keypairs.HANDLERS, **network.HANDLERS,
    **tags.HANDLERS}.items()}

__all__ = ["AUTHZ", "HANDLERS", "on_shutdown", "on_startup"]


async def on_startup(pipeline: Pipeline) -> None:
    """Bring back the metadata service of every running instance."""
    await metadata.start_all(pipeline)


async def on_shutdown(pipeline: Pipeline) -> None:
    await metadata.stop_all(pipeline)
