"""The json protocol: POST / with X-Amz-Target naming the operation, JSON both ways."""

from __future__ import annotations

import json
from typing import Any

from botocore.model import OperationModel, ServiceModel

from skyhold import client_json, constraints
from skyhold.errors import AwsError, validation_failed
from skyhold.wire import jsoncodec
from skyhold.wire.http import HttpRequest, HttpResponse
from skyhold.wire.problems import BadValue, Malformed, MissingMember, WireProblem, camel_path
from skyhold.wire.shapes import compile_shape


def unknown_operation(target: str | None) -> AwsError:
    # What AWS's json endpoints answer for a missing or unknown X-Amz-Target.
    return AwsError("UnknownOperationException", "" if target is None else f"Unknown operation {target}")


def read_json(body: bytes | None) -> Any:
    if not body:
        return {}
    try:
        return client_json.loads(body)
    except (ValueError, UnicodeDecodeError, RecursionError) as exc:  # nested deeper than the parser goes
        raise Malformed("body is not JSON") from exc


def problem_error(problem: WireProblem) -> AwsError:
    """The errors AWS's JSON services (Coral) give for a body they cannot read."""
    if isinstance(problem, MissingMember):
        return validation_failed([constraints.null_member(camel_path(problem.path))])
    if isinstance(problem, BadValue):
        if problem.expected in ("structure", "map"):
            msg = "Start of structure or map found where not expected." if isinstance(problem.value, dict) \
                else f"Expected a structure or map for {problem.path}"
        elif problem.expected == "list":
            msg = "Start of list found where not expected" if isinstance(problem.value, list) \
                else f"Expected a list for {problem.path}"
        elif isinstance(problem.value, dict):
            msg = "Start of structure or map found where not expected."
        elif isinstance(problem.value, list):
            msg = "Start of list found where not expected"
        else:
            msg = f"{_json_kind(problem.value)} can not be converted to {_type_word(problem.expected)}"
        return AwsError("SerializationException", msg)
    return AwsError("SerializationException", "Malformed JSON body" if isinstance(problem, Malformed) else str(problem))


def _json_kind(value: Any) -> str:
    if isinstance(value, bool):
        return "BOOLEAN_VALUE"
    if isinstance(value, (int, float)):
        return "NUMBER_VALUE"
    return "STRING_VALUE"


def _type_word(expected: str) -> str:
    return {"integer": "an Integer", "number": "a Double", "boolean": "a Boolean", "string": "a String",
            "timestamp": "a Timestamp", "blob": "a Blob"}.get(expected, expected)


def parse(op: OperationModel, req: HttpRequest) -> dict[str, Any]:
    node = compile_shape(op.input_shape)
    try:
        data = read_json(req.body)
        if node is None:
            return {}
        return jsoncodec.decode(node, data, "")
    except WireProblem as problem:
        raise problem_error(problem) from None


def content_type(model: ServiceModel) -> str:
    return f"application/x-amz-json-{model.metadata.get('jsonVersion', '1.0')}"


def serialize(op: OperationModel, result: dict[str, Any], request_id: str) -> HttpResponse:
    node = compile_shape(op.output_shape)
    body = jsoncodec.encode(node, result) if node is not None else {}
    return HttpResponse(200, [("content-type", content_type(op.service_model)), ("x-amzn-requestid", request_id)],
                        json.dumps(body, separators=(",", ":")).encode())


def error_body(err: AwsError, message_key: str = "message") -> bytes:
    data: dict[str, Any] = {"__type": err.code}
    if err.message:  # AWS leaves out an empty message (KMS's InvalidCiphertextException, ...)
        data[message_key] = err.message
    for k, v in err.extra.items():
        data.setdefault(k, v)
    return json.dumps(data, separators=(",", ":")).encode()


def serialize_error(model: ServiceModel, err: AwsError, request_id: str) -> HttpResponse:
    headers = [("content-type", content_type(model)), ("x-amzn-requestid", request_id),
               ("x-amzn-errortype", err.code)]
    headers += [(k.lower(), v) for k, v in err.headers.items()]
    return HttpResponse(err.status, headers, error_body(err, _message_key(model, err.code)))


def _message_key(model: ServiceModel, code: str) -> str:
    """AWS writes a modeled error by its shape: "Message" where the shape spells it so
    (Secrets Manager), which SDKs then also expose as the error's Message member."""
    shape = next((s for s in model.error_shapes if s.error_code == code), None)
    return "Message" if shape is not None and "Message" in shape.members else "message"
