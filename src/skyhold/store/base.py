"""The store's contract: typed records with versions, ordered scans, transactions.

SQLite implements it today (`sqlite.py`); a PostgreSQL backend can implement the
same few methods for a shared server.
"""

from __future__ import annotations

from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import Any, Protocol


@dataclass(frozen=True, slots=True)
class Record:
    kind: str
    key: str
    version: int
    value: dict[str, Any]


class ConflictError(Exception):
    """Optimistic concurrency failed: the record changed, exists, or is gone."""


# Kinds written so often (S3's objects, versions, uploads and parts: a PUT writes
# them) that the caches of everything else should outlive their writes; their own
# readers watch every commit. The service that owns them adds them here.
BULK_KINDS: set[str] = set()


class Store(Protocol):
    grouped_sync: bool  # commits are made durable by `sync_since`, not by each commit

    def get(self, kind: str, key: str) -> Record | None: ...

    def put(self, kind: str, key: str, value: dict[str, Any], *, expect_version: int | None = None) -> Record:
        """Upsert. expect_version None: unconditional; 0: must not exist; N: must be at N."""
        ...

    def delete(self, kind: str, key: str, *, expect_version: int | None = None) -> bool: ...

    def scan(
        self,
        kind: str,
        prefix: str = "",
        *,
        start_after: str = "",
        before: str = "",
        limit: int | None = None,
        reverse: bool = False,
    ) -> list[Record]:
        """Records of a kind in byte-wise (UTF-8) key order (descending with reverse),
        keys strictly between `start_after` and `before` when given."""
        ...

    def count(self, kind: str, prefix: str = "") -> int: ...

    def append_json(self, rows: list[tuple[str, str, str]]) -> None:
        """Add many (kind, key, value as JSON text) records at once, as version 1; a
        key already present is left as it is, so replaying an append is harmless
        (the audit trail indexes its journal this way)."""
        ...

    def transaction(self) -> AbstractContextManager[None]: ...

    def generation(self, *, ignore_bulk: bool = False) -> object:
        """A value that changes whenever any write has been committed (by anyone):
        read caches on the request path are valid while it stays the same.
        `ignore_bulk`: one that commits writing only BULK_KINDS leave unchanged."""
        ...

    @property
    def writes(self) -> int:
        """Commits made through this object so far: a call that saw it change has
        something to make durable before it answers."""
        ...

    def sync_since(self, writes: int) -> None:
        """Make the commits made since `writes` was read durable, for a store whose
        commits do not wait for the disk themselves (the server's: see sqlite.py)."""
        ...

    def sync(self) -> None:
        """Make every commit made so far durable (for a store with grouped sync)."""
        ...

    def scrub(self) -> None:
        """Leave no copy of overwritten or deleted values in the store's files (once
        plaintext secrets of an older data dir are sealed)."""
        ...

    def close(self) -> None: ...
