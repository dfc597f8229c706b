"""KMS cryptography: symmetric ciphertexts bound to their context, asymmetric keys
whose output any standard library accepts, HMACs, data keys and key pairs."""

from __future__ import annotations

import base64
import hashlib
import hmac as std_hmac
import os
import stat

import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa

from skyhold.crypto import root
from skyhold.services.kms import records
from tests.unit.kms.harness import Harness, stored_bytes


def _key(h: Harness, **params: object) -> dict:
    return h.run("kms", "CreateKey", **params)["KeyMetadata"]


def test_root_key_is_private_and_seals_with_associated_data(tmp_path) -> None:
    sealed = root.seal(tmp_path, b"material", b"record-1")
    mode = stat.S_IMODE(os.stat(tmp_path / root.ROOT_KEY_FILE).st_mode)
    assert mode == 0o600
    assert b"material" not in sealed
    assert root.unseal(tmp_path, sealed, b"record-1") == b"material"
    with pytest.raises(Exception):
        root.unseal(tmp_path, sealed, b"record-2")  # moved to another record: refused


def test_context_is_bound_and_blob_names_its_key(h: Harness) -> None:
    key = _key(h)
    blob = h.run("kms", "Encrypt", KeyId=key["KeyId"], Plaintext=b"pay",
                 EncryptionContext={"app": "billing"})["CiphertextBlob"]
    out = h.run("kms", "Decrypt", CiphertextBlob=blob, EncryptionContext={"app": "billing"})
    assert out["Plaintext"] == b"pay" and out["KeyId"] == key["Arn"]
    for wrong in ({"app": "payroll"}, {}, {"app": "billing", "extra": "x"}):
        h.fails("InvalidCiphertextException", "kms", "Decrypt", CiphertextBlob=blob, EncryptionContext=wrong)
    tampered = blob[:-1] + bytes([blob[-1] ^ 1])
    h.fails("InvalidCiphertextException", "kms", "Decrypt", CiphertextBlob=tampered,
            EncryptionContext={"app": "billing"})
    other = _key(h)
    err = h.fails("IncorrectKeyException", "kms", "Decrypt", KeyId=other["KeyId"], CiphertextBlob=blob,
                  EncryptionContext={"app": "billing"})
    assert "does not identify a CMK" in err.message


def test_plaintext_limit(h: Harness) -> None:
    key = _key(h)
    h.run("kms", "Encrypt", KeyId=key["KeyId"], Plaintext=b"x" * 4096)
    err = h.fails("ValidationException", "kms", "Encrypt", KeyId=key["KeyId"], Plaintext=b"x" * 4097)
    assert "4096" in err.message


def test_re_encrypt_moves_between_keys_and_contexts(h: Harness) -> None:
    a, b = _key(h), _key(h)
    blob = h.run("kms", "Encrypt", KeyId=a["KeyId"], Plaintext=b"m", EncryptionContext={"k": "1"})["CiphertextBlob"]
    out = h.run("kms", "ReEncrypt", CiphertextBlob=blob, SourceEncryptionContext={"k": "1"},
                DestinationKeyId=b["Arn"], DestinationEncryptionContext={"k": "2"})
    assert out["SourceKeyId"] == a["Arn"] and out["KeyId"] == b["Arn"]
    back = h.run("kms", "Decrypt", CiphertextBlob=out["CiphertextBlob"], EncryptionContext={"k": "2"})
    assert back["Plaintext"] == b"m" and back["KeyId"] == b["Arn"]


def test_data_keys(h: Harness) -> None:
    key = _key(h)
    dk = h.run("kms", "GenerateDataKey", KeyId=key["KeyId"], KeySpec="AES_128")
    assert len(dk["Plaintext"]) == 16
    assert h.run("kms", "Decrypt", CiphertextBlob=dk["CiphertextBlob"])["Plaintext"] == dk["Plaintext"]
    bare = h.run("kms", "GenerateDataKeyWithoutPlaintext", KeyId=key["KeyId"], NumberOfBytes=64)
    assert "Plaintext" not in bare
    assert len(h.run("kms", "Decrypt", CiphertextBlob=bare["CiphertextBlob"])["Plaintext"]) == 64
    h.fails("ValidationException", "kms", "GenerateDataKey", KeyId=key["KeyId"])
    random = h.run("kms", "GenerateRandom", NumberOfBytes=32)["Plaintext"]
    assert len(random) == 32 and random != h.run("kms", "GenerateRandom", NumberOfBytes=32)["Plaintext"]


@pytest.mark.parametrize("pair_spec", ["RSA_2048", "ECC_NIST_P256", "ECC_SECG_P256K1"])
def test_data_key_pair(h: Harness, pair_spec: str) -> None:
    key = _key(h)
    out = h.run("kms", "GenerateDataKeyPair", KeyId=key["KeyId"], KeyPairSpec=pair_spec,
                EncryptionContext={"use": "signing"})
    private = serialization.load_der_private_key(out["PrivateKeyPlaintext"], password=None)
    public_der = private.public_key().public_bytes(serialization.Encoding.DER,
                                                   serialization.PublicFormat.SubjectPublicKeyInfo)
    assert public_der == out["PublicKey"]
    opened = h.run("kms", "Decrypt", CiphertextBlob=out["PrivateKeyCiphertextBlob"],
                   EncryptionContext={"use": "signing"})["Plaintext"]
    assert opened == out["PrivateKeyPlaintext"]
    bare = h.run("kms", "GenerateDataKeyPairWithoutPlaintext", KeyId=key["KeyId"], KeyPairSpec=pair_spec)
    assert "PrivateKeyPlaintext" not in bare and bare["PublicKey"]


def _public(h: Harness, key_id: str):
    return serialization.load_der_public_key(h.run("kms", "GetPublicKey", KeyId=key_id)["PublicKey"])


_CURVE_HASH = {"ECC_NIST_P256": hashes.SHA256, "ECC_NIST_P384": hashes.SHA384, "ECC_NIST_P521": hashes.SHA512,
               "ECC_SECG_P256K1": hashes.SHA256}


@pytest.mark.parametrize("spec", list(_CURVE_HASH))
@pytest.mark.parametrize("message_type", ["RAW", "DIGEST"])
def test_ecdsa_signatures_verify_outside(h: Harness, spec: str, message_type: str) -> None:
    key = _key(h, KeySpec=spec, KeyUsage="SIGN_VERIFY")
    algorithm = key["SigningAlgorithms"][0]
    digest_cls = _CURVE_HASH[spec]
    message = b"release 1.0"
    digest = hashes.Hash(digest_cls())
    digest.update(message)
    sent = digest.finalize() if message_type == "DIGEST" else message
    sig = h.run("kms", "Sign", KeyId=key["KeyId"], Message=sent, MessageType=message_type,
                SigningAlgorithm=algorithm)["Signature"]
    public = _public(h, key["KeyId"])
    assert isinstance(public, ec.EllipticCurvePublicKey)
    public.verify(sig, message, ec.ECDSA(digest_cls()))  # raises when invalid
    assert h.run("kms", "Verify", KeyId=key["KeyId"], Message=sent, MessageType=message_type, Signature=sig,
                 SigningAlgorithm=algorithm)["SignatureValid"]
    h.fails("KMSInvalidSignatureException", "kms", "Verify", KeyId=key["KeyId"], Message=b"release 1.1",
            Signature=sig, SigningAlgorithm=algorithm)


@pytest.mark.parametrize("algorithm", ["RSASSA_PSS_SHA_256", "RSASSA_PSS_SHA_512", "RSASSA_PKCS1_V1_5_SHA_256",
                                       "RSASSA_PKCS1_V1_5_SHA_384"])
def test_rsa_signatures_verify_outside(h: Harness, algorithm: str) -> None:
    key = _rsa_signer(h)
    sig = h.run("kms", "Sign", KeyId=key, Message=b"m", SigningAlgorithm=algorithm)["Signature"]
    public = _public(h, key)
    assert isinstance(public, rsa.RSAPublicKey)
    digest_cls = {"256": hashes.SHA256, "384": hashes.SHA384, "512": hashes.SHA512}[algorithm[-3:]]
    pad = (padding.PSS(mgf=padding.MGF1(digest_cls()), salt_length=digest_cls.digest_size)
           if "PSS" in algorithm else padding.PKCS1v15())
    public.verify(sig, b"m", pad, digest_cls())


def _rsa_signer(h: Harness) -> str:
    return _key(h, KeySpec="RSA_2048", KeyUsage="SIGN_VERIFY")["KeyId"]


@pytest.mark.parametrize("algorithm", ["RSAES_OAEP_SHA_1", "RSAES_OAEP_SHA_256"])
def test_rsa_encryption_outside_decrypts_inside(h: Harness, algorithm: str) -> None:
    key = _key(h, KeySpec="RSA_2048", KeyUsage="ENCRYPT_DECRYPT")
    assert key["EncryptionAlgorithms"] == ["RSAES_OAEP_SHA_1", "RSAES_OAEP_SHA_256"]
    digest_cls = hashes.SHA1 if algorithm.endswith("SHA_1") else hashes.SHA256
    public = _public(h, key["KeyId"])
    outside = public.encrypt(b"sealed outside", padding.OAEP(mgf=padding.MGF1(digest_cls()), algorithm=digest_cls(),
                                                              label=None))
    out = h.run("kms", "Decrypt", KeyId=key["KeyId"], CiphertextBlob=outside, EncryptionAlgorithm=algorithm)
    assert out["Plaintext"] == b"sealed outside"
    inside = h.run("kms", "Encrypt", KeyId=key["KeyId"], Plaintext=b"in", EncryptionAlgorithm=algorithm)
    assert h.run("kms", "Decrypt", KeyId=key["KeyId"], CiphertextBlob=inside["CiphertextBlob"],
                 EncryptionAlgorithm=algorithm)["Plaintext"] == b"in"
    h.fails("InvalidKeyUsageException", "kms", "Encrypt", KeyId=key["KeyId"], Plaintext=b"x",
            EncryptionAlgorithm="SYMMETRIC_DEFAULT")


@pytest.mark.parametrize("spec,algorithm,name", [("HMAC_224", "HMAC_SHA_224", "sha224"),
                                                  ("HMAC_256", "HMAC_SHA_256", "sha256"),
                                                  ("HMAC_384", "HMAC_SHA_384", "sha384"),
                                                  ("HMAC_512", "HMAC_SHA_512", "sha512")])
def test_hmac_keys(h: Harness, spec: str, algorithm: str, name: str) -> None:
    key = _key(h, KeySpec=spec, KeyUsage="GENERATE_VERIFY_MAC")
    mac = h.run("kms", "GenerateMac", KeyId=key["KeyId"], Message=b"token", MacAlgorithm=algorithm)["Mac"]
    assert len(mac) == hashlib.new(name).digest_size
    # the MAC is a real HMAC under the key's (sealed) material
    key_rec, _ = records.find(h.call("kms", "GenerateMac", h.admin), key["KeyId"])
    material = records.material(h.call("kms", "GenerateMac", h.admin), key_rec, 0)
    assert mac == std_hmac.new(material, b"token", name).digest()
    assert h.run("kms", "VerifyMac", KeyId=key["KeyId"], Message=b"token", Mac=mac,
                 MacAlgorithm=algorithm)["MacValid"]
    h.fails("KMSInvalidMacException", "kms", "VerifyMac", KeyId=key["KeyId"], Message=b"tokeN", Mac=mac,
            MacAlgorithm=algorithm)
    h.fails("InvalidKeyUsageException", "kms", "Encrypt", KeyId=key["KeyId"], Plaintext=b"x")


def test_no_key_material_or_plaintext_at_rest(h: Harness) -> None:
    sym = _key(h)
    signer = _key(h, KeySpec="ECC_NIST_P256", KeyUsage="SIGN_VERIFY")
    dk = h.run("kms", "GenerateDataKey", KeyId=sym["KeyId"], NumberOfBytes=32)
    call = h.call("kms", "DescribeKey", h.admin)
    secrets = [dk["Plaintext"]]
    for key_id in (sym["KeyId"], signer["KeyId"]):
        rec, _ = records.find(call, key_id)
        secrets.append(records.material(call, rec, 0))
    private = serialization.load_der_private_key(secrets[-1], password=None)
    secrets.append(private.private_numbers().private_value.to_bytes(32, "big"))  # the raw ECC scalar
    on_disk = stored_bytes(h.data_dir)
    for secret in secrets:
        assert secret not in on_disk
        assert base64.b64encode(secret)[:24] not in on_disk
        assert secret.hex().encode() not in on_disk
