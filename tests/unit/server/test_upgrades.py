"""Data-dir upgrades run once: later starts skip the scan."""

from __future__ import annotations

from pathlib import Path

from skyhold import upgrades
from skyhold.store.sqlite import SqliteStore


def test_an_upgrade_runs_until_it_has_run_once(tmp_path: Path) -> None:
    store = SqliteStore(tmp_path / "skyhold.db")
    ran: list[int] = []
    for _ in range(3):
        upgrades.run_once(store, "example", lambda s: ran.append(1))
    assert ran == [1]
    upgrades.forget(store, "example")  # a data dir that never had it
    upgrades.run_once(store, "example", lambda s: ran.append(2))
    assert ran == [1, 2]
