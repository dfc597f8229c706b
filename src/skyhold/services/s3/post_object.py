"""Browser uploads (POST Object): an HTML form posted to a bucket's URL.

S3's model has no such operation (no SDK sends one), so the pipeline hands such a
request here instead of to the wire layer:
- `read_form`: the fields before the file, whole, and the file as a stream;
- the pipeline verifies the form's signed policy (auth.post_policy) and authorizes
  s3:PutObject for its signer, or for anonymous when the form is unsigned (`AUTHZ`);
- the handler is PutObject's own, fed the file: encrypted at rest like every object,
  its size held to the policy's content-length-range as it streams;
- `respond`: 204, 200, 201 with a <PostResponse>, or 303 to success_action_redirect.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime
from email.utils import parsedate_to_datetime
from functools import cache
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl, quote, urlencode, urlsplit, urlunsplit

from botocore.model import OperationModel

from skyhold import clock
from skyhold.auth import checksums, sigv4
from skyhold.authz import Access
from skyhold.errors import AwsError
from skyhold.services.s3 import addressing, authz, buckets, errors, objects
from skyhold.wire import protocol, rest, xmlcodec
from skyhold.wire.formdata import FilePart, FormReader, boundary_of
from skyhold.wire.http import HttpRequest, HttpResponse
from skyhold.wire.models import service_model
from skyhold.wire.problems import WireProblem

if TYPE_CHECKING:
    from skyhold.pipeline import Body, Call

OPERATION = "PostObject"
# S3's limit on the form fields that precede the file.
MAX_FIELDS = 20 * 1024

# Form fields that are PutObject members.
_MEMBERS = {
    "content-type": "ContentType", "cache-control": "CacheControl", "content-disposition": "ContentDisposition",
    "content-encoding": "ContentEncoding", "acl": "ACL", "x-amz-storage-class": "StorageClass",
    "x-amz-server-side-encryption": "ServerSideEncryption",
    "x-amz-server-side-encryption-aws-kms-key-id": "SSEKMSKeyId",
    "x-amz-server-side-encryption-context": "SSEKMSEncryptionContext",
    "x-amz-website-redirect-location": "WebsiteRedirectLocation",
}
# Form fields that are condition keys, as their x-amz-* headers are on a PUT.
_CONDITION_KEYS = {
    "acl": "s3:x-amz-acl", "x-amz-storage-class": "s3:x-amz-storage-class",
    "x-amz-server-side-encryption": "s3:x-amz-server-side-encryption",
    "x-amz-server-side-encryption-aws-kms-key-id": "s3:x-amz-server-side-encryption-aws-kms-key-id",
}
_STATUSES = {"200": 200, "201": 201}  # anything else, or nothing, is 204


def is_form_upload(req: HttpRequest) -> bool:
    """A POST to a bucket's own URL (no key, no subresource) is a form upload."""
    if req.method != "POST" or req.query:
        return False
    bucket, key = addressing.target(req)
    return bucket is not None and not key


@dataclass
class Form:
    bucket: str
    fields: dict[str, str]  # names lower-cased, the first of a repeated name kept
    file: FilePart

    @property
    def key(self) -> str:
        key = self.fields.get("key", "")
        return key.replace("${filename}", self.file.filename) if self.file.filename is not None else key


async def read_form(req: HttpRequest, body: Body) -> Form:
    boundary = boundary_of(req.headers.get("content-type", ""))
    if boundary is None:
        raise AwsError("PreconditionFailed", "At least one of the pre-conditions you specified did not hold", 412,
                       extra={"Condition": "Bucket POST must be of the enclosure-type multipart/form-data"})
    sent, file = await FormReader(body.stream(), boundary, MAX_FIELDS).read()
    if file is None:
        raise AwsError("InvalidArgument", "POST requires exactly one file upload per request.", 400,
                       extra={"ArgumentName": "file", "ArgumentValue": "0"})
    fields: dict[str, str] = {}
    for name, value in sent:
        fields.setdefault(name.lower(), value)
    bucket, _ = addressing.target(req)
    assert bucket is not None  # is_form_upload said so
    return Form(bucket, fields, file)


def params_of(form: Form) -> dict[str, Any]:
    """The form as PutObject's parameters."""
    fields = form.fields
    params: dict[str, Any] = {"Bucket": form.bucket, "Key": form.key}
    for name, member in _MEMBERS.items():
        if name in fields:
            params[member] = fields[name]
    meta = {name[len("x-amz-meta-"):]: v for name, v in fields.items() if name.startswith("x-amz-meta-")}
    if meta:
        params["Metadata"] = meta
    if "x-amz-server-side-encryption-bucket-key-enabled" in fields:  # a boolean, as its header
        params["BucketKeyEnabled"] = fields["x-amz-server-side-encryption-bucket-key-enabled"].lower() == "true"
    if (expires := _http_date(fields.get("expires"))) is not None:
        params["Expires"] = expires
    if "tagging" in fields:
        tags = buckets.validate_tags(_tag_set(fields["tagging"]), 10)
        if tags:  # a document that is no <Tagging> sets none, as on S3
            params["Tagging"] = urlencode(list(tags.items()))  # as PutObject's x-amz-tagging carries them
    return params


def _http_date(text: str | None) -> datetime | None:
    if not text:
        return None
    try:
        return parsedate_to_datetime(text)
    except (TypeError, ValueError):
        return None  # S3 keeps no Expires it cannot read


@cache
def _operation(name: str) -> OperationModel:
    return service_model("s3").operation_model(name)


def _tag_set(text: str) -> list[dict[str, str]]:
    """The `tagging` field: a <Tagging> document, as PutObjectTagging's body."""
    name, node = rest.input_plan(_operation("PutObjectTagging")).payload or ("", None)
    assert node is not None
    try:
        root = xmlcodec.parse_document(text.encode("utf-8"))
        if xmlcodec.local(root.tag) != "Tagging":
            return []  # S3 stores the object untagged
        doc = xmlcodec.decode(node, root, name)
    except WireProblem:
        raise errors.malformed_xml() from None
    return doc.get("TagSet") or []


async def sized(chunks: AsyncIterator[bytes], span: tuple[int, int] | None) -> AsyncIterator[bytes]:
    """The file, held to the policy's content-length-range: past the maximum nothing
    more is stored, but the rest is still read, to report its size (and leave the
    connection usable)."""
    if span is None:
        async for chunk in chunks:
            yield chunk
        return
    low, high = span
    size = 0
    async for chunk in chunks:
        size += len(chunk)
        if size <= high:
            yield chunk
    if size > high:
        raise errors.entity_too_large(size, high)
    if size < low:
        raise errors.entity_too_small(size, low)


# --- authorization ------------------------------------------------------------------------

def authorize(call: Call, params: dict[str, Any]) -> list[Access]:
    """PutObject's checks, with the condition keys a form carries in fields, not headers."""
    found = authz.put_object(call, params)
    form = call.extras["form"]
    extra = {key: form[name] for name, key in _CONDITION_KEYS.items() if name in form}
    if not call.principal.is_anonymous:
        extra["s3:authType"] = "POST"
        signed_at = sigv4.parse_amz_date(form.get("x-amz-date", ""))
        if signed_at is not None:
            extra["s3:signatureAge"] = str(max(int((clock.wall_now() - signed_at).total_seconds() * 1000), 0))
    for access in found:
        access.context.update(extra)
    return found


# --- the answer ---------------------------------------------------------------------------

def object_url(req: HttpRequest, bucket: str, key: str) -> str:
    """Where the new object lives, in the style the form was posted to."""
    host = req.headers.get("host", "")
    path = quote(key) if addressing.is_virtual_hosted(req) else f"{quote(bucket)}/{quote(key)}"
    return f"{req.scheme}://{host}/{path}"


def _redirect(target: str | None, bucket: str, key: str, etag: str) -> str | None:
    """success_action_redirect with bucket, key and etag appended; None when S3 could
    not use it as a URL (it then answers as if the field were absent)."""
    if not target:
        return None
    parts = urlsplit(target)
    if not parts.scheme or not parts.netloc:
        return None
    query = parse_qsl(parts.query, keep_blank_values=True) + [("bucket", bucket), ("key", key), ("etag", etag)]
    return urlunsplit(parts._replace(query=urlencode(query)))


def respond(call: Call, params: dict[str, Any], result: dict[str, Any], request_id: str) -> HttpResponse:
    form = call.extras["form"]
    response = protocol.serialize_response(_operation("PutObject"), result, request_id)
    bucket, key, etag = params["Bucket"], params["Key"], result["ETag"]
    redirect = _redirect(form.get("success_action_redirect") or form.get("redirect"), bucket, key, etag)
    if redirect is not None:
        response.status = 303
        response.headers.append(("location", redirect))
        return response
    location = object_url(call.request, bucket, key)
    response.headers.append(("location", location))
    response.status = _STATUSES.get(form.get("success_action_status", ""), 204)
    if response.status == 201:
        esc = xmlcodec.escape
        response.body = (f'<?xml version="1.0" encoding="UTF-8"?>\n<PostResponse><Location>{esc(location)}</Location>'
                         f"<Bucket>{esc(bucket)}</Bucket><Key>{esc(key)}</Key><ETag>{esc(etag)}</ETag>"
                         "</PostResponse>").encode()
        response.headers.append(("content-type", "application/xml"))
    return response


async def post_object(call: Call, params: dict[str, Any]) -> dict[str, Any]:
    """PutObject's handler, the form's x-amz-checksum-<algorithm> fields taken as the
    headers they are on a PUT: S3 verifies the file against them (BadDigest), refuses a
    malformed value or two of them (InvalidRequest), and stores and returns the checksum
    (versitygw's PostObject checksum tests, run against S3)."""
    sent = {name: value for name, value in call.extras["form"].items()
            if name.startswith(checksums.PREFIX) and checksums.algorithm_of(name) is not None}
    if sent:
        call.request.headers.update(sent)
    return await objects.put_object(call, params)


HANDLERS = {OPERATION: post_object}
AUTHZ = {OPERATION: authorize}
