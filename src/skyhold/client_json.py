"""JSON as AWS reads it from clients: RFC 7159. Python's json module also reads NaN,
Infinity and -Infinity, which are not JSON; a request body or policy holding them is
malformed, as AWS's parsers find it."""

from __future__ import annotations

import json
from typing import Any


def _not_json(token: str) -> Any:
    raise ValueError(f"{token} is not JSON")


def loads(text: str | bytes) -> Any:
    """json.loads, refusing NaN and Infinity (ValueError, as for any malformed text)."""
    return json.loads(text, parse_constant=_not_json)
