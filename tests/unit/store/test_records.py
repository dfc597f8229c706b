"""The record store: versions, ordered scans, transactions, restarts."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from skyhold.store import ConflictError, SqliteStore


@pytest.fixture
def store(tmp_path: Path) -> SqliteStore:
    s = SqliteStore(tmp_path / "db.sqlite")
    yield s
    s.close()


def test_put_get_versions(store: SqliteStore) -> None:
    assert store.get("k", "a") is None
    r1 = store.put("k", "a", {"n": 1}, expect_version=0)
    assert (r1.version, store.get("k", "a").value) == (1, {"n": 1})
    r2 = store.put("k", "a", {"n": 2}, expect_version=1)
    assert r2.version == 2
    with pytest.raises(ConflictError):
        store.put("k", "a", {"n": 3}, expect_version=1)
    with pytest.raises(ConflictError):
        store.put("k", "a", {"n": 3}, expect_version=0)
    assert store.get("k", "a").value == {"n": 2}  # a refused write changes nothing


def test_kinds_are_separate(store: SqliteStore) -> None:
    store.put("x", "same", {"v": "x"})
    store.put("y", "same", {"v": "y"})
    assert store.get("x", "same").value == {"v": "x"}
    assert [r.kind for r in store.scan("y")] == ["y"]


def test_delete_with_and_without_version(store: SqliteStore) -> None:
    store.put("k", "a", {})
    with pytest.raises(ConflictError):
        store.delete("k", "a", expect_version=5)
    assert store.delete("k", "a", expect_version=1) is True
    assert store.delete("k", "a") is False
    assert store.get("k", "a") is None


KEYS = ["a", "a/b", "a/c", "a%", "a_", "a%b", "ab", "b", "é", "😀", "a/" + "z" * 1020, "\u00ff", "a\x7f", "A"]


def test_scan_is_bytewise_ordered_and_prefix_literal(store: SqliteStore) -> None:
    for k in KEYS:
        store.put("obj", k, {"k": k})
    assert [r.key for r in store.scan("obj")] == sorted(KEYS, key=lambda k: k.encode())
    # % and _ are ordinary characters in a prefix, not LIKE wildcards
    assert [r.key for r in store.scan("obj", "a%")] == ["a%", "a%b"]
    assert [r.key for r in store.scan("obj", "a_")] == ["a_"]
    assert [r.key for r in store.scan("obj", "a/")] == sorted(["a/b", "a/c", "a/" + "z" * 1020])
    assert store.count("obj", "a/") == 3
    assert store.count("obj") == len(KEYS)


def test_scan_pagination_with_start_after_and_limit(store: SqliteStore) -> None:
    for i in range(25):
        store.put("obj", f"p/{i:03d}", {})
    store.put("obj", "q", {})
    seen, after = [], ""
    while True:
        page = store.scan("obj", "p/", start_after=after, limit=7)
        if not page:
            break
        seen += [r.key for r in page]
        after = page[-1].key
    assert seen == [f"p/{i:03d}" for i in range(25)]
    # start_after before the prefix still only returns the prefix
    assert [r.key for r in store.scan("obj", "p/", start_after="a", limit=2)] == ["p/000", "p/001"]


def test_transaction_rolls_back_everything(store: SqliteStore) -> None:
    store.put("k", "keep", {"v": 1})
    with pytest.raises(RuntimeError):
        with store.transaction():
            store.put("k", "new", {})
            store.put("k", "keep", {"v": 2})
            with store.transaction():  # nested blocks join the outer one
                store.delete("k", "keep")
            raise RuntimeError("boom")
    assert store.get("k", "new") is None
    assert store.get("k", "keep").value == {"v": 1}



def test_versions_read_in_a_transaction_stay_exact(store: SqliteStore) -> None:
    """A put after a get in one transaction takes the version it read; gets, puts and
    deletes in any order still number versions as a fresh read would."""
    store.put("k", "a", {"n": 1})
    with store.transaction():
        assert store.get("k", "a").version == 1
        assert store.put("k", "a", {"n": 2}).version == 2
        assert store.put("k", "a", {"n": 3}).version == 3
        with pytest.raises(ConflictError):
            store.put("k", "a", {"n": 0}, expect_version=2)
        assert store.delete("k", "a", expect_version=3)
        assert store.put("k", "a", {"n": 4}, expect_version=0).version == 1  # gone: a new record
        assert store.get("k", "b") is None
        store.append_json([("k", "b", '{"n": 5}')])  # a row no get has seen
        with pytest.raises(ConflictError):
            store.put("k", "b", {"n": 6}, expect_version=0)
        assert store.put("k", "b", {"n": 6}).version == 2
    assert (store.get("k", "a").version, store.get("k", "b").version) == (1, 2)


def test_versions_read_before_a_transaction_are_read_again(tmp_path: Path) -> None:
    """What one transaction read is forgotten when it ends: another connection (the
    CLI, another thread) may write the record in between."""
    one, other = SqliteStore(tmp_path / "db"), SqliteStore(tmp_path / "db")
    try:
        one.put("k", "a", {"n": 1})
        with one.transaction():
            assert one.get("k", "a").version == 1
        other.put("k", "a", {"n": 2})
        with pytest.raises(ConflictError):  # rolled back: nothing changes
            with one.transaction():
                one.put("k", "a", {"n": 3}, expect_version=1)
        with one.transaction():
            assert one.put("k", "a", {"n": 3}).version == 3
        assert other.get("k", "a").value == {"n": 3}
    finally:
        one.close()
        other.close()

def test_concurrent_writers_one_wins_per_version(store: SqliteStore) -> None:
    store.put("ctr", "c", {"n": 0})
    wins: list[int] = []
    lock = threading.Lock()

    def bump() -> None:
        for _ in range(20):
            while True:
                cur = store.get("ctr", "c")
                try:
                    store.put("ctr", "c", {"n": cur.value["n"] + 1}, expect_version=cur.version)
                except ConflictError:
                    continue
                with lock:
                    wins.append(cur.version)
                break

    threads = [threading.Thread(target=bump) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    final = store.get("ctr", "c")
    assert final.value["n"] == 80 and final.version == 81
    assert sorted(wins) == list(range(1, 81))  # each version was won exactly once


def test_state_survives_reopen(tmp_path: Path) -> None:
    s = SqliteStore(tmp_path / "db")
    s.put("k", "a", {"deep": {"list": [1, "two", None]}})
    s.append_json([("ev", "0001", '{"e": 1}'), ("ev", "0002", '{"e": 2}')])
    s.append_json([("ev", "0001", '{"e": 9}')])  # a replayed append changes nothing
    s.close()
    s2 = SqliteStore(tmp_path / "db")
    assert s2.get("k", "a").value == {"deep": {"list": [1, "two", None]}}
    assert [r.value["e"] for r in s2.scan("ev")] == [1, 2]
    s2.close()


def test_reverse_scan_with_before(store: SqliteStore) -> None:
    for i in range(10):
        store.put("ev", f"acct/{i:02d}", {})
    store.put("ev", "other/00", {})
    newest = store.scan("ev", "acct/", reverse=True, limit=3)
    assert [r.key for r in newest] == ["acct/09", "acct/08", "acct/07"]
    older = store.scan("ev", "acct/", before=newest[-1].key, reverse=True, limit=3)
    assert [r.key for r in older] == ["acct/06", "acct/05", "acct/04"]
    assert [r.key for r in store.scan("ev", "acct/", start_after="acct/02", before="acct/05")] == ["acct/03", "acct/04"]
