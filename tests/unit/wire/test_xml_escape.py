"""XML text escaping: the same output as the XML standard library's escaper."""

from __future__ import annotations

from xml.sax.saxutils import escape as sax_escape

from hypothesis import given
from hypothesis import strategies as st

from skyhold.wire.xmlcodec import escape, escape_attr


@given(st.text())
def test_escape_matches_saxutils(text: str) -> None:
    assert escape(text) == sax_escape(text, {"\r": "&#13;"})


@given(st.text())
def test_escape_attr_matches_saxutils(text: str) -> None:
    assert escape_attr(text) == sax_escape(text, {"\r": "&#13;", '"': "&quot;"})


def test_escape_examples() -> None:
    assert escape("a<b>&c\r") == "a&lt;b&gt;&amp;c&#13;"
    assert escape("&lt;") == "&amp;lt;"  # escaped once, not twice, and not skipped
