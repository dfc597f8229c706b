"""CloudTrail: the event history (LookupEvents), trails that deliver log files to
S3, and signed digests that `aws cloudtrail validate-logs` verifies."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

from skyhold.services.cloudtrail import lookup, trail_tags, trails
from skyhold.services.cloudtrail.authz import AUTHZ
from skyhold.services.cloudtrail.delivery import Deliverer

if TYPE_CHECKING:
    from skyhold.pipeline import Pipeline

HANDLERS = {**lookup.HANDLERS, **trails.HANDLERS, **trail_tags.HANDLERS}

__all__ = ["AUTHZ", "HANDLERS", "on_shutdown", "on_startup"]


async def on_startup(pipeline: Pipeline) -> None:
    deliverer = pipeline.extensions.setdefault("cloudtrail.deliverer", Deliverer(pipeline))
    deliverer.task = asyncio.get_running_loop().create_task(deliverer.run())


async def on_shutdown(pipeline: Pipeline) -> None:
    deliverer = pipeline.extensions.get("cloudtrail.deliverer")
    if deliverer is not None and deliverer.task is not None:
        deliverer.task.cancel()
