"""Imported key material (Origin EXTERNAL): the BYOK flow as the AWS KMS developer
guide shows it, wrapped with standard `cryptography` outside Skyhold, and the answers
AWS recorded (LocalStack's validated KMS snapshots) for the import error cases."""

from __future__ import annotations

import base64
import os
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding
from cryptography.hazmat.primitives.keywrap import aes_key_wrap_with_padding

from .conftest import AwsEnv, aws_error, own_server


@pytest.fixture
def kms(admin: AwsEnv) -> Any:
    return admin.client("kms")


def _oaep_256() -> padding.OAEP:
    return padding.OAEP(mgf=padding.MGF1(hashes.SHA256()), algorithm=hashes.SHA256(), label=None)


def _params(kms: Any, key_id: str, algorithm: str = "RSAES_OAEP_SHA_256", spec: str = "RSA_2048") -> dict:
    return kms.get_parameters_for_import(KeyId=key_id, WrappingAlgorithm=algorithm, WrappingKeySpec=spec)


def _wrap(params: dict, material: bytes) -> bytes:
    public = serialization.load_der_public_key(params["PublicKey"])
    return public.encrypt(material, _oaep_256())  # type: ignore[union-attr]


def _import(kms: Any, key_id: str, material: bytes, **extra: Any) -> dict:
    params = _params(kms, key_id)
    return kms.import_key_material(KeyId=key_id, ImportToken=params["ImportToken"],
                                   EncryptedKeyMaterial=_wrap(params, material),
                                   ExpirationModel="KEY_MATERIAL_DOES_NOT_EXPIRE", **extra)


def _external_key(kms: Any, **extra: Any) -> dict:
    return kms.create_key(Origin="EXTERNAL", Description="byok", **extra)["KeyMetadata"]


def test_byok_flow_with_boto3(kms: Any) -> None:
    meta = _external_key(kms)
    key_id, arn = meta["KeyId"], meta["Arn"]
    assert (meta["Origin"], meta["KeyState"], meta["Enabled"]) == ("EXTERNAL", "PendingImport", False)
    pending = f"{arn} is pending import."
    assert aws_error(lambda: kms.encrypt(KeyId=key_id, Plaintext=b"x")) == ("KMSInvalidStateException", pending, 400)

    params = _params(kms, key_id)
    assert params["KeyId"] == arn
    lifetime = params["ParametersValidTo"] - datetime.now(timezone.utc)
    assert timedelta(hours=23) < lifetime <= timedelta(hours=24, minutes=1)
    material = os.urandom(32)
    wrapped = _wrap(params, material)
    # ExpirationModel defaults to KEY_MATERIAL_EXPIRES, which needs a ValidTo (recorded from AWS).
    assert aws_error(lambda: kms.import_key_material(KeyId=key_id, ImportToken=params["ImportToken"],
                                                     EncryptedKeyMaterial=wrapped)) == (
        "ValidationException", "A validTo date must be set if the ExpirationModel is KEY_MATERIAL_EXPIRES", 400)
    out = kms.import_key_material(KeyId=key_id, ImportToken=params["ImportToken"], EncryptedKeyMaterial=wrapped,
                                  ExpirationModel="KEY_MATERIAL_DOES_NOT_EXPIRE")
    assert out["KeyId"] == arn and len(out["KeyMaterialId"]) == 64
    after = kms.describe_key(KeyId=key_id)["KeyMetadata"]
    assert (after["KeyState"], after["Enabled"], after["ExpirationModel"]) == (
        "Enabled", True, "KEY_MATERIAL_DOES_NOT_EXPIRE")
    assert after["CurrentKeyMaterialId"] == out["KeyMaterialId"]

    blob = kms.encrypt(KeyId=key_id, Plaintext=b"bring your own key")["CiphertextBlob"]
    assert kms.decrypt(CiphertextBlob=blob, KeyId=key_id)["Plaintext"] == b"bring your own key"

    deleted = kms.delete_imported_key_material(KeyId=key_id)
    assert deleted["KeyMaterialId"] == out["KeyMaterialId"]
    gone = kms.describe_key(KeyId=key_id)["KeyMetadata"]
    assert (gone["KeyState"], gone["Enabled"]) == ("PendingImport", False)
    assert "ExpirationModel" not in gone and gone["CurrentKeyMaterialId"] == out["KeyMaterialId"]
    assert aws_error(lambda: kms.encrypt(KeyId=key_id, Plaintext=b"x")) == ("KMSInvalidStateException", pending, 400)
    assert aws_error(lambda: kms.decrypt(CiphertextBlob=blob)) == ("KMSInvalidStateException", pending, 400)

    # Only the same material may come back; then old ciphertexts decrypt again.
    assert aws_error(lambda: _import(kms, key_id, os.urandom(32)))[0] == "IncorrectKeyMaterialException"
    assert kms.describe_key(KeyId=key_id)["KeyMetadata"]["KeyState"] == "PendingImport"
    assert _import(kms, key_id, material)["KeyMaterialId"] == out["KeyMaterialId"]
    assert kms.decrypt(CiphertextBlob=blob)["Plaintext"] == b"bring your own key"


def test_get_parameters_for_import_refuses_kms_made_keys(kms: Any) -> None:
    # Recorded: UnsupportedOperationException "<key-arn> origin is AWS_KMS which is not valid ..."
    meta = kms.create_key()["KeyMetadata"]
    message = f"{meta['Arn']} origin is AWS_KMS which is not valid for this operation."
    for spec in ("RSA_2048", "RSA_4096"):
        assert aws_error(lambda: _params(kms, meta["KeyId"], spec=spec)) == (
            "UnsupportedOperationException", message, 400)
    assert aws_error(lambda: kms.delete_imported_key_material(KeyId=meta["KeyId"])) == (
        "UnsupportedOperationException", message, 400)


def test_get_parameters_for_an_external_signing_key(kms: Any) -> None:
    meta = _external_key(kms, KeySpec="ECC_NIST_P256", KeyUsage="SIGN_VERIFY")
    params = _params(kms, meta["KeyId"], spec="RSA_4096")
    public = serialization.load_der_public_key(params["PublicKey"])
    assert params["KeyId"] == meta["Arn"] and public.key_size == 4096  # type: ignore[union-attr]
    assert params["ImportToken"]


def test_import_an_ecc_signing_key_with_aes_key_wrap(kms: Any) -> None:
    meta = _external_key(kms, KeySpec="ECC_NIST_P256", KeyUsage="SIGN_VERIFY")
    private = ec.generate_private_key(ec.SECP256R1())
    der = private.private_bytes(serialization.Encoding.DER, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption())
    params = _params(kms, meta["KeyId"], algorithm="RSA_AES_KEY_WRAP_SHA_256", spec="RSA_3072")
    aes_key = os.urandom(32)
    public = serialization.load_der_public_key(params["PublicKey"])
    blob = public.encrypt(aes_key, _oaep_256()) + aes_key_wrap_with_padding(aes_key, der)  # type: ignore[union-attr]
    out = kms.import_key_material(KeyId=meta["KeyId"], ImportToken=params["ImportToken"], EncryptedKeyMaterial=blob,
                                  ExpirationModel="KEY_MATERIAL_DOES_NOT_EXPIRE")
    assert "KeyMaterialId" not in out  # material ids are for symmetric keys
    assert kms.get_public_key(KeyId=meta["KeyId"])["PublicKey"] == private.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    signature = kms.sign(KeyId=meta["KeyId"], Message=b"m", SigningAlgorithm="ECDSA_SHA_256")["Signature"]
    private.public_key().verify(signature, b"m", ec.ECDSA(hashes.SHA256()))


def test_token_and_wrapping_errors(kms: Any) -> None:
    key_id = _external_key(kms)["KeyId"]
    other = _external_key(kms)["KeyId"]
    params = _params(kms, key_id)
    wrapped = _wrap(params, os.urandom(32))
    args = {"EncryptedKeyMaterial": wrapped, "ExpirationModel": "KEY_MATERIAL_DOES_NOT_EXPIRE"}
    # A token is bound to the key it was made for.
    assert aws_error(lambda: kms.import_key_material(KeyId=other, ImportToken=params["ImportToken"], **args))[0] == (
        "InvalidImportTokenException")
    assert aws_error(lambda: kms.import_key_material(KeyId=key_id, ImportToken=b"nonsense", **args))[0] == (
        "InvalidImportTokenException")
    # Material wrapped for another wrapping key does not open.
    wrong = _params(kms, other)
    assert aws_error(lambda: kms.import_key_material(KeyId=key_id, ImportToken=params["ImportToken"],
                                                     EncryptedKeyMaterial=_wrap(wrong, os.urandom(32)),
                                                     ExpirationModel="KEY_MATERIAL_DOES_NOT_EXPIRE"))[0] == (
        "InvalidCiphertextException")
    # A symmetric key takes 256-bit material only.
    assert aws_error(lambda: kms.import_key_material(KeyId=key_id, ImportToken=params["ImportToken"],
                                                     EncryptedKeyMaterial=_wrap(params, os.urandom(16)),
                                                     ExpirationModel="KEY_MATERIAL_DOES_NOT_EXPIRE"))[0] == (
        "IncorrectKeyMaterialException")
    assert kms.describe_key(KeyId=key_id)["KeyMetadata"]["KeyState"] == "PendingImport"


def test_rotation_rules_for_external_keys(kms: Any) -> None:
    meta = _external_key(kms)
    key_id, arn = meta["KeyId"], meta["Arn"]
    # Recorded: no material yet -> the key is pending import.
    assert aws_error(lambda: kms.rotate_key_on_demand(KeyId=key_id)) == (
        "KMSInvalidStateException", f"{arn} is pending import.", 400)
    first = _import(kms, key_id, os.urandom(32))["KeyMaterialId"]
    # Recorded: material but none pending rotation.
    assert aws_error(lambda: kms.rotate_key_on_demand(KeyId=key_id)) == (
        "KMSInvalidStateException", f"No available key material pending rotation for the key: {arn}.", 400)
    assert aws_error(lambda: kms.enable_key_rotation(KeyId=key_id)) == (
        "UnsupportedOperationException", f"{arn} origin is EXTERNAL which is not valid for this operation.", 400)

    old = kms.encrypt(KeyId=key_id, Plaintext=b"before")["CiphertextBlob"]
    second = _import(kms, key_id, os.urandom(32), ImportType="NEW_KEY_MATERIAL")["KeyMaterialId"]
    assert second != first
    assert kms.describe_key(KeyId=key_id)["KeyMetadata"]["CurrentKeyMaterialId"] == first
    # Recorded: a third material while the second is still pending rotation.
    params = _params(kms, key_id)
    third = os.urandom(32)
    code, message, status = aws_error(lambda: kms.import_key_material(
        KeyId=key_id, ImportToken=params["ImportToken"], EncryptedKeyMaterial=_wrap(params, third),
        ExpirationModel="KEY_MATERIAL_DOES_NOT_EXPIRE", ImportType="NEW_KEY_MATERIAL"))
    assert (code, status) == ("KMSInvalidStateException", 400)
    assert message.startswith("New key material (id: ") and message.endswith(
        f") cannot be imported into KMS key {key_id}, because another key material (id: {second}) is pending "
        "rotation.")

    kms.rotate_key_on_demand(KeyId=key_id)
    assert kms.describe_key(KeyId=key_id)["KeyMetadata"]["CurrentKeyMaterialId"] == second
    new = kms.encrypt(KeyId=key_id, Plaintext=b"after")["CiphertextBlob"]
    assert kms.decrypt(CiphertextBlob=old)["Plaintext"] == b"before"
    assert kms.decrypt(CiphertextBlob=new)["Plaintext"] == b"after"
    rows = kms.list_key_rotations(KeyId=key_id, IncludeKeyMaterial="ALL_KEY_MATERIAL")["Rotations"]
    assert [(r["KeyMaterialId"], r["KeyMaterialState"]) for r in rows] == [(first, "NON_CURRENT"), (second, "CURRENT")]


def test_pending_import_key_cannot_be_enabled(kms: Any) -> None:
    meta = _external_key(kms)
    for call in (kms.enable_key, kms.disable_key):
        assert aws_error(lambda: call(KeyId=meta["KeyId"])) == (
            "KMSInvalidStateException", f"{meta['Arn']} is pending import.", 400)


def test_import_with_the_cli(admin: AwsEnv, tmp_path) -> None:
    key_id = admin.aws_json("kms", "create-key", "--origin", "EXTERNAL")["KeyMetadata"]["KeyId"]
    params = admin.aws_json("kms", "get-parameters-for-import", "--key-id", key_id,
                            "--wrapping-algorithm", "RSAES_OAEP_SHA_1", "--wrapping-key-spec", "RSA_2048")
    public = serialization.load_der_public_key(base64.b64decode(params["PublicKey"]))
    sha1 = padding.OAEP(mgf=padding.MGF1(hashes.SHA1()), algorithm=hashes.SHA1(), label=None)
    (tmp_path / "material.bin").write_bytes(public.encrypt(os.urandom(32), sha1))  # type: ignore[union-attr]
    (tmp_path / "token.bin").write_bytes(base64.b64decode(params["ImportToken"]))
    expires = (datetime.now(timezone.utc) + timedelta(days=30)).replace(microsecond=0)
    valid_to = expires.strftime("%Y-%m-%dT%H:%M:%SZ")
    out = admin.aws_json("kms", "import-key-material", "--key-id", key_id,
                         "--encrypted-key-material", f"fileb://{tmp_path / 'material.bin'}",
                         "--import-token", f"fileb://{tmp_path / 'token.bin'}",
                         "--expiration-model", "KEY_MATERIAL_EXPIRES", "--valid-to", valid_to)
    assert out["KeyId"].endswith(key_id) and len(out["KeyMaterialId"]) == 64
    meta = admin.aws_json("kms", "describe-key", "--key-id", key_id)["KeyMetadata"]
    assert (meta["KeyState"], meta["ExpirationModel"]) == ("Enabled", "KEY_MATERIAL_EXPIRES")
    assert meta["ValidTo"] == expires.timestamp()  # the CLI prints the wire's epoch seconds


def test_material_expires_on_skyhold_clock(tmp_path) -> None:
    with own_server(tmp_path) as (srv, admin):
        kms = admin.client("kms")
        key_id = _external_key(kms)["KeyId"]
        material = os.urandom(32)
        params = _params(kms, key_id)
        kms.import_key_material(KeyId=key_id, ImportToken=params["ImportToken"],
                                EncryptedKeyMaterial=_wrap(params, material), ExpirationModel="KEY_MATERIAL_EXPIRES",
                                ValidTo=datetime.now(timezone.utc) + timedelta(days=1))
        blob = kms.encrypt(KeyId=key_id, Plaintext=b"short-lived")["CiphertextBlob"]
        unused = _params(kms, key_id)
        assert srv.cli("clock", "advance", "2d", "--endpoint", srv.endpoint).returncode == 0
        assert kms.describe_key(KeyId=key_id)["KeyMetadata"]["KeyState"] == "PendingImport"
        assert aws_error(lambda: kms.decrypt(CiphertextBlob=blob))[0] == "KMSInvalidStateException"
        # The import token was valid for 24 hours only.
        assert aws_error(lambda: kms.import_key_material(
            KeyId=key_id, ImportToken=unused["ImportToken"], EncryptedKeyMaterial=_wrap(unused, material),
            ExpirationModel="KEY_MATERIAL_DOES_NOT_EXPIRE"))[0] == "ExpiredImportTokenException"
        _import(kms, key_id, material)
        assert kms.decrypt(CiphertextBlob=blob)["Plaintext"] == b"short-lived"


def test_import_actions_are_authorized_on_the_key(admin: AwsEnv, kms: Any) -> None:
    key_id = _external_key(kms)["KeyId"]
    user = admin.new_user({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": "kms:GetParametersForImport", "Resource": "*"}]})
    theirs = admin.client_for(user, "kms")
    assert _params(theirs, key_id)["ImportToken"]
    params = _params(kms, key_id)
    code, _, status = aws_error(lambda: theirs.import_key_material(  # type: ignore[attr-defined]
        KeyId=key_id, ImportToken=params["ImportToken"], EncryptedKeyMaterial=_wrap(params, os.urandom(32)),
        ExpirationModel="KEY_MATERIAL_DOES_NOT_EXPIRE"))
    assert (code, status) == ("AccessDeniedException", 400)
    assert aws_error(lambda: theirs.delete_imported_key_material(KeyId=key_id))[0] == (  # type: ignore[attr-defined]
        "AccessDeniedException")



def test_deleting_material_pending_rotation_leaves_the_key_usable(admin: AwsEnv, kms: Any) -> None:
    """Material pending rotation is not yet the key's own: deleting it leaves the key
    Enabled (only deleting permanently associated material makes it PendingImport), and
    other material may be imported in its place."""
    key_id = _external_key(kms)["KeyId"]
    _import(kms, key_id, os.urandom(32))
    pending = _import(kms, key_id, os.urandom(32), ImportType="NEW_KEY_MATERIAL")["KeyMaterialId"]
    ssm: Any = admin.client("ssm")
    name = f"/byok/{key_id}"
    ssm.put_parameter(Name=name, Value="kept", Type="SecureString", KeyId=key_id)
    out = kms.delete_imported_key_material(KeyId=key_id, KeyMaterialId=pending)
    assert out["KeyMaterialId"] == pending
    assert kms.describe_key(KeyId=key_id)["KeyMetadata"]["KeyState"] == "Enabled"
    assert ssm.get_parameter(Name=name, WithDecryption=True)["Parameter"]["Value"] == "kept"
    states = [r["KeyMaterialState"] for r in kms.list_key_rotations(
        KeyId=key_id, IncludeKeyMaterial="ALL_KEY_MATERIAL")["Rotations"]]
    assert states == ["CURRENT"]
    replacement = _import(kms, key_id, os.urandom(32), ImportType="NEW_KEY_MATERIAL")["KeyMaterialId"]
    assert replacement != pending
