"""S3 at scale: what an operation reads must follow what it answers, not the size of the
bucket, the key's history or the account. Data is put into the store directly (copies of
a record a real request wrote), and the records each call reads are counted."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from skyhold.services.s3 import records, versions
from skyhold.store import jsontext
from skyhold.store.sqlite import SqliteStore
from tests.unit.s3.conftest import S3Harness


class Reads:
    """Records the store hands out (scan, get, and what count counts), and the largest
    batch one scan returned."""

    def __init__(self, h: S3Harness, monkeypatch: pytest.MonkeyPatch) -> None:
        self.records = 0
        self.largest = 0
        scan, get, count = h.store.scan, h.store.get, h.store.count

        def counting_scan(*args: Any, **kwargs: Any) -> Any:
            found = scan(*args, **kwargs)
            self.records += len(found)
            self.largest = max(self.largest, len(found))
            return found

        def counting_get(*args: Any, **kwargs: Any) -> Any:
            self.records += 1
            return get(*args, **kwargs)

        def counting_count(*args: Any, **kwargs: Any) -> int:
            n: int = count(*args, **kwargs)
            self.records += n
            return n

        monkeypatch.setattr(h.store, "scan", counting_scan)
        monkeypatch.setattr(h.store, "get", counting_get)
        monkeypatch.setattr(h.store, "count", counting_count)

    def reset(self) -> None:
        self.records = self.largest = 0


@pytest.fixture
def reads(h: S3Harness, monkeypatch: pytest.MonkeyPatch) -> Iterator[Reads]:
    yield Reads(h, monkeypatch)


def _fill_objects(h: S3Harness, bucket: str, n: int) -> None:
    """n more current objects k00000.. in an unversioned bucket, as PutObject writes them."""
    h.s3("PutObject", Bucket=bucket, Key="template", Body=b"x")
    template = h.store.get(records.OBJECT, records.object_key(bucket, "template"))
    assert template is not None
    rows = []
    for i in range(n):
        value = dict(template.value, key=f"k{i:05d}", sort=records.new_sort())
        rows.append((records.OBJECT, records.object_key(bucket, value["key"]), jsontext.dumps(value).decode()))
    h.store.append_json(rows)


def _fill_versions(h: S3Harness, bucket: str, key: str, n: int) -> None:
    """n more (older) versions of a key in a versioned bucket."""
    h.s3("PutObject", Bucket=bucket, Key=key, Body=b"x")
    template = h.store.scan(records.VERSION, records.versions_prefix(bucket, key), limit=1)[0].value
    rows = []
    for _ in range(n):
        sort = records.new_sort()
        value = dict(template, sort=sort, vid=versions.new_version_id(sort))
        rows.append((records.VERSION, records.version_key(bucket, key, sort), jsontext.dumps(value).decode()))
    h.store.append_json(rows)


def test_deleting_a_full_bucket_reads_one_record_not_all(h: S3Harness, reads: Reads) -> None:
    """BucketNotEmpty counted every key (100,000 in a big bucket) to learn there was one."""
    h.bucket("full-flat")
    _fill_objects(h, "full-flat", 3000)
    reads.reset()
    assert h.s3_fails("DeleteBucket", Bucket="full-flat").code == "BucketNotEmpty"
    assert reads.records <= 5  # before: 3,001


def test_a_page_of_buckets_does_not_read_every_bucket(h: S3Harness, reads: Reads) -> None:
    h.bucket("aa-first")
    template = h.stored_bucket("aa-first")
    h.store.append_json([(records.BUCKET, f"bb-{i:05d}", jsontext.dumps(dict(template, Name=f"bb-{i:05d}")).decode())
                         for i in range(2500)])
    reads.reset()
    out = h.s3("ListBuckets", MaxBuckets=2)
    assert [b["Name"] for b in out["Buckets"]] == ["aa-first", "bb-00000"]
    assert out["ContinuationToken"]
    assert reads.records <= 10  # before: all 2,501
    # Without max-buckets every bucket is listed still, batch by batch.
    reads.reset()
    assert len(h.s3("ListBuckets")["Buckets"]) == 2501
    assert reads.largest <= 1000


def test_turning_versioning_on_copies_a_big_bucket_in_batches(h: S3Harness, reads: Reads) -> None:
    h.bucket("many-objects")
    _fill_objects(h, "many-objects", 2500)
    reads.reset()
    h.s3("PutBucketVersioning", Bucket="many-objects", VersioningConfiguration={"Status": "Enabled"})
    assert reads.largest <= 1000  # before: all 2,501 at once
    assert len(h.store.scan(records.VERSION, "many-objects/")) == 2501
    # Each is the key's null version, found in two reads.
    reads.reset()
    out = h.s3("HeadObject", Bucket="many-objects", Key="k01234", VersionId="null")
    assert out["VersionId"] == "null"
    assert reads.records <= 8


def test_suspended_writes_find_the_null_version_without_reading_the_keys_history(
        h: S3Harness, reads: Reads) -> None:
    """Each PUT or DELETE of a key in a suspended bucket replaces its null version, which
    was found by reading all of the key's versions (10,000 of them: ~85 ms a write)."""
    h.bucket("long-history", versioned=True)
    _fill_versions(h, "long-history", "hot", 3000)
    h.s3("PutBucketVersioning", Bucket="long-history", VersioningConfiguration={"Status": "Suspended"})
    for body in (b"one", b"two"):
        reads.reset()
        h.s3("PutObject", Bucket="long-history", Key="hot", Body=body)
        assert reads.records <= 8  # before: 3,000 and more
    listed = h.s3("ListObjectVersions", Bucket="long-history", MaxKeys=3)["Versions"]
    assert [(v["VersionId"], v["IsLatest"]) for v in listed][:2] == [("null", True), (listed[1]["VersionId"], False)]
    assert listed[1]["VersionId"] != "null"  # the second suspended PUT replaced the first's null version
    reads.reset()
    assert h.s3("HeadObject", Bucket="long-history", Key="hot", VersionId="null")["ContentLength"] == 3
    assert reads.records <= 8
    # A null delete marker replaces it in turn; deleting that by id leaves no null version.
    out = h.s3("DeleteObject", Bucket="long-history", Key="hot")
    assert out == {"DeleteMarker": True, "VersionId": "null"}
    assert h.s3("DeleteObject", Bucket="long-history", Key="hot", VersionId="null")["DeleteMarker"] is True
    reads.reset()
    assert h.s3_fails("HeadObject", Bucket="long-history", Key="hot", VersionId="null").code == "NoSuchVersion"
    assert reads.records <= 8
    assert h.store.get(records.NULL_REF, "long-history/hot") is None
    # Paging a version listing from a null version marker finds its place the same way.
    h.s3("PutObject", Bucket="long-history", Key="hot", Body=b"three")
    reads.reset()
    page = h.s3("ListObjectVersions", Bucket="long-history", KeyMarker="hot", VersionIdMarker="null", MaxKeys=1)
    assert page["Versions"][0]["VersionId"] != "null" and page["Versions"][0]["IsLatest"] is False
    assert reads.records <= 10


def test_a_bucket_versioned_before_the_index_still_finds_its_null_versions(h: S3Harness) -> None:
    """Buckets whose versioning was turned on before null versions were indexed have
    unindexed ones: without the bucket's mark, a missing entry means "look"."""
    h.bucket("older-bucket")
    h.s3("PutObject", Bucket="older-bucket", Key="kept", Body=b"from before")
    h.s3("PutBucketVersioning", Bucket="older-bucket", VersioningConfiguration={"Status": "Enabled"})
    h.s3("PutObject", Bucket="older-bucket", Key="kept", Body=b"newer")
    # As such a data dir has it: no entries, no mark.
    h.store.delete(records.NULL_REF, "older-bucket/kept")
    records.update_bucket(h.store, "older-bucket", **{records.NULLS_INDEXED: None})
    out = h.s3("HeadObject", Bucket="older-bucket", Key="kept", VersionId="null")
    assert out["ContentLength"] == len(b"from before")
    h.s3("PutBucketVersioning", Bucket="older-bucket", VersioningConfiguration={"Status": "Suspended"})
    h.s3("PutObject", Bucket="older-bucket", Key="kept", Body=b"replaced")
    vids = [v["VersionId"] for v in h.s3("ListObjectVersions", Bucket="older-bucket")["Versions"]]
    assert vids.count("null") == 1 and vids[0] == "null"


def test_a_big_record_is_kept_out_of_the_key_index(tmp_path: Path) -> None:
    """In a WITHOUT ROWID table whole records are the b-tree's keys: one big value (an
    object completed from 10,000 parts) in an interior page was read in full by every
    search and rebalance that met it (deleting 10,000 parts took ~6 s instead of 0.1 s).
    A data dir made with such a table is copied into the new one when opened."""
    path = tmp_path / "old.db"
    with sqlite3.connect(path) as old:
        old.execute("CREATE TABLE records (kind TEXT NOT NULL, key BLOB NOT NULL, version INTEGER NOT NULL, "
                    "value TEXT NOT NULL, PRIMARY KEY (kind, key)) WITHOUT ROWID")
        old.execute("INSERT INTO records VALUES ('s3.object', ?, 3, ?)", ("b/k".encode(), '{"segs": [1, 2]}'))
        old.execute("INSERT INTO records VALUES ('s3.object', ?, 1, '{}')", ("b/\xe9".encode(),))
    old.close()
    store = SqliteStore(path)
    try:
        rec = store.get("s3.object", "b/k")
        assert rec is not None and rec.version == 3 and rec.value == {"segs": [1, 2]}
        assert [r.key for r in store.scan("s3.object", "b/")] == ["b/k", "b/\xe9"]
        assert store.put("s3.object", "b/k", {}, expect_version=3).version == 4
        fresh = SqliteStore(tmp_path / "new.db")
        for db in (store, fresh):
            sql = db._conn().execute("SELECT sql FROM sqlite_master WHERE name='records'").fetchone()[0]
            assert "WITHOUT ROWID" not in sql.upper()
        fresh.close()
    finally:
        store.close()


def test_a_short_page_reads_about_its_own_length(h: S3Harness, reads: Reads) -> None:
    """Listings read a full batch (1,000 records) whatever max-keys asked for."""
    h.bucket("short-pages")
    _fill_objects(h, "short-pages", 3000)
    reads.reset()
    out = h.s3("ListObjectsV2", Bucket="short-pages", MaxKeys=5)
    assert out["KeyCount"] == 5 and out["IsTruncated"] is True
    assert reads.records <= 10  # before: 1,000
    reads.reset()
    out = h.s3("ListObjectVersions", Bucket="short-pages", MaxKeys=5, KeyMarker="k00100")
    assert [v["Key"] for v in out["Versions"]] == [f"k{i:05d}" for i in range(101, 106)]
    assert reads.records <= 10
    # A full page reads its 1,000 keys and one more (to tell it is not the last), not 2,000.
    reads.reset()
    out = h.s3("ListObjectsV2", Bucket="short-pages", StartAfter="k00999")
    assert out["KeyCount"] == 1000 and out["IsTruncated"] is True
    assert reads.records <= 1010
