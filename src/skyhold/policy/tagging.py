"""The condition keys a request that sets or removes tags supplies (IAM User Guide,
"Controlling access during AWS requests"): aws:RequestTag/<key> for each tag it sets,
aws:TagKeys for the keys it sets, or else for the keys it removes. Services spell
their tags differently (Key/Value, TagKey/TagValue): they hand over pairs."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any


def request_tags(tags: Iterable[tuple[str, str]] = (), removed: Iterable[str] = (), *,
                 values: bool = True) -> dict[str, Any]:
    """`values=False`: aws:TagKeys only (an action whose reference lists no RequestTag)."""
    pairs = list(tags)
    ctx: dict[str, Any] = {f"aws:RequestTag/{key}": value for key, value in pairs} if values else {}
    keys = [key for key, _ in pairs] or list(removed)
    if keys:
        ctx["aws:TagKeys"] = keys
    return ctx


def pairs(tags: Iterable[dict[str, Any]] | None, key: str = "Key", value: str = "Value") -> list[tuple[str, str]]:
    """(key, value) of tags as most AWS APIs spell them ([{"Key": …, "Value": …}])."""
    return [(t[key], t.get(value, "")) for t in tags or ()]
