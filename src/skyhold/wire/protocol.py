"""The wire layer's front: find the operation, parse its parameters, serialize the
result or the error — for whichever of the five protocols the service speaks.

Each protocol lives in its own module (query.py for query+ec2, jsonrpc.py for json,
rest.py for rest-xml+rest-json); this module only dispatches.
"""

from __future__ import annotations

from functools import cache
from typing import Any

from botocore.model import OperationModel, ServiceModel

from skyhold.errors import AwsError
from skyhold.wire import jsonrpc, query, rest
from skyhold.wire.http import HttpRequest, HttpResponse

_REST = ("rest-xml", "rest-json")


@cache
def _by_target(model: ServiceModel) -> dict[str, OperationModel]:
    prefix = model.metadata.get("targetPrefix", "")
    return {f"{prefix}.{name}": model.operation_model(name) for name in model.operation_names}


@cache
def _by_action(model: ServiceModel) -> dict[str, OperationModel]:
    return {name: model.operation_model(name) for name in model.operation_names}


def find_operation(model: ServiceModel, req: HttpRequest) -> OperationModel:
    """The operation a request calls. REST protocols never read the body for this."""
    proto = model.protocol
    if proto in _REST:
        return rest.find_operation(model, req)
    if proto == "json":
        target = req.headers.get("x-amz-target")
        op = _by_target(model).get(target or "")
        if op is None:
            raise jsonrpc.unknown_operation(target)
        return op
    ec2 = proto == "ec2"
    action, version = query.action_of(req, ec2)
    op = _by_action(model).get(action or "")
    if op is None or (version != model.api_version and not ec2):
        raise query.unknown_action(model, action, version, ec2, req)
    return op


@cache
def has_streaming_input(op: OperationModel) -> bool:
    """True when the input's payload is a stream the pipeline must feed (S3 uploads)."""
    return op.service_model.protocol in _REST and op.has_streaming_input


def parse_request(op: OperationModel, req: HttpRequest) -> dict[str, Any]:
    """The parameters a botocore client would have passed, typed per the model."""
    proto = op.service_model.protocol
    if proto in _REST:
        return rest.parse(op, req)
    if proto == "json":
        return jsonrpc.parse(op, req)
    return query.parse(op, req, proto == "ec2")


def serialize_response(op: OperationModel, result: dict[str, Any], request_id: str) -> HttpResponse:
    proto = op.service_model.protocol
    if proto in _REST:
        return rest.serialize(op, result, request_id)
    if proto == "json":
        return jsonrpc.serialize(op, result, request_id)
    return query.serialize(op, result, request_id, proto == "ec2")


def serialize_error(model: ServiceModel, error: AwsError, request_id: str, *, head: bool = False) -> HttpResponse:
    """`head`: the request was a HEAD, whose answer carries no body (rest protocols)."""
    proto = model.protocol
    if proto in _REST:
        return rest.serialize_error(model, error, request_id, head)
    if proto == "json":
        return jsonrpc.serialize_error(model, error, request_id)
    return query.serialize_error(model, error, request_id, proto == "ec2")
