"""Asymmetric and HMAC operations: RSA encryption, RSA/ECDSA signatures, HMACs.

What comes out verifies (and encrypts) with any standard library outside Skyhold:
signatures are PKCS#1 v1.5 / PSS (salt = digest length, as KMS) and DER ECDSA;
GetPublicKey returns the DER SubjectPublicKeyInfo.
"""

from __future__ import annotations

import hashlib
import hmac
from typing import Any

from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa, utils

from skyhold.errors import AwsError
from skyhold.services.kms import keyspecs

_HASH: dict[str, type[hashes.HashAlgorithm]] = {
    "SHA_1": hashes.SHA1, "SHA_256": hashes.SHA256, "SHA_384": hashes.SHA384, "SHA_512": hashes.SHA512,
    "SHA_224": hashes.SHA224}


def _hash_of(algorithm: str) -> hashes.HashAlgorithm:
    return _HASH["SHA_" + algorithm.rsplit("_", 1)[-1]]()


def check_algorithm(key: dict[str, Any], algorithm: str, kind: str) -> None:
    spec = keyspecs.SPECS[key["KeySpec"]]
    allowed = {"encryption": spec.encryption, "signing": spec.signing, "mac": spec.mac}[kind]
    if algorithm not in allowed:
        raise AwsError("InvalidKeyUsageException", f"Algorithm {algorithm} is incompatible with key spec "
                       f"{key['KeySpec']}.", 400)


def rsa_encrypt(material: bytes, plaintext: bytes, algorithm: str) -> bytes:
    public = keyspecs.private_key(material).public_key()
    assert isinstance(public, rsa.RSAPublicKey)
    h = _hash_of(algorithm)
    # OAEP fits at most modulus - 2*hash - 2 bytes (RFC 8017 7.1.1); KMS states that bound.
    limit = public.key_size // 8 - 2 * h.digest_size - 2
    if len(plaintext) > limit:
        raise AwsError("ValidationException", f"Algorithm {algorithm} and key spec RSA_{public.key_size} cannot "
                       f"encrypt data larger than {limit} bytes.", 400)
    return public.encrypt(plaintext, padding.OAEP(mgf=padding.MGF1(h), algorithm=h, label=None))


def rsa_decrypt(material: bytes, blob: bytes, algorithm: str) -> bytes:
    private = keyspecs.private_key(material)
    assert isinstance(private, rsa.RSAPrivateKey)
    h = _hash_of(algorithm)
    try:
        return private.decrypt(blob, padding.OAEP(mgf=padding.MGF1(h), algorithm=h, label=None))
    except ValueError:
        raise AwsError("InvalidCiphertextException", "", 400) from None


def _digest(message: bytes, message_type: str, algorithm: str) -> bytes:
    h = _hash_of(algorithm)
    if message_type == "DIGEST":
        if len(message) != h.digest_size:
            raise AwsError("ValidationException", f"Digest is invalid length for algorithm {algorithm}.", 400)
        return message
    digest = hashes.Hash(h)
    digest.update(message)
    return digest.finalize()


def _rsa_padding(algorithm: str, h: hashes.HashAlgorithm) -> padding.AsymmetricPadding:
    if algorithm.startswith("RSASSA_PSS"):
        return padding.PSS(mgf=padding.MGF1(h), salt_length=h.digest_size)
    return padding.PKCS1v15()


def sign(material: bytes, message: bytes, message_type: str, algorithm: str) -> bytes:
    private = keyspecs.private_key(material)
    h = _hash_of(algorithm)
    digest = _digest(message, message_type, algorithm)
    if isinstance(private, rsa.RSAPrivateKey):
        return private.sign(digest, _rsa_padding(algorithm, h), utils.Prehashed(h))
    return private.sign(digest, ec.ECDSA(utils.Prehashed(h)))


def verify(material: bytes, message: bytes, message_type: str, algorithm: str, signature: bytes) -> bool:
    public = keyspecs.private_key(material).public_key()
    h = _hash_of(algorithm)
    digest = _digest(message, message_type, algorithm)
    try:
        if isinstance(public, rsa.RSAPublicKey):
            public.verify(signature, digest, _rsa_padding(algorithm, h), utils.Prehashed(h))
        else:
            public.verify(signature, digest, ec.ECDSA(utils.Prehashed(h)))
    except InvalidSignature:
        return False
    return True


def mac(material: bytes, message: bytes, algorithm: str) -> bytes:
    name = "sha" + algorithm.rsplit("_", 1)[-1]
    return hmac.new(material, message, getattr(hashlib, name)).digest()


def ecdh(material: bytes, peer_der: bytes) -> bytes:
    """The raw ECDH shared secret; a peer key that is not a DER public key on the KMS
    key's curve is refused as KMS refuses it (ValidationException, no message)."""
    private = keyspecs.private_key(material)
    assert isinstance(private, ec.EllipticCurvePrivateKey)
    try:
        peer = serialization.load_der_public_key(peer_der)
    except (ValueError, TypeError, UnsupportedAlgorithm):
        raise AwsError("ValidationException", "", 400) from None
    if not isinstance(peer, ec.EllipticCurvePublicKey) or peer.curve.name != private.curve.name:
        raise AwsError("ValidationException", "", 400)
    return private.exchange(ec.ECDH(), peer)
