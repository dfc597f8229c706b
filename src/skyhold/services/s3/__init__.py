"""S3: buckets, objects (streamed, encrypted at rest), versioning, multipart uploads,
bucket policies and Block Public Access.

Exports for the pipeline:
  HANDLERS  operation name → handler
  AUTHZ     operation name → the Access checks it needs (see authz.py)
SSE-KMS data keys come from skyhold.services.kms.on_behalf.

Handlers set `call.extras["http_status"]` where S3 answers other than 200 with a
result body (206 Partial Content, 204 No Content).
"""

from __future__ import annotations

from skyhold.services.s3 import authz, buckets, listing, multipart, objects, policy

HANDLERS = {
    **buckets.HANDLERS,
    **objects.HANDLERS,
    **listing.HANDLERS,
    **multipart.HANDLERS,
    **policy.HANDLERS,
}
AUTHZ = authz.build()
