"""Objects: Put/Get/Head/Delete/Copy, DeleteObjects and object tagging.

A PUT streams the body through the blob store (encrypted, hashed, checksummed) and
then commits the object record; a GET streams it back, whole or a byte range.
"""

from __future__ import annotations

import base64
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import format_datetime
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl, unquote_plus

from skyhold import clock
from skyhold.auth import checksums
from skyhold.auth.payload import header_checksums
from skyhold.errors import AwsError
from skyhold.services.s3 import (
    acl_ops, bodies, buckets, crypto, errors, lifecycle_rules, object_lock, records, restore, sse_c, sse_context,
    user_metadata, versions,
)
from skyhold.services.s3.buckets import tag_text_ok, validate_tags

if TYPE_CHECKING:
    from skyhold.pipeline import Call

# Content headers stored with an object and returned by GET/HEAD.
CONTENT_HEADERS = ("ContentType", "CacheControl", "ContentDisposition", "ContentEncoding", "ContentLanguage")
_RESPONSE_OVERRIDES = {
    "ResponseContentType": "ContentType", "ResponseCacheControl": "CacheControl",
    "ResponseContentDisposition": "ContentDisposition", "ResponseContentEncoding": "ContentEncoding",
    "ResponseContentLanguage": "ContentLanguage", "ResponseExpires": "Expires",
}
_SSE_ALGORITHMS = ("AES256", "aws:kms", "aws:kms:dsse")
_CHECKSUM_MEMBER = {"crc32": "ChecksumCRC32", "crc32c": "ChecksumCRC32C", "sha1": "ChecksumSHA1",
                    "sha256": "ChecksumSHA256", "crc64nvme": "ChecksumCRC64NVME", "sha512": "ChecksumSHA512",
                    "md5": "ChecksumMD5", "xxhash64": "ChecksumXXHASH64", "xxhash3": "ChecksumXXHASH3",
                    "xxhash128": "ChecksumXXHASH128"}
# The classes a general purpose bucket stores objects in (the model's enum also names
# those of directory buckets, Outposts, Snow and FSx, which S3 refuses here).
STORAGE_CLASSES = frozenset({"STANDARD", "REDUCED_REDUNDANCY", "STANDARD_IA", "ONEZONE_IA", "INTELLIGENT_TIERING",
                             "GLACIER", "DEEP_ARCHIVE", "GLACIER_IR"})


def bucket_of(call: Call, params: dict[str, Any]) -> dict[str, Any]:
    found = call.extras.get("bucket")
    return found if found is not None else records.get_bucket(call.store, params["Bucket"]).value


def encryption_context(bucket: str, key: str, sse: dict[str, Any] | None = None) -> dict[str, str]:
    """The KMS encryption context of an object's data keys: the caller's extra pairs
    it was stored with (sse_context.py), and S3's own aws:s3:arn."""
    return {**sse_context.extra(sse or {}), "aws:s3:arn": records.object_arn(bucket, key)}


def requested_sse(params: dict[str, Any], bucket: dict[str, Any]) -> dict[str, Any]:
    """The new object's "sse": {"alg", "kms"?, "bk"?: uses an S3 Bucket Key}."""
    alg = params.get("ServerSideEncryption")
    if alg is None:
        if params.get("SSEKMSKeyId"):
            raise errors.invalid_argument("Server Side Encryption with AWS KMS managed key requires HTTP header "
                                          "x-amz-server-side-encryption : aws:kms", "x-amz-server-side-encryption")
        sse_context.require_kms(params)  # an encryption context needs the header
        return _with_bucket_key(buckets.default_sse(bucket), params, bucket)
    if alg not in _SSE_ALGORITHMS:
        raise errors.invalid_encryption_method()
    out = {"alg": alg}
    if params.get("SSEKMSKeyId"):
        if alg == "AES256":
            raise errors.invalid_argument("Server Side Encryption with AWS KMS managed key requires HTTP header "
                                          "x-amz-server-side-encryption : aws:kms", "x-amz-server-side-encryption")
        out["kms"] = params["SSEKMSKeyId"]
    out = _with_bucket_key(out, params, bucket)
    pairs = sse_context.requested(params, out, sse_context.default_arn(bucket["Name"], params["Key"], out))
    if pairs is not None:
        out["ctx"] = pairs
    return out


def _with_bucket_key(sse: dict[str, Any], params: dict[str, Any], bucket: dict[str, Any]) -> dict[str, Any]:
    """An SSE-KMS object uses an S3 Bucket Key when the request says so
    (x-amz-server-side-encryption-bucket-key-enabled), else when the bucket's default
    encryption rule does. SSE-S3 has no use for one and DSSE-KMS does not support
    them: for those the setting is ignored (S3 answers no BucketKeyEnabled)."""
    if sse.get("alg") == "aws:kms":
        wanted = params.get("BucketKeyEnabled")
        if wanted if wanted is not None else buckets.bucket_key_default(bucket):
            sse["bk"] = True
    return sse


def parse_tagging(text: str | None) -> dict[str, str]:
    if not text:
        return {}
    try:
        pairs = parse_qsl(text, keep_blank_values=True, strict_parsing=True)
    except ValueError:
        pairs = []
    # A header S3 cannot read as distinct, well-formed tags is refused as a whole (not as InvalidTag).
    if not pairs or len({k for k, _ in pairs}) != len(pairs) or not all(
            tag_text_ok(k) and tag_text_ok(v) for k, v in pairs):
        raise errors.invalid_argument("The header 'x-amz-tagging' shall be encoded as UTF-8 then URLEncoded "
                                      "URL query parameters without tag name duplicates.", "x-amz-tagging", text)
    return validate_tags([{"Key": k, "Value": v} for k, v in pairs], 10)


def _content_headers(params: dict[str, Any]) -> dict[str, Any]:
    hdrs = {h: params[h] for h in CONTENT_HEADERS if params.get(h) is not None}
    encoding = hdrs.get("ContentEncoding")
    if encoding is not None:
        # aws-chunked is how the body travelled, not what it is.
        rest = [e.strip() for e in encoding.split(",") if e.strip() and e.strip() != "aws-chunked"]
        if rest:
            hdrs["ContentEncoding"] = ",".join(rest)
        else:
            del hdrs["ContentEncoding"]
    expires = params.get("Expires")
    if isinstance(expires, datetime):
        hdrs["Expires"] = format_datetime(expires, usegmt=True)
    elif isinstance(expires, str) and expires.strip():  # not a date: S3 keeps and returns it as sent
        hdrs["Expires"] = expires
    if params.get("WebsiteRedirectLocation"):
        hdrs["WebsiteRedirectLocation"] = params["WebsiteRedirectLocation"]
    return hdrs


def sent_checksum(call: Call) -> tuple[str | None, dict[str, str]]:
    """(algorithm of the checksum the body comes with -- an x-amz-checksum-* header or
    trailer --, declared x-amz-checksum-* header values to verify)."""
    declared = header_checksums(call.request.headers)
    if len(declared) > 1:
        raise errors.invalid_request("Expecting a single x-amz-checksum- header. Multiple checksum Types are not "
                                     "allowed.")
    alg = next(iter(declared), None)
    trailer = call.request.headers.get("x-amz-trailer")
    if trailer:
        for name in trailer.split(","):
            if (named := checksums.algorithm_of(name.strip().lower())) is not None:
                if alg is not None:  # a value header and a trailing one: two checksums
                    raise errors.invalid_request("Expecting a single x-amz-checksum- header. Multiple checksum "
                                                 "Types are not allowed.")
                alg = named
    sdk = call.request.headers.get("x-amz-sdk-checksum-algorithm")
    if sdk is not None and call.operation in _SDK_CHECKED:
        # What the SDK says it computed must be what the request carries (S3's answers
        # quoted in versitygw#1593 and #1598).
        sdk = sdk.strip().lower()
        if sdk not in checksums.SUPPORTED:
            raise unsupported_checksum_algorithm()
        if alg is None:
            raise errors.invalid_request("x-amz-sdk-checksum-algorithm specified, but no corresponding "
                                         "x-amz-checksum-* or x-amz-trailer headers were found.")
        if sdk != alg:
            raise errors.invalid_request("Value for x-amz-sdk-checksum-algorithm header is invalid.")
    return alg, declared


# The operations whose x-amz-sdk-checksum-algorithm S3 holds to the checksum sent.
_SDK_CHECKED = frozenset({"PutObject", "UploadPart"})


# The operations whose body S3 itself refuses without Content-MD5 or an x-amz-checksum-*
# header. botocore's model marks more (requestChecksumRequired: what the SDK should
# send), but S3 takes a bucket policy, ACL, versioning or object tagging without one
# (minio-go's SetBucketPolicy and the JS SDK v2's canned ACLs send none); refusals
# clients met: aws-cli#229 and #400, amazonka#369 and #610, botocore#3415, and S3's
# answer to PutObjectLockConfiguration quoted in versitygw#1301.
_CHECKSUM_REQUIRED = frozenset({
    "DeleteObjects", "PutBucketCors", "PutBucketLifecycle", "PutBucketLifecycleConfiguration", "PutBucketTagging",
    "PutObjectLockConfiguration", "PutObjectRetention", "PutObjectLegalHold",
})


def require_body_checksum(call: Call) -> None:
    """Refuse a body S3 wants proven that came with neither Content-MD5 nor an
    x-amz-checksum-* header or trailer (every SDK sends one); a hand-made request
    learns it here. Called by the pipeline once the request is authorized."""
    if (call.operation in _CHECKSUM_REQUIRED and "content-md5" not in call.request.headers
            and sent_checksum(call)[0] is None):
        raise errors.checksum_required()


def unsupported_checksum_algorithm() -> AwsError:
    """S3's answer to an algorithm it does not know: CopyObject's or CreateMultipartUpload's
    x-amz-checksum-algorithm, PutObject's or UploadPart's x-amz-sdk-checksum-algorithm."""
    return errors.invalid_request("Checksum algorithm provided is unsupported. Please try again with any of the "
                                  f"valid types: [{', '.join(sorted(a.upper() for a in checksums.SUPPORTED))}]")


def checksum_request(call: Call, params: dict[str, Any]) -> tuple[str | None, dict[str, str]]:
    """(algorithm a part names -- x-amz-checksum-algorithm or its value's --, declared
    x-amz-checksum-* values to verify)."""
    sent, declared = sent_checksum(call)
    alg = (params.get("ChecksumAlgorithm") or "").lower() or sent
    if alg is not None and alg not in checksums.SUPPORTED:
        raise errors.invalid_request(f"Checksum algorithm {alg.upper()} is not supported")
    return alg, declared


def _etag_matches(header: str, etag: str) -> bool:
    bare = etag.strip('"')
    return any(t.strip() in ("*", etag, bare) or t.strip().strip('"') == bare for t in header.split(","))


def _mtime(value: dict[str, Any]) -> datetime:
    return records.last_modified(value)


_CONDITIONS = frozenset({"IfMatch", "IfUnmodifiedSince", "IfNoneMatch", "IfModifiedSince"})


def check_conditions(params: dict[str, Any], value: dict[str, Any], prefix: str = "") -> None:
    """If-Match / If-Unmodified-Since (412) and If-None-Match / If-Modified-Since (304),
    with RFC 7232's precedence. `prefix` "CopySource" reads the x-amz-copy-source-if-* set
    (where every failure is a 412)."""
    if not prefix and _CONDITIONS.isdisjoint(params):
        return  # the usual request: no conditions
    etag = value["etag"]
    mtime = _mtime(value)
    if_match = params.get(prefix + "IfMatch")
    if if_match is not None:
        if not _etag_matches(if_match, etag):
            raise errors.precondition_failed("x-amz-copy-source-If-Match" if prefix else "If-Match")
    elif (since := params.get(prefix + "IfUnmodifiedSince")) is not None and mtime > since:
        raise errors.precondition_failed("x-amz-copy-source-If-Unmodified-Since" if prefix else
                                         "If-Unmodified-Since")
    if_none = params.get(prefix + "IfNoneMatch")
    if if_none is not None:
        if _etag_matches(if_none, etag):
            if prefix:
                raise errors.precondition_failed("x-amz-copy-source-If-None-Match")
            raise errors.not_modified(etag)
    elif (since := params.get(prefix + "IfModifiedSince")) is not None and mtime <= since and not _future(since):
        if prefix:
            raise errors.precondition_failed("x-amz-copy-source-If-Modified-Since")
        raise errors.not_modified(etag)


def _future(since: datetime) -> bool:
    """S3 ignores an If-Modified-Since date that has not come yet."""
    now = datetime.fromtimestamp(clock.now_epoch(), UTC)
    return since > (now if since.tzinfo else now.replace(tzinfo=None))


def _write_check(params: dict[str, Any], key: str) -> Any:
    """Conditional writes (If-None-Match: * / If-Match), checked at commit time."""
    if_none, if_match = params.get("IfNoneMatch"), params.get("IfMatch")
    if if_none is None and if_match is None:
        return None
    # Writes take If-None-Match: * and If-Match: <etag>, one at a time; S3 does not serve the rest.
    if if_none is not None and if_match is not None:
        raise errors.header_not_implemented("If-Match,If-None-Match",
                                            "Multiple conditional request headers present in the request")
    if if_none is not None and if_none.strip() != "*":
        raise errors.header_not_implemented("If-None-Match",
                                            "We don't accept the provided value of If-None-Match header for this API")
    if if_match is not None and if_match.strip() == "*":
        raise errors.header_not_implemented("If-Match",
                                            "We don't accept the provided value of If-Match header for this API")
    return _commit_check(if_none, if_match, key)


def _commit_check(if_none: str | None, if_match: str | None, key: str) -> Any:
    def check(current: dict[str, Any] | None) -> None:
        if if_none is not None and current is not None:
            raise errors.precondition_failed("If-None-Match")
        if if_match is not None:
            if current is None:
                raise errors.no_such_key(key)
            if not _etag_matches(if_match, current["etag"]):
                raise errors.precondition_failed("If-Match")
    return check


_REDIRECT_PREFIXES = ("/", "http://", "https://")  # what x-amz-website-redirect-location may start with


def check_new_object(params: dict[str, Any], *, metadata: bool = True) -> None:
    """S3's limits on what a write names: the key, the storage class and (`metadata`:
    when the request sets it) the user metadata. Checked before a byte is stored."""
    size = len(params["Key"].encode("utf-8", "surrogateescape"))
    if size > errors.MAX_KEY_BYTES:
        raise errors.key_too_long(size)
    storage_class = params.get("StorageClass")
    if storage_class is not None and storage_class not in STORAGE_CLASSES:
        raise errors.invalid_storage_class(storage_class)
    redirect = params.get("WebsiteRedirectLocation")
    if redirect and not redirect.startswith(_REDIRECT_PREFIXES):
        raise AwsError("InvalidRedirectLocation", "The website redirect location must have a prefix of 'http://' or "
                       "'https://' or '/'.", 400)
    if metadata and (meta := params.get("Metadata")):
        # Kept RFC 2047-decoded (user_metadata.py); the limit counts what is kept.
        meta = params["Metadata"] = user_metadata.stored(meta)
        size = sum(len(k.encode("utf-8", "surrogateescape")) + len(v.encode("utf-8", "surrogateescape"))
                   for k, v in meta.items())
        if size > errors.MAX_METADATA_BYTES:
            raise errors.metadata_too_large(size)


def _etag(md5: bytes) -> str:
    return f'"{md5.hex()}"'


def new_value(call: Call, key: str, written: bodies.Written, params: dict[str, Any], sse: dict[str, str],
              tags: dict[str, str], checksum_type: str = "FULL_OBJECT") -> dict[str, Any]:
    return {
        "key": key, "size": written.size, "etag": _etag(written.etag), "mtime": records.now_text(),
        "segs": [written.segment], "meta": params.get("Metadata") or {}, "hdrs": _content_headers(params),
        "cks": written.checksum, "ckt": checksum_type, "sse": sse, "tags": tags,
        "owner": call.principal.account, "sc": params.get("StorageClass") or "STANDARD",
    }


def write_encryption(call: Call, params: dict[str, Any],
                     bucket: dict[str, Any]) -> tuple[dict[str, Any], sse_c.CustomerKey | None]:
    """(the new object's "sse", its SSE-C key if the request sent one)."""
    customer = sse_c.for_write(call, params, bucket)
    if customer is not None:
        sse_context.require_kms(params)  # not with SSE-C either
    return (sse_c.sse_value(), customer) if customer is not None else (requested_sse(params, bucket), None)


def check_kms_key(call: Call, bucket: dict[str, Any], key: str, sse: dict[str, Any]) -> None:
    """A write that stores no body yet (CreateMultipartUpload) still has its KMS key (and
    the caller's use of it) checked now, as S3 does; `sse` then names the key by ARN."""
    if crypto.uses_kms(sse):
        crypto.new_data_key(call, sse, encryption_context(bucket["Name"], key, sse))


def sse_result(sse: dict[str, Any], customer: sse_c.CustomerKey | None = None) -> dict[str, Any]:
    if sse_c.is_customer(sse):
        return sse_c.result(customer)
    out: dict[str, Any] = {"ServerSideEncryption": sse["alg"]}
    if sse.get("kms"):
        out["SSEKMSKeyId"] = sse["kms"]
    if sse.get("bk"):  # S3 names only a bucket key in use, never BucketKeyEnabled: false
        out["BucketKeyEnabled"] = True
    return out


def _checksum_result(value: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for alg, digest in (value.get("cks") or {}).items():
        member = _CHECKSUM_MEMBER.get(alg)
        if member:
            out[member] = digest
    if out:
        out["ChecksumType"] = value.get("ckt", "FULL_OBJECT")
    return out


async def drain(call: Call) -> None:
    """Read what is left of a refused upload: unread, it would be taken for the next
    request on the same keep-alive connection."""
    stream = call.body_stream
    if stream is not None and hasattr(stream, "__aiter__"):  # a plain iterable holds its bytes already
        async for _ in stream:
            pass


async def put_object(call: Call, params: dict[str, Any]) -> dict[str, Any]:
    try:
        return await _put_object(call, params)
    except AwsError as err:
        await drain(call)
        if err.code == "BadDigest" and "ExpectedDigest" in err.extra:
            # PutObject (unlike UploadPart) names the Content-MD5 it expected in hex
            err.extra["ExpectedDigest"] = base64.b64decode(err.extra["ExpectedDigest"]).hex()
        raise


async def _put_object(call: Call, params: dict[str, Any]) -> dict[str, Any]:
    bucket = bucket_of(call, params)
    key = params["Key"]
    check_new_object(params)
    ownership = acl_ops.new_object(call, bucket, params)
    sse, customer = write_encryption(call, params, bucket)
    tags = parse_tagging(params.get("Tagging"))
    lock = object_lock.for_new_version(bucket, params)
    if object_lock.has_parameters(bucket, lock):
        object_lock.require_checksum(call, "Put Object")
    check = _write_check(params, key)
    if check is not None:  # fail before reading a byte when it already cannot hold
        current = call.store.get(records.OBJECT, records.object_key(bucket["Name"], key))
        check(current.value if current else None)
    # S3 stores the checksum the body came with, else its default (x-amz-checksum-algorithm
    # alone names none: AWS ignores it, whatever it says).
    alg, declared = sent_checksum(call)
    source = call.body_stream if call.body_stream is not None else [params.get("Body") or b""]
    written = await bodies.write(call, source, sse, encryption_context(bucket["Name"], key, sse),
                                 checksum_algorithms=(alg or checksums.DEFAULT,), declared=declared,
                                 customer=customer)
    value = new_value(call, key, written, params, sse, tags)
    value.update(ownership)
    value.update(object_lock.with_default(bucket, lock, value["mtime"]))
    try:
        version_id = versions.put(call, bucket, key, value, check)
    except BaseException:
        bodies.delete(call, [written.segment])
        raise
    out = {"ETag": value["etag"], **sse_result(sse, customer), **sse_context.echo(sse, bucket["Name"], key),
           **_checksum_result(value)}
    if version_id is not None:
        out["VersionId"] = version_id
    _add_expiration(out, bucket, value)
    return out


def lookup(call: Call, bucket: dict[str, Any], key: str, version_id: str | None, method: str, *,
           marker_refused: bool = False, marker_named: bool = False) -> dict[str, Any]:
    """The version a request names. `marker_refused`: a current delete marker is
    MethodNotAllowed (as tagging and PutObjectAcl answer), not NoSuchKey (as GET).
    `marker_named`: GET and HEAD name a current delete marker on their NoSuchKey
    (x-amz-delete-marker, x-amz-version-id)."""
    if version_id is None:
        value = records.current_object(call.store, bucket["Name"], key)
        if value is None:
            marker = versions.current_marker(call, bucket, key) if marker_refused or marker_named else None
            if marker is not None and marker_refused:
                raise errors.delete_marker(method, marker)
            err = _missing(call, bucket, errors.no_such_key(key))
            if marker is not None and err.code == "NoSuchKey":
                err.headers.update({"x-amz-delete-marker": "true", "x-amz-version-id": marker})
            raise err
        return value
    versions.check_version_id(version_id)
    hit = versions.find(call, bucket, key, version_id)
    if hit is None:
        raise _missing(call, bucket, errors.no_such_version(key, version_id))
    if hit[1].get("dm"):
        err = errors.delete_marker(method, version_id)
        if method in ("GET", "HEAD"):  # what a delete marker allows, and when it was made (S3's docs)
            err.headers.update({"Allow": "DELETE",
                                "Last-Modified": format_datetime(_mtime(hit[1]), usegmt=True)})
        raise err
    return hit[1]


def _missing(call: Call, bucket: dict[str, Any], err: AwsError) -> AwsError:
    """S3 says a key is missing only to callers who may list the bucket; others are
    denied s3:ListBucket."""
    from skyhold.services.s3 import authz

    return authz.list_denial(call, bucket) or err


def parse_range(header: str, size: int) -> tuple[int, int] | None:
    """(first, last) of a single `bytes=` range; None means serve the whole object
    (S3 ignores ranges it cannot parse); InvalidRange when none of it exists."""
    unit, _, spec = header.strip().partition("=")
    if unit.strip().lower() != "bytes" or "," in spec:
        return None
    first_text, dash, last_text = spec.strip().partition("-")
    if not dash:
        return None
    try:
        if not first_text:
            n = int(last_text)
            if n <= 0:
                raise errors.invalid_range(header, size)
            return max(size - n, 0), size - 1 if size else _unsatisfiable(header, size)
        first = int(first_text)
        last = int(last_text) if last_text else size - 1
    except ValueError:
        return None
    if first >= size:
        raise errors.invalid_range(header, size)
    if last < first:
        return None
    return first, min(last, size - 1)


def _unsatisfiable(header: str, size: int) -> int:
    raise errors.invalid_range(header, size)


def _add_expiration(out: dict[str, Any], bucket: dict[str, Any], value: dict[str, Any]) -> None:
    """x-amz-expiration: when a lifecycle rule will expire this (current) version."""
    expiration = lifecycle_rules.expiration_of(bucket, value)
    if expiration is not None:
        out["Expiration"] = expiration


def _describe(bucket: dict[str, Any], value: dict[str, Any], params: dict[str, Any],
              customer: sse_c.CustomerKey | None) -> dict[str, Any]:
    out: dict[str, Any] = {
        "ETag": value["etag"], "LastModified": _mtime(value), "ContentLength": value["size"],
        "AcceptRanges": "bytes", "ContentType": "binary/octet-stream", **sse_result(value["sse"], customer),
    }
    out.update(value.get("hdrs") or ())
    if value.get("meta"):
        out["Metadata"] = user_metadata.returned(value["meta"])
    if value.get("tags"):
        out["TagCount"] = len(value["tags"])
    if versions.is_versioned(bucket):
        out["VersionId"] = value["vid"]
    if value.get("sc", "STANDARD") != "STANDARD":
        out["StorageClass"] = value["sc"]
    if "rst" in value and (restored := restore.header(value)) is not None:
        out["Restore"] = restored
    if params.get("VersionId") is None:  # S3 names the expiry of the current version only
        _add_expiration(out, bucket, value)
    if value.get("parts") and params.get("PartNumber"):
        out["PartsCount"] = value["parts"]
    for param in _RESPONSE_OVERRIDES.keys() & params.keys():  # usually none asked for
        v = params[param]
        if v is not None:
            out[_RESPONSE_OVERRIDES[param]] = format_datetime(v, usegmt=True) if isinstance(v, datetime) else v
    return out


def _add_checksum(out: dict[str, Any], value: dict[str, Any], params: dict[str, Any],
                  span: tuple[int, int] | None) -> None:
    """x-amz-checksum-mode (any case): the stored checksum, when what is served is the
    whole object (no range, one S3 ignores, or one that covers it all) -- or a part of a
    COMPOSITE upload, which has its own."""
    if (params.get("ChecksumMode") or "").upper() != "ENABLED":
        return
    if params.get("PartNumber") and value.get("parts"):
        out.update(_part_checksum(value, params["PartNumber"]))
    elif span is None or span == (0, value["size"] - 1):
        out.update(_checksum_result(value))


def _part_checksum(value: dict[str, Any], part: int) -> dict[str, Any]:
    """A multipart object's part: its own checksum if COMPOSITE; a FULL_OBJECT checksum
    says nothing of a part unless that part is the whole object."""
    if value.get("pcks"):
        parts = _object_parts(value)
        found = {k: v for k, v in parts[part - 1].items() if k.startswith("Checksum")} if part <= len(parts) else {}
        return {**found, "ChecksumType": "COMPOSITE"} if found else {}
    return _checksum_result(value) if value["parts"] == 1 and value.get("ckt") == "FULL_OBJECT" else {}


def _part_span(value: dict[str, Any], number: int) -> tuple[int, int] | None:
    """(first, last) byte of part `number`: a multipart object's parts are its segments,
    any other object is one part."""
    if number < 1:
        raise errors.invalid_argument("Part number must be an integer between 1 and 10000, inclusive", "partNumber",
                                      str(number))
    count = value.get("parts") or 1
    if number > count:
        raise errors.invalid_part_number(number, count)
    if not value.get("parts"):
        return (0, value["size"] - 1) if value["size"] else None
    first = sum(seg["n"] for seg in value["segs"][:number - 1])
    return first, first + value["segs"][number - 1]["n"] - 1


def _serve_range(call: Call, value: dict[str, Any], params: dict[str, Any], out: dict[str, Any]) -> tuple[int, int] | None:
    header = params.get("Range")
    part = params.get("PartNumber")
    if part is not None:
        if header:
            raise errors.invalid_request("Cannot specify both Range header and partNumber query parameter")
        span = _part_span(value, part)
    elif not header:
        return None
    else:
        span = parse_range(header, value["size"])
    if span is None:
        return None
    first, last = span
    out["ContentRange"] = f"bytes {first}-{last}/{value['size']}"
    out["ContentLength"] = last - first + 1
    call.extras["http_status"] = 206  # Partial Content (the pipeline applies it)
    return span


def _check_overrides(call: Call, params: dict[str, Any]) -> None:
    """response-* parameters are for signed requests (or presigned URLs) only."""
    if call.principal.is_anonymous and any(params.get(p) is not None for p in _RESPONSE_OVERRIDES):
        raise errors.invalid_request("Request specific response headers cannot be used for anonymous GET requests.")


async def get_object(call: Call, params: dict[str, Any]) -> dict[str, Any]:
    bucket = bucket_of(call, params)
    key = params["Key"]
    value = call.extras.get("object") or lookup(call, bucket, key, params.get("VersionId"), "GET",
                                                marker_named=True)
    crypto.refuse_sse_header(call)  # a read cannot choose the encryption
    _check_overrides(call, params)
    if lifecycle_rules.is_archived(value) and not restore.readable(value):
        raise errors.invalid_object_state(value["sc"])  # HEAD still answers: that is how one finds out
    check_conditions(params, value)
    customer = sse_c.for_object(call, value, params)
    out = _describe(bucket, value, params, customer)
    out.update(object_lock.describe(call, bucket, key, value))
    span = _serve_range(call, value, params, out)
    _add_checksum(out, value, params, span)
    first, last = span if span else (0, value["size"] - 1)
    context = encryption_context(bucket["Name"], key, value["sse"])
    small = bodies.read_inline(call, value["segs"], context, first, last, customer=customer)
    out["Body"] = small if small is not None else bodies.read(call, value["segs"], context, first, last,
                                                              customer=customer)
    return out


def head_object(call: Call, params: dict[str, Any]) -> dict[str, Any]:
    bucket = bucket_of(call, params)
    key = params["Key"]
    value = call.extras.get("object") or lookup(call, bucket, key, params.get("VersionId"), "HEAD",
                                                marker_named=True)
    crypto.refuse_sse_header(call)  # a read cannot choose the encryption
    _check_overrides(call, params)
    check_conditions(params, value)
    out = _describe(bucket, value, params, sse_c.for_object(call, value, params))
    out.update(object_lock.describe(call, bucket, key, value))
    _add_checksum(out, value, params, _serve_range(call, value, params, out))
    return out


# --- GetObjectAttributes ------------------------------------------------------------------

OBJECT_ATTRIBUTES = frozenset({"ETag", "Checksum", "ObjectParts", "StorageClass", "ObjectSize"})


def _requested_attributes(params: dict[str, Any]) -> set[str]:
    """x-amz-object-attributes, checked as S3 checks it (empty items are ignored)."""
    names = [name for name in params.get("ObjectAttributes") or () if name]
    if not names:
        raise errors.invalid_request("The x-amz-object-attributes header specifying the attributes to be retrieved "
                                     "is either missing or empty")
    unknown = [name for name in names if name not in OBJECT_ATTRIBUTES]
    if unknown:
        raise errors.invalid_argument("Invalid attribute name specified.", "x-amz-object-attributes", unknown[0])
    return set(names)


def _object_parts(value: dict[str, Any]) -> list[dict[str, Any]]:
    """A COMPOSITE multipart object's parts: number (as uploaded), size and own checksum."""
    member = next((_CHECKSUM_MEMBER[alg] for alg in value.get("cks") or () if alg in _CHECKSUM_MEMBER), None)
    parts = []
    for (number, checksum), seg in zip(value.get("pcks") or (), value["segs"]):
        part: dict[str, Any] = {"PartNumber": number, "Size": seg["n"]}
        if member and checksum:
            part[member] = checksum
        parts.append(part)
    return parts


def _parts_page(value: dict[str, Any], params: dict[str, Any]) -> dict[str, Any]:
    """ObjectParts: the part count, and -- for a COMPOSITE object only, whose parts have
    checksums of their own -- a ListParts-like page of its parts."""
    out: dict[str, Any] = {"TotalPartsCount": value["parts"]}
    if not value.get("pcks"):
        return out
    marker = params.get("PartNumberMarker") or 0
    limit = min(params.get("MaxParts") or 1000, 1000)
    after = [p for p in _object_parts(value) if p["PartNumber"] > marker]
    page = after[:limit]
    out.update(PartNumberMarker=marker, NextPartNumberMarker=page[-1]["PartNumber"] if page else 0,
               MaxParts=limit, IsTruncated=len(after) > limit)
    if page:
        out["Parts"] = page
    return out


def get_object_attributes(call: Call, params: dict[str, Any]) -> dict[str, Any]:
    bucket = bucket_of(call, params)
    wanted = _requested_attributes(params)
    version_id = params.get("VersionId")
    value = (call.extras.get("object") if version_id is None else None) or lookup(
        call, bucket, params["Key"], version_id, "GET")
    sse_c.for_object(call, value, params)  # an SSE-C object's attributes need its key too
    out: dict[str, Any] = {"LastModified": _mtime(value)}
    if versions.is_versioned(bucket):
        out["VersionId"] = value["vid"]
    if "ETag" in wanted:
        out["ETag"] = value["etag"].strip('"')  # unquoted here, unlike every other ETag S3 sends
    if "Checksum" in wanted and (checksum := _checksum_result(value)):
        # a composite checksum without its "-<part count>" suffix
        out["Checksum"] = {k: v.split("-")[0] if k != "ChecksumType" else v for k, v in checksum.items()}
    if "ObjectParts" in wanted and value.get("parts"):
        out["ObjectParts"] = _parts_page(value, params)
    if "StorageClass" in wanted:
        out["StorageClass"] = value.get("sc", "STANDARD")
    if "ObjectSize" in wanted:
        out["ObjectSize"] = value["size"]
    return out


def delete_object(call: Call, params: dict[str, Any]) -> dict[str, Any]:
    bucket = bucket_of(call, params)
    version_id = params.get("VersionId")
    # A general purpose bucket serves If-Match only (the other two are directory buckets').
    if params.get("IfMatchLastModifiedTime") is not None:
        raise errors.header_not_implemented("x-amz-if-match-last-modified-time")
    if params.get("IfMatchSize") is not None:
        raise errors.header_not_implemented("x-amz-if-match-size")
    object_lock.check_bypass_header(bucket, params)
    if_match = params.get("IfMatch")
    check = _commit_check(None, if_match, params["Key"]) if if_match is not None else None
    call.extras["http_status"] = 204
    if version_id is not None:
        return versions.delete_version(call, bucket, params["Key"], version_id,
                                       _both(object_lock.deletion_check(call, bucket, params["Key"], params), check))
    return versions.delete(call, bucket, params["Key"], check)


def _both(first: Any, second: Any) -> Any:
    """One check(version) running two (the second may be None)."""
    if second is None:
        return first

    def check(value: dict[str, Any]) -> None:
        first(value)
        second(value)
    return check


def delete_objects(call: Call, params: dict[str, Any]) -> dict[str, Any]:
    from skyhold.services.s3 import authz  # per-key decisions, as S3 makes them

    bucket = bucket_of(call, params)
    spec = params.get("Delete") or {}
    objects = spec.get("Objects") or []
    if len(objects) > 1000:
        raise errors.malformed_xml()
    object_lock.check_bypass_header(bucket, params)
    deleted, failed = [], []
    # One commit for all the keys, not one each (1,000 of them): a key's refusal comes
    # before any write for it (versions.py), so it leaves nothing to undo.
    with bodies.transaction(call):
        for item in objects:
            key, version_id = item["Key"], item.get("VersionId")
            try:
                authz.check_delete(call, bucket, key, version_id)
                if version_id is not None:
                    out = versions.delete_version(call, bucket, key, version_id,
                                                  object_lock.deletion_check(call, bucket, key, params))
                else:
                    out = versions.delete(call, bucket, key)
            except AwsError as err:
                if version_id is not None and err.message == "Invalid version id specified":
                    err = errors.no_such_version(key, version_id)  # how DeleteObjects words it (recorded)
                failed.append({"Key": key, "Code": err.code, "Message": err.message,
                               **({"VersionId": version_id} if version_id else {})})
                continue
            entry: dict[str, Any] = {"Key": key}
            if version_id is not None:
                entry["VersionId"] = version_id
            if out.get("DeleteMarker"):  # one made, or (by version id) one deleted: S3 names it either way
                entry["DeleteMarker"] = True
                entry["DeleteMarkerVersionId"] = out["VersionId"]
            deleted.append(entry)
    result: dict[str, Any] = {"Errors": failed} if failed else {}
    if not spec.get("Quiet"):
        result["Deleted"] = deleted
    return result


def parse_copy_source(text: str) -> tuple[str, str, str | None]:
    """x-amz-copy-source: "[/]bucket/key[?versionId=…]", the key URL-encoded."""
    path, _, query = text.partition("?")
    version_id = None
    if query:
        for k, v in parse_qsl(query, keep_blank_values=True):
            if k == "versionId":
                version_id = v
    path = unquote_plus(path).lstrip("/")  # a "+" is a space there (form encoding, as some SDKs send it)
    bucket, _, key = path.partition("/")
    if not bucket or not key:  # S3 names the header, not its value, as the ArgumentValue
        raise errors.invalid_argument("Invalid copy source object key", "x-amz-copy-source", "x-amz-copy-source")
    return bucket, key, version_id


@dataclass(frozen=True, slots=True)
class CopySource:
    bucket: dict[str, Any]
    key: str
    value: dict[str, Any]  # the source version
    customer: sse_c.CustomerKey | None  # its SSE-C key (x-amz-copy-source-server-side-encryption-customer-*)

    def body(self, call: Call, first: int = 0, last: int | None = None) -> AsyncIterator[bytes]:
        context = encryption_context(self.bucket["Name"], self.key, self.value["sse"])
        return bodies.read(call, self.value["segs"], context, first, last,
                           customer=self.customer)


def copy_source(call: Call, params: dict[str, Any]) -> CopySource:
    """The source of a copy, its conditions checked and its SSE-C key verified."""
    src_bucket_name, src_key, src_vid = parse_copy_source(params["CopySource"])
    src_bucket = records.get_bucket(call.store, src_bucket_name).value
    try:
        value = lookup(call, src_bucket, src_key, src_vid, "GET")
    except AwsError as err:
        if err.code == "MethodNotAllowed":  # the version id names a delete marker
            raise errors.invalid_request("The source of a copy request may not specifically refer to a delete "
                                         "marker by version id.") from None
        raise
    if lifecycle_rules.is_archived(value) and not restore.readable(value):
        raise errors.object_not_in_active_tier(src_bucket_name)
    check_conditions(params, value, prefix="CopySource")
    return CopySource(src_bucket, src_key, value, sse_c.for_object(call, value, params, copy_source=True))


_DIRECTIVES = ("COPY", "REPLACE")


def _changes_in_place(params: dict[str, Any], bucket: dict[str, Any], source: dict[str, Any]) -> bool:
    """Whether a copy of an object onto itself (metadata directive COPY) changes something,
    as S3 judges it: a storage class, website redirect or encryption named in the request
    (even one equal to the source's) -- or a bucket default encryption that was configured,
    or a source that is not SSE-S3, whose copy is then encrypted anew."""
    return bool(params.get("ServerSideEncryption") or params.get("StorageClass")
                or params.get("WebsiteRedirectLocation") or params.get("SSECustomerAlgorithm")
                or bucket.get("Encryption") or source["sse"].get("alg") != "AES256"
                or sse_c.is_customer(source["sse"]))


async def copy_object(call: Call, params: dict[str, Any]) -> dict[str, Any]:
    bucket = bucket_of(call, params)
    key = params["Key"]
    ownership = acl_ops.new_object(call, bucket, params)  # the source's ACL is not copied, as on S3
    check = _write_check(params, key)
    src = copy_source(call, params)
    src_bucket, src_key, source = src.bucket, src.key, src.value
    directive = params.get("MetadataDirective") or "COPY"
    tag_directive = params.get("TaggingDirective") or "COPY"
    if directive not in _DIRECTIVES:
        raise errors.invalid_argument("Unknown metadata directive.", "x-amz-metadata-directive", directive)
    if tag_directive not in _DIRECTIVES:
        raise errors.invalid_argument("Unknown tagging directive.", "x-amz-tagging-directive", tag_directive)
    check_new_object(params, metadata=directive == "REPLACE")
    same = src_bucket["Name"] == bucket["Name"] and src_key == key
    if same and directive == "COPY" and not _changes_in_place(params, bucket, source):
        raise errors.invalid_request(
            "This copy request is illegal because it is trying to copy an object to itself without changing the "
            "object's metadata, storage class, website redirect location or encryption attributes.")
    sse, customer = write_encryption(call, params, bucket)
    lock = object_lock.for_new_version(bucket, params)  # the source's lock is not copied
    tags = parse_tagging(params.get("Tagging")) if tag_directive == "REPLACE" else dict(source.get("tags") or {})
    # The copy's checksum is computed afresh (FULL_OBJECT): the one asked for, else the source's
    # algorithm, else S3's default.
    asked = (params.get("ChecksumAlgorithm") or "").lower()
    if asked and asked not in checksums.SUPPORTED:
        raise unsupported_checksum_algorithm()
    algorithm = asked or next(iter(source.get("cks") or {}), None) or checksums.DEFAULT
    written = await bodies.write(call, src.body(call), sse, encryption_context(bucket["Name"], key, sse),
                                 checksum_algorithms=(algorithm,), customer=customer)
    meta_source = params if directive == "REPLACE" else {
        "Metadata": source.get("meta"), **source.get("hdrs", {})}
    value = new_value(call, key, written, meta_source, sse, tags)
    if directive == "COPY" and "Expires" in source.get("hdrs", {}):
        value["hdrs"]["Expires"] = source["hdrs"]["Expires"]
    # A website redirect is never copied: the copy has the request's, whatever the directive.
    value["hdrs"].pop("WebsiteRedirectLocation", None)
    if params.get("WebsiteRedirectLocation"):
        value["hdrs"]["WebsiteRedirectLocation"] = params["WebsiteRedirectLocation"]
    value["sc"] = params.get("StorageClass") or "STANDARD"  # the source's class is not copied
    value.update(ownership)
    value.update(object_lock.with_default(bucket, lock, value["mtime"]))
    try:
        version_id = versions.put(call, bucket, key, value, check)
    except BaseException:
        bodies.delete(call, [written.segment])
        raise
    result_body: dict[str, Any] = {"ETag": value["etag"], "LastModified": _mtime(value),
                                   **_checksum_result(value)}
    out: dict[str, Any] = {"CopyObjectResult": result_body, **sse_result(sse, customer),
                           **sse_context.echo(sse, bucket["Name"], key)}
    if versions.is_versioned(src_bucket) and source["vid"] != records.NULL_VERSION:
        out["CopySourceVersionId"] = source["vid"]  # a null source version goes unnamed
    if version_id is not None:
        out["VersionId"] = version_id
    elif bucket.get("Versioning") == "Suspended":
        out["VersionId"] = records.NULL_VERSION  # unlike PutObject's, a copy's null version is named
    _add_expiration(out, bucket, value)
    return out


# --- object tagging ------------------------------------------------------------------------

def get_object_tagging(call: Call, params: dict[str, Any]) -> dict[str, Any]:
    bucket = bucket_of(call, params)
    try:
        value = lookup(call, bucket, params["Key"], params.get("VersionId"), "GET", marker_refused=True)
    except AwsError as err:
        if err.code == "NoSuchKey":  # here (only here) S3 names the key with its bucket
            err.extra["Key"] = f"{bucket['Name']}/{params['Key']}"
        raise
    out: dict[str, Any] = {"TagSet": [{"Key": k, "Value": v} for k, v in (value.get("tags") or {}).items()]}
    if versions.is_versioned(bucket):
        out["VersionId"] = value["vid"]
    return out


def put_object_tagging(call: Call, params: dict[str, Any]) -> dict[str, Any]:
    bucket = bucket_of(call, params)
    tags = validate_tags((params.get("Tagging") or {}).get("TagSet") or [], 10)
    value = versions.update(call, bucket, params["Key"], params.get("VersionId"), lambda v: v.update(tags=tags))
    return {"VersionId": value["vid"]} if versions.is_versioned(bucket) else {}


def delete_object_tagging(call: Call, params: dict[str, Any]) -> dict[str, Any]:
    bucket = bucket_of(call, params)
    value = versions.update(call, bucket, params["Key"], params.get("VersionId"), lambda v: v.update(tags={}),
                            method="DELETE")
    call.extras["http_status"] = 204
    return {"VersionId": value["vid"]} if versions.is_versioned(bucket) else {}


HANDLERS = {
    "PutObject": put_object,
    "GetObject": get_object,
    "HeadObject": head_object,
    "GetObjectAttributes": get_object_attributes,
    "DeleteObject": delete_object,
    "DeleteObjects": delete_objects,
    "CopyObject": copy_object,
    "GetObjectTagging": get_object_tagging,
    "PutObjectTagging": put_object_tagging,
    "DeleteObjectTagging": delete_object_tagging,
}
