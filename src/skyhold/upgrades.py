"""Upgrades of a data dir an older Skyhold wrote, run at start-up. Each runs until it
has run once: a note in the store then spares later starts a scan of every record of
its kinds (STS sessions grow with use)."""

from __future__ import annotations

from collections.abc import Callable

from skyhold import clock
from skyhold.store.base import Store

KIND = "skyhold.upgrade"  # key: the upgrade's name; value: when it ran

# The upgrades `skyhold up` runs (serve.py).
BIND_PRINCIPALS = "bind-policy-principals"  # principals.bind_unbound
SEAL_CREDENTIALS = "seal-credentials"  # identity.seal_stored_credentials
GRANT_RECORDS = "kms-grant-records"  # skyhold.services.kms.grants.move_out


def run_once(store: Store, name: str, upgrade: Callable[[Store], object]) -> None:
    if store.get(KIND, name) is None:
        upgrade(store)
        store.put(KIND, name, {"ran": clock.now_iso8601()})


def forget(store: Store, name: str) -> None:
    """As if the upgrade never ran (a test making a data dir look older)."""
    store.delete(KIND, name)
