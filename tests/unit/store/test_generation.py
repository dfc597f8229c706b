"""Store generations: every commit moves the full one; only commits that wrote a kind
outside BULK_KINDS move the one that caches of everything but S3's objects watch."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from skyhold.store.base import BULK_KINDS
from skyhold.store.cache import GenerationCache
from skyhold.store.sqlite import SqliteStore

BULK = "test.bulk"


@pytest.fixture
def store(tmp_path: Path) -> Iterator[SqliteStore]:
    BULK_KINDS.add(BULK)
    s = SqliteStore(tmp_path / "g.db")
    yield s
    s.close()
    BULK_KINDS.discard(BULK)


def test_bulk_writes_move_only_the_full_generation(store: SqliteStore) -> None:
    full, settled = store.generation(), store.generation(ignore_bulk=True)
    store.put(BULK, "o1", {"n": 1})
    store.delete(BULK, "o1")
    assert store.generation() != full
    assert store.generation(ignore_bulk=True) == settled


def test_any_other_kind_in_a_transaction_moves_both(store: SqliteStore) -> None:
    settled = store.generation(ignore_bulk=True)
    with store.transaction():
        store.put(BULK, "o1", {"n": 1})
        store.put("test.bucket", "b", {"n": 1})
    assert store.generation(ignore_bulk=True) != settled
    settled = store.generation(ignore_bulk=True)
    store.put("test.bucket", "b", {"n": 2})
    assert store.generation(ignore_bulk=True) != settled


def test_a_rolled_back_write_moves_nothing_and_leaves_no_mark(store: SqliteStore) -> None:
    full, settled = store.generation(), store.generation(ignore_bulk=True)
    with pytest.raises(RuntimeError):
        with store.transaction():
            store.put("test.bucket", "b", {"n": 1})
            raise RuntimeError("abort")
    assert (store.generation(), store.generation(ignore_bulk=True)) == (full, settled)
    store.put(BULK, "o1", {"n": 1})  # the aborted write does not count against this one
    assert store.generation(ignore_bulk=True) == settled


def test_caches_follow_their_generation(store: SqliteStore) -> None:
    settled_cache, full_cache = GenerationCache(store, ignore_bulk=True), GenerationCache(store)
    calls: list[str] = []

    def compute(name: str) -> str:
        calls.append(name)
        return name

    for cache, name in ((settled_cache, "settled"), (full_cache, "full")):
        cache.get("k", lambda n=name: compute(n))
    store.put(BULK, "o1", {"n": 1})
    for cache, name in ((settled_cache, "settled"), (full_cache, "full")):
        cache.get("k", lambda n=name: compute(n))
    assert calls == ["settled", "full", "full"]  # the bulk write kept the settled memo
