"""Protocol-neutral complaints about a request, raised by the codecs.

The codecs do not know which AWS error a protocol uses for bad input (S3 says
MalformedXML, JSON services SerializationException, IAM ValidationError ...), so
they raise these and each protocol translates them into its own `AwsError`.
"""

from __future__ import annotations


class WireProblem(Exception):
    pass


class Malformed(WireProblem):
    """The body (or query string) cannot be read at all."""


class BadValue(WireProblem):
    """A member's value has the wrong type or form."""

    def __init__(self, path: str, value: object, expected: str) -> None:
        super().__init__(f"{path}: {value!r} is not a valid {expected}")
        self.path = path
        self.value = value
        self.expected = expected


class MissingMember(WireProblem):
    """A required member is absent. `path` uses member names, `wire_name` the wire's."""

    def __init__(self, path: str, wire_name: str) -> None:
        super().__init__(f"missing required member {path}")
        self.path = path
        self.wire_name = wire_name


def camel_path(path: str) -> str:
    """AWS validation messages name members lowerCamel: 'Policy.Statement' → 'policy.statement'."""
    out = []
    for part in path.split("."):
        out.append(part if part.isdigit() else part[:1].lower() + part[1:])
    return ".".join(out)
