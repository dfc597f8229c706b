"""Tags on IAM resources: at most 50, keys case-insensitive (the newest casing
wins), listed sorted by key. Tag/Untag/List handlers for every taggable kind are
made here from one description of where the resource lives."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from skyhold.services.iam import common, errors

if TYPE_CHECKING:
    from skyhold.pipeline import Call

MAX_TAGS = 50

# (call, params) → (record value, write-back function taking the new value)
Locate = Callable[["Call", dict[str, Any]], tuple[dict[str, Any], Callable[[dict[str, Any]], None]]]


def check_new(tags: list[dict[str, str]]) -> None:
    seen: set[str] = set()
    for tag in tags:
        k = tag["Key"].lower()
        if k in seen:
            raise errors.invalid_input("Duplicate tag keys found. Please note that Tag keys are case insensitive.")
        seen.add(k)


def merged(existing: list[dict[str, str]], new: list[dict[str, str]]) -> list[dict[str, str]]:
    check_new(new)
    by_key = {t["Key"].lower(): t for t in existing}
    for t in new:
        by_key[t["Key"].lower()] = {"Key": t["Key"], "Value": t["Value"]}
    if len(by_key) > MAX_TAGS:
        raise errors.limit_exceeded("The number of tags has reached the maximum limit.")
    return sorted(by_key.values(), key=lambda t: t["Key"])


def removed(existing: list[dict[str, str]], keys: list[str]) -> list[dict[str, str]]:
    drop = {k.lower() for k in keys}
    return [t for t in existing if t["Key"].lower() not in drop]


def initial(tags: list[dict[str, str]] | None) -> list[dict[str, str]]:
    return merged([], tags or [])


def handlers(locate: Locate) -> tuple[Callable[..., dict], Callable[..., dict], Callable[..., dict]]:
    """(Tag…, Untag…, List…Tags) handlers for one kind of resource."""

    def tag(call: Call, params: dict[str, Any]) -> dict[str, Any]:
        check_new(params["Tags"])
        value, save = locate(call, params)
        value["Tags"] = merged(value.get("Tags", []), params["Tags"])
        save(value)
        return {}

    def untag(call: Call, params: dict[str, Any]) -> dict[str, Any]:
        value, save = locate(call, params)
        value["Tags"] = removed(value.get("Tags", []), params["TagKeys"])
        save(value)
        return {}

    def list_tags(call: Call, params: dict[str, Any]) -> dict[str, Any]:
        value, _ = locate(call, params)
        page, more = common.paginate(value.get("Tags", []), params, key=lambda t: t["Key"])
        return {"Tags": page, **more}

    return tag, untag, list_tags
