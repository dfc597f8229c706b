"""Accounts: each has a root user and, from birth, an IAM user `admin` with a key.

Kind `account`, key = the 12-digit account id. The first account created is the
default one that `skyhold configure` points at.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from skyhold import clock, ids
from skyhold.services.iam import records as iam
from skyhold.store.base import Store

ACCOUNT = "account"
ADMIN_USER = "admin"
ADMINISTRATOR_ACCESS = "arn:aws:iam::aws:policy/AdministratorAccess"


@dataclass(frozen=True)
class NewAccount:
    account_id: str
    name: str
    admin_access_key_id: str
    admin_secret_access_key: str


def list_accounts(store: Store) -> list[dict[str, Any]]:
    return sorted((r.value for r in store.scan(ACCOUNT)), key=lambda a: a["CreatedAt"])


def get_account(store: Store, account_id: str) -> dict[str, Any] | None:
    rec = store.get(ACCOUNT, account_id)
    return rec.value if rec else None


def find_by_name(store: Store, name: str) -> dict[str, Any] | None:
    return next((a for a in list_accounts(store) if a["Name"] == name), None)


def create_account(store: Store, name: str) -> NewAccount:
    if find_by_name(store, name):
        raise ValueError(f"an account named {name!r} already exists")
    with store.transaction():
        account_id = ids.account_id()
        while store.get(ACCOUNT, account_id):
            account_id = ids.account_id()
        store.put(
            ACCOUNT,
            account_id,
            {"Id": account_id, "Name": name, "CreatedAt": clock.now_iso8601()},
            expect_version=0,
        )
        admin = iam.create_user(store, account_id, ADMIN_USER)
        admin["AttachedPolicies"] = [ADMINISTRATOR_ACCESS]
        store.put(iam.USER, iam.user_key(account_id, ADMIN_USER), admin, expect_version=1)
        key = iam.create_access_key(store, account_id, ADMIN_USER)
    return NewAccount(account_id, name, key["AccessKeyId"], key["SecretAccessKey"])


def default_account(store: Store) -> dict[str, Any] | None:
    accounts = list_accounts(store)
    return accounts[0] if accounts else None


def bootstrap(store: Store) -> NewAccount | None:
    """Create the first account on first start; None when one already exists."""
    if default_account(store):
        return None
    return create_account(store, "default")
