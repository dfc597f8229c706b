"""Managed policies: customer managed policies with their versions, AWS managed
policies (read-only), attachment to users/groups/roles, permissions boundaries."""

from __future__ import annotations

import weakref
from collections import Counter
from typing import TYPE_CHECKING, Any

from skyhold import arn as arns
from skyhold import ids
from skyhold.errors import AwsError
from skyhold.services.iam import aws_managed, common, documents, errors, owners, records, tags
from skyhold.store.cache import GenerationCache

if TYPE_CHECKING:
    from skyhold.pipeline import Call
    from skyhold.store.base import Store

MAX_VERSIONS = 5
POLICIES_PER_ACCOUNT = 1500


# ---- finding a policy by ARN -------------------------------------------------------

def _customer_key(account: str, policy_arn: str) -> str | None:
    try:
        a = arns.parse(policy_arn)
    except ValueError:
        return None
    if a.service != "iam" or a.account != account or not a.resource.startswith("policy/"):
        return None
    return records.name_key(account, a.resource.rsplit("/", 1)[-1])


def find(store: Store, account: str, policy_arn: str) -> tuple[dict[str, Any], int] | None:
    """A managed policy (customer managed in `account`, or AWS managed) and its version
    (0 for AWS managed ones, which are not stored)."""
    if aws_managed.is_aws_managed(policy_arn):
        policy = aws_managed.get(policy_arn)
        return (policy, 0) if policy else None
    key = _customer_key(account, policy_arn)
    rec = store.get(records.POLICY, key) if key else None
    if rec is None or rec.value["Arn"] != policy_arn:
        return None
    return rec.value, rec.version


def require(store: Store, account: str, policy_arn: str) -> tuple[dict[str, Any], int]:
    found = find(store, account, policy_arn)
    if found is None:
        raise errors.no_such_entity(f"Policy {policy_arn} was not found.")
    return found


def require_attachable(store: Store, account: str, policy_arn: str) -> dict[str, Any]:
    found = find(store, account, policy_arn)
    if found is None:
        raise errors.no_such_entity(f"Policy {policy_arn} does not exist or is not attachable.")
    return found[0]


def require_boundary(store: Store, account: str, policy_arn: str) -> None:
    if find(store, account, policy_arn) is None:
        raise errors.no_such_entity(f"Scope ARN: {policy_arn} does not exist or is not attachable.")


def require_customer(call: Call, policy_arn: str) -> tuple[dict[str, Any], int]:
    policy, version = require(call.store, common.account_of(call), policy_arn)
    if policy.get("AwsManaged"):
        raise AwsError(
            "AccessDenied",
            f"User: {call.principal.arn} is not authorized to perform: iam:{call.operation} "
            f"on resource: policy {policy_arn}",
            403,
        )
    return policy, version


def default_document(policy: dict[str, Any]) -> str:
    return policy["Versions"][policy["DefaultVersionId"]]["Document"]


# ---- views ---------------------------------------------------------------------------

# Per store: usage counts until its next write. Each page of ListPolicies (or of
# GetAccountAuthorizationDetails) needs them, and they read every user, group and
# role: paging through 1,500 policies read the 10,000 of those again on every page.
_USAGE: weakref.WeakKeyDictionary[Store, GenerationCache] = weakref.WeakKeyDictionary()


def usage_counts(store: Store, account: str) -> tuple[Counter[str], Counter[str]]:
    """(attachments, permissions-boundary uses) per policy ARN. The caller must not
    change them: they are shared until the store's next write."""
    cache = _USAGE.get(store)
    if cache is None:
        cache = _USAGE[store] = GenerationCache(store, ignore_bulk=True)
    return cache.get(account, lambda: _count_usage(store, account))


def _count_usage(store: Store, account: str) -> tuple[Counter[str], Counter[str]]:
    """(attachments, permissions-boundary uses) per policy ARN in one pass."""
    attached: Counter[str] = Counter()
    boundary: Counter[str] = Counter()
    for kind in (records.USER, records.GROUP, records.ROLE):
        for value in records.in_account(store, kind, account):
            attached.update(value.get("AttachedPolicies", []))
            if value.get("PermissionsBoundary"):
                boundary[value["PermissionsBoundary"]] += 1
    return attached, boundary


def view(policy: dict[str, Any], attached: Counter[str], boundary: Counter[str], *, full: bool) -> dict[str, Any]:
    out = {
        "PolicyName": policy["PolicyName"],
        "PolicyId": policy["PolicyId"],
        "Arn": policy["Arn"],
        "Path": policy["Path"],
        "DefaultVersionId": policy["DefaultVersionId"],
        "AttachmentCount": attached[policy["Arn"]],
        "PermissionsBoundaryUsageCount": boundary[policy["Arn"]],
        "IsAttachable": True,
        "CreateDate": common.dt(policy["CreateDate"]),
        "UpdateDate": common.dt(policy["UpdateDate"]),
    }
    if full:  # Get/Create show these; list operations leave them out, as IAM's do
        if policy.get("Description"):
            out["Description"] = policy["Description"]
        if policy.get("Tags"):
            out["Tags"] = policy["Tags"]
    return out


def version_view(policy: dict[str, Any], version_id: str, *, document: bool) -> dict[str, Any]:
    v = policy["Versions"][version_id]
    out: dict[str, Any] = {
        "VersionId": version_id,
        "IsDefaultVersion": version_id == policy["DefaultVersionId"],
        "CreateDate": common.dt(v["CreateDate"]),
    }
    if document:
        out["Document"] = common.encode_document(v["Document"])
    return out


def _version_order(version_id: str) -> int:
    return int(version_id[1:])


# ---- customer managed policies -----------------------------------------------------

def create_policy(call: Call, params: dict[str, Any]) -> dict[str, Any]:
    store, account = call.store, common.account_of(call)
    name, path = params["PolicyName"], params.get("Path") or "/"
    new_tags = tags.initial(params.get("Tags"))
    text = params["PolicyDocument"]
    documents.check_managed(text)
    if store.get(records.POLICY, records.name_key(account, name)):
        raise errors.already_exists(f"A policy called {name} already exists. Duplicate names are not allowed.")
    if store.count(records.POLICY, records.account_prefix(account)) >= POLICIES_PER_ACCOUNT:
        raise errors.quota("PoliciesPerAccount", POLICIES_PER_ACCOUNT)
    now = common.now_text()
    policy: dict[str, Any] = {
        "PolicyName": name,
        "PolicyId": ids.unique_id("ANPA"),
        "Arn": records.policy_arn(account, name, path),
        "Path": path,
        "DefaultVersionId": "v1",
        "CreateDate": now,
        "UpdateDate": now,
        "Tags": new_tags,
        "Versions": {"v1": {"Document": text, "CreateDate": now}},
        "NextVersion": 2,
    }
    if params.get("Description"):
        policy["Description"] = params["Description"]
    store.put(records.POLICY, records.name_key(account, name), policy, expect_version=0)
    return {"Policy": view(policy, Counter(), Counter(), full=True)}


def get_policy(call: Call, params: dict[str, Any]) -> dict[str, Any]:
    policy, _ = require(call.store, common.account_of(call), params["PolicyArn"])
    attached, boundary = usage_counts(call.store, common.account_of(call))
    return {"Policy": view(policy, attached, boundary, full=True)}


def delete_policy(call: Call, params: dict[str, Any]) -> dict[str, Any]:
    policy, version = require_customer(call, params["PolicyArn"])
    attached, boundary = usage_counts(call.store, common.account_of(call))
    if attached[policy["Arn"]] or boundary[policy["Arn"]]:
        raise errors.delete_conflict("Cannot delete a policy attached to entities.")
    if len(policy["Versions"]) > 1:
        raise errors.delete_conflict(
            "This policy has more than one version. Before you delete a policy, you must delete the "
            "policy's versions. The default version is deleted with the policy."
        )
    call.store.delete(records.POLICY, records.name_key(common.account_of(call), policy["PolicyName"]),
                      expect_version=version)
    return {}


def list_policies(call: Call, params: dict[str, Any]) -> dict[str, Any]:
    store, account = call.store, common.account_of(call)
    scope = params.get("Scope") or "All"
    found: list[dict[str, Any]] = []
    if scope in ("All", "AWS"):
        found += aws_managed.all_policies()
    if scope in ("All", "Local"):
        found += records.in_account(store, records.POLICY, account)
    attached, boundary = usage_counts(store, account)
    usage = params.get("PolicyUsageFilter")
    only_attached = params.get("OnlyAttached")

    def keep(p: dict[str, Any]) -> bool:
        if not common.path_matches(p, params):
            return False
        if not only_attached:
            return True
        used_as_policy, used_as_boundary = attached[p["Arn"]] > 0, boundary[p["Arn"]] > 0
        if usage == "PermissionsPolicy":
            return used_as_policy
        if usage == "PermissionsBoundary":
            return used_as_boundary
        return used_as_policy or used_as_boundary

    chosen = sorted((p for p in found if keep(p)), key=_list_key)
    page, more = common.paginate(chosen, params, key=_list_key)
    return {"Policies": [view(p, attached, boundary, full=False) for p in page], **more}


def _list_key(p: dict[str, Any]) -> str:
    return f"{p['PolicyName'].lower()}\x00{p['Arn']}"


def create_policy_version(call: Call, params: dict[str, Any]) -> dict[str, Any]:
    policy, version = require_customer(call, params["PolicyArn"])
    text = params["PolicyDocument"]
    documents.check_managed(text)
    if len(policy["Versions"]) >= MAX_VERSIONS:
        raise errors.limit_exceeded(
            "A managed policy can have up to 5 versions. Before you create a new version, you must "
            "delete an existing version."
        )
    vid = f"v{policy['NextVersion']}"
    now = common.now_text()
    policy["NextVersion"] += 1
    policy["Versions"][vid] = {"Document": text, "CreateDate": now}
    if params.get("SetAsDefault"):
        policy["DefaultVersionId"] = vid
    policy["UpdateDate"] = now
    _save(call, policy, version)
    return {"PolicyVersion": version_view(policy, vid, document=False)}


def _save(call: Call, policy: dict[str, Any], version: int) -> None:
    call.store.put(records.POLICY, records.name_key(common.account_of(call), policy["PolicyName"]), policy,
                   expect_version=version)


def _require_version(policy: dict[str, Any], version_id: str) -> None:
    if version_id not in policy["Versions"]:
        raise errors.no_such_entity(f"Policy {policy['Arn']} version {version_id} does not exist.")


def get_policy_version(call: Call, params: dict[str, Any]) -> dict[str, Any]:
    policy, _ = require(call.store, common.account_of(call), params["PolicyArn"])
    _require_version(policy, params["VersionId"])
    return {"PolicyVersion": version_view(policy, params["VersionId"], document=True)}


def list_policy_versions(call: Call, params: dict[str, Any]) -> dict[str, Any]:
    policy, _ = require(call.store, common.account_of(call), params["PolicyArn"])
    # Newest first, as IAM lists them.
    vids = sorted(policy["Versions"], key=_version_order, reverse=True)
    page, more = common.paginate(vids, params, key=lambda v: f"{10**9 - _version_order(v):010d}")
    return {"Versions": [version_view(policy, v, document=False) for v in page], **more}


def delete_policy_version(call: Call, params: dict[str, Any]) -> dict[str, Any]:
    policy, version = require_customer(call, params["PolicyArn"])
    vid = params["VersionId"]
    _require_version(policy, vid)
    if vid == policy["DefaultVersionId"]:
        raise errors.delete_conflict("Cannot delete the default version of a policy.")
    del policy["Versions"][vid]
    _save(call, policy, version)
    return {}


def set_default_policy_version(call: Call, params: dict[str, Any]) -> dict[str, Any]:
    policy, version = require_customer(call, params["PolicyArn"])
    vid = params["VersionId"]
    _require_version(policy, vid)
    policy["DefaultVersionId"] = vid
    policy["UpdateDate"] = common.now_text()
    _save(call, policy, version)
    return {}


def _policy_tag_locate(call: Call, params: dict[str, Any]):  # type: ignore[no-untyped-def]
    policy, version = require_customer(call, params["PolicyArn"])
    return policy, lambda value: _save(call, value, version)


# ---- attachments ------------------------------------------------------------------

def _attach(owner: owners.Owner):  # type: ignore[no-untyped-def]
    def handler(call: Call, params: dict[str, Any]) -> dict[str, Any]:
        policy_arn = params["PolicyArn"]
        try:
            arns.parse(policy_arn)
        except ValueError:  # a policy name or other non-ARN: IAM's wording, double space included
            raise errors.validation("Invalid ARN:  Could not be parsed!") from None
        value, version = owner.load(call, params[owner.param])
        require_attachable(call.store, common.account_of(call), policy_arn)
        attached = value.setdefault("AttachedPolicies", [])
        if policy_arn in attached:
            return {}
        if len(attached) >= owners.MAX_ATTACHED:
            raise errors.quota(owner.quota, owners.MAX_ATTACHED)
        attached.append(policy_arn)
        owner.save(call, value, version)
        return {}

    return handler


def _detach(owner: owners.Owner):  # type: ignore[no-untyped-def]
    def handler(call: Call, params: dict[str, Any]) -> dict[str, Any]:
        value, version = owner.load(call, params[owner.param])
        policy_arn = params["PolicyArn"]
        attached = value.get("AttachedPolicies", [])
        if policy_arn not in attached:
            raise errors.no_such_entity(f"Policy {policy_arn} was not found.")
        attached.remove(policy_arn)
        owner.save(call, value, version)
        return {}

    return handler


def _list_attached(owner: owners.Owner):  # type: ignore[no-untyped-def]
    def handler(call: Call, params: dict[str, Any]) -> dict[str, Any]:
        value, _ = owner.load(call, params[owner.param])
        store, account = call.store, common.account_of(call)
        rows = []
        for policy_arn in value.get("AttachedPolicies", []):
            found = find(store, account, policy_arn)
            if found and common.path_matches(found[0], params):
                rows.append({"PolicyName": found[0]["PolicyName"], "PolicyArn": policy_arn})
        def row_key(row: dict[str, str]) -> str:
            return f"{row['PolicyName'].lower()}\x00{row['PolicyArn']}"

        rows.sort(key=row_key)
        page, more = common.paginate(rows, params, key=row_key)
        return {"AttachedPolicies": page, **more}

    return handler


def list_entities_for_policy(call: Call, params: dict[str, Any]) -> dict[str, Any]:
    store, account = call.store, common.account_of(call)
    policy_arn = params["PolicyArn"]
    require(store, account, policy_arn)
    wanted = params.get("EntityFilter")
    usage = params.get("PolicyUsageFilter")

    def keep(value: dict[str, Any]) -> bool:
        as_policy = policy_arn in value.get("AttachedPolicies", [])
        as_boundary = value.get("PermissionsBoundary") == policy_arn
        used = {"PermissionsPolicy": as_policy, "PermissionsBoundary": as_boundary}.get(
            usage or "", as_policy or as_boundary)
        return used and common.path_matches(value, params)

    sources = [(label, common.kind_rows(store, owner.kind, account, keep, params))
               for label, owner in (("Group", owners.GROUP), ("User", owners.USER), ("Role", owners.ROLE))
               if not wanted or wanted == label]
    page, more = common.paginate_sources(sources, params)
    out: dict[str, Any] = {"PolicyGroups": [], "PolicyUsers": [], "PolicyRoles": []}
    for label, value in page:
        out[f"Policy{label}s"].append({f"{label}Name": value[f"{label}Name"], f"{label}Id": value[f"{label}Id"]})
    return {**out, **more}


# ---- permissions boundaries -----------------------------------------------------------

def _put_boundary(owner: owners.Owner):  # type: ignore[no-untyped-def]
    def handler(call: Call, params: dict[str, Any]) -> dict[str, Any]:
        value, version = owner.load(call, params[owner.param])
        require_boundary(call.store, common.account_of(call), params["PermissionsBoundary"])
        value["PermissionsBoundary"] = params["PermissionsBoundary"]
        owner.save(call, value, version)
        return {}

    return handler


def _delete_boundary(owner: owners.Owner):  # type: ignore[no-untyped-def]
    def handler(call: Call, params: dict[str, Any]) -> dict[str, Any]:
        value, version = owner.load(call, params[owner.param])
        if value.pop("PermissionsBoundary", None) is not None:
            owner.save(call, value, version)
        return {}

    return handler


_tag_policy, _untag_policy, _list_policy_tags = tags.handlers(_policy_tag_locate)

HANDLERS = {
    "CreatePolicy": create_policy,
    "GetPolicy": get_policy,
    "DeletePolicy": delete_policy,
    "ListPolicies": list_policies,
    "CreatePolicyVersion": create_policy_version,
    "GetPolicyVersion": get_policy_version,
    "ListPolicyVersions": list_policy_versions,
    "DeletePolicyVersion": delete_policy_version,
    "SetDefaultPolicyVersion": set_default_policy_version,
    "TagPolicy": _tag_policy,
    "UntagPolicy": _untag_policy,
    "ListPolicyTags": _list_policy_tags,
    "ListEntitiesForPolicy": list_entities_for_policy,
    "PutUserPermissionsBoundary": _put_boundary(owners.USER),
    "DeleteUserPermissionsBoundary": _delete_boundary(owners.USER),
    "PutRolePermissionsBoundary": _put_boundary(owners.ROLE),
    "DeleteRolePermissionsBoundary": _delete_boundary(owners.ROLE),
}
for _label, _owner in owners.ALL.items():
    HANDLERS[f"Attach{_label}Policy"] = _attach(_owner)
    HANDLERS[f"Detach{_label}Policy"] = _detach(_owner)
    HANDLERS[f"ListAttached{_label}Policies"] = _list_attached(_owner)
