"""What each STS call means to IAM.

AssumeRole is decided with the role's trust policy as the resource policy, and that
policy must allow even in the same account. MFA codes presented with a call are
checked here, before the decision, because they feed aws:MultiFactorAuthPresent.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from skyhold import arn as arns
from skyhold import principal as p
from skyhold.authz import Access
from skyhold.errors import AwsError
from skyhold.services.iam import records as iam_records
from skyhold.services.iam import verify_totp
from skyhold.services.sts import web_identity
from skyhold.services.iam.roles import evaluated_trust
from skyhold.services.sts.roles import find_role
from skyhold.services.sts.validation import SESSION_NAME, check_pattern, check_role_arn, tag_context

if TYPE_CHECKING:
    from skyhold.pipeline import Call
    from skyhold.store.base import Store

_BAD_MFA = "MultiFactorAuthentication failed with invalid MFA one time pass code. "
# STS's answer when the serial number names no device of the caller (another user's,
# another account's, or none at all); a device of the caller's own with a wrong code
# gets _BAD_MFA instead.
_NOT_CALLERS_MFA = ("MultiFactorAuthentication failed, unable to validate MFA code.  Please verify your MFA "
                    "serial number is valid and associated with this user.")


def _mfa_context(call: Call, params: dict[str, Any]) -> dict[str, Any]:
    serial, code = params.get("SerialNumber"), params.get("TokenCode")
    if not serial and not code:
        return {}
    if not serial or not code:
        raise AwsError("ValidationError", "Both SerialNumber and TokenCode must be specified together.")
    if not _owns_device(call.store, call.principal, serial):
        raise AwsError("AccessDenied", _NOT_CALLERS_MFA, 403)
    if not verify_totp(call.store, serial, code):
        raise AwsError("AccessDenied", _BAD_MFA, 403)
    call.extras["mfa"] = True
    return {"aws:MultiFactorAuthPresent": "true", "aws:MultiFactorAuthAge": "0"}


def _owns_device(store: Store, who: p.Principal, serial: str) -> bool:
    """Whether `serial` is an MFA device enabled for the calling user itself (the root
    user's own device for root). Roles and federated users have no MFA devices: their
    MFA, if any, was proven when their session was issued."""
    if who.type == p.ROOT:
        owner = iam_records.ROOT_USER
    elif who.type == p.IAM_USER:
        owner = who.name
    else:
        return False
    rec = store.get(iam_records.MFA, serial)
    if rec is None or rec.value["Account"] != who.account:
        return False
    # IAM user names are unique regardless of case.
    return (rec.value.get("UserName") or "").lower() == owner.lower()


def assume_role(call: Call, params: dict[str, Any]) -> list[Access]:
    # STS refuses malformed input before it decides anything (AccessDenied comes later).
    check_pattern("roleSessionName", params["RoleSessionName"], SESSION_NAME, 2, 64)
    role_arn = params["RoleArn"]
    check_role_arn(role_arn)
    if call.principal.type == p.ROOT:
        # Not even a trust policy naming the account lets its root user in.
        raise AwsError("AccessDenied", "Roles may not be assumed by root accounts.", 403)
    role = find_role(call.store, role_arn)
    owner = arns.parse(role_arn).account
    tags = params.get("Tags") or []
    context: dict[str, Any] = {
        "sts:RoleSessionName": params["RoleSessionName"],
        **_mfa_context(call, params),
        **tag_context(tags),
    }
    if params.get("ExternalId") is not None:
        context["sts:ExternalId"] = params["ExternalId"]
    if params.get("TransitiveTagKeys"):
        context["sts:TransitiveTagKeys"] = params["TransitiveTagKeys"]
    if params.get("SourceIdentity"):
        context["sts:SourceIdentity"] = params["SourceIdentity"]
    # The role is the resource: its tags are iam:ResourceTag/… and aws:ResourceTag/…
    # (Service Authorization Reference), as the IAM ABAC tutorial's policy relies on.
    for tag in (role or {}).get("Tags") or []:
        context[f"iam:ResourceTag/{tag['Key']}"] = context[f"aws:ResourceTag/{tag['Key']}"] = tag["Value"]
    trust = evaluated_trust(call.store, role) if role else None

    def check(action: str) -> Access:
        return Access(action, role_arn, context, resource_account=owner, resource_policy=trust,
                      resource_policy_required=True)

    accesses = [check("sts:AssumeRole")]
    if tags:
        accesses.append(check("sts:TagSession"))
    if params.get("SourceIdentity"):
        accesses.append(check("sts:SetSourceIdentity"))
    return accesses


def get_session_token(call: Call, params: dict[str, Any]) -> list[Access]:
    _mfa_context(call, params)
    # "No permissions are required for a user to get temporary credentials" with
    # GetSessionToken (STS API reference); an explicit deny still applies.
    return []


def get_federation_token(call: Call, params: dict[str, Any]) -> list[Access]:
    who = call.principal
    resource = f"arn:{arns.PARTITION}:sts::{who.account}:federated-user/{params['Name']}"
    tags = params.get("Tags") or []
    accesses = [Access("sts:GetFederationToken", resource, tag_context(tags))]
    if tags:
        accesses.append(Access("sts:TagSession", resource, tag_context(tags)))
    return accesses


AUTHZ = {
    # "No permissions are required to perform this operation" (STS API reference).
    "GetCallerIdentity": lambda call, params: [],
    "AssumeRole": assume_role,
    "AssumeRoleWithWebIdentity": web_identity.authz,
    "GetSessionToken": get_session_token,
    "GetFederationToken": get_federation_token,
    "GetAccessKeyInfo": lambda call, params: [Access("sts:GetAccessKeyInfo", "*")],
    "DecodeAuthorizationMessage": lambda call, params: [Access("sts:DecodeAuthorizationMessage", "*")],
}
