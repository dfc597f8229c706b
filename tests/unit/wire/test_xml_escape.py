"""XML text escaping: the XML standard library's escaper, and always a parseable document."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from xml.sax.saxutils import escape as sax_escape

from hypothesis import given
from hypothesis import strategies as st

from skyhold.wire.xmlcodec import escape, escape_attr

# What XML 1.0 can carry (its Char production), here as what it cannot.
NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")
xml_text = st.text().filter(lambda t: not NOT_XML.search(t))


@given(xml_text)
def test_escape_matches_saxutils(text: str) -> None:
    assert escape(text) == sax_escape(text, {"\r": "&#13;"})


@given(xml_text)
def test_escape_attr_matches_saxutils(text: str) -> None:
    assert escape_attr(text) == sax_escape(text, {"\r": "&#13;", '"': "&quot;"})


@given(st.text(st.characters(codec=None, exclude_categories=())))
def test_any_text_makes_a_document_that_parses(text: str) -> None:
    doc = f'<a b="{escape_attr(text)}">{escape(text)}</a>'.encode("utf-8", "surrogatepass")
    parsed = ET.fromstring(doc)
    assert (parsed.text or "") == NOT_XML.sub("\ufffd", text)


def test_escape_examples() -> None:
    assert escape("a<b>&c\r") == "a&lt;b&gt;&amp;c&#13;"
    assert escape("&lt;") == "&amp;lt;"  # escaped once, not twice, and not skipped
    assert escape("id \x00\x1f\ud800 end\n") == "id \ufffd\ufffd\ufffd end\n"  # not XML: replaced
    assert escape("tab\tand é 中") == "tab\tand é 中"  # XML carries these as they are
