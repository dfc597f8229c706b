"""IAM records in the store: what IAM keeps, under which kind and key.

Kinds and keys (one home for these names). IAM names are case-insensitive and
unique per account, so account-scoped keys use the lower-cased name:
  iam.user              "<account>/<user name, lower>"
  iam.group             "<account>/<group name, lower>"
  iam.role              "<account>/<role name, lower>"
  iam.policy            "<account>/<policy name, lower>"   customer managed policies
  iam.instance-profile  "<account>/<profile name, lower>"
  iam.login-profile     "<account>/<user name, lower>"
  iam.mfa               "<serial number ARN>"               virtual MFA devices
  iam.oidc-provider     "<provider ARN>"
  iam.access-key        "<access key id>"
  iam.service-credential "<service-specific credential id>"
  iam.password-policy   "<account>"
  iam.alias             "<alias>"                            aliases are global
  iam.credential-report "<account>"
  iam.slr-deletion-task "<deletion task id>"            DeleteServiceLinkedRole

An access key's SecretAccessKey is stored only sealed with the data dir's root key
(crypto/fields.py): `create_access_key` answers it once, `secret_access_key` opens it.

Timestamps are stored as ISO-8601 text (`clock.iso8601`) and turned back into
datetimes by the handlers. Inline policies and attachments live on the identity
that owns them (`Policies`: name → document text, `AttachedPolicies`: [ARN]); a
user's group memberships live on the user (`Groups`: [group name]).
"""

from __future__ import annotations

from typing import Any

from skyhold import arn, clock, ids
from skyhold.crypto import fields
from skyhold.store.base import Store

USER = "iam.user"
GROUP = "iam.group"
ROLE = "iam.role"
POLICY = "iam.policy"
INSTANCE_PROFILE = "iam.instance-profile"
LOGIN_PROFILE = "iam.login-profile"
MFA = "iam.mfa"
OIDC_PROVIDER = "iam.oidc-provider"
ACCESS_KEY = "iam.access-key"
SERVICE_CREDENTIAL = "iam.service-credential"
PASSWORD_POLICY = "iam.password-policy"
ALIAS = "iam.alias"
CREDENTIAL_REPORT = "iam.credential-report"
SLR_DELETION_TASK = "iam.slr-deletion-task"

SECRET_FIELD = "SecretAccessKey"  # of an access key; stored sealed


def name_key(account: str, name: str) -> str:
    return f"{account}/{name.lower()}"


def user_key(account: str, name: str) -> str:
    return name_key(account, name)


def account_prefix(account: str) -> str:
    return f"{account}/"


def create_user(
    store: Store,
    account: str,
    name: str,
    path: str = "/",
    *,
    tags: list[dict[str, str]] | None = None,
    permissions_boundary: str | None = None,
) -> dict[str, Any]:
    user: dict[str, Any] = {
        "UserName": name,
        "UserId": ids.user_id(),
        "Arn": arn.user(account, name, path),
        "Path": path,
        "CreateDate": clock.now_iso8601(),
        "Account": account,
        "Tags": tags or [],
        "Policies": {},
        "AttachedPolicies": [],
        "Groups": [],
    }
    if permissions_boundary:
        user["PermissionsBoundary"] = permissions_boundary
    store.put(USER, user_key(account, name), user, expect_version=0)
    return user


def get_user(store: Store, account: str, name: str) -> dict[str, Any] | None:
    rec = store.get(USER, user_key(account, name))
    return rec.value if rec else None


def create_access_key(store: Store, account: str, user_name: str) -> dict[str, Any]:
    """A new key, stored with its secret sealed; returned with the secret in plaintext
    (the only time anyone sees it, as on AWS)."""
    key_id, secret = ids.access_key_id(), ids.secret_access_key()
    key: dict[str, Any] = {
        "AccessKeyId": key_id,
        "Status": "Active",
        "UserName": user_name,
        "Account": account,
        "CreateDate": clock.now_iso8601(),
    }
    fields.seal(fields.data_dir_of(store), key, SECRET_FIELD, secret, _key_aad(key_id))
    store.put(ACCESS_KEY, key_id, key, expect_version=0)
    return {**key, SECRET_FIELD: secret}


def _key_aad(key_id: str) -> bytes:
    return b"skyhold iam access key " + key_id.encode()


def secret_access_key(store: Store, key: dict[str, Any]) -> str:
    """The plaintext secret of a stored access key (sealed, or plaintext from before)."""
    return fields.reveal(fields.data_dir_of(store), key, SECRET_FIELD, _key_aad(key["AccessKeyId"]))


def revealed_key(store: Store, key: dict[str, Any]) -> dict[str, Any]:
    """A stored key with its secret opened, for the CLI that signs with it; never store it."""
    return {**key, SECRET_FIELD: secret_access_key(store, key)}


def seal_plaintext_keys(store: Store) -> int:
    """Seal the secrets of keys stored before sealing existed (at start-up); how many."""
    data_dir, sealed = fields.data_dir_of(store), 0
    for rec in store.scan(ACCESS_KEY):
        value = fields.seal_plaintext(data_dir, rec.value, SECRET_FIELD, _key_aad(rec.key))
        if value is not None:
            store.put(ACCESS_KEY, rec.key, value, expect_version=rec.version)
            sealed += 1
    return sealed


def access_keys_of(store: Store, account: str, user_name: str) -> list[dict[str, Any]]:
    # A small scan: keys are few; IAM caps them at two per user.
    return [
        r.value
        for r in store.scan(ACCESS_KEY)
        if r.value["Account"] == account and r.value["UserName"].lower() == user_name.lower()
    ]


def service_credentials_of(store: Store, account: str, user_name: str) -> list[dict[str, Any]]:
    # A small scan, as for access keys: IAM caps them at two per user per service.
    return [
        r.value
        for r in store.scan(SERVICE_CREDENTIAL)
        if r.value["Account"] == account and r.value["UserName"].lower() == user_name.lower()
    ]


def mfa_devices_of(store: Store, account: str, owner: str) -> list[str]:
    """Serial numbers of the MFA devices enabled for user `owner` ("<root_account>": root)."""
    return [r.key for r in store.scan(MFA, f"arn:aws:iam::{account}:")
            if (r.value.get("UserName") or "").lower() == owner.lower()]


def in_account(store: Store, kind: str, account: str) -> list[dict[str, Any]]:
    """Every record of an account-scoped kind, ordered by (lower-cased) name."""
    return [r.value for r in store.scan(kind, account_prefix(account))]


def principal_tags(entity: dict[str, Any]) -> dict[str, str]:
    """A user's or role's Tags as its aws:PrincipalTag values."""
    return {t["Key"]: t["Value"] for t in entity.get("Tags") or []}


def role_arn(account: str, name: str, path: str = "/") -> str:
    return arn.iam(account, f"role{path}{name}")


def group_arn(account: str, name: str, path: str = "/") -> str:
    return arn.iam(account, f"group{path}{name}")


def policy_arn(account: str, name: str, path: str = "/") -> str:
    return arn.iam(account, f"policy{path}{name}")


def instance_profile_arn(account: str, name: str, path: str = "/") -> str:
    return arn.iam(account, f"instance-profile{path}{name}")


def mfa_arn(account: str, name: str, path: str = "/") -> str:
    return arn.iam(account, f"mfa{path}{name}")


def oidc_provider_arn(account: str, url_without_scheme: str) -> str:
    return arn.iam(account, f"oidc-provider/{url_without_scheme}")


ROOT_MFA_NAME = "root-account-mfa-device"
# How IAM names the root user where a user name goes (credential report, MFA owner).
ROOT_USER = "<root_account>"
