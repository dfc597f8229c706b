"""Key pairs: CreateKeyPair returns a real private key (shown once; only the public
key and its fingerprint are kept), ImportKeyPair, DescribeKeyPairs, DeleteKeyPair."""

from __future__ import annotations

import base64
import hashlib
from typing import TYPE_CHECKING, Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519, rsa

from skyhold import clock
from skyhold.errors import AwsError
from skyhold.services.ec2 import records as r

if TYPE_CHECKING:
    from skyhold.pipeline import Call


def _key(call: Call, name: str) -> str:
    return f"{call.principal.account}/{call.region}/{name}"


def create_key_pair(call: Call, params: dict[str, Any]) -> dict[str, Any]:
    name = params["KeyName"]
    if call.store.get(r.KEY_PAIR, _key(call, name)):
        raise AwsError("InvalidKeyPair.Duplicate", f"The keypair {name} already exists")
    kind = params.get("KeyType") or "rsa"
    if kind == "ed25519":
        private = ed25519.Ed25519PrivateKey.generate()
        material = private.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.OpenSSH,
                                         serialization.NoEncryption()).decode()
        raw = private.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
        fingerprint = base64.b64encode(hashlib.sha256(raw).digest()).decode().rstrip("=")
    else:
        private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        fmt = serialization.PrivateFormat.TraditionalOpenSSL
        material = private.private_bytes(serialization.Encoding.PEM, fmt, serialization.NoEncryption()).decode()
        # AWS's fingerprint of a key it made: SHA-1 of the PKCS#8 DER private key.
        der = private.private_bytes(serialization.Encoding.DER, serialization.PrivateFormat.PKCS8,
                                    serialization.NoEncryption())
        fingerprint = ":".join(f"{b:02x}" for b in hashlib.sha1(der).digest())
    public = private.public_key().public_bytes(serialization.Encoding.OpenSSH,
                                               serialization.PublicFormat.OpenSSH).decode()
    pair = {"KeyName": name, "KeyPairId": r.new_id("key"), "KeyFingerprint": fingerprint, "KeyType": kind,
            "PublicKey": public, "CreateTime": clock.iso8601(clock.now())}
    call.store.put(r.KEY_PAIR, _key(call, name), pair, expect_version=0)
    return {"KeyName": name, "KeyFingerprint": fingerprint, "KeyMaterial": material, "KeyPairId": pair["KeyPairId"]}


def import_key_pair(call: Call, params: dict[str, Any]) -> dict[str, Any]:
    name = params["KeyName"]
    if call.store.get(r.KEY_PAIR, _key(call, name)):
        raise AwsError("InvalidKeyPair.Duplicate", f"The keypair {name} already exists")
    try:
        public = serialization.load_ssh_public_key(params["PublicKeyMaterial"])
    except ValueError:
        raise AwsError("InvalidKey.Format", "Key is not in valid OpenSSH public key format") from None
    der = public.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    fingerprint = ":".join(f"{b:02x}" for b in hashlib.md5(der).digest())
    pair = {"KeyName": name, "KeyPairId": r.new_id("key"), "KeyFingerprint": fingerprint,
            "KeyType": "ed25519" if isinstance(public, ed25519.Ed25519PublicKey) else "rsa",
            "PublicKey": params["PublicKeyMaterial"].decode(), "CreateTime": clock.iso8601(clock.now())}
    call.store.put(r.KEY_PAIR, _key(call, name), pair, expect_version=0)
    return {"KeyName": name, "KeyFingerprint": fingerprint, "KeyPairId": pair["KeyPairId"]}


def describe_key_pairs(call: Call, params: dict[str, Any]) -> dict[str, Any]:
    pairs = [rec.value for rec in call.store.scan(r.KEY_PAIR, f"{call.principal.account}/{call.region}/")]
    if params.get("KeyNames"):
        missing = [n for n in params["KeyNames"] if n not in {p["KeyName"] for p in pairs}]
        if missing:
            raise AwsError("InvalidKeyPair.NotFound", f"The key pair '{missing[0]}' does not exist")
        pairs = [p for p in pairs if p["KeyName"] in params["KeyNames"]]
    return {"KeyPairs": [{k: (v if k != "CreateTime" else _dt(v)) for k, v in p.items()
                          if k != "PublicKey" or params.get("IncludePublicKey")} for p in pairs]}


def _dt(text: str) -> Any:
    from datetime import datetime

    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def delete_key_pair(call: Call, params: dict[str, Any]) -> dict[str, Any]:
    if params.get("KeyName"):
        call.store.delete(r.KEY_PAIR, _key(call, params["KeyName"]))
    return {"Return": True}


HANDLERS = {
    "CreateKeyPair": create_key_pair,
    "ImportKeyPair": import_key_pair,
    "DescribeKeyPairs": describe_key_pairs,
    "DeleteKeyPair": delete_key_pair,
}
