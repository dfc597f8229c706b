"""Multipart uploads: each part is its own encrypted segment; completing an upload
commits an object whose body is the listed parts, in order, without copying a byte.

ETag of the whole: md5 of the parts' binary md5s, then "-<part count>". Composite
checksums likewise: the checksum of the parts' raw checksums, then "-<count>". An upload
created without a checksum still gets S3's default, a FULL_OBJECT CRC64NVME: each part
computes one, which only the completed object shows.
"""

from __future__ import annotations

import base64
import hashlib
import re
import secrets
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from skyhold.auth import checksums
from skyhold.errors import AwsError
from skyhold.principal import IAM_USER, ROOT, Principal
from skyhold.services.kms import on_behalf
from skyhold.services.s3 import (acl_ops, bodies, bucket_keys, buckets, crypto, errors, lifecycle_rules, listing,
                                 object_lock, objects, records, sse_c, sse_context, versions)

if TYPE_CHECKING:
    from skyhold.pipeline import Call

MIN_PART = 5 * 1024 * 1024
MAX_PART_NUMBER = 10_000

# Every algorithm S3 knows (the last five since April 2026).
_AWS_ALGORITHMS = ("crc32", "crc32c", "crc64nvme", "sha1", "sha256", "sha512", "md5", "xxhash64", "xxhash3",
                   "xxhash128")
_CHECKSUM_TYPES = ("COMPOSITE", "FULL_OBJECT")


def _upload(call: Call, bucket: str, key: str, upload_id: str) -> dict[str, Any]:
    rec = call.store.get(records.UPLOAD, records.upload_key(bucket, key, upload_id))
    if rec is None:
        raise errors.no_such_upload(upload_id)
    return rec.value


def create_multipart_upload(call: Call, params: dict[str, Any]) -> dict[str, Any]:
    bucket = objects.bucket_of(call, params)
    key = params["Key"]
    objects.check_new_object(params)
    ownership = acl_ops.new_object(call, bucket, params)
    sse, customer = objects.write_encryption(call, params, bucket)
    objects.check_kms_key(call, bucket, key, sse)
    lock = object_lock.for_new_version(bucket, params)
    algorithm, mode = _checksum_mode(params)
    upload_id = _new_upload_id()
    value = {
        "Key": key, "UploadId": upload_id, "Initiated": records.now_text(), **ownership,
        "meta": params.get("Metadata") or {}, "hdrs": objects._content_headers(params), "sse": sse,
        "tags": objects.parse_tagging(params.get("Tagging")), "alg": algorithm,
        "ckt": mode,
        "sc": params.get("StorageClass") or "STANDARD", "init": _initiator_of(call.principal), **lock,
        "base": _current_write(call, bucket["Name"], key),
    }
    if customer is not None:
        value["kc"] = sse_c.key_check(call, customer)
    records.note_change(call.store, bucket["Name"])
    call.store.put(records.UPLOAD, records.upload_key(bucket["Name"], key, upload_id), value, expect_version=0)
    out: dict[str, Any] = {"Bucket": bucket["Name"], "Key": key, "UploadId": upload_id,
                           **objects.sse_result(sse, customer), **sse_context.echo(sse, bucket["Name"], key)}
    if algorithm:
        out["ChecksumAlgorithm"] = algorithm.upper()
        out["ChecksumType"] = value["ckt"]
    out.update(_abort(bucket, value))
    return out


def _current_write(call: Call, bucket: str, key: str) -> str:
    """Which write made the key's current object ("" when there is none): a conditional
    completion conflicts with any write since the upload began."""
    current = call.store.get(records.OBJECT, records.object_key(bucket, key))
    return str(current.value.get("sort", "")) if current is not None else ""


def _completion_check(params: dict[str, Any], key: str, upload: dict[str, Any]) -> Any:
    """If-Match / If-None-Match at completion, checked as a write is; when it holds but
    the key was written (or deleted) since the upload began, S3 answers 409."""
    check = objects._write_check(params, key)
    base = upload.get("base")
    if check is None or base is None:  # unconditional, or an upload stored before Skyhold kept its base
        return check
    condition = "If-Match" if params.get("IfMatch") is not None else "If-None-Match"

    def conflict_check(current: dict[str, Any] | None) -> None:
        check(current)
        if (current or {}).get("sort", "") != base:
            raise errors.conditional_request_conflict(condition, key)
    return conflict_check


def _lock_of(upload: dict[str, Any]) -> dict[str, Any]:
    """The Object Lock settings CreateMultipartUpload asked for, applied on completion."""
    return {k: upload[k] for k in ("lk", "lh") if k in upload}


def _new_upload_id() -> str:
    """64 url-safe characters; S3 lists a key's uploads in the order they were initiated,
    so the id (which the store sorts by) starts with a rising clock."""
    rising = (1 << 64) - 1 - int(records.new_sort(), 16)
    return f"{rising:016x}" + secrets.token_urlsafe(36).replace("-", "A").replace("_", "B")


def _initiator_of(principal: Principal) -> dict[str, str]:
    """Who initiated an upload: an account reads as the Owner; an IAM identity by its ARN and name."""
    if principal.type == ROOT:
        return buckets.owner_of(principal.account)
    resource = principal.arn.split(":", 5)[-1]  # user/path/name, assumed-role/role/session, ...
    name = principal.name if principal.type == IAM_USER else resource.partition("/")[2]
    return {"ID": principal.arn, "DisplayName": name or resource}


def _initiator(upload: dict[str, Any]) -> dict[str, str]:
    return upload.get("init") or buckets.owner_of(upload["owner"])


def _checksum_mode(params: dict[str, Any]) -> tuple[str | None, str | None]:
    """The upload's (checksum algorithm, checksum type), checked as S3 checks them."""
    algorithm = (params.get("ChecksumAlgorithm") or "").lower() or None
    mode = (params.get("ChecksumType") or "").upper() or None  # either header in any case, as on S3
    if algorithm is not None and algorithm not in _AWS_ALGORITHMS:
        raise objects.unsupported_checksum_algorithm()
    if mode is not None and mode not in _CHECKSUM_TYPES:
        raise errors.invalid_request("Value for x-amz-checksum-type header is invalid.")
    if algorithm is None:
        if mode:
            raise errors.invalid_request("The x-amz-checksum-type header can only be used with the "
                                         "x-amz-checksum-algorithm header.")
        return None, None
    mode = mode or ("FULL_OBJECT" if algorithm == "crc64nvme" else "COMPOSITE")
    # Only CRCs combine into a whole-object value; CRC64NVME has no composite form.
    if (mode == "FULL_OBJECT" and algorithm not in checksums.CRCS) or (
            mode == "COMPOSITE" and algorithm == "crc64nvme"):
        raise errors.invalid_request(f"The {mode} checksum type cannot be used with the {algorithm} checksum "
                                     "algorithm.")
    return algorithm, mode


def _abort(bucket: dict[str, Any], upload: dict[str, Any]) -> dict[str, Any]:
    """x-amz-abort-date / x-amz-abort-rule-id: when a lifecycle rule will abort the upload."""
    due = lifecycle_rules.abort_due(bucket.get("Lifecycle") or [], upload["Key"],
                                    records.parse_time(upload["Initiated"]))
    return {"AbortDate": due.at, "AbortRuleId": due.rule} if due is not None else {}


def _part_number(params: dict[str, Any]) -> int:
    n = params["PartNumber"]
    if not 1 <= n <= MAX_PART_NUMBER:
        raise errors.invalid_argument("Part number must be an integer between 1 and 10000, inclusive",
                                      "partNumber", str(n))
    return n


def _store_part(call: Call, upload: dict[str, Any], number: int, written: bodies.Written) -> dict[str, Any]:
    part = {"n": number, "size": written.size, "etag": f'"{written.etag.hex()}"', "md5": written.etag.hex(),
            "mtime": records.now_text(), "seg": written.segment, "cks": written.checksum}
    pkey = records.part_key(upload["UploadId"], number)
    with call.store.transaction():
        old = call.store.get(records.PART, pkey)
        call.store.put(records.PART, pkey, part)
    if old is not None:
        bodies.delete(call, [old.value["seg"]])
    return part


async def upload_part(call: Call, params: dict[str, Any]) -> dict[str, Any]:
    try:
        return await _upload_part(call, params)
    except AwsError:
        await objects.drain(call)
        raise


async def _upload_part(call: Call, params: dict[str, Any]) -> dict[str, Any]:
    bucket = objects.bucket_of(call, params)
    crypto.refuse_sse_header(call)  # the upload's encryption was chosen at its creation
    key = params["Key"]
    upload = _upload(call, bucket["Name"], key, params["UploadId"])
    number = _part_number(params)
    _check_kms_decrypt(call, bucket["Name"], key, upload)
    if object_lock.has_parameters(bucket, _lock_of(upload)):
        object_lock.require_checksum(call, "Put Part")
    customer = sse_c.for_part(call, upload, params)
    alg, declared = objects.checksum_request(call, params)
    expected = upload.get("alg")
    if expected and alg and alg != expected:
        raise errors.invalid_request(f"Checksum Type mismatch occurred, expected checksum Type: {expected}, "
                                     f"actual checksum Type: {alg}")
    alg = alg or expected
    source = call.body_stream if call.body_stream is not None else [params.get("Body") or b""]
    written = await bodies.write(call, source, dict(upload["sse"]),
                                 objects.encryption_context(bucket["Name"], key, upload["sse"]),
                                 checksum_algorithms=_part_algorithms(upload, alg), declared=declared,
                                 customer=customer)
    part = _store_part(call, upload, number, written)
    out = {"ETag": part["etag"], **objects.sse_result(upload["sse"], customer)}
    out.update(_part_checksums(part, alg))
    return out


def _part_algorithms(upload: dict[str, Any], alg: str | None) -> tuple[str, ...]:
    """What a part computes: the checksum asked for, and S3's default when the upload has
    none (to combine into the completed object's)."""
    wanted = [alg] if alg else []
    if not upload.get("alg"):
        wanted.append(checksums.DEFAULT)
    return tuple(wanted)


def _part_checksums(part: dict[str, Any], alg: str | None) -> dict[str, Any]:
    """A part's Checksum* members: of `alg` only (the default one stays unseen)."""
    value = part["cks"].get(alg) if alg else None
    return {f"Checksum{alg.upper()}": value} if alg and value else {}


_COPY_RANGE = re.compile(r"bytes=(\d+)-(\d+)")


def _copy_range(text: str, size: int) -> tuple[int, int]:
    """x-amz-copy-source-range: unlike a GET's Range, only bytes=first-last, inside the source."""
    match = _COPY_RANGE.fullmatch(text)
    if match is None or int(match[1]) > int(match[2]):
        raise errors.invalid_argument("The x-amz-copy-source-range value must be of the form bytes=first-last "
                                      "where first and last are the zero-based offsets of the first and last "
                                      "bytes to copy", "x-amz-copy-source-range", text)
    first, last = int(match[1]), int(match[2])
    if first >= size:
        raise errors.invalid_request("The specified copy range is invalid for the source object size")
    if last >= size:
        raise errors.invalid_argument(f"Range specified is not valid for source object of size: {size}",
                                      "x-amz-copy-source-range", text)
    return first, last


async def upload_part_copy(call: Call, params: dict[str, Any]) -> dict[str, Any]:
    bucket = objects.bucket_of(call, params)
    key = params["Key"]
    upload = _upload(call, bucket["Name"], key, params["UploadId"])
    number = _part_number(params)
    _check_kms_decrypt(call, bucket["Name"], key, upload)
    customer = sse_c.for_part(call, upload, params)
    src = objects.copy_source(call, params)
    source = src.value
    first, last = 0, source["size"] - 1
    if params.get("CopySourceRange"):
        first, last = _copy_range(params["CopySourceRange"], source["size"])
    written = await bodies.write(call, src.body(call, first, last), dict(upload["sse"]),
                                 objects.encryption_context(bucket["Name"], key, upload["sse"]),
                                 checksum_algorithms=_part_algorithms(upload, upload.get("alg")), customer=customer)
    part = _store_part(call, upload, number, written)
    result = {"ETag": part["etag"], "LastModified": records.last_modified(part)}
    result.update(_part_checksums(part, upload.get("alg")))
    out: dict[str, Any] = {"CopyPartResult": result, **objects.sse_result(upload["sse"], customer)}
    if versions.is_versioned(src.bucket):
        out["CopySourceVersionId"] = source["vid"]
    return out


def _composite(algorithm: str, parts: list[dict[str, Any]]) -> str | None:
    running = checksums.new(algorithm)
    for part in parts:
        value = part["cks"].get(algorithm)
        if value is None:
            return None
        running.update(base64.b64decode(value))
    return f"{running.b64digest()}-{len(parts)}"


def _full_object_crc(algorithm: str, parts: list[dict[str, Any]]) -> str | None:
    """The whole object's CRC, combined from the parts' CRCs (no byte is read again)."""
    crc: str | None = None
    for part in parts:
        value = part["cks"].get(algorithm)
        if value is None:  # a part stored before Skyhold kept this checksum
            return None
        crc = value if crc is None else checksums.combine(algorithm, crc, value, part["size"])
    return crc


def _listed_checksums(item: dict[str, Any]) -> dict[str, str]:
    """x-amz-checksum-* values (or a listed part's Checksum* members), by algorithm."""
    return {alg: item[f"Checksum{alg.upper()}"] for alg in _AWS_ALGORITHMS if item.get(f"Checksum{alg.upper()}")}


def _check_part_checksum(upload: dict[str, Any], item: dict[str, Any], part: dict[str, Any]) -> None:
    """A listed part's checksum against the stored part's, in S3's words."""
    number, etag, alg = part["n"], item.get("ETag", ""), upload.get("alg")
    given = _listed_checksums(item)
    if alg is None:  # an upload without a checksum has no part checksum to match
        if given:
            raise errors.invalid_part(number, etag, upload["UploadId"])
        return
    for other in given:
        if other != alg:
            raise errors.bad_digest(f"The {other} you specified for part {number} did not match what we received.")
    if alg in given:
        if given[alg] != part["cks"].get(alg):
            raise errors.invalid_part(number, etag, upload["UploadId"])
    elif upload.get("ckt") == "COMPOSITE":  # the composite is made of the listed values
        raise errors.invalid_request(f"The upload was created using a {alg} checksum. The complete request must "
                                     f"include the checksum for each part. It was missing for part {number} in "
                                     "the request.")


async def complete_multipart_upload(call: Call, params: dict[str, Any]) -> dict[str, Any]:
    bucket = objects.bucket_of(call, params)
    crypto.refuse_sse_header(call)
    name, key, upload_id = bucket["Name"], params["Key"], params["UploadId"]
    rec = call.store.get(records.UPLOAD, records.upload_key(name, key, upload_id))
    if rec is None:
        return _completed_again(call, bucket, key, upload_id, params)
    upload = rec.value
    _check_kms_decrypt(call, name, key, upload)
    if params.get("MultipartUpload") is None:  # no body at all
        raise errors.invalid_request("You must specify at least one part")
    listed = params["MultipartUpload"].get("Parts") or []
    if not listed:
        raise errors.malformed_xml()
    alg, mode = upload.get("alg"), upload.get("ckt")
    asked = (params.get("ChecksumType") or "").upper()
    if asked and asked not in _CHECKSUM_TYPES:
        raise errors.invalid_request("Value for x-amz-checksum-type header is invalid.")
    if asked and asked != mode:
        raise errors.invalid_request(f"The upload was created using the {mode or 'null'} checksum mode. The "
                                     "complete request must use the same checksum mode.")
    stored = {r.value["n"]: r.value for r in call.store.scan(records.PART, upload_id + "/")}
    chosen: list[dict[str, Any]] = []
    previous = 0
    for item in listed:
        number, etag = item.get("PartNumber", 0), item.get("ETag", "")
        if number <= previous:
            raise errors.invalid_part_order(upload_id)
        previous = number
        part = stored.get(number)
        if part is None or part["etag"].strip('"') != etag.strip('"'):
            raise errors.invalid_part(number, etag, upload_id)
        _check_part_checksum(upload, item, part)
        chosen.append(part)
    for part in chosen[:-1]:
        if part["size"] < MIN_PART:
            raise errors.part_too_small(part["size"], part["n"], part["etag"])
    size = sum(p["size"] for p in chosen)
    if params.get("MpuObjectSize") is not None and int(params["MpuObjectSize"]) != size:
        raise errors.invalid_request(f"The provided 'x-amz-mp-object-size' header value {params['MpuObjectSize']} "
                                     f"does not match what was computed: {size}")
    md5s = b"".join(bytes.fromhex(p["md5"]) for p in chosen)
    cks: dict[str, str] = {}
    if alg:
        combined = _composite(alg, chosen) if mode != "FULL_OBJECT" else _full_object_crc(alg, chosen)
        if combined:
            cks[alg] = combined
        declared = _listed_checksums(params)
        # A whole-object checksum is checked only when the request says it is one.
        if mode == "FULL_OBJECT" and declared and (
                asked != "FULL_OBJECT" or declared.get(alg) != combined):
            raise errors.bad_digest(f"The {alg} you specified did not match the calculated checksum.")
    else:  # S3's default; a whole-object value the request sends is ignored, as on S3
        default = _full_object_crc(checksums.DEFAULT, chosen)
        if default:
            cks[checksums.DEFAULT], mode = default, "FULL_OBJECT"
    value = {
        "key": key, "size": size, "etag": f'"{hashlib.md5(md5s).hexdigest()}-{len(chosen)}"',
        "mtime": records.now_text(), "segs": [p["seg"] for p in chosen], "meta": upload["meta"],
        "hdrs": upload["hdrs"], "cks": cks, "ckt": mode or "COMPOSITE", "sse": upload["sse"],
        "tags": upload["tags"], "owner": upload["owner"], "sc": upload.get("sc", "STANDARD"),
        "parts": len(chosen), "upid": upload_id,
    }
    if upload.get("acl"):
        value["acl"] = upload["acl"]
    value.update(object_lock.with_default(bucket, _lock_of(upload), value["mtime"]))
    if alg and mode == "COMPOSITE":  # each part's (number, checksum): GetObjectAttributes and a part's GET show them
        value["pcks"] = [[p["n"], p["cks"].get(alg)] for p in chosen]
    used = {p["n"] for p in chosen}
    with bodies.transaction(call):  # the replaced object's blobs go after the commit
        if call.store.get(records.UPLOAD, records.upload_key(name, key, upload_id)) is None:
            raise errors.no_such_upload(upload_id)
        version_id = versions.put(call, bucket, key, value, _completion_check(params, key, upload))
        call.store.delete(records.UPLOAD, records.upload_key(name, key, upload_id))
        for n in stored:
            call.store.delete(records.PART, records.part_key(upload_id, n))
    bodies.delete(call, [p["seg"] for n, p in stored.items() if n not in used])
    return _completion_result(call, bucket, key, value, version_id, params)


def _completed_again(call: Call, bucket: dict[str, Any], key: str, upload_id: str,
                     params: dict[str, Any]) -> dict[str, Any]:
    """CompleteMultipartUpload of an upload already completed (an SDK's retry after a lost
    answer): while the key's current object is the one it made, S3 answers as it did."""
    current = call.store.get(records.OBJECT, records.object_key(bucket["Name"], key))
    if current is None or current.value.get("upid") != upload_id:
        raise errors.no_such_upload(upload_id)
    value = current.value
    _check_kms_decrypt(call, bucket["Name"], key, value)  # as the first completion asked it
    version_id = value["vid"] if bucket.get("Versioning") == "Enabled" else None
    return _completion_result(call, bucket, key, value, version_id, params)


def _completion_result(call: Call, bucket: dict[str, Any], key: str, value: dict[str, Any], version_id: str | None,
                       params: dict[str, Any]) -> dict[str, Any]:
    name = bucket["Name"]
    # The key as it would sit in a URL: S3 percent-encodes it ("—" reads "%E2%80%94").
    location = f"{call.request.scheme}://{call.request.headers.get('host', 's3.amazonaws.com')}/{name}/{quote(key)}"
    out: dict[str, Any] = {"Location": location, "Bucket": name, "Key": key, "ETag": value["etag"],
                           **objects.sse_result(value["sse"], sse_c.from_params(call, params, md5_required=False)),
                           **objects._checksum_result(value)}
    if version_id is not None:
        out["VersionId"] = version_id
    objects._add_expiration(out, bucket, value)  # x-amz-expiration
    return out


def abort_multipart_upload(call: Call, params: dict[str, Any]) -> dict[str, Any]:
    bucket = objects.bucket_of(call, params)
    name, key, upload_id = bucket["Name"], params["Key"], params["UploadId"]
    _upload(call, name, key, upload_id)
    parts = call.store.scan(records.PART, upload_id + "/")
    records.note_change(call.store, name)
    with call.store.transaction():
        call.store.delete(records.UPLOAD, records.upload_key(name, key, upload_id))
        for part in parts:
            call.store.delete(records.PART, part.key)
    bodies.delete(call, [p.value["seg"] for p in parts])
    call.extras["http_status"] = 204
    return {}


def _check_kms_decrypt(call: Call, bucket: str, key: str, upload: dict[str, Any]) -> None:
    """An SSE-KMS (or DSSE-KMS) upload needs the caller's kms:Decrypt on the upload's key
    for UploadPart, UploadPartCopy, CompleteMultipartUpload and ListParts, as S3 asks
    (CreateMultipartUpload needs kms:GenerateDataKey only), though Skyhold seals each
    part under a fresh data key and reads no part's key back; KMS's context is the one
    the upload's parts are sealed under (the bucket's ARN with a bucket key)."""
    sse = upload["sse"]
    if not sse.get("kms"):
        return
    context = (bucket_keys.bucket_context(bucket, sse_context.extra(sse)) if sse.get("bk")
               else objects.encryption_context(bucket, key, sse))
    try:
        on_behalf.authorize_decrypt(call, sse["kms"], context, "s3")
    except AwsError as err:
        raise crypto._from_kms(err) from None


def _list_limit(value: int | None, name: str) -> int | None:
    """max-parts, part-number-marker, max-uploads: S3 reads a 32-bit integer, then
    refuses a negative one."""
    if value is None:
        return None
    if not -2**31 <= value < 2**31:
        raise errors.invalid_argument(f"Provided {name} not an integer or within integer range", name, str(value))
    if value < 0:
        raise errors.invalid_argument(f"Argument {name} must be an integer between 0 and 2147483647", name,
                                      str(value))
    return value


def list_parts(call: Call, params: dict[str, Any]) -> dict[str, Any]:
    bucket = objects.bucket_of(call, params)
    name, key, upload_id = bucket["Name"], params["Key"], params["UploadId"]
    upload = _upload(call, name, key, upload_id)
    _check_kms_decrypt(call, name, key, upload)
    limit = min(_list_limit(params.get("MaxParts"), "max-parts") or 1000, 1000)
    marker = _list_limit(params.get("PartNumberMarker"), "part-number-marker") or 0
    after = records.part_key(upload_id, int(marker)) if marker else ""
    found = call.store.scan(records.PART, upload_id + "/", start_after=after, limit=limit + 1)
    truncated = len(found) > limit
    found = found[:limit]
    parts = []
    for rec in found:
        p = rec.value
        entry = {"PartNumber": p["n"], "LastModified": records.last_modified(p), "ETag": p["etag"],
                 "Size": p["size"]}
        entry.update(_part_checksums(p, upload.get("alg")))
        parts.append(entry)
    out: dict[str, Any] = {
        "Bucket": name, "Key": key, "UploadId": upload_id, "PartNumberMarker": int(marker),
        # S3 always names the next marker: 0 when the page holds no part.
        "NextPartNumberMarker": parts[-1]["PartNumber"] if parts else 0,
        "MaxParts": limit, "IsTruncated": truncated, "Parts": parts, "Initiator": _initiator(upload),
        "Owner": buckets.owner_of(upload["owner"]), "StorageClass": upload.get("sc", "STANDARD"),
    }
    if upload.get("alg"):
        out["ChecksumAlgorithm"] = upload["alg"].upper()
        out["ChecksumType"] = upload.get("ckt")
    out.update(_abort(bucket, upload))
    return out


def list_multipart_uploads(call: Call, params: dict[str, Any]) -> dict[str, Any]:
    name = params["Bucket"]
    records.get_bucket(call.store, name)
    listing.check_encoding_type(params)
    prefix = params.get("Prefix") or ""
    delimiter = params.get("Delimiter") or ""
    url = params.get("EncodingType") == "url"
    asked = _list_limit(params.get("MaxUploads"), "max-uploads")
    # max-uploads=0 is an empty page that is not truncated, echoed as 0, as on S3 (recorded
    # by Scality's cloudserver#435), not the default 1000.
    limit = 1000 if asked is None else min(asked, 1000)
    key_marker = params.get("KeyMarker") or ""
    # Without a key marker S3 ignores the upload id marker (and echoes it empty).
    id_marker = params.get("UploadIdMarker") if key_marker else None
    # An upload id marker must name an upload of the key marker (without one it is ignored).
    if key_marker and id_marker and call.store.get(records.UPLOAD, records.upload_key(name, key_marker, id_marker)) is None:
        raise errors.invalid_argument("Invalid uploadId marker", "upload-id-marker", id_marker)
    after = (listing.past_prefix(name, key_marker, prefix, delimiter)
             or f"{records.versions_prefix(name, key_marker)}{id_marker or chr(0x10FFFF)}") if key_marker else ""
    uploads: list[dict[str, Any]] = []
    prefixes: list[dict[str, str]] = []
    truncated = False
    for key, rec in listing.walk(call, records.UPLOAD, name, prefix, delimiter, after,
                                 lambda r: records.split_version_key(name, r.key)[0], limit) if limit else ():
        if len(uploads) + len(prefixes) >= limit:
            truncated = True
            break
        if rec is None:
            prefixes.append({"Prefix": listing.encode(key, url)})
            continue
        v = rec.value
        upload = {"Key": listing.encode(key, url), "UploadId": v["UploadId"],
                  "Initiated": records.parse_time(v["Initiated"]), "StorageClass": v.get("sc", "STANDARD"),
                  "Owner": buckets.owner_of(v["owner"]), "Initiator": _initiator(v)}
        if v.get("alg"):  # the checksum the upload was created with, as CreateMultipartUpload answered
            upload.update(ChecksumAlgorithm=v["alg"].upper(), ChecksumType=v.get("ckt"))
        uploads.append(upload)
    # S3 always names the next markers: the last upload listed, else empty (common prefixes do not count).
    out: dict[str, Any] = {
        "Bucket": name, "KeyMarker": listing.encode(key_marker, url), "UploadIdMarker": id_marker or "",
        "NextKeyMarker": uploads[-1]["Key"] if uploads else "",
        "NextUploadIdMarker": uploads[-1]["UploadId"] if uploads else "",
        "MaxUploads": limit, "IsTruncated": truncated,
    }
    if params.get("Prefix") is not None:  # echoed only when asked for
        out["Prefix"] = listing.encode(prefix, url)
    if delimiter:
        out["Delimiter"] = listing.encode(delimiter, url)
    if url:
        out["EncodingType"] = "url"
    if uploads:
        out["Uploads"] = uploads
    if prefixes:
        out["CommonPrefixes"] = prefixes
    return out


HANDLERS = {
    "CreateMultipartUpload": create_multipart_upload,
    "UploadPart": upload_part,
    "UploadPartCopy": upload_part_copy,
    "CompleteMultipartUpload": complete_multipart_upload,
    "AbortMultipartUpload": abort_multipart_upload,
    "ListParts": list_parts,
    "ListMultipartUploads": list_multipart_uploads,
}
