"""Starting and stopping instances' metadata services inside the server process."""

from __future__ import annotations

from typing import TYPE_CHECKING

from skyhold.imds.server import MetadataService
from skyhold.services.ec2 import records as r

if TYPE_CHECKING:
    from skyhold.pipeline import Pipeline

_KEY = "ec2.metadata-services"


def _running(pipeline: Pipeline) -> dict[str, MetadataService]:
    return pipeline.extensions.setdefault(_KEY, {})


async def start(pipeline: Pipeline, instance_id: str) -> None:
    services = _running(pipeline)
    if instance_id in services:
        return
    rec = pipeline.store.get(r.INSTANCE, instance_id)
    if rec is None:
        return
    service = MetadataService(pipeline, instance_id)
    try:
        port = await service.start(rec.value.get("ImdsPort") or 0)
    except OSError:  # the old port is taken (after a restart): take a new one
        port = await service.start(0)
    services[instance_id] = service
    if port != rec.value.get("ImdsPort"):
        pipeline.store.put(r.INSTANCE, instance_id, {**rec.value, "ImdsPort": port}, expect_version=rec.version)


async def stop(pipeline: Pipeline, instance_id: str) -> None:
    service = _running(pipeline).pop(instance_id, None)
    if service is not None:
        await service.stop()


async def start_all(pipeline: Pipeline) -> None:
    for rec in pipeline.store.scan(r.INSTANCE):
        if rec.value["State"] == "running":
            await start(pipeline, rec.key)


async def stop_all(pipeline: Pipeline) -> None:
    for instance_id in list(_running(pipeline)):
        await stop(pipeline, instance_id)
