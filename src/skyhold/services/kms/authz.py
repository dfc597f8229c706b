"""KMS authorization: every key operation is decided with the key policy (plus the
key's grants) as a resource policy that must allow even in the same account — an
IAM policy alone grants nothing unless the key policy lets IAM policies work via
the account's root principal.

Each Access carries KMS's condition keys (Service Authorization Reference, AWS KMS):
the key's own (kms:KeySpec, kms:KeyUsage, kms:KeyOrigin, kms:ResourceAliases,
aws:ResourceTag/…), the caller's (kms:CallerAccount, kms:RequestAlias) and the
request's (kms:EncryptionContext:…, kms:EncryptionAlgorithm, kms:SigningAlgorithm,
kms:GrantOperations, …).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from skyhold import constraints
from skyhold.authz import Access
from skyhold.errors import validation_failed
from skyhold.policy import tagging
from skyhold.services.kms import ciphertext, grants, keyspecs, validation
from skyhold.services.kms import records as r

if TYPE_CHECKING:
    from skyhold.pipeline import Call

AuthzFn = Callable[["Call", dict[str, Any]], list[Access]]

# Operations whose KeyId parameter names the key they act on.
_ON_KEY = (
    "DescribeKey", "Encrypt", "GenerateDataKey", "GenerateDataKeyWithoutPlaintext", "GenerateDataKeyPair",
    "GenerateDataKeyPairWithoutPlaintext", "EnableKey", "DisableKey", "ScheduleKeyDeletion", "CancelKeyDeletion",
    "RotateKeyOnDemand", "ListKeyRotations", "GetKeyPolicy", "PutKeyPolicy", "ListKeyPolicies", "GetPublicKey",
    "Sign", "Verify", "GenerateMac", "VerifyMac", "ListGrants", "RevokeGrant", "TagResource", "UntagResource",
    "ListResourceTags", "UpdateKeyDescription", "EnableKeyRotation", "DisableKeyRotation", "GetKeyRotationStatus",
    "GetParametersForImport", "ImportKeyMaterial", "DeleteImportedKeyMaterial", "DeriveSharedSecret",
)
_ENCRYPTING = frozenset({"Encrypt", "Decrypt", "GenerateDataKey", "GenerateDataKeyWithoutPlaintext",
                         "GenerateDataKeyPair", "GenerateDataKeyPairWithoutPlaintext"})


def _key_context(call: Call, key: dict[str, Any], key_ref: str | None) -> dict[str, Any]:
    ctx: dict[str, Any] = {
        "kms:CallerAccount": call.principal.account,
        "kms:KeySpec": key["KeySpec"],
        "kms:KeyUsage": key["KeyUsage"],
        "kms:KeyOrigin": key["Origin"],
        "kms:CustomerMasterKeySpec": key["KeySpec"],
        "kms:CustomerMasterKeyUsage": key["KeyUsage"],
        "kms:MultiRegion": "false",
    }
    if key.get("Aliases"):
        ctx["kms:ResourceAliases"] = list(key["Aliases"])
    for tag in key.get("Tags") or []:
        ctx[f"aws:ResourceTag/{tag['TagKey']}"] = tag["TagValue"]
    if key_ref and (key_ref.startswith("alias/") or ":alias/" in key_ref):
        ctx["kms:RequestAlias"] = "alias/" + key_ref.split("alias/", 1)[1]
    return ctx


def _on_key(call: Call, action: str, key: dict[str, Any], key_ref: str | None = None,
            context: dict[str, Any] | None = None) -> Access:
    ctx = _key_context(call, key, key_ref)
    if context:
        ctx.update(context)
    return Access(action, key["Arn"], ctx, resource_account=key["AWSAccountId"],
                  resource_policy=grants.effective_policy(key, grants.naming(call, key)),
                  resource_policy_required=True)


def encryption_context(context: dict[str, str] | None) -> dict[str, Any]:
    """kms:EncryptionContext:<k> for each pair and kms:EncryptionContextKeys."""
    if not context:
        return {}
    out: dict[str, Any] = {f"kms:EncryptionContext:{k}": v for k, v in context.items()}
    out["kms:EncryptionContextKeys"] = list(context)
    return out


def _tags(tags: list[dict[str, str]] | None) -> dict[str, Any]:
    return tagging.request_tags(tagging.pairs(tags, "TagKey", "TagValue"))


def _request_context(operation: str, params: dict[str, Any]) -> dict[str, Any]:
    """The request's own condition keys for an operation on a key."""
    ctx = encryption_context(params.get("EncryptionContext"))
    if operation in _ENCRYPTING:
        ctx["kms:EncryptionAlgorithm"] = params.get("EncryptionAlgorithm") or "SYMMETRIC_DEFAULT"
    if "SigningAlgorithm" in params:
        ctx["kms:SigningAlgorithm"] = params["SigningAlgorithm"]
        ctx["kms:MessageType"] = params.get("MessageType") or "RAW"
    if operation == "DeriveSharedSecret":
        ctx["kms:KeyAgreementAlgorithm"] = params.get("KeyAgreementAlgorithm")
    if "MacAlgorithm" in params:
        ctx["kms:MacAlgorithm"] = params["MacAlgorithm"]
    if "KeyPairSpec" in params:
        ctx["kms:DataKeyPairSpec"] = params["KeyPairSpec"]
    if operation == "ScheduleKeyDeletion":
        ctx["kms:ScheduleKeyDeletionPendingWindowInDays"] = str(params.get("PendingWindowInDays", 30))
    if operation == "EnableKeyRotation":
        ctx["kms:RotationPeriodInDays"] = str(params.get("RotationPeriodInDays", 365))
    if operation == "PutKeyPolicy":
        ctx["kms:BypassPolicyLockoutSafetyCheck"] = "true" if params.get("BypassPolicyLockoutSafetyCheck") else "false"
    if operation == "GetParametersForImport":
        ctx["kms:WrappingAlgorithm"] = params.get("WrappingAlgorithm")
        ctx["kms:WrappingKeySpec"] = params.get("WrappingKeySpec")
    if operation == "ImportKeyMaterial":
        ctx["kms:ExpirationModel"] = params.get("ExpirationModel") or "KEY_MATERIAL_EXPIRES"
        if params.get("ValidTo") is not None:  # a numeric condition key: seconds since the epoch
            ctx["kms:ValidTo"] = str(int(params["ValidTo"].timestamp()))
    if operation == "TagResource":
        ctx.update(_tags(params.get("Tags")))
    if operation == "UntagResource":
        ctx.update(tagging.request_tags(removed=params.get("TagKeys") or ()))
    return ctx


def _key_op(operation: str) -> AuthzFn:
    action = f"kms:{operation}"

    def authz(call: Call, params: dict[str, Any]) -> list[Access]:
        validation.request(operation, params)
        key, _ = r.find(call, params["KeyId"])
        return [_on_key(call, action, key, params["KeyId"], _request_context(operation, params))]

    return authz


def _create_key(call: Call, params: dict[str, Any]) -> list[Access]:
    validation.request("CreateKey", params)
    spec = params.get("KeySpec") or params.get("CustomerMasterKeySpec") or "SYMMETRIC_DEFAULT"
    known = keyspecs.SPECS.get(spec)
    usage = params.get("KeyUsage") or (known.usages[0] if known else "ENCRYPT_DECRYPT")
    ctx: dict[str, Any] = {
        "kms:CallerAccount": call.principal.account, "kms:KeySpec": spec, "kms:KeyUsage": usage,
        "kms:CustomerMasterKeySpec": spec, "kms:CustomerMasterKeyUsage": usage,
        "kms:KeyOrigin": params.get("Origin") or "AWS_KMS", "kms:MultiRegion": "true" if params.get("MultiRegion")
        else "false",
        "kms:BypassPolicyLockoutSafetyCheck": "true" if params.get("BypassPolicyLockoutSafetyCheck") else "false",
        **_tags(params.get("Tags")),
    }
    checks = [Access("kms:CreateKey", "*", ctx)]
    if params.get("Tags"):  # tagging on create also needs kms:TagResource (KMS developer guide, ABAC)
        checks.append(Access("kms:TagResource", "*", ctx))
    return checks


def _decrypt(call: Call, params: dict[str, Any]) -> list[Access]:
    blob = validation.ciphertext(params)  # AWS validates a request before it authorizes it
    if params.get("KeyId"):
        key, _ = r.find(call, params["KeyId"])
    elif blob is None:  # a dry run that ignores the ciphertext must name the key
        raise validation_failed([constraints.null_member("keyId")])
    else:  # the ciphertext names its key, in whatever account it lives
        key, _ = r.find(call, ciphertext.key_of(blob)[0], any_account=True)
    access = _on_key(call, "kms:Decrypt", key, params.get("KeyId"), _request_context("Decrypt", params))
    if not params.get("KeyId"):  # AWS's denial names no key the caller did not name
        access.denied_resource_text = "the resource associated with this ciphertext"
    return [access]


def _re_encrypt(call: Call, params: dict[str, Any]) -> list[Access]:
    blob = validation.ciphertext(params)
    if params.get("SourceKeyId"):
        source, _ = r.find(call, params["SourceKeyId"])
    elif blob is None:  # a dry run that ignores the ciphertext must name the key
        raise validation_failed([constraints.null_member("sourceKeyId")])
    else:
        source, _ = r.find(call, ciphertext.key_of(blob)[0], any_account=True)
    target, _ = r.find(call, params["DestinationKeyId"])
    same = {"kms:ReEncryptOnSameKey": "true" if source["KeyId"] == target["KeyId"] else "false"}
    source_ctx = {**encryption_context(params.get("SourceEncryptionContext")), **same,
                  "kms:EncryptionAlgorithm": params.get("SourceEncryptionAlgorithm") or "SYMMETRIC_DEFAULT"}
    target_ctx = {**encryption_context(params.get("DestinationEncryptionContext")), **same,
                  "kms:EncryptionAlgorithm": params.get("DestinationEncryptionAlgorithm") or "SYMMETRIC_DEFAULT"}
    return [_on_key(call, "kms:ReEncryptFrom", source, params.get("SourceKeyId"), source_ctx),
            _on_key(call, "kms:ReEncryptTo", target, params["DestinationKeyId"], target_ctx)]


def _alias(action: str) -> AuthzFn:
    """Alias operations need the permission on the alias and on each key involved
    (CreateAlias: the target; UpdateAlias: the old and new target; DeleteAlias: the
    target)."""

    def authz(call: Call, params: dict[str, Any]) -> list[Access]:
        name = params["AliasName"]
        checks = [Access(action, r.alias_arn(call.region, call.principal.account, name))]
        current = call.store.get(r.ALIAS, r.alias_key(call.principal.account, call.region, name))
        if current is not None and action != "kms:CreateAlias":
            old, _ = r.find(call, current.value["TargetKeyId"])
            checks.append(_on_key(call, action, old))
        if params.get("TargetKeyId"):
            key, _ = r.find(call, params["TargetKeyId"])
            checks.append(_on_key(call, action, key, params["TargetKeyId"]))
        return checks

    return authz


def _create_grant(call: Call, params: dict[str, Any]) -> list[Access]:
    grantee = grants.grantee(params)
    key, _ = r.find(call, params["KeyId"])
    ctx: dict[str, Any] = {"kms:GrantIsForAWSResource": "false", "kms:GranteePrincipal": grantee}
    if params.get("Operations"):
        ctx["kms:GrantOperations"] = list(params["Operations"])
    if params.get("RetiringPrincipal"):
        ctx["kms:RetiringPrincipal"] = params["RetiringPrincipal"]
    constraints = params.get("Constraints") or {}
    if constraints:
        ctx["kms:GrantConstraintType"] = [c for c in ("EncryptionContextEquals", "EncryptionContextSubset")
                                          if constraints.get(c)]
        ctx.update(encryption_context(constraints.get("EncryptionContextEquals")
                                      or constraints.get("EncryptionContextSubset")))
    return [_on_key(call, "kms:CreateGrant", key, params["KeyId"], ctx)]


def _list_retirable_grants(call: Call, params: dict[str, Any]) -> list[Access]:
    """"The authorized resource in ListRetirableGrants calls is the retiring principal
    specified in the request" (KMS API reference), and it must be in the caller's
    account: a principal of another account is that account's resource, which no
    resource policy opens to the caller."""
    principal = params.get("RetiringPrincipal")
    if principal is None:
        return [Access("kms:ListRetirableGrants", "*")]  # the handler refuses the request
    return [Access("kms:ListRetirableGrants", principal,
                   resource_account=grants.principal_account(principal) or call.principal.account)]


AUTHZ: dict[str, AuthzFn] = {
    **{op: _key_op(op) for op in _ON_KEY},
    "CreateKey": _create_key,
    "Decrypt": _decrypt,
    "ReEncrypt": _re_encrypt,
    "CreateGrant": _create_grant,
    # Retiring is decided by the grant itself (its retiring principal or grantee).
    "RetireGrant": lambda call, params: [],
    "ListRetirableGrants": _list_retirable_grants,
    "CreateAlias": _alias("kms:CreateAlias"),
    "UpdateAlias": _alias("kms:UpdateAlias"),
    "DeleteAlias": _alias("kms:DeleteAlias"),
}
