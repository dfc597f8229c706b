"""EC2's `Filters` parameter: each filter names a field and lists values; a resource
matches when every filter has a value equal to one of the resource's values for that
field. Values may hold the wildcards `*` and `?` (as AWS allows)."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from skyhold.errors import AwsError
from skyhold.policy import wildcard

# filter name → the resource's values for it
Fields = dict[str, Callable[[dict[str, Any]], Iterable[Any]]]


def _tags(resource: dict[str, Any]) -> dict[str, str]:
    tags = resource.get("Tags") or {}
    return tags if isinstance(tags, dict) else {t["Key"]: t.get("Value", "") for t in tags}


def check(filters: list[dict[str, Any]] | None, fields: Fields) -> None:
    """An unknown filter name is AWS's InvalidParameterValue, whether or not any
    resource is there to be filtered."""
    for f in filters or []:
        name = f.get("Name") or ""
        if not (name.startswith("tag:") or name in ("tag-key", "tag-value") or name in fields):
            raise AwsError("InvalidParameterValue", f"The filter '{name}' is invalid")


def select(resources: Iterable[dict[str, Any]], filters: list[dict[str, Any]] | None,
           fields: Fields) -> list[dict[str, Any]]:
    """The resources that pass every filter (names checked first)."""
    check(filters, fields)
    return [r for r in resources if matches(r, filters, fields)]


def matches(resource: dict[str, Any], filters: list[dict[str, Any]] | None, fields: Fields) -> bool:
    """True when the resource passes every filter; an unknown filter name is AWS's
    InvalidParameterValue. `tag:<key>` and `tag-key`/`tag-value` work for any
    resource with `Tags`."""
    for f in filters or []:
        name, wanted = f.get("Name") or "", f.get("Values") or []
        if name.startswith("tag:"):
            value = _tags(resource).get(name[4:])
            got: list[str] = [] if value is None else [value]
        elif name == "tag-key":
            got = list(_tags(resource))
        elif name == "tag-value":
            got = list(_tags(resource).values())
        elif name in fields:
            got = ["true" if v is True else "false" if v is False else str(v)
                   for v in fields[name](resource) if v is not None]
        else:
            raise AwsError("InvalidParameterValue", f"The filter '{name}' is invalid")
        if not any(wildcard.glob(w)(g) for w in wanted for g in got):  # only * and ? are wildcards
            return False
    return True


def one(value: Any) -> list[Any]:
    return [value]
