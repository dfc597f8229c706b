"""S3 at scale (review 16): work counted, never timed. DeleteObjects commits once for
all its keys; the lifecycle job rescans only buckets whose objects or rules changed."""

from __future__ import annotations

import asyncio
import inspect
from collections import Counter
from datetime import timedelta
from typing import Any

import pytest

from skyhold import clock
from skyhold.services.s3 import records
from skyhold.services.s3.lifecycle import LifecycleJob
from tests.unit.s3.conftest import S3Harness
from tests.unit.s3.test_scale import _fill_objects

BIG = b"x" * (128 * 1024)  # bodies this size live in blobs, not inline in their records


def _delete(h: S3Harness, bucket: str, *items: dict[str, Any], quiet: bool = False) -> tuple[dict[str, Any], int]:
    """DeleteObjects's answer, and the store commits it made."""
    before = h.store.writes
    out = h.s3("DeleteObjects", Bucket=bucket, Delete={"Objects": list(items), "Quiet": quiet})
    return out, h.store.writes - before


def test_delete_objects_commits_once_for_all_its_keys(h: S3Harness) -> None:
    """1,000 keys made 1,000 commits (each key its own transaction)."""
    h.bucket("flat")
    for i in range(5):
        h.s3("PutObject", Bucket="flat", Key=f"big{i}", Body=BIG)
    for i in range(200):
        h.s3("PutObject", Bucket="flat", Key=f"k{i:03d}", Body=b"x")
    blobs = h.blob_count()
    keys = [{"Key": f"big{i}"} for i in range(5)] + [{"Key": f"k{i:03d}"} for i in range(200)] + [{"Key": "absent"}]
    out, commits = _delete(h, "flat", *keys)
    assert commits == 1  # before: 206
    assert len(out["Deleted"]) == 206 and "Errors" not in out
    assert "Contents" not in h.s3("ListObjectsV2", Bucket="flat")
    assert h.blob_count() == blobs - 5  # the blobs went, after the commit
    out, commits = _delete(h, "flat", {"Key": "k000"}, quiet=True)
    assert out == {} and commits == 1


def test_delete_objects_in_one_commit_keeps_each_keys_own_outcome(h: S3Harness) -> None:
    h.s3("CreateBucket", Bucket="locked", ObjectLockEnabledForBucket=True)
    old = h.s3("PutObject", Bucket="locked", Key="held", Body=b"1")["VersionId"]
    h.s3("PutObjectLegalHold", Bucket="locked", Key="held", VersionId=old, LegalHold={"Status": "ON"})
    free = h.s3("PutObject", Bucket="locked", Key="free", Body=BIG)["VersionId"]
    marked = h.s3("PutObject", Bucket="locked", Key="marked", Body=b"m")["VersionId"]
    marker = h.s3("DeleteObject", Bucket="locked", Key="marked")["VersionId"]
    blobs = h.blob_count()
    out, commits = _delete(h, "locked", {"Key": "held", "VersionId": old}, {"Key": "free", "VersionId": free},
                           {"Key": "marked", "VersionId": marker}, {"Key": "held"})
    assert commits == 1
    assert [(e["Key"], e["Code"]) for e in out["Errors"]] == [("held", "AccessDenied")]
    deleted = {e["Key"]: e for e in out["Deleted"]}
    assert deleted["free"] == {"Key": "free", "VersionId": free}
    assert deleted["marked"] == {"Key": "marked", "VersionId": marker, "DeleteMarker": True,
                                 "DeleteMarkerVersionId": marker}
    assert deleted["held"]["DeleteMarker"] is True  # a new delete marker over the held version
    assert h.blob_count() == blobs - 1
    assert h.s3("HeadObject", Bucket="locked", Key="marked")["VersionId"] == marked
    assert h.s3("HeadObject", Bucket="locked", Key="held", VersionId=old)["ContentLength"] == 1
    assert h.s3_fails("HeadObject", Bucket="locked", Key="free", VersionId=free).code == "NoSuchVersion"


def _days(n: float) -> None:
    clock.set_offset(clock.offset().total_seconds() + n * 86400)


class Visits:
    """The buckets each lifecycle round looked at (the job, unchanged, does the work)."""

    def __init__(self, h: S3Harness, monkeypatch: pytest.MonkeyPatch) -> None:
        self.job = LifecycleJob(h.pipeline)
        self.seen: list[str] = []
        look = self.job._bucket

        async def counting(name: str) -> None:
            self.seen.append(name)
            await look(name)
        monkeypatch.setattr(self.job, "_bucket", counting)

    def round(self) -> list[str]:
        self.seen = []
        asyncio.run(self.job.apply())
        return sorted(self.seen)


@pytest.mark.usefixtures("moved_clock")
def test_lifecycle_rounds_look_only_at_buckets_something_happened_to(
        h: S3Harness, monkeypatch: pytest.MonkeyPatch) -> None:
    """Any write to the store (a PUT anywhere, an IAM user) made the job rescan every
    bucket with rules."""
    for name in ("ruled-a", "ruled-b", "plain"):
        h.bucket(name)
        h.s3("PutObject", Bucket=name, Key="k", Body=b"x")
    for name in ("ruled-a", "ruled-b"):
        h.s3("PutBucketLifecycleConfiguration", Bucket=name, LifecycleConfiguration={"Rules": [
            {"ID": "e", "Status": "Enabled", "Filter": {}, "Expiration": {"Days": 1}}]})
    visits = Visits(h, monkeypatch)
    assert visits.round() == ["ruled-a", "ruled-b"]
    assert visits.round() == []
    h.s3("PutObject", Bucket="plain", Key="other", Body=b"x")
    h.run("iam", "CreateUser", UserName="someone")
    assert visits.round() == []  # before: both, after each of these writes
    h.s3("PutObject", Bucket="ruled-a", Key="new", Body=b"x")
    assert visits.round() == ["ruled-a"]
    h.s3("PutBucketLifecycleConfiguration", Bucket="ruled-b", LifecycleConfiguration={"Rules": [
        {"ID": "e", "Status": "Enabled", "Filter": {}, "Expiration": {"Days": 2}}]})
    assert visits.round() == ["ruled-b"]
    _days(2)
    assert visits.round() == ["ruled-a", "ruled-b"]  # a new day: all of them
    assert "Contents" not in h.s3("ListObjectsV2", Bucket="ruled-a")
    assert [o["Key"] for o in h.s3("ListObjectsV2", Bucket="ruled-b")["Contents"]] == ["k"]
    assert visits.round() == ["ruled-a"]  # its own expiration wrote there: once more, then quiet
    assert visits.round() == []


@pytest.mark.usefixtures("moved_clock")
def test_a_version_kept_by_retention_expires_when_the_retention_ends_that_day(
        h: S3Harness, monkeypatch: pytest.MonkeyPatch) -> None:
    h.s3("CreateBucket", Bucket="retained", ObjectLockEnabledForBucket=True)
    start = clock.now()
    day = (start + timedelta(days=3)).replace(hour=0, minute=0, second=0, microsecond=0)
    old = h.s3("PutObject", Bucket="retained", Key="k", Body=b"1")["VersionId"]
    h.s3("PutObjectRetention", Bucket="retained", Key="k", VersionId=old,
         Retention={"Mode": "GOVERNANCE", "RetainUntilDate": day + timedelta(hours=12)})
    h.s3("PutObject", Bucket="retained", Key="k", Body=b"2")
    h.s3("PutBucketLifecycleConfiguration", Bucket="retained", LifecycleConfiguration={"Rules": [
        {"ID": "n", "Status": "Enabled", "Filter": {}, "NoncurrentVersionExpiration": {"NoncurrentDays": 1}}]})
    visits = Visits(h, monkeypatch)
    clock.set_offset(clock.offset().total_seconds() + (day + timedelta(hours=1) - clock.now()).total_seconds())
    assert visits.round() == ["retained"]
    assert visits.round() == []
    vids = [v["VersionId"] for v in h.s3("ListObjectVersions", Bucket="retained")["Versions"]]
    assert old in vids  # due, but retained until noon
    clock.set_offset(clock.offset().total_seconds() + 12 * 3600)  # the same day, after noon
    assert visits.round() == ["retained"]
    vids = [v["VersionId"] for v in h.s3("ListObjectVersions", Bucket="retained")["Versions"]]
    assert old not in vids


async def _op(h: S3Harness, operation: str, **params: Any) -> Any:
    """One S3 operation inside a running event loop (S3Harness.s3 runs one of its own)."""
    call = h.call("s3", operation, h.admin)
    h.pipeline.authorizer.check(call, params)
    out = h.pipeline.handlers["s3"][operation](call, params)
    return await out if inspect.isawaitable(out) else out


def _commits_of_puts(h: S3Harness, monkeypatch: pytest.MonkeyPatch) -> Counter[int]:
    """Records put, by the commit they went into."""
    puts: Counter[int] = Counter()
    put = h.store.put

    def counting(*args: Any, **kwargs: Any) -> Any:
        puts[h.store.writes] += 1
        return put(*args, **kwargs)
    monkeypatch.setattr(h.store, "put", counting)
    return puts


def test_first_versioning_copies_in_short_transactions(h: S3Harness, monkeypatch: pytest.MonkeyPatch) -> None:
    """Turning versioning on copied every current object in one transaction, holding the
    store's write lock throughout (~2.5 s for 100,000 objects)."""
    h.bucket("many")
    _fill_objects(h, "many", 2500)
    puts = _commits_of_puts(h, monkeypatch)
    h.s3("PutBucketVersioning", Bucket="many", VersioningConfiguration={"Status": "Enabled"})
    assert max(puts.values()) <= 2 * 1000  # a batch's versions and null-version entries; before: 5,003
    assert len(h.store.scan(records.VERSION, "many/")) == 2501
    assert h.s3("HeadObject", Bucket="many", Key="k02499", VersionId="null")["VersionId"] == "null"


def test_writes_between_the_batches_of_the_first_versioning(h: S3Harness) -> None:
    """Other requests go on between the batches; until the switch the bucket reads as never
    versioned, and the copy ends with each key's one null version as those writes left it."""
    h.bucket("busy")
    _fill_objects(h, "busy", 2500)

    async def scenario() -> None:
        turning_on = asyncio.ensure_future(
            _op(h, "PutBucketVersioning", Bucket="busy", VersioningConfiguration={"Status": "Enabled"}))
        await asyncio.sleep(0)  # the first batch is copied
        assert not turning_on.done()
        await _op(h, "PutObject", Bucket="busy", Key="k00001", Body=b"new-1")  # copied already
        await _op(h, "DeleteObject", Bucket="busy", Key="k00002")
        await _op(h, "PutObject", Bucket="busy", Key="k02000", Body=b"new-2000")  # not copied yet
        await _op(h, "DeleteObject", Bucket="busy", Key="k02001")
        await _op(h, "PutObject", Bucket="busy", Key="added", Body=b"added")
        assert await _op(h, "GetBucketVersioning", Bucket="busy") == {}
        listed = await _op(h, "ListObjectVersions", Bucket="busy", Prefix="k0000", MaxKeys=3)
        assert [(v["Key"], v["VersionId"]) for v in listed["Versions"]] == [
            ("k00000", "null"), ("k00001", "null"), ("k00003", "null")]
        await turning_on

    asyncio.run(scenario())
    assert h.s3("GetBucketVersioning", Bucket="busy") == {"Status": "Enabled"}
    for key, size in (("k00001", 5), ("k02000", 8), ("added", 5), ("k00003", 1)):
        out = h.s3("ListObjectVersions", Bucket="busy", Prefix=key)
        assert [(v["VersionId"], v["IsLatest"], v["Size"]) for v in out["Versions"]] == [("null", True, size)], key
        assert h.s3("HeadObject", Bucket="busy", Key=key, VersionId="null")["ContentLength"] == size
    for key in ("k00002", "k02001"):
        assert "Versions" not in h.s3("ListObjectVersions", Bucket="busy", Prefix=key)
    assert len(h.store.scan(records.VERSION, "busy/")) == 2501 - 2 + 1
    # Versioned from now on: a PUT keeps the null version as a noncurrent one.
    vid = h.s3("PutObject", Bucket="busy", Key="k02000", Body=b"newest")["VersionId"]
    out = h.s3("ListObjectVersions", Bucket="busy", Prefix="k02000")
    assert [v["VersionId"] for v in out["Versions"]] == [vid, "null"]
