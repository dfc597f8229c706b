"""What S3 stores, and where.

  s3.bucket   <bucket>                       the bucket and its configuration
  s3.object   <bucket>/<key>                 the current version of each key (what
                                             GET and ListObjects see): a prefix scan
                                             of "<bucket>/<prefix>" is ListObjects
  s3.version  <bucket>/<key>\\0<sort>         every version, delete markers included;
                                             kept once versioning was ever enabled.
                                             <sort> falls with time, so a key's
                                             versions scan newest first
  s3.null     <bucket>/<key>                 where a key's null version is in s3.version
                                             (its <sort>), when it has one; trusted to be
                                             complete in buckets marked NULLS_INDEXED
  s3.upload   <bucket>/<key>\\0<upload id>    multipart uploads in progress
  s3.part     <upload id>/<part number:05>   their parts

Bodies are blobs named by random ids (never by keys); an object lists its body as
segments (one for a PUT, one per part for a multipart upload), each with its own
wrapped data key.
"""

from __future__ import annotations

import itertools
import time
import weakref
from datetime import datetime
from typing import Any

from skyhold import clock
from skyhold.services.s3 import errors
from skyhold.store.base import BULK_KINDS, Record, Store
from skyhold.store.cache import GenerationCache

BUCKET = "s3.bucket"
OBJECT = "s3.object"
VERSION = "s3.version"
UPLOAD = "s3.upload"
PART = "s3.part"
NULL_REF = "s3.null"

# A PUT writes these; caches of buckets, identities and policies outlive such writes.
BULK_KINDS.update((OBJECT, VERSION, NULL_REF, UPLOAD, PART))

# Bucket setting: every null version in s3.version has its s3.null entry (set when the
# bucket's versioning is first turned on; buckets versioned before the index have to
# read a key's versions to find its null one).
NULLS_INDEXED = "nullsIndexed"
# Bucket setting, while versioning is first turned on: the bucket still reads as never
# versioned, its current objects are being copied into s3.version batch by batch, and
# writes keep the copies of the keys they touch up to date (buckets.py, versions.py).
VERSIONS_COPYING = "versionsCopying"

NULL_VERSION = "null"
_SEP = "\x00"
_SORT_LEN = 16
_tick = itertools.count()


def object_key(bucket: str, key: str) -> str:
    return f"{bucket}/{key}"


def versions_prefix(bucket: str, key: str) -> str:
    return f"{bucket}/{key}{_SEP}"


def version_key(bucket: str, key: str, sort: str) -> str:
    return f"{bucket}/{key}{_SEP}{sort}"


def split_version_key(bucket: str, store_key: str) -> tuple[str, str]:
    key, _, sort = store_key[len(bucket) + 1:].rpartition(_SEP)
    return key, sort


def new_sort() -> str:
    """Falls with every call (newest versions sort first); unique within the process
    even when the clock does not move."""
    n = (1 << 64) - 1 - (time.time_ns() // 1000 * 1024 + next(_tick) % 1024)
    return f"{n:016x}"


def sort_of(version_id: str) -> str | None:
    if len(version_id) != _SORT_LEN + 16:
        return None
    sort = version_id[:_SORT_LEN]
    return sort if all(c in "0123456789abcdef" for c in sort) else None


def upload_key(bucket: str, key: str, upload_id: str) -> str:
    return f"{bucket}/{key}{_SEP}{upload_id}"


def part_key(upload_id: str, number: int) -> str:
    return f"{upload_id}/{number:05d}"


_second: tuple[int, str] = (-1, "")


def now_text() -> str:
    """Skyhold's clock to the millisecond, e.g. 2026-11-22T10:00:00.123Z (the
    seconds formatted once per second: every write asks)."""
    global _second
    micros = round(clock.now_epoch() * 1_000_000)  # as datetime.fromtimestamp rounds
    whole, frac = divmod(micros, 1_000_000)
    if _second[0] != whole:
        _second = (whole, time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(whole)))
    return f"{_second[1]}.{frac // 1000:03d}Z"


def parse_time(text: str) -> datetime:
    """now_text()'s format back (fromisoformat: strptime costs ~10x as much)."""
    return datetime.fromisoformat(text)


def last_modified(value: dict[str, Any]) -> datetime:
    """An object's (or version's) LastModified as S3 shows it: in whole seconds, in
    listings (`.000Z`) as in its Last-Modified header. The aws CLI stamps a downloaded
    file with it to the second, and `s3 sync --exact-timestamps` compares the two."""
    return parse_time(value["mtime"]).replace(microsecond=0)


def bucket_arn(bucket: str) -> str:
    return f"arn:aws:s3:::{bucket}"


def object_arn(bucket: str, key: str) -> str:
    return f"arn:aws:s3:::{bucket}/{key}"


# --- buckets: read on every request, so memoized until the store changes -----------

# By the store object itself (weakly): an id() could be reused by a later store.
_caches: weakref.WeakKeyDictionary[Store, GenerationCache] = weakref.WeakKeyDictionary()


def _cache(store: Store) -> GenerationCache:
    cache = _caches.get(store)
    if cache is None:
        cache = _caches[store] = GenerationCache(store, ignore_bulk=True)
    return cache


def find_bucket(store: Store, name: str) -> Record | None:
    return _cache(store).get(("bucket", name), lambda: store.get(BUCKET, name))


def get_bucket(store: Store, name: str) -> Record:
    rec = find_bucket(store, name)
    if rec is None:
        raise errors.no_such_bucket(name)
    return rec


def update_bucket(store: Store, name: str, **changes: Any) -> None:
    """Change bucket settings (a value of None removes the setting)."""
    note_change(store, name)
    with store.transaction():
        rec = get_bucket(store, name)
        value = dict(rec.value)
        for k, v in changes.items():
            if v is None:
                value.pop(k, None)
            else:
                value[k] = v
        store.put(BUCKET, name, value, expect_version=rec.version)


# --- buckets changed since the lifecycle job last looked --------------------------

_changed: weakref.WeakKeyDictionary[Store, set[str]] = weakref.WeakKeyDictionary()


def note_change(store: Store, bucket: str) -> None:
    """The bucket's settings, objects, versions or uploads are being written (on the event
    loop, as the lifecycle job runs: it cannot look in between). Every such write
    notes it, so that the job rescans only the buckets something happened to."""
    found = _changed.get(store)
    if found is None:
        found = _changed[store] = set()
    found.add(bucket)


def take_changes(store: Store) -> set[str]:
    """The buckets noted since the last call."""
    return _changed.pop(store, set())


# --- current objects: GET and HEAD read the same hot keys over and over -------------

_CURRENT_MAX_ENTRIES = 4096
_CURRENT_MAX_BYTES = 8 << 20  # inlined bodies (base64) the memo may hold in all


class _CurrentObjects:
    """`s3.object` values by store key, dropped whenever the store changes (as
    GenerationCache), within a bound on the inlined bodies they carry. The values are
    shared between requests: read-only."""

    def __init__(self, store: Store) -> None:
        self._store = store
        self._generation: object = None
        self._memo: dict[str, dict[str, Any] | None] = {}
        self._bytes = 0

    def get(self, okey: str) -> dict[str, Any] | None:
        generation = self._store.generation()
        if generation != self._generation:
            self._clear()
            self._generation = generation
        try:
            return self._memo[okey]
        except KeyError:
            pass
        rec = self._store.get(OBJECT, okey)
        value = rec.value if rec else None
        size = sum(len(seg.get("i", "")) for seg in value.get("segs", ())) if value else 0
        if len(self._memo) >= _CURRENT_MAX_ENTRIES or self._bytes + size > _CURRENT_MAX_BYTES:
            self._clear()
        self._memo[okey] = value
        self._bytes += size
        return value

    def _clear(self) -> None:
        self._memo.clear()
        self._bytes = 0


_current: weakref.WeakKeyDictionary[Store, _CurrentObjects] = weakref.WeakKeyDictionary()


def current_object(store: Store, bucket: str, key: str) -> dict[str, Any] | None:
    """The key's current version (None: none), for reads outside a transaction only
    (a value read inside one may be rolled back without the generation moving)."""
    memo = _current.get(store)
    if memo is None:
        memo = _current[store] = _CurrentObjects(store)
    return memo.get(object_key(bucket, key))
