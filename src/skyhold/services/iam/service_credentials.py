"""Service-specific credentials: a user name and password (CodeCommit Git over HTTPS,
Amazon Keyspaces) or an API key (Amazon Bedrock) that IAM generates for one IAM user
and one service. The password or key is shown by Create and Reset only, as an access
key's secret is by CreateAccessKey; IAM allows two per user per service. Skyhold
never needs it back: the record keeps only its SHA-256 (`SecretSha256`).
"""

from __future__ import annotations

import base64
import hashlib
import secrets
import string
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from skyhold import clock, ids
from skyhold import principal as p
from skyhold.services.iam import common, errors, records
from skyhold.store.base import Store

if TYPE_CHECKING:
    from skyhold.pipeline import Call

# Services whose credential is a user name and password.
PASSWORD_SERVICES = frozenset({"codecommit.amazonaws.com", "cassandra.amazonaws.com"})
# Services whose credential is an API key: the prefix of the key's text.
API_KEY_PREFIX = {"bedrock.amazonaws.com": "ABSK"}
SERVICES = PASSWORD_SERVICES | frozenset(API_KEY_PREFIX)

PER_USER_PER_SERVICE = 2

_ALIAS_SUFFIX = string.ascii_lowercase + string.digits
# The secret's field in the answer (and, before digests, in the record).
_SECRET_FIELDS = ("ServicePassword", "ServiceCredentialSecret")


def _require_service(name: str) -> str:
    if name not in SERVICES:
        raise errors.no_such_entity(f"No such service {name} is supported for Service Specific Credentials")
    return name


def _status(cred: dict[str, Any]) -> str:
    expires = common.dt(cred.get("ExpirationDate"))
    if expires is not None and expires <= clock.now():
        return "Expired"
    return cred["Status"]


def _view(cred: dict[str, Any], secret: dict[str, str] | None = None) -> dict[str, Any]:
    """ServiceSpecificCredential (with its new `secret`: Create/Reset) or …Metadata (List)."""
    out: dict[str, Any] = {
        "UserName": cred["UserName"],
        "Status": _status(cred),
        "CreateDate": common.dt(cred["CreateDate"]),
        "ServiceSpecificCredentialId": cred["ServiceSpecificCredentialId"],
        "ServiceName": cred["ServiceName"],
    }
    if cred.get("ExpirationDate"):
        out["ExpirationDate"] = common.dt(cred["ExpirationDate"])
    if "ServiceCredentialAlias" in cred:
        out["ServiceCredentialAlias"] = cred["ServiceCredentialAlias"]
    else:
        out["ServiceUserName"] = cred["ServiceUserName"]
    return {**out, **(secret or {})}


def _password() -> str:
    # 32 random bytes in base64 (44 characters), the form IAM's passwords take.
    return base64.b64encode(secrets.token_bytes(32)).decode()


def _new_secret(cred: dict[str, Any]) -> dict[str, str]:
    """A fresh password, or API key: the service's prefix and, in base64,
    "<alias>:<secret>" (the service reads the alias, which names the user, from it);
    `cred` keeps only its digest."""
    prefix = API_KEY_PREFIX.get(cred["ServiceName"])
    if prefix is None:
        field, secret = "ServicePassword", _password()
    else:
        token = f"{cred['ServiceCredentialAlias']}:{_password()}".encode()
        field, secret = "ServiceCredentialSecret", prefix + base64.b64encode(token).decode()
    for name in _SECRET_FIELDS:
        cred.pop(name, None)  # a plaintext one from before digests
    cred["SecretSha256"] = hashlib.sha256(secret.encode()).hexdigest()
    return {field: secret}


def digest_plaintext_secrets(store: Store) -> int:
    """Replace the plaintext secrets that credentials stored before digests hold by
    their digest (at start-up); how many."""
    done = 0
    for rec in store.scan(records.SERVICE_CREDENTIAL):
        plain = next((rec.value[f] for f in _SECRET_FIELDS if f in rec.value), None)
        if plain is not None:
            value = {k: v for k, v in rec.value.items() if k not in _SECRET_FIELDS}
            value["SecretSha256"] = hashlib.sha256(plain.encode()).hexdigest()
            store.put(records.SERVICE_CREDENTIAL, rec.key, value, expect_version=rec.version)
            done += 1
    return done


def _service_user_name(existing: list[dict[str, Any]], user_name: str, account: str) -> str:
    # The second credential of a user for a service is "<user>+1-at-<account>".
    taken = {c.get("ServiceUserName") for c in existing}
    plain = f"{user_name}-at-{account}"
    return plain if plain not in taken else f"{user_name}+1-at-{account}"


def create_service_specific_credential(call: Call, params: dict[str, Any]) -> dict[str, Any]:
    store, account = call.store, common.account_of(call)
    user, _ = common.require_user(store, account, params["UserName"])  # before the service, as IAM does
    service = _require_service(params["ServiceName"])
    name = user["UserName"]
    existing = [c for c in records.service_credentials_of(store, account, name) if c["ServiceName"] == service]
    if len(existing) >= PER_USER_PER_SERVICE:
        raise errors.quota("ServiceSpecificCredentialsPerUserPerService", PER_USER_PER_SERVICE)
    now = clock.now()
    cred: dict[str, Any] = {
        "ServiceSpecificCredentialId": ids.unique_id("ACCA"),
        "Account": account,
        "UserName": name,
        "ServiceName": service,
        "Status": "Active",
        "CreateDate": clock.iso8601(now),
    }
    if service in API_KEY_PREFIX:
        suffix = "".join(secrets.choice(_ALIAS_SUFFIX) for _ in range(8))
        cred["ServiceCredentialAlias"] = f"{name}-at-{account}-{suffix}"
        # CredentialAgeDays applies to API keys only; without it the key never expires.
        if params.get("CredentialAgeDays") is not None:
            cred["ExpirationDate"] = clock.iso8601(now + timedelta(days=params["CredentialAgeDays"]))
    else:
        cred["ServiceUserName"] = _service_user_name(existing, name, account)
    secret = _new_secret(cred)
    store.put(records.SERVICE_CREDENTIAL, cred["ServiceSpecificCredentialId"], cred, expect_version=0)
    return {"ServiceSpecificCredential": _view(cred, secret)}


def _require_credential(call: Call, params: dict[str, Any]) -> tuple[dict[str, Any], int]:
    account = common.account_of(call)
    user, _ = common.require_user(call.store, account, common.caller_user_name(call, params))
    cred_id = params["ServiceSpecificCredentialId"]
    rec = call.store.get(records.SERVICE_CREDENTIAL, cred_id)
    if rec is None or rec.value["Account"] != account or rec.value["UserName"].lower() != user["UserName"].lower():
        raise errors.no_such_entity(f"No such credential {cred_id} exists")
    return rec.value, rec.version


def update_service_specific_credential(call: Call, params: dict[str, Any]) -> dict[str, Any]:
    cred, version = _require_credential(call, params)
    cred["Status"] = params["Status"]
    call.store.put(records.SERVICE_CREDENTIAL, cred["ServiceSpecificCredentialId"], cred, expect_version=version)
    return {}


def reset_service_specific_credential(call: Call, params: dict[str, Any]) -> dict[str, Any]:
    cred, version = _require_credential(call, params)
    secret = _new_secret(cred)  # the status stays as it was
    call.store.put(records.SERVICE_CREDENTIAL, cred["ServiceSpecificCredentialId"], cred, expect_version=version)
    return {"ServiceSpecificCredential": _view(cred, secret)}


def delete_service_specific_credential(call: Call, params: dict[str, Any]) -> dict[str, Any]:
    cred, version = _require_credential(call, params)
    call.store.delete(records.SERVICE_CREDENTIAL, cred["ServiceSpecificCredentialId"], expect_version=version)
    return {}


def list_service_specific_credentials(call: Call, params: dict[str, Any]) -> dict[str, Any]:
    store, account = call.store, common.account_of(call)
    found: list[dict[str, Any]] = []
    if params.get("AllUsers"):
        found = [r.value for r in store.scan(records.SERVICE_CREDENTIAL) if r.value["Account"] == account]
    elif params.get("UserName") is not None or call.principal.type == p.IAM_USER:
        user, _ = common.require_user(store, account, common.caller_user_name(call, params))  # the user first
        found = records.service_credentials_of(store, account, user["UserName"])
    # else: the root user or a role session without UserName has none of its own.
    service = params.get("ServiceName")
    if service is not None:
        _require_service(service)
        found = [c for c in found if c["ServiceName"] == service]
    found.sort(key=lambda c: (c["CreateDate"], c["ServiceSpecificCredentialId"]))
    page, more = common.paginate(found, params, key=lambda c: f"{c['CreateDate']}{c['ServiceSpecificCredentialId']}")
    return {"ServiceSpecificCredentials": [_view(c) for c in page], **more}


def condition_context(call: Call, params: dict[str, Any], keys: frozenset[str]) -> dict[str, Any]:
    """iam:ServiceSpecificCredentialServiceName / …AgeDays, where the operation has them:
    the service named in the request, or that of the credential it names."""
    ctx: dict[str, Any] = {}
    if "iam:ServiceSpecificCredentialServiceName" in keys:
        service = params.get("ServiceName")
        if service is None and params.get("ServiceSpecificCredentialId"):
            rec = call.store.get(records.SERVICE_CREDENTIAL, params["ServiceSpecificCredentialId"])
            if rec is not None and rec.value["Account"] == call.principal.account:
                service = rec.value["ServiceName"]
        if service:
            ctx["iam:ServiceSpecificCredentialServiceName"] = service
    if "iam:ServiceSpecificCredentialAgeDays" in keys and params.get("CredentialAgeDays") is not None:
        ctx["iam:ServiceSpecificCredentialAgeDays"] = params["CredentialAgeDays"]
    return ctx


HANDLERS = {
    "CreateServiceSpecificCredential": create_service_specific_credential,
    "UpdateServiceSpecificCredential": update_service_specific_credential,
    "ResetServiceSpecificCredential": reset_service_specific_credential,
    "DeleteServiceSpecificCredential": delete_service_specific_credential,
    "ListServiceSpecificCredentials": list_service_specific_credentials,
}
