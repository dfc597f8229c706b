"""Durable state: records (SQLite) and blobs (files), both in the data dir."""

from __future__ import annotations

from pathlib import Path

from skyhold.store.base import ConflictError, Record, Store
from skyhold.store.blobs import BlobStore
from skyhold.store.sqlite import SqliteStore

__all__ = ["BlobStore", "ConflictError", "Record", "SqliteStore", "Store", "open_store", "open_trail_store"]


def open_store(data_dir: Path, *, grouped_sync: bool = False) -> tuple[SqliteStore, BlobStore]:
    """`grouped_sync`: commits do not wait for the disk; the caller makes them durable
    before it acknowledges them (the server does, a loop turn at a time)."""
    data_dir = Path(data_dir)
    data_dir.mkdir(parents=True, exist_ok=True)
    blobs = BlobStore(data_dir / "blobs")
    blobs.sweep_orphans()
    return SqliteStore(data_dir / "skyhold.db", synchronous="NORMAL" if grouped_sync else "FULL"), blobs


def open_trail_store(data_dir: Path) -> SqliteStore:
    """The audit trail's own database: its constant appends must not invalidate the
    request path's read caches (keyed on the main store's generation) nor contend
    for the main database's write lock. It is the index of the trail's journal
    (trail/journal.py holds each event durably first), kept durable like the main
    store (synchronous=FULL) so indexed journal segments can be removed. Its pages are
    16 KiB: an event (~0.7 KiB) then never spills to an overflow page, and indexing a
    batch writes a quarter as many pages."""
    Path(data_dir).mkdir(parents=True, exist_ok=True)
    return SqliteStore(Path(data_dir) / "trail.db", page_size=16384)
