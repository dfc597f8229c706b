"""KMS grants as records of their own: a key with many grants pages them with the SDK's
paginator, its grantees use it, and a data dir from a Skyhold that kept grants inside
their key's record is converted when Skyhold starts."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any


from .conftest import AwsEnv, Server, aws_error, own_server


def _grantee(env: AwsEnv) -> tuple[str, Any]:
    """A new IAM user with no policy of its own (a grant is all it has), and its KMS client."""
    key = env.new_user()
    sts = env.client_for(key, "sts")
    return sts.get_caller_identity()["Arn"], env.client_for(key, "kms")


def test_many_grants_page_and_each_grantee_uses_its_own(admin: AwsEnv) -> None:
    kms: Any = admin.client("kms")
    account = admin.client("sts").get_caller_identity()["Account"]  # type: ignore[attr-defined]
    key_id = kms.create_key()["KeyMetadata"]["KeyId"]
    made = {kms.create_grant(KeyId=key_id, GranteePrincipal=f"arn:aws:iam::{account}:user/g{i % 7}",
                             Operations=["Encrypt"], RetiringPrincipal=f"arn:aws:iam::{account}:root")["GrantId"]
            for i in range(120)}
    user_arn, user_kms = _grantee(admin)
    grant = kms.create_grant(KeyId=key_id, GranteePrincipal=user_arn, Operations=["Encrypt", "Decrypt"],
                             Constraints={"EncryptionContextSubset": {"team": "a"}}, Name="app-grant")
    again = kms.create_grant(KeyId=key_id, GranteePrincipal=user_arn, Operations=["Encrypt", "Decrypt"],
                             Constraints={"EncryptionContextSubset": {"team": "a"}}, Name="app-grant")
    assert again["GrantId"] == grant["GrantId"]  # same name, same grant
    # ...but only for identical parameters (the model's Name: "retry ... with identical parameters")
    narrower = kms.create_grant(KeyId=key_id, GranteePrincipal=user_arn, Operations=["Encrypt", "Decrypt"],
                                Constraints={"EncryptionContextSubset": {"team": "b"}}, Name="app-grant")
    retiring = kms.create_grant(KeyId=key_id, GranteePrincipal=user_arn, Operations=["Encrypt", "Decrypt"],
                                Constraints={"EncryptionContextSubset": {"team": "a"}}, Name="app-grant",
                                RetiringPrincipal=f"arn:aws:iam::{account}:root")
    assert len({grant["GrantId"], narrower["GrantId"], retiring["GrantId"]}) == 3
    for extra in (narrower, retiring):
        kms.revoke_grant(KeyId=key_id, GrantId=extra["GrantId"])
    pages = list(kms.get_paginator("list_grants").paginate(KeyId=key_id, PaginationConfig={"PageSize": 50}))
    listed = [g["GrantId"] for p in pages for g in p["Grants"]]
    assert [len(p["Grants"]) for p in pages] == [50, 50, 21] and set(listed) == made | {grant["GrantId"]}
    mine = kms.list_grants(KeyId=key_id, GranteePrincipal=user_arn)["Grants"]
    assert [g["GrantId"] for g in mine] == [grant["GrantId"]] and mine[0]["Name"] == "app-grant"
    blob = user_kms.encrypt(KeyId=key_id, Plaintext=b"p", EncryptionContext={"team": "a", "x": "1"})["CiphertextBlob"]
    assert user_kms.decrypt(CiphertextBlob=blob, EncryptionContext={"team": "a", "x": "1"})["Plaintext"] == b"p"
    assert aws_error(lambda: user_kms.encrypt(KeyId=key_id, Plaintext=b"p", EncryptionContext={"team": "b"}))[0] == \
        "AccessDeniedException"
    kms.revoke_grant(KeyId=key_id, GrantId=grant["GrantId"])
    assert aws_error(lambda: user_kms.decrypt(CiphertextBlob=blob, EncryptionContext={"team": "a", "x": "1"}))[0] \
        == "AccessDeniedException"
    assert kms.list_grants(KeyId=key_id, GranteePrincipal=user_arn)["Grants"] == []


def _grants_inside_keys(srv: Server) -> None:
    """Rewrite the data dir as a Skyhold that kept grants in their key's record left it
    (server stopped)."""
    from skyhold import upgrades
    from skyhold.services.kms import grants
    from skyhold.services.kms import records as r
    from skyhold.store import open_store

    store, _ = open_store(srv.data_dir)
    try:
        inside: dict[str, list[dict[str, Any]]] = {}
        for rec in store.scan(grants.GRANT):
            inside.setdefault(rec.key.split("/")[0], []).append(rec.value)
        for kind in (grants.GRANT, grants.BY_GRANTEE, grants.BY_RETIRING, grants.BY_TOKEN):
            for rec in store.scan(kind):
                store.delete(kind, rec.key)
        for key_id, kept in inside.items():
            key = store.get(r.KEY, key_id)
            assert key is not None
            store.put(r.KEY, key_id, {**key.value, "Grants": kept})
        upgrades.forget(store, upgrades.GRANT_RECORDS)
    finally:
        store.close()


def test_a_data_dir_with_grants_inside_keys_keeps_them(tmp_path: Path) -> None:
    with own_server(tmp_path) as (srv, env):
        kms: Any = env.client("kms")
        key_id = kms.create_key()["KeyMetadata"]["KeyId"]
        user_arn, user_kms = _grantee(env)
        retirer = f"arn:aws:iam::{user_arn.split(':')[4]}:user/nobody-{uuid.uuid4().hex[:6]}"
        grant = kms.create_grant(KeyId=key_id, GranteePrincipal=user_arn, Operations=["Encrypt", "Decrypt"],
                                 RetiringPrincipal=retirer)
        blob = user_kms.encrypt(KeyId=key_id, Plaintext=b"p")["CiphertextBlob"]
        srv.stop()
        _grants_inside_keys(srv)
        srv.start()
        assert [g["GrantId"] for g in kms.list_grants(KeyId=key_id)["Grants"]] == [grant["GrantId"]]
        assert user_kms.decrypt(CiphertextBlob=blob)["Plaintext"] == b"p"
        assert [g["GrantId"] for g in kms.list_retirable_grants(RetiringPrincipal=retirer)["Grants"]] == [
            grant["GrantId"]]
        kms.revoke_grant(KeyId=key_id, GrantId=grant["GrantId"])
        assert aws_error(lambda: user_kms.decrypt(CiphertextBlob=blob))[0] == "AccessDeniedException"
