"""Typed readings of condition values (policy side and request side): numbers, dates,
booleans, IP addresses, binary. Each returns None when the text is not of that type.
"""

from __future__ import annotations

import base64
import ipaddress
import re
from datetime import datetime, timezone
from functools import lru_cache
from typing import Any

_INT64 = (-(2**63), 2**63 - 1)

# AWS accepts ISO 8601 loosely (IAM's own validator takes "2016-12-13t2:00:00.5+23"
# and even "01T"), and epoch seconds.
_ISO = re.compile(
    r"(-?\d{1,9})(?:-(\d{1,2})(?:-(\d{1,2}))?)?"
    r"(?:[Tt](?:(\d{1,2})(?::(\d{1,2})(?::(\d{1,2})(?:\.(\d{1,9}))?)?)?)?)?"
    r"(Z|z|[+-]\d{2}(?::?\d{2})?)?"
)
_EPOCH = re.compile(r"-?\d+")


def text(value: Any) -> str:
    """How a JSON scalar reads as a string in a condition (true → "true", 5 → "5")."""
    if value is True:
        return "true"
    if value is False:
        return "false"
    if isinstance(value, bytes):
        return base64.b64encode(value).decode()
    if isinstance(value, datetime):
        return value.isoformat()
    return str(value)


def _days_from_civil(y: int, m: int, d: int) -> int:
    # Proleptic Gregorian day count (Howard Hinnant's algorithm); works for any year,
    # which datetime does not (IAM accepts years like 0001 and beyond 9999).
    y -= m <= 2
    era = (y if y >= 0 else y - 399) // 400
    yoe = y - era * 400
    doy = (153 * (m + (-3 if m > 2 else 9)) + 2) // 5 + d - 1
    doe = yoe * 365 + yoe // 4 - yoe // 100 + doy
    return era * 146097 + doe - 719468


@lru_cache(maxsize=4096)
def parse_date(raw: str) -> float | None:
    """Epoch seconds for an ISO 8601 date/time or an epoch number; None if neither."""
    s = raw.strip()
    if _EPOCH.fullmatch(s):
        n = int(s)
        return float(n) if _INT64[0] <= n <= _INT64[1] else None
    m = _ISO.fullmatch(s)
    if not m:
        return None
    year = int(m.group(1))
    month = int(m.group(2) or 1)
    day = int(m.group(3) or 1)
    hour, minute, sec = int(m.group(4) or 0), int(m.group(5) or 0), int(m.group(6) or 0)
    if not (1 <= month <= 12 and 1 <= day <= 31 and hour <= 24 and minute < 60 and sec <= 60):
        return None
    frac = float("0." + m.group(7)) if m.group(7) else 0.0
    offset = 0
    tz = m.group(8)
    if tz and tz not in "Zz":
        digits = tz[1:].replace(":", "")
        offset = int(digits[:2]) * 3600 + (int(digits[2:4]) * 60 if len(digits) > 2 else 0)
        if tz[0] == "-":
            offset = -offset
    days = _days_from_civil(year, month, day)
    return days * 86400.0 + hour * 3600 + minute * 60 + sec + frac - offset


def date_of(value: Any) -> float | None:
    if isinstance(value, datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=timezone.utc)
        return value.timestamp()
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str):
        return parse_date(value)
    return None


def number_of(value: Any) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str):
        try:
            return float(value.strip())
        except ValueError:
            return None
    return None


@lru_cache(maxsize=4096)
def ip_of(value: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address(value.strip())
    except ValueError:
        return None


@lru_cache(maxsize=4096)
def ip_int_of(value: str) -> tuple[int, int] | None:
    """(IP version, address as int) — what IpAddress compares."""
    ip = ip_of(value)
    return None if ip is None else (ip.version, int(ip))


def network_of(value: str) -> ipaddress.IPv4Network | ipaddress.IPv6Network | None:
    try:
        return ipaddress.ip_network(value.strip(), strict=False)
    except ValueError:
        return None
