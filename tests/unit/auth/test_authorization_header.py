"""The usual Authorization header is read by a fast ASCII pattern; its answer is the
same as the general `\\s` pattern's for any header, whitespace of any kind included."""

from __future__ import annotations

import random

from skyhold.auth import sigv4

USUAL = ("AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20261207/us-east-1/sts/aws4_request, "
         "SignedHeaders=content-type;host;x-amz-date, Signature=" + "ab12" * 16)


def _parts(header: str) -> tuple[str, ...] | None:
    sigv4._last_usual = ("", None)  # not the memo of an earlier header
    match = sigv4._usual_authorization(header)
    return match.groups() if match else None


def test_the_usual_header_is_read_whole() -> None:
    assert _parts(USUAL) == ("AKIAIOSFODNN7EXAMPLE/20261207/us-east-1/sts/aws4_request",
                             "content-type;host;x-amz-date", "ab12" * 16)


def test_whitespace_beyond_ascii_is_whitespace_too() -> None:
    for space in ("\x85", "\xa0", "\u2003", "\u3000", "\x1c", "\t"):
        header = USUAL.replace("/aws4_request", "/aws4_request" + space)
        assert _parts(header) is None  # left to the general parser, which strips it


def test_any_mutation_reads_as_the_general_pattern_does() -> None:
    rng = random.Random(2026)
    for _ in range(20_000):
        chars = list(USUAL)
        for _ in range(rng.randrange(1, 4)):
            limit = rng.choice((128, 256, 0x3100))
            chars[rng.randrange(len(chars))] = chr(rng.randrange(limit))
        header = "".join(chars)
        general = sigv4._USUAL_AUTHORIZATION.match(header)
        assert _parts(header) == (general.groups() if general else None), repr(header)
