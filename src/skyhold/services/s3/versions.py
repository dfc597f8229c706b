"""Versions of a key: writing a new one, deleting, finding one by version id.

Invariant: `s3.object` holds a key's newest version unless that is a delete marker;
once a bucket has had versioning enabled, `s3.version` holds every version (the
current one included), newest first. Blobs a write or delete makes unreachable are
deleted only after the records that named them are gone (a crash leaves an orphan
blob, never a record pointing at nothing).
"""

from __future__ import annotations

import hashlib
import secrets
from typing import TYPE_CHECKING, Any

from skyhold.services.s3 import bodies, errors, records
from skyhold.services.s3.records import NULL_VERSION

if TYPE_CHECKING:
    from skyhold.pipeline import Call

# A version id: its 16-hex sort key (a GET by version id is one point read), 12 random
# characters and 4 check characters. AWS tells an id it did not issue (one altered by
# hand, say) from one that names no version: InvalidArgument, not NoSuchVersion; the
# check characters let Skyhold do the same. Ids issued before they existed have none:
# those still work for as long as the version they name exists.
_ID_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._"
_RANDOM_LEN = 12


def new_version_id(sort: str) -> str:
    body = sort + "".join(secrets.choice(_ID_ALPHABET) for _ in range(_RANDOM_LEN))
    return body + _check(body)


def _check(body: str) -> str:
    """Four characters (24 bits) of a digest of the rest of the id."""
    n = int.from_bytes(hashlib.blake2b(body.encode(), digest_size=3).digest(), "big")
    return "".join(_ID_ALPHABET[(n >> shift) & 63] for shift in (18, 12, 6, 0))


def well_formed(version_id: str) -> bool:
    """An id Skyhold could have issued now ("null" included)."""
    if version_id == NULL_VERSION:
        return True
    return records.sort_of(version_id) is not None and version_id[-4:] == _check(version_id[:-4])


def is_versioned(bucket: dict[str, Any]) -> bool:
    """Versioning was ever turned on (Enabled or Suspended)."""
    return bool(bucket.get("Versioning"))


def _keeps_versions(bucket: dict[str, Any]) -> bool:
    """Whether s3.version is kept: versioned, or its copy is being made (VERSIONS_COPYING)."""
    return is_versioned(bucket) or bool(bucket.get(records.VERSIONS_COPYING))


def _now_stored(call: Call, bucket: dict[str, Any]) -> dict[str, Any]:
    """The bucket as stored now: a request read it when it began, and its versioning may
    have been turned on since (while its body streamed in, or between the batches of
    PutBucketVersioning's copy). A memo read, unless a bucket changed."""
    return records.get_bucket(call.store, bucket["Name"]).value


def null_version(call: Call, bucket: dict[str, Any], key: str) -> tuple[str, dict[str, Any]] | None:
    """(version record key, value) of the key's null version (a key has at most one), by
    its s3.null entry: two point reads, where scanning its versions read them all (10,000
    of them for every write to a key in a suspended bucket)."""
    name = bucket["Name"]
    ref = call.store.get(records.NULL_REF, records.object_key(name, key))
    if ref is not None:
        rec = call.store.get(records.VERSION, records.version_key(name, key, ref.value["sort"]))
        if rec is not None and rec.value["vid"] == NULL_VERSION:
            return rec.key, rec.value
    if bucket.get(records.NULLS_INDEXED):
        return None
    for rec in call.store.scan(records.VERSION, records.versions_prefix(name, key)):
        if rec.value["vid"] == NULL_VERSION:
            return rec.key, rec.value
    return None


def index_null(call: Call, bucket: str, key: str, sort: str) -> None:
    """Note where the key's null version now is (inside the transaction that wrote it)."""
    call.store.put(records.NULL_REF, records.object_key(bucket, key), {"sort": sort})


def put(call: Call, bucket: dict[str, Any], key: str, value: dict[str, Any],
        check: Any = None) -> str | None:
    """Make `value` the key's newest version; return the version id to report (None
    for a null version: S3 names none on a write to a bucket that never had versioning,
    or has it suspended). `check(current)` runs inside the transaction, for conditional
    writes."""
    bucket = _now_stored(call, bucket)
    name, status = bucket["Name"], bucket.get("Versioning")
    copying = not status and _keeps_versions(bucket)
    sort = value["sort"] = records.new_sort()
    value["vid"] = new_version_id(sort) if status == "Enabled" else NULL_VERSION
    garbage: list[dict[str, Any]] = []
    okey = records.object_key(name, key)
    records.note_change(call.store, name)
    with call.store.transaction():
        old = call.store.get(records.OBJECT, okey)
        if check is not None:
            check(old.value if old else None)
        if status == "Suspended":
            hit = null_version(call, bucket, key)
            if hit is not None:
                call.store.delete(records.VERSION, hit[0])
                garbage += hit[1].get("segs", [])
            index_null(call, name, key, sort)
        elif not status and old is not None:
            garbage += old.value.get("segs", [])
            if copying:
                call.store.delete(records.VERSION, records.version_key(name, key, old.value["sort"]))
        if status or copying:
            call.store.put(records.VERSION, records.version_key(name, key, sort), value)
        if copying:
            index_null(call, name, key, sort)
        call.store.put(records.OBJECT, okey, value)
    bodies.delete(call, garbage)
    return value["vid"] if status == "Enabled" else None


def delete(call: Call, bucket: dict[str, Any], key: str, check: Any = None) -> dict[str, Any]:
    """DeleteObject without a version id; `check(current)` runs inside the transaction,
    for a conditional delete."""
    bucket = _now_stored(call, bucket)
    name, status = bucket["Name"], bucket.get("Versioning")
    okey = records.object_key(name, key)
    garbage: list[dict[str, Any]] = []
    out: dict[str, Any] = {}
    records.note_change(call.store, name)
    with call.store.transaction():
        old = call.store.get(records.OBJECT, okey)
        if check is not None:
            check(old.value if old else None)
        if not status:
            if old is not None:
                call.store.delete(records.OBJECT, okey)
                garbage += old.value.get("segs", [])
                if _keeps_versions(bucket):  # its copy goes too
                    call.store.delete(records.VERSION, records.version_key(name, key, old.value["sort"]))
                    call.store.delete(records.NULL_REF, okey)
        else:
            sort = records.new_sort()
            vid = new_version_id(sort) if status == "Enabled" else NULL_VERSION
            if status == "Suspended":
                hit = null_version(call, bucket, key)
                if hit is not None:
                    call.store.delete(records.VERSION, hit[0])
                    garbage += hit[1].get("segs", [])
                index_null(call, name, key, sort)
            marker = {"key": key, "sort": sort, "vid": vid, "dm": True, "mtime": records.now_text(),
                      "owner": call.principal.account or bucket["Owner"]}
            call.store.put(records.VERSION, records.version_key(name, key, sort), marker)
            if old is not None:
                call.store.delete(records.OBJECT, okey)
            out = {"DeleteMarker": True, "VersionId": vid}
    bodies.delete(call, garbage)
    return out


def find(call: Call, bucket: dict[str, Any], key: str, version_id: str) -> tuple[str | None, dict[str, Any]] | None:
    """(version record key, value) of a version; None when there is no such version.
    An id Skyhold never issued (and no old one that names a version) is InvalidArgument."""
    hit = _find(call, bucket, key, version_id)
    if hit is None and not well_formed(version_id):
        raise errors.invalid_version_id(version_id)
    return hit


def _find(call: Call, bucket: dict[str, Any], key: str, version_id: str) -> tuple[str | None, dict[str, Any]] | None:
    name = bucket["Name"]
    if not is_versioned(bucket):
        if version_id != NULL_VERSION:
            return None
        rec = call.store.get(records.OBJECT, records.object_key(name, key))
        return (None, rec.value) if rec else None
    if version_id == NULL_VERSION:
        return null_version(call, bucket, key)
    sort = records.sort_of(version_id)
    if sort is None:
        return None
    rec = call.store.get(records.VERSION, records.version_key(name, key, sort))
    if rec is None or rec.value["vid"] != version_id:
        return None
    return rec.key, rec.value


def current_marker(call: Call, bucket: dict[str, Any], key: str) -> str | None:
    """The version id of the key's newest version when that is a delete marker."""
    if not is_versioned(bucket):
        return None
    newest = call.store.scan(records.VERSION, records.versions_prefix(bucket["Name"], key), limit=1)
    return newest[0].value["vid"] if newest and newest[0].value.get("dm") else None


def check_version_id(version_id: str) -> None:
    if version_id != NULL_VERSION and records.sort_of(version_id) is None:
        raise errors.invalid_version_id(version_id)


def delete_version(call: Call, bucket: dict[str, Any], key: str, version_id: str,
                   check: Any = None) -> dict[str, Any]:
    """DeleteObject with a version id: that version goes for good (`check(version)`, for a
    conditional delete, runs on it when it exists)."""
    check_version_id(version_id)
    bucket = _now_stored(call, bucket)
    if not is_versioned(bucket):
        if version_id != NULL_VERSION:
            if not well_formed(version_id):  # no version to find: no old id to accept either
                raise errors.invalid_version_id(version_id)
            return {}
        delete(call, bucket, key, check)
        return {"VersionId": NULL_VERSION}
    name = bucket["Name"]
    okey = records.object_key(name, key)
    garbage: list[dict[str, Any]] = []
    out: dict[str, Any] = {"VersionId": version_id}
    records.note_change(call.store, name)
    with call.store.transaction():
        hit = find(call, bucket, key, version_id)
        if hit is None:
            return out
        vkey, value = hit
        assert vkey is not None
        if check is not None and not value.get("dm"):
            check(value)
        call.store.delete(records.VERSION, vkey)
        if value["vid"] == NULL_VERSION:
            call.store.delete(records.NULL_REF, okey)
        if value.get("dm"):
            out["DeleteMarker"] = True
        else:
            garbage += value.get("segs", [])
        newest = call.store.scan(records.VERSION, records.versions_prefix(name, key), limit=1)
        if newest and not newest[0].value.get("dm"):
            call.store.put(records.OBJECT, okey, newest[0].value)
        else:
            call.store.delete(records.OBJECT, okey)
    bodies.delete(call, garbage)
    return out


def update(call: Call, bucket: dict[str, Any], key: str, version_id: str | None, change: Any,
           method: str = "PUT") -> dict[str, Any]:
    """Apply `change(value)` to one version (the current one when version_id is None),
    in both of its records; return the changed value. A delete marker, named or
    current, is not an object: MethodNotAllowed for the request's HTTP `method`."""
    bucket = _now_stored(call, bucket)
    name = bucket["Name"]
    okey = records.object_key(name, key)
    records.note_change(call.store, name)
    with call.store.transaction():
        if version_id is None:
            rec = call.store.get(records.OBJECT, okey)
            if rec is None:
                marker = current_marker(call, bucket, key)
                raise errors.no_such_key(key) if marker is None else errors.delete_marker(method, marker)
            value = dict(rec.value)
        else:
            check_version_id(version_id)
            hit = find(call, bucket, key, version_id)
            if hit is None:
                raise errors.no_such_version(key, version_id)
            if hit[1].get("dm"):
                raise errors.delete_marker(method, version_id)
            value = dict(hit[1])
        change(value)
        if _keeps_versions(bucket):
            call.store.put(records.VERSION, records.version_key(name, key, value["sort"]), value)
        current = call.store.get(records.OBJECT, okey)
        if current is not None and current.value.get("sort") == value["sort"]:
            call.store.put(records.OBJECT, okey, value)
    return value
