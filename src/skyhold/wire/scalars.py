"""Scalar values on the wire: timestamps, booleans, numbers, percent-encoding.

Parsers raise ValueError on bad input; each protocol turns that into its own AWS
error, so this module knows nothing about error codes.
"""

from __future__ import annotations

import re
from datetime import datetime, timezone
from email.utils import parsedate_to_datetime
from functools import lru_cache
from urllib.parse import unquote_to_bytes

UTC = timezone.utc
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_DAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
_BAD_ESCAPE = re.compile(r"%(?![0-9A-Fa-f]{2})")


def parse_timestamp(value: str | int | float) -> datetime:
    """Any of the three formats the models use (iso8601, rfc822, epoch seconds).

    The member's declared format is not trusted to pick the parser: clients in the
    wild send whichever they like, and the three are unambiguous."""
    if isinstance(value, bool):
        raise ValueError("boolean is not a timestamp")
    if isinstance(value, (int, float)):
        return datetime.fromtimestamp(value, UTC)
    text = value.strip()
    if not text:
        raise ValueError("empty timestamp")
    if text[0].isdigit() and ("-" in text[:5]):
        dt = datetime.fromisoformat(text)
    elif text[0].isalpha():
        dt = parsedate_to_datetime(text)
    else:
        return datetime.fromtimestamp(float(text), UTC)
    return dt.replace(tzinfo=UTC) if dt.tzinfo is None else dt.astimezone(UTC)


def _utc(value: datetime) -> datetime:
    # Handlers may hand back naive datetimes; Skyhold's clock is UTC.
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def iso8601(value: datetime, always_millis: bool = False) -> str:
    """AWS's form: seconds, plus milliseconds when there are any (S3: always)."""
    v = _utc(value)
    head = f"{v.year:04d}-{v.month:02d}-{v.day:02d}T{v.hour:02d}:{v.minute:02d}:{v.second:02d}"
    if v.microsecond or always_millis:
        return f"{head}.{v.microsecond // 1000:03d}Z"
    return head + "Z"


@lru_cache(maxsize=4096)
def rfc822(value: datetime) -> str:
    """Cached: S3 writes each object's Last-Modified on every GET and HEAD."""
    v = _utc(value)
    return (f"{_DAYS[v.weekday()]}, {v.day:02d} {_MONTHS[v.month - 1]} {v.year:04d} "
            f"{v.hour:02d}:{v.minute:02d}:{v.second:02d} GMT")


def epoch(value: datetime) -> int | float:
    v = _utc(value)
    whole = int((v.replace(microsecond=0) - _EPOCH).total_seconds())
    return whole + v.microsecond / 1_000_000 if v.microsecond else whole


def format_timestamp(value: datetime, fmt: str, always_millis: bool = False) -> str:
    """Text form of a timestamp in a model format (epoch as its decimal text)."""
    if fmt == "rfc822":
        return rfc822(value)
    if fmt == "unixTimestamp":
        return str(epoch(value))
    return iso8601(value, always_millis)


def parse_bool(text: str) -> bool:
    if text == "true":
        return True
    if text == "false":
        return False
    raise ValueError(f"not a boolean: {text!r}")


def parse_float(text: str) -> float:
    # float() accepts "nan"/"inf" spellings AWS does not; AWS spells them NaN/Infinity.
    if text in ("NaN", "Infinity", "-Infinity"):
        return float(text)
    if not text or text[-1].isalpha():
        raise ValueError(f"not a number: {text!r}")
    return float(text)


def format_float(value: float) -> str:
    if value != value:
        return "NaN"
    if value in (float("inf"), float("-inf")):
        return "Infinity" if value > 0 else "-Infinity"
    return repr(float(value))


def unquote_strict(text: str, plus_is_space: bool = False) -> str:
    """Percent-decode, refusing malformed escapes and invalid UTF-8 (ValueError)."""
    if plus_is_space and "+" in text:
        text = text.replace("+", " ")
    if "%" not in text:
        return text
    if _BAD_ESCAPE.search(text):
        raise ValueError(f"bad percent-encoding in {text!r}")
    return unquote_to_bytes(text).decode("utf-8")


def parse_qs_strict(query: str) -> list[tuple[str, str]]:
    """application/x-www-form-urlencoded pairs, in order, blanks kept (ValueError)."""
    pairs: list[tuple[str, str]] = []
    if not query:
        return pairs
    for part in query.split("&"):
        if not part:
            continue
        name, sep, value = part.partition("=")
        pairs.append((unquote_strict(name, True), unquote_strict(value, True)))
    return pairs
