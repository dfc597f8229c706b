"""ListObjects (v1), ListObjectsV2 and ListObjectVersions: ordered prefix scans of
the store, folded by delimiter into CommonPrefixes, paged by marker/token."""

from __future__ import annotations

from collections.abc import Generator, Iterator
from typing import TYPE_CHECKING, Any, overload
from urllib.parse import quote

from skyhold import paging
from skyhold.errors import AwsError
from skyhold.regions import DEFAULT_REGION
from skyhold.services.s3 import buckets, errors, records, restore, versions
from skyhold.store.base import Record
from skyhold.wire import rest, xmlcodec
from skyhold.wire.shapes import Node

if TYPE_CHECKING:
    from skyhold.pipeline import Call

_BATCH = 1000
# Fetched after skipping past a common prefix: the next key often opens another, and a
# full batch per prefix made delimiter listings quadratic in their folders.
_AFTER_SKIP = 8
# Above every UTF-8 encoded character: "<prefix>\U0010ffff" sorts after all keys
# that start with <prefix> (but a key using U+10FFFF itself).
_AFTER_ALL = "\U0010ffff"


# What S3 answers for a negative max-keys: ListObjectVersions words it apart from the others.
_NEGATIVE_MAX_KEYS = "Argument maxKeys must be an integer between 0 and 2147483647"
_NEGATIVE_VERSIONS_MAX_KEYS = "max-keys cannot be negative"


def _max_keys(params: dict[str, Any], negative: str = _NEGATIVE_MAX_KEYS) -> int:
    """max-keys as S3 reads it: a 32-bit integer, not negative, capped at 1000."""
    n = params.get("MaxKeys")
    if n is None:
        return 1000
    if not -2**31 <= n < 2**31:
        raise errors.invalid_argument("Provided max-keys not an integer or within integer range", "max-keys", str(n))
    if n < 0:
        raise errors.invalid_argument(negative, "maxKeys", str(n))
    return min(n, 1000)


def check_encoding_type(params: dict[str, Any]) -> None:
    """"url" is the only encoding S3 knows; an empty value is refused too."""
    value = params.get("EncodingType")
    if value is not None and value != "url":
        raise errors.invalid_argument("Invalid Encoding Method specified in Request", "encoding-type", value)


def _scan(call: Call, kind: str, bucket: str, prefix: str,
          after: str, first: int = _BATCH) -> Generator[Record | None, str | None, None]:
    """Records of `kind` under bucket/prefix after `after` (a full store key), in order,
    fetched in batches (the first of `first` records); `send(new_after)` skips ahead
    (past a common prefix)."""
    full_prefix = f"{bucket}/{prefix}"
    size = first
    while True:
        batch = call.store.scan(kind, full_prefix, start_after=after, limit=size)
        if not batch:
            return
        for rec in batch:
            skip = yield rec
            if skip is not None:
                after = skip
                yield None  # acknowledge the send
                size = _AFTER_SKIP
                break
        else:
            after = batch[-1].key
            if len(batch) < size:
                return
            size = _BATCH


def walk(call: Call, kind: str, bucket: str, prefix: str, delimiter: str, after: str,
          key_of: Any, page: int = _BATCH) -> Iterator[tuple[str, Record | None]]:
    """(key, record) for keys, (common prefix, None) for folded prefixes, in order. `page`:
    the entries wanted, read at first with one more (is there a next page?)."""
    gen = _scan(call, kind, bucket, prefix, after, page + 1)
    for rec in gen:
        if rec is None:
            continue
        key = key_of(rec)
        if delimiter:
            cut = key.find(delimiter, len(prefix))
            if cut >= 0:
                common = key[: cut + len(delimiter)]
                yield common, None
                gen.send(f"{bucket}/{common}{_AFTER_ALL}")
                continue
        yield key, rec


def past_prefix(bucket: str, marker: str, prefix: str, delimiter: str) -> str | None:
    """A marker inside a common prefix (a NextMarker or token can be the prefix itself)
    resumes past the whole prefix, which S3 has reported: the store key to list after."""
    cut = marker.find(delimiter, len(prefix)) if delimiter and marker.startswith(prefix) else -1
    return f"{bucket}/{marker[: cut + len(delimiter)]}{_AFTER_ALL}" if cut >= 0 else None


@overload
def encode(text: str, url: bool) -> str: ...
@overload
def encode(text: str | None, url: bool) -> str | None: ...
def encode(text: str | None, url: bool) -> str | None:
    if text is None:
        return None
    return quote(text, safe="/") if url else text


def _wants_restore_status(params: dict[str, Any]) -> bool:
    """x-amz-optional-object-attributes: RestoreStatus (the one attribute S3 offers)."""
    return "RestoreStatus" in (params.get("OptionalObjectAttributes") or ())


def _object_entry(value: dict[str, Any], key: str, url: bool, owner: bool,
                  restore_status: bool = False) -> dict[str, Any]:
    entry: dict[str, Any] = {
        "Key": encode(key, url), "LastModified": records.last_modified(value), "ETag": value["etag"],
        "Size": value["size"], "StorageClass": value.get("sc", "STANDARD"),
    }
    if value.get("cks"):
        entry["ChecksumAlgorithm"] = [a.upper() for a in value["cks"]]
        entry["ChecksumType"] = value.get("ckt", "FULL_OBJECT")
    if owner:
        entry["Owner"] = buckets.owner_of(value.get("owner", ""))
    if restore_status and (rs := restore.status(value)) is not None:
        entry["RestoreStatus"] = rs
    return entry


def _list(call: Call, params: dict[str, Any], after_key: str, owner: bool
          ) -> tuple[list[dict[str, Any]], list[dict[str, str]], bool, str | None]:
    name = params["Bucket"]
    prefix = params.get("Prefix") or ""
    delimiter = params.get("Delimiter") or ""
    url = params.get("EncodingType") == "url"
    limit = _max_keys(params)
    contents: list[dict[str, Any]] = []
    prefixes: list[dict[str, str]] = []
    last: str | None = None
    after = past_prefix(name, after_key, prefix, delimiter) or (f"{name}/{after_key}" if after_key else "")
    truncated = False
    restore_status = _wants_restore_status(params)
    if limit == 0:  # S3 answers max-keys=0 with an empty page that is not truncated (no marker to go on from)
        return contents, prefixes, truncated, last
    for key, rec in walk(call, records.OBJECT, name, prefix, delimiter, after, lambda r: r.key[len(name) + 1:],
                         limit):
        if len(contents) + len(prefixes) >= limit:
            truncated = True
            break
        if rec is None:
            prefixes.append({"Prefix": encode(key, url)})
        else:
            contents.append(_object_entry(rec.value, key, url, owner, restore_status))
        last = key
    return contents, prefixes, truncated, last


def _common(params: dict[str, Any]) -> dict[str, Any]:
    url = params.get("EncodingType") == "url"
    out: dict[str, Any] = {"Name": params["Bucket"], "Prefix": encode(params.get("Prefix") or "", url),
                           "MaxKeys": _max_keys(params)}
    if params.get("Delimiter"):
        out["Delimiter"] = encode(params["Delimiter"], url)
    if url:
        out["EncodingType"] = "url"
    return out


def _token_after(bucket: str, token: str) -> str:
    """The key a ContinuationToken resumes after. Tokens name their bucket too, so one
    Skyhold did not issue for this bucket's listing (any other base64 text) is refused, as
    S3 refuses a token it did not issue."""
    position = paging.position(token)
    if position is None or not position.startswith(f"{bucket}/"):
        raise errors.invalid_argument("The continuation token provided is incorrect", "continuation-token", token)
    return position[len(bucket) + 1:]


def _name_region(call: Call, bucket: dict[str, Any]) -> None:
    """A listing of a bucket outside us-east-1 names its region, as HeadBucket does
    (LocalStack's AWS-validated snapshots; SDKs read it to find a bucket's region)."""
    if bucket["Region"] != DEFAULT_REGION:
        call.add_response_header("x-amz-bucket-region", bucket["Region"])


def list_objects_v2(call: Call, params: dict[str, Any]) -> dict[str, Any]:
    _name_region(call, records.get_bucket(call.store, params["Bucket"]).value)
    check_encoding_type(params)
    token = params.get("ContinuationToken")
    if token == "":  # present but empty: S3 names the argument, without a value
        raise AwsError("InvalidArgument", "The continuation token provided is incorrect", 400,
                       extra={"ArgumentName": "continuation-token"})
    start = params.get("StartAfter") or ""
    after = _token_after(params["Bucket"], token) if token else start
    contents, prefixes, truncated, last = _list(call, params, after, bool(params.get("FetchOwner")))
    out = _common(params)
    out.update(IsTruncated=truncated, KeyCount=len(contents) + len(prefixes))
    if contents:
        out["Contents"] = contents
    if prefixes:
        out["CommonPrefixes"] = prefixes
    if token:
        out["ContinuationToken"] = token
    elif start:  # a token supersedes start-after, which S3 then does not echo
        out["StartAfter"] = encode(start, params.get("EncodingType") == "url")
    if truncated and last is not None:
        out["NextContinuationToken"] = paging.token(f"{params['Bucket']}/{last}")
    return out


def list_objects(call: Call, params: dict[str, Any]) -> dict[str, Any]:
    _name_region(call, records.get_bucket(call.store, params["Bucket"]).value)
    check_encoding_type(params)
    marker = params.get("Marker") or ""
    contents, prefixes, truncated, last = _list(call, params, marker, True)
    out = _common(params)
    out.update(IsTruncated=truncated, Marker=encode(marker, params.get("EncodingType") == "url"))
    if contents:
        out["Contents"] = contents
    if prefixes:
        out["CommonPrefixes"] = prefixes
    if truncated and params.get("Delimiter") and last is not None:
        out["NextMarker"] = encode(last, params.get("EncodingType") == "url")
    return out


# ListObjectVersions' answer: the list (Versions or DeleteMarkers) of each entry, in order.
_ORDER = "_order"
_ENTRY_LISTS = ("Versions", "DeleteMarkers")


def _within_key(call: Call, bucket: dict[str, Any], key: str, vid_marker: str) -> str | None:
    """Where a version-id marker resumes inside its key's versions: the store key to list
    after (None: no marker, or not an id Skyhold issues). A version's place is in its id,
    so one deleted since still has it; a null version's must be looked up, and when it is
    gone the key's versions are listed again from its newest (repeated, never skipped)."""
    name = bucket["Name"]
    if vid_marker == records.NULL_VERSION:
        hit = versions.null_version(call, bucket, key)
        return hit[0] if hit is not None else records.object_key(name, key)  # sorts before all its versions
    sort = records.sort_of(vid_marker) if vid_marker else None
    return records.version_key(name, key, sort) if sort else None


def list_object_versions(call: Call, params: dict[str, Any]) -> dict[str, Any]:
    name = params["Bucket"]
    bucket = records.get_bucket(call.store, name).value
    check_encoding_type(params)
    if params.get("VersionIdMarker") and not params.get("KeyMarker"):
        raise errors.invalid_argument("A version-id marker cannot be specified without a key marker.",
                                      "version-id-marker", params["VersionIdMarker"])
    prefix = params.get("Prefix") or ""
    delimiter = params.get("Delimiter") or ""
    url = params.get("EncodingType") == "url"
    limit = _max_keys(params, _NEGATIVE_VERSIONS_MAX_KEYS)
    key_marker = params.get("KeyMarker") or ""
    vid_marker = params.get("VersionIdMarker") or ""
    kind = records.VERSION if versions.is_versioned(bucket) else records.OBJECT
    seen: set[str] = set()
    if kind == records.VERSION:
        def key_of(r: Record) -> str:
            return records.split_version_key(name, r.key)[0]
        after = ""
        if key_marker:
            within = _within_key(call, bucket, key_marker, vid_marker)
            after = within or past_prefix(name, key_marker, prefix, delimiter) or \
                f"{records.versions_prefix(name, key_marker)}{_AFTER_ALL}"
            newest = call.store.scan(records.VERSION, records.versions_prefix(name, key_marker), limit=1)
            if within and newest and newest[0].key <= within:
                seen.add(key_marker)  # its newest version came before: none listed now is the latest
    else:
        def key_of(r: Record) -> str:
            return r.key[len(name) + 1:]
        after = past_prefix(name, key_marker, prefix, delimiter) or (f"{name}/{key_marker}" if key_marker else "")
    found: list[dict[str, Any]] = []
    markers: list[dict[str, Any]] = []
    prefixes: list[dict[str, str]] = []
    order: list[str] = []  # the list each entry went to, in listing order (_encode_versions)
    truncated = False
    restore_status = _wants_restore_status(params)
    last_key = last_vid = None
    for key, rec in walk(call, kind, name, prefix, delimiter, after, key_of, limit) if limit else ():
        if len(found) + len(markers) + len(prefixes) >= limit:
            truncated = True
            break
        if rec is None:
            prefixes.append({"Prefix": encode(key, url)})
            last_key, last_vid = key, None
            continue
        v = rec.value
        latest = key not in seen
        seen.add(key)
        common = {"Key": encode(key, url), "VersionId": v["vid"], "IsLatest": latest,
                  "LastModified": records.last_modified(v), "Owner": buckets.owner_of(v.get("owner", ""))}
        if v.get("dm"):
            markers.append(common)
            order.append("DeleteMarkers")
        else:
            entry = _object_entry(v, key, url, True, restore_status)
            entry.update(common)
            found.append(entry)
            order.append("Versions")
        last_key, last_vid = key, v["vid"]
    out = _common(params)
    out.update(IsTruncated=truncated, KeyMarker=encode(key_marker, url), VersionIdMarker=vid_marker)
    if found:
        out["Versions"] = found
    if markers:
        out["DeleteMarkers"] = markers
    if prefixes:
        out["CommonPrefixes"] = prefixes
    out[_ORDER] = order
    if truncated and last_key is not None:
        out["NextKeyMarker"] = encode(last_key, url)
        if last_vid:
            out["NextVersionIdMarker"] = last_vid
    return out


def _encode_versions(node: Node, value: dict[str, Any], out: list[str]) -> None:
    """ListVersionsResult's members, <Version> and <DeleteMarker> elements interleaved as
    listed (a key's newest first, whichever kind it is), as S3 writes them: the model
    keeps the two lists apart, but clients that read the document in order (minio-go's
    ListVersionsResult) take the listing order from it."""
    names = tuple(n for n, m in node.members.items() if not m.xml_attribute)
    cut = names.index(_ENTRY_LISTS[0])
    xmlcodec.encode_members(node, value, out, True, only=names[:cut])
    lists = {name: value.get(name) or [] for name in _ENTRY_LISTS}
    # Without an order (a result not from list_object_versions), each list whole, in turn.
    order = value.get(_ORDER) or [name for name in _ENTRY_LISTS for _ in lists[name]]
    entries = {name: iter(items) for name, items in lists.items()}
    for name in order:
        member = node.members[name]
        xmlcodec.encode(member, [next(entries[name])], member.wire_name, out, True)
    xmlcodec.encode_members(node, value, out, True, only=tuple(n for n in names[cut:] if n not in _ENTRY_LISTS))


rest.MEMBER_ENCODERS["ListObjectVersions"] = _encode_versions

HANDLERS = {
    "ListObjects": list_objects,
    "ListObjectsV2": list_objects_v2,
    "ListObjectVersions": list_object_versions,
}
