"""User metadata (x-amz-meta-*) that is not plain ASCII, as S3 handles it.

S3 User Guide, "Working with object metadata": a value is RFC 2047-decoded before it is
stored, and a stored value that is not US-ASCII is RFC 2047-encoded before it is
returned; an ASCII one is returned as is. What S3 answers (recorded against AWS):
  "=?UTF-8?Q?actually-ascii?=" -> actually-ascii, "=?UTF-8?B?YWJj?=" -> abc;
  "ÄMÄZÕÑ S3" -> =?UTF-8?Q?=C3=84M=C3=84Z=C3=95=C3=91_S3?= (its own Q encoding: a space
  becomes "_", and "_", "=", "?" are escaped like any non-printable byte);
  a value with control characters ("\\x00\\x01", U+FFFD) -> =?UTF-8?B?...?= (base64).
A value sent as raw bytes (no encoded-words) is read as UTF-8 when it is that.
"""

from __future__ import annotations

import base64
import unicodedata
from email.errors import HeaderParseError
from email.header import decode_header

# Bytes S3's Q encoding leaves alone: printable ASCII but space, "_", "=" and "?" (and tab).
_Q_SAFE = frozenset(b for b in range(0x21, 0x7F) if chr(b) not in "_=?") | {ord("\t")}
_Q_BYTE = [chr(b) if b in _Q_SAFE else "_" if b == 0x20 else f"={b:02X}" for b in range(256)]


def stored(meta: dict[str, str]) -> dict[str, str]:
    """The values as S3 keeps them: encoded-words decoded, raw UTF-8 bytes read as text."""
    if all(v.isascii() and "=?" not in v for v in meta.values()):
        return meta  # the usual metadata: nothing to decode
    return {k: _decode(v) for k, v in meta.items()}


def _decode(value: str) -> str:
    if not value.isascii():  # the HTTP layer reads header bytes as Latin-1
        try:
            return value.encode("latin-1").decode("utf-8")
        except UnicodeError:
            return value
    if "=?" not in value:
        return value
    try:
        parts = decode_header(value)
        return "".join(p.decode(charset or "ascii", "replace") if isinstance(p, bytes) else p
                       for p, charset in parts)
    except (HeaderParseError, LookupError, ValueError):  # not encoded-words after all: kept as sent
        return value


def _plain(value: str) -> bool:
    return value.isascii() and (value.isprintable() or value.replace("\t", "").isprintable())


def returned(meta: dict[str, str]) -> dict[str, str]:
    """The values as GET and HEAD send them (x-amz-meta-* headers)."""
    if all(_plain(v) for v in meta.values()):
        return meta
    return {k: v if _plain(v) else _encode(v) for k, v in meta.items()}


def _encode(value: str) -> str:
    data = value.encode("utf-8", "surrogateescape")
    if any(c == "\ufffd" or unicodedata.category(c)[0] == "C" for c in value if c != "\t"):
        return f"=?UTF-8?B?{base64.b64encode(data).decode('ascii')}?="
    return f"=?UTF-8?Q?{''.join(_Q_BYTE[b] for b in data)}?="
