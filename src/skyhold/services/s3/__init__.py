"""S3: buckets, objects (streamed, encrypted at rest), versioning, multipart uploads,
bucket policies, ACLs (where Object Ownership enables them) and Block Public Access, CORS,
browser form uploads, lifecycle rules, Object Lock, and the stored-only bucket settings
infrastructure tools read (website, logging, replication, notifications: bucket_configs.py).

Exports for the pipeline:
  HANDLERS  operation name → handler
  AUTHZ     operation name → the Access checks it needs (see authz.py)
  on_startup / on_shutdown  the lifecycle job (lifecycle.py), run every few seconds
                            and at once when Skyhold's clock is moved
SSE-KMS data keys come from skyhold.services.kms.on_behalf.

Handlers set `call.extras["http_status"]` where S3 answers other than 200 with a
result body (206 Partial Content, 204 No Content).
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

from skyhold.services.s3 import (
    acl_ops, authz, bucket_configs, buckets, listing, multipart, object_lock, objects, policy, post_object,
)
from skyhold.services.s3 import restore
from skyhold.services.s3.lifecycle import LifecycleJob

HANDLERS = {
    **buckets.HANDLERS,
    **objects.HANDLERS,
    **listing.HANDLERS,
    **multipart.HANDLERS,
    **policy.HANDLERS,
    **acl_ops.HANDLERS,
    **object_lock.HANDLERS,
    **restore.HANDLERS,
    **post_object.HANDLERS,  # browser form uploads, outside the model (see post_object)
    **bucket_configs.HANDLERS,
}
AUTHZ = {**authz.build(), **post_object.AUTHZ}

if TYPE_CHECKING:
    from skyhold.pipeline import Pipeline

_JOB = "s3.lifecycle"


async def on_startup(pipeline: Pipeline) -> None:
    job = pipeline.extensions.setdefault(_JOB, LifecycleJob(pipeline))
    job.task = asyncio.get_running_loop().create_task(job.run())
    pipeline.on_clock_moved.append(job.apply)


async def on_shutdown(pipeline: Pipeline) -> None:
    job = pipeline.extensions.get(_JOB)
    if job is not None and job.task is not None:
        job.task.cancel()
