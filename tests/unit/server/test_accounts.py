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


def test_the_administrator_is_pinned_once_by_unique_id(tmp_path: Path) -> None:
    """A data dir from before pinning whose `admin` was deleted: only root administers
    it, and a user created later under the name `admin` never does."""
    from skyhold import admin_api
    from skyhold import principal as p
    from skyhold.services.iam import records as iam_records

    store = SqliteStore(tmp_path / "skyhold.db")
    first = accounts.bootstrap(store)
    assert first is not None
    admin = iam_records.name_key(first.account_id, accounts.ADMIN_USER)
    store.delete(iam_records.USER, admin)
    admin_api.pin_administrator(store)
    store.put(iam_records.USER, admin, {"UserName": accounts.ADMIN_USER, "UserId": "AIDANEWCOMER"})
    admin_api.pin_administrator(store)  # once: the newcomer is not pinned
    newcomer = p.Principal(type=p.IAM_USER, account=first.account_id,
                           arn=f"arn:aws:iam::{first.account_id}:user/admin", user_id="AIDANEWCOMER")
    root = p.Principal(type=p.ROOT, account=first.account_id, arn=f"arn:aws:iam::{first.account_id}:root",
                       user_id=first.account_id)
    assert not admin_api.is_administrator(store, newcomer)
    assert admin_api.is_administrator(store, root)
