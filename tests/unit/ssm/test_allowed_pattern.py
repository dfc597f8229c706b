"""How many copies compiling an AllowedPattern makes: repeats of groups multiply,
escapes and character classes are not groups."""

from __future__ import annotations

import pytest

from skyhold.services.ssm.allowed_pattern import copies


@pytest.mark.parametrize(("pattern", "expected"), [
    ("(?:(?:a{1000}){1000}){10}", 10_000_000),
    ("(?:a{100}){100}", 10_000),
    ("([a-z]{2}){3}", 6),
    ("(a)(b){5}", 5),
    ("(a{2,}){3}", 6),         # an open range counts its least
    ("(a{,4}){3}", 12),
    ("a{200000}", 1),          # one atom repeated is not expanded copy by copy
    (r"\(a{9}\){9}", 1),       # escaped parentheses are no group
    ("[(]a{9}[)]{9}", 1),      # nor are parentheses in a class
    ("[]{]{1000}", 1),
    (r"\p{L}{5}", 1),
])
def test_copies(pattern: str, expected: int) -> None:
    assert copies(pattern) == expected
