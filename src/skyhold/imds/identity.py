"""Signing instance identity documents, so a program can prove which instance it runs
on, as AWS signs them.

One RSA-2048 key per data dir, kept sealed with the root key, with a self-signed
certificate. `skyhold instance identity-key` prints the public key and
`skyhold instance identity-key --certificate` the certificate — Skyhold's counterpart
of the regional certificates AWS publishes. Three forms, as IMDS serves them:
`signature` (base64 RSA PKCS#1 v1.5 SHA-256 over the document's exact bytes) and
`pkcs7` / `rsa2048` (base64 DER PKCS#7 signed data with the document detached, which
`openssl smime -verify -content document -certfile cert` checks). AWS signs `pkcs7`
with DSA; Skyhold uses the one RSA key for all three.
"""

from __future__ import annotations

import base64
import datetime
import textwrap
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.hazmat.primitives.serialization import pkcs7
from cryptography.x509.oid import NameOID

from skyhold.crypto import root
from skyhold.store.base import ConflictError, Store

KEY = "ec2.identity-key"
_AAD = b"ec2-identity-key"
_loaded: dict[Path, tuple[rsa.RSAPrivateKey, x509.Certificate]] = {}


def _create(data_dir: Path) -> dict[str, str]:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Skyhold"),
                      x509.NameAttribute(NameOID.COMMON_NAME, "Skyhold EC2 instance identity")])
    start = datetime.datetime(2020, 1, 1, tzinfo=datetime.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(start)
            .not_valid_after(start + datetime.timedelta(days=365 * 30)).sign(key, hashes.SHA256()))
    der = key.private_bytes(serialization.Encoding.DER, serialization.PrivateFormat.PKCS8,
                            serialization.NoEncryption())
    return {"Sealed": base64.b64encode(root.seal(data_dir, der, _AAD)).decode(),
            "Certificate": cert.public_bytes(serialization.Encoding.PEM).decode()}


def _keys(store: Store, data_dir: Path) -> tuple[rsa.RSAPrivateKey, x509.Certificate]:
    data_dir = Path(data_dir)
    if data_dir in _loaded:
        return _loaded[data_dir]
    rec = store.get(KEY, "default")
    if rec is None or "Certificate" not in rec.value:
        try:
            store.put(KEY, "default", _create(data_dir), expect_version=rec.version if rec else 0)
        except ConflictError:  # another process made it first
            pass
        rec = store.get(KEY, "default")
        assert rec is not None
    key = serialization.load_der_private_key(root.unseal(data_dir, base64.b64decode(rec.value["Sealed"]), _AAD),
                                             password=None)
    assert isinstance(key, rsa.RSAPrivateKey)
    cert = x509.load_pem_x509_certificate(rec.value["Certificate"].encode())
    _loaded[data_dir] = (key, cert)
    return key, cert


def sign(store: Store, data_dir: Path, document: bytes) -> str:
    """Base64 RSA (PKCS#1 v1.5, SHA-256) signature of the document's exact bytes."""
    key, _ = _keys(store, data_dir)
    return base64.b64encode(key.sign(document, padding.PKCS1v15(), hashes.SHA256())).decode()


def pkcs7_signature(store: Store, data_dir: Path, document: bytes) -> str:
    """Detached PKCS#7 signed data over the document: base64 in 64-character lines,
    without PEM armour, as IMDS serves /pkcs7 and /rsa2048."""
    key, cert = _keys(store, data_dir)
    der = (pkcs7.PKCS7SignatureBuilder().set_data(document).add_signer(cert, key, hashes.SHA256())
           .sign(serialization.Encoding.DER, [pkcs7.PKCS7Options.DetachedSignature]))
    return "\n".join(textwrap.wrap(base64.b64encode(der).decode(), 64))


def public_pem(store: Store, data_dir: Path) -> str:
    key, _ = _keys(store, data_dir)
    return key.public_key().public_bytes(serialization.Encoding.PEM,
                                         serialization.PublicFormat.SubjectPublicKeyInfo).decode()


def certificate_pem(store: Store, data_dir: Path) -> str:
    return _keys(store, data_dir)[1].public_bytes(serialization.Encoding.PEM).decode()
