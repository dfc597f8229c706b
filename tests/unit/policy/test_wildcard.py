"""The wildcard matchers against a regex oracle (the textbook translation of `*`/`?`),
and on inputs where a backtracking regex would take hours."""

from __future__ import annotations

import re

from hypothesis import given
from hypothesis import strategies as st

from skyhold.policy import wildcard

# A small alphabet with the characters that matter (colons for ARNs, the wildcards).
PATTERN = st.text(alphabet="ab:*?", max_size=12)
VALUE = st.text(alphabet="ab:", max_size=14)


def _glob_oracle(pattern: str) -> re.Pattern[str]:
    return re.compile("".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern), re.DOTALL)


def _arn_oracle(pattern: str) -> re.Pattern[str]:
    parts = pattern.split(":", 5)
    out = []
    for i, seg in enumerate(parts):
        last = i == len(parts) - 1
        out.append("".join(
            (".*" if last or j == len(seg) - 1 else "[^:]*") if c == "*"
            else ("." if last else "[^:]") if c == "?" else re.escape(c)
            for j, c in enumerate(seg)))
    return re.compile(":".join(out), re.DOTALL)


@given(PATTERN, VALUE)
def test_glob_agrees_with_the_regex_translation(pattern: str, value: str) -> None:
    assert wildcard.glob(pattern)(value) == bool(_glob_oracle(pattern).fullmatch(value))


@given(PATTERN, VALUE)
def test_arn_agrees_with_the_regex_translation(pattern: str, value: str) -> None:
    assert wildcard.arn(pattern)(value) == bool(_arn_oracle(pattern).fullmatch(value))


@given(PATTERN, VALUE)
def test_the_state_set_matcher_agrees_too(pattern: str, value: str) -> None:
    """It serves only some ARN patterns (see _StarMatcher.make); check it on all."""
    arn_tokens = list(wildcard._arn_tokens(pattern))
    assert wildcard._StateSetMatcher(arn_tokens)(value) == bool(_arn_oracle(pattern).fullmatch(value))
    glob_tokens = list(wildcard._glob_tokens(pattern))
    assert wildcard._StateSetMatcher(glob_tokens)(value) == bool(_glob_oracle(pattern).fullmatch(value))


@given(st.lists(PATTERN, min_size=2, max_size=4), VALUE)
def test_glob_any_is_any_glob(patterns: list[str], value: str) -> None:
    assert wildcard.glob_any(patterns)(value) == any(wildcard.glob(p)(value) for p in patterns)


def test_literal_wildcards_stay_literal() -> None:
    pattern = f"a{wildcard.LITERAL_STAR}*b{wildcard.LITERAL_QMARK}"
    assert wildcard.glob(pattern)("a*xyzb?")
    assert not wildcard.glob(pattern)("axyzb?")
    assert not wildcard.glob(pattern)("a*xyzbc")


def test_many_stars_against_a_long_value_are_decided() -> None:
    """`.*a` ten times then `b`, against 5,000 `a`s: a backtracking regex would try some
    5000^10 ways; the matcher looks for each piece once."""
    pattern = "*a" * 10 + "*b"
    assert not wildcard.glob(pattern)("a" * 5000)
    assert wildcard.glob(pattern)("a" * 5000 + "b")
    arn_pattern = "arn:aws:s3:::" + "*a" * 10 + "*b"
    assert not wildcard.arn(arn_pattern)("arn:aws:s3:::" + "a" * 5000)
    # Inner stars of a colon-bounded segment (the state-set matcher's case).
    assert not wildcard.arn("arn:aws:*a*a*a*a*a*b:*")("arn:aws:" + "a" * 3000 + ":x")
    assert wildcard.arn("arn:aws:*a*a*a*a*a*b:*")("arn:aws:" + "a" * 3000 + "b:x")
