"""Review 13 of S3 ACLs and Object Ownership: what earlier rounds missed, each checked
against AWS's documented or recorded behaviour."""

from __future__ import annotations

import json
import uuid
from typing import Any

import pytest

from .conftest import AwsEnv, Server, aws_error, new_account


@pytest.fixture(scope="module")
def writer(server: Server, tmp_path_factory: pytest.TempPathFactory) -> tuple[AwsEnv, str]:
    """The administrator of another account, and that account's id."""
    return new_account(server, tmp_path_factory.mktemp("r13acl"), "r13acl")


def _bucket(s3: Any, ownership: str) -> str:
    name = f"r13-acl-{uuid.uuid4().hex[:10]}"
    s3.create_bucket(Bucket=name, ObjectOwnership=ownership)
    return name


def _policy(*statements: dict[str, Any]) -> dict[str, Any]:
    return {"Version": "2012-10-17", "Statement": list(statements)}


# --- uploads that set an ACL, from another account -----------------------------------------

@pytest.mark.parametrize("ownership", ["BucketOwnerEnforced", "BucketOwnerPreferred", "ObjectWriter"])
def test_bucket_policy_need_only_allow_put_object_for_a_cross_account_acl(
        admin: AwsEnv, writer: tuple[AwsEnv, str], ownership: str) -> None:
    """S3 User Guide ("Controlling ownership of objects", "Disabling ACLs for all new
    buckets and enforcing Object Ownership"): a bucket policy that allows another
    account's user only s3:PutObject, on condition s3:x-amz-acl = bucket-owner-full-control,
    lets that user upload with `--acl bucket-owner-full-control` -- with ACLs disabled too
    ("requests continue to succeed"). The ACL the writer sets is the writer's own
    business (its identity policy); the bucket policy's Deny statements still hold."""
    s3 = admin.client("s3", region_name="us-east-1")
    env, account = writer
    name = _bucket(s3, ownership)
    objects = f"arn:aws:s3:::{name}/*"
    s3.put_bucket_policy(Bucket=name, Policy=json.dumps(_policy(
        {"Effect": "Allow", "Principal": {"AWS": account}, "Action": "s3:PutObject",
         "Resource": objects, "Condition": {"StringEquals": {"s3:x-amz-acl": "bucket-owner-full-control"}}},
        {"Effect": "Allow", "Principal": {"AWS": account}, "Action": "s3:GetObject", "Resource": objects},
        {"Effect": "Deny", "Principal": {"AWS": account}, "Action": "s3:PutObjectAcl",
         "Resource": f"arn:aws:s3:::{name}/denied/*"})))
    other = env.client("s3", region_name="us-east-1")
    full = {"ACL": "bucket-owner-full-control"}

    other.put_object(Bucket=name, Key="doc", Body=b"x", **full)
    upload = other.create_multipart_upload(Bucket=name, Key="mpu", **full)
    s3.abort_multipart_upload(Bucket=name, Key="mpu", UploadId=upload["UploadId"])
    s3.put_object(Bucket=name, Key="src", Body=b"y")
    other.copy_object(Bucket=name, Key="copy", CopySource={"Bucket": name, "Key": "src"}, **full)
    # the bucket owner has full control of what was uploaded
    assert s3.get_object(Bucket=name, Key="doc")["Body"].read() == b"x"
    assert s3.get_object(Bucket=name, Key="copy")["Body"].read() == b"y"

    # the bucket policy still decides the upload itself: no ACL, no PutObject
    assert aws_error(lambda: other.put_object(Bucket=name, Key="plain", Body=b"x"))[::2] == ("AccessDenied", 403)
    # ... and its explicit Deny of s3:PutObjectAcl holds
    assert aws_error(lambda: other.put_object(Bucket=name, Key="denied/doc", Body=b"x", **full))[::2] == (
        "AccessDenied", 403)
    # the writer's own identity policy must allow setting the ACL
    uploader = env.client_for(env.new_user(_policy(
        {"Effect": "Allow", "Action": "s3:PutObject", "Resource": "*"})), "s3")
    assert aws_error(lambda: uploader.put_object(Bucket=name, Key="user", Body=b"x", **full))[::2] == (
        "AccessDenied", 403)
    setter = env.client_for(env.new_user(_policy(
        {"Effect": "Allow", "Action": ["s3:PutObject", "s3:PutObjectAcl"], "Resource": "*"})), "s3")
    setter.put_object(Bucket=name, Key="user", Body=b"x", **full)
    assert s3.get_object(Bucket=name, Key="user")["Body"].read() == b"x"


def test_bucket_write_grantee_uploads_with_an_acl(admin: AwsEnv, writer: tuple[AwsEnv, str]) -> None:
    """A bucket ACL's WRITE lets the grantee create objects; under ObjectWriter it owns
    them and may give the bucket owner access with its canned ACLs (bucket-owner-read,
    bucket-owner-full-control: User Guide, "Canned ACL"), and under BucketOwnerPreferred
    bucket-owner-full-control hands the object over: "the object writer no longer has
    full control access" (User Guide, "Object Ownership settings")."""
    s3 = admin.client("s3", region_name="us-east-1")
    env, _ = writer
    other = env.client("s3", region_name="us-east-1")
    owner_id = s3.list_buckets()["Owner"]["ID"]
    other_id = other.list_buckets()["Owner"]["ID"]

    name = _bucket(s3, "ObjectWriter")
    s3.put_bucket_acl(Bucket=name, GrantWrite=f"id={other_id}", GrantFullControl=f"id={owner_id}")
    other.put_object(Bucket=name, Key="read", Body=b"r", ACL="bucket-owner-read")
    grants = other.get_object_acl(Bucket=name, Key="read")
    assert grants["Owner"]["ID"] == other_id
    assert {"Grantee": {"Type": "CanonicalUser", "ID": owner_id}, "Permission": "READ"} in grants["Grants"]
    assert s3.get_object(Bucket=name, Key="read")["Body"].read() == b"r"
    assert aws_error(lambda: s3.get_object_acl(Bucket=name, Key="read"))[::2] == ("AccessDenied", 403)

    preferred = _bucket(s3, "BucketOwnerPreferred")
    s3.put_bucket_acl(Bucket=preferred, GrantWrite=f"id={other_id}", GrantFullControl=f"id={owner_id}")
    other.put_object(Bucket=preferred, Key="given", Body=b"g", ACL="bucket-owner-full-control")
    acl = s3.get_object_acl(Bucket=preferred, Key="given")
    assert acl["Owner"]["ID"] == owner_id
    assert acl["Grants"] == [{"Grantee": {"Type": "CanonicalUser", "ID": owner_id}, "Permission": "FULL_CONTROL"}]
    assert aws_error(lambda: other.get_object(Bucket=preferred, Key="given"))[::2] == ("AccessDenied", 403)


# --- AccessControlPolicy bodies ------------------------------------------------------------

MALFORMED_ACL = ("MalformedACLError", "The XML you provided was not well-formed or did not validate against our "
                 "published schema", 400)


def test_a_policy_body_missing_a_required_id_is_a_malformed_acl(admin: AwsEnv) -> None:
    """An <Owner> without its <ID>, or a CanonicalUser grantee without one, does not
    validate against S3's ACL schema: MalformedACLError (versitygw's integration tests
    PutBucketAcl_invalid_empty_owner_id_in_body and PutBucketAcl_empty_grantee_ID_in_body,
    which run against AWS too), not InvalidArgument "Invalid id" (a value that names no
    account, as in LocalStack's AWS-validated put-bucket-acp-acl-5)."""
    s3 = admin.client("s3", region_name="us-east-1")
    name = _bucket(s3, "ObjectWriter")
    s3.put_object(Bucket=name, Key="doc", Body=b"x")
    owner = {"ID": s3.list_buckets()["Owner"]["ID"]}
    read = {"Permission": "READ", "Grantee": {"Type": "CanonicalUser", "ID": owner["ID"]}}
    no_id = {"Permission": "READ", "Grantee": {"Type": "CanonicalUser"}}
    for put in (lambda acp: s3.put_bucket_acl(Bucket=name, AccessControlPolicy=acp),
                lambda acp: s3.put_object_acl(Bucket=name, Key="doc", AccessControlPolicy=acp)):
        assert aws_error(lambda: put({"Owner": {}, "Grants": [read]})) == MALFORMED_ACL
        assert aws_error(lambda: put({"Owner": owner, "Grants": [no_id]})) == MALFORMED_ACL
        put({"Owner": owner, "Grants": [read]})  # the same, well formed, is taken
