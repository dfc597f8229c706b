"""Wildcard patterns (`*`, `?`) compiled once into the cheapest matcher that works.

Three flavours, because IAM uses three:
- glob: `*`/`?` over the whole string (Action, StringLike); case folding is the caller's choice.
- ARN: per-segment matching (Resource, ArnLike). AWS: wildcards work within each of
  the six colon-separated segments; a `*` that ends a segment "can expand to match
  beyond the colon boundaries", a `*` inside a segment cannot. The last segment (the
  resource id) may itself contain colons, so everything is free there.
Each compiles to a predicate `str -> bool`: equality for literals, `startswith` for a
single trailing `*`, a regex only when needed.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from functools import lru_cache

Matcher = Callable[[str], bool]


def _always(_: str) -> bool:
    return True


# Policy variables ${*} and ${?} (and substituted variable values) stand for a literal
# `*`/`?`; templates encode them with these private-use characters so that the
# compilers below never read them as wildcards.
LITERAL_STAR = "\ue000"
LITERAL_QMARK = "\ue001"
_LITERALS = {LITERAL_STAR: "*", LITERAL_QMARK: "?"}


def literal(value: str) -> str:
    """Make a value safe to splice into a pattern: its `*`/`?` stay literal."""
    if "*" in value or "?" in value:
        return value.replace("*", LITERAL_STAR).replace("?", LITERAL_QMARK)
    return value


def has_wildcard(pattern: str) -> bool:
    return "*" in pattern or "?" in pattern


def unliteral(pattern: str) -> str:
    return pattern.replace(LITERAL_STAR, "*").replace(LITERAL_QMARK, "?")


def _glob_regex(pattern: str) -> str:
    out = []
    for ch in pattern:
        if ch == "*":
            out.append(".*")
        elif ch == "?":
            out.append(".")
        else:
            out.append(re.escape(_LITERALS.get(ch, ch)))
    return "".join(out)


@lru_cache(maxsize=4096)
def glob(pattern: str, ignore_case: bool = False) -> Matcher:
    """Whole-string `*`/`?` match. With ignore_case the caller passes lower-cased values."""
    if ignore_case:
        pattern = pattern.lower()
    if pattern == "*":
        return _always
    if not has_wildcard(pattern):
        return unliteral(pattern).__eq__
    if pattern.endswith("*") and not has_wildcard(pattern[:-1]):
        prefix = unliteral(pattern[:-1])
        return lambda s: s.startswith(prefix)
    return re.compile(_glob_regex(pattern), re.DOTALL).fullmatch  # type: ignore[return-value]


def glob_regex_union(patterns: list[str]) -> Matcher:
    """One regex for many globs (StringLike with several values)."""
    if any(p == "*" for p in patterns):
        return _always
    rx = re.compile("|".join(f"(?:{_glob_regex(p)})" for p in patterns), re.DOTALL)
    return lambda s: rx.fullmatch(s) is not None


def _arn_regex(pattern: str) -> str:
    # Segments 0..4 (arn, partition, service, region, account) are colon-bounded.
    parts = pattern.split(":", 5)
    out: list[str] = []
    for i, seg in enumerate(parts):
        last_segment = i == len(parts) - 1
        buf = []
        for j, ch in enumerate(seg):
            if ch == "*":
                # A trailing `*` may run past colons; an inner one may not.
                buf.append(".*" if last_segment or j == len(seg) - 1 else "[^:]*")
            elif ch == "?":
                buf.append("." if last_segment else "[^:]")
            else:
                buf.append(re.escape(_LITERALS.get(ch, ch)))
        out.append("".join(buf))
    return ":".join(out)


@lru_cache(maxsize=4096)
def arn(pattern: str) -> Matcher:
    """Resource-element / ArnLike matching, case-sensitive."""
    if pattern == "*":
        return _always
    if not has_wildcard(pattern):
        return unliteral(pattern).__eq__
    if pattern.endswith("*") and not has_wildcard(pattern[:-1]):
        prefix = unliteral(pattern[:-1])
        return lambda s: s.startswith(prefix)
    return re.compile(_arn_regex(pattern), re.DOTALL).fullmatch  # type: ignore[return-value]


def arn_condition(pattern: str) -> Matcher:
    """ArnEquals/ArnLike: like `arn`, but the value must itself be a six-part ARN."""
    inner = arn(pattern)
    return lambda s: s.count(":") >= 5 and s.startswith("arn:") and bool(inner(s))
