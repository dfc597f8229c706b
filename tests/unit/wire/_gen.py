"""Deterministic values for any botocore shape, and botocore-built requests.

The values are chosen to stress the wire, not to be valid for AWS: unicode and XML
metacharacters in strings, `/` and spaces in greedy URI labels, commas in header
lists, nested structures, lists and maps. Only what HTTP itself cannot carry is
avoided (non-ASCII or padded header values, mixed-case header-map keys, which
HTTP lower-cases).
"""

from __future__ import annotations

import random
from datetime import datetime, timezone
from typing import Any
from urllib.parse import urlsplit

from botocore.awsrequest import create_request_object, prepare_request_dict
from botocore.model import OperationModel, Shape
from botocore.serialize import create_serializer

from skyhold.wire.http import HttpRequest

UNICODE = "é ü 日本 <&>\"' ~"
ASCII = "Abc-09_.~!$"
MAX_DEPTH = 6

ENDPOINTS = {
    "iam": "https://iam.amazonaws.com",
    "sts": "https://sts.amazonaws.com",
    "s3": "https://s3.us-east-1.amazonaws.com",
    "s3control": "https://s3-control.us-east-1.amazonaws.com",
    "kms": "https://kms.us-east-1.amazonaws.com",
    "secretsmanager": "https://secretsmanager.us-east-1.amazonaws.com",
    "ssm": "https://ssm.us-east-1.amazonaws.com",
    "ec2": "https://ec2.us-east-1.amazonaws.com",
    "ecr": "https://api.ecr.us-east-1.amazonaws.com",
    "cloudtrail": "https://cloudtrail.us-east-1.amazonaws.com",
    "organizations": "https://organizations.us-east-1.amazonaws.com",
}


class Gen:
    def __init__(self, seed: str, for_response: bool = False) -> None:
        self.rng = random.Random(seed)
        # botocore's response parser splits header lists on every comma (it does
        # not read the quoting its serializer writes), so responses avoid them.
        self.for_response = for_response

    # `where`: "uri", "greedy", "querystring", "header", "hostlabel" or "body"
    def value(self, shape: Shape, where: str = "body", depth: int = 0) -> Any:
        t = shape.type_name
        if t == "structure":
            return self.structure(shape, depth)
        if t == "list":
            n = 2 if depth < MAX_DEPTH else 1
            item_where = "header-list" if where == "header" else where
            return [self.value(shape.member, item_where, depth + 1) for _ in range(n)]
        if t == "map":
            out = {}
            for i in range(2):
                key = f"k-{i}-{self.rng.randint(0, 999)}"
                if where == "body":
                    key += " é"
                out[key] = self.value(shape.value, "header" if where == "header" else where, depth + 1)
            return out
        if t == "string":
            return self.string(shape, where)
        if t in ("integer", "long"):
            lo = int(shape.metadata.get("min", 0))
            return lo + self.rng.randint(0, 50)
        if t == "boolean":
            return self.rng.random() < 0.5
        if t in ("float", "double"):
            return self.rng.choice([0.5, 1.25, 3.0, -2.75])
        if t == "timestamp":
            # Whole seconds: rfc822 headers and legacy epoch formats carry no fraction.
            return datetime(2021, 3, 4, 5, 6, self.rng.randint(0, 59), tzinfo=timezone.utc)
        if t == "blob":
            return bytes(self.rng.randint(0, 255) for _ in range(self.rng.randint(1, 9)))
        raise AssertionError(f"unhandled type {t}")

    def string(self, shape: Shape, where: str) -> str:
        enum = shape.metadata.get("enum")
        if enum:
            return self.rng.choice(enum)
        n = self.rng.randint(0, 9999)
        if where == "hostlabel":
            return f"abc-{n}"
        if where in ("header", "header-list"):
            s = f"v{n}-{ASCII}"
            return s + ",x\"y" if where == "header-list" and not self.for_response else s
        if where == "greedy":
            return f"dir one/sub {n}/{UNICODE}/file+name.txt"
        if where == "uri":
            return f"label {n} {UNICODE}/%"
        return f"s{n} {UNICODE}"

    def structure(self, shape: Shape, depth: int) -> dict[str, Any]:
        out: dict[str, Any] = {}
        members = shape.members
        names = list(members)
        if shape.metadata.get("union"):
            names = [self.rng.choice(names)]
        elif depth >= MAX_DEPTH:
            # Required members only, but never nothing: a required structure the
            # wire cannot carry would be a missing member, not a round trip.
            names = [n for n in names if n in shape.required_members] or names[:1]
        for name in names:
            m = members[name]
            ser = m.serialization
            if ser.get("eventstream") or m.metadata.get("eventstream"):
                continue
            where = ser.get("location", "body")
            if ser.get("hostLabel"):
                where = "hostlabel"
            elif where == "headers":
                where = "header"
            value = self.value(m, where, depth + 1)
            if not _hollow(value):
                out[name] = value
        return out

    def request_params(self, op: OperationModel) -> dict[str, Any]:
        shape = op.input_shape
        if shape is None:
            return {}
        params = self.structure(shape, 0)
        uri = op.http.get("requestUri", "")
        for name, m in shape.members.items():
            ser = m.serialization
            if ser.get("location") == "uri" and name in params and m.type_name == "string" \
                    and not ser.get("hostLabel"):
                params[name] = self.string(m, "greedy" if "{" + ser.get("name", name) + "+}" in uri else "uri")
            if ser.get("location") == "headers":
                params[name] = {k.lower(): f"v-{i}" for i, k in enumerate(params[name])}
        return params


def _hollow(value: Any) -> bool:
    """An empty structure, or a list of them: the query wire cannot express one, and
    the depth limit produces them for deep optional-only structures."""
    if isinstance(value, dict):
        return not value
    if isinstance(value, list):
        return all(isinstance(v, dict) and not v for v in value)
    return False


def botocore_request(service: str, op: OperationModel, params: dict[str, Any]) -> HttpRequest:
    """The request a botocore client sends: its serializer, then its URL preparation."""
    serializer = create_serializer(op.service_model.protocol, include_validation=False)
    request_dict = serializer.serialize_to_request(params, op)
    prepare_request_dict(request_dict, endpoint_url=ENDPOINTS[service])
    prepared = create_request_object(request_dict).prepare()
    url = urlsplit(prepared.url)
    body = prepared.body
    if isinstance(body, str):
        body = body.encode("utf-8")
    headers = {k.lower(): v for k, v in prepared.headers.items()}
    headers["host"] = url.netloc
    return HttpRequest(prepared.method, url.path or "/", url.query, headers, body or b"")
