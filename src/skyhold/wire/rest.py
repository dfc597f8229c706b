"""The rest-xml and rest-json protocols: members live in the URI, query string,
headers and body; an operation is found from method + path + query alone, so a
streamed upload (S3 PutObject) never has to be read to be routed.

Everything an operation needs is compiled once into an `InputPlan`/`OutputPlan`.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from datetime import datetime
from functools import cache, partial
from typing import Any

from botocore.model import OperationModel, ServiceModel

from skyhold import client_json
from skyhold.errors import AwsError
from skyhold.wire import jsoncodec, scalars, xmlcodec
from skyhold.wire.http import HttpRequest, HttpResponse
from skyhold.wire.problems import BadValue, Malformed, MissingMember, WireProblem
from skyhold.wire.route import s3_bucket_from_host
from skyhold.wire.shapes import Node, body_view, compile_shape

_S3_SERVICES = ("s3",)
# S3's list limits: it reads each itself, as a 32-bit integer (the handlers check the range).
S3_LIST_LIMITS = frozenset({"max-keys", "max-uploads", "max-parts", "part-number-marker", "max-buckets"})
_LABEL = re.compile(r"\{([^}]+)\}")


# ---- plans -----------------------------------------------------------------------------

@dataclass(eq=False)
class InputPlan:
    op: OperationModel
    method: str
    path_re: re.Pattern[str]
    # regex group → (member name, node, greedy)
    labels: dict[str, tuple[str, Node, bool]]
    # The query keys the requestUri itself carries ("uploads", "list-type": "2").
    static_query: dict[str, str | None]
    query: dict[str, tuple[str, Node]]
    query_map: tuple[str, Node] | None
    headers: dict[str, tuple[str, Node]]
    header_maps: list[tuple[str, str, Node]]
    required_query: tuple[str, ...]
    required_headers: tuple[str, ...]
    required_loc: tuple[tuple[str, str, str], ...]  # (member, location, wire name)
    payload: tuple[str, Node] | None
    streaming: bool
    body: Node | None  # body-only view of the input when there is no payload member
    deprecated: bool
    # Literal characters in the path template: the more, the more specific.
    literal_len: int
    # Operations addressed by a host prefix ({RequestRoute}.s3...) take the path as
    # sent: their host names a route, not a bucket.
    host_addressed: bool


def _input_plan(op: OperationModel) -> InputPlan:
    uri = op.http.get("requestUri", "/")
    path_tmpl, _, static_qs = uri.partition("?")
    static_query: dict[str, str | None] = {}
    for part in static_qs.split("&"):
        if part:
            k, eq, v = part.partition("=")
            static_query[k] = v if eq else None
    node = compile_shape(op.input_shape)
    members = node.members if node is not None else {}
    by_wire = {m.wire_name: (n, m) for n, m in members.items() if m.location == "uri"}
    labels: dict[str, tuple[str, Node, bool]] = {}
    pattern = ["^"]
    pos = 0
    for i, match in enumerate(_LABEL.finditer(path_tmpl)):
        pattern.append(re.escape(path_tmpl[pos:match.start()]))
        name = match.group(1)
        greedy = name.endswith("+")
        wire = name.rstrip("+")
        group = f"g{i}"
        pattern.append(f"(?P<{group}>.+)" if greedy else f"(?P<{group}>[^/]+)")
        if wire in by_wire:
            labels[group] = (by_wire[wire][0], by_wire[wire][1], greedy)
        pos = match.end()
    pattern.append(re.escape(path_tmpl[pos:]))
    if not path_tmpl.endswith("/"):
        pattern.append("/?")  # "/bucket/" is "/bucket" (S3 clients send both)
    pattern.append("$")
    query = {m.wire_name: (n, m) for n, m in members.items() if m.location == "querystring" and m.type != "map"}
    query_map = next(((n, m) for n, m in members.items() if m.location == "querystring" and m.type == "map"), None)
    headers = {m.wire_name.lower(): (n, m) for n, m in members.items() if m.location == "header"}
    header_maps = [(m.wire_name.lower(), n, m) for n, m in members.items() if m.location == "headers"]
    required = node.required if node is not None else ()
    required_loc = tuple((n, members[n].location or "", members[n].wire_name) for n in required
                         if members[n].location in ("uri", "querystring", "header"))
    payload_name = node.payload if node is not None else None
    payload = (payload_name, members[payload_name]) if payload_name else None
    streaming = payload is not None and payload[1].type in ("blob", "string")
    body = body_view(node) if node is not None and payload is None else None
    if body is not None and not body.members:
        body = None
    return InputPlan(
        op=op, method=op.http.get("method", "POST"), path_re=re.compile("".join(pattern)), labels=labels,
        static_query=static_query, query=query, query_map=query_map, headers=headers, header_maps=header_maps,
        required_query=tuple(w for _, loc, w in required_loc if loc == "querystring"),
        required_headers=tuple(w.lower() for _, loc, w in required_loc if loc == "header"),
        required_loc=required_loc, payload=payload, streaming=streaming, body=body,
        deprecated=bool(op.deprecated), literal_len=len(_LABEL.sub("", path_tmpl)), host_addressed="hostPrefix" in (op.endpoint or {}),
    )


@cache
def input_plan(op: OperationModel) -> InputPlan:
    return _input_plan(op)


@dataclass(eq=False)
class _Router:
    # method → (plans without static query, {first static key: plans})
    by_method: dict[str, tuple[list[InputPlan], dict[str, list[InputPlan]]]] = field(default_factory=dict)


@cache
def _router(model: ServiceModel) -> _Router:
    router = _Router()
    for name in model.operation_names:
        plan = input_plan(model.operation_model(name))
        plain, keyed = router.by_method.setdefault(plan.method, ([], {}))
        if plan.static_query:
            keyed.setdefault(next(iter(plan.static_query)), []).append(plan)
        else:
            plain.append(plan)
    return router


# ---- finding the operation --------------------------------------------------------------

def _effective_path(model: ServiceModel, req: HttpRequest) -> str:
    """Virtual-hosted S3 requests carry the bucket in Host; put it back in the path."""
    if model.endpoint_prefix in _S3_SERVICES and req.path[:1] == "/":
        bucket = s3_bucket_from_host(req.headers.get("host", ""))
        if bucket:
            return f"/{bucket}{req.path}" if req.path != "/" else f"/{bucket}"
    return req.path or "/"


def _query_pairs(req: HttpRequest, s3: bool) -> list[tuple[str, str]]:
    try:
        return scalars.parse_qs_strict(req.query)
    except (ValueError, UnicodeDecodeError):
        raise _bad_uri(s3) from None


def _bad_uri(s3: bool) -> AwsError:
    if s3:
        return AwsError("InvalidURI", "Couldn't parse the specified URI.")
    return AwsError("SerializationException", "Couldn't parse the specified URI.")


def find_operation(model: ServiceModel, req: HttpRequest) -> OperationModel:
    s3 = model.protocol == "rest-xml"
    path = _effective_path(model, req)
    raw_path = req.path or "/"
    qvals: dict[str, str] = {}
    for k, v in _query_pairs(req, s3):
        qvals.setdefault(k, v)  # the first of a repeated key counts, as in `_parse_query`
    router = _router(model)
    entry = router.by_method.get(req.method)
    best: tuple[tuple[int, ...], InputPlan] | None = None
    if entry is not None:
        plain, keyed = entry
        candidates = list(plain)
        for k in qvals:
            candidates += keyed.get(k, ())
        for plan in candidates:
            score = _score(plan, raw_path if plan.host_addressed else path, qvals, req.headers)
            if score is not None and (best is None or score > best[0]):
                best = (score, plan)
    if best is not None:
        return best[1].op
    raise _no_operation(model, req, path, router)


def _score(plan: InputPlan, path: str, qvals: dict[str, str], headers: dict[str, str]) -> tuple[int, ...] | None:
    """How well a request fits; None if it does not. Like AWS: all required members
    present, then the requestUri's own query keys, the longest literal path, the most
    required members, the most known query keys, and not deprecated."""
    for k, v in plan.static_query.items():
        got = qvals.get(k)
        if got is None or (v is not None and got != v):
            return None
    if plan.path_re.match(path) is None:
        return None
    # Most plans require nothing of the query or headers and most requests carry no
    # query: skip the generators then (this runs for every candidate of every request).
    rq, rh = plan.required_query, plan.required_headers
    required_ok = (not rq or all(k in qvals for k in rq)) and (not rh or all(h in headers for h in rh))
    n_required = len(rq) + len(rh)
    known = sum(1 for k in qvals if k in plan.query) if qvals else 0
    return (int(required_ok), len(plan.static_query), plan.literal_len, n_required if required_ok else 0, known,
            int(not plan.deprecated))


def _no_operation(model: ServiceModel, req: HttpRequest, path: str, router: _Router) -> AwsError:
    s3 = model.protocol == "rest-xml"
    for method, (plain, keyed) in router.by_method.items():
        for plan in plain + [p for plans in keyed.values() for p in plans]:
            if not plan.static_query and plan.path_re.match(path):
                if s3:
                    return AwsError("MethodNotAllowed", "The specified method is not allowed against this resource.",
                                    status=405, extra={"Method": req.method, "ResourceType": "OBJECT"})
                break
    if s3:
        return AwsError("NotImplemented", "A header you provided implies functionality that is not implemented",
                        status=501, sender_fault=False)
    return AwsError("UnknownOperationException", f"No operation matches {req.method} {req.path}", status=404)


# ---- parsing ------------------------------------------------------------------------------

@dataclass(eq=False)
class BodyRefused(AwsError):
    """S3 could not read a request's body document (MalformedXML and the like). S3 looks
    the bucket up before it reads the body, so whoever runs the request answers
    NoSuchBucket instead when `bucket` does not exist (pipeline.py does)."""

    bucket: str | None = None


def parse(op: OperationModel, req: HttpRequest) -> dict[str, Any]:
    plan = input_plan(op)
    s3 = op.service_model.protocol == "rest-xml"
    try:
        return _parse(plan, req, s3)
    except WireProblem as problem:
        raise problem_error(problem, s3, plan) from None


def _parse(plan: InputPlan, req: HttpRequest, s3: bool) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if plan.labels:
        path = req.path if plan.host_addressed else _effective_path(plan.op.service_model, req)
        match = plan.path_re.match(path)
        if match is None:
            raise Malformed("path does not match the operation")
        for group, (name, node, _greedy) in plan.labels.items():
            raw = match.group(group)
            try:
                text = scalars.unquote_strict(raw)
            except (ValueError, UnicodeDecodeError):
                raise _bad_uri(s3) from None
            out[name] = xmlcodec.decode_scalar(node, text, name)
    if req.query:
        _parse_query(plan, _query_pairs(req, s3), out)
    if plan.headers or plan.header_maps:
        _parse_headers(plan, req.headers, out)
    for name, loc, wire in plan.required_loc:
        if name not in out:
            raise MissingMember(name, wire if loc != "header" else wire.lower())
    try:
        _parse_body(plan, req, out, s3)
    except WireProblem as problem:
        if not s3:
            raise
        err = problem_error(problem, s3, plan)
        raise BodyRefused(err.code, err.message, err.status, extra=err.extra, bucket=out.get("Bucket")) from None
    return out


def _parse_query(plan: InputPlan, pairs: list[tuple[str, str]], out: dict[str, Any]) -> None:
    """A repeated key of a single value counts once, its first time, as on S3
    (`?prefix=a&prefix=b` lists under `a`; `?list-type=1&list-type=2` is ListObjects)."""
    qmap: dict[str, Any] | None = None
    for k, v in pairs:
        hit = plan.query.get(k)
        if hit is not None:
            name, node = hit
            if k in S3_LIST_LIMITS and v == "":
                continue  # S3 reads an empty list limit as absent (recorded for part-number-marker, max-parts)
            if node.type == "list":
                assert node.member is not None
                out.setdefault(name, []).append(xmlcodec.decode_scalar(node.member, v, name))
            elif name not in out:
                out[name] = xmlcodec.decode_scalar(node, v, name)
        elif plan.query_map is not None and k not in plan.static_query:
            name, node = plan.query_map
            assert node.value is not None
            if qmap is None:
                qmap = out[name] = {}
            if node.value.type == "list":
                qmap.setdefault(k, []).append(v)
            else:
                qmap.setdefault(k, v)


def _parse_headers(plan: InputPlan, headers: dict[str, str], out: dict[str, Any]) -> None:
    members = plan.headers
    if len(headers) < len(members):  # walk the shorter side (GetObject has ~25 header members)
        for hname, value in headers.items():
            hit = members.get(hname)
            if hit is not None:
                out[hit[0]] = _header_value(hit[1], value, hname)
    else:
        for hname, (name, node) in members.items():
            raw = headers.get(hname)
            if raw is not None:
                out[name] = _header_value(node, raw, hname)
    for prefix, name, node in plan.header_maps:
        found = {k[len(prefix):]: v for k, v in headers.items() if k.startswith(prefix)}
        if found:
            out[name] = found


def _header_value(node: Node, value: str, hname: str) -> Any:
    t = node.type
    if t == "list":
        assert node.member is not None
        return [xmlcodec.decode_scalar(node.member, v, hname) for v in split_header_list(value)]
    if node.jsonvalue:
        try:
            return json.loads(base64.b64decode(value, validate=True))
        except (ValueError, binascii.Error, RecursionError) as exc:
            raise BadValue(hname, value, "base64-encoded JSON") from exc
    if t == "string":
        return value
    if t == "timestamp" and hname in _LOOSE_DATES:
        try:
            return xmlcodec.decode_scalar(node, value.strip(), hname)
        except BadValue:
            return value if hname == "expires" else None
    return xmlcodec.decode_scalar(node, value.strip(), hname)


# Date headers S3 does not refuse when unparsable: a conditional one is ignored (RFC 9110
# 13.1.3/13.1.4), Expires is kept as sent (S3 does not check its format: aws-sdk-go#322,
# botocore's ExpiresString).
_LOOSE_DATES = frozenset({"expires", "if-modified-since", "if-unmodified-since",
                          "x-amz-copy-source-if-modified-since", "x-amz-copy-source-if-unmodified-since"})


def split_header_list(value: str) -> list[str]:
    """Comma-separated header values, honouring the double quotes botocore adds
    around items that themselves contain a comma or a quote."""
    if '"' not in value:
        return [v.strip() for v in value.split(",")]
    items: list[str] = []
    i, n = 0, len(value)
    while i < n:
        while i < n and value[i] == " ":
            i += 1
        if i < n and value[i] == '"':
            i += 1
            buf = []
            while i < n and value[i] != '"':
                if value[i] == "\\" and i + 1 < n:
                    i += 1
                buf.append(value[i])
                i += 1
            items.append("".join(buf))
            i = value.find(",", i)
            i = n if i < 0 else i + 1
        else:
            j = value.find(",", i)
            j = n if j < 0 else j
            items.append(value[i:j].strip())
            i = j + 1
    return items


def _parse_body(plan: InputPlan, req: HttpRequest, out: dict[str, Any], s3: bool) -> None:
    body = req.body
    if plan.payload is not None:
        name, node = plan.payload
        if plan.streaming:
            if body:  # None: the pipeline streams it; b"": no payload was sent
                out[name] = body.decode("utf-8") if node.type == "string" else body
            return
        if body:
            out[name] = _decode_doc(node, body, s3, name)
        elif name in (plan.op.input_shape.required_members if plan.op.input_shape else ()):
            raise MissingMember(name, node.wire_name)
        return
    if plan.body is not None:
        if body:
            out.update(_decode_doc(plan.body, body, s3, ""))
        elif plan.body.required:
            raise MissingMember(plan.body.required[0], plan.body.members[plan.body.required[0]].wire_name)


def _decode_doc(node: Node, body: bytes, s3: bool, path: str) -> Any:
    if s3:
        root = xmlcodec.parse_document(body)
        # S3 validates a body against its schema: a document of another name (say
        # <X><Status>Enabled</Status></X> for versioning) is MalformedXML, not read.
        if path and xmlcodec.local(root.tag) != node.wire_name:
            raise Malformed(f"the document is <{xmlcodec.local(root.tag)}>, not <{node.wire_name}>")
        return xmlcodec.decode(node, root, path)
    try:
        data = client_json.loads(body)
    except (ValueError, UnicodeDecodeError, RecursionError) as exc:  # nested deeper than the parser goes
        raise Malformed("body is not JSON") from exc
    return jsoncodec.decode(node, data, path)


def problem_error(problem: WireProblem, s3: bool, plan: InputPlan | None = None) -> AwsError:
    if not s3:
        from skyhold.wire import jsonrpc
        return jsonrpc.problem_error(problem)
    if isinstance(problem, MissingMember) and plan is not None:
        loc = next((loc for n, loc, _ in plan.required_loc if n == problem.path), None)
        if loc == "header":
            return AwsError("InvalidRequest", f"Missing required header for this request: {problem.wire_name}")
        if loc == "querystring":
            return AwsError("InvalidRequest", f"Missing required parameter for this request: {problem.wire_name}")
    if isinstance(problem, BadValue) and plan is not None:
        limit = next((w for w, (n, _) in plan.query.items() if n == problem.path), "")
        if limit in S3_LIST_LIMITS:
            return AwsError("InvalidArgument", f"Provided {limit} not an integer or within integer range",
                            extra={"ArgumentName": limit, "ArgumentValue": str(problem.value)})
    if isinstance(problem, BadValue) and plan is not None and _is_location_member(plan, problem.path):
        return AwsError("InvalidArgument", f"Invalid value for {problem.path}",
                        extra={"ArgumentName": problem.path, "ArgumentValue": str(problem.value)})
    return AwsError("MalformedXML", "The XML you provided was not well-formed or did not validate against "
                    "our published schema")


def _is_location_member(plan: InputPlan, path: str) -> bool:
    return path in plan.headers or any(path == n for n, _ in plan.query.values()) or \
        any(path == n for n, _, _ in plan.labels.values())


# ---- responses ------------------------------------------------------------------------------

@dataclass(eq=False)
class OutputPlan:
    status_member: str | None
    headers: dict[str, tuple[str, Callable[[Any], str]]]  # member → (header name, its text)
    header_maps: list[tuple[str, str]]         # (member, prefix)
    payload: tuple[str, Node] | None
    streaming: bool
    body: Node | None
    root: str                                  # rest-xml root element of a non-payload body
    namespace: str


# S3 operations whose answer's members a service writes itself, where the model's member
# order is not S3's (ListObjectVersions interleaves <Version> and <DeleteMarker>).
MemberEncoder = Callable[[Node, dict[str, Any], list[str]], None]
MEMBER_ENCODERS: dict[str, MemberEncoder] = {}

# S3 answers list and multipart calls with roots the model does not record.
_S3_ROOTS = {
    "ListObjects": "ListBucketResult", "ListObjectsV2": "ListBucketResult",
    "ListBuckets": "ListAllMyBucketsResult", "ListDirectoryBuckets": "ListAllMyDirectoryBucketsResult",
    "ListObjectVersions": "ListVersionsResult", "ListMultipartUploads": "ListMultipartUploadsResult",
    "ListParts": "ListPartsResult", "CreateMultipartUpload": "InitiateMultipartUploadResult",
    "CompleteMultipartUpload": "CompleteMultipartUploadResult", "DeleteObjects": "DeleteResult",
    "GetBucketLocation": "LocationConstraint", "GetObjectAttributes": "GetObjectAttributesResponse",
    "GetBucketAcl": "AccessControlPolicy", "GetObjectAcl": "AccessControlPolicy",
    "GetBucketLogging": "BucketLoggingStatus", "GetBucketNotificationConfiguration": "NotificationConfiguration",
    "GetBucketLifecycle": "LifecycleConfiguration",
    "ListBucketAnalyticsConfigurations": "ListBucketAnalyticsConfigurationResult",
    "ListBucketInventoryConfigurations": "ListInventoryConfigurationsResult",
    "ListBucketMetricsConfigurations": "ListMetricsConfigurationsResult",
    "ListBucketIntelligentTieringConfigurations": "ListBucketIntelligentTieringConfigurationsOutput",
}


@cache
def _namespace(model: ServiceModel) -> str:
    """The service's XML namespace, as its own request payloads declare it."""
    for name in model.operation_names:
        shape = model.operation_model(name).input_shape
        if shape is None:
            continue
        for m in [shape, *shape.members.values()]:
            ns = m.serialization.get("xmlNamespace")
            if ns:
                return ns if isinstance(ns, str) else ns["uri"]
    return ""


def _root_name(op: OperationModel) -> str:
    if op.name in _S3_ROOTS and op.service_model.endpoint_prefix == "s3":
        return _S3_ROOTS[op.name]
    out = op.output_shape
    if out is not None and "name" in out.serialization:
        return out.serialization["name"]
    # GetBucketTagging answers <Tagging>: what PutBucketTagging's payload is called.
    if op.name.startswith("Get"):
        model = op.service_model
        put = "Put" + op.name[3:]
        if put in model.operation_names:
            shape = model.operation_model(put).input_shape
            payload = shape.serialization.get("payload") if shape is not None else None
            if payload:
                return shape.members[payload].serialization.get("name", payload)
    return f"{op.name}Result"


@cache
def output_plan(op: OperationModel) -> OutputPlan:
    node = compile_shape(op.output_shape)
    members = node.members if node is not None else {}
    payload_name = node.payload if node is not None else None
    payload = (payload_name, members[payload_name]) if payload_name else None
    body = body_view(node) if node is not None and payload is None else None
    return OutputPlan(
        status_member=next((n for n, m in members.items() if m.location == "statusCode"), None),
        headers={n: (m.wire_name.lower(), _header_formatter(m)) for n, m in members.items() if m.location == "header"},
        header_maps=[(n, m.wire_name) for n, m in members.items() if m.location == "headers"],
        payload=payload,
        streaming=payload is not None and payload[1].type in ("blob", "string"),
        body=body if body is not None and body.members else None,
        root=_root_name(op),
        namespace=_namespace(op.service_model),
    )


def request_id_headers(model: ServiceModel, request_id: str) -> list[tuple[str, str]]:
    if model.endpoint_prefix in ("s3", "s3-control"):
        # x-amz-id-2 is S3's "host id"; a stable derivative of the request id will do.
        return [("x-amz-request-id", request_id), ("x-amz-id-2", _host_id(request_id))]
    return [("x-amzn-requestid", request_id)]


def _host_id(request_id: str) -> str:
    return base64.b64encode(request_id.encode()).decode()


def serialize(op: OperationModel, result: dict[str, Any], request_id: str) -> HttpResponse:
    plan = output_plan(op)
    model = op.service_model
    xml = model.protocol == "rest-xml"
    s3 = model.endpoint_prefix == "s3"
    headers = request_id_headers(model, request_id)
    status = 200
    if plan.status_member is not None and result.get(plan.status_member) is not None:
        status = int(result[plan.status_member])
    # Walk the (few) result keys, not the (many: ~60 for GetObject) header members.
    for name, v in result.items():
        hit = plan.headers.get(name)
        if hit is not None and v is not None:
            headers.append((hit[0], hit[1](v)))
    for name, prefix in plan.header_maps:
        for k, v in (result.get(name) or {}).items():
            headers.append((f"{prefix}{k}".lower(), str(v)))
    body: bytes | AsyncIterator[bytes] = b""
    if s3 and op.name == "GetBucketLocation":
        # S3 writes the region as the root element's own text (empty for us-east-1),
        # the one S3 output the model's shapes do not describe.
        region = xmlcodec.escape(result.get("LocationConstraint") or "")
        body = (f'<?xml version="1.0" encoding="UTF-8"?>\n<LocationConstraint xmlns="{plan.namespace}">'
                f"{region}</LocationConstraint>").encode()
        headers.append(("content-type", "application/xml"))
        return HttpResponse(status, headers, body)
    if plan.payload is not None:
        name, node = plan.payload
        value = result.get(name)
        if plan.streaming:
            if value is not None:
                body = value.encode() if isinstance(value, str) else value
        elif value is not None:
            if xml:
                out = ['<?xml version="1.0" encoding="UTF-8"?>\n']
                _encode_root(node, value, node.wire_name, plan.namespace, out, s3)
                body = "".join(out).encode()
            else:
                body = json.dumps(jsoncodec.encode(node, value), separators=(",", ":")).encode()
            headers.append(("content-type", "application/xml" if xml else "application/json"))
    elif plan.body is not None:
        if xml:
            # S3 always sends its result's root element, empty when no member is set
            # (`<VersioningConfiguration xmlns="..."/>` for a never-versioned bucket).
            if s3 or any(result.get(n) is not None for n in plan.body.members):
                out = ['<?xml version="1.0" encoding="UTF-8"?>\n']
                _encode_root(plan.body, result, plan.root, plan.namespace, out, s3,
                             MEMBER_ENCODERS.get(op.name) if s3 else None)
                body = "".join(out).encode()
                headers.append(("content-type", "application/xml"))
        else:
            body = json.dumps(jsoncodec.encode(plan.body, result), separators=(",", ":")).encode()
            headers.append(("content-type", "application/json"))
    elif s3 and op.name == "HeadBucket":
        # S3 labels HeadBucket's (bodiless) answer as XML all the same (recorded AWS answers).
        headers.append(("content-type", "application/xml"))
    return HttpResponse(status, headers, body)


def _encode_root(node: Node, value: Any, name: str, namespace: str, out: list[str], s3: bool,
                 members: MemberEncoder | None = None) -> None:
    """Like xmlcodec.encode for the document element, which carries the namespace."""
    if node.type != "structure":
        xmlcodec.encode(node, value, name, out, s3)
        return
    ns = xmlcodec.ns_attr(node) or (f' xmlns="{namespace}"' if namespace else "")
    out.append(f"<{name}{ns}")
    for mname, m in node.xml_attrs:
        v = value.get(mname)
        if v is not None:
            out.append(f' {m.wire_name}="{xmlcodec.escape(str(v))}"')
    out.append(">")
    if members is not None:
        members(node, value, out)
    else:
        xmlcodec.encode_members(node, value, out, s3)
    out.append(f"</{name}>")


def _header_formatter(node: Node) -> Callable[[Any], str]:
    """header_text for one member, its type's branches taken once: strings and integers
    (most headers) then cost a single C call."""
    if node.type in ("integer", "long") or (node.type == "string" and not node.jsonvalue):
        return str
    return partial(header_text, node)


def header_text(node: Node, value: Any) -> str:
    t = node.type
    if t == "timestamp":
        if not isinstance(value, datetime):
            try:
                value = scalars.parse_timestamp(value)
            except (ValueError, OverflowError, OSError):
                return str(value)  # an S3 Expires kept as its writer sent it (_LOOSE_DATES)
        return scalars.format_timestamp(value, node.ts_format or "rfc822")
    if t == "list":
        assert node.member is not None
        return ",".join(_quote_item(header_text(node.member, v)) for v in value)
    if node.jsonvalue:
        return base64.b64encode(json.dumps(value, separators=(",", ":")).encode()).decode()
    return xmlcodec.scalar_text(node, value)


def _quote_item(text: str) -> str:
    if '"' in text or "," in text:
        return '"' + text.replace('"', '\\"') + '"'
    return text


def serialize_error(model: ServiceModel, err: AwsError, request_id: str, head: bool = False) -> HttpResponse:
    headers = request_id_headers(model, request_id)
    headers += [(k.lower(), v) for k, v in err.headers.items()]
    if err.status == 304:
        return HttpResponse(err.status, headers, b"")  # HTTP forbids a body on 304
    if head:
        # No body, but S3 still names the type a GET's would have had (recorded from
        # AWS: smithy-rs's s3-tests.smithy, HeadObjectEmptyBody).
        if model.protocol == "rest-xml":
            headers.append(("content-type", "application/xml"))
        return HttpResponse(err.status, headers, b"")
    esc = xmlcodec.escape
    if model.protocol == "rest-json":
        from skyhold.wire import jsonrpc
        headers += [("content-type", "application/json"), ("x-amzn-errortype", err.code)]
        return HttpResponse(err.status, headers, jsonrpc.error_body(err))
    extra = "".join(f"<{k}>{esc(str(v))}</{k}>" for k, v in err.extra.items())
    inner = f"<Code>{esc(err.code)}</Code><Message>{esc(err.message)}</Message>{extra}"
    ids = f"<RequestId>{request_id}</RequestId><HostId>{_host_id(request_id)}</HostId>"
    if model.endpoint_prefix == "s3":
        body = f'<?xml version="1.0" encoding="UTF-8"?>\n<Error>{inner}{ids}</Error>'
    else:
        body = f'<?xml version="1.0" encoding="UTF-8"?>\n<ErrorResponse><Error>{inner}</Error>{ids}</ErrorResponse>'
    headers.append(("content-type", "application/xml"))
    return HttpResponse(err.status, headers, body.encode())
