"""IAM users: create, read, list, rename/move, delete, tags."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from skyhold import accounts, arn
from skyhold import principal as p
from skyhold.services.iam import common, errors, managed, records, tags

if TYPE_CHECKING:
    from skyhold.pipeline import Call

USERS_PER_ACCOUNT = 5000


def view(user: dict[str, Any], *, full: bool = True) -> dict[str, Any]:
    out: dict[str, Any] = {
        "Path": user["Path"],
        "UserName": user["UserName"],
        "UserId": user["UserId"],
        "Arn": user["Arn"],
        "CreateDate": common.dt(user["CreateDate"]),
    }
    if user.get("PasswordLastUsed"):
        out["PasswordLastUsed"] = common.dt(user["PasswordLastUsed"])
    if full:  # IAM's list operations return a subset: no tags, no boundary
        out.update(common.boundary_view(user))
        if user.get("Tags"):
            out["Tags"] = user["Tags"]
    return out


def create_user(call: Call, params: dict[str, Any]) -> dict[str, Any]:
    store, account = call.store, common.account_of(call)
    name = params["UserName"]
    new_tags = tags.initial(params.get("Tags"))
    boundary = params.get("PermissionsBoundary")
    if boundary:
        managed.require_boundary(store, account, boundary)
    if records.get_user(store, account, name):
        raise errors.already_exists(f"User with name {name} already exists.")
    if store.count(records.USER, records.account_prefix(account)) >= USERS_PER_ACCOUNT:
        raise errors.quota("UsersPerAccount", USERS_PER_ACCOUNT)
    user = records.create_user(store, account, name, params.get("Path") or "/", tags=new_tags,
                               permissions_boundary=boundary)
    return {"User": view(user)}


def get_user(call: Call, params: dict[str, Any]) -> dict[str, Any]:
    who = call.principal
    if params.get("UserName") is None and who.type == p.ROOT:
        acct = accounts.get_account(call.store, who.account) or {}
        # The root user has no name or path; IAM answers with its id (the account) and ARN.
        root: dict[str, Any] = {"UserId": who.account, "Arn": arn.root(who.account)}
        if acct.get("CreatedAt"):
            root["CreateDate"] = common.dt(acct["CreatedAt"])
        return {"User": root}
    name = common.caller_user_name(call, params)
    user, _ = common.require_user(call.store, common.account_of(call), name)
    return {"User": view(user)}


def list_users(call: Call, params: dict[str, Any]) -> dict[str, Any]:
    page, more = common.paginate_kind(call.store, records.USER, common.account_of(call), params)
    return {"Users": [view(u, full=False) for u in page], **more}


def update_user(call: Call, params: dict[str, Any]) -> dict[str, Any]:
    store, account = call.store, common.account_of(call)
    user, version = common.require_user(store, account, params["UserName"])
    new_name = params.get("NewUserName") or user["UserName"]
    new_path = params.get("NewPath") or user["Path"]
    renamed = new_name.lower() != user["UserName"].lower()
    if renamed and records.get_user(store, account, new_name):
        raise errors.already_exists(f"User with name {new_name} already exists.")
    old_name = user["UserName"]
    user.update(UserName=new_name, Path=new_path, Arn=arn.user(account, new_name, new_path))
    with store.transaction():
        if renamed:
            store.delete(records.USER, records.user_key(account, old_name), expect_version=version)
            store.put(records.USER, records.user_key(account, new_name), user, expect_version=0)
            _rename_references(call, account, old_name, new_name)
        else:
            store.put(records.USER, records.user_key(account, new_name), user, expect_version=version)
    return {}


def _rename_references(call: Call, account: str, old: str, new: str) -> None:
    """Records that name the user: its access keys, service-specific credentials,
    login profile and MFA devices."""
    store = call.store
    for key in records.access_keys_of(store, account, old):
        key["UserName"] = new
        store.put(records.ACCESS_KEY, key["AccessKeyId"], key)
    for cred in records.service_credentials_of(store, account, old):
        cred["UserName"] = new
        store.put(records.SERVICE_CREDENTIAL, cred["ServiceSpecificCredentialId"], cred)
    profile = store.get(records.LOGIN_PROFILE, records.name_key(account, old))
    if profile is not None:
        store.delete(records.LOGIN_PROFILE, profile.key)
        store.put(records.LOGIN_PROFILE, records.name_key(account, new), {**profile.value, "UserName": new})
    for rec in store.scan(records.MFA, f"arn:aws:iam::{account}:"):
        if rec.value.get("UserName", "").lower() == old.lower():
            store.put(records.MFA, rec.key, {**rec.value, "UserName": new})


def delete_user(call: Call, params: dict[str, Any]) -> dict[str, Any]:
    store, account = call.store, common.account_of(call)
    user, version = common.require_user(store, account, params["UserName"])
    name = user["UserName"]
    if user.get("Policies"):
        raise errors.delete_conflict("Cannot delete entity, must delete policies first.")
    if user.get("AttachedPolicies"):
        raise errors.delete_conflict("Cannot delete entity, must detach all policies first.")
    if store.get(records.LOGIN_PROFILE, records.name_key(account, name)):
        raise errors.delete_conflict("Cannot delete entity, must delete login profile first.")
    if records.access_keys_of(store, account, name):
        raise errors.delete_conflict("Cannot delete entity, must delete access keys first.")
    if records.mfa_devices_of(store, account, name):
        raise errors.delete_conflict("Cannot delete entity, must delete MFA device first.")
    if records.service_credentials_of(store, account, name):
        raise errors.delete_conflict("Cannot delete entity, must remove referenced objects first.")
    if user.get("Groups"):
        raise errors.delete_conflict("Cannot delete entity, must remove users from group first.")
    store.delete(records.USER, records.user_key(account, name), expect_version=version)
    return {}


def _locate(call: Call, params: dict[str, Any]):  # type: ignore[no-untyped-def]
    account = common.account_of(call)
    user, version = common.require_user(call.store, account, params["UserName"])
    return user, lambda value: common.put(call.store, records.USER, account, value, value["UserName"], version)


_tag, _untag, _list_tags = tags.handlers(_locate)

HANDLERS = {
    "CreateUser": create_user,
    "GetUser": get_user,
    "ListUsers": list_users,
    "UpdateUser": update_user,
    "DeleteUser": delete_user,
    "TagUser": _tag,
    "UntagUser": _untag,
    "ListUserTags": _list_tags,
}
