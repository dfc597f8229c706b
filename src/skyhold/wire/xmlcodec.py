"""XML ⇄ Python values, driven by compiled shapes (query, ec2 and rest-xml).

Reading refuses DTDs outright: without a DOCTYPE no entity can be declared, so
entity-expansion bombs and external entities are impossible.
"""

from __future__ import annotations

import base64
import binascii
import re
import xml.etree.ElementTree as ET
from datetime import datetime
from typing import Any

from skyhold.wire import scalars
from skyhold.wire.problems import BadValue, Malformed, MissingMember
from skyhold.wire.shapes import Node


def parse_document(body: bytes) -> ET.Element:
    try:
        text = body.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise Malformed("body is not UTF-8") from exc
    if "<!DOCTYPE" in text or "<!ENTITY" in text:
        raise Malformed("DTDs are not allowed")
    try:
        return ET.fromstring(text)
    except ET.ParseError as exc:
        raise Malformed(str(exc)) from exc


def local(tag: str) -> str:
    return tag[tag.index("}") + 1:] if tag[:1] == "{" else tag


def decode(node: Node, el: ET.Element, path: str) -> Any:
    t = node.type
    if t == "structure":
        return _decode_structure(node, el, path)
    if t == "list":
        item = node.member
        assert item is not None
        return [decode(item, c, f"{path}.{i}") for i, c in enumerate(el, 1)
                if local(c.tag) == node.xml_list_name]
    if t == "map":
        out: dict[str, Any] = {}
        for entry in el:
            _decode_entry(node, entry, out, path)
        return out
    return decode_scalar(node, el.text or "", path)


def _decode_structure(node: Node, el: ET.Element, path: str) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name, m in node.xml_attrs:
        v = el.attrib.get(m.xml_attr_key)
        if v is not None:
            out[name] = v
    keys = node.xml_keys
    for child in el:
        hit = keys.get(local(child.tag))
        if hit is None:
            continue  # members newer than our model are ignored, as AWS's SDKs do
        name, m = hit
        sub = f"{path}.{name}" if path else name
        if m.flattened and m.type == "list":
            assert m.member is not None
            items = out.setdefault(name, [])
            items.append(decode(m.member, child, f"{sub}.{len(items) + 1}"))
        elif m.flattened and m.type == "map":
            _decode_entry(m, child, out.setdefault(name, {}), sub)
        else:
            out[name] = decode(m, child, sub)
    for name in node.required:
        if name not in out:
            raise MissingMember(f"{path}.{name}" if path else name, node.members[name].wire_name)
    return out


def _decode_entry(node: Node, entry: ET.Element, out: dict[str, Any], path: str) -> None:
    assert node.key is not None and node.value is not None
    k = v = None
    for c in entry:
        tag = local(c.tag)
        if tag == node.map_key_name:
            k = decode(node.key, c, path)
        elif tag == node.map_value_name:
            v = c
    if k is None or v is None:
        raise Malformed(f"{path}: map entry without key or value")
    out[k] = decode(node.value, v, f"{path}.{k}")


def decode_scalar(node: Node, text: str, path: str) -> Any:
    """A scalar from its text form (XML text, query-string and header values)."""
    t = node.type
    if t == "string":
        return text
    try:
        if t in ("integer", "long"):
            return int(text)
        if t == "boolean":
            return scalars.parse_bool(text)
        if t in ("float", "double"):
            return scalars.parse_float(text)
        if t == "timestamp":
            return scalars.parse_timestamp(text)
        if t == "blob":
            return base64.b64decode(text, validate=True)
    except (ValueError, OverflowError, OSError, binascii.Error) as exc:  # OSError: an epoch past time_t
        raise BadValue(path, text, t) from exc
    return text


# ---- writing ----------------------------------------------------------------------

# Characters XML 1.0 cannot carry at all, not even as a character reference. A value
# that holds one (echoed input, mostly) has it replaced by U+FFFD, so that the answer
# stays a document every client can parse.
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


# `in` + `replace` per character: most values need no escaping, and a substring
# test is a memchr, where str.translate looks every character up in a dict.
# isprintable() is true of plain text, which then skips the search for the rest.
def escape(text: str) -> str:
    if not text.isprintable() and _NOT_XML.search(text):
        text = _NOT_XML.sub("\ufffd", text)
    if "&" in text:
        text = text.replace("&", "&amp;")
    if "<" in text:
        text = text.replace("<", "&lt;")
    if ">" in text:
        text = text.replace(">", "&gt;")
    if "\r" in text:
        text = text.replace("\r", "&#13;")
    return text


def escape_attr(text: str) -> str:
    text = escape(text)
    return text.replace('"', "&quot;") if '"' in text else text


def ns_attr(node: Node) -> str:
    ns = node.xml_namespace
    if not ns:
        return ""
    if isinstance(ns, str):
        return f' xmlns="{ns}"'
    prefix = ns.get("prefix")
    return f' xmlns{":" + prefix if prefix else ""}="{ns["uri"]}"'


def encode(node: Node, value: Any, name: str, out: list[str], s3_time: bool = False) -> None:
    """Append `<name>value</name>` to out. `s3_time`: S3 always prints milliseconds."""
    t = node.type
    if t == "structure":
        out.append(f"<{name}{ns_attr(node)}")
        for mname, m in node.xml_attrs:
            v = value.get(mname)
            if v is not None:
                out.append(f' {m.wire_name}="{escape_attr(str(v))}"')
        out.append(">")
        encode_members(node, value, out, s3_time)
        out.append(f"</{name}>")
    elif t == "list":
        item = node.member
        assert item is not None
        if node.flattened:
            for v in value:
                encode(item, v, node.xml_list_name, out, s3_time)
        else:
            out.append(f"<{name}>")
            for v in value:
                encode(item, v, node.xml_list_name, out, s3_time)
            out.append(f"</{name}>")
    elif t == "map":
        assert node.key is not None and node.value is not None
        if not node.flattened:
            out.append(f"<{name}>")
        for k, v in value.items():
            out.append(f"<{name}>" if node.flattened else "<entry>")
            encode(node.key, k, node.map_key_name, out, s3_time)
            encode(node.value, v, node.map_value_name, out, s3_time)
            out.append(f"</{name}>" if node.flattened else "</entry>")
        if not node.flattened:
            out.append(f"</{name}>")
    else:
        out.append(f"<{name}>{escape(scalar_text(node, value, s3_time))}</{name}>")


def encode_members(node: Node, value: dict[str, Any], out: list[str], s3_time: bool = False,
                   only: tuple[str, ...] | None = None) -> None:
    if only is not None:
        for mname in only:
            v = value.get(mname)
            if v is None:
                continue
            m = node.members[mname]
            if not m.xml_attribute:
                encode(m, v, _element_name(m), out, s3_time)
        return
    plan = node.xml_plan
    if plan is None:
        plan = node.xml_plan = _plan(node)
    for mname, m, name, open_tag, close_tag in plan:
        v = value.get(mname)
        if v is None:
            continue
        if open_tag and type(v) is str:  # the common case, inlined
            out.append(f"{open_tag}{escape(v)}{close_tag}")
        else:
            encode(m, v, name, out, s3_time)


def _element_name(m: Node) -> str:
    return m.xml_list_name if (m.flattened and m.type == "list") else m.wire_name


def _plan(node: Node) -> tuple[tuple[str, Node, str, str, str], ...]:
    """The element members of a structure, in order, with string members' tags built."""
    plan = []
    for mname, m in node.members.items():
        if m.xml_attribute:
            continue
        name = _element_name(m)
        tags = (f"<{name}>", f"</{name}>") if m.type == "string" else ("", "")
        plan.append((mname, m, name, *tags))
    return tuple(plan)


def scalar_text(node: Node, value: Any, s3_time: bool = False) -> str:
    t = node.type
    if t == "string":
        return value if isinstance(value, str) else str(value)
    if t == "boolean":
        return "true" if value else "false"
    if t == "timestamp":
        if not isinstance(value, datetime):
            value = scalars.parse_timestamp(value)
        return scalars.format_timestamp(value, node.ts_format or "iso8601", s3_time)
    if t == "blob":
        raw = value.encode() if isinstance(value, str) else bytes(value)
        return base64.b64encode(raw).decode()
    if t in ("float", "double"):
        return scalars.format_float(value)
    return str(value)
