"""KMS authorization: every key operation is decided with the key policy as a
resource policy that must allow even in the same account (an IAM policy alone
grants nothing unless the key policy lets IAM policies work via the account's
root principal)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from skyhold.authz import Access
from skyhold.services.kms import ciphertext, grants
from skyhold.services.kms import records as r

if TYPE_CHECKING:
    from skyhold.pipeline import Call

# operation → the parameter naming the key
_KEY_PARAM = {
    "DescribeKey": "KeyId", "Encrypt": "KeyId", "GenerateDataKey": "KeyId",
    "GenerateDataKeyWithoutPlaintext": "KeyId", "EnableKey": "KeyId", "DisableKey": "KeyId",
    "ScheduleKeyDeletion": "KeyId", "CancelKeyDeletion": "KeyId", "RotateKeyOnDemand": "KeyId",
    "ListKeyRotations": "KeyId", "GetKeyPolicy": "KeyId", "PutKeyPolicy": "KeyId", "ListKeyPolicies": "KeyId",
    "GetPublicKey": "KeyId", "Sign": "KeyId", "Verify": "KeyId", "GenerateMac": "KeyId", "VerifyMac": "KeyId",
    "CreateGrant": "KeyId", "ListGrants": "KeyId", "RevokeGrant": "KeyId",
    "TagResource": "KeyId", "UntagResource": "KeyId", "ListResourceTags": "KeyId", "UpdateKeyDescription": "KeyId",
    "EnableKeyRotation": "KeyId", "DisableKeyRotation": "KeyId", "GetKeyRotationStatus": "KeyId",
}


def _on_key(call: Call, action: str, key: dict[str, Any], context: dict[str, Any] | None = None) -> Access:
    ctx = {"kms:CallerAccount": call.principal.account, **(context or {})}
    return Access(action, key["Arn"], ctx, resource_account=key["AWSAccountId"],
                  resource_policy=grants.effective_policy(key), resource_policy_required=True)


def _encryption_context(params: dict[str, Any], name: str = "EncryptionContext") -> dict[str, Any]:
    context = params.get(name) or {}
    out: dict[str, Any] = {f"kms:EncryptionContext:{k}": v for k, v in context.items()}
    if context:
        out["kms:EncryptionContextKeys"] = list(context)
    return out


def _key_op(operation: str) -> Any:
    def authz(call: Call, params: dict[str, Any]) -> list[Access]:
        key, _ = r.find(call, params[_KEY_PARAM[operation]])
        return [_on_key(call, f"kms:{operation}", key, _encryption_context(params))]

    return authz


def _decrypt(call: Call, params: dict[str, Any]) -> list[Access]:
    if params.get("EncryptionAlgorithm", "SYMMETRIC_DEFAULT") != "SYMMETRIC_DEFAULT" and params.get("KeyId"):
        key_ref = params["KeyId"]  # RSA ciphertexts carry no header naming their key
    else:
        key_ref = params.get("KeyId") or ciphertext.key_of(params["CiphertextBlob"])[0]
    key, _ = r.find(call, key_ref, any_account=not params.get("KeyId"))
    return [_on_key(call, "kms:Decrypt", key, _encryption_context(params))]


def _re_encrypt(call: Call, params: dict[str, Any]) -> list[Access]:
    key_id, _ = ciphertext.key_of(params["CiphertextBlob"])
    source, _ = r.find(call, params.get("SourceKeyId") or key_id, any_account=not params.get("SourceKeyId"))
    target, _ = r.find(call, params["DestinationKeyId"])
    return [_on_key(call, "kms:ReEncryptFrom", source, _encryption_context(params, "SourceEncryptionContext")),
            _on_key(call, "kms:ReEncryptTo", target, _encryption_context(params, "DestinationEncryptionContext"))]


def _alias(action: str, key_param: str | None) -> Any:
    def authz(call: Call, params: dict[str, Any]) -> list[Access]:
        alias = r.alias_arn(call.region, call.principal.account, params["AliasName"])
        checks = [Access(action, alias)]
        if key_param:
            key, _ = r.find(call, params[key_param])
            checks.append(_on_key(call, action, key))
        return checks

    return authz


def _grant_context(params: dict[str, Any]) -> dict[str, Any]:
    ctx: dict[str, Any] = {"kms:GrantIsForAWSResource": "false"}
    if params.get("Operations"):
        ctx["kms:GrantOperations"] = params["Operations"]
    if params.get("GranteePrincipal"):
        ctx["kms:GranteePrincipal"] = params["GranteePrincipal"]
    if params.get("RetiringPrincipal"):
        ctx["kms:RetiringPrincipal"] = params["RetiringPrincipal"]
    return ctx


def _create_grant(call: Call, params: dict[str, Any]) -> list[Access]:
    key, _ = r.find(call, params["KeyId"])
    return [_on_key(call, "kms:CreateGrant", key, _grant_context(params))]


AUTHZ = {
    **{op: _key_op(op) for op in _KEY_PARAM},
    "Decrypt": _decrypt,
    "CreateGrant": _create_grant,
    # Retiring is decided by the grant itself (retiring principal or grantee).
    "RetireGrant": lambda call, params: [],
    "ListRetirableGrants": lambda call, params: [Access("kms:ListRetirableGrants", "*")],
    "ReEncrypt": _re_encrypt,
    "CreateAlias": _alias("kms:CreateAlias", "TargetKeyId"),
    "DeleteAlias": _alias("kms:DeleteAlias", None),
}
