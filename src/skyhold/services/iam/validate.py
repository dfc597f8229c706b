"""Input validation from botocore's IAM model, with IAM's own message texts.

IAM checks every request against its model's constraints (required, min/max
length, value range, pattern, enum) before doing anything, and reports them as
ValidationError. The checks are compiled once per operation from the model.

Message forms (as IAM sends them):
  1 validation error detected: Value at 'userName' failed to satisfy constraint: Member must
    not be null
  1 validation error detected: Value at 'path' failed to satisfy constraint: Member must have
    length less than or equal to 512
  2 validation errors detected: <first>; <second>
and, for names, paths and policy documents, IAM's friendlier sentences:
  The specified value for userName is invalid. It must contain only alphanumeric characters
    and/or the following: +=,.@_-
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable
from functools import cache
from typing import Any

from botocore.model import Shape

from skyhold.errors import validation_failed
from skyhold.services.iam.errors import validation
from skyhold.wire.models import service_model

# Ids such as serviceSpecificCredentialId ([\w]+) get the plain pattern sentence, as AWS
# answers them: "... Member must satisfy regular expression pattern: [\w]+".
_NAME_PATTERNS = {r"[\w+=,.@-]+", r"[\w+=/:,.@-]+", r"[\w-]+", r"[\w._-]+"}
_PATH_PATTERNS = {
    r"(\u002F)|(\u002F[\u0021-\u007E]+\u002F)",
    r"\u002F[\u0021-\u007F]*",
    r"((/[A-Za-z0-9\.,\+@=_-]+)*)/",
}
_DOCUMENT_PATTERN = r"[\u0009\u000A\u000D\u0020-\u00FF]+"

def _camel(name: str) -> str:
    return name[0].lower() + name[1:]


def _matcher(pattern: str) -> Callable[[str], bool]:
    if r"\p{" in pattern:
        return _unicode_class_matcher(pattern)
    # Java's \w is ASCII-only; Python's is not unless told.
    rx = re.compile(pattern, re.ASCII)
    return lambda value: rx.fullmatch(value) is not None


def _unicode_class_matcher(pattern: str) -> Callable[[str], bool]:
    """`[\\p{L}\\p{Z}\\p{N}_.:/=+\\-@]+`-style classes (tag keys/values), which
    Python's re cannot express."""
    m = re.fullmatch(r"\[(.*)\]([*+])", pattern)
    if m is None:
        raise ValueError(f"unsupported pattern {pattern!r}")
    body, quant = m.groups()
    categories = set(re.findall(r"\\p\{(\w)\}", body))
    literals = set(re.sub(r"\\p\{\w\}", "", body).replace("\\", ""))
    allow_empty = quant == "*"

    def ok(value: str) -> bool:
        if not value:
            return allow_empty
        return all(c in literals or unicodedata.category(c)[0] in categories for c in value)

    return ok


def _friendly(field: str, pattern: str) -> str | None:
    if pattern in _NAME_PATTERNS:
        return (f"The specified value for {field} is invalid. It must contain only alphanumeric "
                "characters and/or the following: +=,.@_-")
    if pattern in _PATH_PATTERNS:
        return (f"The specified value for {field} is invalid. It must begin and end with / and "
                "contain only alphanumeric characters and/or / characters.")
    if pattern == _DOCUMENT_PATTERN:
        return f"The specified value for {field} is invalid. It must contain only printable ASCII characters."
    return None


class _Friendly(Exception):
    """A constraint IAM reports with its own sentence, on its own."""


def _scalar_problems(shape: Shape, value: Any) -> list[str]:
    meta = shape.metadata
    out: list[str] = []
    if shape.type_name == "string":
        if "min" in meta and len(value) < meta["min"]:
            out.append(f"Member must have length greater than or equal to {meta['min']}")
        if "max" in meta and len(value) > meta["max"]:
            out.append(f"Member must have length less than or equal to {meta['max']}")
        if shape.enum and value not in shape.enum:
            # IAM names no values, unlike KMS or SSM ("Value at 'status' ... enum value set").
            out.append("Member must satisfy enum value set")
    elif shape.type_name in ("integer", "long"):
        if "min" in meta and value < meta["min"]:
            out.append(f"Member must have value greater than or equal to {meta['min']}")
        if "max" in meta and value > meta["max"]:
            out.append(f"Member must have value less than or equal to {meta['max']}")
    return out


def _pattern_ok(shape: Shape, value: Any) -> bool:
    pattern = shape.metadata.get("pattern")
    return not (pattern and shape.type_name == "string" and not _matcher_cached(pattern)(value))


@cache
def _matcher_cached(pattern: str) -> Callable[[str], bool]:
    return _matcher(pattern)


def _check_value(shape: Shape, value: Any, field: str, errors: list[str]) -> None:
    prefix = f"Value at '{field}' failed to satisfy constraint: "
    if shape.type_name == "structure":
        for name, member in shape.members.items():
            sub = f"{field}.{_camel(name)}" if field else _camel(name)
            child = value.get(name)
            if child is None:
                if name in shape.required_members:
                    errors.append(f"Value at '{sub}' failed to satisfy constraint: Member must not be null")
                continue
            _check_value(member, child, sub, errors)
        return
    if shape.type_name == "list":
        meta = shape.metadata
        if "min" in meta and len(value) < meta["min"]:
            errors.append(prefix + f"Member must have length greater than or equal to {meta['min']}")
        if "max" in meta and len(value) > meta["max"]:
            errors.append(prefix + f"Member must have length less than or equal to {meta['max']}")
        member = shape.member
        if member.type_name == "structure":
            for i, item in enumerate(value, 1):
                _check_value(member, item, f"{field}.{i}.member", errors)
        else:
            # IAM reports a bad member of a list of strings as one summary line.
            if any(item is None or _scalar_problems(member, item) or not _pattern_ok(member, item) for item in value):
                rules = []
                if "max" in member.metadata:
                    rules.append(f"Member must have length less than or equal to {member.metadata['max']}")
                if "min" in member.metadata:
                    rules.append(f"Member must have length greater than or equal to {member.metadata['min']}")
                if "pattern" in member.metadata:
                    rules.append(f"Member must satisfy regular expression pattern: {member.metadata['pattern']}")
                rules.append("Member must not be null")
                errors.append(prefix + f"Member must satisfy constraint: [{', '.join(rules)}]")
        return
    problems = _scalar_problems(shape, value)
    if problems:
        errors.extend(prefix + p for p in problems)
        return
    if not _pattern_ok(shape, value):
        pattern = shape.metadata["pattern"]
        friendly = _friendly(field, pattern)
        if friendly is not None:
            raise _Friendly(friendly)
        errors.append(prefix + f"Member must satisfy regular expression pattern: {pattern}")


@cache
def _input_shape(operation: str) -> Shape | None:
    return service_model("iam").operation_model(operation).input_shape


def check(operation: str, params: dict[str, Any]) -> None:
    """Raise IAM's ValidationError when params break the model's constraints."""
    shape = _input_shape(operation)
    if shape is None:
        return
    errors: list[str] = []
    try:
        _check_value(shape, params, "", errors)
    except _Friendly as friendly:
        raise validation(str(friendly)) from None
    if errors:
        raise validation_failed(errors, "ValidationError")
