"""Signing instance identity documents, so a program can prove which instance it runs
on. The RSA key (one per data dir) is kept sealed with the root key; its public half
is what `skyhold instance identity-key` prints, as AWS publishes its certificate."""

from __future__ import annotations

import base64
from typing import TYPE_CHECKING

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from skyhold.crypto import root
from skyhold.store.base import Store

if TYPE_CHECKING:
    from pathlib import Path

KEY = "ec2.identity-key"
_AAD = b"ec2-identity-key"


def _private(store: Store, data_dir: Path) -> rsa.RSAPrivateKey:
    rec = store.get(KEY, "default")
    if rec is None:
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        der = key.private_bytes(serialization.Encoding.DER, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption())
        store.put(KEY, "default", {"Sealed": base64.b64encode(root.seal(data_dir, der, _AAD)).decode()})
        rec = store.get(KEY, "default")
        assert rec is not None
    der = root.unseal(data_dir, base64.b64decode(rec.value["Sealed"]), _AAD)
    key = serialization.load_der_private_key(der, password=None)
    assert isinstance(key, rsa.RSAPrivateKey)
    return key


def sign(store: Store, data_dir: Path, document: bytes) -> str:
    """Base64 RSA (PKCS#1 v1.5, SHA-256) signature of the document's exact bytes."""
    signature = _private(store, data_dir).sign(document, padding.PKCS1v15(), hashes.SHA256())
    return base64.b64encode(signature).decode()


def public_pem(store: Store, data_dir: Path) -> str:
    return _private(store, data_dir).public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo).decode()
