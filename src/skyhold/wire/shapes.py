"""A lean, precompiled mirror of botocore shapes for the hot path.

botocore's `Shape` objects resolve traits through dict lookups and cached
properties on every access; the codecs walk shapes for every request, so each
shape (as referenced by a member, whose traits botocore merges in) is compiled
once into a slotted `Node` holding exactly what the codecs ask for.
"""

from __future__ import annotations

from typing import Any

from botocore.model import Shape

# Namespace prefixes the models use on XML attributes (S3 Grantee's xsi:type).
XML_PREFIXES = {"xsi": "http://www.w3.org/2001/XMLSchema-instance"}

# (structure, member) the models call required that AWS accepts absent: S3 takes a
# <Tagging> without <TagSet> as an empty tag set (recorded AWS answers).
_NOT_REQUIRED = frozenset({("Tagging", "TagSet")})


class Node:
    __slots__ = (
        "type", "shape_name", "name", "wire_name", "ec2_name", "location", "flattened",
        "ts_format", "xml_attribute", "xml_attr_key", "xml_namespace", "jsonvalue",
        "document", "streaming", "event_stream", "members", "required", "member",
        "key", "value", "payload", "json_keys", "xml_keys", "xml_attrs", "xml_list_name",
        "map_key_name", "map_value_name", "xml_plan",
    )

    type: str
    shape_name: str
    # The member's own name (for structure members), else the shape name.
    name: str
    # The name on the wire: locationName when set, else the member name.
    wire_name: str
    # EC2's query name: queryName, else the capitalised locationName, else the name.
    ec2_name: str
    location: str | None
    flattened: bool
    ts_format: str | None
    xml_attribute: bool
    # ElementTree's key for an attribute member ("{uri}local" when prefixed).
    xml_attr_key: str
    xml_namespace: Any
    jsonvalue: bool
    document: bool
    streaming: bool
    event_stream: bool
    members: dict[str, Node]
    required: tuple[str, ...]
    member: Node | None
    key: Node | None
    value: Node | None
    payload: str | None
    # Structure only: wire key → (member name, node) for JSON bodies and XML children.
    json_keys: dict[str, tuple[str, Node]]
    xml_keys: dict[str, tuple[str, Node]]
    xml_attrs: tuple[tuple[str, Node], ...]
    # Lists: the element name of each item (flattened or not), as botocore reads it.
    xml_list_name: str
    # Maps: the element/field names of each entry's key and value.
    map_key_name: str
    map_value_name: str
    # xmlcodec's precomputed member order and tags, built on first use.
    xml_plan: Any


# Keyed by what makes a reference distinct: the service (botocore's resolver), the
# shape, the member name and the traits the member merged in. botocore builds fresh
# Shape objects on each traversal, so object identity would never end a recursion.
_cache: dict[tuple[int, str, str, str], Node] = {}


def compile_shape(shape: Shape | None, member_name: str | None = None) -> Node | None:
    """Compile `shape` (as referenced under `member_name`); cached and cycle-safe."""
    if shape is None:
        return None
    key = (id(getattr(shape, "_shape_resolver", None)), shape.name, member_name or "", repr(shape.serialization))
    node = _cache.get(key)
    if node is not None:
        return node
    node = Node()
    _cache[key] = node  # before the children: recursive shapes point back at it
    # Keep the resolver alive so that its id() stays unique for the cache's life.
    _keepalive.append(getattr(shape, "_shape_resolver", None))
    ser = shape.serialization
    meta = shape.metadata
    node.type = shape.type_name
    node.shape_name = shape.name
    node.name = member_name or shape.name
    node.wire_name = ser.get("name", node.name)
    if "queryName" in ser:
        node.ec2_name = ser["queryName"]
    elif "name" in ser:
        node.ec2_name = ser["name"][0].upper() + ser["name"][1:]
    else:
        node.ec2_name = node.name
    node.location = ser.get("location")
    node.flattened = bool(ser.get("flattened"))
    node.ts_format = ser.get("timestampFormat")
    node.xml_attribute = bool(ser.get("xmlAttribute"))
    node.xml_attr_key = node.wire_name
    if node.xml_attribute and ":" in node.wire_name:
        prefix, local = node.wire_name.split(":", 1)
        if prefix in XML_PREFIXES:
            node.xml_attr_key = f"{{{XML_PREFIXES[prefix]}}}{local}"
    node.xml_namespace = ser.get("xmlNamespace")
    node.jsonvalue = bool(ser.get("jsonvalue"))
    node.document = bool(meta.get("document"))
    node.streaming = bool(ser.get("streaming") or meta.get("streaming"))
    node.event_stream = bool(ser.get("eventstream") or meta.get("eventstream"))
    node.members = {}
    node.required = ()
    node.member = node.key = node.value = None
    node.payload = ser.get("payload")
    node.json_keys = {}
    node.xml_keys = {}
    node.xml_attrs = ()
    node.xml_list_name = ""
    node.map_key_name = "key"
    node.map_value_name = "value"
    node.xml_plan = None
    if node.type == "structure":
        node.required = tuple(r for r in meta.get("required", ()) if (shape.name, r) not in _NOT_REQUIRED)
        for name, mshape in shape.members.items():
            m = compile_shape(mshape, name)
            assert m is not None
            node.members[name] = m
            node.json_keys[m.wire_name] = (name, m)
            if m.xml_attribute:
                node.xml_attrs += ((name, m),)
                continue
            node.xml_keys[m.wire_name] = (name, m)
            if m.type == "list" and m.flattened:
                node.xml_keys.setdefault(m.xml_list_name, (name, m))
    elif node.type == "list":
        node.member = compile_shape(shape.member, None)
        assert node.member is not None
        item_name = shape.member.serialization.get("name")
        if node.flattened:
            node.xml_list_name = item_name or node.wire_name
        else:
            node.xml_list_name = item_name or "member"
    elif node.type == "map":
        node.key = compile_shape(shape.key, None)
        node.value = compile_shape(shape.value, None)
        node.map_key_name = shape.key.serialization.get("name", "key")
        node.map_value_name = shape.value.serialization.get("name", "value")
    return node


_keepalive: list[object] = []


def body_view(node: Node) -> Node:
    """The same structure restricted to its body members (no uri/query/header ones),
    for REST inputs and outputs whose body is the structure itself."""
    view = Node()
    for slot in Node.__slots__:
        setattr(view, slot, getattr(node, slot))
    view.members = {n: m for n, m in node.members.items() if not m.location}
    view.required = tuple(n for n in node.required if n in view.members)
    view.json_keys = {k: v for k, v in node.json_keys.items() if v[0] in view.members}
    view.xml_keys = {k: v for k, v in node.xml_keys.items() if v[0] in view.members}
    view.xml_attrs = tuple(a for a in node.xml_attrs if a[0] in view.members)
    view.xml_plan = None  # the full structure's plan names members the view drops
    return view
