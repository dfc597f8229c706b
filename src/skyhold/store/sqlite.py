"""SQLite (WAL) implementation of the store.

Durability: WAL with synchronous=FULL, so a commit has reached the disk (fsync of
the WAL) before `put` returns — an acknowledged write survives a process kill and
an OS crash. The server opens its store with synchronous=NORMAL instead and makes
commits durable in groups before it answers (`writes` tells that there were some,
the trail's writer fsyncs `wal_path`; `sync_since` does it at once): a commit then
costs the event loop no disk wait, and the calls of one loop turn share one fsync.

Keys are compared as BLOBs (memcmp of UTF-8), which is S3's byte-wise listing order; prefix scans use a key range, never LIKE (whose `%`/`_` would be
wildcards).

One connection per thread: the event loop, worker threads and other processes (the
`skyhold` CLI) may all use the same data dir at once; busy_timeout serializes writers.
"""

from __future__ import annotations

import os
import re
import sqlite3
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from functools import cache
from pathlib import Path
from typing import Any

from skyhold.store import jsontext
from skyhold.store.base import BULK_KINDS, ConflictError, Record
from skyhold.store.fsync import fsync_path

# A rowid table, its primary key an index of (kind, key) alone. WITHOUT ROWID kept whole
# records in its one b-tree, so a big value (an object of 10,000 parts lists ~1.4 MB of
# segments) could sit in interior pages, and every search and rebalance that met it read
# all of its overflow pages: deleting 10,000 records took ~100x as long with one there.
_COLUMNS = """(
    kind    TEXT NOT NULL,
    key     BLOB NOT NULL,
    version INTEGER NOT NULL,
    value   TEXT NOT NULL,
    PRIMARY KEY (kind, key)
)"""
_SCHEMA = f"CREATE TABLE IF NOT EXISTS records {_COLUMNS};"

DATA_VERSION_POLL = 0.2  # seconds
CHECKPOINT_EVERY = 0.25  # seconds, for a store with grouped sync (see _checkpoints)
RESTART_FRAMES = 4000  # WAL frames (pages: ~16 MiB)
# Should writes outpace the checkpoint thread, a commit checkpoints after all (SQLite's
# own automatic checkpoint), at this many frames: the WAL stays bounded.
COMMIT_CHECKPOINT_FRAMES = 25_000

_loads = jsontext.loads
_QUOTED_HEX_ID = re.compile(r'"([0-9a-f]{32})"')


def _dumps(value: Any) -> str:
    return jsontext.dumps(value).decode()


_APPEND_CHUNK = 500  # rows per statement, well inside SQLite's host-parameter limit


@cache
def _append_sql(rows: int) -> str:
    return "INSERT OR IGNORE INTO records(kind, key, version, value) VALUES " + ",".join(["(?,?,1,?)"] * rows)


def _prefix_end(prefix: bytes) -> bytes | None:
    """The smallest byte string greater than every string starting with prefix."""
    stripped = prefix.rstrip(b"\xff")
    if not stripped:
        return None
    return stripped[:-1] + bytes([stripped[-1] + 1])


class SqliteStore:
    def __init__(self, path: Path, *, synchronous: str = "FULL", page_size: int | None = None) -> None:
        """`page_size`: for a database created now (an existing one keeps its own)."""
        self.path = Path(path)
        if self.path != Path(":memory:"):
            # Owner-only from birth (it holds secrets): SQLite gives the -wal and -shm
            # files it creates beside a database the database file's own mode.
            os.close(os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600))
        self._synchronous = synchronous
        self._page_size = page_size
        # Commits do not wait for the disk: whoever acknowledges them calls sync first.
        self.grouped_sync = synchronous != "FULL"
        self._local = threading.local()
        self._all: list[sqlite3.Connection] = []
        self._lock = threading.Lock()
        self._writes = 0  # commits made through this object (any thread)
        self._settled_writes = 0  # those of them that wrote a kind not in BULK_KINDS
        self._conn().executescript(_SCHEMA)
        self._upgrade_table()
        self._stop = threading.Event()
        self._checkpointer: threading.Thread | None = None
        if self.grouped_sync:
            self._checkpointer = threading.Thread(target=self._checkpoints, name="store-checkpoint", daemon=True)
            self._checkpointer.start()

    def connection(self) -> sqlite3.Connection:
        """This thread's connection, for tables of a caller's own that must commit in the
        store's transactions (the trail's LookupEvents index: trail/index.py)."""
        return self._conn()

    def _conn(self) -> sqlite3.Connection:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False, timeout=30)
            if self._page_size:  # before WAL mode: a new database takes it then
                conn.execute(f"PRAGMA page_size={int(self._page_size)}")
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute(f"PRAGMA synchronous={self._synchronous}")
            conn.execute("PRAGMA busy_timeout=30000")
            if self.grouped_sync:  # the checkpoint thread copies the WAL back, not a commit
                conn.execute(f"PRAGMA wal_autocheckpoint={int(COMMIT_CHECKPOINT_FRAMES)}")
            self._local.conn = conn
            self._local.depth = 0
            self._local.seen = None
            self._local.polled_at = float("-inf")
            self._local.data_version = 0
            with self._lock:
                self._all.append(conn)
        return conn

    def _upgrade_table(self) -> None:
        """A data dir made before the records table had rowids: copied into one, once."""
        conn = self._conn()
        if not self._without_rowid(conn):
            return
        with self.transaction():
            if self._without_rowid(conn):  # another process may have done it meanwhile
                conn.execute(f"CREATE TABLE records_upgraded {_COLUMNS}")
                conn.execute("INSERT INTO records_upgraded SELECT kind, key, version, value FROM records "
                             "ORDER BY kind, key")
                conn.execute("DROP TABLE records")
                conn.execute("ALTER TABLE records_upgraded RENAME TO records")

    @staticmethod
    def _without_rowid(conn: sqlite3.Connection) -> bool:
        row = conn.execute("SELECT sql FROM sqlite_master WHERE type='table' AND name='records'").fetchone()
        return bool(row) and "WITHOUT ROWID" in row[0].upper()

    @property
    def writes(self) -> int:
        """Commits made through this object so far (any thread)."""
        return self._writes

    @property
    def wal_path(self) -> Path:
        return self.path.with_name(self.path.name + "-wal")

    def sync_since(self, writes: int) -> None:
        """Make the commits made since `writes` was read durable, for a store with
        grouped sync (with synchronous=NORMAL they wait for the next checkpoint)."""
        if self.grouped_sync and self._writes != writes:
            fsync_path(self.wal_path)

    def sync(self) -> None:
        """Make every commit made so far durable (a no-op when each commit waits for the disk)."""
        if self.grouped_sync:
            fsync_path(self.wal_path)

    def quoted_hex_ids(self) -> set[str]:
        """Every JSON string of 32 lowercase hex digits (a blob id's form) in any record's
        value: what the orphan sweep keeps. Over-matching only keeps a file."""
        found: set[str] = set()
        cursor = self._conn().execute("SELECT value FROM records")
        while rows := cursor.fetchmany(1000):
            for (text,) in rows:
                found.update(_QUOTED_HEX_ID.findall(text))
        return found

    def generation(self, *, ignore_bulk: bool = False) -> tuple[int, int]:
        """Changes whenever anything was committed: at once for commits made through
        this object (any thread), within DATA_VERSION_POLL seconds for commits by
        other connections (the `skyhold` CLI), seen through SQLite's data_version.
        Polling bounds the cost: the PRAGMA releases the GIL on every call.
        `ignore_bulk`: unchanged by commits that wrote only BULK_KINDS (S3 objects),
        for caches of everything else."""
        local = self._local
        try:
            polled_at = local.polled_at
        except AttributeError:  # this thread's first use: its connection opens
            self._conn()
            polled_at = local.polled_at
        now = time.monotonic()
        if now - polled_at >= DATA_VERSION_POLL:
            local.data_version = local.conn.execute("PRAGMA data_version").fetchone()[0]
            local.polled_at = now
        return (self._settled_writes if ignore_bulk else self._writes), local.data_version

    # -- reads -------------------------------------------------------------------
    def get(self, kind: str, key: str) -> Record | None:
        row = self._conn().execute(
            "SELECT version, value FROM records WHERE kind=? AND key=?", (kind, key.encode())
        ).fetchone()
        seen = self._local.seen
        if seen is not None:  # inside a transaction: a put of this record needs no second look
            seen[kind, key] = row[0] if row else 0
        return Record(kind, key, row[0], _loads(row[1])) if row else None

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
        """Keys with `prefix`, ascending (or descending with reverse), strictly after
        `start_after` and strictly before `before` when given."""
        sql = "SELECT key, version, value FROM records WHERE kind=?"
        args: list[Any] = [kind]
        low = prefix.encode()
        after = start_after.encode()
        if start_after and after >= low:
            sql += " AND key > ?"
            args.append(after)
        elif low:
            sql += " AND key >= ?"
            args.append(low)
        end = _prefix_end(low) if low else None
        if before and (end is None or before.encode() < end):
            end = before.encode()
        if end is not None:
            sql += " AND key < ?"
            args.append(end)
        sql += " ORDER BY key DESC" if reverse else " ORDER BY key"
        if limit is not None:
            sql += " LIMIT ?"
            args.append(limit)
        rows = self._conn().execute(sql, args).fetchall()
        return [Record(kind, k.decode(), v, _loads(val)) for k, v, val in rows]

    def count(self, kind: str, prefix: str = "") -> int:
        low = prefix.encode()
        end = _prefix_end(low) if low else None
        sql, args = "SELECT count(*) FROM records WHERE kind=? AND key >= ?", [kind, low]
        if end is not None:
            sql += " AND key < ?"
            args.append(end)
        return self._conn().execute(sql, args).fetchone()[0]

    # -- writes ------------------------------------------------------------------
    def put(self, kind: str, key: str, value: dict[str, Any], *, expect_version: int | None = None) -> Record:
        self._touch(kind)
        text = _dumps(value)
        if getattr(self._local, "depth", 0):  # inside a transaction (S3 writes are): no block of its own
            return self._put(kind, key, value, text, expect_version)
        with self.transaction():
            return self._put(kind, key, value, text, expect_version)

    def _put(self, kind: str, key: str, value: dict[str, Any], text: str, expect_version: int | None) -> Record:
        conn = self._conn()
        raw_key = key.encode()
        seen = self._local.seen
        current = seen.get((kind, key)) if seen is not None else None
        if current is None:
            row = conn.execute("SELECT version FROM records WHERE kind=? AND key=?", (kind, raw_key)).fetchone()
            current = row[0] if row else 0
        if expect_version is not None and current != expect_version:
            raise ConflictError(f"{kind} {key!r}: version is {current}, expected {expect_version}")
        version = current + 1
        conn.execute(
            "INSERT INTO records(kind, key, version, value) VALUES (?,?,?,?) "
            "ON CONFLICT(kind, key) DO UPDATE SET version=excluded.version, value=excluded.value",
            (kind, raw_key, version, text),
        )
        if seen is not None:
            seen[kind, key] = version
        return Record(kind, key, version, value)

    def delete(self, kind: str, key: str, *, expect_version: int | None = None) -> bool:
        self._touch(kind)
        with self.transaction():
            conn = self._conn()
            row = conn.execute("SELECT version FROM records WHERE kind=? AND key=?", (kind, key.encode())).fetchone()
            if row is None:
                if expect_version not in (None, 0):
                    raise ConflictError(f"{kind} {key!r} is gone")
                return False
            if expect_version is not None and row[0] != expect_version:
                raise ConflictError(f"{kind} {key!r}: version is {row[0]}, expected {expect_version}")
            conn.execute("DELETE FROM records WHERE kind=? AND key=?", (kind, key.encode()))
            self._local.seen[kind, key] = 0
        return True

    def append_json(self, rows: list[tuple[str, str, str]]) -> None:
        # One multi-row INSERT per chunk rather than executemany: every statement
        # step releases and retakes the GIL, once per batch is enough.
        values = [v for kind, key, text in rows for v in (kind, key.encode(), text)]
        for kind in {row[0] for row in rows}:
            self._touch(kind)
        with self.transaction():
            conn = self._conn()
            self._local.seen.clear()  # rows it inserts were not looked at
            for start in range(0, len(values), _APPEND_CHUNK * 3):
                chunk = values[start : start + _APPEND_CHUNK * 3]
                conn.execute(_append_sql(len(chunk) // 3), chunk)

    def _touch(self, kind: str) -> None:
        """Note that this thread's transaction (about to begin, or open) writes `kind`."""
        if kind not in BULK_KINDS:
            self._local.settled = True

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """Flat nesting: the outermost block commits or rolls back everything."""
        conn = self._conn()
        if self._local.depth:
            self._local.depth += 1
            try:
                yield
            finally:
                self._local.depth -= 1
            return
        # IMMEDIATE takes the write lock up front: read-then-write inside cannot
        # be invalidated by another writer (no SQLITE_BUSY upgrade deadlocks).
        conn.execute("BEGIN IMMEDIATE")
        self._local.depth = 1
        local = self._local
        # Versions of the records this transaction has read or written: it holds the
        # write lock, so they stay true until it ends, and a put after a get (S3's
        # every write) need not read the version again.
        local.seen = {}
        local.settled = getattr(local, "settled", False)  # a put() notes its kind first
        try:
            yield
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        else:
            conn.execute("COMMIT")
            self._writes += 1
            if local.settled:
                self._settled_writes += 1
        finally:
            local.depth = 0
            local.settled = False
            local.seen = None

    def _checkpoints(self) -> None:
        """Copy the WAL into the database now and then, off the committing thread: a
        checkpoint writes and fsyncs megabytes, and inside a commit (SQLite's automatic
        checkpoint) it would hold up the event loop for milliseconds. PASSIVE: it never
        waits for, nor blocks, readers and writers. The WAL starts over from its beginning
        only after a checkpoint that copied all of it; under steady writes a PASSIVE one
        never quite does, so past RESTART_FRAMES a RESTART checkpoint finishes the few
        frames left, holding writers back that long."""
        done = self._writes
        while not self._stop.wait(CHECKPOINT_EVERY):
            if self._writes == done:
                continue
            done = self._writes
            try:
                conn = self._conn()
                _, frames, _ = conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
                if frames > RESTART_FRAMES:
                    conn.execute("PRAGMA wal_checkpoint(RESTART)")
            except sqlite3.Error:  # busy or closing: the next round tries again
                pass

    def scrub(self) -> None:
        # Old values live on in WAL frames and in the free space of pages: VACUUM
        # rewrites every page from the live rows alone, and a TRUNCATE checkpoint
        # before and after empties the WAL.
        conn = self._conn()
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        conn.execute("VACUUM")
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")

    def close(self) -> None:
        self._stop.set()
        if self._checkpointer is not None:
            self._checkpointer.join()
            self._checkpointer = None
        with self._lock:
            for conn in self._all:
                try:
                    conn.close()
                except sqlite3.ProgrammingError:
                    pass
            self._all.clear()
        self._local = threading.local()
