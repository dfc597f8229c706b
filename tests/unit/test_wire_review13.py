"""Wire-layer pure functions, review 13: bodies nested deeper than Python's JSON parser
goes are malformed (the protocol's 400), not an internal failure."""

from __future__ import annotations

import pytest

from skyhold.wire import jsonrpc, rest
from skyhold.wire.problems import Malformed
from skyhold.wire.shapes import compile_shape
from skyhold.wire.models import service_model

_DEEP = (b"[" * 100_000 + b"]" * 100_000, b'{"a":' * 50_000 + b"1" + b"}" * 50_000)


@pytest.mark.parametrize("body", _DEEP)
def test_json_protocol_reads_a_too_deep_body_as_malformed(body: bytes) -> None:
    with pytest.raises(Malformed):
        jsonrpc.read_json(body)


@pytest.mark.parametrize("body", _DEEP)
def test_rest_json_reads_a_too_deep_body_as_malformed(body: bytes) -> None:
    op = service_model("s3control").operation_model("CreateAccessPoint")
    node = compile_shape(op.input_shape)
    assert node is not None
    with pytest.raises(Malformed):
        rest._decode_doc(node, body, False, "")
