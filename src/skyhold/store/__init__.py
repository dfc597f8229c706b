"""Durable state: records (SQLite) and blobs (files), both in the data dir."""

from __future__ import annotations

import os
import stat
from pathlib import Path

from skyhold.store.base import ConflictError, Record, Store
from skyhold.store.blobs import BlobStore
from skyhold.store.sqlite import SqliteStore

__all__ = ["BlobStore", "ConflictError", "Record", "SqliteStore", "Store", "open_store", "open_trail_store",
           "private_data_dir"]

# What Skyhold keeps in the data dir, tightened at every open: a data dir made before
# it was owner-only keeps no world-readable database, key (crypto/root.py, oidc.py) or
# folder (blobs, the trail's journal, the CLI's kept sessions) behind. Only these names:
# a data dir may be a folder holding other things too.
_PRIVATE_FILES = ("skyhold.db", "skyhold.db-wal", "skyhold.db-shm", "trail.db", "trail.db-wal", "trail.db-shm",
                  "root.key", "oidc-signing-key.pem")
_PRIVATE_FOLDERS = ("blobs", "trail-journal", "cli-sessions")


def private_data_dir(data_dir: Path) -> Path:
    """The data dir, created owner-only (0700; its files 0600): it holds secrets
    (access keys, MFA seeds, sessions). `skyhold up` also sets the umask 077, so what
    the server creates later is owner-only too; the database files are created 0600
    (store.sqlite) by the CLI's commands as well."""
    data_dir = Path(data_dir)
    data_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    info = data_dir.stat()
    # Never close a folder others share (a data dir pointed at /tmp, say): only ours.
    if info.st_uid == os.getuid() and not info.st_mode & stat.S_ISVTX:
        data_dir.chmod(0o700)
    for names, mode in ((_PRIVATE_FILES, 0o600), (_PRIVATE_FOLDERS, 0o700)):
        for name in names:
            try:
                (data_dir / name).chmod(mode)
            except FileNotFoundError:
                pass
    return data_dir


def open_store(data_dir: Path, *, grouped_sync: bool = False) -> tuple[SqliteStore, BlobStore]:
    """`grouped_sync`: commits do not wait for the disk; the caller makes them durable
    before it acknowledges them (the server does, a loop turn at a time)."""
    data_dir = private_data_dir(data_dir)
    blobs = BlobStore(data_dir / "blobs")
    (data_dir / "blobs").chmod(0o700)
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
    return SqliteStore(private_data_dir(data_dir) / "trail.db", page_size=16384)
