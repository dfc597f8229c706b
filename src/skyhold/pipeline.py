"""The walk of one request: route → parse → authenticate → (authorize) → handle →
serialize → log.

One linear pipeline. A service never parses HTTP, never checks a signature and never
evaluates a policy itself; it declares handlers and does the work.
"""

from __future__ import annotations

import inspect
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Iterator
from dataclasses import dataclass, field
from functools import cache
from urllib.parse import parse_qs
from pathlib import Path
from typing import Any, Protocol

from botocore.model import OperationModel, ServiceModel

from skyhold import clock, ids, identity, request_log
from skyhold.auth import sigv4
from skyhold.auth.authenticate import authenticate
from skyhold.auth.post_policy import content_length_range, region_of, verify_post_policy
from skyhold.authorize import Authorizer
from skyhold.authz import Access
from skyhold.trail import journal
from skyhold.trail.audit import Audit
from skyhold.trail.recorder import WriterStopped
from skyhold.errors import AwsError, internal_failure, not_implemented
from skyhold.principal import ANONYMOUS_PRINCIPAL, Principal
from skyhold.regions import DEFAULT_REGION, REGIONS
from skyhold.services.iam.access_keys import record_key_use
from skyhold.services.registry import SERVED, Handler, load_authz, load_handlers
from skyhold.services.s3 import cors as s3_cors
from skyhold.services.s3 import objects as s3_objects
from skyhold.services.s3 import post_object as s3_post
from skyhold.services.s3 import records as s3_records
from skyhold.services.s3 import region as s3_region
from skyhold.services.sts import limits as session_limits
from skyhold.store.base import Store
from skyhold.store import open_trail_store
from skyhold.store.blobs import BlobStore
from skyhold.store.sqlite import SqliteStore
from skyhold.wire import cors, protocol, rest
from skyhold.wire.http import HttpRequest, HttpResponse
from skyhold.wire.models import service_model
from skyhold.wire.route import route_service, s3_bucket_from_host


# Bodies of non-streaming operations are read whole; AWS's own request size limits
# are far below this (IAM 10 KiB policies, KMS 4 KiB plaintexts, SSM 8 KiB values).
MAX_BUFFERED_BODY = 32 * 1024 * 1024

_S3_SERVICES = frozenset({"s3", "s3control"})
_REST = frozenset({"rest-xml", "rest-json"})


class Body(Protocol):
    """The request body as the server receives it."""

    async def read(self, limit: int) -> bytes: ...

    def stream(self) -> AsyncIterator[bytes]: ...

    @property
    def exhausted(self) -> bool: ...


HEADERS_EXTRA = "response_headers"


@dataclass
class Call:
    """What a handler knows about the call it serves."""

    pipeline: Pipeline
    request: HttpRequest
    service: str
    operation: str
    region: str
    principal: Principal
    request_id: str
    # Set by the pipeline for streaming-input operations: the verified body chunks.
    # A small upload's body is read already: then a plain iterable (see Preread).
    body_stream: AsyncIterator[bytes] | Iterable[bytes] | None = None
    # What authorization checked (the audit trail names these resources and owners).
    accesses: list[Access] = field(default_factory=list)
    extras: dict[str, Any] = field(default_factory=dict)
    # Authenticated by a presigned URL's query (S3's s3:authType REST-QUERY-STRING).
    presigned: bool = False

    @property
    def store(self) -> Store:
        return self.pipeline.store

    def add_response_header(self, name: str, value: str) -> None:
        """A header for the call's answer, if it succeeds, that the operation's model has no
        member for (S3's x-amz-request-charged, x-amz-bucket-region on listings)."""
        self.extras.setdefault(HEADERS_EXTRA, []).append((name, value))


class Pipeline:
    def __init__(self, store: Store, blobs: BlobStore, data_dir: Path | None = None) -> None:
        self.store = store
        self.blobs = blobs
        # Where file-held secrets live (OIDC signing key, root key); defaults to
        # the folder holding the blob store.
        self.data_dir = data_dir or blobs.root.parent
        self.handlers: dict[str, dict[str, Handler]] = load_handlers()
        self.lookup = identity.make_lookup(store)
        self.authorizer = Authorizer(store, load_authz(), self.data_dir)
        self.trail_store = open_trail_store(self.data_dir)
        # A store with grouped sync has its commits made durable by the trail's writer,
        # together with the events of the calls that made them.
        grouped = store if isinstance(store, SqliteStore) and store.grouped_sync else None
        self.audit = Audit(self.trail_store, self.data_dir / journal.FOLDER, sync=grouped)
        # Off only for measuring what recording costs (`skyhold up --no-audit`).
        self.audit_enabled = True
        self._is_async: dict[Handler, bool] = {}
        # Where clients reach this server (set by `skyhold up`): background jobs that
        # run local programs against Skyhold (secret rotation) point them here.
        self.endpoint = ""
        # Long-lived helpers services keep beside the pipeline (e.g. the secret rotator).
        self.extensions: dict[str, Any] = {}
        # Jobs that run by Skyhold's clock and catch up at once when it is moved
        # (`skyhold clock advance`; admin_api awaits each in turn), e.g. S3 lifecycle.
        self.on_clock_moved: list[Callable[[], Awaitable[None]]] = []
        # access key → (clock minute, signing name, region) of its last recorded use:
        # IAM keeps last-used to the minute, so an unchanged use is not re-recorded.
        self._key_use: dict[str, tuple[int, str, str]] = {}

    def close(self) -> None:
        """Stop recording (its threads write and index what was handed over), then close
        the stores: in this order, so no thread is inside a connection that closes."""
        self.audit.close()
        self.trail_store.close()
        self.store.close()

    async def handle(self, req: HttpRequest, body: Body) -> HttpResponse:
        started = time.perf_counter()
        writes = self.store.writes
        request_id = ids.request_id()
        service = operation = "-"
        who: Principal = ANONYMOUS_PRINCIPAL
        model: ServiceModel | None = None
        call: Call | None = None
        params: dict[str, Any] | None = None
        result: dict[str, Any] | None = None
        failure: AwsError | None = None
        try:
            scope_service = sigv4.scope_service(req)
            service = route_service(req, scope_service)
            if (scope_service is None and service == "s3" and (_is_form_post(req) or "Action=" in req.query)
                    and _names_no_bucket(req)):
                service = await _unsigned_query_service(req, body) or service
            model = service_model(service)
            if req.method == "OPTIONS" and _preflights_another_service(req, service):
                # A browser's preflight for STS, KMS, ...: unauthenticated and in no trail, as S3's.
                operation = "CorsPreflight"
                req.body = await body.read(MAX_BUFFERED_BODY)
                response = HttpResponse(200, [("x-amzn-requestid", request_id)] + cors.preflight(req))
            elif service == "s3" and req.method == "OPTIONS":
                # A CORS preflight: answered from the bucket's rules alone, unauthenticated
                # and recorded in no trail, as on AWS (S3's model has no OPTIONS operation).
                operation = "CorsPreflight"
                req.body = await body.read(MAX_BUFFERED_BODY)  # none is sent; read, the connection stays open
                allowed = s3_cors.preflight(self.store, req)
                response = HttpResponse(200, rest.request_id_headers(model, request_id) + allowed)
            elif service == "s3" and s3_post.is_form_upload(req):
                operation = s3_post.OPERATION
                call, params = await self._form_upload(req, body, request_id)
                self.authorizer.check(call, params)
                result = await self._dispatch(call, params)
                response = s3_post.respond(call, params, result, request_id)
            else:
                if service == "s3" and "transfer-encoding" in req.headers:
                    _refuse_http_chunked(req)
                op, body = await self._find_operation(model, req, body)
                operation = op.name
                call = await self._authenticate(req, body, model, op, service, request_id, scope_service is not None)
                session_limits.check(call.principal, service, operation)
                params = self._parse(call, op, req)
                self.authorizer.check(call, params)
                if service == "s3":
                    s3_objects.require_body_checksum(call)
                result = await self._dispatch(call, params)
                response = protocol.serialize_response(op, result, request_id)
            # S3 answers some calls with a status its model does not name (206 for a
            # range, 204 for deletes): the handler says which.
            if call is not None and (status := call.extras.get("http_status")) is not None:
                response.status = status
            if call is not None and (extra := call.extras.get(HEADERS_EXTRA)):  # Call.add_response_header
                response.headers += extra
        except AwsError as err:
            failure = err
            if call is not None and service == "s3":
                s3_region.name_on_refusal(call, err)
            response = self._error(model, err, request_id, req.method == "HEAD")
        except Exception:  # a bug of ours: say so in AWS's shape, never hang up
            logging.getLogger("skyhold").exception("internal error in %s:%s", service, operation)
            failure = internal_failure(service)
            response = self._error(model, failure, request_id, req.method == "HEAD")
        if "origin" in req.headers and req.method != "OPTIONS":
            # A browser reads nothing of a cross-origin answer, errors included, without these.
            if service == "s3":
                response.headers += s3_cors.actual_headers(self.store, req)
            elif cors.allows(service):
                response.headers += cors.actual_headers()
        if not body.exhausted and not _rest_skippable(req):
            # A refused upload's body was never read; the connection cannot carry
            # another request after it, so close it rather than misparse the rest.
            response.headers.append(("connection", "close"))
        if call is not None:
            who = call.principal
            # The response goes out only once its event is durable (or, for a call that
            # only read and succeeded, handed to the trail's writer: trail/audit.py).
            try:
                recorded = self.audit_enabled and await self.audit.record(
                    call, params, result, failure, committed=self.store.writes != writes)
            except WriterStopped:  # its event may be lost: the call must not look done
                recorded = False
                failure = AwsError("InternalFailure", "The audit trail could not record this request.",
                                   status=500, sender_fault=False)
                response = self._error(model, failure, request_id, req.method == "HEAD")
            if not recorded:
                self.store.sync_since(writes)  # no event made this call's changes durable
        elapsed_ms = (time.perf_counter() - started) * 1000
        request_log.write(f"{service} {operation} {who.arn} {response.status} {elapsed_ms:.2f}ms {request_id}")
        return response

    def _parse(self, call: Call, op: OperationModel, req: HttpRequest) -> dict[str, Any]:
        try:
            return protocol.parse_request(op, req)
        except rest.BodyRefused as refused:
            # S3 finds the bucket before it reads the body: a missing bucket (or one
            # in another region) is answered first, as AWS does.
            if refused.bucket is not None and op.name != "CreateBucket":
                s3_region.check(call, s3_records.get_bucket(self.store, refused.bucket).value)
            raise

    async def _find_operation(self, model: ServiceModel, req: HttpRequest, body: Body) -> tuple[OperationModel, Body]:
        """The operation, and the body to go on with (a small upload's, read already)."""
        # REST operations are found from method + path alone, so an S3 upload can
        # stream; query/json operations name themselves in the body.
        if model.protocol in _REST:
            req.body = None
            op = protocol.find_operation(model, req)
            if not protocol.has_streaming_input(op):
                req.body = await body.read(MAX_BUFFERED_BODY)
            elif _small_plain_body(req):
                body = Preread(await body.read(SMALL_UPLOAD))
            return op, body
        if req.body is None:
            req.body = await body.read(MAX_BUFFERED_BODY)
        return protocol.find_operation(model, req), body

    async def _authenticate(
        self,
        req: HttpRequest,
        body: Body,
        model: ServiceModel,
        op: OperationModel,
        service: str,
        request_id: str,
        scoped: bool,
    ) -> Call:
        """`scoped`: the request names a credential scope (header or presigned query)."""
        is_s3 = service in _S3_SERVICES
        signing_name = model.signing_name or model.endpoint_prefix
        region = DEFAULT_REGION
        if not is_s3 and not scoped and _allows_anonymous(op):
            result = None  # e.g. sts:AssumeRoleWithWebIdentity is unsigned by design
        else:
            result = authenticate(
                req, self.lookup, service=signing_name, regions=REGIONS, s3=is_s3, protocol=model.protocol
            )
        who = ANONYMOUS_PRINCIPAL
        verifier = None
        presigned = False
        if result is not None:
            if result.credential is not None:
                who = result.credential.principal
                if who.access_key_id and who.access_key_id.startswith("AKIA") and result.info is not None:
                    self._note_key_use(who.access_key_id, signing_name, result.info.region)
            if result.info is not None:
                region = result.info.region
                presigned = result.info.presigned
                if is_s3 and presigned:
                    _hoist_presigned_headers(req, result.info.query_pairs)
            verifier = result.body_verifier
        stream: AsyncIterator[bytes] | Iterable[bytes] | None = None
        if req.body is None:  # a streaming upload: its bytes reach the handler verified
            stream = body.verified(verifier) if isinstance(body, Preread) else _verified_stream(body, verifier)
        return Call(self, req, service, op.name, region, who, request_id, body_stream=stream, presigned=presigned)

    async def _form_upload(self, req: HttpRequest, body: Body, request_id: str) -> tuple[Call, dict[str, Any]]:
        """A browser's form upload: the policy in the form is what is signed, not the request."""
        form = await s3_post.read_form(req, body)
        credential, policy = verify_post_policy(
            form.fields, self.lookup, bucket=form.bucket, regions=REGIONS, filename=form.file.filename
        )
        region = region_of(form.fields) or DEFAULT_REGION
        who = ANONYMOUS_PRINCIPAL
        if credential is not None:
            who = credential.principal
            if who.access_key_id and who.access_key_id.startswith("AKIA"):
                self._note_key_use(who.access_key_id, "s3", region)
        stream = s3_post.sized(form.file.chunks, content_length_range(policy))
        call = Call(self, req, "s3", s3_post.OPERATION, region, who, request_id, body_stream=stream)
        call.extras["form"] = form.fields
        return call, s3_post.params_of(form)

    def _note_key_use(self, access_key_id: str, service: str, region: str) -> None:
        use = (int(clock.now_epoch() // 60), service, region)
        if self._key_use.get(access_key_id) != use:
            if len(self._key_use) >= 10_000:
                self._key_use.clear()
            self._key_use[access_key_id] = use
            record_key_use(self.store, access_key_id, service, region)

    async def _dispatch(self, call: Call, params: dict[str, Any]) -> dict[str, Any]:
        handler = self.handlers.get(call.service, {}).get(call.operation)
        if handler is None:
            raise not_implemented(call.service, call.operation)
        is_async = self._is_async.get(handler)
        if is_async is None:
            is_async = self._is_async[handler] = inspect.iscoroutinefunction(handler)
        if is_async:
            return await handler(call, params)  # type: ignore[misc]
        return handler(call, params)  # type: ignore[return-value]

    def _error(self, model: ServiceModel | None, err: AwsError, request_id: str, head: bool) -> HttpResponse:
        # Before a service is known there is no protocol to answer in; the query
        # protocol's <ErrorResponse> (STS's) is what AWS's global endpoints return.
        return protocol.serialize_error(model or service_model("sts"), err, request_id, head=head)


# An upload body this small is read whole at once rather than streamed: the stream's
# layers of async generators cost more than the body. The handler still gets it as an
# iterable that is verified as it is consumed, so checks come in the same order as
# for a stream (authorization before the body's hash). aws-chunked bodies always
# stream (their trailers are read as they end).
SMALL_UPLOAD = 64 * 1024


class Preread:
    """A small upload's body, received whole."""

    exhausted = True

    def __init__(self, data: bytes) -> None:
        self.data = data

    async def read(self, limit: int) -> bytes:
        return self.data

    async def stream(self) -> AsyncIterator[bytes]:
        if self.data:
            yield self.data

    def verified(self, verifier: Any) -> Iterator[bytes]:
        """The body, through the signature layer's check (as `_verified_stream`)."""
        out = verifier.feed(self.data) if verifier is not None else self.data
        if verifier is not None:
            verifier.finish()
        if out:
            yield out


def _small_plain_body(req: HttpRequest) -> bool:
    headers = req.headers
    length = headers.get("content-length")
    if length is None or not length.isdigit() or int(length) > SMALL_UPLOAD:
        return False
    return (headers.get("x-amz-content-sha256") not in sigv4.STREAMING_PAYLOADS
            and "aws-chunked" not in headers.get("content-encoding", ""))


# SigV4's own query parameters, and the payload hash (the signature's business): none
# stands in for a header of the request.
_NOT_HOISTED = frozenset({"x-amz-algorithm", "x-amz-credential", "x-amz-date", "x-amz-expires",
                          "x-amz-signedheaders", "x-amz-signature", "x-amz-security-token", "x-amz-content-sha256"})
_CHECKSUMS = ("x-amz-checksum-", "x-amz-sdk-checksum-")


def _hoist_presigned_headers(req: HttpRequest, pairs: list[tuple[str, str]]) -> None:
    """A presigned S3 URL's x-amz-* query parameters (signed, as the whole query is) count
    as the headers they name, as on S3: presigners (aws-sdk-ruby's, aws-sdk-js-v3's) move
    x-amz-* headers (metadata, tagging, storage class, encryption, ACL) into the query so
    whoever uses the URL sends none (aws-sdk-js-v3#4694). A header sent too wins.
    Checksum parameters are not taken: S3 ignores those the JS v3 presigner signs into a
    PUT URL (the CRC32 of a body it has not seen, and x-amz-sdk-checksum-algorithm)."""
    for name, value in pairs:
        low = name.lower()
        if low.startswith("x-amz-") and low not in _NOT_HOISTED and not low.startswith(_CHECKSUMS):
            req.headers.setdefault(low, value)


def _refuse_http_chunked(req: HttpRequest) -> None:
    """S3 takes no HTTP-chunked body (Transfer-Encoding: chunked without a length) but an
    aws-chunked one, whose decoded length is declared: it answers 501 NotImplemented
    naming the header, as recorded in client bug reports (knox#43, aws-sdk-js-v3#3403)."""
    headers = req.headers
    if (headers["transfer-encoding"].strip().lower() != "identity"
            and "x-amz-decoded-content-length" not in headers
            and headers.get("x-amz-content-sha256") not in sigv4.STREAMING_PAYLOADS
            and "aws-chunked" not in headers.get("content-encoding", "")):
        raise AwsError("NotImplemented", "A header you provided implies functionality that is not implemented",
                       status=501, extra={"Header": "Transfer-Encoding"})


def _preflights_another_service(req: HttpRequest, service: str) -> bool:
    """A CORS preflight for a service other than S3. A preflight names no service (it is
    unsigned and carries no X-Amz-Target): one to a service's own host is that service's,
    and one to `/` of a host that names no bucket is for the json and query services
    Skyhold serves at its one endpoint (S3 has nothing to preflight there)."""
    if "origin" not in req.headers:
        return False
    return _names_no_bucket(req) if service == "s3" else cors.allows(service)


def _is_form_post(req: HttpRequest) -> bool:
    return req.method == "POST" and req.headers.get("content-type", "").startswith("application/x-www-form-urlencoded")


@cache
def _query_actions() -> dict[str, str]:
    """Every action of a served query or ec2 protocol service → that service (no two
    served services share an action name)."""
    found: dict[str, str] = {}
    for name in SERVED:
        model = service_model(name)
        if model.protocol in ("query", "ec2"):
            for op_name in model.operation_names:
                found.setdefault(op_name, name)
    return found


def _names_no_bucket(req: HttpRequest) -> bool:
    """A request to `/` on a host that is no bucket's: the query services' endpoint. One
    to a bucket (path or virtual-hosted) is S3's, whatever its body says."""
    return req.path in ("", "/") and s3_bucket_from_host(req.headers.get("host", "")) is None


# A refused request's unread body up to this size keeps its connection open: the server
# skips the rest as it arrives (its Content-Length frames it) before the next request.
# Closing with bytes unread resets the connection, and a client still sending (a form
# upload refused by its policy, posted by a browser or Node's fetch) loses the answer.
_SKIPPABLE_BODY = 512 * 1024


def _rest_skippable(req: HttpRequest) -> bool:
    """Whether an unread body can be skipped rather than the connection closed: framed
    by a small Content-Length, and not held back for a 100 Continue never sent (a client
    waiting for one may send its next request instead of the body)."""
    declared = req.headers.get("content-length", "")
    return (declared.isdigit() and int(declared) <= _SKIPPABLE_BODY and "transfer-encoding" not in req.headers
            and req.headers.get("expect", "").lower() != "100-continue")


async def _unsigned_query_service(req: HttpRequest, body: Body) -> str | None:
    """An unsigned form POST, or a request with its parameters in the URL (the query
    protocol takes both: AWS's sample AssumeRoleWithWebIdentity request is a GET), names
    no service (one endpoint serves all); its Action does. Unsigned, it is either one
    of the few operations AWS accepts so (sts:AssumeRoleWithWebIdentity) or refused in
    its service's words (MissingAuthenticationToken), never answered as an S3 call it
    is not."""
    actions = parse_qs(req.query).get("Action", [])
    if _is_form_post(req):
        req.body = await body.read(MAX_BUFFERED_BODY)
        actions += parse_qs(req.body.decode("utf-8", "replace")).get("Action", [])
    for action in actions:
        if action in _query_actions():
            return _query_actions()[action]
    return None


@cache
def _allows_anonymous(op: OperationModel) -> bool:
    return op.auth_type == "none" or "smithy.api#noAuth" in (getattr(op, "auth", None) or ())


async def _verified_stream(body: Body, verifier: Any) -> AsyncIterator[bytes]:
    """Yield body bytes only after the signature layer has checked them."""
    async for chunk in body.stream():
        out = verifier.feed(chunk) if verifier is not None else chunk
        if out:
            yield out
    if verifier is not None:
        verifier.finish()


