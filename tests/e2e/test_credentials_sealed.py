"""Credentials at rest: the database holds no access key secret, MFA seed, session
secret or session token in plaintext, and every credential keeps working — across a
restart, and for a data dir written before sealing (sealed when Skyhold starts)."""

from __future__ import annotations

import base64
import json
import sqlite3
import uuid
from pathlib import Path
from typing import Any

import boto3
from botocore.config import Config

from . import totp
from .conftest import AwsEnv, Server, aws_error, own_server


def _unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def _stored(srv: Server) -> bytes:
    """The raw database files, as a copy of the data dir would hold them."""
    return b"".join((srv.data_dir / n).read_bytes() for n in ("skyhold.db", "skyhold.db-wal")
                    if (srv.data_dir / n).exists())


def _client(srv: Server, creds: dict[str, Any], service: str = "sts") -> Any:
    return boto3.client(service, endpoint_url=srv.endpoint, region_name="us-east-1",
                        aws_access_key_id=creds["AccessKeyId"], aws_secret_access_key=creds["SecretAccessKey"],
                        aws_session_token=creds.get("SessionToken"), config=Config(retries={"max_attempts": 1}))


def _secrets(seed: str, *creds: dict[str, Any]) -> list[bytes]:
    """What must not be at rest: the seed (Base32 and raw) and every secret and token."""
    found = [seed.encode(), base64.b32decode(seed + "=" * (-len(seed) % 8))]
    for c in creds:
        found.append(c["SecretAccessKey"].encode())
        if "SessionToken" in c:
            found.append(c["SessionToken"].encode())
    return found


def _user_with_mfa(env: AwsEnv) -> dict[str, Any]:
    """A user with a key and an enabled virtual MFA device; the last step used."""
    iam: Any = env.client("iam")
    name = _unique("sealed")
    arn = iam.create_user(UserName=name)["User"]["Arn"]
    key = iam.create_access_key(UserName=name)["AccessKey"]
    serial, seed, step = totp.enable_virtual_device(iam, name, name)
    git = iam.create_service_specific_credential(UserName=name, ServiceName="codecommit.amazonaws.com")
    return {"name": name, "arn": arn, "key": key, "serial": serial, "seed": seed, "step": step,
            "git": git["ServiceSpecificCredential"]}


def _role_session(env: AwsEnv) -> dict[str, Any]:
    iam: Any = env.client("iam")
    account = env.client("sts").get_caller_identity()["Account"]  # type: ignore[attr-defined]
    name = _unique("sealed-role")
    trust = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole",
                                                     "Principal": {"AWS": f"arn:aws:iam::{account}:root"}}]}
    role_arn = iam.create_role(RoleName=name, AssumeRolePolicyDocument=json.dumps(trust))["Role"]["Arn"]
    sts: Any = env.client("sts")
    return dict(sts.assume_role(RoleArn=role_arn, RoleSessionName="sealed")["Credentials"])


def _all_work(srv: Server, user: dict[str, Any], mfa_session: dict[str, Any], role_session: dict[str, Any]) -> None:
    assert _client(srv, user["key"]).get_caller_identity()["Arn"] == user["arn"]
    assert _client(srv, mfa_session).get_caller_identity()["Arn"] == user["arn"]
    assert ":assumed-role/" in _client(srv, role_session).get_caller_identity()["Arn"]
    # The token is checked (against its digest): a wrong one is refused.
    forged = {**role_session, "SessionToken": role_session["SessionToken"][:-4] + "AAAA"}
    assert aws_error(lambda: _client(srv, forged).get_caller_identity())[0] == "InvalidClientTokenId"


def test_credentials_are_sealed_and_keep_working_across_a_restart(tmp_path: Path) -> None:
    with own_server(tmp_path) as (srv, env):
        user = _user_with_mfa(env)
        user_sts = _client(srv, user["key"])
        mfa_session = dict(user_sts.get_session_token(
            SerialNumber=user["serial"], TokenCode=totp.code(user["seed"], user["step"] + 1))["Credentials"])
        role_session = _role_session(env)
        admin_secret = env.credentials().secret_key

        secrets = [admin_secret.encode(), user["git"]["ServicePassword"].encode(),
                   *_secrets(user["seed"], user["key"], mfa_session, role_session)]
        stored = _stored(srv)
        assert not [s for s in secrets if s in stored]
        _all_work(srv, user, mfa_session, role_session)

        srv.stop()
        srv.start()
        _all_work(srv, user, mfa_session, role_session)
        # The seed opens after the restart: codes of the device resync it; wrong ones do not.
        iam: Any = env.client("iam")
        step = user["step"] + 2
        assert aws_error(lambda: iam.resync_mfa_device(
            UserName=user["name"], SerialNumber=user["serial"],
            AuthenticationCode1="000000" if totp.code(user["seed"], step) != "000000" else "111111",
            AuthenticationCode2=totp.code(user["seed"], step + 1)))[0] == "InvalidAuthenticationCode"
        iam.resync_mfa_device(UserName=user["name"], SerialNumber=user["serial"],
                              AuthenticationCode1=totp.code(user["seed"], step),
                              AuthenticationCode2=totp.code(user["seed"], step + 1))
        stored = _stored(srv)
        assert not [s for s in secrets if s in stored]


def _to_plaintext(srv: Server, user: dict[str, Any], sessions: list[dict[str, Any]], admin_key_id: str) -> None:
    """Rewrite the records as a Skyhold from before sealing kept them (server stopped)."""
    from skyhold import accounts, upgrades
    from skyhold.services.iam import records as iam
    from skyhold.services.sts import sessions as sts
    from skyhold.store import open_store

    store, _ = open_store(srv.data_dir)
    try:
        def legacy(kind: str, key: str, plain: dict[str, str]) -> None:
            rec = store.get(kind, key)
            assert rec is not None
            value = {k: v for k, v in rec.value.items() if not k.startswith("Sealed") and not k.endswith("Sha256")}
            store.put(kind, key, {**value, **plain})

        admin_key = store.get(iam.ACCESS_KEY, admin_key_id)
        assert admin_key is not None
        legacy(iam.ACCESS_KEY, admin_key_id, {"SecretAccessKey": iam.secret_access_key(store, admin_key.value)})
        legacy(iam.ACCESS_KEY, user["key"]["AccessKeyId"], {"SecretAccessKey": user["key"]["SecretAccessKey"]})
        legacy(iam.MFA, user["serial"], {"Seed": user["seed"]})
        legacy(iam.SERVICE_CREDENTIAL, user["git"]["ServiceSpecificCredentialId"],
               {"ServicePassword": user["git"]["ServicePassword"]})
        account = accounts.default_account(store)
        assert account is not None
        admin_device = accounts.admin_mfa_device(store, account["Id"])  # the CLI signs in with it
        assert admin_device is not None
        legacy(iam.MFA, admin_device["SerialNumber"], {"Seed": admin_device["Seed"]})
        for s in sessions:
            legacy(sts.SESSION, s["AccessKeyId"], {"SecretAccessKey": s["SecretAccessKey"],
                                                   "SessionToken": s["SessionToken"]})
        upgrades.forget(store, upgrades.SEAL_CREDENTIALS)
    finally:
        store.close()


def _values(srv: Server) -> str:
    db = sqlite3.connect(f"file:{srv.data_dir}/skyhold.db?mode=ro", uri=True)
    try:
        return "\n".join(v for (v,) in db.execute("select value from records"))
    finally:
        db.close()


def test_a_data_dir_from_before_sealing_keeps_working_and_is_sealed_at_start(tmp_path: Path) -> None:
    with own_server(tmp_path) as (srv, env):
        user = _user_with_mfa(env)
        mfa_session = dict(_client(srv, user["key"]).get_session_token(
            SerialNumber=user["serial"], TokenCode=totp.code(user["seed"], user["step"] + 1))["Credentials"])
        role_session = _role_session(env)
        admin = env.credentials()
        srv.stop()
        _to_plaintext(srv, user, [mfa_session, role_session], admin.access_key)
        secrets = [admin.secret_key, user["key"]["SecretAccessKey"], user["seed"], user["git"]["ServicePassword"],
                   mfa_session["SecretAccessKey"], mfa_session["SessionToken"],
                   role_session["SecretAccessKey"], role_session["SessionToken"]]
        assert all(s in _values(srv) for s in secrets)  # the legacy form this test means to write

        srv.start()
        assert not [s for s in secrets if s in _values(srv)]
        raw = _stored(srv)  # nor in the files: no old WAL frame or freed page keeps them
        assert not [s for s in secrets if s.encode() in raw]
        _all_work(srv, user, mfa_session, role_session)
        assert env.client("sts").get_caller_identity()["Arn"].endswith(":user/admin")  # type: ignore[attr-defined]
        # `skyhold credentials` opens the admin's key and MFA seed from the data dir.
        out = srv.cli("credentials", "--endpoint", srv.endpoint)
        assert out.returncode == 0, out.stderr
        issued = json.loads(out.stdout)
        assert issued["AccessKeyId"].startswith("ASIA")
        assert _client(srv, issued).get_caller_identity()["Arn"].endswith(":user/admin")
        iam: Any = _client(srv, issued, "iam")  # IAM answers it: GetSessionToken had the admin's MFA
        assert iam.get_user()["User"]["UserName"] == "admin"
        # The seed of the legacy device still opens: its codes resync it.
        step = user["step"] + 2
        env.client("iam").resync_mfa_device(  # type: ignore[attr-defined]
            UserName=user["name"], SerialNumber=user["serial"],
            AuthenticationCode1=totp.code(user["seed"], step), AuthenticationCode2=totp.code(user["seed"], step + 1))
