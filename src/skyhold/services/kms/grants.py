"""Grants: delegated permission to use a key, without editing its policy.

A grant lets its grantee perform its operations on the key, optionally only with a
given encryption context. Skyhold folds each live grant into the key's resource
policy as one Allow statement (principal = grantee, actions = the grant's
operations, conditions = its constraints), so the policy engine decides grants with
everything else — an explicit Deny still wins, as in KMS. CreateGrant gets a
statement of its own, which also bounds the child grant by its parent.

A key may have 50,000 grants, so each grant is a record of its own (never part of
its key's record, which every use of the key reads), with copies indexed for the
questions asked of grants on the hot path:
- `kms.grant` "<key id>/<grant id>": a key's grants in GrantId order (ListGrants);
- `kms.grant.grantee` "<key id> <whom it names> <grant id>": the grants that may name a
  caller (authorization reads only those) or a GranteePrincipal (ListGrants' filter);
- `kms.grant.retiring` "<region> <retiring principal> <grant id>": ListRetirableGrants;
- `kms.grant.token` SHA-256 of a grant token: which grant it is (RetireGrant).
"""

from __future__ import annotations

import hashlib
import json
import re
import secrets
import uuid
import weakref
from collections.abc import Iterable, Iterator
from functools import lru_cache
from typing import TYPE_CHECKING, Any

from skyhold import clock, constraints, paging
from skyhold import principal as P
from skyhold.errors import AwsError, validation_failed
from skyhold.policy.principals import PrincipalMatcher
from skyhold.policy.request import ROLE, Caller
from skyhold.services.kms import records as r
from skyhold.services.kms.handlers import page_bounds, page_taken, usable
from skyhold.store.base import Store
from skyhold.store.cache import GenerationCache

if TYPE_CHECKING:
    from skyhold.pipeline import Call

GRANT = "kms.grant"
BY_GRANTEE = "kms.grant.grantee"
BY_RETIRING = "kms.grant.retiring"
BY_TOKEN = "kms.grant.token"
# KMS's resource quota "Grants for a KMS key" (Developer Guide, "Resource quotas").
MAX_GRANTS_PER_KEY = 50_000

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


def effective_policy(key: dict[str, Any], grants: Iterable[dict[str, Any]] = ()) -> str:
    """The key policy plus one statement per grant given (`naming`: those that may
    name the caller). Grants never change once made, so the folded text is cached by
    (policy, grant ids) — and its stable text keeps the policy engine's
    compiled-policy cache warm."""
    # The key policy with its users and roles bound to their unique ids, as written.
    policy = (key.get(r.POLICY_BINDING) or {}).get("Evaluated", key["Policy"])
    grants = list(grants)
    if not grants:
        return policy
    cache_key = (policy, tuple(g["GrantId"] for g in grants))
    folded = _FOLDED.get(cache_key)
    if folded is None:
        if len(_FOLDED) >= _FOLDED_MAX:
            _FOLDED.clear()
        folded = _FOLDED[cache_key] = _fold(policy, grants)
    return folded


# --- grants in the store ----------------------------------------------------------------

def _principal_element(grantee: str) -> dict[str, str]:
    return {"Service": grantee} if grantee.endswith(".amazonaws.com") else {"AWS": grantee}


def _names(grantee: str) -> str:
    """Whom a grantee principal names, as the policy engine reads it: an account (its
    id or root ARN), a role (its sessions too, whatever the role's path), a role's
    unique id, a service, anyone, or one principal by ARN or unique id."""
    m = PrincipalMatcher.compile(_principal_element(grantee))
    if m.any:
        return "*"
    for account in m.accounts:
        return f"account:{account}"
    for account, role in m.roles:
        return f"role:{account}:{role}"
    for role_id in m.role_ids:
        return f"role-id:{role_id}"
    for service in m.services:
        return f"service:{service}"
    return f"arn:{grantee}"


def _caller_names(who: P.Principal) -> tuple[str, ...]:
    """Every `_names` value a grant naming this caller can have: the ways the policy
    engine's Principal matching can name it (skyhold.policy.principals)."""
    if who.type == P.FEDERATED_USER:  # a grant may name the IAM user that made it
        return _names_of(who.arn, who.user_id, who.session.get("source_user_arn") or "",
                         who.session.get("source_user_id") or "")
    return _names_of(who.arn, who.user_id)


@lru_cache(maxsize=4096)  # asked on every use of a key
def _names_of(arn: str, user_id: str, source_user_arn: str = "", source_user_id: str = "") -> tuple[str, ...]:
    c = Caller.from_arn(arn, user_id=user_id, source_user_arn=source_user_arn, source_user_id=source_user_id)
    if c.is_service:
        return (f"service:{c.arn.lower()}",)
    names = ["*", f"account:{c.account}", f"arn:{c.arn}"]
    names += [f"arn:{v}" for v in (c.user_id, c.source_user_arn, c.source_user_id) if v]
    if c.type in (P.ASSUMED_ROLE, ROLE):
        names += [f"role:{c.account}:{c.name}", f"role-id:{c.user_id.partition(':')[0]}"]
    return tuple(dict.fromkeys(names))


def _grantee_key(key_id: str, names: str, grant_id: str = "") -> str:
    return f"{key_id} {names} {grant_id}"


def _retiring_key(region: str, principal: str, grant_id: str = "") -> str:
    return f"{region} {principal} {grant_id}"


def _token_key(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _key_id(grant: dict[str, Any]) -> str:
    return str(grant["KeyId"]).rsplit("/", 1)[1]  # the grant names its key by ARN


def _region(grant: dict[str, Any]) -> str:
    return str(grant["KeyId"]).split(":")[3]


def _put(store: Store, grant: dict[str, Any]) -> None:
    key_id, grant_id = _key_id(grant), grant["GrantId"]
    with store.transaction():
        store.put(GRANT, f"{key_id}/{grant_id}", grant, expect_version=0)
        store.put(BY_GRANTEE, _grantee_key(key_id, _names(grant["GranteePrincipal"]), grant_id), grant,
                  expect_version=0)
        if grant.get("RetiringPrincipal"):
            store.put(BY_RETIRING, _retiring_key(_region(grant), grant["RetiringPrincipal"], grant_id), grant,
                      expect_version=0)
        store.put(BY_TOKEN, _token_key(grant["GrantToken"]), {"KeyId": key_id, "GrantId": grant_id},
                  expect_version=0)


def _drop(store: Store, grant: dict[str, Any]) -> None:
    key_id, grant_id = _key_id(grant), grant["GrantId"]
    with store.transaction():
        store.delete(GRANT, f"{key_id}/{grant_id}")
        store.delete(BY_GRANTEE, _grantee_key(key_id, _names(grant["GranteePrincipal"]), grant_id))
        if grant.get("RetiringPrincipal"):
            store.delete(BY_RETIRING, _retiring_key(_region(grant), grant["RetiringPrincipal"], grant_id))
        store.delete(BY_TOKEN, _token_key(grant["GrantToken"]))


def _get(store: Store, key_id: str, grant_id: str) -> dict[str, Any] | None:
    rec = store.get(GRANT, f"{key_id}/{grant_id}")
    return rec.value if rec is not None else None


def _of_key(store: Store, key_id: str, start_after: str = "", batch: int = 100) -> Iterator[dict[str, Any]]:
    prefix = f"{key_id}/"
    for rec in paging.scan_from(store, GRANT, prefix, prefix + start_after if start_after else "", batch=batch):
        yield rec.value


def _naming(store: Store, key_id: str, names: str, start_after: str = "", batch: int = 100
            ) -> Iterator[dict[str, Any]]:
    """The grants of a key whose grantee names `names`, in GrantId order."""
    prefix = _grantee_key(key_id, names)
    for rec in paging.scan_from(store, BY_GRANTEE, prefix, prefix + start_after if start_after else "", batch=batch):
        if rec.key == prefix + rec.value["GrantId"]:  # not a longer name that merely starts alike
            yield rec.value


def delete_all(store: Store, key_id: str) -> None:
    """A deleted key's grants go with it."""
    grants = list(_of_key(store, key_id))
    with store.transaction():
        for grant in grants:
            _drop(store, grant)


def move_out(store: Store) -> None:
    """Upgrade (upgrades.GRANT_RECORDS): grants an older Skyhold kept inside their key's
    record become records of their own."""
    for rec in paging.scan_from(store, r.KEY, ""):
        if "Grants" not in rec.value:
            continue
        key = dict(rec.value)
        with store.transaction():
            for grant in key.pop("Grants") or []:
                _put(store, grant)
            store.put(r.KEY, rec.key, key, expect_version=rec.version)


# By the store object itself (weakly): an id() could be reused by a later store.
_caches: weakref.WeakKeyDictionary[Store, GenerationCache] = weakref.WeakKeyDictionary()


def naming(call: Call, key: dict[str, Any], service: str | None = None) -> tuple[dict[str, Any], ...]:
    """The key's grants that may name the caller (or `service`, a service principal
    using the key itself): all an authorization decision needs (the policy engine then
    matches them exactly). Memoized until the store changes."""
    store = call.store
    cache = _caches.get(store)
    if cache is None:
        cache = _caches[store] = GenerationCache(store, ignore_bulk=True)
    key_id, names = key["KeyId"], _names_of(service, "") if service else _caller_names(call.principal)

    def read() -> tuple[dict[str, Any], ...]:
        if not store.scan(GRANT, f"{key_id}/", limit=1):
            return ()  # most keys have no grants: one read, not one per name
        return tuple(grant for n in names for grant in _naming(store, key_id, n))

    return cache.get((key_id, names), read)


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
    key, _ = r.find(call, params["KeyId"])
    usable(key)
    _check_fits_key(key, params)
    operations, name, who = params["Operations"], params.get("Name"), grantee(params)
    if name:  # a retry with the same name and identical parameters gets the same grant (the model's Name)
        same = {"Name": name, "GranteePrincipal": who, "Operations": operations,
                "RetiringPrincipal": params.get("RetiringPrincipal"), "Constraints": params.get("Constraints") or {}}
        for grant in _naming(call.store, key["KeyId"], _names(who)):
            if all(grant.get(k) == v for k, v in same.items()):
                return {"GrantId": grant["GrantId"], "GrantToken": grant["GrantToken"]}
    if call.store.count(GRANT, f"{key['KeyId']}/") >= MAX_GRANTS_PER_KEY:
        # Wording Skyhold's own: KMS documents the exception, not its message.
        raise AwsError("LimitExceededException", f"The request was rejected because {key['Arn']} already has "
                       f"{MAX_GRANTS_PER_KEY} grants, the quota of grants for a KMS key.", 400)
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
    _put(call.store, grant)
    return {"GrantId": grant["GrantId"], "GrantToken": grant["GrantToken"]}


def _view(grant: dict[str, Any]) -> dict[str, Any]:
    out = {k: v for k, v in grant.items() if k not in ("GrantToken", "CreationDate") and v not in (None, "", {})}
    out["CreationDate"] = r.parse_time(grant["CreationDate"])
    return out


def list_grants(call: Call, params: dict[str, Any]) -> dict[str, Any]:
    """A page reads about a page's worth of grants, in GrantId order: the key's own, or
    those naming GranteePrincipal when it is given."""
    key, _ = r.find(call, params["KeyId"])
    limit, after = page_bounds(params, "ListGrants")
    key_id, grant_id, who = key["KeyId"], params.get("GrantId"), params.get("GranteePrincipal")
    found: Iterable[dict[str, Any]]
    if grant_id:
        grant = _get(call.store, key_id, grant_id)
        found = [grant] if grant is not None and grant_id > after else []
    elif who:
        found = _naming(call.store, key_id, _names(who), after, batch=limit + 1)
    else:
        found = _of_key(call.store, key_id, after, batch=limit + 1)
    rows, more = page_taken((g for g in found if not who or g["GranteePrincipal"] == who), limit, "GrantId")
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
    limit, after = page_bounds(params, "ListRetirableGrants")
    if principal is None:
        return {"Grants": [], "Truncated": False}
    # The grants in this Region whose retiring principal is the one named, on keys of
    # any account; authorization already held the principal to the caller's account.
    # Not a principal ARN: nothing ties it to the caller, so only the caller's own keys.
    own_keys_only = principal_account(principal) is None
    prefix = _retiring_key(call.region, principal)
    found = (rec.value for rec in paging.scan_from(call.store, BY_RETIRING, prefix, prefix + after if after else "",
                                                  batch=limit + 1)
             if rec.key == prefix + rec.value["GrantId"]
             and (not own_keys_only or rec.value["KeyId"].split(":")[4] == call.principal.account))
    rows, more = page_taken(found, limit, "GrantId")
    return {"Grants": [_view(g) for g in rows], **more}


def revoke_grant(call: Call, params: dict[str, Any]) -> dict[str, Any]:
    key, _ = r.find(call, params["KeyId"])
    grant = _get(call.store, key["KeyId"], params["GrantId"])
    if grant is None:
        raise AwsError("NotFoundException", f"Grant ID {params['GrantId']} not found", 400)
    _drop(call.store, grant)
    return {}


def retire_grant(call: Call, params: dict[str, Any]) -> dict[str, Any]:
    """By token, or by key and grant id; only the retiring principal or the grantee
    (with RetireGrant among its operations) may retire."""
    key, grant = find_for_retire(call, params)
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
    _drop(call.store, grant)
    return {}


def find_for_retire(call: Call, params: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """(key, grant) a RetireGrant names."""
    if params.get("GrantToken"):
        ref = call.store.get(BY_TOKEN, _token_key(params["GrantToken"]))
        found = call.store.get(r.KEY, ref.value["KeyId"]) if ref is not None else None
        grant = _get(call.store, ref.value["KeyId"], ref.value["GrantId"]) if ref is not None else None
        if found is None or grant is None:
            raise AwsError("InvalidGrantTokenException", "Invalid grant token", 400)
        return found.value, grant
    if not params.get("KeyId") or not params.get("GrantId"):
        raise AwsError("ValidationException", "Either GrantToken or both KeyId and GrantId are required.", 400)
    key, _ = r.find(call, params["KeyId"])
    grant = _get(call.store, key["KeyId"], params["GrantId"])
    if grant is None:
        raise AwsError("NotFoundException", f"Grant ID {params['GrantId']} not found", 400)
    return key, grant


HANDLERS = {
    "CreateGrant": create_grant,
    "ListGrants": list_grants,
    "ListRetirableGrants": list_retirable_grants,
    "RevokeGrant": revoke_grant,
    "RetireGrant": retire_grant,
}
