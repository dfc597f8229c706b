"""The query and ec2 protocols: form-encoded requests, XML responses.

Request keys are dotted paths (`Tags.member.1.Key`, ec2: `TagSpecification.1.Tag.1.Key`);
they are folded into a tree once and the tree is read with the input shape.
"""

from __future__ import annotations

import re
from functools import cache
from typing import Any

from botocore.model import OperationModel, ServiceModel

from skyhold import constraints
from skyhold.errors import AwsError, validation_failed
from skyhold.wire import scalars, xmlcodec
from skyhold.wire.http import HttpRequest, HttpResponse
from skyhold.wire.problems import BadValue, Malformed, MissingMember, WireProblem, camel_path
from skyhold.wire.shapes import Node, compile_shape

_XML_TYPE = "text/xml"
_FORM = "application/x-www-form-urlencoded"

# The last form parsed: find_operation and parse_request read the same request.
_last: tuple[bytes | None, str, list[tuple[str, str]]] = (None, "", [])


def form_pairs(req: HttpRequest, ec2: bool) -> list[tuple[str, str]]:
    """Parameters from the query string and a form-encoded body, in that order."""
    global _last
    body = req.body
    last_body, last_query, last_pairs = _last
    if body is last_body and req.query == last_query and body is not None:
        return last_pairs
    try:
        pairs = scalars.parse_qs_strict(req.query)
        if body and _is_form(req.headers.get("content-type", "")):
            pairs += scalars.parse_qs_strict(body.decode("utf-8"))
    except (ValueError, UnicodeDecodeError) as exc:
        raise malformed_query(ec2) from exc
    _last = (body, req.query, pairs)
    return pairs


def _is_form(content_type: str) -> bool:
    """A body is read only when it says it is a form: AWS ignores one of any other type
    (or of none), so its parameters never count. Media types are case-insensitive."""
    return _FORM in content_type or _FORM in content_type.lower()


def malformed_query(ec2: bool) -> AwsError:
    return AwsError("MalformedQueryString", "The query string contains a syntax error.", status=404)


def action_of(req: HttpRequest, ec2: bool) -> tuple[str | None, str | None]:
    """The request's Action and Version; where one is given twice, the first counts."""
    action = version = None
    for k, v in form_pairs(req, ec2):
        if k == "Action" and action is None:
            action = v
        elif k == "Version" and version is None:
            version = v
        else:
            continue
        if action is not None and version is not None:
            break
    return action, version


# Where the STS endpoint sends a request that names no action (a browser's visit):
# AWS answers 302 to the IAM product page, the query string kept (recorded real-AWS
# answers: POST without Action or without a form Content-Type, GET "/?Version=...").
_STS_NO_ACTION = "https://aws.amazon.com/iam"
# The namespace of the errors AWS's query front end answers before any service code
# runs (InvalidAction), as recorded from STS; the service's own errors use its doc namespace.
_FAULT_NS = "http://webservices.amazon.com/AWSFault/2005-15-09"


def unknown_action(model: ServiceModel, action: str | None, version: str | None, ec2: bool,
                   req: HttpRequest) -> AwsError:
    """The error for an Action the service does not have at the Version given. The
    query services (Coral) find an operation by the pair, so a missing or wrong
    Version is an unknown operation too: "... for version NO_VERSION_SPECIFIED"."""
    if ec2:
        if not action:
            return AwsError("MissingAction", "Missing Action")
        return AwsError("InvalidAction", f"The action {action} is not valid for this web service.")
    if action is None:
        if model.endpoint_prefix == "sts":
            location = f"{_STS_NO_ACTION}?{req.query}" if req.query else _STS_NO_ACTION
            return AwsError("Found", "", status=302, headers={"Location": location})
        return AwsError("MissingAction", "Missing Action")
    shown = "NO_VERSION_SPECIFIED" if version is None else version
    return AwsError("InvalidAction", f"Could not find operation {action} for version {shown}")


# ---- request -------------------------------------------------------------------------

@cache
def _input_node(op: OperationModel) -> Node | None:
    return compile_shape(op.input_shape)


def parse(op: OperationModel, req: HttpRequest, ec2: bool) -> dict[str, Any]:
    node = _input_node(op)
    if node is None:
        return {}
    tree: dict[str, Any] = {}
    for key, value in form_pairs(req, ec2):
        if key in ("Action", "Version"):
            continue
        parts = key.split(".")
        at = tree
        for part in parts[:-1]:
            nxt = at.get(part)
            if not isinstance(nxt, dict):
                nxt = at[part] = {}
            at = nxt
        # The first of a repeated key counts, as on AWS; "Tags=" never hides Tags.member.N.
        if parts[-1] not in at:
            at[parts[-1]] = value
    try:
        return _decode(node, tree, "", ec2)
    except WireProblem as problem:
        raise problem_error(problem, ec2, op.name) from None


def _decode(node: Node, val: Any, path: str, ec2: bool) -> Any:
    t = node.type
    if t == "structure":
        if not isinstance(val, dict):
            raise BadValue(path, val, "structure")
        out: dict[str, Any] = {}
        for name, m in node.members.items():
            if ec2:
                key = m.ec2_name
            elif m.flattened and m.type == "list":
                key = m.xml_list_name  # flattened lists are keyed by their member's name
            else:
                key = m.wire_name
            sub = val.get(key)
            if sub is not None:
                out[name] = _decode(m, sub, f"{path}.{name}" if path else name, ec2)
        for name in node.required:
            if name not in out:
                m = node.members[name]
                raise MissingMember(f"{path}.{name}" if path else name, m.ec2_name if ec2 else m.wire_name)
        return out
    if t == "list":
        if val == "":
            return []
        if not isinstance(val, dict):
            raise BadValue(path, val, "list")
        items = val if (ec2 or node.flattened) else val.get(node.xml_list_name, {})
        item = node.member
        assert item is not None
        return [_decode(item, v, f"{path}.{i}", ec2) for i, v in _indexed(items, path)]
    if t == "map":
        if val == "":
            return {}
        if not isinstance(val, dict):
            raise BadValue(path, val, "map")
        entries = val if node.flattened else val.get("entry", {})
        assert node.key is not None and node.value is not None
        out_map: dict[str, Any] = {}
        for i, entry in _indexed(entries, path):
            if not isinstance(entry, dict) or node.map_key_name not in entry:
                raise BadValue(f"{path}.{i}", entry, "map entry")
            k = _decode(node.key, entry[node.map_key_name], path, ec2)
            v = entry.get(node.map_value_name)
            if v is not None:
                out_map[k] = _decode(node.value, v, f"{path}.{k}", ec2)
        return out_map
    if isinstance(val, dict):
        raise BadValue(path, "", t)
    if t in _INT_RANGE and not ec2:
        return _integer(val, t)
    return xmlcodec.decode_scalar(node, val, path)


# Coral's query parser reads a number as Java does: an optional sign and digits that
# fit the member's type; anything else is MalformedInput, without a message — except
# an empty value (recorded real-AWS answers for STS DurationSeconds: "abc", "900.0",
# 2^31 and -2^31-1 each MalformedInput; "+900" and "0900" read as 900).
_INT_RANGE = {"integer": 2**31, "long": 2**63}
_DIGITS = re.compile(r"[+-]?[0-9]+")


def _integer(text: str, t: str) -> int:
    if not text:
        raise AwsError("MalformedInput", "missing value for decimal type")
    if _DIGITS.fullmatch(text):
        value = int(text)
        if -_INT_RANGE[t] <= value < _INT_RANGE[t]:
            return value
    raise AwsError("MalformedInput", "")


def _indexed(items: Any, path: str) -> list[tuple[int, Any]]:
    if not isinstance(items, dict):
        raise BadValue(path, items, "list")
    try:
        return sorted((int(k), v) for k, v in items.items())
    except ValueError:
        raise BadValue(path, next(iter(items)), "list index") from None


# EC2's own answers for some required members left out (an empty list sends none):
# it names its internal parameter, or words it otherwise.
_EC2_MISSING = {
    ("CreateTags", "Tag"): ("InvalidParameterValue", "You must specify one or more tags to create"),
    ("CreateTags", "ResourceId"): ("MissingParameter", "The request must contain the parameter resourceIdSet"),
    ("DeleteTags", "ResourceId"): ("MissingParameter", "The request must contain the parameter resourceIdSet"),
}


def problem_error(problem: WireProblem, ec2: bool, operation: str = "") -> AwsError:
    if isinstance(problem, MissingMember):
        if ec2:
            code, message = _EC2_MISSING.get((operation, problem.wire_name), (
                "MissingParameter", f"The request must contain the parameter {problem.wire_name}"))
            return AwsError(code, message)
        return validation_failed([constraints.null_member(camel_path(problem.path))], "ValidationError")
    if isinstance(problem, BadValue):
        return AwsError("InvalidParameterValue",
                        f"Value ({problem.value}) for parameter {problem.path} is invalid. "
                        f"Expected: '{problem.expected}'.")
    if isinstance(problem, Malformed):
        return malformed_query(ec2)
    return AwsError("InvalidParameterValue", str(problem))


# ---- response ------------------------------------------------------------------------

def _namespace(model: ServiceModel) -> str:
    ns = model.metadata.get("xmlNamespace")
    if ns:
        return f' xmlns="{ns}"'
    return f' xmlns="https://{model.endpoint_prefix}.amazonaws.com/doc/{model.api_version}/"'


class _ResponseFrame:
    """An operation's response document around its members, worked out once:
    `head` + request id + `middle` + members + `tail` (ec2), or
    `head` + members + `middle` + request id + `tail` (query)."""

    __slots__ = ("head", "middle", "tail", "node")

    def __init__(self, op: OperationModel, ec2: bool) -> None:
        name = op.name
        self.node = compile_shape(op.output_shape)
        self.head = f'<?xml version="1.0" encoding="UTF-8"?>\n<{name}Response{_namespace(op.service_model)}>'
        if ec2:
            self.head += "<requestId>"
            self.middle = "</requestId>"
            self.tail = f"</{name}Response>"
            return
        wrapper = op.output_shape.serialization.get("resultWrapper") if op.output_shape else None
        if self.node is None or not wrapper:
            self.node = None  # query responses carry members only inside the result wrapper
            self.middle = "<ResponseMetadata><RequestId>"
        else:
            self.head += f"<{wrapper}>"
            self.middle = f"</{wrapper}><ResponseMetadata><RequestId>"
        self.tail = f"</RequestId></ResponseMetadata></{name}Response>"


@cache
def _frame(op: OperationModel, ec2: bool) -> _ResponseFrame:
    return _ResponseFrame(op, ec2)


def serialize(op: OperationModel, result: dict[str, Any], request_id: str, ec2: bool) -> HttpResponse:
    frame = _frame(op, ec2)
    members: list[str] = []
    if frame.node is not None:
        xmlcodec.encode_members(frame.node, result, members)
    if ec2:
        text = f"{frame.head}{request_id}{frame.middle}{''.join(members)}{frame.tail}"
    else:
        text = f"{frame.head}{''.join(members)}{frame.middle}{request_id}{frame.tail}"
    return HttpResponse(200, [("content-type", _XML_TYPE), ("x-amzn-requestid", request_id)], text.encode())


def serialize_error(model: ServiceModel, err: AwsError, request_id: str, ec2: bool) -> HttpResponse:
    esc = xmlcodec.escape
    extra = "".join(f"<{k}>{esc(str(v))}</{k}>" for k, v in err.extra.items())
    if ec2:
        body = (f'<?xml version="1.0" encoding="UTF-8"?>\n<Response><Errors><Error><Code>{esc(err.code)}</Code>'
                f"<Message>{esc(err.message)}</Message>{extra}</Error></Errors>"
                f"<RequestID>{request_id}</RequestID></Response>")
    elif err.status < 400:  # a redirect (STS's answer to no Action) carries no document
        body = ""
    else:
        kind = "Sender" if err.sender_fault else "Receiver"
        ns = f' xmlns="{_FAULT_NS}"' if err.code == "InvalidAction" else _namespace(model)
        # AWS leaves out an empty message (MalformedInput for an unreadable number).
        message = f"<Message>{esc(err.message)}</Message>" if err.message else ""
        body = (f'<?xml version="1.0" encoding="UTF-8"?>\n<ErrorResponse{ns}><Error><Type>{kind}</Type>'
                f"<Code>{esc(err.code)}</Code>{message}{extra}</Error>"
                f"<RequestId>{request_id}</RequestId></ErrorResponse>")
    headers = [("content-type", _XML_TYPE), ("x-amzn-requestid", request_id)] if body else \
        [("x-amzn-requestid", request_id)]
    headers += [(k.lower(), v) for k, v in err.headers.items()]
    return HttpResponse(err.status, headers, body.encode())
