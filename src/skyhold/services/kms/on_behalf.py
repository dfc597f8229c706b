"""KMS used by another service on the caller's behalf (SSM SecureStrings, Secrets
Manager secrets, S3 SSE-KMS): the caller needs the KMS permission itself — checked
with kms:ViaService naming the service, and the key policy required — exactly as
when AWS services call KMS with the caller's forward access session.

AWS managed keys (aws/ssm, aws/secretsmanager, aws/s3) are created on first use with
AWS's managed key policy: usable by any principal of the account through that
service only.
"""

from __future__ import annotations

import json
import secrets
from typing import TYPE_CHECKING, Any

from skyhold import clock
from skyhold.authz import Access
from skyhold.services.kms import ciphertext, grants
from skyhold.services.kms import records as r
from skyhold.services.kms.handlers import usable

if TYPE_CHECKING:
    from skyhold.pipeline import Call


def via(call: Call, service: str) -> str:
    return f"{service}.{call.region}.amazonaws.com"


def _managed_policy(account: str, via_service: str, service_name: str) -> str:
    return json.dumps({
        "Version": "2012-10-17",
        "Id": f"auto-{service_name}-2",
        "Statement": [
            {
                "Sid": f"Allow access through {service_name} for all principals in the account that are "
                       f"authorized to use {service_name}",
                "Effect": "Allow",
                "Principal": {"AWS": "*"},
                "Action": ["kms:Encrypt", "kms:Decrypt", "kms:ReEncrypt*", "kms:GenerateDataKey*",
                           "kms:CreateGrant", "kms:DescribeKey"],
                "Resource": "*",
                "Condition": {"StringEquals": {"kms:ViaService": via_service, "kms:CallerAccount": account}},
            },
            {
                "Sid": "Allow direct access to key metadata to the account",
                "Effect": "Allow",
                "Principal": {"AWS": f"arn:aws:iam::{account}:root"},
                "Action": ["kms:Describe*", "kms:Get*", "kms:List*", "kms:RevokeGrant"],
                "Resource": "*",
            },
        ],
    }, indent=2)


def managed_key(call: Call, service: str) -> str:
    """The key id of alias/aws/<service> in the caller's account and region,
    created with AWS's managed key policy on first use."""
    account, region = call.principal.account, call.region
    alias = f"alias/aws/{service}"
    store_key = f"{account}/{region}/{alias}"
    rec = call.store.get(r.ALIAS, store_key)
    if rec is not None:
        return rec.value["TargetKeyId"]
    with call.store.transaction():
        key = r.new_key(call, description=f"Default key that protects my {service} data when no other key is defined",
                        policy=_managed_policy(account, via(call, service), service), tags=[])
        key["KeyManager"] = "AWS"
        r.save(call, key, 1)
        call.store.put(r.ALIAS, store_key, {"AliasName": alias, "TargetKeyId": key["KeyId"],
                                            "AliasArn": r.alias_arn(region, account, alias),
                                            "CreationDate": clock.iso8601(clock.now())}, expect_version=0)
    return key["KeyId"]


def _authorize(call: Call, action: str, key: dict[str, Any], service: str, context: dict[str, str] | None) -> None:
    ctx: dict[str, Any] = {"kms:ViaService": via(call, service), "kms:CallerAccount": call.principal.account}
    for k, v in (context or {}).items():
        ctx[f"kms:EncryptionContext:{k}"] = v
    call.pipeline.authorizer.check_access(call, Access(
        action, key["Arn"], ctx, resource_account=key["AWSAccountId"], resource_policy=grants.effective_policy(key),
        resource_policy_required=True))


def encrypt(
    call: Call, key_ref: str, plaintext: bytes, context: dict[str, str], service: str, action: str = "kms:Encrypt"
) -> tuple[bytes, str]:
    """(ciphertext blob, key ARN); needs `action` (kms:Encrypt, or kms:GenerateDataKey
    for services that envelope-encrypt) via the service."""
    key, _ = r.find(call, key_ref)
    _authorize(call, action, key, service, context)
    usable(key)
    version = len(key["Material"]) - 1
    return ciphertext.encrypt(key["KeyId"], version, r.material(call, key, version), plaintext, context), key["Arn"]


def generate_data_key(
    call: Call, key_ref: str, context: dict[str, str], service: str, size: int = 32
) -> tuple[bytes, bytes, str]:
    """(plaintext data key, its ciphertext blob, key ARN); needs kms:GenerateDataKey."""
    plaintext = secrets.token_bytes(size)
    blob, key_arn = encrypt(call, key_ref, plaintext, context, service, action="kms:GenerateDataKey")
    return plaintext, blob, key_arn


def decrypt(call: Call, blob: bytes, context: dict[str, str], service: str) -> tuple[bytes, str]:
    """(plaintext, key ARN); needs kms:Decrypt via the service."""
    key_id, version = ciphertext.key_of(blob)
    key, _ = r.find(call, key_id, any_account=True)
    _authorize(call, "kms:Decrypt", key, service, context)
    usable(key)
    return ciphertext.decrypt(key_id, r.material(call, key, version), blob, context), key["Arn"]
