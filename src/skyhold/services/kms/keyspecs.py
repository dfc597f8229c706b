"""What each KMS key spec is: its usages, algorithms, and how its material is made.

Material is bytes: 32 random bytes for SYMMETRIC_DEFAULT, the HMAC key for HMAC_*,
the PKCS#8 DER private key for RSA and ECC keys.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from functools import lru_cache

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from skyhold.constraints import enum_problem
from skyhold.errors import AwsError, validation_failed
from skyhold.services.kms import validation

_RSA_SIGN = ("RSASSA_PSS_SHA_256", "RSASSA_PSS_SHA_384", "RSASSA_PSS_SHA_512",
             "RSASSA_PKCS1_V1_5_SHA_256", "RSASSA_PKCS1_V1_5_SHA_384", "RSASSA_PKCS1_V1_5_SHA_512")
_RSA_ENCRYPT = ("RSAES_OAEP_SHA_1", "RSAES_OAEP_SHA_256")
_ECDH = ("ECDH",)  # NIST curves only: KMS refuses KEY_AGREEMENT for ECC_SECG_P256K1


@dataclass(frozen=True)
class Spec:
    name: str
    usages: tuple[str, ...]
    encryption: tuple[str, ...] = ()
    signing: tuple[str, ...] = ()
    mac: tuple[str, ...] = ()
    agreement: tuple[str, ...] = ()
    rsa_bits: int = 0
    curve: type[ec.EllipticCurve] | None = None
    hmac_bytes: int = 0


SPECS = {
    s.name: s
    for s in (
        Spec("SYMMETRIC_DEFAULT", ("ENCRYPT_DECRYPT",), encryption=("SYMMETRIC_DEFAULT",)),
        Spec("RSA_2048", ("ENCRYPT_DECRYPT", "SIGN_VERIFY"), _RSA_ENCRYPT, _RSA_SIGN, rsa_bits=2048),
        Spec("RSA_3072", ("ENCRYPT_DECRYPT", "SIGN_VERIFY"), _RSA_ENCRYPT, _RSA_SIGN, rsa_bits=3072),
        Spec("RSA_4096", ("ENCRYPT_DECRYPT", "SIGN_VERIFY"), _RSA_ENCRYPT, _RSA_SIGN, rsa_bits=4096),
        Spec("ECC_NIST_P256", ("SIGN_VERIFY", "KEY_AGREEMENT"), signing=("ECDSA_SHA_256",), agreement=_ECDH,
             curve=ec.SECP256R1),
        Spec("ECC_NIST_P384", ("SIGN_VERIFY", "KEY_AGREEMENT"), signing=("ECDSA_SHA_384",), agreement=_ECDH,
             curve=ec.SECP384R1),
        Spec("ECC_NIST_P521", ("SIGN_VERIFY", "KEY_AGREEMENT"), signing=("ECDSA_SHA_512",), agreement=_ECDH,
             curve=ec.SECP521R1),
        Spec("ECC_SECG_P256K1", ("SIGN_VERIFY",), signing=("ECDSA_SHA_256",), curve=ec.SECP256K1),
        Spec("HMAC_224", ("GENERATE_VERIFY_MAC",), mac=("HMAC_SHA_224",), hmac_bytes=28),
        Spec("HMAC_256", ("GENERATE_VERIFY_MAC",), mac=("HMAC_SHA_256",), hmac_bytes=32),
        Spec("HMAC_384", ("GENERATE_VERIFY_MAC",), mac=("HMAC_SHA_384",), hmac_bytes=48),
        Spec("HMAC_512", ("GENERATE_VERIFY_MAC",), mac=("HMAC_SHA_512",), hmac_bytes=64),
    )
}


def spec_for(name: str, usage: str | None) -> tuple[Spec, str]:
    spec = SPECS.get(name)
    if spec is None:
        raise validation_failed([enum_problem("keySpec", name, validation.KEY_SPECS)])
    if usage is None and name != "SYMMETRIC_DEFAULT":
        raise AwsError("ValidationException", "You must specify a KeyUsage value for all KMS keys except for "
                       "symmetric encryption keys.", 400)
    usage = usage or spec.usages[0]
    if usage not in spec.usages:
        raise AwsError("ValidationException", f"KeyUsage {usage} is not compatible with KeySpec {name}", 400)
    return spec, usage


def new_material(spec: Spec) -> bytes:
    private: rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey
    if spec.rsa_bits:
        private = rsa.generate_private_key(public_exponent=65537, key_size=spec.rsa_bits)
    elif spec.curve is not None:
        private = ec.generate_private_key(spec.curve())
    else:
        return secrets.token_bytes(spec.hmac_bytes or 32)
    return private.private_bytes(serialization.Encoding.DER, serialization.PrivateFormat.PKCS8,
                                 serialization.NoEncryption())


@lru_cache(maxsize=256)
def private_key(material: bytes) -> rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey:
    """Parsed once per key version (loading checks an RSA key, which takes milliseconds)."""
    key = serialization.load_der_private_key(material, password=None)
    assert isinstance(key, (rsa.RSAPrivateKey, ec.EllipticCurvePrivateKey))
    return key


def public_der(material: bytes) -> bytes:
    return private_key(material).public_key().public_bytes(serialization.Encoding.DER,
                                                          serialization.PublicFormat.SubjectPublicKeyInfo)
