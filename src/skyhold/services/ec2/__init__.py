"""EC2: instances with instance profiles, each with its own metadata service."""

from __future__ import annotations

from typing import TYPE_CHECKING

from skyhold.services.ec2 import keypairs, metadata, network
from skyhold.services.ec2.instances import AUTHZ
from skyhold.services.ec2.instances import HANDLERS as _INSTANCE_HANDLERS

if TYPE_CHECKING:
    from skyhold.pipeline import Pipeline

HANDLERS = {**_INSTANCE_HANDLERS, **keypairs.HANDLERS, **network.HANDLERS}

__all__ = ["AUTHZ", "HANDLERS", "on_shutdown", "on_startup"]


async def on_startup(pipeline: Pipeline) -> None:
    await metadata.start_all(pipeline)


async def on_shutdown(pipeline: Pipeline) -> None:
    await metadata.stop_all(pipeline)
