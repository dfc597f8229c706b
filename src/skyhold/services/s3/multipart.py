"""Multipart uploads: each part is its own encrypted segment; completing an upload
commits an object whose body is the listed parts, in order, without copying a byte.

ETag of the whole: md5 of the parts' binary md5s, then "-<part count>". Composite
checksums likewise: the checksum of the parts' raw checksums, then "-<count>".
"""

from __future__ import annotations

import base64
import hashlib
import secrets
from typing import TYPE_CHECKING, Any

from skyhold.auth import checksums
from skyhold.errors import AwsError
from skyhold.services.s3 import acl_ops, bodies, buckets, errors, lifecycle_rules, objects, records, sse_c, versions

if TYPE_CHECKING:
    from skyhold.pipeline import Call

MIN_PART = 5 * 1024 * 1024
MAX_PART_NUMBER = 10_000


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
    sse, customer = objects.write_encryption(params, bucket)
    algorithm = (params.get("ChecksumAlgorithm") or "").lower() or None
    if algorithm and algorithm not in checksums.supported():
        raise errors.invalid_request(f"Checksum algorithm {algorithm.upper()} is not supported")
    upload_id = secrets.token_urlsafe(48).replace("-", "A").replace("_", "B")
    value = {
        "Key": key, "UploadId": upload_id, "Initiated": records.now_text(), **ownership,
        "meta": params.get("Metadata") or {}, "hdrs": objects._content_headers(params), "sse": sse,
        "tags": objects.parse_tagging(params.get("Tagging")), "alg": algorithm,
        "ckt": params.get("ChecksumType") or ("COMPOSITE" if algorithm else None),
        "sc": params.get("StorageClass") or "STANDARD",
    }
    if customer is not None:
        value["kc"] = sse_c.key_check(call, customer)
    call.store.put(records.UPLOAD, records.upload_key(bucket["Name"], key, upload_id), value, expect_version=0)
    out: dict[str, Any] = {"Bucket": bucket["Name"], "Key": key, "UploadId": upload_id,
                           **objects.sse_result(sse, customer)}
    if algorithm:
        out["ChecksumAlgorithm"] = algorithm.upper()
        out["ChecksumType"] = value["ckt"]
    out.update(_abort(bucket, value))
    return out


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
    part = {"n": number, "size": written.size, "etag": f'"{written.md5.hex()}"', "md5": written.md5.hex(),
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
    key = params["Key"]
    upload = _upload(call, bucket["Name"], key, params["UploadId"])
    number = _part_number(params)
    customer = sse_c.for_part(call, upload, params)
    alg, declared = objects.checksum_request(call, params)
    alg = alg or upload.get("alg")
    source = call.body_stream if call.body_stream is not None else [params.get("Body") or b""]
    written = await bodies.write(call, source, dict(upload["sse"]), objects.encryption_context(bucket["Name"], key),
                                 checksum_algorithm=alg, declared=declared, customer=customer)
    part = _store_part(call, upload, number, written)
    out = {"ETag": part["etag"], **objects.sse_result(upload["sse"], customer)}
    out.update(objects._checksum_result({"cks": part["cks"]}))
    out.pop("ChecksumType", None)
    return out


async def upload_part_copy(call: Call, params: dict[str, Any]) -> dict[str, Any]:
    bucket = objects.bucket_of(call, params)
    key = params["Key"]
    upload = _upload(call, bucket["Name"], key, params["UploadId"])
    number = _part_number(params)
    customer = sse_c.for_part(call, upload, params)
    src = objects.copy_source(call, params)
    source = src.value
    first, last = 0, source["size"] - 1
    if params.get("CopySourceRange"):
        span = objects.parse_range(params["CopySourceRange"], source["size"])
        if span is None:
            raise errors.invalid_argument("The x-amz-copy-source-range value must be of the form bytes=first-last "
                                          "where first and last are the zero-based offsets of the first and last "
                                          "bytes to copy", "x-amz-copy-source-range", params["CopySourceRange"])
        first, last = span
    written = await bodies.write(call, src.body(call, first, last), dict(upload["sse"]),
                                 objects.encryption_context(bucket["Name"], key), checksum_algorithm=upload.get("alg"),
                                 customer=customer)
    part = _store_part(call, upload, number, written)
    result = {"ETag": part["etag"], "LastModified": records.parse_time(part["mtime"])}
    result.update(objects._checksum_result({"cks": part["cks"]}))
    result.pop("ChecksumType", None)
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
    """FULL_OBJECT CRCs of a multipart object need CRC combination; Skyhold reports
    none rather than a wrong one (clients then skip validation)."""
    return None


async def complete_multipart_upload(call: Call, params: dict[str, Any]) -> dict[str, Any]:
    bucket = objects.bucket_of(call, params)
    name, key, upload_id = bucket["Name"], params["Key"], params["UploadId"]
    upload = _upload(call, name, key, upload_id)
    listed = (params.get("MultipartUpload") or {}).get("Parts") or []
    if not listed:
        raise errors.malformed_xml()
    stored = {r.value["n"]: r.value for r in call.store.scan(records.PART, upload_id + "/")}
    chosen: list[dict[str, Any]] = []
    previous = 0
    for item in listed:
        number, etag = item.get("PartNumber", 0), item.get("ETag", "")
        if number <= previous:
            raise errors.invalid_part_order()
        previous = number
        part = stored.get(number)
        if part is None or part["etag"].strip('"') != etag.strip('"'):
            raise errors.invalid_part(number, etag)
        chosen.append(part)
    for part in chosen[:-1]:
        if part["size"] < MIN_PART:
            raise errors.entity_too_small(part["size"])
    md5s = b"".join(bytes.fromhex(p["md5"]) for p in chosen)
    cks: dict[str, str] = {}
    alg = upload.get("alg")
    if alg:
        combined = _composite(alg, chosen) if upload.get("ckt") != "FULL_OBJECT" else _full_object_crc(alg, chosen)
        if combined:
            cks[alg] = combined
    value = {
        "key": key, "size": sum(p["size"] for p in chosen), "etag": f'"{hashlib.md5(md5s).hexdigest()}-{len(chosen)}"',
        "mtime": records.now_text(), "segs": [p["seg"] for p in chosen], "meta": upload["meta"],
        "hdrs": upload["hdrs"], "cks": cks, "ckt": upload.get("ckt") or "COMPOSITE", "sse": upload["sse"],
        "tags": upload["tags"], "owner": upload["owner"], "sc": upload.get("sc", "STANDARD"),
        "parts": len(chosen),
    }
    if upload.get("acl"):
        value["acl"] = upload["acl"]
    used = {p["n"] for p in chosen}
    with call.store.transaction():
        if call.store.get(records.UPLOAD, records.upload_key(name, key, upload_id)) is None:
            raise errors.no_such_upload(upload_id)
        version_id = versions.put(call, bucket, key, value, objects._write_check(params, key))
        call.store.delete(records.UPLOAD, records.upload_key(name, key, upload_id))
        for n in stored:
            call.store.delete(records.PART, records.part_key(upload_id, n))
    bodies.delete(call, [p["seg"] for n, p in stored.items() if n not in used])
    location = f"{call.request.scheme}://{call.request.headers.get('host', 's3.amazonaws.com')}/{name}/{key}"
    out: dict[str, Any] = {"Location": location, "Bucket": name, "Key": key, "ETag": value["etag"],
                           **objects.sse_result(upload["sse"], sse_c.from_params(params, md5_required=False)),
                           **objects._checksum_result(value)}
    if version_id is not None:
        out["VersionId"] = version_id
    return out


def abort_multipart_upload(call: Call, params: dict[str, Any]) -> dict[str, Any]:
    bucket = objects.bucket_of(call, params)
    name, key, upload_id = bucket["Name"], params["Key"], params["UploadId"]
    _upload(call, name, key, upload_id)
    parts = call.store.scan(records.PART, upload_id + "/")
    with call.store.transaction():
        call.store.delete(records.UPLOAD, records.upload_key(name, key, upload_id))
        for part in parts:
            call.store.delete(records.PART, part.key)
    bodies.delete(call, [p.value["seg"] for p in parts])
    call.extras["http_status"] = 204
    return {}


def list_parts(call: Call, params: dict[str, Any]) -> dict[str, Any]:
    bucket = objects.bucket_of(call, params)
    name, key, upload_id = bucket["Name"], params["Key"], params["UploadId"]
    upload = _upload(call, name, key, upload_id)
    limit = min(params.get("MaxParts") or 1000, 1000)
    marker = params.get("PartNumberMarker") or 0
    after = records.part_key(upload_id, int(marker)) if marker else ""
    found = call.store.scan(records.PART, upload_id + "/", start_after=after, limit=limit + 1)
    truncated = len(found) > limit
    found = found[:limit]
    parts = []
    for rec in found:
        p = rec.value
        entry = {"PartNumber": p["n"], "LastModified": records.parse_time(p["mtime"]), "ETag": p["etag"],
                 "Size": p["size"]}
        entry.update(objects._checksum_result({"cks": p["cks"]}))
        entry.pop("ChecksumType", None)
        parts.append(entry)
    owner = buckets.owner_of(upload["owner"])
    out: dict[str, Any] = {
        "Bucket": name, "Key": key, "UploadId": upload_id, "PartNumberMarker": int(marker),
        "MaxParts": limit, "IsTruncated": truncated, "Parts": parts, "Initiator": owner, "Owner": owner,
        "StorageClass": upload.get("sc", "STANDARD"),
    }
    if parts:
        out["NextPartNumberMarker"] = parts[-1]["PartNumber"]
    if upload.get("alg"):
        out["ChecksumAlgorithm"] = upload["alg"].upper()
        out["ChecksumType"] = upload.get("ckt")
    out.update(_abort(bucket, upload))
    return out


def list_multipart_uploads(call: Call, params: dict[str, Any]) -> dict[str, Any]:
    name = params["Bucket"]
    records.get_bucket(call.store, name)
    prefix = params.get("Prefix") or ""
    limit = min(params.get("MaxUploads") or 1000, 1000)
    key_marker = params.get("KeyMarker") or ""
    after = f"{records.versions_prefix(name, key_marker)}{params.get('UploadIdMarker') or chr(0x10FFFF)}" \
        if key_marker else ""
    found = call.store.scan(records.UPLOAD, f"{name}/{prefix}", start_after=after, limit=limit + 1)
    truncated = len(found) > limit
    found = found[:limit]
    uploads = [{"Key": r.value["Key"], "UploadId": r.value["UploadId"],
                "Initiated": records.parse_time(r.value["Initiated"]), "StorageClass": r.value.get("sc", "STANDARD"),
                "Owner": buckets.owner_of(r.value["owner"]), "Initiator": buckets.owner_of(r.value["owner"])}
               for r in found]
    out: dict[str, Any] = {"Bucket": name, "KeyMarker": key_marker, "UploadIdMarker": params.get("UploadIdMarker") or "",
                           "MaxUploads": limit, "IsTruncated": truncated, "Prefix": prefix}
    if uploads:
        out["Uploads"] = uploads
    if truncated and uploads:
        out["NextKeyMarker"] = uploads[-1]["Key"]
        out["NextUploadIdMarker"] = uploads[-1]["UploadId"]
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
