"""Block Public Access: when S3 calls a bucket policy public (GetBucketPolicyStatus),
and the bucket's settings OR'ed with its account's."""

from __future__ import annotations

import json
from typing import Any

import pytest

from skyhold.services.s3 import public_access
from skyhold.services.s3.public_access import is_public_policy
from tests.unit.s3.conftest import S3Harness


def _policy(principal: Any = "*", effect: str = "Allow", condition: dict[str, Any] | None = None,
            key: str = "Principal") -> str:
    st: dict[str, Any] = {"Effect": effect, key: principal, "Action": "s3:GetObject", "Resource": "arn:aws:s3:::b/*"}
    if condition:
        st["Condition"] = condition
    return json.dumps({"Version": "2012-10-17", "Statement": [st]})


@pytest.mark.parametrize("policy", [
    _policy("*"),
    _policy({"AWS": "*"}),
    _policy({"AWS": ["arn:aws:iam::111122223333:root", "*"]}),
    _policy({"AWS": "arn:aws:iam::111122223333:root"}, key="NotPrincipal"),  # everyone but one
    # conditions that pin nothing down
    _policy(condition={"StringEquals": {"aws:UserAgent": "curl"}}),
    _policy(condition={"StringLike": {"aws:SourceArn": "arn:aws:sns:*:*:*"}}),
    _policy(condition={"StringEqualsIfExists": {"aws:SourceAccount": "111122223333"}}),
    _policy(condition={"IpAddress": {"aws:SourceIp": "10.0.0.0/7"}}),  # wider than /8
    _policy(condition={"IpAddress": {"aws:SourceIp": ["10.0.0.0/8", "0.0.0.0/0"]}}),
    _policy(condition={"NotIpAddress": {"aws:SourceIp": "10.0.0.0/8"}}),
])
def test_public(policy: str) -> None:
    assert is_public_policy(policy) is True


@pytest.mark.parametrize("policy", [
    _policy({"AWS": "arn:aws:iam::111122223333:root"}),
    _policy({"AWS": "111122223333"}),
    _policy({"Service": "cloudtrail.amazonaws.com"}),
    _policy("*", effect="Deny"),
    # conditions that pin the caller to fixed values of who or where
    _policy(condition={"StringEquals": {"aws:SourceAccount": "111122223333"}}),
    _policy(condition={"StringEquals": {"aws:PrincipalOrgID": "o-abc123"}}),
    _policy(condition={"ArnEquals": {"aws:SourceArn": "arn:aws:cloudtrail:us-east-1:111122223333:trail/t"}}),
    _policy(condition={"StringEquals": {"AWS:SourceVpce": "vpce-1a2b3c4d"}}),  # keys are case-insensitive
    _policy(condition={"IpAddress": {"aws:SourceIp": "203.0.113.0/24"}}),
    _policy(condition={"IpAddress": {"aws:SourceIp": "2001:db8::/32"}}),
    "",
    None,
])
def test_not_public(policy: str | None) -> None:
    assert is_public_policy(policy) is False


def test_one_public_statement_among_private_ones_makes_it_public() -> None:
    doc = json.loads(_policy({"AWS": "arn:aws:iam::111122223333:root"}))
    doc["Statement"].append(json.loads(_policy("*"))["Statement"][0])
    assert is_public_policy(doc) is True
    doc["Statement"] = doc["Statement"][0]  # a lone statement need not be in a list
    assert is_public_policy(doc) is False


def test_effective_settings_or_the_account_with_the_bucket(h: S3Harness) -> None:
    bucket = h.bucket("bpa")
    assert public_access.effective(h.store, bucket) == public_access.ALL_ON  # new buckets block all
    h.s3("DeletePublicAccessBlock", Bucket="bpa")
    bucket = h.stored_bucket("bpa")
    assert not any(public_access.effective(h.store, bucket).values())
    h.store.put(public_access.ACCOUNT_KIND, h.account, {**{k: False for k in public_access.SETTINGS},
                                                        "RestrictPublicBuckets": True})
    assert public_access.effective(h.store, bucket) == {"BlockPublicAcls": False, "IgnorePublicAcls": False,
                                                        "BlockPublicPolicy": False, "RestrictPublicBuckets": True}


def test_policy_status_and_block_public_policy_through_the_handlers(h: S3Harness) -> None:
    h.bucket("stat")
    public = _policy("*").replace("arn:aws:s3:::b/", "arn:aws:s3:::stat/")
    err = h.s3_fails("PutBucketPolicy", Bucket="stat", Policy=public)
    assert err.code == "AccessDenied" and "BlockPublicPolicy" in err.message
    h.s3("PutPublicAccessBlock", Bucket="stat", PublicAccessBlockConfiguration={"BlockPublicPolicy": False})
    h.s3("PutBucketPolicy", Bucket="stat", Policy=public)
    assert h.s3("GetBucketPolicyStatus", Bucket="stat") == {"PolicyStatus": {"IsPublic": True}}
    # the account's BlockPublicPolicy refuses a public policy the bucket's own setting allows
    h.store.put(public_access.ACCOUNT_KIND, h.account, {**{k: False for k in public_access.SETTINGS},
                                                        "BlockPublicPolicy": True})
    assert h.s3_fails("PutBucketPolicy", Bucket="stat", Policy=public).code == "AccessDenied"
    private = _policy({"AWS": f"arn:aws:iam::{h.account}:root"}).replace("arn:aws:s3:::b/", "arn:aws:s3:::stat/")
    h.s3("PutBucketPolicy", Bucket="stat", Policy=private)
    assert h.s3("GetBucketPolicyStatus", Bucket="stat") == {"PolicyStatus": {"IsPublic": False}}
