"""IAM roles: trust policy, session duration, description, tags."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from skyhold import ids
from skyhold.services.iam import common, documents, errors, managed, principals, records, tags
from skyhold.store.base import ConflictError, Store

if TYPE_CHECKING:
    from skyhold.pipeline import Call

ROLES_PER_ACCOUNT = 1000
DEFAULT_MAX_SESSION = 3600
# Next to the trust policy: its principals bound to their unique ids (principals.bind).
TRUST_BINDING = "AssumeRolePolicyBinding"
principals.STORED.append((records.ROLE, "AssumeRolePolicyDocument", TRUST_BINDING))


def trust_binding(store: Store, trust: str) -> dict[str, Any]:
    """The record fields of a trust policy being written: its text and its binding."""
    return {"AssumeRolePolicyDocument": trust, TRUST_BINDING: principals.bind(store, trust)}


def evaluated_trust(store: Store, role: dict[str, Any]) -> str:
    """The role's trust policy as STS decides with it (users and roles by unique id)."""
    return principals.evaluated(store, role["AssumeRolePolicyDocument"], role.get(TRUST_BINDING))


def view(role: dict[str, Any], store: Store, *, full: bool = True) -> dict[str, Any]:
    out: dict[str, Any] = {
        "Path": role["Path"],
        "RoleName": role["RoleName"],
        "RoleId": role["RoleId"],
        "Arn": role["Arn"],
        "CreateDate": common.dt(role["CreateDate"]),
        "AssumeRolePolicyDocument": common.encode_document(
            principals.displayed(store, role["AssumeRolePolicyDocument"], role.get(TRUST_BINDING))),
        "MaxSessionDuration": role.get("MaxSessionDuration", DEFAULT_MAX_SESSION),
    }
    if role.get("Description"):
        out["Description"] = role["Description"]
    if full:  # GetRole's extras; ListRoles leaves them out
        out.update(common.boundary_view(role))
        if role.get("Tags"):
            out["Tags"] = role["Tags"]
        last = role.get("RoleLastUsed") or {}
        out["RoleLastUsed"] = {k: (common.dt(v) if k == "LastUsedDate" else v) for k, v in last.items()}
    return out


def create_role(call: Call, params: dict[str, Any]) -> dict[str, Any]:
    store, account = call.store, common.account_of(call)
    name, path = params["RoleName"], params.get("Path") or "/"
    new_tags = tags.initial(params.get("Tags"))
    trust = params["AssumeRolePolicyDocument"]
    documents.check_trust(store, trust)
    boundary = params.get("PermissionsBoundary")
    if boundary:
        managed.require_boundary(store, account, boundary)
    if store.get(records.ROLE, records.name_key(account, name)):
        raise errors.already_exists(f"Role with name {name} already exists.")
    if store.count(records.ROLE, records.account_prefix(account)) >= ROLES_PER_ACCOUNT:
        raise errors.quota("RolesPerAccount", ROLES_PER_ACCOUNT)
    role: dict[str, Any] = {
        "RoleName": name,
        "RoleId": ids.role_id(),
        "Arn": records.role_arn(account, name, path),
        "Path": path,
        "CreateDate": common.now_text(),
        **trust_binding(store, trust),
        "MaxSessionDuration": params.get("MaxSessionDuration") or DEFAULT_MAX_SESSION,
        "Tags": new_tags,
        "Policies": {},
        "AttachedPolicies": [],
    }
    if params.get("Description"):
        role["Description"] = params["Description"]
    if boundary:
        role["PermissionsBoundary"] = boundary
    store.put(records.ROLE, records.name_key(account, name), role, expect_version=0)
    out = view(role, store)
    # CreateRole's answer has neither yet: AWS shows them from GetRole/ListRoles on.
    out.pop("RoleLastUsed")
    out.pop("MaxSessionDuration")
    return {"Role": out}


def get_role(call: Call, params: dict[str, Any]) -> dict[str, Any]:
    role, _ = common.require_role(call.store, common.account_of(call), params["RoleName"])
    return {"Role": view(role, call.store)}


def list_roles(call: Call, params: dict[str, Any]) -> dict[str, Any]:
    page, more = common.paginate_kind(call.store, records.ROLE, common.account_of(call), params)
    return {"Roles": [view(r, call.store, full=False) for r in page], **more}


def _update(call: Call, role_name: str, **changes: Any) -> dict[str, Any]:
    account = common.account_of(call)
    role, version = common.require_role(call.store, account, role_name)
    role.update({k: v for k, v in changes.items() if v is not None})
    common.put(call.store, records.ROLE, account, role, role["RoleName"], version)
    return role


def update_role(call: Call, params: dict[str, Any]) -> dict[str, Any]:
    _update(call, params["RoleName"], Description=params.get("Description"),
            MaxSessionDuration=params.get("MaxSessionDuration"))
    return {}


def update_role_description(call: Call, params: dict[str, Any]) -> dict[str, Any]:
    role = _update(call, params["RoleName"], Description=params["Description"])
    return {"Role": view(role, call.store)}


def update_assume_role_policy(call: Call, params: dict[str, Any]) -> dict[str, Any]:
    common.require_role(call.store, common.account_of(call), params["RoleName"])
    documents.check_trust(call.store, params["PolicyDocument"])
    _update(call, params["RoleName"], **trust_binding(call.store, params["PolicyDocument"]))
    return {}


def delete_role(call: Call, params: dict[str, Any]) -> dict[str, Any]:
    store, account = call.store, common.account_of(call)
    role, version = common.require_role(store, account, params["RoleName"])
    name = role["RoleName"].lower()
    if any(name in (r.lower() for r in ip.get("Roles", []))
           for ip in records.in_account(store, records.INSTANCE_PROFILE, account)):
        raise errors.delete_conflict("Cannot delete entity, must remove roles from instance profile first.")
    if role.get("Policies"):
        raise errors.delete_conflict("Cannot delete entity, must delete policies first.")
    if role.get("AttachedPolicies"):
        raise errors.delete_conflict("Cannot delete entity, must detach all policies first.")
    store.delete(records.ROLE, records.name_key(account, role["RoleName"]), expect_version=version)
    return {}


def record_role_use(store: Store, account: str, role_name: str, region: str) -> None:
    """Called when a role session authenticates: GetRole's RoleLastUsed."""
    rec = store.get(records.ROLE, records.name_key(account, role_name))
    if rec is None:
        return
    now = common.now_text()
    last = rec.value.get("RoleLastUsed") or {}
    if last.get("LastUsedDate", "")[:16] == now[:16] and last.get("Region") == region:
        return  # at most one write per minute
    try:
        store.put(records.ROLE, rec.key, {**rec.value, "RoleLastUsed": {"LastUsedDate": now, "Region": region}},
                  expect_version=rec.version)
    except ConflictError:  # a concurrent change to the role won; last-used is best effort
        pass


def _locate(call: Call, params: dict[str, Any]):  # type: ignore[no-untyped-def]
    account = common.account_of(call)
    role, version = common.require_role(call.store, account, params["RoleName"])
    return role, lambda value: common.put(call.store, records.ROLE, account, value, value["RoleName"], version)


_tag, _untag, _list_tags = tags.handlers(_locate)

HANDLERS = {
    "CreateRole": create_role,
    "GetRole": get_role,
    "ListRoles": list_roles,
    "UpdateRole": update_role,
    "UpdateRoleDescription": update_role_description,
    "UpdateAssumeRolePolicy": update_assume_role_policy,
    "DeleteRole": delete_role,
    "TagRole": _tag,
    "UntagRole": _untag,
    "ListRoleTags": _list_tags,
}
