"""A store with grouped sync (the server's) checkpoints its WAL in a thread of its own,
not inside its commits, and the WAL stays bounded however fast the writes come."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from skyhold.store import sqlite as sqlite_module
from skyhold.store.sqlite import SqliteStore

PAGE = 4096


def _write(store: SqliteStore, count: int, pause: float) -> int:
    value = {"pad": "x" * 3000}  # with its B-tree page, two WAL frames per commit
    for i in range(count):
        with store.transaction():
            store.put("k", f"key{i % 200:03d}", {**value, "i": i})
        if pause:
            time.sleep(pause)
    return count


def _check_intact(path: Path, writes: int) -> None:
    reopened = SqliteStore(path)
    rows = reopened.scan("k")
    assert len(rows) == min(writes, 200) and max(r.value["i"] for r in rows) == writes - 1
    reopened.close()


def test_the_checkpoint_thread_keeps_the_wal_small(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sqlite_module, "CHECKPOINT_EVERY", 0.01)
    monkeypatch.setattr(sqlite_module, "RESTART_FRAMES", 50)
    monkeypatch.setattr(sqlite_module, "COMMIT_CHECKPOINT_FRAMES", 10**9)  # commits never checkpoint
    store = SqliteStore(tmp_path / "s.db", synchronous="NORMAL")
    writes = _write(store, 1500, pause=0.0005)
    # without the thread the WAL would hold every frame written: ~3,000 of them
    wal_bytes = (tmp_path / "s.db-wal").stat().st_size
    assert wal_bytes < 500 * (PAGE + 24), (wal_bytes, writes)
    store.close()
    _check_intact(tmp_path / "s.db", writes)


def test_writes_faster_than_the_thread_still_bound_the_wal(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sqlite_module, "CHECKPOINT_EVERY", 100.0)  # a thread that never keeps up
    monkeypatch.setattr(sqlite_module, "COMMIT_CHECKPOINT_FRAMES", 300)
    store = SqliteStore(tmp_path / "s.db", synchronous="NORMAL")
    writes = _write(store, 1500, pause=0.0)
    wal_bytes = (tmp_path / "s.db-wal").stat().st_size
    assert wal_bytes < 2 * 300 * (PAGE + 24), (wal_bytes, writes)
    store.close()
    _check_intact(tmp_path / "s.db", writes)


def test_a_store_with_full_sync_checkpoints_as_sqlite_does(tmp_path: Path) -> None:
    store = SqliteStore(tmp_path / "s.db")
    assert store._conn().execute("PRAGMA wal_autocheckpoint").fetchone()[0] == 1000
    store.close()
