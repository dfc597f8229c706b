"""STS operation handlers: who am I, and temporary credentials."""

from __future__ import annotations

import json
import re
from typing import TYPE_CHECKING, Any

from skyhold import arn as arns
from skyhold import authorization_message, clock
from skyhold import principal as p
from skyhold.errors import AwsError
from skyhold.policy import validate_policy
from skyhold.services.iam import managed
from skyhold.services.iam import records as iam_records
from skyhold.services.sts import sessions
from skyhold.services.sts.roles import find_role
from skyhold.services.sts.validation import (
    check_duration,
    check_pattern,
    packed_policy_size,
    session_tags,
)

if TYPE_CHECKING:
    from skyhold.pipeline import Call

ROLE_CHAINING_LIMIT = 3600
USER_SESSION_MAX = 129600  # 36 hours: GetSessionToken, GetFederationToken
USER_SESSION_DEFAULT = 43200
ROOT_SESSION_MAX = 3600


def get_caller_identity(call: Call, params: dict[str, Any]) -> dict[str, Any]:
    # Needs no permission on AWS: even a principal denied everything may ask.
    who = call.principal
    return {"UserId": who.user_id, "Account": who.account, "Arn": who.arn}


def assume_role(call: Call, params: dict[str, Any]) -> dict[str, Any]:
    who = call.principal
    session_name = params["RoleSessionName"]  # checked in authz.assume_role
    role = find_role(call.store, params["RoleArn"])
    if role is None:  # authorization already refused an unknown role; defensive
        raise AwsError("AccessDenied", f"Not authorized to perform sts:AssumeRole on {params['RoleArn']}", 403)
    chained = who.type == p.ASSUMED_ROLE
    limit = ROLE_CHAINING_LIMIT if chained else role.get("MaxSessionDuration", 3600)
    duration = params.get("DurationSeconds", 3600)
    check_duration(duration, 900, 43200)
    if duration > limit:
        raise AwsError(
            "ValidationError",
            "The requested DurationSeconds exceeds the 1 hour session limit for roles assumed by role chaining."
            if chained
            else "The requested DurationSeconds exceeds the MaxSessionDuration set for this role.",
        )
    policies = _session_policies(call, params)
    tags, transitive = _tags_for(who, role, params)
    account = arns.parse(role["Arn"]).account
    mfa = bool(call.extras.get("mfa")) or bool(who.session.get("mfa"))
    source_identity = who.session.get("source_identity") or params.get("SourceIdentity")
    credentials = sessions.issue(
        call.store,
        sessions.NewSession(
            type=p.ASSUMED_ROLE,
            account=account,
            arn=arns.assumed_role(account, role["RoleName"], session_name),
            user_id=f"{role['RoleId']}:{session_name}",
            name=session_name,
            duration=duration,
            role_name=role["RoleName"],
            role_arn=role["Arn"],
            policies=policies,
            tags=tags,
            transitive_tag_keys=transitive,
            mfa=mfa,
            mfa_time=clock.now_epoch() if call.extras.get("mfa") else who.session.get("mfa_time"),
            source_identity=source_identity,
            chained=chained,
        ),
    )
    result: dict[str, Any] = {
        "Credentials": credentials,
        "AssumedRoleUser": {
            "AssumedRoleId": f"{role['RoleId']}:{session_name}",
            "Arn": arns.assumed_role(account, role["RoleName"], session_name),
        },
    }
    if policies or tags:
        result["PackedPolicySize"] = packed_policy_size(params, tags)
    if source_identity:
        result["SourceIdentity"] = source_identity
    return result


def assume_role_with_web_identity(call: Call, params: dict[str, Any]) -> dict[str, Any]:
    """The token was verified and the trust policy decided in web_identity.authz."""
    who = call.principal
    session_name = params["RoleSessionName"]  # checked in web_identity.authz
    role = find_role(call.store, params["RoleArn"])
    if role is None:
        raise AwsError("AccessDenied", "Not authorized to perform sts:AssumeRoleWithWebIdentity", 403)
    duration = params.get("DurationSeconds", 3600)
    check_duration(duration, 900, 43200)
    if duration > role.get("MaxSessionDuration", 3600):
        raise AwsError("ValidationError", "The requested DurationSeconds exceeds the MaxSessionDuration set for this role.")
    policies = _session_policies(call, params, account=arns.parse(role["Arn"]).account)
    account = arns.parse(role["Arn"]).account
    assumed_arn = arns.assumed_role(account, role["RoleName"], session_name)
    credentials = sessions.issue(
        call.store,
        sessions.NewSession(
            type=p.ASSUMED_ROLE, account=account, arn=assumed_arn, user_id=f"{role['RoleId']}:{session_name}",
            name=session_name, duration=duration, role_name=role["RoleName"], role_arn=role["Arn"],
            policies=policies, tags={t["Key"]: t["Value"] for t in role.get("Tags") or []},
        ),
    )
    claims = who.session["claims"]
    result: dict[str, Any] = {
        "Credentials": credentials,
        "SubjectFromWebIdentityToken": claims["sub"],
        "AssumedRoleUser": {"AssumedRoleId": f"{role['RoleId']}:{session_name}", "Arn": assumed_arn},
        "Provider": who.session["issuer_host"],
        "Audience": claims["aud"],
    }
    if policies:
        result["PackedPolicySize"] = packed_policy_size(params, {})
    return result


def get_session_token(call: Call, params: dict[str, Any]) -> dict[str, Any]:
    who = call.principal
    if who.session.get("temporary"):
        raise AwsError("AccessDenied", "Cannot call GetSessionToken with session credentials", 403)
    is_root = who.type == p.ROOT
    duration = params.get("DurationSeconds", ROOT_SESSION_MAX if is_root else USER_SESSION_DEFAULT)
    check_duration(duration, 900, USER_SESSION_MAX)
    duration = min(duration, ROOT_SESSION_MAX) if is_root else duration
    mfa = bool(call.extras.get("mfa"))
    credentials = sessions.issue(
        call.store,
        sessions.NewSession(
            type=who.type,
            account=who.account,
            arn=who.arn,
            user_id=who.user_id,
            name=who.name,
            duration=duration,
            source_user=who.name,
            mfa=mfa,
            mfa_time=clock.now_epoch() if mfa else None,
        ),
    )
    return {"Credentials": credentials}


def get_federation_token(call: Call, params: dict[str, Any]) -> dict[str, Any]:
    who = call.principal
    if who.session.get("temporary"):
        raise AwsError("AccessDenied", "Cannot call GetFederationToken with session credentials", 403)
    name = params["Name"]
    check_pattern("name", name, r"[\w+=,.@-]*", 2, 32)
    is_root = who.type == p.ROOT
    duration = params.get("DurationSeconds", ROOT_SESSION_MAX if is_root else USER_SESSION_DEFAULT)
    check_duration(duration, 900, USER_SESSION_MAX)
    duration = min(duration, ROOT_SESSION_MAX) if is_root else duration
    policies = _session_policies(call, params)
    tags = session_tags(params.get("Tags") or [])
    federated_arn = f"arn:{arns.PARTITION}:sts::{who.account}:federated-user/{name}"
    credentials = sessions.issue(
        call.store,
        sessions.NewSession(
            type=p.FEDERATED_USER,
            account=who.account,
            arn=federated_arn,
            user_id=f"{who.account}:{name}",
            name=name,
            duration=duration,
            source_user=who.name if who.type == p.IAM_USER else "",
            source_user_arn=who.arn if who.type == p.IAM_USER else "",
            source_user_id=who.user_id if who.type == p.IAM_USER else "",
            # A federation token with no session policy can do nothing (AWS documents
            # that the intersection is then empty).
            policies=policies or [json.dumps({"Version": "2012-10-17", "Statement": []})],
            tags=_over(who.tags, tags),
        ),
    )
    result: dict[str, Any] = {
        "Credentials": credentials,
        "FederatedUser": {"FederatedUserId": f"{who.account}:{name}", "Arn": federated_arn},
        # Unlike AssumeRole, AWS always reports it here: 0 with no session policy or tags.
        "PackedPolicySize": packed_policy_size(params, tags),
    }
    return result


def get_access_key_info(call: Call, params: dict[str, Any]) -> dict[str, Any]:
    key_id = params["AccessKeyId"]
    if not re.fullmatch(r"[\w]{16,128}", key_id):
        raise AwsError("ValidationError", f"1 validation error detected: Value '{key_id}' at 'accessKeyId' "
                       r"failed to satisfy constraint: Member must satisfy regular expression pattern: [\w]*")
    session = sessions.find(call.store, key_id)
    if session is not None:
        return {"Account": session["Account"]}
    rec = call.store.get(iam_records.ACCESS_KEY, key_id)
    if rec is None:
        # AWS decodes the account from the key id itself; a key Skyhold never issued
        # belongs to no account it knows.
        raise AwsError("InvalidParameterValue", f"The access key ID {key_id} does not belong to a known account.")
    return {"Account": rec.value["Account"]}


def decode_authorization_message(call: Call, params: dict[str, Any]) -> dict[str, Any]:
    # A message of another account does not open for this caller: the same answer as garbage.
    text = authorization_message.decode(call.pipeline.data_dir, params["EncodedMessage"], call.principal.account)
    if text is None:
        raise AwsError("InvalidAuthorizationMessageException",
                       "The error message provided in the request is not a valid encoded authorization message.")
    return {"DecodedMessage": text}


def _session_policies(call: Call, params: dict[str, Any], account: str | None = None) -> list[str]:
    policies: list[str] = []
    if params.get("Policy"):
        validate_policy(params["Policy"], "session")
        policies.append(params["Policy"])
    for ref in params.get("PolicyArns") or []:
        found = managed.find(call.store, account or call.principal.account, ref["arn"])
        if found is None:
            raise AwsError("InvalidParameterValue", f"Policy {ref['arn']} does not exist or is not attachable.")
        policies.append(managed.default_document(found[0]))
    return policies


def _over(base: dict[str, str], tags: dict[str, str]) -> dict[str, str]:
    """`base` overridden by `tags` (keys compared case-insensitively): "session tags
    override a user tag with the same key" (GetFederationToken's API reference)."""
    lowered = {k.lower() for k in tags}
    return {**{k: v for k, v in base.items() if k.lower() not in lowered}, **tags}


def _tags_for(who: p.Principal, role: dict[str, Any], params: dict[str, Any]) -> tuple[dict[str, str], list[str]]:
    """aws:PrincipalTag of the new session: role tags, then transitive tags of the
    calling session, then this call's session tags (later ones win)."""
    requested = session_tags(params.get("Tags") or [])
    inherited_keys = list(who.session.get("transitive_tag_keys") or [])
    lowered = {k.lower() for k in inherited_keys}
    inherited = {k: v for k, v in (who.session.get("tags") or {}).items() if k.lower() in lowered}
    clash = [k for k in requested if k.lower() in {i.lower() for i in inherited}]
    if clash:
        raise AwsError("InvalidParameterValue", "One of the specified transitive tag keys can't be set because it "
                       "conflicts with a transitive tag key from the calling session.")
    tags = {t["Key"]: t["Value"] for t in role.get("Tags") or []}
    tags.update(inherited)
    tags.update(requested)
    transitive = list(params.get("TransitiveTagKeys") or [])
    # Tag keys are case-insensitive: TransitiveTagKeys=["env"] names a tag "Env".
    unknown = [k for k in transitive if k.lower() not in {r.lower() for r in requested}]
    if unknown:
        raise AwsError("InvalidParameterValue", "The specified transitive tag key must be included in the "
                       "requested tags.")
    return tags, sorted(set(inherited_keys + transitive))


HANDLERS = {
    "GetCallerIdentity": get_caller_identity,
    "AssumeRole": assume_role,
    "AssumeRoleWithWebIdentity": assume_role_with_web_identity,
    "GetSessionToken": get_session_token,
    "GetFederationToken": get_federation_token,
    "GetAccessKeyInfo": get_access_key_info,
    "DecodeAuthorizationMessage": decode_authorization_message,
}
