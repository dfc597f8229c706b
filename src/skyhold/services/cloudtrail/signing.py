"""The per-region RSA key that signs digest files, and ListPublicKeys' view of it.

The private key is kept sealed with the data dir's root key (kind
`cloudtrail.signing-key`, key = region). Digests are signed SHA256withRSA over the
string AWS documents (digestEndTime, bucket/object, SHA-256 of the inflated digest,
previous signature), which `aws cloudtrail validate-logs` recomputes.
"""

from __future__ import annotations

import base64
import hashlib
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from skyhold import clock
from skyhold.crypto import root

if TYPE_CHECKING:
    from skyhold.pipeline import Pipeline

KEY = "cloudtrail.signing-key"
VALIDITY = timedelta(days=3650)


def _aad(region: str) -> bytes:
    return f"cloudtrail-signing-key/{region}".encode()


def _load(pipeline: Pipeline, region: str) -> tuple[rsa.RSAPrivateKey, dict[str, Any]]:
    rec = pipeline.trail_store.get(KEY, region)
    if rec is None:
        fresh = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        der = fresh.private_bytes(serialization.Encoding.DER, serialization.PrivateFormat.PKCS8,
                                  serialization.NoEncryption())
        # Valid from the start of Skyhold's day, so a key made now already covers a
        # validation that starts earlier today.
        start = clock.now().replace(hour=0, minute=0, second=0, microsecond=0)
        value = {"Sealed": base64.b64encode(root.seal(pipeline.data_dir, der, _aad(region))).decode(),
                 "ValidityStartTime": clock.iso8601(start - timedelta(days=1))}
        pipeline.trail_store.put(KEY, region, value)
        rec = pipeline.trail_store.get(KEY, region)
        assert rec is not None
    der = root.unseal(pipeline.data_dir, base64.b64decode(rec.value["Sealed"]), _aad(region))
    private = serialization.load_der_private_key(der, password=None)
    assert isinstance(private, rsa.RSAPrivateKey)
    return private, rec.value


def _public_pkcs1(private: rsa.RSAPrivateKey) -> bytes:
    return private.public_key().public_bytes(serialization.Encoding.DER, serialization.PublicFormat.PKCS1)


def fingerprint(pipeline: Pipeline, region: str) -> str:
    private, _ = _load(pipeline, region)
    return hashlib.md5(_public_pkcs1(private)).hexdigest()


def sign(pipeline: Pipeline, region: str, text: str) -> str:
    private, _ = _load(pipeline, region)
    return private.sign(text.encode(), padding.PKCS1v15(), hashes.SHA256()).hex()


def public_keys(pipeline: Pipeline, region: str, start: datetime | None, end: datetime | None) -> list[dict[str, Any]]:
    private, meta = _load(pipeline, region)
    valid_from = datetime.fromisoformat(meta["ValidityStartTime"].replace("Z", "+00:00"))
    valid_to = valid_from + VALIDITY
    if (end is not None and end < valid_from) or (start is not None and start > valid_to):
        return []
    der = _public_pkcs1(private)
    # Value is the PKCS#1 DER key (a blob: base64 on the wire, which validate-logs decodes).
    return [{"Value": der, "ValidityStartTime": valid_from, "ValidityEndTime": valid_to,
             "Fingerprint": hashlib.md5(der).hexdigest()}]
