"""JSON ⇄ Python values, driven by compiled shapes (json and rest-json bodies)."""

from __future__ import annotations

import base64
import binascii
from datetime import datetime
from typing import Any

from skyhold.wire import scalars
from skyhold.wire.problems import BadValue, MissingMember
from skyhold.wire.shapes import Node

_NUMBER = (int, float)


def decode(node: Node, value: Any, path: str) -> Any:
    t = node.type
    if t == "structure":
        if node.document:
            return value
        if not isinstance(value, dict):
            raise BadValue(path, value, "structure")
        out: dict[str, Any] = {}
        keys = node.json_keys
        for k, v in value.items():
            hit = keys.get(k)
            if hit is None or v is None:
                continue  # unknown members are ignored, as AWS does
            name, m = hit
            out[name] = decode(m, v, f"{path}.{name}" if path else name)
        for name in node.required:
            if name not in out:
                raise MissingMember(f"{path}.{name}" if path else name, node.members[name].wire_name)
        return out
    if t == "string":
        if not isinstance(value, str):
            raise BadValue(path, value, "string")
        return value
    if t == "list":
        if not isinstance(value, list):
            raise BadValue(path, value, "list")
        item = node.member
        assert item is not None
        return [decode(item, v, f"{path}.{i}") for i, v in enumerate(value, 1) if v is not None]
    if t == "map":
        if not isinstance(value, dict):
            raise BadValue(path, value, "map")
        assert node.value is not None
        return {k: decode(node.value, v, f"{path}.{k}") for k, v in value.items() if v is not None}
    if t in ("integer", "long"):
        if isinstance(value, bool) or not isinstance(value, int):
            raise BadValue(path, value, "integer")
        return value
    if t == "boolean":
        if not isinstance(value, bool):
            raise BadValue(path, value, "boolean")
        return value
    if t in ("float", "double"):
        if isinstance(value, str) and value in ("NaN", "Infinity", "-Infinity"):
            return float(value)
        if isinstance(value, bool) or not isinstance(value, _NUMBER):
            raise BadValue(path, value, "number")
        return float(value)
    if t == "timestamp":
        if isinstance(value, bool) or not isinstance(value, (int, float, str)):
            raise BadValue(path, value, "timestamp")
        try:
            return scalars.parse_timestamp(value)
        except (ValueError, OverflowError, OSError) as exc:
            raise BadValue(path, value, "timestamp") from exc
    if t == "blob":
        if not isinstance(value, str):
            raise BadValue(path, value, "blob")
        try:
            return base64.b64decode(value, validate=True)
        except (ValueError, binascii.Error) as exc:
            raise BadValue(path, value, "blob") from exc
    return value


def encode(node: Node, value: Any) -> Any:
    t = node.type
    if t == "structure":
        if node.document:
            return value
        out: dict[str, Any] = {}
        members = node.members
        for name, v in value.items():
            if v is None:
                continue
            m = members.get(name)
            if m is None or m.location:
                continue  # not a body member (or unknown to the model)
            out[m.wire_name] = encode(m, v)
        return out
    if t == "list":
        item = node.member
        assert item is not None
        return [encode(item, v) for v in value]
    if t == "map":
        assert node.value is not None
        vnode = node.value
        return {k: encode(vnode, v) for k, v in value.items()}
    if t == "timestamp":
        if not isinstance(value, datetime):
            value = scalars.parse_timestamp(value)
        fmt = node.ts_format or "unixTimestamp"
        return scalars.epoch(value) if fmt == "unixTimestamp" else scalars.format_timestamp(value, fmt)
    if t == "blob":
        raw = value.encode() if isinstance(value, str) else bytes(value)
        return base64.b64encode(raw).decode()
    if t in ("float", "double"):
        if value != value or value in (float("inf"), float("-inf")):
            return scalars.format_float(value)
        return value
    return value
