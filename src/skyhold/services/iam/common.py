"""Helpers every IAM handler uses: time, lookups that raise IAM's NoSuchEntity,
document encoding, pagination, and "the caller's own user"."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
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


# A listing's source: its rows after a key (all of them for ""), in key order, as
# (key, item). Several in a row make one listing (GetAccountAuthorizationDetails').
Rows = Callable[[str], Iterable[tuple[str, Any]]]


def paginate_sources(sources: Sequence[tuple[str, Rows]], params: dict[str, Any]) -> tuple[list[tuple[str, Any]],
                                                                                           dict[str, Any]]:
    """One page of (label, item) from `sources`, one after the other, and its
    IsTruncated/Marker. Reads from the Marker on, about a page's worth (with
    `kind_rows`): a listing of 5,000 users read all 5,000 a page. The Marker names the
    page's last item (its source and key), so a boundary survives changes between calls."""
    max_items = page_size(params)
    first, after = 0, ""
    if params.get("Marker"):
        position = paging.position(params["Marker"])
        number, sep, after = (position or "").partition("\x00")
        if not sep or not number.isdigit():
            raise errors.invalid_input("Invalid Marker.")
        first = int(number)
    page: list[tuple[str, Any]] = []
    last = ""
    for index in range(first, len(sources)):
        label, rows = sources[index]
        for key, item in rows(after if index == first else ""):
            if len(page) == max_items:
                return page, {"IsTruncated": True, "Marker": paging.token(last)}
            page.append((label, item))
            last = f"{index}\x00{key}"
    return page, {"IsTruncated": False}


def page_size(params: dict[str, Any]) -> int:
    return params.get("MaxItems") or DEFAULT_MAX_ITEMS


def kind_rows(store: Store, kind: str, account: str, keep: Callable[[dict[str, Any]], bool],
              params: dict[str, Any]) -> Rows:
    """A source of an account's records of `kind` that `keep` keeps, by (lower-cased)
    name, read a page's worth (`params`' MaxItems) at a time."""
    prefix = records.account_prefix(account)

    def rows(after: str) -> Iterator[tuple[str, dict[str, Any]]]:
        for rec in paging.scan_from(store, kind, prefix, prefix + after if after else "",
                                    batch=page_size(params) + 1):
            if keep(rec.value):
                yield rec.key[len(prefix):], rec.value

    return rows


def paginate_kind(store: Store, kind: str, account: str, params: dict[str, Any]) -> tuple[list[dict[str, Any]],
                                                                                      dict[str, Any]]:
    """One page of an account's records of `kind` under PathPrefix, in IAM's order (by
    name, case-insensitively: the key's order), and its IsTruncated/Marker."""
    page, more = paginate_sources([("", kind_rows(store, kind, account, lambda v: path_matches(v, params), params))],
                                  params)
    return [item for _, item in page], more


def path_matches(item: dict[str, Any], params: dict[str, Any]) -> bool:
    prefix = params.get("PathPrefix") or "/"
    return item.get("Path", "/").startswith(prefix)


def boundary_view(value: dict[str, Any]) -> dict[str, Any]:
    boundary = value.get("PermissionsBoundary")
    if not boundary:
        return {}
    return {"PermissionsBoundary": {"PermissionsBoundaryType": "Policy", "PermissionsBoundaryArn": boundary}}
