"""Imported key material: the pure unwrap and material checks, and that the wrapping
private key and the imported material are never kept in the clear."""

from __future__ import annotations

import base64
import hashlib
import hmac
import os

import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.keywrap import aes_key_wrap_with_padding

from skyhold.services.kms import imports, keyspecs
from tests.unit.kms.harness import Harness, stored_bytes


@pytest.fixture(scope="module")
def wrapping() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def _oaep(h: hashes.HashAlgorithm) -> padding.OAEP:
    return padding.OAEP(mgf=padding.MGF1(h), algorithm=h, label=None)


@pytest.mark.parametrize(("algorithm", "digest"), [("RSAES_OAEP_SHA_1", hashes.SHA1()),
                                                   ("RSAES_OAEP_SHA_256", hashes.SHA256())])
def test_oaep_unwrap(wrapping: rsa.RSAPrivateKey, algorithm: str, digest: hashes.HashAlgorithm) -> None:
    material = os.urandom(32)
    blob = wrapping.public_key().encrypt(material, _oaep(digest))
    assert imports.unwrap(wrapping, algorithm, blob) == material
    other = "RSAES_OAEP_SHA_256" if algorithm.endswith("SHA_1") else "RSAES_OAEP_SHA_1"
    with pytest.raises(imports.UnwrapError):  # the hash is part of the padding
        imports.unwrap(wrapping, other, blob)


@pytest.mark.parametrize(("algorithm", "digest"), [("RSA_AES_KEY_WRAP_SHA_1", hashes.SHA1()),
                                                   ("RSA_AES_KEY_WRAP_SHA_256", hashes.SHA256())])
def test_rsa_aes_key_wrap_unwrap(wrapping: rsa.RSAPrivateKey, algorithm: str, digest: hashes.HashAlgorithm) -> None:
    # RSA private keys are too large for OAEP: they travel under AES key wrap with padding.
    material = rsa.generate_private_key(public_exponent=65537, key_size=2048).private_bytes(
        serialization.Encoding.DER, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    aes_key = os.urandom(32)
    blob = wrapping.public_key().encrypt(aes_key, _oaep(digest)) + aes_key_wrap_with_padding(aes_key, material)
    assert imports.unwrap(wrapping, algorithm, blob) == material
    with pytest.raises(imports.UnwrapError):  # a corrupted wrapped body
        imports.unwrap(wrapping, algorithm, blob[:-1] + bytes([blob[-1] ^ 1]))
    with pytest.raises(imports.UnwrapError):  # only the wrapped AES key
        imports.unwrap(wrapping, algorithm, blob[:256])


def test_unwrap_refuses_garbage_and_unknown_algorithms(wrapping: rsa.RSAPrivateKey) -> None:
    with pytest.raises(imports.UnwrapError):
        imports.unwrap(wrapping, "RSAES_OAEP_SHA_256", os.urandom(256))
    with pytest.raises(imports.UnwrapError):
        imports.unwrap(wrapping, "RSAES_PKCS1_V1_5", os.urandom(256))


def test_material_must_fit_the_key_spec() -> None:
    specs = keyspecs.SPECS
    assert imports.material_for(specs["SYMMETRIC_DEFAULT"], b"k" * 32) == b"k" * 32
    assert imports.material_for(specs["SYMMETRIC_DEFAULT"], b"k" * 16) is None
    assert imports.material_for(specs["HMAC_256"], b"k" * 64) == b"k" * 64
    assert imports.material_for(specs["HMAC_256"], b"k" * 31) is None
    assert imports.material_for(specs["HMAC_512"], b"k" * 129) is None
    p256 = ec.generate_private_key(ec.SECP256R1()).private_bytes(
        serialization.Encoding.DER, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    assert imports.material_for(specs["ECC_NIST_P256"], p256) == p256
    assert imports.material_for(specs["ECC_NIST_P384"], p256) is None
    assert imports.material_for(specs["RSA_2048"], p256) is None
    assert imports.material_for(specs["ECC_NIST_P256"], b"not DER") is None


def test_material_id_is_per_key_and_material() -> None:
    a = imports.derive_material_id("key-a", b"m" * 32)
    assert len(a) == 64 and int(a, 16) >= 0
    assert a == imports.derive_material_id("key-a", b"m" * 32)
    assert a != imports.derive_material_id("key-b", b"m" * 32)
    assert a != imports.derive_material_id("key-a", b"n" * 32)
    # Not a MAC under the material: for an imported HMAC key, GenerateMac(key id) would
    # otherwise be readable from ListKeyRotations by anyone allowed to list.
    assert a != hmac.new(b"m" * 32, b"key-a", hashlib.sha256).hexdigest()


def test_wrapping_key_and_material_are_kept_sealed(tmp_path) -> None:
    h = Harness(tmp_path / "data")
    try:
        key_id = h.run("kms", "CreateKey", Origin="EXTERNAL")["KeyMetadata"]["KeyId"]
        params = h.run("kms", "GetParametersForImport", KeyId=key_id, WrappingAlgorithm="RSAES_OAEP_SHA_256",
                       WrappingKeySpec="RSA_2048")
        public = serialization.load_der_public_key(params["PublicKey"])
        material = os.urandom(32)
        h.run("kms", "ImportKeyMaterial", KeyId=key_id, ImportToken=params["ImportToken"],
              EncryptedKeyMaterial=public.encrypt(material, _oaep(hashes.SHA256())),  # type: ignore[union-attr]
              ExpirationModel="KEY_MATERIAL_DOES_NOT_EXPIRE")
        disk = stored_bytes(h.data_dir)
        assert material not in disk
        [rec] = list(h.store.scan(imports.IMPORT, f"{key_id}/"))
        sealed = base64.b64decode(rec.value["WrappingKey"])
        with pytest.raises(ValueError):  # the wrapping private key is stored only sealed
            serialization.load_der_private_key(sealed, password=None)
        assert public.public_bytes(serialization.Encoding.DER,  # type: ignore[union-attr]
                                   serialization.PublicFormat.SubjectPublicKeyInfo) not in sealed
    finally:
        h.close()


def test_a_private_key_of_an_algorithm_kms_lacks_does_not_fit() -> None:
    """PKCS#8 naming an unknown algorithm (OID 1.2.3.4): refused as not fitting the spec
    (IncorrectKeyMaterialException), not an exception that would be a 500."""
    unknown = bytes.fromhex("300d020100300506032a0304040100")
    assert imports.material_for(keyspecs.SPECS["ECC_NIST_P256"], unknown) is None


def test_services_encrypt_under_the_current_material_not_a_pending_one(tmp_path) -> None:
    """SSM, Secrets Manager and S3 encrypt through KMS on the caller's behalf: with new
    material imported but not yet rotated in, they use the current material (slot 0)."""
    from skyhold.services.kms import ciphertext, on_behalf

    h = Harness(tmp_path / "data")
    try:
        key_id = h.run("kms", "CreateKey", Origin="EXTERNAL")["KeyMetadata"]["KeyId"]
        for extra in ({}, {"ImportType": "NEW_KEY_MATERIAL"}):
            params = h.run("kms", "GetParametersForImport", KeyId=key_id, WrappingAlgorithm="RSAES_OAEP_SHA_256",
                           WrappingKeySpec="RSA_2048")
            public = serialization.load_der_public_key(params["PublicKey"])
            h.run("kms", "ImportKeyMaterial", KeyId=key_id, ImportToken=params["ImportToken"],
                  EncryptedKeyMaterial=public.encrypt(os.urandom(32), _oaep(hashes.SHA256())),  # type: ignore[union-attr]
                  ExpirationModel="KEY_MATERIAL_DOES_NOT_EXPIRE", **extra)
        call = h.call("ssm", "PutParameter", h.admin)
        blob, _ = on_behalf.encrypt(call, key_id, b"x", {}, "ssm.amazonaws.com")
        assert ciphertext.key_of(blob) == (key_id, 0)
    finally:
        h.close()
