"""S3's authz map: which action, on which ARN, with which condition keys and which
resource policy each call is decided with."""

from __future__ import annotations

import json
from typing import Any

import pytest

from skyhold import principal as P
from skyhold.authz import Access
from skyhold.pipeline import Call
from skyhold.services import s3, s3control
from skyhold.services.s3 import public_access
from skyhold.wire.http import HttpRequest
from tests.unit.s3.conftest import S3Harness


@pytest.fixture
def h(h: S3Harness) -> S3Harness:
    h.bucket("authz", versioned=True)
    h.s3("PutObject", Bucket="authz", Key="doc", Body=b"x", Tagging="env=prod&team=blue")
    return h


def _call(h: S3Harness, operation: str, who: P.Principal | None = None, headers: dict[str, str] | None = None,
          query: str = "", presigned: bool = False) -> Call:
    request = HttpRequest("GET", "/", query, {"host": "localhost", **(headers or {})})
    return Call(h.pipeline, request, "s3", operation, "us-east-1", who or h.admin, "req", presigned=presigned)


def _accesses(h: S3Harness, operation: str, service: Any = s3, **kw: Any) -> list[Access]:
    params = kw.pop("params")
    return service.AUTHZ[operation](_call(h, operation, **kw), params)


def _one(h: S3Harness, operation: str, **params: Any) -> Access:
    found = _accesses(h, operation, params=params)
    assert len(found) == 1
    return found[0]


def test_get_object_and_its_version(h: S3Harness) -> None:
    current = _one(h, "GetObject", Bucket="authz", Key="doc")
    assert (current.action, current.resource) == ("s3:GetObject", "arn:aws:s3:::authz/doc")
    assert current.context["s3:ExistingObjectTag/env"] == "prod"
    assert current.context["s3:ExistingObjectTag/team"] == "blue"
    assert current.context["s3:ResourceAccount"] == h.account and current.resource_account == h.account
    assert current.context["s3:authType"] == "REST-HEADER"
    assert "s3:versionid" not in current.context
    vid = h.s3("ListObjectVersions", Bucket="authz")["Versions"][0]["VersionId"]
    version = _one(h, "GetObject", Bucket="authz", Key="doc", VersionId=vid)
    assert version.action == "s3:GetObjectVersion" and version.context["s3:versionid"] == vid
    assert _one(h, "HeadObject", Bucket="authz", Key="doc", VersionId=vid).action == "s3:GetObjectVersion"
    assert _one(h, "HeadObject", Bucket="authz", Key="doc").action == "s3:GetObject"


@pytest.mark.parametrize(("operation", "plain", "versioned"), [
    ("DeleteObject", "s3:DeleteObject", "s3:DeleteObjectVersion"),
    ("GetObjectTagging", "s3:GetObjectTagging", "s3:GetObjectVersionTagging"),
    ("DeleteObjectTagging", "s3:DeleteObjectTagging", "s3:DeleteObjectVersionTagging"),
])
def test_version_id_selects_the_version_action(h: S3Harness, operation: str, plain: str, versioned: str) -> None:
    assert _one(h, operation, Bucket="authz", Key="doc").action == plain
    assert _one(h, operation, Bucket="authz", Key="doc", VersionId="null").action == versioned


@pytest.mark.parametrize(("operation", "action"), [
    ("HeadBucket", "s3:ListBucket"),
    ("DeleteBucketLifecycle", "s3:PutLifecycleConfiguration"),
    ("GetBucketLifecycleConfiguration", "s3:GetLifecycleConfiguration"),
    ("DeletePublicAccessBlock", "s3:PutBucketPublicAccessBlock"),
    ("GetBucketPolicyStatus", "s3:GetBucketPolicyStatus"),
    ("DeleteBucketCors", "s3:PutBucketCORS"),
    ("ListMultipartUploads", "s3:ListBucketMultipartUploads"),
])
def test_bucket_operations(h: S3Harness, operation: str, action: str) -> None:
    found = _one(h, operation, Bucket="authz")
    assert (found.action, found.resource) == (action, "arn:aws:s3:::authz")


def test_listing_condition_keys(h: S3Harness) -> None:
    found = _one(h, "ListObjectsV2", Bucket="authz", Prefix="home/", Delimiter="/", MaxKeys=5)
    assert found.action == "s3:ListBucket"
    assert (found.context["s3:prefix"], found.context["s3:delimiter"], found.context["s3:max-keys"]) == \
        ("home/", "/", "5")
    assert _one(h, "ListObjectsV2", Bucket="authz").context["s3:prefix"] == ""
    assert _one(h, "ListObjectVersions", Bucket="authz").action == "s3:ListBucketVersions"


def test_put_object_with_tags_needs_put_object_tagging_too(h: S3Harness) -> None:
    headers = {"x-amz-server-side-encryption": "aws:kms", "x-amz-acl": "private"}
    put, tagging = _accesses(h, "PutObject", headers=headers,
                             params={"Bucket": "authz", "Key": "new", "Tagging": "a=1"})
    assert (put.action, tagging.action) == ("s3:PutObject", "s3:PutObjectTagging")
    assert put.context["s3:x-amz-server-side-encryption"] == "aws:kms"
    assert put.context["s3:x-amz-acl"] == "private"
    assert put.context["s3:RequestObjectTag/a"] == "1" and put.context["s3:RequestObjectTagKeys"] == ["a"]
    assert len(_accesses(h, "PutObject", params={"Bucket": "authz", "Key": "new"})) == 1


def test_copy_reads_the_source_and_writes_the_destination(h: S3Harness) -> None:
    source, dest = _accesses(h, "CopyObject", params={"Bucket": "authz", "Key": "copy", "CopySource": "authz/doc"})
    assert (source.action, source.resource) == ("s3:GetObject", "arn:aws:s3:::authz/doc")
    assert source.context["s3:ExistingObjectTag/env"] == "prod"
    assert (dest.action, dest.resource) == ("s3:PutObject", "arn:aws:s3:::authz/copy")
    source, _ = _accesses(h, "CopyObject", params={"Bucket": "authz", "Key": "copy",
                                                    "CopySource": "/authz/doc?versionId=null"})
    assert source.action == "s3:GetObjectVersion" and source.context["s3:versionid"] == "null"


def test_delete_objects_is_decided_per_key(h: S3Harness) -> None:
    assert _accesses(h, "DeleteObjects", params={"Bucket": "authz", "Delete": {"Objects": [{"Key": "doc"}]}}) == []


def test_create_bucket_location_constraint(h: S3Harness) -> None:
    found = _one(h, "CreateBucket", Bucket="new-one", CreateBucketConfiguration={"LocationConstraint": "eu-west-1"})
    assert (found.action, found.context["s3:LocationConstraint"]) == ("s3:CreateBucket", "eu-west-1")


def test_how_the_request_was_signed(h: S3Harness) -> None:
    presigned = _accesses(h, "GetObject", query="X-Amz-Signature=abc", presigned=True,
                          params={"Bucket": "authz", "Key": "doc"})[0]
    assert presigned.context["s3:authType"] == "REST-QUERY-STRING"
    # What authenticated the request counts, not what its query says.
    posing = _accesses(h, "GetObject", query="X-Amz-Signature=abc", params={"Bucket": "authz", "Key": "doc"})[0]
    assert posing.context["s3:authType"] == "REST-HEADER"
    anonymous = _accesses(h, "GetObject", who=P.ANONYMOUS_PRINCIPAL, params={"Bucket": "authz", "Key": "doc"})[0]
    assert "s3:authType" not in anonymous.context and "s3:signatureversion" not in anonymous.context


def test_restrict_public_buckets_leaves_a_public_policy_out_for_outsiders(h: S3Harness) -> None:
    h.s3("PutPublicAccessBlock", Bucket="authz", PublicAccessBlockConfiguration={})
    policy = json.dumps({"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow", "Principal": "*", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::authz/*"}]})
    h.s3("PutBucketPolicy", Bucket="authz", Policy=policy)

    def policy_for(who: P.Principal) -> str | None:
        return _accesses(h, "GetObject", who=who, params={"Bucket": "authz", "Key": "doc"})[0].resource_policy

    assert policy_for(P.ANONYMOUS_PRINCIPAL) == policy
    h.store.put(public_access.ACCOUNT_KIND, h.account, {**{k: False for k in public_access.SETTINGS},
                                                        "RestrictPublicBuckets": True})
    assert policy_for(P.ANONYMOUS_PRINCIPAL) is None
    stranger = P.Principal(type=P.IAM_USER, account="111122223333", arn="arn:aws:iam::111122223333:user/x",
                           user_id="AIDAX")
    assert policy_for(stranger) is None
    assert policy_for(h.admin) == policy  # the owner's account still reads it
    # its Deny statements still apply to outsiders: only its grants are left out
    deny = {"Effect": "Deny", "Principal": "*", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::authz/secret"}
    h.s3("PutBucketPolicy", Bucket="authz", Policy=json.dumps({**json.loads(policy), "Statement": [
        *json.loads(policy)["Statement"], deny]}))
    assert json.loads(policy_for(stranger) or "{}").get("Statement") == [deny]


def test_account_public_access_block_names_the_account(h: S3Harness) -> None:
    found = _accesses(h, "PutPublicAccessBlock", service=s3control,
                      params={"AccountId": "111122223333", "PublicAccessBlockConfiguration": {}})
    assert [(a.action, a.resource, a.resource_account) for a in found] == \
        [("s3:PutAccountPublicAccessBlock", "*", "111122223333")]
    found = _accesses(h, "GetPublicAccessBlock", service=s3control, params={"AccountId": h.account})
    assert found[0].action == "s3:GetAccountPublicAccessBlock"
