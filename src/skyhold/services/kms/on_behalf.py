"""KMS used by another service on the caller's behalf (SSM SecureStrings, Secrets
Manager secrets, S3 SSE-KMS): the caller needs the KMS permission itself — checked
with kms:ViaService naming the service, and the key policy required — exactly as
when AWS services call KMS with the caller's forward access session.

Failures come back in the calling service's shape, as each service reports them:
- SSM passes KMS's own message on with the "(Service: AWSKMS; …)" suffix;
- Secrets Manager says "Access to KMS is not allowed" for a KMS denial, and
  EncryptionFailure / DecryptionFailure for a key it cannot use;
- S3 (and anything else) gets the pipeline's usual denial for that service and
  KMS's own error otherwise.
The denial's decision trace stays on the error for `skyhold explain`.

Each call KMS answers (or refuses) is noted on the calling request (`EXTRA`): the
trail records it as a KMS event of the caller's, as AWS records the calls a service
makes with the caller's forward access session.
"""

from __future__ import annotations

import secrets
import uuid
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from skyhold.authz import Access
from skyhold.errors import AwsError
from skyhold.services.kms import ciphertext, grants, imports, managed
from skyhold.services.kms import records as r
from skyhold.services.kms.handlers import usable

if TYPE_CHECKING:
    from skyhold.pipeline import Call


EXTRA = "kms_on_behalf"  # call.extras: the KmsCalls made for the request, in order


@dataclass(frozen=True, slots=True)
class KmsCall:
    """One KMS call made on the caller's behalf, for the trail."""

    operation: str  # GenerateDataKey, Encrypt, Decrypt
    params: dict[str, Any]  # its request parameters, by model member name (no plaintext)
    key_arn: str
    key_account: str
    service: str  # who called: s3, ssm, ...
    failure: AwsError | None = None
    material: str | None = None  # the key material it used (the event's additionalEventData)


def _note(call: Call, operation: str, params: dict[str, Any], key: dict[str, Any], service: str,
          failure: AwsError | None = None, material: str | None = None) -> None:
    extras = getattr(call, "extras", None)
    if extras is not None:
        if failure is not None and (failure.status == 403 or failure.code == "AccessDenied"):
            # KMS's own word for a denial, whatever the calling service answers
            failure = AwsError("AccessDeniedException", failure.message, 400, explanation=failure.explanation)
        extras.setdefault(EXTRA, []).append(
            KmsCall(operation, params, key["Arn"], key["AWSAccountId"], service, failure, material))


def via(call: Call, service: str) -> str:
    return managed.via(call.region, service)


def managed_key(call: Call, service: str) -> str:
    """The key id of alias/aws/<service> in the caller's account and region,
    created with AWS's managed key policy on first use."""
    return managed.managed_key(call, service)


def _kms_suffix(code: str) -> str:
    return f" (Service: AWSKMS; Status Code: 400; Error Code: {code}; Request ID: {uuid.uuid4()}; Proxy: null)"


def _as_service_error(call: Call, service: str, err: AwsError, *, denied: bool, encrypting: bool) -> AwsError:
    if service == "ssm":
        code = "AccessDeniedException" if denied else "InvalidKeyId"
        return AwsError(code, err.message + _kms_suffix(err.code), 400, explanation=err.explanation)
    if service == "secretsmanager":
        if denied:
            return AwsError("AccessDeniedException", "Access to KMS is not allowed", 400,
                            explanation=err.explanation)
        if encrypting:
            return AwsError("EncryptionFailure", "Secrets Manager can't encrypt the protected secret text using the "
                            "provided KMS key. Check that the KMS key is available, enabled, and not in an invalid "
                            "state.", 400)
        return AwsError("DecryptionFailure", "Secrets Manager can't decrypt the protected secret text using the "
                        "provided KMS key.", 400)
    return err


def _authorize(call: Call, action: str, key: dict[str, Any], service: str, context: dict[str, str] | None,
               encrypting: bool) -> None:
    ctx: dict[str, Any] = {"kms:ViaService": via(call, service), "kms:CallerAccount": call.principal.account,
                           "kms:KeySpec": key["KeySpec"], "kms:KeyUsage": key["KeyUsage"],
                           "kms:KeyOrigin": key["Origin"], "kms:EncryptionAlgorithm": "SYMMETRIC_DEFAULT"}
    if context:
        ctx.update({f"kms:EncryptionContext:{k}": v for k, v in context.items()})
        ctx["kms:EncryptionContextKeys"] = list(context)
    authorizer = call.pipeline.authorizer
    decision = authorizer.decide(call, Access(
        action, key["Arn"], ctx, resource_account=key["AWSAccountId"],
        resource_policy=grants.effective_policy(key, grants.naming(call, key)), resource_policy_required=True))
    if not decision.allowed:
        raise _as_service_error(call, service, authorizer.denied(call, decision), denied=True, encrypting=encrypting)


def _usable_key(call: Call, key_ref: str, service: str, encrypting: bool, any_account: bool = False
                ) -> dict[str, Any]:
    try:
        key, _ = r.find(call, key_ref, any_account=any_account)
    except AwsError as err:
        raise _as_service_error(call, service, err, denied=False, encrypting=encrypting) from None
    return key


def _check_usable(call: Call, key: dict[str, Any], service: str, encrypting: bool) -> None:
    try:
        usable(key)
        if key["KeySpec"] != "SYMMETRIC_DEFAULT":
            raise AwsError("InvalidKeyUsageException", f"{key['Arn']} key usage is {key['KeyUsage']} which is not "
                           "valid for this operation.", 400)
    except AwsError as err:
        raise _as_service_error(call, service, err, denied=False, encrypting=encrypting) from None


def encrypt(
    call: Call, key_ref: str, plaintext: bytes, context: dict[str, str], service: str, action: str = "kms:Encrypt"
) -> tuple[bytes, str]:
    """(ciphertext blob, key ARN); needs `action` (kms:Encrypt, or kms:GenerateDataKey
    for services that envelope-encrypt) on the key via the service."""
    key = _usable_key(call, key_ref, service, True)
    operation = action.removeprefix("kms:")
    params: dict[str, Any] = {"KeyId": key_ref, "EncryptionContext": context}
    if operation == "GenerateDataKey":
        params = {"KeyId": key["Arn"], "KeySpec": "AES_256", "EncryptionContext": context}
    try:
        _authorize(call, action, key, service, context, True)
        _check_usable(call, key, service, True)
        version = imports.current_version(key)  # not a pending imported material
        blob = ciphertext.encrypt(key["KeyId"], version, r.material(call, key, version), plaintext, context)
    except AwsError as err:
        _note(call, operation, params, key, service, err)
        raise
    _note(call, operation, params, key, service, material=r.material_id(key, version))
    return blob, key["Arn"]


def key_arn(call: Call, key_ref: str, service: str) -> str:
    """The ARN of the key `key_ref` names (an id, ARN, alias or alias ARN), without
    using it: KMS's NotFoundException (in `service`'s shape) when there is none."""
    return _usable_key(call, key_ref, service, True)["Arn"]


def generate_data_key(
    call: Call, key_ref: str, context: dict[str, str], service: str, size: int = 32
) -> tuple[bytes, bytes, str]:
    """(plaintext data key, its ciphertext blob, key ARN); needs kms:GenerateDataKey."""
    plaintext = secrets.token_bytes(size)
    blob, key_arn = encrypt(call, key_ref, plaintext, context, service, action="kms:GenerateDataKey")
    return plaintext, blob, key_arn


def authorize_decrypt(call: Call, key_ref: str, context: dict[str, str], service: str) -> None:
    """The caller's kms:Decrypt on `key_ref` via the service, with nothing to decrypt:
    S3's ListParts on an SSE-KMS upload needs the permission without reading a body."""
    key = _usable_key(call, key_ref, service, False, any_account=True)
    params = {"KeyId": key["Arn"], "EncryptionContext": context}
    _may_decrypt(call, key, params, context, service)
    _note(call, "Decrypt", params, key, service)


def _may_decrypt(call: Call, key: dict[str, Any], params: dict[str, Any], context: dict[str, str],
                 service: str) -> None:
    """kms:Decrypt allowed and the key usable, else the refusal (noted for the trail)."""
    try:
        _authorize(call, "kms:Decrypt", key, service, context, False)
        _check_usable(call, key, service, False)
    except AwsError as err:
        _note(call, "Decrypt", params, key, service, err)
        raise


def decrypt(call: Call, blob: bytes, context: dict[str, str], service: str) -> tuple[bytes, str]:
    """(plaintext, key ARN); needs kms:Decrypt on the blob's key via the service."""
    try:
        key_id, version = ciphertext.key_of(blob)
    except AwsError as err:
        raise _as_service_error(call, service, err, denied=False, encrypting=False) from None
    key = _usable_key(call, key_id, service, False, any_account=True)
    params = {"EncryptionContext": context}
    _may_decrypt(call, key, params, context, service)
    try:
        plaintext = ciphertext.decrypt(key_id, r.material(call, key, version), blob, context)
    except (AwsError, IndexError) as err:
        shaped = err if isinstance(err, AwsError) else ciphertext.invalid()
        _note(call, "Decrypt", params, key, service, shaped)
        raise _as_service_error(call, service, shaped, denied=False, encrypting=False) from None
    _note(call, "Decrypt", params, key, service, material=r.material_id(key, version))
    return plaintext, key["Arn"]
