"""Account-wide views: aliases, GetAccountSummary, GetAccountAuthorizationDetails."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from skyhold.services.iam import (
    aws_managed,
    common,
    errors,
    groups,
    instance_profiles,
    managed,
    records,
    roles,
    users,
)

if TYPE_CHECKING:
    from skyhold.pipeline import Call

# ---- aliases (globally unique, one per account) --------------------------------------


def _alias_of(call: Call) -> str | None:
    account = common.account_of(call)
    return next((r.key for r in call.store.scan(records.ALIAS) if r.value["Account"] == account), None)


def create_account_alias(call: Call, params: dict[str, Any]) -> dict[str, Any]:
    alias = params["AccountAlias"]
    mine = _alias_of(call)
    if mine == alias:
        return {}
    if call.store.get(records.ALIAS, alias):
        raise errors.already_exists(f"The account alias {alias} already exists.")
    if mine is not None:
        raise errors.quota("AccountAliasesPerAccount", 1)
    call.store.put(records.ALIAS, alias, {"Alias": alias, "Account": common.account_of(call)}, expect_version=0)
    return {}


def delete_account_alias(call: Call, params: dict[str, Any]) -> dict[str, Any]:
    alias = params["AccountAlias"]
    rec = call.store.get(records.ALIAS, alias)
    if rec is None or rec.value["Account"] != common.account_of(call):
        raise errors.no_such_entity(f"The account alias {alias} cannot be found.")
    call.store.delete(records.ALIAS, alias, expect_version=rec.version)
    return {}


def list_account_aliases(call: Call, params: dict[str, Any]) -> dict[str, Any]:
    mine = _alias_of(call)
    return {"AccountAliases": [mine] if mine else [], "IsTruncated": False}


# ---- GetAccountSummary ---------------------------------------------------------------

QUOTAS = {
    "UsersQuota": users.USERS_PER_ACCOUNT,
    "GroupsQuota": groups.GROUPS_PER_ACCOUNT,
    "RolesQuota": roles.ROLES_PER_ACCOUNT,
    "PoliciesQuota": managed.POLICIES_PER_ACCOUNT,
    "InstanceProfilesQuota": instance_profiles.PROFILES_PER_ACCOUNT,
    "ServerCertificatesQuota": 20,
    "GroupsPerUserQuota": groups.GROUPS_PER_USER,
    "AccessKeysPerUserQuota": 2,
    "SigningCertificatesPerUserQuota": 2,
    "UserPolicySizeQuota": 2048,
    "GroupPolicySizeQuota": 5120,
    "RolePolicySizeQuota": 10240,
    "PolicySizeQuota": 6144,
    "AssumeRolePolicySizeQuota": 2048,
    "AttachedPoliciesPerUserQuota": 10,
    "AttachedPoliciesPerGroupQuota": 10,
    "AttachedPoliciesPerRoleQuota": 10,
    "VersionsPerPolicyQuota": managed.MAX_VERSIONS,
    "PolicyVersionsInUseQuota": 10000,
}


def get_account_summary(call: Call, params: dict[str, Any]) -> dict[str, Any]:
    store, account = call.store, common.account_of(call)
    prefix = records.account_prefix(account)
    customer = records.in_account(store, records.POLICY, account)
    attached, _ = managed.usage_counts(store, account)
    devices = [r.value for r in store.scan(records.MFA, f"arn:aws:iam::{account}:")]
    in_use = [d for d in devices if d.get("UserName")]
    aws_in_use = sum(1 for a in attached if aws_managed.is_aws_managed(a))
    summary = {
        **QUOTAS,
        "Users": store.count(records.USER, prefix),
        "Groups": store.count(records.GROUP, prefix),
        "Roles": store.count(records.ROLE, prefix),
        "Policies": len(customer),
        "InstanceProfiles": store.count(records.INSTANCE_PROFILE, prefix),
        "Providers": store.count(records.OIDC_PROVIDER, f"arn:aws:iam::{account}:"),
        "ServerCertificates": 0,
        "MFADevices": len(devices),
        "MFADevicesInUse": len(in_use),
        "AccountMFAEnabled": int(any(d["UserName"] == records.ROOT_USER for d in in_use)),
        "AccountAccessKeysPresent": 0,
        "AccountSigningCertificatesPresent": 0,
        "PolicyVersionsInUse": sum(len(p["Versions"]) for p in customer) + aws_in_use,
        "GlobalEndpointTokenVersion": 1,
    }
    return {"SummaryMap": summary}


# ---- GetAccountAuthorizationDetails --------------------------------------------------

def _inline(value: dict[str, Any]) -> list[dict[str, str]]:
    return [{"PolicyName": n, "PolicyDocument": common.encode_document(t)}
            for n, t in sorted(value.get("Policies", {}).items())]


def _attached(call: Call, value: dict[str, Any]) -> list[dict[str, str]]:
    out = []
    for policy_arn in value.get("AttachedPolicies", []):
        found = managed.find(call.store, common.account_of(call), policy_arn)
        if found:
            out.append({"PolicyName": found[0]["PolicyName"], "PolicyArn": policy_arn})
    return out


def get_account_authorization_details(call: Call, params: dict[str, Any]) -> dict[str, Any]:
    store, account = call.store, common.account_of(call)
    wanted = set(params.get("Filter") or ["User", "Role", "Group", "LocalManagedPolicy", "AWSManagedPolicy"])

    def aws_used(after: str) -> list[tuple[str, dict[str, Any]]]:
        # Only the AWS managed policies the account uses, as IAM reports them.
        attached, boundary = managed.usage_counts(store, account)
        used = sorted(a for a in set(attached) | set(boundary) if aws_managed.is_aws_managed(a) and a > after)
        return [(a, p) for a in used if (p := aws_managed.get(a))]

    def everything(value: dict[str, Any]) -> bool:
        return True

    # In IAM's order: users, groups, roles, then policies (AWS managed ones first).
    sources = [(section, rows) for section, name, rows in (
        ("UserDetailList", "User", common.kind_rows(store, records.USER, account, everything, params)),
        ("GroupDetailList", "Group", common.kind_rows(store, records.GROUP, account, everything, params)),
        ("RoleDetailList", "Role", common.kind_rows(store, records.ROLE, account, everything, params)),
        ("Policies", "AWSManagedPolicy", aws_used),
        ("Policies", "LocalManagedPolicy", common.kind_rows(store, records.POLICY, account, everything, params)),
    ) if name in wanted]
    page, more = common.paginate_sources(sources, params)
    out: dict[str, Any] = {s: [] for s in ("UserDetailList", "GroupDetailList", "RoleDetailList", "Policies")}
    profiles: dict[str, list[dict[str, Any]]] | None = None  # by role name, lower-cased
    for section, value in page:
        if section == "UserDetailList":
            d = users.view(value)
            d.pop("PasswordLastUsed", None)  # not part of UserDetail
            d.update(UserPolicyList=_inline(value), GroupList=list(value.get("Groups", [])),
                     AttachedManagedPolicies=_attached(call, value))
        elif section == "GroupDetailList":
            d = groups.view(value)
            d.update(GroupPolicyList=_inline(value), AttachedManagedPolicies=_attached(call, value))
        elif section == "RoleDetailList":
            if profiles is None:
                profiles = _profiles_by_role(call)
            d = roles.view(value, store)
            d.pop("MaxSessionDuration")  # not part of RoleDetail
            d.pop("Description", None)
            d.update(RolePolicyList=_inline(value), AttachedManagedPolicies=_attached(call, value),
                     InstanceProfileList=profiles.get(value["RoleName"].lower(), []))
        else:
            attached, boundary = managed.usage_counts(store, account)
            d = managed.view(value, attached, boundary, full=True)
            d.pop("Tags", None)
            d["PolicyVersionList"] = [
                {**managed.version_view(value, v, document=True)}
                for v in sorted(value["Versions"], key=lambda v: int(v[1:]), reverse=True)
            ]
        out[section].append(d)
    return {**out, **more}


def _profiles_by_role(call: Call) -> dict[str, list[dict[str, Any]]]:
    """The instance profiles' views, by the (lower-cased) names of their roles."""
    found: dict[str, list[dict[str, Any]]] = {}
    for ip in records.in_account(call.store, records.INSTANCE_PROFILE, common.account_of(call)):
        view = instance_profiles.view(call, ip, full=False)
        for role in {r.lower() for r in ip.get("Roles", [])}:
            found.setdefault(role, []).append(view)
    return found


HANDLERS = {
    "CreateAccountAlias": create_account_alias,
    "DeleteAccountAlias": delete_account_alias,
    "ListAccountAliases": list_account_aliases,
    "GetAccountSummary": get_account_summary,
    "GetAccountAuthorizationDetails": get_account_authorization_details,
}
