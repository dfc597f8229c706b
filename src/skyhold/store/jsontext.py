"""Compact JSON for what Skyhold stores and journals: orjson, several times cheaper
than the json module (every request encodes or decodes some), with json for the few
values orjson refuses (integers past 64 bits, strings holding lone surrogates)."""

from __future__ import annotations

import json
from typing import Any

import orjson

_json_dumps = json.JSONEncoder(separators=(",", ":")).encode  # ASCII: surrogates escaped


def dumps(value: Any) -> bytes:
    """UTF-8 JSON without spaces; control characters are always escaped (no raw LF)."""
    try:
        return orjson.dumps(value, option=orjson.OPT_NON_STR_KEYS)
    except TypeError:
        return _json_dumps(value).encode()


def loads(text: str | bytes) -> Any:
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError:  # json reads a few texts orjson refuses (escaped surrogates)
        return json.loads(text)
