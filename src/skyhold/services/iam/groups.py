"""IAM groups and their members."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from skyhold import ids
from skyhold.services.iam import common, errors, records, users

if TYPE_CHECKING:
    from skyhold.pipeline import Call

GROUPS_PER_ACCOUNT = 300
GROUPS_PER_USER = 10


def view(group: dict[str, Any]) -> dict[str, Any]:
    return {
        "Path": group["Path"],
        "GroupName": group["GroupName"],
        "GroupId": group["GroupId"],
        "Arn": group["Arn"],
        "CreateDate": common.dt(group["CreateDate"]),
    }


def _members(call: Call, account: str, group_name: str) -> list[dict[str, Any]]:
    g = group_name.lower()
    return [u for u in records.in_account(call.store, records.USER, account)
            if g in (n.lower() for n in u.get("Groups", []))]


def create_group(call: Call, params: dict[str, Any]) -> dict[str, Any]:
    store, account = call.store, common.account_of(call)
    name, path = params["GroupName"], params.get("Path") or "/"
    if store.get(records.GROUP, records.name_key(account, name)):
        raise errors.already_exists(f"Group with name {name} already exists.")
    if store.count(records.GROUP, records.account_prefix(account)) >= GROUPS_PER_ACCOUNT:
        raise errors.quota("GroupsPerAccount", GROUPS_PER_ACCOUNT)
    group = {
        "GroupName": name,
        "GroupId": ids.unique_id("AGPA"),
        "Arn": records.group_arn(account, name, path),
        "Path": path,
        "CreateDate": common.now_text(),
        "Policies": {},
        "AttachedPolicies": [],
    }
    store.put(records.GROUP, records.name_key(account, name), group, expect_version=0)
    return {"Group": view(group)}


def get_group(call: Call, params: dict[str, Any]) -> dict[str, Any]:
    account = common.account_of(call)
    group, _ = common.require_group(call.store, account, params["GroupName"])
    page, more = common.paginate(_members(call, account, group["GroupName"]), params,
                                 key=lambda u: u["UserName"].lower())
    return {"Group": view(group), "Users": [users.view(u, full=False) for u in page], **more}


def list_groups(call: Call, params: dict[str, Any]) -> dict[str, Any]:
    page, more = common.paginate_kind(call.store, records.GROUP, common.account_of(call), params)
    return {"Groups": [view(g) for g in page], **more}


def update_group(call: Call, params: dict[str, Any]) -> dict[str, Any]:
    store, account = call.store, common.account_of(call)
    group, version = common.require_group(store, account, params["GroupName"])
    old = group["GroupName"]
    new_name = params.get("NewGroupName") or old
    new_path = params.get("NewPath") or group["Path"]
    renamed = new_name.lower() != old.lower()
    if renamed and store.get(records.GROUP, records.name_key(account, new_name)):
        raise errors.already_exists(f"Group with name {new_name} already exists.")
    group.update(GroupName=new_name, Path=new_path, Arn=records.group_arn(account, new_name, new_path))
    with store.transaction():
        if renamed:
            store.delete(records.GROUP, records.name_key(account, old), expect_version=version)
            store.put(records.GROUP, records.name_key(account, new_name), group, expect_version=0)
        else:
            store.put(records.GROUP, records.name_key(account, new_name), group, expect_version=version)
        if new_name != old:
            for user in _members(call, account, old):
                user["Groups"] = [new_name if n.lower() == old.lower() else n for n in user["Groups"]]
                store.put(records.USER, records.user_key(account, user["UserName"]), user)
    return {}


def delete_group(call: Call, params: dict[str, Any]) -> dict[str, Any]:
    store, account = call.store, common.account_of(call)
    group, version = common.require_group(store, account, params["GroupName"])
    if _members(call, account, group["GroupName"]):
        raise errors.delete_conflict("Cannot delete entity, must remove users from group first.")
    if group.get("Policies"):
        raise errors.delete_conflict("Cannot delete entity, must delete policies first.")
    if group.get("AttachedPolicies"):
        raise errors.delete_conflict("Cannot delete entity, must detach all policies first.")
    store.delete(records.GROUP, records.name_key(account, group["GroupName"]), expect_version=version)
    return {}


def add_user_to_group(call: Call, params: dict[str, Any]) -> dict[str, Any]:
    store, account = call.store, common.account_of(call)
    group, _ = common.require_group(store, account, params["GroupName"])
    user, version = common.require_user(store, account, params["UserName"])
    groups = user.setdefault("Groups", [])
    if group["GroupName"].lower() in (g.lower() for g in groups):
        return {}
    if len(groups) >= GROUPS_PER_USER:
        raise errors.quota("GroupsPerUser", GROUPS_PER_USER)
    groups.append(group["GroupName"])
    common.put(store, records.USER, account, user, user["UserName"], version)
    return {}


def remove_user_from_group(call: Call, params: dict[str, Any]) -> dict[str, Any]:
    store, account = call.store, common.account_of(call)
    group, _ = common.require_group(store, account, params["GroupName"])
    user, version = common.require_user(store, account, params["UserName"])
    g = group["GroupName"].lower()
    if g not in (n.lower() for n in user.get("Groups", [])):
        raise errors.no_such_entity(f"The user with name {user['UserName']} cannot be found.")
    user["Groups"] = [n for n in user["Groups"] if n.lower() != g]
    common.put(store, records.USER, account, user, user["UserName"], version)
    return {}


def list_groups_for_user(call: Call, params: dict[str, Any]) -> dict[str, Any]:
    store, account = call.store, common.account_of(call)
    user, _ = common.require_user(store, account, params["UserName"])
    found = []
    for name in user.get("Groups", []):
        rec = store.get(records.GROUP, records.name_key(account, name))
        if rec is not None:
            found.append(rec.value)
    found.sort(key=lambda g: g["GroupName"].lower())
    page, more = common.paginate(found, params, key=lambda g: g["GroupName"].lower())
    return {"Groups": [view(g) for g in page], **more}


HANDLERS = {
    "CreateGroup": create_group,
    "GetGroup": get_group,
    "ListGroups": list_groups,
    "UpdateGroup": update_group,
    "DeleteGroup": delete_group,
    "AddUserToGroup": add_user_to_group,
    "RemoveUserFromGroup": remove_user_from_group,
    "ListGroupsForUser": list_groups_for_user,
}
