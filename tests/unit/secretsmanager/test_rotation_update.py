"""The rotator's writes to a secret survive a call writing it meanwhile (a GetSecretValue
notes its day of access): a conflict used to end the rotation silently."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from skyhold.services.secretsmanager.rotation import _update
from skyhold.store.sqlite import SqliteStore


def test_a_write_in_between_is_read_again_not_lost(tmp_path: Path) -> None:
    store = SqliteStore(tmp_path / "s.db")
    store.put("k", "s", {"stages": ["AWSCURRENT"]})
    calls = 0

    def change(value: dict[str, Any]) -> None:
        nonlocal calls
        calls += 1
        if calls == 1:  # another call writes the secret between the rotator's read and write
            store.put("k", "s", {"stages": ["AWSCURRENT"], "LastAccessedDate": "today"})
        value["pending"] = True

    assert _update(store, "k", "s", change)
    rec = store.get("k", "s")
    assert rec is not None and rec.value == {"stages": ["AWSCURRENT"], "LastAccessedDate": "today", "pending": True}
    assert calls == 2
    assert not _update(store, "k", "gone", change)
    store.close()
