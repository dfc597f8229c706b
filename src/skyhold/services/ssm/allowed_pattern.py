"""PutParameter's AllowedPattern: SSM's Java regular expression, stood in for by the
`regex` package (closer to Java than `re`: Unicode properties such as \\p{L}), with
both of a pattern's costs bounded, since a caller chooses the pattern and the value.
"""

from __future__ import annotations

import re

import regex

from skyhold.errors import AwsError

# How long one value may be matched. A pattern such as (a|aa)+$ backtracks
# exponentially: unbounded, one request would stall the server.
MATCH_SECONDS = 0.2
# How many copies of a repeated group compiling may make. `regex` expands counted
# repeats as it compiles: (?:(?:a{1000}){1000}){10} took 7 s and {100} ran out of
# memory, where Java compiles both at once. 100,000 copies compile in ~25 ms.
MAX_COPIES = 100_000
# An unescaped "(?P": Python's named groups, which Java's syntax lacks (and `regex`
# would even let a name repeat).
_PYTHON_GROUP = re.compile(r"(?<!\\)(?:\\\\)*\(\?P")
_COUNT = re.compile(r"\{(\d*)(?:,(\d*))?\}")


def _invalid() -> AwsError:
    # The exception SSM's model names for this; its wording is the model's description of it.
    return AwsError("InvalidAllowedPatternException", "The request doesn't meet the regular expression requirement.")


def copies(pattern: str) -> int:
    """The most copies of one group that compiling `pattern` makes: a counted repeat
    of a group multiplies the counts inside it. A sketch of the syntax is enough:
    escapes and character classes are skipped, groups nest."""
    inside = [1]  # per open group: the most copies of anything in it so far
    last, last_is_group = 1, False  # the atom a quantifier would apply to
    most = 1
    i, n = 0, len(pattern)
    while i < n:
        c = pattern[i]
        if c == "\\":
            i += 2
            last, last_is_group = 1, False
            continue
        if c == "[":  # a class: up to its closing "]" (a "]" first in it is literal)
            i += 2 if pattern[i + 1:i + 2] == "^" else 1
            i += 1 if pattern[i:i + 1] == "]" else 0
            while i < n and pattern[i] != "]":
                i += 2 if pattern[i] == "\\" else 1
            i += 1
            last, last_is_group = 1, False
            continue
        if c == "(":
            inside.append(1)
        elif c == ")" and len(inside) > 1:
            last, last_is_group = inside.pop(), True
            inside[-1] = max(inside[-1], last)
            i += 1
            continue
        elif c == "{" and (m := _COUNT.match(pattern, i)) and (m.group(1) or m.group(2)):
            count = max(int(m.group(1) or 0), int(m.group(2) or 0), 1)
            last *= count
            inside[-1] = max(inside[-1], last)
            if last_is_group:
                most = max(most, last)
            i = m.end()
            continue
        last, last_is_group = 1, False
        i += 1
    return most


def compile(pattern: str) -> regex.Pattern[str]:
    """The pattern compiled, or SSM's InvalidAllowedPatternException. A RecursionError
    is parentheses nested some 500 deep, which 1024 characters allow."""
    if _PYTHON_GROUP.search(pattern) or copies(pattern) > MAX_COPIES:
        raise _invalid()
    try:
        return regex.compile(pattern)
    except (regex.error, OverflowError, RecursionError, MemoryError):
        raise _invalid() from None


def fits(pattern: regex.Pattern[str], value: str) -> bool:
    """Whether the whole value matches; one that takes too long to decide counts as not
    validated against the pattern."""
    try:
        return pattern.fullmatch(value, timeout=MATCH_SECONDS) is not None
    except TimeoutError:
        return False
