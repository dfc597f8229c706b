"""Sealed record fields (crypto/fields.py), session token digests, and the start-up
sealing of credentials a data dir from before sealing holds in plaintext."""

from __future__ import annotations

import base64
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from cryptography.exceptions import InvalidTag

from skyhold import accounts, identity
from skyhold.auth.credentials import Credential, token_sha256
from skyhold.crypto import fields
from skyhold.services.iam import mfa, totp
from skyhold.services.iam import records as iam
from skyhold.services.sts import sessions
from skyhold.store import SqliteStore, open_store


@pytest.fixture
def store(tmp_path: Path) -> Iterator[SqliteStore]:
    s, _ = open_store(tmp_path / "data")
    yield s
    s.close()


def test_a_sealed_field_holds_no_plaintext_and_opens_only_with_its_own_aad(tmp_path: Path) -> None:
    record: dict[str, Any] = {"Secret": "legacy"}
    fields.seal(tmp_path, record, "Secret", "hunter2-but-longer", b"record 1")
    assert "Secret" not in record and set(record) == {"SealedSecret"}
    assert b"hunter2" not in base64.b64decode(record["SealedSecret"])
    assert fields.reveal(tmp_path, record, "Secret", b"record 1") == "hunter2-but-longer"
    with pytest.raises(InvalidTag):  # moved to another record, it does not open
        fields.reveal(tmp_path, record, "Secret", b"record 2")
    other_dir = tmp_path / "other"
    other_dir.mkdir()
    with pytest.raises(InvalidTag):  # nor with another data dir's root key
        fields.reveal(other_dir, record, "Secret", b"record 1")


def test_a_plaintext_field_from_before_sealing_is_read_and_sealed_once(tmp_path: Path) -> None:
    legacy = {"Id": "k1", "Secret": "plain"}
    assert fields.reveal(tmp_path, legacy, "Secret", b"k1") == "plain"
    sealed = fields.seal_plaintext(tmp_path, legacy, "Secret", b"k1")
    assert sealed is not None and "Secret" not in sealed and sealed["Id"] == "k1"
    assert legacy == {"Id": "k1", "Secret": "plain"}  # a copy: the caller decides to store it
    assert fields.reveal(tmp_path, sealed, "Secret", b"k1") == "plain"
    assert fields.seal_plaintext(tmp_path, sealed, "Secret", b"k1") is None
    assert fields.seal_plaintext(tmp_path, {"Id": "k2"}, "Secret", b"k2") is None


def test_the_data_dir_of_a_store_is_where_its_database_lives(store: SqliteStore) -> None:
    assert fields.data_dir_of(store) == store.path.parent
    with pytest.raises(TypeError):
        fields.data_dir_of(object())  # type: ignore[arg-type]


def test_a_token_kept_as_a_digest_matches_only_itself() -> None:
    digested = Credential("ASIAX", "s", session_token_sha256=token_sha256("tok-1"))
    assert digested.temporary and digested.token_matches("tok-1")
    assert not digested.token_matches("tok-2") and not digested.token_matches(None)
    assert not digested.token_matches("tök\udcff")  # any text a client sends is compared, not raised on
    plain = Credential("ASIAY", "s", session_token="tok-1")
    assert plain.temporary and plain.token_matches("tok-1") and not plain.token_matches("tok-1x")
    long_term = Credential("AKIAZ", "s")
    assert not long_term.temporary and not long_term.token_matches("tok-1")


def _plaintext(store: SqliteStore, kind: str, key: str, plain: dict[str, str]) -> None:
    rec = store.get(kind, key)
    assert rec is not None
    value = {k: v for k, v in rec.value.items() if not k.startswith("Sealed") and k != sessions.TOKEN_DIGEST}
    store.put(kind, key, {**value, **plain})


def test_credentials_stored_in_plaintext_work_and_are_sealed_at_start(store: SqliteStore) -> None:
    new = accounts.create_account(store, "legacy", default=True)
    device = accounts.admin_mfa_device(store, new.account_id)
    assert device is not None and totp.code(device[mfa.SEED], 1)  # opened for the CLI
    issued = sessions.issue(store, sessions.NewSession(
        type="IAMUser", account=new.account_id, arn=f"arn:aws:iam::{new.account_id}:user/admin",
        user_id="AIDAEXAMPLE", name="admin", duration=3600))
    _plaintext(store, iam.ACCESS_KEY, new.admin_access_key_id, {"SecretAccessKey": new.admin_secret_access_key})
    _plaintext(store, iam.MFA, device["SerialNumber"], {"Seed": device[mfa.SEED]})
    _plaintext(store, sessions.SESSION, issued["AccessKeyId"],
               {"SecretAccessKey": issued["SecretAccessKey"], "SessionToken": issued["SessionToken"]})

    def check() -> None:
        lookup = identity.make_lookup(store)
        key = lookup(new.admin_access_key_id)
        assert key is not None and key.secret_access_key == new.admin_secret_access_key
        session = lookup(issued["AccessKeyId"])
        assert session is not None and session.secret_access_key == issued["SecretAccessKey"]
        assert session.token_matches(issued["SessionToken"]) and not session.token_matches(issued["SessionToken"][1:])
        again = accounts.admin_mfa_device(store, new.account_id)
        assert again is not None and again[mfa.SEED] == device[mfa.SEED]

    check()  # read as they are
    assert identity.seal_stored_credentials(store) == 3
    text = "".join(str(r.value) for kind in (iam.ACCESS_KEY, iam.MFA, sessions.SESSION) for r in store.scan(kind))
    for secret in (new.admin_secret_access_key, device[mfa.SEED], issued["SecretAccessKey"], issued["SessionToken"]):
        assert secret not in text
    check()  # and once sealed
    assert identity.seal_stored_credentials(store) == 0  # nothing left to seal
