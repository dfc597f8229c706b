"""Key pairs: CreateKeyPair returns a real private key (shown once; only the public
key and its fingerprint are kept), ImportKeyPair, DescribeKeyPairs, DeleteKeyPair."""

from __future__ import annotations

import base64
import hashlib
from typing import TYPE_CHECKING, Any

from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519, rsa

from skyhold import clock
from skyhold.errors import AwsError
from skyhold.services.ec2 import filters, tags
from skyhold.services.ec2 import records as r

if TYPE_CHECKING:
    from skyhold.pipeline import Call


def openssh_sha256(public: ed25519.Ed25519PublicKey) -> str:
    """The fingerprint `ssh-keygen -l` prints (SHA-256 of the SSH public key blob), in
    base64 as EC2 shows it."""
    blob = base64.b64decode(public.public_bytes(serialization.Encoding.OpenSSH,
                                                serialization.PublicFormat.OpenSSH).split()[1])
    return base64.b64encode(hashlib.sha256(blob).digest()).decode()


def _colons(digest: bytes) -> str:
    return ":".join(f"{b:02x}" for b in digest)


def _spec_tags(params: dict[str, Any]) -> list[dict[str, str]]:
    found = [t for spec in params.get("TagSpecifications") or [] if spec.get("ResourceType") == "key-pair"
             for t in tags.check_spec(spec)]
    tags.check_new(found)
    return tags.as_list(tags.as_dict(found))


def _key(call: Call, name: str) -> str:
    return f"{call.principal.account}/{call.region}/{name}"


def create_key_pair(call: Call, params: dict[str, Any]) -> dict[str, Any]:
    name = params["KeyName"]
    if call.store.get(r.KEY_PAIR, _key(call, name)):
        raise AwsError("InvalidKeyPair.Duplicate", f"The keypair '{name}' already exists.")
    kind = params.get("KeyType") or "rsa"
    if kind not in ("rsa", "ed25519"):
        raise AwsError("InvalidParameterValue", f"Value ({kind}) for parameter keyType is invalid. Valid values "
                       "are: rsa, ed25519.")
    key_format = params.get("KeyFormat") or "pem"
    if key_format != "pem":
        raise AwsError("InvalidParameterValue", f"Value ({key_format}) for parameter keyFormat is not supported "
                       "by Skyhold (only pem).")
    private: ed25519.Ed25519PrivateKey | rsa.RSAPrivateKey
    if kind == "ed25519":
        private = ed25519.Ed25519PrivateKey.generate()
        # EC2 hands out ED25519 keys in OpenSSH's own format.
        material = private.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.OpenSSH,
                                         serialization.NoEncryption()).decode()
        fingerprint = openssh_sha256(private.public_key())
    else:
        private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        fmt = serialization.PrivateFormat.TraditionalOpenSSL
        material = private.private_bytes(serialization.Encoding.PEM, fmt, serialization.NoEncryption()).decode()
        # AWS's fingerprint of an RSA key it made: SHA-1 of the PKCS#8 DER private key.
        der = private.private_bytes(serialization.Encoding.DER, serialization.PrivateFormat.PKCS8,
                                    serialization.NoEncryption())
        fingerprint = _colons(hashlib.sha1(der).digest())
    public = private.public_key().public_bytes(serialization.Encoding.OpenSSH,
                                               serialization.PublicFormat.OpenSSH).decode()
    pair = {"KeyName": name, "KeyPairId": r.new_id("key"), "KeyFingerprint": fingerprint, "KeyType": kind,
            "PublicKey": public, "CreateTime": clock.now_iso8601(), "Tags": _spec_tags(params)}
    call.store.put(r.KEY_PAIR, _key(call, name), pair, expect_version=0)
    return {"KeyName": name, "KeyFingerprint": fingerprint, "KeyMaterial": material, "KeyPairId": pair["KeyPairId"]}


def import_key_pair(call: Call, params: dict[str, Any]) -> dict[str, Any]:
    name = params["KeyName"]
    if call.store.get(r.KEY_PAIR, _key(call, name)):
        raise AwsError("InvalidKeyPair.Duplicate", f"The keypair '{name}' already exists.")
    try:
        public = serialization.load_ssh_public_key(params["PublicKeyMaterial"])
    except (ValueError, UnsupportedAlgorithm):  # not OpenSSH's format, or a key type it does not know
        raise AwsError("InvalidKey.Format", "Key is not in valid OpenSSH public key format") from None
    if isinstance(public, ed25519.Ed25519PublicKey):
        fingerprint = openssh_sha256(public)
    elif isinstance(public, rsa.RSAPublicKey):
        # AWS's fingerprint of an imported RSA key: MD5 of the DER SubjectPublicKeyInfo.
        der = public.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
        fingerprint = _colons(hashlib.md5(der).digest())
    else:
        raise AwsError("InvalidKey.Format", "Key is not in valid OpenSSH public key format")
    pair = {"KeyName": name, "KeyPairId": r.new_id("key"), "KeyFingerprint": fingerprint,
            "KeyType": "ed25519" if isinstance(public, ed25519.Ed25519PublicKey) else "rsa",
            "PublicKey": params["PublicKeyMaterial"].decode().strip(), "CreateTime": clock.now_iso8601(),
            "Tags": _spec_tags(params)}
    call.store.put(r.KEY_PAIR, _key(call, name), pair, expect_version=0)
    return {"KeyName": name, "KeyFingerprint": fingerprint, "KeyPairId": pair["KeyPairId"]}


_FIELDS: filters.Fields = {"key-name": lambda p: [p["KeyName"]], "key-pair-id": lambda p: [p["KeyPairId"]],
                           "fingerprint": lambda p: [p["KeyFingerprint"]], "key-type": lambda p: [p["KeyType"]]}


def describe_key_pairs(call: Call, params: dict[str, Any]) -> dict[str, Any]:
    pairs = [rec.value for rec in call.store.scan(r.KEY_PAIR, f"{call.principal.account}/{call.region}/")]
    for field, wanted, what in (("KeyName", params.get("KeyNames"), "key pair"),
                                ("KeyPairId", params.get("KeyPairIds"), "key pair ID")):
        if wanted:
            missing = [n for n in wanted if n not in {p[field] for p in pairs}]
            if missing:
                raise AwsError("InvalidKeyPair.NotFound", f"The {what} '{missing[0]}' does not exist")
            pairs = [p for p in pairs if p[field] in wanted]
    shown = []
    for pair in filters.select(pairs, params.get("Filters"), _FIELDS):
        item = {k: v for k, v in pair.items() if k != "PublicKey" or params.get("IncludePublicKey")}
        item["CreateTime"] = r.parse_time(pair["CreateTime"])
        item["Tags"] = pair.get("Tags") or []
        shown.append(item)
    return {"KeyPairs": shown}


def delete_key_pair(call: Call, params: dict[str, Any]) -> dict[str, Any]:
    """Deleting a key pair that does not exist succeeds, as on AWS."""
    prefix = f"{call.principal.account}/{call.region}/"
    for rec in call.store.scan(r.KEY_PAIR, prefix):
        if rec.value["KeyName"] == params.get("KeyName") or rec.value["KeyPairId"] == params.get("KeyPairId"):
            call.store.delete(r.KEY_PAIR, rec.key)
            return {"Return": True, "KeyPairId": rec.value["KeyPairId"]}
    return {"Return": True}


HANDLERS = {
    "CreateKeyPair": create_key_pair,
    "ImportKeyPair": import_key_pair,
    "DescribeKeyPairs": describe_key_pairs,
    "DeleteKeyPair": delete_key_pair,
}
