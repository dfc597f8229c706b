"""Helpers every IAM handler uses: time, lookups that raise IAM's NoSuchEntity,
document encoding, pagination, and "the caller's own user"."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any, TypeVar
from urllib.parse import quote

from skyhold import clock, paging
from skyhold import principal as p
from skyhold.services.iam import errors, records
from skyhold.store.base import Store

if TYPE_CHECKING:
    from skyhold.pipeline import Call

T = TypeVar("T")

DEFAULT_MAX_ITEMS = 100


def now_text() -> str:
    return clock.now_iso8601()


def dt(text: str | None) -> datetime | None:
    """Stored ISO text → the datetime a handler result carries."""
    if not text:
        return None
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def encode_document(text: str) -> str:
    # IAM returns policy documents percent-encoded (RFC 3986); SDKs decode them.
    return quote(text, safe="-_.~")


def account_of(call: Call) -> str:
    return call.principal.account


def caller_user_name(call: Call, params: dict[str, Any]) -> str:
    """UserName if given, else the calling IAM user's own name (as IAM does for
    GetUser, CreateAccessKey, ListAccessKeys, ChangePassword, …)."""
    name = params.get("UserName")
    if name is not None:
        return name
    who = call.principal
    if who.type != p.IAM_USER:
        raise errors.not_user_credentials()
    return who.name


def require(store: Store, kind: str, account: str, name: str, what: str) -> tuple[dict[str, Any], int]:
    """(record value, version), or IAM's "The <what> with name X cannot be found."."""
    rec = store.get(kind, records.name_key(account, name))
    if rec is None:
        raise errors.no_such_entity(f"The {what} with name {name} cannot be found.")
    return rec.value, rec.version


def require_user(store: Store, account: str, name: str) -> tuple[dict[str, Any], int]:
    return require(store, records.USER, account, name, "user")


def require_group(store: Store, account: str, name: str) -> tuple[dict[str, Any], int]:
    return require(store, records.GROUP, account, name, "group")


def require_role(store: Store, account: str, name: str) -> tuple[dict[str, Any], int]:
    return require(store, records.ROLE, account, name, "role")


def put(store: Store, kind: str, account: str, value: dict[str, Any], name: str, version: int) -> None:
    store.put(kind, records.name_key(account, name), value, expect_version=version)


def paginate(items: Sequence[T], params: dict[str, Any], key: Callable[[T], str]) -> tuple[list[T], dict[str, Any]]:
    """One page of `items` (already in IAM's order) and its IsTruncated/Marker.

    The Marker is opaque to clients; it encodes the sort key of the next item, so a
    page boundary survives items being added or removed between calls.
    """
    max_items = params.get("MaxItems") or DEFAULT_MAX_ITEMS
    start = 0
    marker = params.get("Marker")
    if marker:
        after = paging.position(marker)
        if after is None:
            raise errors.invalid_input("Invalid Marker.")
        while start < len(items) and key(items[start]) < after:
            start += 1
    page = list(items[start : start + max_items])
    rest = start + max_items
    if rest < len(items):
        return page, {"IsTruncated": True, "Marker": paging.token(key(items[rest]))}
    return page, {"IsTruncated": False}


def path_matches(item: dict[str, Any], params: dict[str, Any]) -> bool:
    prefix = params.get("PathPrefix") or "/"
    return item.get("Path", "/").startswith(prefix)


def boundary_view(value: dict[str, Any]) -> dict[str, Any]:
    boundary = value.get("PermissionsBoundary")
    if not boundary:
        return {}
    return {"PermissionsBoundary": {"PermissionsBoundaryType": "Policy", "PermissionsBoundaryArn": boundary}}
