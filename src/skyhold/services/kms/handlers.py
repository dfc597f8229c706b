"""KMS operations on symmetric keys: lifecycle, aliases, key policies, cryptography."""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets
from collections.abc import Iterable
from datetime import timedelta
from itertools import islice
from typing import TYPE_CHECKING, Any

from skyhold import clock, constraints, paging
from skyhold.authz import Access
from skyhold.errors import AwsError, validation_failed
from skyhold.policy import validate_policy
from skyhold.services.iam import principals
from skyhold.services.kms import asymmetric, ciphertext, imports, keyspecs, validation
from skyhold.services.kms import records as r

if TYPE_CHECKING:
    from skyhold.pipeline import Call

MAX_PLAINTEXT = 4096
# On-demand rotations a key may have (KMS developer guide, "Perform on-demand key rotation").
MAX_ON_DEMAND_ROTATIONS = 25
_ALIAS_NAME = re.compile(r"[a-zA-Z0-9:/_-]+")
_DATA_KEY_BYTES = {"AES_256": 32, "AES_128": 16}  # the model's DataKeySpec, in its order


def metadata(key: dict[str, Any]) -> dict[str, Any]:
    spec = keyspecs.SPECS[key["KeySpec"]]
    out = {
        "AWSAccountId": key["AWSAccountId"],
        "KeyId": key["KeyId"],
        "Arn": key["Arn"],
        "CreationDate": r.parse_time(key["CreationDate"]),
        "Enabled": key["KeyState"] == "Enabled",
        "Description": key["Description"],
        "KeyUsage": key["KeyUsage"],
        "KeyState": key["KeyState"],
        "Origin": key["Origin"],
        "KeyManager": key["KeyManager"],
        "KeySpec": key["KeySpec"],
        "CustomerMasterKeySpec": key["KeySpec"],
        "MultiRegion": False,
    }
    if key["KeyUsage"] == "ENCRYPT_DECRYPT":
        out["EncryptionAlgorithms"] = list(spec.encryption)
    elif key["KeyUsage"] == "SIGN_VERIFY":
        out["SigningAlgorithms"] = list(spec.signing)
    elif key["KeyUsage"] == "KEY_AGREEMENT":
        out["KeyAgreementAlgorithms"] = list(spec.agreement)
    else:
        out["MacAlgorithms"] = list(spec.mac)
    if key.get("DeletionDate"):
        out["DeletionDate"] = r.parse_time(key["DeletionDate"])
    if key["KeySpec"] == "SYMMETRIC_DEFAULT" and not imports.is_external(key):
        # KMS reports the current material of every key that can rotate (imports adds EXTERNAL's).
        out["CurrentKeyMaterialId"] = r.material_id(key, imports.current_version(key))
    out.update(imports.metadata(key))
    return out


def not_pending_deletion(key: dict[str, Any]) -> None:
    """Management operations (tags, description, aliases, state) refuse a key pending deletion."""
    if key["KeyState"] == "PendingDeletion":
        raise AwsError("KMSInvalidStateException", f"{key['Arn']} is pending deletion.", 400)


def usable(key: dict[str, Any]) -> None:
    """Cryptographic operations need an enabled key, as KMS enforces."""
    if key["KeyState"] == "Disabled":
        raise AwsError("DisabledException", f"{key['Arn']} is disabled.", 400)
    not_pending_deletion(key)
    not_pending_import(key)


def not_pending_import(key: dict[str, Any]) -> None:
    """An EXTERNAL key without (all of) its imported material cannot be used or enabled."""
    if key["KeyState"] == "PendingImport":
        raise AwsError("KMSInvalidStateException", f"{key['Arn']} is pending import.", 400)


def create_key(call: Call, params: dict[str, Any]) -> dict[str, Any]:
    spec, usage = keyspecs.spec_for(params.get("KeySpec") or params.get("CustomerMasterKeySpec")
                                    or "SYMMETRIC_DEFAULT", params.get("KeyUsage"))
    origin = params.get("Origin") or "AWS_KMS"
    if origin not in ("AWS_KMS", "EXTERNAL"):
        raise AwsError("UnsupportedOperationException", "Skyhold creates keys with Origin AWS_KMS or EXTERNAL "
                       f"only, not {origin}.", 400)
    if params.get("MultiRegion"):
        raise AwsError("UnsupportedOperationException", "Skyhold does not support multi-Region keys.", 400)
    key_id = r.new_key_id()
    policy = params.get("Policy") or r.default_policy(call.principal.account)
    if params.get("Policy"):
        # The lockout check judges the key about to be created, with its own attributes.
        about = {"Arn": r.key_arn(call.region, call.principal.account, key_id), "AWSAccountId": call.principal.account,
                 "KeySpec": spec.name, "KeyUsage": usage, "Origin": origin, "Tags": params.get("Tags") or []}
        _check_policy(call, about, policy, params.get("BypassPolicyLockoutSafetyCheck", False))
    key = r.new_key(call, description=params.get("Description", ""), policy=policy, tags=params.get("Tags") or [],
                    spec=spec.name, usage=usage, key_id=key_id, origin=origin)
    return {"KeyMetadata": metadata(key)}


def describe_key(call: Call, params: dict[str, Any]) -> dict[str, Any]:
    key, _ = r.find(call, params["KeyId"])
    return {"KeyMetadata": metadata(key)}


def _marker(after: str) -> str:
    """An opaque NextMarker naming the last item of a page, with a check digest so that
    a marker Skyhold never issued is refused rather than silently misread."""
    raw = after.encode()
    return base64.urlsafe_b64encode(hashlib.sha256(raw).digest()[:6] + raw).decode()


def _after(marker: str) -> str:
    try:
        blob = base64.urlsafe_b64decode(marker.encode())
        if len(blob) > 6 and hashlib.sha256(blob[6:]).digest()[:6] == blob[:6]:
            return blob[6:].decode()
    except (ValueError, UnicodeError):  # binascii.Error is a ValueError
        pass
    # Worded after the model's description of InvalidMarkerException (AWS's own text unknown).
    raise AwsError("InvalidMarkerException", "The request was rejected because the marker that specifies where "
                   "pagination should next begin is not valid.", 400)


# Limit, as each list's documentation gives it: (default, most per page). The model lets
# every Limit be 1-1000; above a list's most, KMS "might return fewer": a page is then
# cut at the most, Truncated with a NextMarker.
LIMITS: dict[str, tuple[int, int]] = {
    "ListGrants": (50, 100), "ListRetirableGrants": (50, 100), "ListAliases": (50, 100),
    "ListResourceTags": (50, 50), "ListKeys": (100, 1000), "ListKeyPolicies": (100, 1000),
    "ListKeyRotations": (100, 1000),
}


def page_bounds(params: dict[str, Any], operation: str) -> tuple[int, str]:
    """A KMS list's page size (its Limit, 1-1000, within the operation's LIMITS) and where
    its Marker says to start after ("" for the first page)."""
    default, most = LIMITS[operation]
    limit = params.get("Limit")
    if limit is None:
        limit = default
    constraints.raise_if(constraints.check_range("limit", limit, 1, 1000))
    return min(limit, most), _after(params["Marker"]) if params.get("Marker") is not None else ""


def page_taken(rows: Iterable[dict[str, Any]], limit: int, sort_key: str) -> tuple[list[dict[str, Any]],
                                                                                   dict[str, Any]]:
    """One page from rows already in `sort_key` order and after the Marker: read no
    further than the first row past the page, which says the page is truncated."""
    taken = list(islice(rows, limit + 1))
    if len(taken) > limit:
        return taken[:limit], {"Truncated": True, "NextMarker": _marker(taken[limit - 1][sort_key])}
    return taken, {"Truncated": False}


def page(items: list[dict[str, Any]], params: dict[str, Any], sort_key: str, operation: str
         ) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """One page of a KMS list held in memory, and the Truncated/NextMarker members."""
    limit, after = page_bounds(params, operation)
    return page_taken((x for x in sorted(items, key=lambda x: x[sort_key]) if x[sort_key] > after), limit, sort_key)


def page_in_order(rows: list[dict[str, Any]], params: dict[str, Any], operation: str
                  ) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """`page` for a list whose order is its own (rotations by date): by position."""
    chosen, more = page([{"#": f"{n:08d}", **row} for n, row in enumerate(rows)], params, "#", operation)
    return [{k: v for k, v in row.items() if k != "#"} for row in chosen], more


def list_keys(call: Call, params: dict[str, Any]) -> dict[str, Any]:
    # Keys are stored by KeyId, the order ListKeys pages in: read from the Marker on,
    # about a page's worth (each page read every key of every account).
    limit, start_after = page_bounds(params, "ListKeys")
    account = call.principal.account
    rows: list[dict[str, Any]] = []
    for rec in paging.scan_from(call.store, r.KEY, "", start_after, batch=limit + 1):
        if rec.value["AWSAccountId"] != account or rec.value["Region"] != call.region:
            continue
        if len(rows) == limit:
            return {"Keys": _key_list(rows), "Truncated": True, "NextMarker": _marker(rows[-1]["KeyId"])}
        rows.append(rec.value)
    return {"Keys": _key_list(rows), "Truncated": False}


def _key_list(keys: list[dict[str, Any]]) -> list[dict[str, str]]:
    return [{"KeyId": k["KeyId"], "KeyArn": k["Arn"]} for k in keys]


def _plaintext(params: dict[str, Any]) -> bytes:
    return _bounded(params["Plaintext"], "plaintext")


def _bounded(data: bytes, member: str) -> bytes:
    """A blob member of 1 to 4096 bytes; the message names the bound it breaks."""
    if not 1 <= len(data) <= MAX_PLAINTEXT:
        bound = f"less than or equal to {MAX_PLAINTEXT}" if data else "greater than or equal to 1"
        raise validation_failed([f"Value at '{member}' failed to satisfy constraint: Member must have length {bound}"])
    return data


def _invalid_usage(key: dict[str, Any], operation: str) -> AwsError:
    return AwsError("InvalidKeyUsageException", f"{key['Arn']} key usage is {key['KeyUsage']} which is not valid "
                    f"for {operation}.", 400)


def _require_usage(key: dict[str, Any], usage: str, operation: str) -> None:
    if key["KeyUsage"] != usage:
        raise _invalid_usage(key, operation)


def _symmetric_encrypt(call: Call, key: dict[str, Any], plaintext: bytes, context: dict[str, str] | None,
                       operation: str) -> bytes:
    """A symmetric ciphertext; data keys (and data key pairs) are only ever made under a
    symmetric encryption key — KMS refuses asymmetric and HMAC keys for them."""
    if key["KeyUsage"] != "ENCRYPT_DECRYPT" or key["KeySpec"] != "SYMMETRIC_DEFAULT":
        raise _invalid_usage(key, operation)
    usable(key)
    version = imports.current_version(key)
    return ciphertext.encrypt(key["KeyId"], version, r.material(call, key, version), plaintext, context)


def _encrypt_under(call: Call, key: dict[str, Any], plaintext: bytes, algorithm: str,
                   context: dict[str, str] | None, operation: str) -> bytes:
    """Encrypt and ReEncrypt's destination: symmetric, or RSA-OAEP with an RSA key."""
    _require_usage(key, "ENCRYPT_DECRYPT", operation)
    asymmetric.check_algorithm(key, algorithm, "encryption")
    if key["KeySpec"] == "SYMMETRIC_DEFAULT":
        return _symmetric_encrypt(call, key, plaintext, context, operation)
    usable(key)
    return asymmetric.rsa_encrypt(r.material(call, key, 0), plaintext, algorithm)


def encrypt(call: Call, params: dict[str, Any]) -> dict[str, Any]:
    key, _ = r.find(call, params["KeyId"])
    algorithm = params.get("EncryptionAlgorithm") or "SYMMETRIC_DEFAULT"
    blob = _encrypt_under(call, key, _plaintext(params), algorithm, params.get("EncryptionContext"), "Encrypt")
    return {"CiphertextBlob": blob, "KeyId": key["Arn"], "EncryptionAlgorithm": algorithm}


def _material_id(key: dict[str, Any], blob: bytes) -> str:
    """The id of the material a symmetric ciphertext (whose header names its slot) was made with."""
    return r.material_id(key, ciphertext.key_of(blob)[1])


def _decrypt(call: Call, blob: bytes, context: dict[str, str] | None, key_ref: str | None) -> tuple[dict, bytes]:
    key_id, version = ciphertext.key_of(blob)
    key, _ = r.find(call, key_ref or key_id, any_account=not key_ref)
    if key["KeyId"] != key_id:
        raise AwsError("IncorrectKeyException", "The key ID in the request does not identify a CMK that can "
                       "perform this operation.", 400)
    usable(key)
    if version >= len(key["Material"]) or key["Material"][version] is None:
        raise ciphertext.invalid()
    return key, ciphertext.decrypt(key_id, r.material(call, key, version), blob, context)


def decrypt(call: Call, params: dict[str, Any]) -> dict[str, Any]:
    algorithm = params.get("EncryptionAlgorithm") or "SYMMETRIC_DEFAULT"
    if algorithm != "SYMMETRIC_DEFAULT":
        # An RSA ciphertext is raw RSA output: only the KeyId names its key.
        if not params.get("KeyId"):
            raise AwsError("ValidationException", "KeyId is required for asymmetric decryption.", 400)
        key, _ = r.find(call, params["KeyId"])
        _require_usage(key, "ENCRYPT_DECRYPT", "Decrypt")
        asymmetric.check_algorithm(key, algorithm, "encryption")
        usable(key)
        plaintext = asymmetric.rsa_decrypt(r.material(call, key, 0), params["CiphertextBlob"], algorithm)
        return {"KeyId": key["Arn"], "Plaintext": plaintext, "EncryptionAlgorithm": algorithm}
    key, plaintext = _decrypt(call, params["CiphertextBlob"], params.get("EncryptionContext"), params.get("KeyId"))
    return {"KeyId": key["Arn"], "Plaintext": plaintext, "EncryptionAlgorithm": algorithm,
            "KeyMaterialId": _material_id(key, params["CiphertextBlob"])}


def get_public_key(call: Call, params: dict[str, Any]) -> dict[str, Any]:
    key, _ = r.find(call, params["KeyId"])
    if key["KeySpec"] == "SYMMETRIC_DEFAULT" or key["KeySpec"].startswith("HMAC"):
        raise AwsError("UnsupportedOperationException", f"{key['Arn']} key usage is {key['KeyUsage']} which is "
                       "not valid for GetPublicKey.", 400)
    usable(key)
    out = {"KeyId": key["Arn"], "PublicKey": keyspecs.public_der(r.material(call, key, 0)),
           "KeySpec": key["KeySpec"], "CustomerMasterKeySpec": key["KeySpec"], "KeyUsage": key["KeyUsage"]}
    spec = keyspecs.SPECS[key["KeySpec"]]
    if key["KeyUsage"] == "ENCRYPT_DECRYPT":
        out["EncryptionAlgorithms"] = list(spec.encryption)
    elif key["KeyUsage"] == "KEY_AGREEMENT":
        out["KeyAgreementAlgorithms"] = list(spec.agreement)
    else:
        out["SigningAlgorithms"] = list(spec.signing)
    return out


def derive_shared_secret(call: Call, params: dict[str, Any]) -> dict[str, Any]:
    """ECDH between the KMS key's private key and the peer's public key (DER SPKI): the
    raw shared secret, as any ECDH library computes it."""
    key, _ = r.find(call, params["KeyId"])
    _require_usage(key, "KEY_AGREEMENT", "DeriveSharedSecret")
    usable(key)
    if params.get("Recipient"):
        raise AwsError("UnsupportedOperationException", "Skyhold does not support Nitro Enclaves attestation "
                       "(Recipient).", 400)
    secret = asymmetric.ecdh(r.material(call, key, 0), params["PublicKey"])
    return {"KeyId": key["KeyId"], "SharedSecret": secret, "KeyAgreementAlgorithm": params["KeyAgreementAlgorithm"],
            "KeyOrigin": key["Origin"]}


def _message(params: dict[str, Any]) -> bytes:
    return _bounded(params["Message"], "message")


def sign(call: Call, params: dict[str, Any]) -> dict[str, Any]:
    key, _ = r.find(call, params["KeyId"])
    _require_usage(key, "SIGN_VERIFY", "Sign")
    asymmetric.check_algorithm(key, params["SigningAlgorithm"], "signing")
    usable(key)
    signature = asymmetric.sign(r.material(call, key, 0), _message(params), params.get("MessageType", "RAW"),
                                params["SigningAlgorithm"])
    return {"KeyId": key["Arn"], "Signature": signature, "SigningAlgorithm": params["SigningAlgorithm"]}


def verify(call: Call, params: dict[str, Any]) -> dict[str, Any]:
    key, _ = r.find(call, params["KeyId"])
    _require_usage(key, "SIGN_VERIFY", "Verify")
    asymmetric.check_algorithm(key, params["SigningAlgorithm"], "signing")
    usable(key)
    if not asymmetric.verify(r.material(call, key, 0), _message(params), params.get("MessageType", "RAW"),
                             params["SigningAlgorithm"], params["Signature"]):
        raise AwsError("KMSInvalidSignatureException", "", 400)
    return {"KeyId": key["Arn"], "SignatureValid": True, "SigningAlgorithm": params["SigningAlgorithm"]}


def generate_mac(call: Call, params: dict[str, Any]) -> dict[str, Any]:
    key, _ = r.find(call, params["KeyId"])
    _require_usage(key, "GENERATE_VERIFY_MAC", "GenerateMac")
    asymmetric.check_algorithm(key, params["MacAlgorithm"], "mac")
    usable(key)
    return {"Mac": asymmetric.mac(r.material(call, key, 0), _message(params), params["MacAlgorithm"]),
            "MacAlgorithm": params["MacAlgorithm"], "KeyId": key["Arn"]}


def verify_mac(call: Call, params: dict[str, Any]) -> dict[str, Any]:
    expected = generate_mac(call, params)["Mac"]
    if not hmac.compare_digest(expected, params["Mac"]):
        raise AwsError("KMSInvalidMacException", "", 400)
    key, _ = r.find(call, params["KeyId"])
    return {"KeyId": key["Arn"], "MacValid": True, "MacAlgorithm": params["MacAlgorithm"]}


def tag_resource(call: Call, params: dict[str, Any]) -> dict[str, Any]:
    key, version = r.find(call, params["KeyId"])
    not_pending_deletion(key)
    tags = {t["TagKey"]: t["TagValue"] for t in key.get("Tags", [])}
    tags.update({t["TagKey"]: t["TagValue"] for t in params["Tags"]})
    if len(tags) > validation.MAX_TAGS:
        raise validation.tag_error("Too many tags")
    key["Tags"] = [{"TagKey": k, "TagValue": v} for k, v in tags.items()]
    r.save(call, key, version)
    return {}


def untag_resource(call: Call, params: dict[str, Any]) -> dict[str, Any]:
    key, version = r.find(call, params["KeyId"])
    not_pending_deletion(key)
    key["Tags"] = [t for t in key.get("Tags", []) if t["TagKey"] not in params["TagKeys"]]
    r.save(call, key, version)
    return {}


def list_resource_tags(call: Call, params: dict[str, Any]) -> dict[str, Any]:
    key, _ = r.find(call, params["KeyId"])
    rows, more = page(key.get("Tags", []), params, "TagKey", "ListResourceTags")
    return {"Tags": rows, **more}


def update_key_description(call: Call, params: dict[str, Any]) -> dict[str, Any]:
    key, version = r.find(call, params["KeyId"])
    not_pending_deletion(key)
    key["Description"] = params["Description"]
    r.save(call, key, version)
    return {}


def re_encrypt(call: Call, params: dict[str, Any]) -> dict[str, Any]:
    source, plaintext = _decrypt(call, params["CiphertextBlob"], params.get("SourceEncryptionContext"),
                                 params.get("SourceKeyId"))
    target, _ = r.find(call, params["DestinationKeyId"])
    algorithm = params.get("DestinationEncryptionAlgorithm") or "SYMMETRIC_DEFAULT"
    blob = _encrypt_under(call, target, plaintext, algorithm, params.get("DestinationEncryptionContext"),
                          "ReEncrypt")
    out = {"CiphertextBlob": blob, "SourceKeyId": source["Arn"], "KeyId": target["Arn"],
           "SourceEncryptionAlgorithm": "SYMMETRIC_DEFAULT", "DestinationEncryptionAlgorithm": algorithm,
           "SourceKeyMaterialId": _material_id(source, params["CiphertextBlob"])}
    if target["KeySpec"] == "SYMMETRIC_DEFAULT":  # an RSA destination has no key material id
        out["DestinationKeyMaterialId"] = _material_id(target, blob)
    return out


def _data_key_size(params: dict[str, Any]) -> int:
    spec, size = params.get("KeySpec"), params.get("NumberOfBytes")
    problems = [] if size is None else constraints.check_range("numberOfBytes", size, 1, 1024)
    if spec is not None and spec not in _DATA_KEY_BYTES:
        problems.append(constraints.enum_problem("keySpec", spec, _DATA_KEY_BYTES))
    constraints.raise_if(problems)
    if spec is not None and size is None:
        return _DATA_KEY_BYTES[spec]
    if size is not None and spec is None:
        return int(size)
    raise AwsError("ValidationException", "Please specify either number of bytes or key spec.", 400)


def generate_data_key(call: Call, params: dict[str, Any]) -> dict[str, Any]:
    size = _data_key_size(params)  # the request's own members are checked before its key
    key, _ = r.find(call, params["KeyId"])
    plaintext = secrets.token_bytes(size)
    blob = _symmetric_encrypt(call, key, plaintext, params.get("EncryptionContext"), call.operation)
    return {"CiphertextBlob": blob, "Plaintext": plaintext, "KeyId": key["Arn"],
            "KeyMaterialId": _material_id(key, blob)}


def generate_data_key_without_plaintext(call: Call, params: dict[str, Any]) -> dict[str, Any]:
    out = generate_data_key(call, params)
    del out["Plaintext"]
    return out


def generate_data_key_pair(call: Call, params: dict[str, Any]) -> dict[str, Any]:
    """An RSA or ECC key pair whose private key comes back also encrypted under a
    symmetric KMS key (for signing or encrypting outside KMS)."""
    key, _ = r.find(call, params["KeyId"])
    pair_spec = params["KeyPairSpec"]
    spec = keyspecs.SPECS.get(pair_spec)
    if spec is None or not (spec.rsa_bits or spec.curve):
        raise AwsError("ValidationException", f"1 validation error detected: Value '{pair_spec}' at 'keyPairSpec' "
                       "failed to satisfy constraint: Member must satisfy enum value set: [RSA_2048, RSA_3072, "
                       "RSA_4096, ECC_NIST_P256, ECC_NIST_P384, ECC_NIST_P521, ECC_SECG_P256K1, SM2]", 400)
    private = keyspecs.new_material(spec)
    blob = _symmetric_encrypt(call, key, private, params.get("EncryptionContext"), call.operation)
    return {"PrivateKeyCiphertextBlob": blob, "PrivateKeyPlaintext": private, "PublicKey": keyspecs.public_der(private),
            "KeyId": key["Arn"], "KeyPairSpec": pair_spec, "KeyMaterialId": _material_id(key, blob)}


def generate_data_key_pair_without_plaintext(call: Call, params: dict[str, Any]) -> dict[str, Any]:
    out = generate_data_key_pair(call, params)
    del out["PrivateKeyPlaintext"]
    return out


def generate_random(call: Call, params: dict[str, Any]) -> dict[str, Any]:
    n = params.get("NumberOfBytes")
    if n is None:
        raise AwsError("ValidationException", "NumberOfBytes is required.", 400)
    constraints.raise_if(constraints.check_range("numberOfBytes", n, 1, 1024))
    return {"Plaintext": secrets.token_bytes(n)}


def _set_state(call: Call, params: dict[str, Any], state: str) -> dict[str, Any]:
    key, version = r.find(call, params["KeyId"])
    not_pending_deletion(key)
    not_pending_import(key)
    key["KeyState"] = state
    r.save(call, key, version)
    return {}


def enable_key(call: Call, params: dict[str, Any]) -> dict[str, Any]:
    return _set_state(call, params, "Enabled")


def disable_key(call: Call, params: dict[str, Any]) -> dict[str, Any]:
    return _set_state(call, params, "Disabled")


def schedule_key_deletion(call: Call, params: dict[str, Any]) -> dict[str, Any]:
    days = params.get("PendingWindowInDays", 30)
    if not 7 <= days <= 30:
        raise AwsError("ValidationException", "1 validation error detected: Value at 'pendingWindowInDays' failed "
                       "to satisfy constraint: Member must have value between 7 and 30", 400)
    key, version = r.find(call, params["KeyId"])
    not_pending_deletion(key)
    key["KeyState"], key["DeletionDate"] = "PendingDeletion", r.deletion_date(days)
    r.save(call, key, version)
    return {"KeyId": key["Arn"], "DeletionDate": r.parse_time(key["DeletionDate"]), "KeyState": "PendingDeletion",
            "PendingWindowInDays": days}


def cancel_key_deletion(call: Call, params: dict[str, Any]) -> dict[str, Any]:
    key, version = r.find(call, params["KeyId"])
    if key["KeyState"] != "PendingDeletion":
        raise AwsError("KMSInvalidStateException", f"{key['Arn']} is not pending deletion.", 400)
    key["KeyState"] = "Disabled"  # as KMS does: a rescued key comes back disabled
    if imports.is_external(key) and not imports.complete(key):
        key["KeyState"] = "PendingImport"  # ...unless it still lacks imported material
    key.pop("DeletionDate", None)
    r.save(call, key, version)
    return {"KeyId": key["Arn"]}


def _symmetric_only(key: dict[str, Any]) -> None:
    """Automatic rotation: symmetric keys with KMS-made material only."""
    if key["KeySpec"] != "SYMMETRIC_DEFAULT":
        raise AwsError("UnsupportedOperationException", f"{key['Arn']} key spec {key['KeySpec']} does not support "
                       "key rotation.", 400)
    if imports.is_external(key):
        raise AwsError("UnsupportedOperationException", f"{key['Arn']} origin is EXTERNAL which is not valid for "
                       "this operation.", 400)


def rotate_key_on_demand(call: Call, params: dict[str, Any]) -> dict[str, Any]:
    key, version = r.find(call, params["KeyId"])
    usable(key)  # KMS checks the key's state before its spec
    if key["KeySpec"] != "SYMMETRIC_DEFAULT":
        raise AwsError("UnsupportedOperationException", "", 400)  # with no message, as KMS
    if sum(x["RotationType"] == "ON_DEMAND" for x in key.get("Rotations", [])) >= MAX_ON_DEMAND_ROTATIONS:
        raise AwsError("LimitExceededException", "The on-demand rotations limit has been reached for the given "
                       f"keyId. No more on-demand rotations can be performed for this key: {key['Arn']}", 400)
    if imports.is_external(key):
        imports.rotate(key)  # to the material imported with ImportType NEW_KEY_MATERIAL
    else:
        r.rotate(call, key, "ON_DEMAND")
    r.save(call, key, version)
    return {"KeyId": key["Arn"]}


def enable_key_rotation(call: Call, params: dict[str, Any]) -> dict[str, Any]:
    key, version = r.find(call, params["KeyId"])
    _symmetric_only(key)
    usable(key)
    days = params.get("RotationPeriodInDays", 365)
    if not 90 <= days <= 2560:
        raise AwsError("ValidationException", "1 validation error detected: Value at 'rotationPeriodInDays' failed "
                       "to satisfy constraint: Member must have value between 90 and 2560", 400)
    key["RotationPeriodInDays"] = days
    key["NextRotationDate"] = clock.iso8601(clock.now() + timedelta(days=days))
    r.save(call, key, version)
    return {}


def disable_key_rotation(call: Call, params: dict[str, Any]) -> dict[str, Any]:
    key, version = r.find(call, params["KeyId"])
    _symmetric_only(key)
    usable(key)
    key.pop("NextRotationDate", None)
    r.save(call, key, version)
    return {}


def get_key_rotation_status(call: Call, params: dict[str, Any]) -> dict[str, Any]:
    key, _ = r.find(call, params["KeyId"])
    out: dict[str, Any] = {"KeyRotationEnabled": bool(key.get("NextRotationDate")), "KeyId": key["Arn"]}
    if key.get("NextRotationDate"):
        out["RotationPeriodInDays"] = key["RotationPeriodInDays"]
        out["NextRotationDate"] = r.parse_time(key["NextRotationDate"])
    return out


def list_key_rotations(call: Call, params: dict[str, Any]) -> dict[str, Any]:
    key, _ = r.find(call, params["KeyId"])
    if imports.is_external(key):
        rows = imports.rotation_entries(key, params.get("IncludeKeyMaterial") or "ROTATIONS_ONLY")
        chosen, more = page_in_order(rows, params, "ListKeyRotations")
        return {"Rotations": chosen, **more}
    # KMS-made material: slot 0 is the original, rotation i made slot i + 1.
    current = imports.current_version(key)

    def entry(slot: int) -> dict[str, Any]:
        return {"KeyId": key["KeyId"], "KeyMaterialId": r.material_id(key, slot),
                "KeyMaterialState": "CURRENT" if slot == current else "NON_CURRENT"}

    rows = [{**entry(i + 1), "RotationDate": r.parse_time(x["RotationDate"]), "RotationType": x["RotationType"]}
            for i, x in enumerate(key.get("Rotations", []))]
    if params.get("IncludeKeyMaterial") == "ALL_KEY_MATERIAL":
        rows.insert(0, entry(0))  # the original material has no rotation date or type
    chosen, more = page_in_order(rows, params, "ListKeyRotations")
    return {"Rotations": chosen, **more}


def _check_alias_name(name: str) -> None:
    if not name.startswith("alias/"):
        raise AwsError("ValidationException", "Alias must start with the prefix \"alias/\". Please see "
                       "https://docs.aws.amazon.com/kms/latest/developerguide/kms-alias.html", 400)
    if name.startswith("alias/aws/"):
        # reserved for AWS managed keys
        raise AwsError("NotAuthorizedException", "", 400)
    if not _ALIAS_NAME.fullmatch(name) or len(name) > 256:
        raise AwsError("ValidationException", f"1 validation error detected: Value '{name}' at 'aliasName' failed "
                       "to satisfy constraint: Member must satisfy regular expression pattern: ^[a-zA-Z0-9:/_-]+$",
                       400)


def _aliasable(key: dict[str, Any]) -> None:
    if key["KeyManager"] == "AWS":
        raise AwsError("NotAuthorizedException", "", 400)
    not_pending_deletion(key)


def create_alias(call: Call, params: dict[str, Any]) -> dict[str, Any]:
    name = params["AliasName"]
    _check_alias_name(name)
    key, version = r.find(call, params["TargetKeyId"])
    _aliasable(key)
    account, region = call.principal.account, call.region
    if call.store.get(r.ALIAS, r.alias_key(account, region, name)):
        raise AwsError("AlreadyExistsException", f"An alias with the name {r.alias_arn(region, account, name)} "
                       "already exists", 400)
    r.put_alias(call, name, key, version)
    return {}


def _alias_record(call: Call, name: str) -> Any:
    rec = call.store.get(r.ALIAS, r.alias_key(call.principal.account, call.region, name))
    if rec is None:
        raise AwsError("NotFoundException", f"Alias {r.alias_arn(call.region, call.principal.account, name)} is not "
                       "found.", 400)
    return rec


def update_alias(call: Call, params: dict[str, Any]) -> dict[str, Any]:
    name = params["AliasName"]
    _check_alias_name(name)
    rec = _alias_record(call, name)
    key, version = r.find(call, params["TargetKeyId"])
    _aliasable(key)
    old, _ = r.find(call, rec.value["TargetKeyId"])
    def kind(k: dict[str, Any]) -> tuple[str, bool]:
        return k["KeyUsage"], k["KeySpec"] == "SYMMETRIC_DEFAULT"

    if kind(old) != kind(key):
        raise AwsError("ValidationException", "An alias can only be updated to a key of the same key type and key "
                       "usage.", 400)
    with call.store.transaction():
        r.drop_alias_from_key(call, old["KeyId"], name)
        key, version = r.find(call, params["TargetKeyId"])  # re-read: the old and new key may be one
        r.put_alias(call, name, key, version, alias_version=rec.version)
    return {}


def delete_alias(call: Call, params: dict[str, Any]) -> dict[str, Any]:
    name = params["AliasName"]
    rec = _alias_record(call, name)
    with call.store.transaction():
        call.store.delete(r.ALIAS, rec.key)
        r.drop_alias_from_key(call, rec.value["TargetKeyId"], name)
    return {}


def list_aliases(call: Call, params: dict[str, Any]) -> dict[str, Any]:
    rows = [rec.value for rec in call.store.scan(r.ALIAS, f"{call.principal.account}/{call.region}/")]
    if params.get("KeyId"):
        key, _ = r.find(call, params["KeyId"])
        rows = [a for a in rows if a["TargetKeyId"] == key["KeyId"]]
    rows, more = page(rows, params, "AliasName", "ListAliases")
    return {"Aliases": [{"AliasName": a["AliasName"], "AliasArn": a["AliasArn"], "TargetKeyId": a["TargetKeyId"],
                         "CreationDate": r.parse_time(a["CreationDate"]),
                         "LastUpdatedDate": r.parse_time(a.get("LastUpdatedDate") or a["CreationDate"])}
                        for a in rows], **more}


def get_key_policy(call: Call, params: dict[str, Any]) -> dict[str, Any]:
    key, _ = r.find(call, params["KeyId"])
    return {"Policy": principals.displayed(call.store, key["Policy"], key.get(r.POLICY_BINDING)),
            "PolicyName": "default"}


def list_key_policies(call: Call, params: dict[str, Any]) -> dict[str, Any]:
    r.find(call, params["KeyId"])
    chosen, more = page([{"PolicyName": "default"}], params, "PolicyName", "ListKeyPolicies")  # a key has one policy
    return {"PolicyNames": [row["PolicyName"] for row in chosen], **more}


def _check_policy(call: Call, key: dict[str, Any], policy: str, bypass: bool) -> principals.Binding:
    """Validate a key policy for `key` as KMS does; its principals bound to their unique ids."""
    from skyhold.services.kms import authz  # authz -> grants -> handlers: imported late
    try:
        validate_policy(policy, "resource")
    except AwsError as err:
        raise AwsError("MalformedPolicyDocumentException", err.message, 400) from None
    if principals.unknown(call.store, policy):
        raise AwsError("MalformedPolicyDocumentException",
                       "Policy contains a statement with one or more invalid principals.", 400)
    binding = principals.bind(call.store, policy)
    if bypass:
        return binding
    # The lockout safety check: the caller must still be able to PutKeyPolicy after
    # the change, or nobody could ever fix the key again. The probe is that later
    # request as its authorization would see it: the key's context (spec, usage,
    # tags, aliases) and the safety check left on.
    later = {"BypassPolicyLockoutSafetyCheck": False}
    context = {**authz._key_context(call, key, None), **authz._request_context("PutKeyPolicy", later)}
    probe = Access("kms:PutKeyPolicy", key["Arn"], context, resource_account=key["AWSAccountId"],
                   resource_policy=principals.evaluated(call.store, policy, binding), resource_policy_required=True)
    if not call.pipeline.authorizer.decide(call, probe).allowed:
        raise AwsError("MalformedPolicyDocumentException",
                       "The new key policy will not allow you to update the key policy in the future.", 400)
    return binding


def put_key_policy(call: Call, params: dict[str, Any]) -> dict[str, Any]:
    key, version = r.find(call, params["KeyId"])
    if params.get("PolicyName", "default") != "default":
        raise AwsError("NotFoundException", f"Key policy {params['PolicyName']} is not found.", 400)
    binding = _check_policy(call, key, params["Policy"], params.get("BypassPolicyLockoutSafetyCheck", False))
    key["Policy"] = params["Policy"]
    key[r.POLICY_BINDING] = binding
    r.save(call, key, version)
    return {}


HANDLERS = {
    "CreateKey": create_key,
    "DescribeKey": describe_key,
    "ListKeys": list_keys,
    "Encrypt": encrypt,
    "Decrypt": decrypt,
    "ReEncrypt": re_encrypt,
    "GenerateDataKey": generate_data_key,
    "GenerateDataKeyWithoutPlaintext": generate_data_key_without_plaintext,
    "GenerateDataKeyPair": generate_data_key_pair,
    "GenerateDataKeyPairWithoutPlaintext": generate_data_key_pair_without_plaintext,
    "GenerateRandom": generate_random,
    "EnableKey": enable_key,
    "DisableKey": disable_key,
    "ScheduleKeyDeletion": schedule_key_deletion,
    "CancelKeyDeletion": cancel_key_deletion,
    "RotateKeyOnDemand": rotate_key_on_demand,
    "EnableKeyRotation": enable_key_rotation,
    "DisableKeyRotation": disable_key_rotation,
    "GetKeyRotationStatus": get_key_rotation_status,
    "ListKeyRotations": list_key_rotations,
    "CreateAlias": create_alias,
    "UpdateAlias": update_alias,
    "DeleteAlias": delete_alias,
    "ListAliases": list_aliases,
    "GetKeyPolicy": get_key_policy,
    "PutKeyPolicy": put_key_policy,
    "ListKeyPolicies": list_key_policies,
    "GetPublicKey": get_public_key,
    "DeriveSharedSecret": derive_shared_secret,
    "Sign": sign,
    "Verify": verify,
    "GenerateMac": generate_mac,
    "VerifyMac": verify_mac,
    "TagResource": tag_resource,
    "UntagResource": untag_resource,
    "ListResourceTags": list_resource_tags,
    "UpdateKeyDescription": update_key_description,
}
