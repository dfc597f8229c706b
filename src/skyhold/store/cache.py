"""A read-through memo for the request path, dropped whenever the store changes.

Authentication and authorization read the same few records (access key, user,
groups, policies) on every request; between writes their answers cannot change.
Any commit — ours, another thread's, another process's (the `skyhold` CLI) — bumps
the store's generation and empties the memo, so an inactive key stops at once; a memo
of records other than S3's objects may ignore the commits that wrote only those.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable
from typing import Any, TypeVar

from skyhold.store.base import Store

T = TypeVar("T")

_MAX_ENTRIES = 10_000


class GenerationCache:
    def __init__(self, store: Store, *, ignore_bulk: bool = False) -> None:
        """`ignore_bulk`: kept across commits that wrote only BULK_KINDS (S3 objects):
        for memos of anything else, which such writes cannot change."""
        self._store = store
        self._ignore_bulk = ignore_bulk
        self._generation: object = None
        self._memo: dict[Hashable, Any] = {}

    def get(self, key: Hashable, compute: Callable[[], T]) -> T:
        generation = self._store.generation(ignore_bulk=self._ignore_bulk)
        if generation != self._generation:
            self._memo.clear()
            self._generation = generation
        try:
            return self._memo[key]
        except KeyError:
            pass
        value = compute()
        if len(self._memo) >= _MAX_ENTRIES:
            self._memo.clear()
        self._memo[key] = value
        return value
