"""Temporary credentials: STS sessions in the store, and the Principal each one is.

Kind `sts.session`, key = the temporary access key id (ASIA…). A session records who
it is (assumed role, federated user, or an IAM user/root via GetSessionToken), when
it was issued and expires, and everything the policy engine needs about it: session
policies, tags, MFA, source identity.

Its secrets are not kept as issued: the SecretAccessKey is sealed with the data dir's
root key (crypto/fields.py, opened when the credential lookup fills its cache), and of
the SessionToken, which Skyhold only ever compares with the one a request presents,
only its SHA-256 is kept.
"""

from __future__ import annotations

import base64
import secrets
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any

from skyhold import clock, ids
from skyhold import principal as p
from skyhold.auth.credentials import Credential, token_sha256
from skyhold.crypto import fields
from skyhold.store.base import Store

SESSION = "sts.session"
SECRET = "SecretAccessKey"  # stored sealed
TOKEN = "SessionToken"  # a plaintext one only in records from before digests
TOKEN_DIGEST = "SessionTokenSha256"  # hex


def _secret_aad(key_id: str) -> bytes:
    return b"skyhold sts session secret " + key_id.encode()


@dataclass
class NewSession:
    """What a handler asks for; `issue` fills the secrets and times."""

    type: str  # principal type: AssumedRole, FederatedUser, IAMUser, Root
    account: str
    arn: str
    user_id: str
    name: str
    duration: int
    role_name: str = ""
    role_arn: str = ""
    source_user: str = ""  # the IAM user behind GetSessionToken/GetFederationToken
    # That user's ARN and unique id: resource policies naming the user (bound to its id)
    # grant its federated users too.
    source_user_arn: str = ""
    source_user_id: str = ""
    policies: list[str] = field(default_factory=list)
    tags: dict[str, str] = field(default_factory=dict)
    transitive_tag_keys: list[str] = field(default_factory=list)
    mfa: bool = False
    mfa_time: float | None = None
    source_identity: str | None = None
    chained: bool = False
    # Request-context keys every call of the session carries (for instance-profile
    # sessions: ec2:SourceInstanceARN, aws:Ec2InstanceSourceVpc, …).
    context: dict[str, str] = field(default_factory=dict)


def session_token() -> str:
    # Opaque to clients; long like AWS's (which are ~350-1000 base64 characters).
    return base64.b64encode(b"\x02skyhold" + secrets.token_bytes(240)).decode()


def issue(store: Store, new: NewSession) -> dict[str, Any]:
    """Store a session; returns botocore's `Credentials` shape."""
    now = clock.now().replace(microsecond=0)
    expires = now + timedelta(seconds=new.duration)
    key_id, secret, token = ids.temporary_access_key_id(), ids.secret_access_key(), session_token()
    record: dict[str, Any] = {
        "AccessKeyId": key_id,
        TOKEN_DIGEST: token_sha256(token).hex(),
        "Expiration": clock.iso8601(expires),
        "IssuedAt": clock.iso8601(now),
        "Type": new.type,
        "Account": new.account,
        "Arn": new.arn,
        "UserId": new.user_id,
        "Name": new.name,
        "RoleName": new.role_name,
        "RoleArn": new.role_arn,
        "SourceUser": new.source_user,
        "SourceUserArn": new.source_user_arn,
        "SourceUserId": new.source_user_id,
        "Policies": new.policies,
        "Tags": new.tags,
        "TransitiveTagKeys": new.transitive_tag_keys,
        "Mfa": new.mfa,
        "MfaTime": new.mfa_time,
        "SourceIdentity": new.source_identity,
        "Chained": new.chained,
        "Context": new.context,
    }
    fields.seal(fields.data_dir_of(store), record, SECRET, secret, _secret_aad(key_id))
    store.put(SESSION, key_id, record, expect_version=0)
    return {"AccessKeyId": key_id, "SecretAccessKey": secret, "SessionToken": token, "Expiration": expires}


def principal_of(rec: dict[str, Any]) -> p.Principal:
    session = {
        "role_name": rec["RoleName"],
        "role_arn": rec["RoleArn"],
        "source_user": rec["SourceUser"],
        "source_user_arn": rec.get("SourceUserArn", ""),  # absent from older records
        "source_user_id": rec.get("SourceUserId", ""),
        "policies": rec["Policies"],
        "tags": rec["Tags"],
        "transitive_tag_keys": rec["TransitiveTagKeys"],
        "mfa": rec["Mfa"],
        "mfa_time": rec["MfaTime"],
        "issued_at": rec["IssuedAt"],
        "expiration": rec["Expiration"],
        "source_identity": rec["SourceIdentity"],
        "context": rec.get("Context") or {},
        "temporary": True,
    }
    return p.Principal(
        type=rec["Type"],
        account=rec["Account"],
        arn=rec["Arn"],
        user_id=rec["UserId"],
        name=rec["Name"],
        access_key_id=rec["AccessKeyId"],
        session=session,
    )


def credential(store: Store, access_key_id: str) -> Credential | None:
    """The Credential of a temporary key, for the authentication layer (which caches
    it: the secret is unsealed once per cache fill)."""
    rec = store.get(SESSION, access_key_id)
    if rec is None:
        return None
    value = rec.value
    return Credential(
        access_key_id=access_key_id,
        secret_access_key=fields.reveal(fields.data_dir_of(store), value, SECRET, _secret_aad(access_key_id)),
        session_token_sha256=_token_digest(value),
        expiration=datetime.fromisoformat(value["Expiration"].replace("Z", "+00:00")).astimezone(timezone.utc),
        principal=principal_of(value),
    )


def _token_digest(value: dict[str, Any]) -> bytes:
    if TOKEN_DIGEST in value:
        return bytes.fromhex(value[TOKEN_DIGEST])
    return token_sha256(value[TOKEN])  # a session stored before digests


def find(store: Store, access_key_id: str) -> dict[str, Any] | None:
    rec = store.get(SESSION, access_key_id)
    return rec.value if rec else None


def seal_plaintext(store: Store) -> int:
    """Seal the secrets (and digest the tokens) of sessions stored before sealing
    existed, at start-up; how many."""
    data_dir, sealed = fields.data_dir_of(store), 0
    for rec in store.scan(SESSION):
        value = fields.seal_plaintext(data_dir, rec.value, SECRET, _secret_aad(rec.key))
        if value is None and TOKEN not in rec.value:
            continue
        value = value or dict(rec.value)
        if TOKEN in value:
            value[TOKEN_DIGEST] = token_sha256(value.pop(TOKEN)).hex()
        store.put(SESSION, rec.key, value, expect_version=rec.version)
        sealed += 1
    return sealed
