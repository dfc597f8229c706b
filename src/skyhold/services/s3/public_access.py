"""Block Public Access: the bucket's settings OR'ed with its owner's account's, and
AWS's rules for when a bucket policy is "public".

A policy is public when an Allow statement grants to everyone (Principal "*" or
{"AWS": "*"}) without a condition that pins the request to fixed values of a key
that names who or where the caller is (source IP block, VPC, account, ARN, org), or
the KMS key its uploads must name (S3's list, in PublicAccessBlockConfiguration's
API documentation: "A fixed value of s3:x-amz-server-side-encryption-aws-kms-key-id").
"""

from __future__ import annotations

from typing import Any

from skyhold.policy import public
from skyhold.store.base import Store

SETTINGS = ("BlockPublicAcls", "IgnorePublicAcls", "BlockPublicPolicy", "RestrictPublicBuckets")
ALL_ON = {name: True for name in SETTINGS}
ACCOUNT_KIND = "s3.account-pab"  # key: account id

# Keys whose fixed values make a grant non-public (lower-cased, as IAM compares them).
_PINNING_KEYS = frozenset({
    "aws:sourcearn", "aws:sourcevpc", "aws:sourcevpce", "aws:sourceaccount", "aws:sourceowner",
    "aws:principalaccount", "aws:principalarn", "aws:principalorgid", "aws:principalorgpaths",
    "aws:userid", "aws:sourceorgid", "aws:sourceorgpaths", "s3:dataaccesspointarn",
    "s3:dataaccesspointaccount", "aws:sourceip", "s3:x-amz-server-side-encryption-aws-kms-key-id",
})


def account_settings(store: Store, account: str) -> dict[str, bool] | None:
    rec = store.get(ACCOUNT_KIND, account)
    return rec.value if rec else None


def effective(store: Store, bucket: dict[str, Any]) -> dict[str, bool]:
    own = bucket.get("PublicAccessBlock") or {}
    acct = account_settings(store, bucket["Owner"]) or {}
    return {name: bool(own.get(name)) or bool(acct.get(name)) for name in SETTINGS}


def is_public_policy(policy: str | dict[str, Any] | None) -> bool:
    return public.is_public(policy, _PINNING_KEYS)
