"""Grants: delegated permission to use a key, without editing its policy.

A grant lets its grantee perform its operations on the key, optionally only with a
given encryption context. Skyhold folds each live grant into the key's resource
policy as one Allow statement (principal = grantee, actions = the grant's
operations, conditions = its constraints), so the policy engine decides grants with
everything else — an explicit Deny still wins, as in KMS. CreateGrant gets a
statement of its own, which also bounds the child grant by its parent.
"""

from __future__ import annotations

import json
import re
import secrets
import uuid
from typing import TYPE_CHECKING, Any

from skyhold import clock, constraints
from skyhold.errors import AwsError, validation_failed
from skyhold.services.kms import records as r
from skyhold.services.kms.handlers import page, usable

if TYPE_CHECKING:
    from skyhold.pipeline import Call

GRANT_OPERATIONS = frozenset({
    "Decrypt", "Encrypt", "GenerateDataKey", "GenerateDataKeyWithoutPlaintext", "ReEncryptFrom", "ReEncryptTo",
    "Sign", "Verify", "GetPublicKey", "CreateGrant", "RetireGrant", "DescribeKey", "GenerateDataKeyPair",
    "GenerateDataKeyPairWithoutPlaintext", "GenerateMac", "VerifyMac", "DeriveSharedSecret",
})
_GRANT_NAME = re.compile(r"[a-zA-Z0-9:/_-]+")
# What a grant may allow on each kind of key (KMS's key type table): symmetric keys
# make data keys, asymmetric keys never do, and each usage keeps to its own operations.
_ANY_KEY = ("CreateGrant", "RetireGrant", "DescribeKey")
_SYMMETRIC_OPERATIONS = frozenset(_ANY_KEY + (
    "Decrypt", "Encrypt", "GenerateDataKey", "GenerateDataKeyWithoutPlaintext", "ReEncryptFrom", "ReEncryptTo",
    "GenerateDataKeyPair", "GenerateDataKeyPairWithoutPlaintext"))
_USAGE_OPERATIONS = {
    "ENCRYPT_DECRYPT": frozenset(_ANY_KEY + ("Decrypt", "Encrypt", "ReEncryptFrom", "ReEncryptTo", "GetPublicKey")),
    "SIGN_VERIFY": frozenset(_ANY_KEY + ("Sign", "Verify", "GetPublicKey")),
    "GENERATE_VERIFY_MAC": frozenset(_ANY_KEY + ("GenerateMac", "VerifyMac")),
    "KEY_AGREEMENT": frozenset(_ANY_KEY + ("DeriveSharedSecret", "GetPublicKey")),
}


_FOLDED: dict[tuple[str, tuple[str, ...]], str] = {}
_FOLDED_MAX = 4096


def effective_policy(key: dict[str, Any]) -> str:
    """The key policy plus one statement per grant. Grants never change once made,
    so the folded text is cached by (policy, grant ids) — and its stable text keeps
    the policy engine's compiled-policy cache warm."""
    # The key policy with its users and roles bound to their unique ids, as written.
    policy = (key.get(r.POLICY_BINDING) or {}).get("Evaluated", key["Policy"])
    grants = key.get("Grants") or []
    if not grants:
        return policy
    cache_key = (policy, tuple(g["GrantId"] for g in grants))
    folded = _FOLDED.get(cache_key)
    if folded is None:
        if len(_FOLDED) >= _FOLDED_MAX:
            _FOLDED.clear()
        folded = _FOLDED[cache_key] = _fold(policy, grants)
    return folded


def _fold(policy: str, grants: list[dict[str, Any]]) -> str:
    doc = json.loads(policy)
    statements = doc["Statement"] if isinstance(doc["Statement"], list) else [doc["Statement"]]
    for grant in grants:
        condition = _constraint_condition(grant.get("Constraints") or {})
        uses = [op for op in grant["Operations"] if op != "CreateGrant"]
        if uses:
            statements.append(_statement(grant, f"grant:{grant['GrantId']}", uses, condition))
        if "CreateGrant" in grant["Operations"]:
            bounded = _child_grant_condition(grant, condition)
            statements.append(_statement(grant, f"grant:{grant['GrantId']}:CreateGrant", ["CreateGrant"], bounded))
    doc["Statement"] = statements
    return json.dumps(doc)


def _statement(grant: dict[str, Any], sid: str, operations: list[str], condition: dict[str, Any]) -> dict[str, Any]:
    grantee = grant["GranteePrincipal"]
    statement: dict[str, Any] = {
        "Sid": sid,
        "Effect": "Allow",
        "Principal": {"Service": grantee} if grantee.endswith(".amazonaws.com") else {"AWS": grantee},
        "Action": [f"kms:{op}" for op in operations],
        "Resource": "*",
    }
    if condition:
        statement["Condition"] = condition
    return statement


def _constraint_condition(constraints: dict[str, Any]) -> dict[str, Any]:
    """A grant's encryption context constraint as policy conditions. For CreateGrant the
    kms:EncryptionContext keys are the child grant's constraint pairs, so the same
    conditions make a child keep at least the parent's pairs."""
    condition: dict[str, Any] = {}
    if constraints.get("EncryptionContextSubset"):
        condition["StringEquals"] = {f"kms:EncryptionContext:{k}": v
                                     for k, v in constraints["EncryptionContextSubset"].items()}
    if constraints.get("EncryptionContextEquals"):
        equals = constraints["EncryptionContextEquals"]
        condition["StringEquals"] = {f"kms:EncryptionContext:{k}": v for k, v in equals.items()}
        condition["ForAllValues:StringEquals"] = {"kms:EncryptionContextKeys": list(equals)}
    return condition


def _child_grant_condition(grant: dict[str, Any], condition: dict[str, Any]) -> dict[str, Any]:
    """CreateGrant allowed by a grant may only make a child grant no wider than it (KMS
    Developer Guide, "Granting CreateGrant permission"): some or all of its operations,
    and constraints at least as strict — an Equals parent's child must be Equals too
    (a Subset child could be used with extra context pairs)."""
    bounds = dict(condition.get("ForAllValues:StringEquals") or {})
    bounds["kms:GrantOperations"] = list(grant["Operations"])
    if (grant.get("Constraints") or {}).get("EncryptionContextEquals"):
        bounds["kms:GrantConstraintType"] = ["EncryptionContextEquals"]
    return {**condition, "ForAllValues:StringEquals": bounds}


def grantee(params: dict[str, Any]) -> str:
    """The grant's grantee. The model makes GranteePrincipal optional because a grant may
    name a GranteeServicePrincipal instead (with a SourceArn constraint), which Skyhold
    does not support."""
    if params.get("GranteeServicePrincipal") is not None:
        raise AwsError("UnsupportedOperationException", "Skyhold does not support grants to service principals "
                       "(GranteeServicePrincipal).", 400)
    if params.get("GranteePrincipal") is None:
        raise validation_failed([constraints.null_member("granteePrincipal")])
    return params["GranteePrincipal"]


def _check_request(params: dict[str, Any]) -> None:
    """The members' own constraints, checked before the key is looked up."""
    problems = []
    if not params["Operations"]:
        problems.append(constraints.problem("operations", "[]", "have length greater than or equal to 1"))
    name = params.get("Name")
    if name is not None:
        if len(name) > 256:
            problems.append(constraints.problem("name", name, "have length less than or equal to 256"))
        if not _GRANT_NAME.fullmatch(name):
            problems.append(constraints.problem("name", name,
                                               "satisfy regular expression pattern: ^[a-zA-Z0-9:/_-]+$"))
    constraints.raise_if(problems)
    unknown = [op for op in params["Operations"] if op not in GRANT_OPERATIONS]
    if unknown:
        raise AwsError("ValidationException", f"Invalid grant operation: {unknown[0]}", 400)
    if set(params["Operations"]) == {"CreateGrant"}:
        raise AwsError("ValidationException", "Grants must not contain only the CreateGrant operation.", 400)


def _check_fits_key(key: dict[str, Any], params: dict[str, Any]) -> None:
    """A grant may only allow what its key can do; encryption context exists only for
    symmetric encryption keys, so only their grants may be constrained by it."""
    symmetric = key["KeySpec"] == "SYMMETRIC_DEFAULT"
    allowed = _SYMMETRIC_OPERATIONS if symmetric else _USAGE_OPERATIONS[key["KeyUsage"]]
    refused = [op for op in params["Operations"] if op not in allowed]
    if refused:
        raise AwsError("ValidationException", f"Grant operations [{', '.join(refused)}] are not valid for "
                       f"{key['Arn']}, whose key spec is {key['KeySpec']} and key usage is {key['KeyUsage']}.", 400)
    constraints = params.get("Constraints") or {}
    if not symmetric and (constraints.get("EncryptionContextSubset") or constraints.get("EncryptionContextEquals")):
        raise AwsError("ValidationException", f"Encryption context grant constraints are not valid for {key['Arn']}: "
                       "only symmetric encryption KMS keys use an encryption context.", 400)


def create_grant(call: Call, params: dict[str, Any]) -> dict[str, Any]:
    _check_request(params)
    key, version = r.find(call, params["KeyId"])
    usable(key)
    _check_fits_key(key, params)
    operations, name, who = params["Operations"], params.get("Name"), grantee(params)
    grants = key.setdefault("Grants", [])
    for grant in grants:  # CreateGrant is idempotent for the same name and contents
        if name and grant.get("Name") == name and grant["GranteePrincipal"] == who \
                and grant["Operations"] == operations:
            return {"GrantId": grant["GrantId"], "GrantToken": grant["GrantToken"]}
    grant = {
        "GrantId": uuid.uuid4().hex + uuid.uuid4().hex,
        "GrantToken": secrets.token_urlsafe(96),
        "KeyId": key["Arn"],
        "Name": name or "",
        "GranteePrincipal": who,
        "RetiringPrincipal": params.get("RetiringPrincipal"),
        "IssuingAccount": f"arn:aws:iam::{call.principal.account}:root",
        "Operations": operations,
        "Constraints": params.get("Constraints") or {},
        "CreationDate": clock.now_iso8601(),
    }
    grants.append(grant)
    r.save(call, key, version)
    return {"GrantId": grant["GrantId"], "GrantToken": grant["GrantToken"]}


def _view(grant: dict[str, Any]) -> dict[str, Any]:
    out = {k: v for k, v in grant.items() if k not in ("GrantToken", "CreationDate") and v not in (None, "", {})}
    out["CreationDate"] = r.parse_time(grant["CreationDate"])
    return out


def list_grants(call: Call, params: dict[str, Any]) -> dict[str, Any]:
    key, _ = r.find(call, params["KeyId"])
    grants = [g for g in key.get("Grants") or []
              if (not params.get("GrantId") or g["GrantId"] == params["GrantId"])
              and (not params.get("GranteePrincipal") or g["GranteePrincipal"] == params["GranteePrincipal"])]
    rows, more = page(grants, params, "GrantId")
    return {"Grants": [_view(g) for g in rows], **more}


def principal_account(arn: str) -> str | None:
    """The account of an IAM/STS principal ARN (arn:aws:iam::<account>:...), if it is one."""
    parts = arn.split(":", 5)
    if len(parts) == 6 and parts[0] == "arn" and parts[2] in ("iam", "sts") and parts[4].isdigit():
        return parts[4]
    return None


def list_retirable_grants(call: Call, params: dict[str, Any]) -> dict[str, Any]:
    principal = params.get("RetiringPrincipal")
    # The model makes RetiringPrincipal optional for RetiringServicePrincipal's sake; no
    # Skyhold grant has a retiring service principal, so that lists none.
    if principal is None and params.get("RetiringServicePrincipal") is None:
        raise validation_failed([constraints.null_member("retiringPrincipal")])
    # The grants in this Region whose retiring principal is the one named, on keys of
    # any account; authorization already held the principal to the caller's account.
    found = []
    for rec in call.store.scan(r.KEY):
        key = rec.value
        if principal is None or key["Region"] != call.region:
            continue
        if principal_account(principal) is None and key["AWSAccountId"] != call.principal.account:
            continue  # not a principal ARN: nothing ties it to the caller, so only the caller's own keys
        found += [g for g in key.get("Grants") or [] if g.get("RetiringPrincipal") == principal]
    rows, more = page(found, params, "GrantId")
    return {"Grants": [_view(g) for g in rows], **more}


def _remove(call: Call, key: dict[str, Any], version: int, grant_id: str) -> None:
    before = len(key.get("Grants") or [])
    key["Grants"] = [g for g in key.get("Grants") or [] if g["GrantId"] != grant_id]
    if len(key["Grants"]) == before:
        raise AwsError("NotFoundException", f"Grant ID {grant_id} not found", 400)
    r.save(call, key, version)


def revoke_grant(call: Call, params: dict[str, Any]) -> dict[str, Any]:
    key, version = r.find(call, params["KeyId"])
    _remove(call, key, version, params["GrantId"])
    return {}


def retire_grant(call: Call, params: dict[str, Any]) -> dict[str, Any]:
    """By token, or by key and grant id; only the retiring principal or the grantee
    (with RetireGrant among its operations) may retire."""
    key, version, grant = find_for_retire(call, params)
    who = call.principal
    allowed = {grant.get("RetiringPrincipal"), grant["GranteePrincipal"] if "RetireGrant" in grant["Operations"]
               else None}
    allowed.discard(None)
    caller = {who.arn, f"arn:aws:iam::{who.account}:root"}
    if who.session.get("role_arn"):
        caller.add(who.session["role_arn"])
    if not caller & allowed:
        raise AwsError("AccessDeniedException", f"User: {who.arn} is not authorized to perform: kms:RetireGrant on "
                       f"resource: {key['Arn']}", 400)
    _remove(call, key, version, grant["GrantId"])
    return {}


def find_for_retire(call: Call, params: dict[str, Any]) -> tuple[dict[str, Any], int, dict[str, Any]]:
    if params.get("GrantToken"):
        for rec in call.store.scan(r.KEY):
            for grant in rec.value.get("Grants") or []:
                if grant["GrantToken"] == params["GrantToken"]:
                    return rec.value, rec.version, grant
        raise AwsError("InvalidGrantTokenException", "Invalid grant token", 400)
    if not params.get("KeyId") or not params.get("GrantId"):
        raise AwsError("ValidationException", "Either GrantToken or both KeyId and GrantId are required.", 400)
    key, version = r.find(call, params["KeyId"])
    grant = next((g for g in key.get("Grants") or [] if g["GrantId"] == params["GrantId"]), None)
    if grant is None:
        raise AwsError("NotFoundException", f"Grant ID {params['GrantId']} not found", 400)
    return key, version, grant


HANDLERS = {
    "CreateGrant": create_grant,
    "ListGrants": list_grants,
    "ListRetirableGrants": list_retirable_grants,
    "RevokeGrant": revoke_grant,
    "RetireGrant": retire_grant,
}
