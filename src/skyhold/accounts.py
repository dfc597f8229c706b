"""Accounts: each has a root user and, from birth, an IAM user `admin` with a key and
an enabled virtual MFA device (`skyhold credentials` signs in with both, as a careful
administrator does: GetSessionToken's credentials reach IAM only with MFA).

Kind `account`, key = the 12-digit account id. The first account created (on first
start) is the default one that `skyhold configure` points at; it is marked so, as
accounts created in the same second could not be told apart by their CreatedAt.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from skyhold import clock, ids
from skyhold.services.iam import mfa
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
    """The default account first, then the others as they were created."""
    return sorted((r.value for r in store.scan(ACCOUNT)), key=lambda a: (not a.get("Default"), a["CreatedAt"]))


def get_account(store: Store, account_id: str) -> dict[str, Any] | None:
    rec = store.get(ACCOUNT, account_id)
    return rec.value if rec else None


def find_by_name(store: Store, name: str) -> dict[str, Any] | None:
    return next((a for a in list_accounts(store) if a["Name"] == name), None)


def create_account(store: Store, name: str, *, default: bool = False) -> NewAccount:
    if find_by_name(store, name):
        raise ValueError(f"an account named {name!r} already exists")
    with store.transaction():
        account_id = ids.account_id()
        while store.get(ACCOUNT, account_id):
            account_id = ids.account_id()
        store.put(
            ACCOUNT,
            account_id,
            {"Id": account_id, "Name": name, "CreatedAt": clock.now_iso8601(), **({"Default": True} if default else {})},
            expect_version=0,
        )
        admin = iam.create_user(store, account_id, ADMIN_USER)
        admin["AttachedPolicies"] = [ADMINISTRATOR_ACCESS]
        store.put(iam.USER, iam.user_key(account_id, ADMIN_USER), admin, expect_version=1)
        key = iam.create_access_key(store, account_id, ADMIN_USER)
        _give_admin_mfa(store, account_id)
    return NewAccount(account_id, name, key["AccessKeyId"], key["SecretAccessKey"])


def default_account(store: Store) -> dict[str, Any] | None:
    accounts = list_accounts(store)
    return accounts[0] if accounts else None


def _give_admin_mfa(store: Store, account_id: str) -> None:
    """The admin's MFA device, remembered on the account (`AdminMfaSerial`)."""
    rec = store.get(ACCOUNT, account_id)
    assert rec is not None
    device = mfa.enabled_device(store, account_id, ADMIN_USER)
    store.put(ACCOUNT, account_id, {**rec.value, "AdminMfaSerial": device["SerialNumber"]}, expect_version=rec.version)


def admin_mfa_device(store: Store, account_id: str) -> dict[str, Any] | None:
    """The admin's MFA device while it is still enabled for the admin (a user may
    deactivate or delete it like any other), its Seed opened for the CLI's codes."""
    account = get_account(store, account_id)
    serial = account.get("AdminMfaSerial") if account else None
    rec = store.get(iam.MFA, serial) if serial else None
    if rec is None or rec.value.get("UserName") != ADMIN_USER:
        return None
    return {**rec.value, mfa.SEED: mfa.seed_of(store, rec.value)}


def bootstrap(store: Store) -> NewAccount | None:
    """Create the first account on first start; None when one already exists.
    Accounts made before admins had MFA devices get theirs here, once."""
    first = default_account(store)
    if first:
        if not first.get("Default"):  # a data dir from before the mark: the earliest account gets it
            with store.transaction():
                rec = store.get(ACCOUNT, first["Id"])
                assert rec is not None
                store.put(ACCOUNT, first["Id"], {**rec.value, "Default": True}, expect_version=rec.version)
        for account in list_accounts(store):
            if "AdminMfaSerial" not in account and store.get(iam.MFA, iam.mfa_arn(account["Id"], ADMIN_USER)) is None:
                with store.transaction():
                    _give_admin_mfa(store, account["Id"])
        return None
    return create_account(store, "default", default=True)
