"""The default account (what `skyhold configure` points at) is the one the first start
created, whatever ids and creation times the others have."""

from __future__ import annotations

from pathlib import Path

from skyhold import accounts, ids
from skyhold.store.sqlite import SqliteStore


def test_the_first_start_account_stays_the_default_when_others_share_its_second(
    tmp_path: Path, monkeypatch) -> None:
    store = SqliteStore(tmp_path / "skyhold.db")
    monkeypatch.setattr(accounts.clock, "now_iso8601", lambda: "2026-12-07T00:30:54Z")  # all in one second
    issued = iter(["999999999999", "100000000000"])  # the later account sorts first by id
    monkeypatch.setattr(ids, "account_id", lambda: next(issued))
    first = accounts.bootstrap(store)
    assert first is not None and first.account_id == "999999999999"
    accounts.create_account(store, "tenant")
    assert accounts.default_account(store)["Id"] == "999999999999"
    assert [a["Name"] for a in accounts.list_accounts(store)] == ["default", "tenant"]
    assert accounts.bootstrap(store) is None  # a second start creates nothing
    store.close()


def test_a_data_dir_from_before_the_mark_gets_it_on_start(tmp_path: Path) -> None:
    store = SqliteStore(tmp_path / "skyhold.db")
    first = accounts.create_account(store, "default")  # as bootstrap wrote it, unmarked
    assert "Default" not in accounts.get_account(store, first.account_id)
    assert accounts.bootstrap(store) is None
    assert accounts.get_account(store, first.account_id)["Default"] is True
    store.close()
