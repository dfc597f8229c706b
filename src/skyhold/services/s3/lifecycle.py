"""Applying buckets' lifecycle rules by Skyhold's clock, as S3 does.

Current versions expire (gone in a bucket never versioned, under a new delete marker
in a versioned one) or move to a colder storage class; noncurrent versions expire or
move likewise; a delete marker left alone goes; incomplete multipart uploads are
aborted. Versions under Object Lock (retention or legal hold) are never expired for
good: expiration of a current one only adds a delete marker. Blobs a deletion makes unreachable are deleted (versions.py, multipart.py).

The job runs every few seconds (real time) and at once when Skyhold's clock is moved
(Pipeline.on_clock_moved). Due dates are midnights UTC (lifecycle_rules.py), so a
round looks at every bucket with rules only when the clock's day changed since the
last such round (or an Object Lock retention that held an action back has ended);
otherwise only at the buckets whose rules, objects, versions or uploads were written
since (records.note_change), and at none when nothing was.
The actions are S3's own (its service principal), not requests: S3 Lifecycle actions
are not CloudTrail events, so nothing is recorded.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import date, datetime
from typing import TYPE_CHECKING, Any

from skyhold import clock
from skyhold import principal as p
from skyhold.services.s3 import multipart, object_lock, records, versions
from skyhold.services.s3.lifecycle_rules import (
    Target, abort_due, expiry, marker_expiry, noncurrent_expiry, transition,
)
from skyhold.wire.http import HttpRequest

if TYPE_CHECKING:
    from skyhold.pipeline import Call, Pipeline

EVERY_SECONDS = 3.0
_BATCH = 500
_AFTER_ALL = "\U0010ffff"  # sorts after every version of a key: "<key>\0" + this
log = logging.getLogger("skyhold.s3.lifecycle")
S3_SERVICE = p.Principal(type=p.AWS_SERVICE, account="", arn="s3.amazonaws.com", user_id="s3.amazonaws.com")


def _target(value: dict[str, Any]) -> Target:
    if value.get("dm"):
        return Target(value["key"])
    return Target(value["key"], value["size"], value.get("tags") or {})


def _created(value: dict[str, Any]) -> datetime:
    return records.parse_time(value["mtime"])


def _set_class(storage_class: str) -> Any:
    return lambda v: v.update(sc=storage_class)


class LifecycleJob:
    def __init__(self, pipeline: Pipeline) -> None:
        self.pipeline = pipeline
        self.task: asyncio.Task[None] | None = None
        self._lock = asyncio.Lock()
        # The clock day of the last round over every bucket: nothing in a bucket no one
        # wrote to can have fallen due since while it stays the same...
        self._day: date | None = None
        # ...nor before the earliest end of a retention that kept a due version (None: none did).
        self._wake: datetime | None = None

    async def run(self) -> None:
        while True:
            await asyncio.sleep(EVERY_SECONDS)
            try:
                await self.apply()
            except Exception:  # keep applying on the next round
                log.exception("S3 lifecycle round failed")

    async def apply(self) -> None:
        """One round over the buckets with lifecycle rules where something may have
        fallen due since the last one."""
        async with self._lock:
            store = self.pipeline.store
            changed = records.take_changes(store)  # writes during the round are the next one's
            now = clock.now()
            if now.date() != self._day or (self._wake is not None and now >= self._wake):
                self._wake = None
                names = [rec.key for rec in store.scan(records.BUCKET) if rec.value.get("Lifecycle")]
                # Also after a bucket failed: it is tried again once it is written to or the day changes.
                self._day = now.date()
            else:
                names = [name for name in sorted(changed)
                         if (rec := records.find_bucket(store, name)) is not None and rec.value.get("Lifecycle")]
            for name in names:
                await self._guarded(name)

    async def _guarded(self, name: str) -> None:
        """One bucket; its failure is logged and the round goes on, so one account's
        rules never hold up lifecycle for the others."""
        try:
            await self._bucket(name)
        except Exception as exc:
            log.error("S3 lifecycle skipped bucket %s this round: %s: %s", name, type(exc).__name__, exc,
                      exc_info=exc)

    def _call(self, bucket: dict[str, Any]) -> Call:
        from skyhold.pipeline import Call

        request = HttpRequest("POST", f"/{bucket['Name']}", "", {}, b"", "127.0.0.1")
        call = Call(self.pipeline, request, "s3", "Lifecycle", bucket["Region"], S3_SERVICE, "s3-lifecycle")
        call.extras["bucket"] = bucket
        return call

    def _state(self, name: str) -> tuple[Call, dict[str, Any], list[dict[str, Any]]] | None:
        """The bucket as it is now (it may change between batches), and its enabled rules."""
        rec = records.find_bucket(self.pipeline.store, name)
        if rec is None:
            return None
        rules = [r for r in rec.value.get("Lifecycle") or [] if r.get("Status") == "Enabled"]
        return (self._call(rec.value), rec.value, rules) if rules else None

    async def _bucket(self, name: str) -> None:
        found = self._state(name)
        if found is None:
            return
        if versions.is_versioned(found[1]):
            await self._versioned(name)
        else:
            await self._unversioned(name)
        await self._uploads(name)

    # Each batch is read and acted on without yielding to the event loop, so no request
    # can change what a batch saw before the batch is done.

    async def _unversioned(self, name: str) -> None:
        after = ""
        while (found := self._state(name)) is not None and not versions.is_versioned(found[1]):
            call, bucket, rules = found
            batch = call.store.scan(records.OBJECT, f"{name}/", start_after=after, limit=_BATCH)
            now = clock.now()
            for rec in batch:
                self._current_version(call, bucket, rules, rec.value, now)
            if len(batch) < _BATCH:
                return
            after = batch[-1].key
            await asyncio.sleep(0)

    def _current_version(self, call: Call, bucket: dict[str, Any], rules: list[dict[str, Any]],
                         value: dict[str, Any], now: datetime) -> bool:
        """Expire or transition a key's current version; True when it expired."""
        key, target, created = value["key"], _target(value), _created(value)
        due = expiry(rules, target, created)
        if due is not None and due.at <= now:
            versions.delete(call, bucket, key)  # expiration wins over transition
            return True
        step = transition(rules, target, created, now, value.get("sc", "STANDARD"),
                          bucket.get("LifecycleMinimumSize"))
        if step is not None:
            versions.update(call, bucket, key, None, _set_class(step.storage_class or ""))
        return False

    async def _versioned(self, name: str) -> None:
        after = ""
        done = 0
        while (found := self._state(name)) is not None:
            call, bucket, rules = found
            head = call.store.scan(records.VERSION, f"{name}/", start_after=after, limit=1)
            if not head:
                return
            key = records.split_version_key(name, head[0].key)[0]
            prefix = records.versions_prefix(name, key)
            chain = [r.value for r in call.store.scan(records.VERSION, prefix)]
            self._key(call, bucket, rules, key, chain, clock.now())
            after = prefix + _AFTER_ALL
            done += 1
            if done % _BATCH == 0:
                await asyncio.sleep(0)

    def _key(self, call: Call, bucket: dict[str, Any], rules: list[dict[str, Any]], key: str,
             chain: list[dict[str, Any]], now: datetime) -> None:
        """One key's versions, newest first: chain[0] is current (object or delete marker)."""
        head = chain[0]
        if not head.get("dm") and self._current_version(call, bucket, rules, head, now):
            return  # a new delete marker: the rest waits for the next round
        minimum = bucket.get("LifecycleMinimumSize")
        newer = 0  # noncurrent versions newer than the one at hand that stay
        for successor, value in zip(chain, chain[1:]):
            since, target = _created(successor), _target(value)
            due = noncurrent_expiry(rules, target, since, newer)
            # A version Object Lock protects stays (and counts as one that stays) until it is free.
            if due is not None and due.at <= now:
                if not object_lock.is_protected(value):
                    versions.delete_version(call, bucket, key, value["vid"])
                    continue
                self._wake_at(value, now)
            if not value.get("dm"):
                step = transition(rules, target, since, now, value.get("sc", "STANDARD"), minimum, newer=newer)
                if step is not None:
                    versions.update(call, bucket, key, value["vid"], _set_class(step.storage_class or ""))
            newer += 1
        if head.get("dm") and newer == 0:  # a delete marker with nothing left beneath it
            due = marker_expiry(rules, key, _created(head))
            if due is not None and due.at <= now:
                versions.delete_version(call, bucket, key, head["vid"])

    def _wake_at(self, value: dict[str, Any], now: datetime) -> None:
        """A due version kept by its retention is looked at again once that ends (a
        legal hold ends by a write, which notes its bucket)."""
        found = object_lock.retention_of(value)
        if found is not None and found[1] > now and (self._wake is None or found[1] < self._wake):
            self._wake = found[1]

    async def _uploads(self, name: str) -> None:
        after = ""
        while (found := self._state(name)) is not None:
            call, _bucket, rules = found
            batch = call.store.scan(records.UPLOAD, f"{name}/", start_after=after, limit=_BATCH)
            now = clock.now()
            for rec in batch:
                up = rec.value
                due = abort_due(rules, up["Key"], records.parse_time(up["Initiated"]))
                if due is not None and due.at <= now:
                    multipart.abort_multipart_upload(call, {"Bucket": name, "Key": up["Key"],
                                                            "UploadId": up["UploadId"]})
            if len(batch) < _BATCH:
                return
            after = batch[-1].key
            await asyncio.sleep(0)
