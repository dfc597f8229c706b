"""Pagination tokens: opaque to clients, each names where the next page starts.

A token is the URL-safe base64 of a position (a sort key), so a page boundary
survives items being added or removed between calls. A token Skyhold did not issue
reads as None, and the caller answers its service's error for it.
"""

from __future__ import annotations

import base64
from collections.abc import Iterator

from skyhold.store.base import Record, Store


def token(position: str) -> str:
    return base64.urlsafe_b64encode(position.encode()).decode()


def position(token: str) -> str | None:
    try:
        return base64.urlsafe_b64decode(token.encode("ascii")).decode()
    except (ValueError, UnicodeError):  # not base64 (binascii.Error), not ASCII, not UTF-8
        return None


def scan_from(store: Store, kind: str, prefix: str, start_after: str = "", *, batch: int = 100,
              most: int = 2000) -> Iterator[Record]:
    """The records of `prefix` after `start_after`, in key order, read `batch` at a time
    (then in growing batches of at most `most`): a caller that stops after one page's
    worth reads about that many, not every record left (a page of 10 from 10,000
    parameters read all 10,000)."""
    while True:
        rows = store.scan(kind, prefix, start_after=start_after, limit=batch)
        yield from rows
        if len(rows) < batch:
            return
        start_after = rows[-1].key
        batch = min(batch * 4, most)  # a filter that keeps few reads on in bigger steps
