"""Access keys of IAM users: create (the secret is shown once), list, activate/
deactivate, delete, and when each was last used."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from skyhold import principal as p
from skyhold.services.iam import common, errors, records
from skyhold.store.base import ConflictError, Store

if TYPE_CHECKING:
    from skyhold.pipeline import Call

KEYS_PER_USER = 2


def _metadata(key: dict[str, Any]) -> dict[str, Any]:
    return {
        "UserName": key["UserName"],
        "AccessKeyId": key["AccessKeyId"],
        "Status": key["Status"],
        "CreateDate": common.dt(key["CreateDate"]),
    }


def _not_found(key_id: str) -> Exception:
    return errors.no_such_entity(f"The Access Key with id {key_id} cannot be found")


def _owner(call: Call, params: dict[str, Any]) -> str:
    """Whose keys: UserName, the calling user, or — for the root user calling without
    a UserName — the root user's own keys (AWS allows them; labs teach not to)."""
    if params.get("UserName") is None and call.principal.type == p.ROOT:
        return records.ROOT_USER
    user, _ = common.require_user(call.store, common.account_of(call), common.caller_user_name(call, params))
    return user["UserName"]


def _require_key(call: Call, params: dict[str, Any]) -> tuple[dict[str, Any], int]:
    account = common.account_of(call)
    user_name = _owner(call, params)
    key_id = params["AccessKeyId"]
    rec = call.store.get(records.ACCESS_KEY, key_id)
    if rec is None or rec.value["Account"] != account or rec.value["UserName"].lower() != user_name.lower():
        raise _not_found(key_id)
    return rec.value, rec.version


def create_access_key(call: Call, params: dict[str, Any]) -> dict[str, Any]:
    store, account = call.store, common.account_of(call)
    owner = _owner(call, params)
    if len(records.access_keys_of(store, account, owner)) >= KEYS_PER_USER:
        raise errors.quota("AccessKeysPerUser", KEYS_PER_USER)
    key = records.create_access_key(store, account, owner)
    return {"AccessKey": {**_metadata(key), "SecretAccessKey": key["SecretAccessKey"]}}


def list_access_keys(call: Call, params: dict[str, Any]) -> dict[str, Any]:
    store, account = call.store, common.account_of(call)
    keys = sorted(records.access_keys_of(store, account, _owner(call, params)),
                  key=lambda k: (k["CreateDate"], k["AccessKeyId"]))
    page, more = common.paginate(keys, params, key=lambda k: f"{k['CreateDate']}{k['AccessKeyId']}")
    return {"AccessKeyMetadata": [_metadata(k) for k in page], **more}


def update_access_key(call: Call, params: dict[str, Any]) -> dict[str, Any]:
    key, version = _require_key(call, params)
    key["Status"] = params["Status"]
    # identity.make_lookup reads Status on every request: the change applies at once.
    call.store.put(records.ACCESS_KEY, key["AccessKeyId"], key, expect_version=version)
    return {}


def delete_access_key(call: Call, params: dict[str, Any]) -> dict[str, Any]:
    key, version = _require_key(call, params)
    call.store.delete(records.ACCESS_KEY, key["AccessKeyId"], expect_version=version)
    return {}


def get_access_key_last_used(call: Call, params: dict[str, Any]) -> dict[str, Any]:
    key_id = params["AccessKeyId"]
    rec = call.store.get(records.ACCESS_KEY, key_id)
    if rec is None or rec.value["Account"] != common.account_of(call):
        raise _not_found(key_id)
    last = rec.value.get("LastUsed") or {}
    used: dict[str, Any] = {"ServiceName": last.get("ServiceName", "N/A"), "Region": last.get("Region", "N/A")}
    if last.get("LastUsedDate"):
        used["LastUsedDate"] = common.dt(last["LastUsedDate"])
    return {"UserName": rec.value["UserName"], "AccessKeyLastUsed": used}


# access key id → (minute, service, region) last written; keeps record_key_use to
# one store write per key per minute on the request path.
_recent: dict[str, tuple[str, str, str]] = {}


def record_key_use(store: Store, access_key_id: str, service: str, region: str) -> None:
    """Note that a request signed with `access_key_id` reached `service` in `region`.

    Called by the pipeline after authentication; cheap: a dict look-up on most calls.
    """
    now = common.now_text()
    seen = (now[:16], service, region)
    if _recent.get(access_key_id) == seen:
        return
    rec = store.get(records.ACCESS_KEY, access_key_id)
    if rec is None:
        return
    value = dict(rec.value)
    value["LastUsed"] = {"LastUsedDate": now, "ServiceName": service, "Region": region}
    try:
        store.put(records.ACCESS_KEY, access_key_id, value, expect_version=rec.version)
    except ConflictError:  # a concurrent update won; last-used is best effort
        return
    _recent[access_key_id] = seen


HANDLERS = {
    "CreateAccessKey": create_access_key,
    "ListAccessKeys": list_access_keys,
    "UpdateAccessKey": update_access_key,
    "DeleteAccessKey": delete_access_key,
    "GetAccessKeyLastUsed": get_access_key_last_used,
}
