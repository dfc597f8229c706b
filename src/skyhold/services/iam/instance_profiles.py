"""Instance profiles: the container that hands one role to an EC2 instance."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from skyhold import ids
from skyhold.services.iam import common, errors, records, roles, tags

if TYPE_CHECKING:
    from skyhold.pipeline import Call

ROLES_PER_PROFILE = 1
PROFILES_PER_ACCOUNT = 1000


def view(call: Call, profile: dict[str, Any], *, full: bool = True) -> dict[str, Any]:
    account = common.account_of(call)
    role_views = []
    for name in profile.get("Roles", []):
        rec = call.store.get(records.ROLE, records.name_key(account, name))
        if rec is not None:
            role_views.append(roles.view(rec.value, call.store, full=False))
    out: dict[str, Any] = {
        "Path": profile["Path"],
        "InstanceProfileName": profile["InstanceProfileName"],
        "InstanceProfileId": profile["InstanceProfileId"],
        "Arn": profile["Arn"],
        "CreateDate": common.dt(profile["CreateDate"]),
        "Roles": role_views,
    }
    if full and profile.get("Tags"):
        out["Tags"] = profile["Tags"]
    return out


def _require(call: Call, name: str) -> tuple[dict[str, Any], int]:
    rec = call.store.get(records.INSTANCE_PROFILE, records.name_key(common.account_of(call), name))
    if rec is None:
        raise errors.no_such_entity(f"Instance Profile {name} cannot be found.")
    return rec.value, rec.version


def _save(call: Call, profile: dict[str, Any], version: int) -> None:
    common.put(call.store, records.INSTANCE_PROFILE, common.account_of(call), profile,
               profile["InstanceProfileName"], version)


def create_instance_profile(call: Call, params: dict[str, Any]) -> dict[str, Any]:
    store, account = call.store, common.account_of(call)
    name, path = params["InstanceProfileName"], params.get("Path") or "/"
    new_tags = tags.initial(params.get("Tags"))
    if store.get(records.INSTANCE_PROFILE, records.name_key(account, name)):
        raise errors.already_exists(f"Instance Profile {name} already exists.")
    if store.count(records.INSTANCE_PROFILE, records.account_prefix(account)) >= PROFILES_PER_ACCOUNT:
        raise errors.quota("InstanceProfilesPerAccount", PROFILES_PER_ACCOUNT)
    profile = {
        "InstanceProfileName": name,
        "InstanceProfileId": ids.unique_id("AIPA"),
        "Arn": records.instance_profile_arn(account, name, path),
        "Path": path,
        "CreateDate": common.now_text(),
        "Roles": [],
        "Tags": new_tags,
    }
    store.put(records.INSTANCE_PROFILE, records.name_key(account, name), profile, expect_version=0)
    return {"InstanceProfile": view(call, profile)}


def get_instance_profile(call: Call, params: dict[str, Any]) -> dict[str, Any]:
    profile, _ = _require(call, params["InstanceProfileName"])
    return {"InstanceProfile": view(call, profile)}


def delete_instance_profile(call: Call, params: dict[str, Any]) -> dict[str, Any]:
    profile, version = _require(call, params["InstanceProfileName"])
    if profile.get("Roles"):
        raise errors.delete_conflict("Cannot delete entity, must remove roles from instance profile first.")
    call.store.delete(records.INSTANCE_PROFILE,
                      records.name_key(common.account_of(call), profile["InstanceProfileName"]),
                      expect_version=version)
    return {}


def add_role_to_instance_profile(call: Call, params: dict[str, Any]) -> dict[str, Any]:
    profile, version = _require(call, params["InstanceProfileName"])
    role, _ = common.require_role(call.store, common.account_of(call), params["RoleName"])
    if len(profile.get("Roles", [])) >= ROLES_PER_PROFILE:
        raise errors.quota("InstanceSessionsPerInstanceProfile", ROLES_PER_PROFILE)
    profile.setdefault("Roles", []).append(role["RoleName"])
    _save(call, profile, version)
    return {}


def remove_role_from_instance_profile(call: Call, params: dict[str, Any]) -> dict[str, Any]:
    profile, version = _require(call, params["InstanceProfileName"])
    name = params["RoleName"]
    kept = [r for r in profile.get("Roles", []) if r.lower() != name.lower()]
    if len(kept) == len(profile.get("Roles", [])):
        raise errors.no_such_entity(f"The role with name {name} cannot be found.")
    profile["Roles"] = kept
    _save(call, profile, version)
    return {}


def list_instance_profiles(call: Call, params: dict[str, Any]) -> dict[str, Any]:
    page, more = common.paginate_kind(call.store, records.INSTANCE_PROFILE, common.account_of(call), params)
    return {"InstanceProfiles": [view(call, ip, full=False) for ip in page], **more}


def list_instance_profiles_for_role(call: Call, params: dict[str, Any]) -> dict[str, Any]:
    account = common.account_of(call)
    role, _ = common.require_role(call.store, account, params["RoleName"])
    name = role["RoleName"].lower()
    found = [ip for ip in records.in_account(call.store, records.INSTANCE_PROFILE, account)
             if name in (r.lower() for r in ip.get("Roles", []))]
    page, more = common.paginate(found, params, key=lambda ip: ip["InstanceProfileName"].lower())
    return {"InstanceProfiles": [view(call, ip, full=False) for ip in page], **more}


def _locate(call: Call, params: dict[str, Any]):  # type: ignore[no-untyped-def]
    profile, version = _require(call, params["InstanceProfileName"])
    return profile, lambda value: _save(call, value, version)


_tag, _untag, _list_tags = tags.handlers(_locate)

HANDLERS = {
    "CreateInstanceProfile": create_instance_profile,
    "GetInstanceProfile": get_instance_profile,
    "DeleteInstanceProfile": delete_instance_profile,
    "AddRoleToInstanceProfile": add_role_to_instance_profile,
    "RemoveRoleFromInstanceProfile": remove_role_from_instance_profile,
    "ListInstanceProfiles": list_instance_profiles,
    "ListInstanceProfilesForRole": list_instance_profiles_for_role,
    "TagInstanceProfile": _tag,
    "UntagInstanceProfile": _untag,
    "ListInstanceProfileTags": _list_tags,
}
