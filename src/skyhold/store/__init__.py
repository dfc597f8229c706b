"""Durable state: records (SQLite) and blobs (files), both in the data dir.

The clean-stop marker (CLEAN_STOP_FILE) spares a start the blob store's orphan sweep,
which reads every record and lists every blob file: its cost grows with the data. An
orphan (a temp file, or a blob no record names) is what a crash leaves between a
blob's write and the commit of the record naming it, or between a record's deletion
and the unlink of its blob. The marker says "no orphan in this data dir", and notes
the mtimes of the blob folders then (BlobStore.folder_times): a start sweeps after all
when one changed since (blob files restored or copied in, an older Skyhold's writes).

- `skyhold up`, holding the data dir's lock (lock_data_dir; a second server stops
  there, before it reads or changes anything), removes the marker durably (unlink,
  fsync of the data dir) before it serves, and sweeps when there was none: a data dir
  of an older Skyhold has none, nor one whose server crashed (SIGKILL, power loss),
  stopped before serving, or crashed in its own start-up.
- After a graceful stop (uvicorn has returned, with its threads; the store is
  closed), `mark_clean_stop` writes it durably, unless a blob writer is still open.
  If this process wrote blobs it first sweeps: an error between a blob's commit and
  its record's (not a crash) may have left an orphan, which no later start would see
  (such a stop then costs what the next start saves). Removals and commits reach the
  disk before the marker does.
  A crash before the marker is on disk only means a sweep at the next start.
- Only the server writes blobs or drops records naming them; the CLI's commands
  (open_existing_store) and open_store without grouped_sync never touch the marker.
  Anything else that did would have to remove the marker (durably) first.
- An older Skyhold run on the data dir after a newer one stopped cleanly leaves the
  marker in place; the blob folders' mtimes catch its blob writes, not a crash of it
  between a record's deletion and its blob's unlink: that orphan waits for the next
  sweep (a start after a crash of a newer one).
"""

from __future__ import annotations

import fcntl
import json
import os
import sqlite3
import stat
from pathlib import Path
from typing import BinaryIO

from skyhold.store.base import ConflictError, Record, Store
from skyhold.store.blobs import BlobStore
from skyhold.store.fsync import fsync_path
from skyhold.store.sqlite import SqliteStore

__all__ = ["CLEAN_STOP_FILE", "BlobStore", "ConflictError", "DataDirError", "Record", "SqliteStore", "Store",
           "existing_data_dir", "lock_data_dir", "mark_clean_stop", "open_existing_store", "open_store",
           "open_trail_store", "private_data_dir"]

DB_FILE = "skyhold.db"  # its presence is what makes a folder Skyhold's data dir
LOCK_FILE = "skyhold.lock"  # flock'ed by the one `skyhold up` serving the data dir
CLEAN_STOP_FILE = "skyhold.clean-stop"  # present: no orphan blob (see above)


class DataDirError(Exception):
    """A data dir a command cannot use; str() is the one line the CLI prints."""


def unusable(data_dir: Path, err: BaseException) -> DataDirError:
    reason = err.strerror if isinstance(err, OSError) and err.strerror else str(err)
    return DataDirError(f"cannot use data dir {data_dir}: {reason}")


def existing_data_dir(data_dir: Path) -> Path:
    """The data dir of every command but `up`: one holding Skyhold's store. Creates and
    changes nothing, so a mistyped or foreign --data-dir is left as it was."""
    data_dir = Path(data_dir)
    try:
        if not stat.S_ISDIR(data_dir.stat().st_mode):
            raise NotADirectoryError(20, os.strerror(20))
        (data_dir / DB_FILE).stat()
    except FileNotFoundError:
        raise DataDirError(f"no Skyhold data in {data_dir} (start it with skyhold up --data-dir {data_dir})") from None
    except OSError as err:
        raise unusable(data_dir, err) from None
    return data_dir


def open_existing_store(data_dir: Path) -> tuple[SqliteStore, BlobStore]:
    """The CLI's store: the data dir must hold one (existing_data_dir). No orphan sweep:
    a server may be writing those temp files right now."""
    data_dir = existing_data_dir(data_dir)
    try:
        return SqliteStore(data_dir / DB_FILE), BlobStore(data_dir / "blobs")
    except (OSError, sqlite3.Error) as err:
        raise unusable(data_dir, err) from None


def lock_data_dir(data_dir: Path) -> BinaryIO:
    """`skyhold up`'s claim on its data dir (created if missing, tightened), held while
    the returned file stays open: a second server would run a trail writer of its own
    and take the first one's journal segments for finished ones."""
    try:
        if data_dir.exists() and not data_dir.is_dir():
            raise NotADirectoryError(20, os.strerror(20))  # not mkdir's "File exists"
        data_dir = private_data_dir(data_dir)
        lock = open(os.open(data_dir / LOCK_FILE, os.O_RDWR | os.O_CREAT, 0o600), "r+b")
    except OSError as err:
        raise unusable(data_dir, err) from None
    try:
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        lock.close()
        raise DataDirError(f"another skyhold up is serving data dir {data_dir}") from None
    return lock

# What Skyhold keeps in the data dir, tightened at every open: a data dir made before
# it was owner-only keeps no world-readable database, key (crypto/root.py, oidc.py) or
# folder (blobs, the trail's journal, the CLI's kept sessions) behind. Only these names:
# a data dir may be a folder holding other things too.
_PRIVATE_FILES = ("skyhold.db", "skyhold.lock", "skyhold.db-wal", "skyhold.db-shm", "trail.db", "trail.db-wal", "trail.db-shm",
                  "root.key", "oidc-signing-key.pem", CLEAN_STOP_FILE)
_PRIVATE_FOLDERS = ("blobs", "trail-journal", "cli-sessions")


def private_data_dir(data_dir: Path) -> Path:
    """The data dir, created owner-only (0700; its files 0600): it holds secrets
    (access keys, MFA seeds, sessions). `skyhold up` also sets the umask 077, so what
    the server creates later is owner-only too; the database files are created 0600
    (store.sqlite) by the CLI's commands as well."""
    data_dir = Path(data_dir)
    # Tighten only a folder Skyhold made: this one now, or one holding Skyhold's store
    # (made before it was owner-only); a foreign folder given as --data-dir keeps its mode.
    ours = not data_dir.exists() or (data_dir / DB_FILE).exists()
    data_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    info = data_dir.stat()
    # Never close a folder others share (a data dir pointed at /tmp, say): only ours.
    if ours and info.st_uid == os.getuid() and not info.st_mode & stat.S_ISVTX:
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
    store = SqliteStore(data_dir / "skyhold.db", synchronous="NORMAL" if grouped_sync else "FULL")
    if not grouped_sync:
        blobs.sweep_orphans()
    elif not _take_clean_stop(data_dir, blobs):
        # Only the server opens its store so, under the data dir's lock (lock_data_dir):
        # no one writes a blob now, so one no record names is a crash's leftover.
        _sweep(store, blobs)
    return store, blobs


def _sweep(store: SqliteStore, blobs: BlobStore) -> None:
    blobs.sweep_orphans()
    blobs.sweep_unreferenced(store.quoted_hex_ids)


def _take_clean_stop(data_dir: Path, blobs: BlobStore) -> bool:
    """Whether the last server stopped cleanly and no blob folder changed since; the
    marker is gone (durably) either way."""
    marker = data_dir / CLEAN_STOP_FILE
    try:
        noted = json.loads(marker.read_bytes())
    except FileNotFoundError:
        return False
    except (OSError, ValueError):  # half-written (a crash while stopping) or unreadable
        noted = None
    marker.unlink()
    fsync_path(data_dir)  # gone before any blob is written: a crash from now on is seen
    return isinstance(noted, dict) and noted.get("blob_folders") == blobs.folder_times()


def mark_clean_stop(data_dir: Path, store: SqliteStore, blobs: BlobStore) -> bool:
    """After the server's graceful stop, under the data dir's lock, with nothing
    writing any more (module docstring): leave no orphan, close the store and write
    the marker durably. False (no marker, the next start sweeps) while a blob writer
    is open."""
    if blobs.writers_open:
        return False
    if blobs.writers_made:
        _sweep(store, blobs)
    store.close()
    # Every commit on disk before the marker: a record lost in a power cut after it
    # would leave the blob it named an orphan no start sweeps. (The server's commits
    # wait for no fsync; closing checkpoints the WAL, unless another process still
    # has the database open.)
    for path in (store.path, store.wal_path):
        try:
            fsync_path(path)
        except FileNotFoundError:
            pass
    fd = os.open(data_dir / CLEAN_STOP_FILE, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        os.write(fd, json.dumps({"blob_folders": blobs.folder_times()}).encode())
        os.fsync(fd)
    finally:
        os.close(fd)
    fsync_path(data_dir)
    return True


def open_trail_store(data_dir: Path) -> SqliteStore:
    """The audit trail's own database: its constant appends must not invalidate the
    request path's read caches (keyed on the main store's generation) nor contend
    for the main database's write lock. It is the index of the trail's journal
    (trail/journal.py holds each event durably first), kept durable like the main
    store (synchronous=FULL) so indexed journal segments can be removed. Its pages are
    16 KiB: an event (~0.7 KiB) then never spills to an overflow page, and indexing a
    batch writes a quarter as many pages. The data dir is the server's (lock_data_dir)
    or one existing_data_dir found."""
    return SqliteStore(Path(data_dir) / "trail.db", page_size=16384)
