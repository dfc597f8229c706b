"""Delivering a logging trail's events to its bucket, and hourly signed digests.

Every few seconds (real time) each logging trail takes the events recorded since
its cursor — its account, its region (or all, for a multi-region trail), management
events, and S3 data events when its selectors ask — and writes them as one gzipped
`{"Records": [...]}` file under AWS's key layout. With log file validation on, a
digest file is written when Skyhold's clock passes the hour: the SHA-256 of each
log file delivered since the previous digest, chained by the previous digest's
signature and signed with the region's key, in the format `aws cloudtrail
validate-logs` checks. Moving Skyhold's clock past the hour delivers the digest at
once (on the next round).
"""

from __future__ import annotations

import asyncio
import base64
import gzip
import hashlib
import json
import logging
import secrets
import string
from dataclasses import replace
from datetime import datetime
from typing import TYPE_CHECKING, Any

from skyhold import clock
from skyhold import principal as p
from skyhold.errors import AwsError
from skyhold.services.cloudtrail import advanced, selectors, signing
from skyhold.services.cloudtrail.trails import TRAIL, cloudtrail_may_write, log_prefix, next_hour
from skyhold.trail.events import EVENT
from skyhold.wire.http import HttpRequest

if TYPE_CHECKING:
    from skyhold.pipeline import Call, Pipeline

EVERY_SECONDS = 3.0
log = logging.getLogger("skyhold.cloudtrail")
CLOUDTRAIL = p.Principal(type=p.AWS_SERVICE, account="", arn="cloudtrail.amazonaws.com",
                         user_id="cloudtrail.amazonaws.com")


def _stamp(dt: datetime, seconds: bool = False) -> str:
    return dt.strftime("%Y%m%dT%H%M%SZ" if seconds else "%Y%m%dT%H%MZ")


def _data_arn(event: dict[str, Any]) -> str | None:
    """The ARN an S3 data event's selectors match: its object's, or its bucket's with
    a trailing "/" (ListObjects and the like, logged for "arn:aws:s3:::bucket/")."""
    resources = event.get("resources") or []
    for kind, tail in (("AWS::S3::Object", ""), ("AWS::S3::Bucket", "/")):
        for resource in resources:
            if resource.get("type") == kind:
                return str(resource["ARN"]) + tail
    return None


def _selects_data(selector: dict[str, Any], event: dict[str, Any]) -> bool:
    """An AWS::S3::Object data resource logs the objects its Values cover
    (selectors.selects_object)."""
    target = _data_arn(event)
    return target is not None and any(
        resource.get("Type") == "AWS::S3::Object" and selectors.selects_object(resource.get("Values") or [], target)
        for resource in selector.get("DataResources") or [])


def _wanted(trail: dict[str, Any], event: dict[str, Any]) -> bool:
    if not trail["IsMultiRegionTrail"] and event["awsRegion"] != trail["HomeRegion"]:
        return False
    if "AdvancedEventSelectors" in trail:
        return advanced.selects(trail["AdvancedEventSelectors"], event,
                                None if event["managementEvent"] else _data_arn(event))
    for selector in trail["EventSelectors"]:
        rw = selector.get("ReadWriteType", "All")
        if rw != "All" and (rw == "ReadOnly") != bool(event["readOnly"]):
            continue
        if event["managementEvent"] and selector.get("IncludeManagementEvents", True):
            return True
        if not event["managementEvent"] and _selects_data(selector, event):
            return True
    return False


def _digest_state(trail: dict[str, Any], region: str) -> dict[str, Any]:
    """A region's digest chain (a multi-region trail signs one per region, each
    region's files under its own CloudTrail-Digest/<region>/ folder): the log files
    since its last digest, that digest, and where the next one starts."""
    states: dict[str, Any] = trail.setdefault("Digests", {})
    if region not in states:
        home = region == trail["HomeRegion"]
        # a trail saved before the chains were per region kept the home region's at the top
        states[region] = {"PendingLogs": trail.pop("PendingLogs", []) if home else [],
                          "LastDigest": trail.pop("LastDigest", None) if home else None,
                          "DigestStart": trail["DigestStart"]}
    return states[region]


class Deliverer:
    def __init__(self, pipeline: Pipeline) -> None:
        self.pipeline = pipeline
        self.task: asyncio.Task[None] | None = None

    async def run(self) -> None:
        while True:
            await asyncio.sleep(EVERY_SECONDS)
            try:
                await self.deliver_all()
            except Exception:  # keep delivering on the next round
                log.exception("CloudTrail delivery round failed")

    async def deliver_all(self) -> None:
        for rec in self.pipeline.store.scan(TRAIL):
            trail = rec.value
            if not trail["IsLogging"]:
                continue
            version = rec.version
            changed = await self._deliver_logs(trail)
            if trail["LogFileValidationEnabled"] and clock.now() >= _parse(trail["NextDigestTime"]):
                await self._deliver_digests(trail)
                changed = True
            if changed:
                self.pipeline.store.put(TRAIL, rec.key, trail, expect_version=version)

    def _call(self, trail: dict[str, Any]) -> Call:
        from skyhold.pipeline import Call

        request = HttpRequest("PUT", "/", "", {}, b"", "127.0.0.1")
        return Call(self.pipeline, request, "s3", "PutObject", trail["HomeRegion"], _cloudtrail_for(trail),
                    "cloudtrail-delivery")

    async def _put(self, trail: dict[str, Any], key: str, body: bytes, metadata: dict[str, str]) -> bool:
        from skyhold.services.s3.objects import put_object

        bucket = trail["S3BucketName"]
        if not cloudtrail_may_write(self.pipeline.store, bucket, key, trail):
            trail["LatestDeliveryError"] = "AccessDenied"
            return False
        params = {"Bucket": bucket, "Key": key, "Body": body, "ContentType": "application/json",
                  "Metadata": metadata, **_encryption(trail)}
        try:
            await put_object(self._call(trail), params)
        except AwsError as err:
            trail["LatestDeliveryError"] = err.code
            return False
        trail.pop("LatestDeliveryError", None)
        return True

    async def _deliver_logs(self, trail: dict[str, Any]) -> bool:
        await self.pipeline.audit.recorder.index()
        rows = self.pipeline.trail_store.scan(EVENT, f"{trail['Account']}/", start_after=trail["Cursor"], limit=5000)
        if not rows:
            return False
        trail["Cursor"] = rows[-1].key
        by_region: dict[str, list[dict[str, Any]]] = {}
        for row in rows:
            if _wanted(trail, row.value["event"]):
                by_region.setdefault(row.value["event"]["awsRegion"], []).append(row.value["event"])
        for region, records in by_region.items():
            await self._deliver_log(trail, region, records)
        return True

    async def _deliver_log(self, trail: dict[str, Any], region: str, records: list[dict[str, Any]]) -> None:
        """One region's events: a multi-region trail writes each region's under that
        region's folder and name, as AWS lays them out."""
        now = clock.now()
        account = trail["Account"]
        suffix = "".join(secrets.choice(string.ascii_letters + string.digits) for _ in range(16))
        key = (f"{log_prefix(trail)}CloudTrail/{region}/{now:%Y/%m/%d}/"
               f"{account}_CloudTrail_{region}_{_stamp(now)}_{suffix}.json.gz")
        raw = json.dumps({"Records": records}, separators=(",", ":")).encode()
        if not await self._put(trail, key, gzip.compress(raw), {}):
            return
        trail["LatestDeliveryTime"] = clock.iso8601(now)
        times = sorted(r["eventTime"] for r in records)
        _digest_state(trail, region)["PendingLogs"].append({
            "s3Bucket": trail["S3BucketName"], "s3Object": key, "hashValue": hashlib.sha256(raw).hexdigest(),
            "hashAlgorithm": "SHA-256", "newestEventTime": times[-1], "oldestEventTime": times[0]})

    async def _deliver_digests(self, trail: dict[str, Any]) -> None:
        """Every region's digest: the home region's always, another's once it has
        logs (AWS writes every region's hourly; Skyhold only those it has served)."""
        _digest_state(trail, trail["HomeRegion"])
        now = clock.now().replace(microsecond=0)
        for region in list(trail["Digests"]):
            if not await self._deliver_digest(trail, region, now):
                return
        trail.update(LatestDigestDeliveryTime=clock.iso8601(now), NextDigestTime=clock.iso8601(next_hour(now)))

    async def _deliver_digest(self, trail: dict[str, Any], region: str, now: datetime) -> bool:
        state = _digest_state(trail, region)
        home, account, name = trail["HomeRegion"], trail["Account"], trail["Name"]
        key = (f"{log_prefix(trail)}CloudTrail-Digest/{region}/{now:%Y/%m/%d}/"
               f"{account}_CloudTrail-Digest_{region}_{name}_{home}_{_stamp(now, seconds=True)}.json.gz")
        logs = state["PendingLogs"]
        previous = state["LastDigest"] or {}
        digest = {
            "awsAccountId": account,
            "digestStartTime": state["DigestStart"],
            "digestEndTime": clock.iso8601(now),
            "digestS3Bucket": trail["S3BucketName"],
            "digestS3Object": key,
            "digestPublicKeyFingerprint": signing.fingerprint(self.pipeline, region),
            "digestSignatureAlgorithm": "SHA256withRSA",
            "newestEventTime": max((entry["newestEventTime"] for entry in logs), default=None),
            "oldestEventTime": min((entry["oldestEventTime"] for entry in logs), default=None),
            "previousDigestS3Bucket": previous.get("bucket"),
            "previousDigestS3Object": previous.get("key"),
            "previousDigestHashValue": previous.get("hash"),
            "previousDigestHashAlgorithm": "SHA-256" if previous else None,
            "previousDigestSignature": previous.get("signature"),
            "logFiles": logs,
        }
        raw = json.dumps(digest, separators=(",", ":")).encode()
        to_sign = (f"{digest['digestEndTime']}\n{digest['digestS3Bucket']}/{key}\n"
                   f"{hashlib.sha256(raw).hexdigest()}\n{previous.get('signature') or 'null'}")
        signature = signing.sign(self.pipeline, region, to_sign)  # each region's digests with its own key
        if not await self._put(trail, key, gzip.compress(raw),
                               {"signature": signature, "signature-algorithm": "SHA256withRSA"}):
            trail["LatestDigestDeliveryError"] = trail.get("LatestDeliveryError", "AccessDenied")
            return False
        state.update(PendingLogs=[], DigestStart=digest["digestEndTime"],
                     LastDigest={"bucket": trail["S3BucketName"], "key": key, "signature": signature,
                                 "hash": hashlib.sha256(raw).hexdigest()})
        return True


def _cloudtrail_for(trail: dict[str, Any]) -> p.Principal:
    """CloudTrail delivering for `trail`: the KMS calls S3 makes for it carry the trail
    as aws:SourceArn / aws:SourceAccount, which AWS's key policy for CloudTrail tests."""
    return replace(CLOUDTRAIL, session={"context": {"aws:SourceArn": trail["TrailARN"],
                                                    "aws:SourceAccount": trail["Account"]}})


def _encryption(trail: dict[str, Any]) -> dict[str, str]:
    """A trail with a KMS key writes its files SSE-KMS under that key, with the trail's
    ARN as encryption context (aws:cloudtrail:arn; S3 adds aws:s3:arn), as CloudTrail
    does: reading them then takes kms:Decrypt too."""
    if not trail.get("KmsKeyId"):
        return {}
    context = json.dumps({"aws:cloudtrail:arn": trail["TrailARN"]}).encode()
    return {"ServerSideEncryption": "aws:kms", "SSEKMSKeyId": trail["KmsKeyId"],
            "SSEKMSEncryptionContext": base64.b64encode(context).decode()}


def _parse(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))
