"""S3 Bucket Keys: fewer KMS calls for SSE-KMS, the same KMS decisions per requester.

A bucket key is a KMS data key generated with the *bucket's* ARN as encryption context
({"aws:s3:arn": "arn:aws:s3:::bucket"}, with any extra pairs the writer named in
x-amz-server-side-encryption-context: a bucket key serves one such context), kept KMS-encrypted in a record of the bucket's
(`KIND`, "<bucket>/<id>"). Each object segment's data key is derived from one: HKDF-SHA256
over the bucket key with a random salt the segment keeps, so no two segments share a
key. A segment's wrapped key reads "bk:<bucket>:<id>:<salt, base64>".

As on AWS, the plaintext bucket key is held in memory for a while (`WINDOW_SECONDS`,
read on Skyhold's clock) per requester -- a principal (by unique id) together with its
session policies -- so that every requester still meets KMS (a CloudTrail event, a key policy
and IAM decision) at least once per window:
- a write reuses the bucket key its requester got from kms:GenerateDataKey for the
  same bucket and KMS key;
- a read opens a bucket key with kms:Decrypt once per requester and window.
"""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
from typing import TYPE_CHECKING, Any

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from skyhold import clock
from skyhold.principal import Principal
from skyhold.services.kms import on_behalf
from skyhold.services.s3 import records
from skyhold.store.base import BULK_KINDS

if TYPE_CHECKING:
    from skyhold.pipeline import Call

KIND = "s3.bucketkey"
BULK_KINDS.add(KIND)  # written by PUTs: caches of buckets, identities and policies outlive it

# How long S3 keeps a requester's plaintext bucket key. AWS does not publish it ("a
# limited time period"); a few minutes, so a lab sees KMS called again after moving
# the clock.
WINDOW_SECONDS = 300

PREFIX = "bk:"
_INFO = b"skyhold s3 bucket key -> object data key v1"
_SALT_BYTES = 32
_MAX_HELD = 4096

# (data dir, bucket, KMS key ARN, requester, extra context) -> (bucket key id, plaintext, expiry epoch)
_writing: dict[tuple[str, str, str, str, str], tuple[str, bytes, float]] = {}
# (data dir, bucket, bucket key id, requester) -> (plaintext, expiry epoch)
_reading: dict[tuple[str, str, str, str], tuple[bytes, float]] = {}


def derive(bucket_key: bytes, salt: bytes) -> bytes:
    """A segment's 256-bit data key from its bucket key and salt."""
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=salt, info=_INFO).derive(bucket_key)


def bucket_context(bucket: str, extra: dict[str, str] | None = None) -> dict[str, str]:
    return {**(extra or {}), "aws:s3:arn": records.bucket_arn(bucket)}


def extra_of(context: dict[str, str]) -> dict[str, str]:
    """An object's context without S3's own pair: the writer's extra pairs."""
    return {k: v for k, v in context.items() if k != "aws:s3:arn"}


def bucket_of_context(context: dict[str, str]) -> str:
    """The bucket of an object's encryption context ({"aws:s3:arn": object ARN})."""
    return context["aws:s3:arn"].removeprefix("arn:aws:s3:::").partition("/")[0]


def requester(principal: Principal) -> str:
    """Who S3 tells apart: the principal, and the session policies that scope it. By
    unique id, not ARN: a user or role deleted and created again under the same name
    is another requester, who has not met KMS yet."""
    who = principal.user_id or principal.arn
    policies = principal.session.get("policies")
    if not policies:
        return who
    digest = hashlib.sha256(json.dumps(policies, sort_keys=True).encode()).hexdigest()
    return f"{who}#{digest}"


def wrapped(bucket: str, key_id: str, salt: bytes) -> str:
    return f"{PREFIX}{bucket}:{key_id}:{base64.b64encode(salt).decode()}"


def parse(text: str) -> tuple[str, str, bytes]:
    """(bucket, bucket key id, salt) of a segment's wrapped key."""
    bucket, key_id, salt = text.removeprefix(PREFIX).split(":")
    return bucket, key_id, base64.b64decode(salt)


def _live(expiry: float) -> bool:
    return clock.now_epoch() < expiry


def _bounded(cache: dict[Any, Any]) -> None:
    if len(cache) >= _MAX_HELD:
        cache.clear()


def new_data_key(call: Call, bucket: str, key_ref: str, extra: dict[str, str] | None = None
                 ) -> tuple[bytes, str, str]:
    """(data key, its wrapped text, KMS key ARN) for a new segment in `bucket` whose
    writer named `extra` encryption context pairs."""
    key_arn = on_behalf.key_arn(call, key_ref, "s3")
    extra = extra or {}
    slot = (str(call.pipeline.data_dir), bucket, key_arn, requester(call.principal),
            json.dumps(extra, sort_keys=True))
    held = _writing.get(slot)
    if held is None or not _live(held[2]):
        # The requester's own kms:GenerateDataKey, with the bucket's ARN as context.
        plaintext, blob, key_arn = on_behalf.generate_data_key(call, key_arn, bucket_context(bucket, extra), "s3")
        key_id = secrets.token_urlsafe(18)
        rec: dict[str, Any] = {"kms": key_arn, "blob": base64.b64encode(blob).decode(), "created": records.now_text()}
        if extra:
            rec["ctx"] = extra
        call.store.put(KIND, f"{bucket}/{key_id}", rec)
        _bounded(_writing)
        held = _writing[slot] = (key_id, plaintext, clock.now_epoch() + WINDOW_SECONDS)
    salt = secrets.token_bytes(_SALT_BYTES)
    return derive(held[1], salt), wrapped(bucket, held[0], salt), key_arn


def open_data_key(call: Call, text: str) -> bytes:
    """A segment's data key from its wrapped text: the bucket key is opened with the
    requester's kms:Decrypt unless this requester opened it within the window."""
    bucket, key_id, salt = parse(text)
    slot = (str(call.pipeline.data_dir), bucket, key_id, requester(call.principal))
    held = _reading.get(slot)
    if held is None or not _live(held[1]):
        rec = call.store.get(KIND, f"{bucket}/{key_id}")
        if rec is None:
            raise ValueError(f"bucket key {key_id} of {bucket} is missing")  # the store lost a record
        plaintext, _ = on_behalf.decrypt(call, base64.b64decode(rec.value["blob"]),
                                         bucket_context(bucket, rec.value.get("ctx")), "s3")
        _bounded(_reading)
        held = _reading[slot] = (plaintext, clock.now_epoch() + WINDOW_SECONDS)
    return derive(held[0], salt)


def delete_all(call: Call, bucket: str) -> None:
    """A deleted bucket's bucket keys go with it (and out of memory)."""
    for rec in call.store.scan(KIND, f"{bucket}/"):
        call.store.delete(KIND, rec.key)
    data_dir = str(call.pipeline.data_dir)
    caches: tuple[dict[Any, Any], ...] = (_writing, _reading)
    for cache in caches:
        for slot in [s for s in cache if s[0] == data_dir and s[1] == bucket]:
            del cache[slot]
