"""Imported key material (Origin EXTERNAL, "bring your own key").

A key created with Origin EXTERNAL has no material and is PendingImport. Each
GetParametersForImport makes a fresh RSA wrapping key pair; the private half is kept
in the store (kind `kms.import`, keyed "<key id>/<token id>") sealed with the data
dir's root key, and the opaque import token names that record. ImportKeyMaterial
unwraps the material with it (RSA-OAEP, or RSA-OAEP of an AES key plus RFC 5649 AES
key wrap with padding), checks it fits the key spec and installs it.

The key record's `Material` holds one sealed slot per key material (None once
deleted or expired: ciphertexts name their slot, so re-importing the same material
makes them decryptable again), and `KeyMaterials` describes each slot: its id (derived
from key id and material, as KMS does), CURRENT / NON_CURRENT / PENDING_ROTATION,
whether it is imported, and its expiration. A symmetric key may have several
materials (ImportType NEW_KEY_MATERIAL, then RotateKeyOnDemand); the key is usable
only while every one of them is imported.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import secrets
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.keywrap import InvalidUnwrap, aes_key_unwrap_with_padding

from skyhold import clock
from skyhold.constraints import enum_problem
from skyhold.crypto import root
from skyhold.errors import AwsError
from skyhold.services.kms import keyspecs
from skyhold.services.kms import records as r

if TYPE_CHECKING:
    from skyhold.pipeline import Call

IMPORT = "kms.import"
TOKEN_MAGIC = b"SKYIMP1"
PARAMETERS_VALID = timedelta(hours=24)  # how long a wrapping key and token may be used
MAX_VALID_TO = timedelta(days=365)  # ImportKeyMaterial's ValidTo limit (KMS API reference)

# The model's enum values, in its order. RSAES_PKCS1_V1_5 is deprecated (KMS stopped
# accepting it on 10 October 2023) and SM2 exists only in China Regions.
WRAPPING_ALGORITHMS = ("RSAES_PKCS1_V1_5", "RSAES_OAEP_SHA_1", "RSAES_OAEP_SHA_256", "RSA_AES_KEY_WRAP_SHA_1",
                       "RSA_AES_KEY_WRAP_SHA_256", "SM2PKE")
WRAPPING_KEY_SPECS = ("RSA_2048", "RSA_3072", "RSA_4096", "SM2")
EXPIRATION_MODELS = ("KEY_MATERIAL_EXPIRES", "KEY_MATERIAL_DOES_NOT_EXPIRE")
IMPORT_TYPES = ("NEW_KEY_MATERIAL", "EXISTING_KEY_MATERIAL")
_SUPPORTED_ALGORITHMS = frozenset(WRAPPING_ALGORITHMS[1:5])
_SUPPORTED_SPECS = {"RSA_2048": 2048, "RSA_3072": 3072, "RSA_4096": 4096}


class UnwrapError(ValueError):
    """The wrapped material does not open with the wrapping key and algorithm."""


# --- pure crypto -----------------------------------------------------------------

def _oaep(algorithm: str) -> padding.OAEP:
    h: hashes.HashAlgorithm = hashes.SHA256() if algorithm.endswith("SHA_256") else hashes.SHA1()
    return padding.OAEP(mgf=padding.MGF1(h), algorithm=h, label=None)


def unwrap(private: rsa.RSAPrivateKey, algorithm: str, blob: bytes) -> bytes:
    """The key material inside `blob`, wrapped as GetParametersForImport's algorithm says:
    RSAES_OAEP_* is the material under RSA-OAEP; RSA_AES_KEY_WRAP_* is an AES key under
    RSA-OAEP (one modulus long) followed by the material under AES key wrap with padding."""
    try:
        if algorithm.startswith("RSAES_OAEP"):
            return private.decrypt(blob, _oaep(algorithm))
        if algorithm.startswith("RSA_AES_KEY_WRAP"):
            size = private.key_size // 8
            if len(blob) <= size:
                raise UnwrapError("no AES-wrapped material after the wrapped AES key")
            aes_key = private.decrypt(blob[:size], _oaep(algorithm))
            return aes_key_unwrap_with_padding(aes_key, blob[size:])
    except (ValueError, InvalidUnwrap) as err:
        raise UnwrapError(str(err)) from None
    raise UnwrapError(f"unsupported wrapping algorithm {algorithm}")


def material_for(spec: keyspecs.Spec, material: bytes) -> bytes | None:
    """The material as Skyhold keeps it (see keyspecs), or None if it does not fit the
    key spec: 256 bits for a symmetric key, the HMAC lengths KMS accepts (digest size up
    to block size), a PKCS#8 DER private key of the spec's type and size otherwise."""
    if spec.name == "SYMMETRIC_DEFAULT":
        return material if len(material) == 32 else None
    if spec.hmac_bytes:
        block = 64 if spec.hmac_bytes <= 32 else 128
        return material if spec.hmac_bytes <= len(material) <= block else None
    try:
        private = serialization.load_der_private_key(material, password=None)
    except (ValueError, TypeError, UnsupportedAlgorithm):  # not a key, or one of no algorithm KMS has
        return None
    if spec.rsa_bits:
        fits = isinstance(private, rsa.RSAPrivateKey) and private.key_size == spec.rsa_bits
    else:
        fits = (isinstance(private, ec.EllipticCurvePrivateKey) and spec.curve is not None
                and isinstance(private.curve, spec.curve))
    if not fits:
        return None
    return private.private_bytes(serialization.Encoding.DER, serialization.PrivateFormat.PKCS8,
                                 serialization.NoEncryption())


def derive_material_id(key_id: str, material: bytes) -> str:
    """A key material id: 64 hex digits from the key id and the material (the same
    material imported again into the same key gets the same id). A hash, not an HMAC
    keyed by the material: for an HMAC key that would be a MAC anyone reading the id
    could present."""
    return hashlib.sha256(b"skyhold/kms-material-id\0" + key_id.encode() + b"\0" + material).hexdigest()


# --- state of a key's materials ----------------------------------------------------

def is_external(key: dict[str, Any]) -> bool:
    return key.get("Origin") == "EXTERNAL"


def _symmetric(key: dict[str, Any]) -> bool:
    return key["KeySpec"] == "SYMMETRIC_DEFAULT"


def current_version(key: dict[str, Any]) -> int:
    """The material slot new ciphertexts use: the newest for AWS_KMS keys (rotation
    appends), the CURRENT one for imported material (a pending one waits for rotation)."""
    for i, entry in enumerate(key.get("KeyMaterials") or ()):
        if entry["State"] == "CURRENT":
            return i
    return len(key["Material"]) - 1


def _current(key: dict[str, Any]) -> dict[str, Any] | None:
    return next((e for e in key.get("KeyMaterials") or () if e["State"] == "CURRENT"), None)


def metadata(key: dict[str, Any]) -> dict[str, Any]:
    """DescribeKey's members for imported material: the current material's expiration
    while it is imported, and (symmetric keys) its id, kept after it is deleted."""
    current = _current(key)
    if not is_external(key) or current is None:
        return {}
    out: dict[str, Any] = {}
    if _symmetric(key):
        out["CurrentKeyMaterialId"] = current["Id"]
    out.update(_expiry_members(current))
    return out


def _expiry_members(material: dict[str, Any]) -> dict[str, Any]:
    """ExpirationModel and ValidTo of an imported material (nothing while it is pending)."""
    if not material["Imported"]:
        return {}
    out = {"ExpirationModel": material["ExpirationModel"]}
    if material.get("ValidTo"):
        out["ValidTo"] = r.parse_time(material["ValidTo"])
    return out


def complete(key: dict[str, Any]) -> bool:
    """Whether every material of an EXTERNAL key is imported (none ever imported: no)."""
    return bool(key["KeyMaterials"]) and all(e["Imported"] for e in key["KeyMaterials"])


def _settle_state(key: dict[str, Any]) -> None:
    """Usable only while every material is imported: a missing one makes an enabled or
    disabled key PendingImport; the last one imported makes it Enabled."""
    done = complete(key)
    if not done and key["KeyState"] in ("Enabled", "Disabled"):
        key["KeyState"] = "PendingImport"
    elif done and key["KeyState"] == "PendingImport":
        key["KeyState"] = "Enabled"


def _drop_material(key: dict[str, Any], index: int) -> None:
    """Material deleted (or expired). One pending rotation was never the key's own: it
    goes entirely and the key's state stays, so other material may be imported in its
    place (KMS developer guide, "Delete imported key material"). It is always the newest
    slot, and no ciphertext names it (new ones use the current material)."""
    entry = key["KeyMaterials"][index]
    if entry["State"] == "PENDING_ROTATION":
        del key["KeyMaterials"][index], key["Material"][index]
        return
    key["Material"][index] = None
    entry["Imported"] = False
    entry.pop("ExpirationModel", None)
    entry.pop("ValidTo", None)


def expire(call: Call, key: dict[str, Any], version: int) -> int:
    """Material whose ValidTo has passed on Skyhold's clock is deleted, as KMS does."""
    now = clock.now()
    expired = [i for i, e in enumerate(key.get("KeyMaterials") or ())
               if e["Imported"] and e.get("ValidTo") and now >= r.parse_time(e["ValidTo"])]
    if not expired:
        return version
    for i in reversed(expired):  # the newest first: dropping a pending one shortens the list
        _drop_material(key, i)
    _settle_state(key)
    return r.save(call, key, version)


def rotate(key: dict[str, Any]) -> None:
    """RotateKeyOnDemand for imported material: the pending material becomes current."""
    pending = next((e for e in key["KeyMaterials"] if e["State"] == "PENDING_ROTATION"), None)
    if pending is None:
        raise AwsError("KMSInvalidStateException", "No available key material pending rotation for the key: "
                       f"{key['Arn']}.", 400)
    for entry in key["KeyMaterials"]:
        if entry["State"] == "CURRENT":
            entry["State"] = "NON_CURRENT"
    pending["State"] = "CURRENT"
    key.setdefault("Rotations", []).append({"RotationDate": clock.now_iso8601(), "RotationType": "ON_DEMAND",
                                            "KeyMaterialId": pending["Id"]})


def _external_only(key: dict[str, Any]) -> None:
    if not is_external(key):
        raise AwsError("UnsupportedOperationException", f"{key['Arn']} origin is {key['Origin']} which is not valid "
                       "for this operation.", 400)


def request_problems(operation: str, params: dict[str, Any]) -> list[str]:
    """The model's enum constraints on the import operations' members."""
    enums = {"GetParametersForImport": (("WrappingAlgorithm", "wrappingAlgorithm", WRAPPING_ALGORITHMS),
                                        ("WrappingKeySpec", "wrappingKeySpec", WRAPPING_KEY_SPECS)),
             "ImportKeyMaterial": (("ExpirationModel", "expirationModel", EXPIRATION_MODELS),
                                   ("ImportType", "importType", IMPORT_TYPES))}.get(operation, ())
    return [enum_problem(field, params[member], allowed) for member, field, allowed in enums
            if params.get(member) is not None and params[member] not in allowed]


# --- operations --------------------------------------------------------------------

def _aad(key_id: str, token_id: str) -> bytes:
    return f"kms-import-wrapping-key/{key_id}/{token_id}".encode()


async def get_parameters_for_import(call: Call, params: dict[str, Any]) -> dict[str, Any]:
    key, _ = r.find(call, params["KeyId"])
    _external_only(key)
    if key["KeyState"] == "PendingDeletion":
        raise AwsError("KMSInvalidStateException", f"{key['Arn']} is pending deletion.", 400)
    algorithm, spec = params["WrappingAlgorithm"], params["WrappingKeySpec"]
    if algorithm not in _SUPPORTED_ALGORITHMS:
        raise AwsError("ValidationException", f"The wrapping algorithm {algorithm} is not supported.", 400)
    if spec not in _SUPPORTED_SPECS:
        raise AwsError("ValidationException", f"The wrapping key spec {spec} is not supported.", 400)
    # Making an RSA key takes 0.1-0.4 s: off the event loop, which serves other requests meanwhile.
    private = await asyncio.to_thread(rsa.generate_private_key, public_exponent=65537,
                                      key_size=_SUPPORTED_SPECS[spec])
    der = private.private_bytes(serialization.Encoding.DER, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption())
    _forget_expired_tokens(call, key["KeyId"])
    token_id = secrets.token_hex(32)
    valid_to = clock.now() + PARAMETERS_VALID
    call.store.put(IMPORT, f"{key['KeyId']}/{token_id}", {
        "KeyId": key["KeyId"], "WrappingAlgorithm": algorithm, "ValidTo": clock.iso8601(valid_to),
        "WrappingKey": base64.b64encode(root.seal(call.pipeline.data_dir, der, _aad(key["KeyId"], token_id))).decode(),
    }, expect_version=0)
    public = private.public_key().public_bytes(serialization.Encoding.DER,
                                               serialization.PublicFormat.SubjectPublicKeyInfo)
    return {"KeyId": key["Arn"], "ImportToken": TOKEN_MAGIC + bytes.fromhex(token_id), "PublicKey": public,
            "ParametersValidTo": r.parse_time(clock.iso8601(valid_to))}


def _forget_expired_tokens(call: Call, key_id: str) -> None:
    now = clock.now()
    for rec in call.store.scan(IMPORT, f"{key_id}/"):
        if now >= r.parse_time(rec.value["ValidTo"]):
            call.store.delete(IMPORT, rec.key)


def _wrapping(call: Call, key: dict[str, Any], token: bytes) -> tuple[rsa.RSAPrivateKey, str]:
    """The wrapping private key and algorithm an import token names, for this key only."""
    invalid = AwsError("InvalidImportTokenException", "The import token is invalid.", 400)
    if not token.startswith(TOKEN_MAGIC) or len(token) != len(TOKEN_MAGIC) + 32:
        raise invalid
    token_id = token[len(TOKEN_MAGIC):].hex()
    rec = call.store.get(IMPORT, f"{key['KeyId']}/{token_id}")
    if rec is None:  # unknown, or made for another key
        raise invalid
    if clock.now() >= r.parse_time(rec.value["ValidTo"]):
        raise AwsError("ExpiredImportTokenException", "The import token is expired.", 400)
    der = root.unseal(call.pipeline.data_dir, base64.b64decode(rec.value["WrappingKey"]),
                      _aad(key["KeyId"], token_id))
    private = serialization.load_der_private_key(der, password=None)
    assert isinstance(private, rsa.RSAPrivateKey)
    return private, rec.value["WrappingAlgorithm"]


def _expiration(params: dict[str, Any]) -> tuple[str, str | None]:
    """(ExpirationModel, ValidTo as ISO text or None). The model defaults to
    KEY_MATERIAL_EXPIRES, which needs a ValidTo within the next 365 days."""
    model = params.get("ExpirationModel") or "KEY_MATERIAL_EXPIRES"
    valid_to: datetime | None = params.get("ValidTo")
    if model == "KEY_MATERIAL_DOES_NOT_EXPIRE":
        if valid_to is not None:
            raise AwsError("ValidationException", "A validTo date can only be set if the ExpirationModel is "
                           "KEY_MATERIAL_EXPIRES", 400)
        return model, None
    if valid_to is None:
        raise AwsError("ValidationException", "A validTo date must be set if the ExpirationModel is "
                       "KEY_MATERIAL_EXPIRES", 400)
    now = clock.now()
    if not now < valid_to <= now + MAX_VALID_TO:
        raise AwsError("ValidationException", "The validTo date must be in the future and no more than 365 days "
                       "from now.", 400)
    return model, clock.iso8601(valid_to)


def _incorrect(message: str) -> AwsError:
    return AwsError("IncorrectKeyMaterialException", message, 400)


def import_key_material(call: Call, params: dict[str, Any]) -> dict[str, Any]:
    key, version = r.find(call, params["KeyId"])
    _external_only(key)
    if key["KeyState"] == "PendingDeletion":
        raise AwsError("KMSInvalidStateException", f"{key['Arn']} is pending deletion.", 400)
    symmetric = _symmetric(key)
    if not symmetric and (params.get("ImportType") or params.get("KeyMaterialId")):
        raise AwsError("ValidationException", "ImportType and KeyMaterialId are supported only for symmetric "
                       "encryption keys.", 400)
    model, valid_to = _expiration(params)
    private, algorithm = _wrapping(call, key, params["ImportToken"])
    try:
        raw = unwrap(private, algorithm, params["EncryptedKeyMaterial"])
    except UnwrapError:
        raise AwsError("InvalidCiphertextException", "", 400) from None
    material = material_for(keyspecs.SPECS[key["KeySpec"]], raw)
    if material is None:
        raise _incorrect(f"The key material is not valid for a {key['KeySpec']} key.")
    mid = derive_material_id(key["KeyId"], material)
    entries: list[dict[str, Any]] = key["KeyMaterials"]
    import_type = params.get("ImportType") or ("EXISTING_KEY_MATERIAL" if entries else "NEW_KEY_MATERIAL")
    index = next((i for i, e in enumerate(entries) if e["Id"] == mid), None)
    if import_type == "NEW_KEY_MATERIAL":
        if params.get("KeyMaterialId"):
            raise AwsError("ValidationException", "A KeyMaterialId cannot be specified when the ImportType is "
                           "NEW_KEY_MATERIAL", 400)
        if index is not None:
            raise _incorrect(f"Key material (id: {mid}) is already associated with KMS key {key['KeyId']}.")
        if entries and not symmetric:  # only the first import gives such a key its material
            raise _incorrect(f"KMS key {key['KeyId']} already has key material.")
        pending = next((e for e in entries if e["State"] == "PENDING_ROTATION"), None)
        if pending is not None:
            raise AwsError("KMSInvalidStateException", f"New key material (id: {mid}) cannot be imported into KMS key "
                           f"{key['KeyId']}, because another key material (id: {pending['Id']}) is pending "
                           "rotation.", 400)
        entries.append({"Id": mid, "State": "PENDING_ROTATION" if entries else "CURRENT", "Imported": False})
        key["Material"].append(None)
        index = len(entries) - 1
    else:
        wanted = params.get("KeyMaterialId")
        if index is None or (wanted and wanted != mid):
            raise _incorrect("The key material does not match the key material previously imported into KMS key "
                             f"{key['KeyId']}.")
    entry = entries[index]
    key["Material"][index] = r.seal(call, key["KeyId"], index, material)
    entry.update({"Imported": True, "ExpirationModel": model, "ImportDate": clock.now_iso8601()})
    entry.pop("ValidTo", None)
    if valid_to:
        entry["ValidTo"] = valid_to
    if params.get("KeyMaterialDescription") is not None:
        entry["Description"] = params["KeyMaterialDescription"]
    _settle_state(key)
    r.save(call, key, version)
    return {"KeyId": key["Arn"], **({"KeyMaterialId": mid} if symmetric else {})}


def delete_imported_key_material(call: Call, params: dict[str, Any]) -> dict[str, Any]:
    key, version = r.find(call, params["KeyId"])
    _external_only(key)
    entries: list[dict[str, Any]] = key["KeyMaterials"]
    wanted = params.get("KeyMaterialId")
    if wanted:
        index = next((i for i, e in enumerate(entries) if e["Id"] == wanted), None)
        if index is None:
            raise AwsError("NotFoundException", f"Key material (id: {wanted}) is not associated with KMS key "
                           f"{key['KeyId']}.", 400)
    else:  # the current material, as KMS defaults
        index = next((i for i, e in enumerate(entries) if e["State"] == "CURRENT"), None)
    out: dict[str, Any] = {"KeyId": key["Arn"]}
    if index is None:  # nothing imported yet: nothing to delete
        return out
    if _symmetric(key):
        out["KeyMaterialId"] = entries[index]["Id"]
    _drop_material(key, index)
    _settle_state(key)
    r.save(call, key, version)
    return out


def rotation_entries(key: dict[str, Any], include: str) -> list[dict[str, Any]]:
    """ListKeyRotations for imported material: one entry per material (with
    ALL_KEY_MATERIAL) or per rotation (ROTATIONS_ONLY, the default)."""
    by_id = {e["Id"]: e for e in key.get("KeyMaterials") or ()}

    def entry(e: dict[str, Any]) -> dict[str, Any]:
        out: dict[str, Any] = {"KeyId": key["KeyId"], "KeyMaterialId": e["Id"],
                               "ImportState": "IMPORTED" if e["Imported"] else "PENDING_IMPORT",
                               "KeyMaterialState": e["State"]}
        if e.get("Description"):
            out["KeyMaterialDescription"] = e["Description"]
        out.update(_expiry_members(e))
        return out

    if include == "ALL_KEY_MATERIAL":
        rotated = {x.get("KeyMaterialId"): x for x in key.get("Rotations", [])}
        rows = []
        for e in key.get("KeyMaterials") or ():
            row = entry(e)
            if e["Id"] in rotated:
                row.update(RotationDate=r.parse_time(rotated[e["Id"]]["RotationDate"]), RotationType="ON_DEMAND")
            rows.append(row)
        return rows
    return [{**entry(by_id[x["KeyMaterialId"]]), "RotationDate": r.parse_time(x["RotationDate"]),
             "RotationType": x["RotationType"]} for x in key.get("Rotations", []) if x.get("KeyMaterialId") in by_id]


HANDLERS = {
    "GetParametersForImport": get_parameters_for_import,
    "ImportKeyMaterial": import_key_material,
    "DeleteImportedKeyMaterial": delete_imported_key_material,
}
