"""S3 authorization holes a security review reproduced, each closed as AWS decides:
s3:ExistingObjectTag/<key> from the version a request names, the ACL operations'
request-header condition keys (s3:x-amz-acl, s3:x-amz-grant-*), and objects another
account owns decided in their owner's context."""

from __future__ import annotations

import json
import time
import uuid
from pathlib import Path
from typing import Any

import pytest

from .conftest import AwsEnv, Server, aws_error, new_account

ALL_USERS = "http://acs.amazonaws.com/groups/global/AllUsers"
AUTHENTICATED_USERS = "http://acs.amazonaws.com/groups/global/AuthenticatedUsers"


@pytest.fixture
def s3(admin: AwsEnv) -> Any:
    return admin.client("s3", region_name="us-east-1")


def _name(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:12]}"


def _denied(call: Any) -> bool:
    code, _, status = aws_error(call)
    return (code, status) == ("AccessDenied", 403)


def _forbidden(call: Any) -> bool:
    """HEAD answers without a body: only the status tells."""
    _, _, status = aws_error(call)
    return status == 403


def _grantees(grants: list[dict[str, Any]]) -> set[tuple[str, str]]:
    return {(g["Grantee"].get("URI") or g["Grantee"].get("ID", ""), g["Permission"]) for g in grants}


# --- 1. s3:ExistingObjectTag/<key> on the version the request names -------------------------

_TAG_READS = ["s3:GetObject", "s3:GetObjectVersion", "s3:GetObjectTagging", "s3:GetObjectVersionTagging",
              "s3:GetObjectAcl", "s3:GetObjectVersionAcl", "s3:PutObjectTagging", "s3:PutObjectVersionTagging",
              "s3:DeleteObjectTagging", "s3:DeleteObjectVersionTagging", "s3:PutObject"]


def test_existing_object_tag_is_the_named_versions(admin: AwsEnv, s3: Any) -> None:
    bucket = _name("rv-tag")
    s3.create_bucket(Bucket=bucket)
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    secret = s3.put_object(Bucket=bucket, Key="doc", Body=b"old", Tagging="class=secret")["VersionId"]
    public = s3.put_object(Bucket=bucket, Key="doc", Body=b"new", Tagging="class=public")["VersionId"]
    arn = f"arn:aws:s3:::{bucket}/*"
    user = admin.client_for(admin.new_user({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": _TAG_READS, "Resource": arn},
        {"Effect": "Deny", "Action": _TAG_READS, "Resource": arn,
         "Condition": {"StringEquals": {"s3:ExistingObjectTag/class": "secret"}}}]}), "s3")
    time.sleep(1)

    # The current version is public: reads of it, and of it by id, are allowed.
    assert user.get_object(Bucket=bucket, Key="doc")["Body"].read() == b"new"
    assert user.get_object(Bucket=bucket, Key="doc", VersionId=public)["Body"].read() == b"new"

    # The older version is tagged secret: every version-specific call on it is denied.
    assert _denied(lambda: user.get_object(Bucket=bucket, Key="doc", VersionId=secret))
    assert _forbidden(lambda: user.head_object(Bucket=bucket, Key="doc", VersionId=secret))
    assert _denied(lambda: user.get_object_tagging(Bucket=bucket, Key="doc", VersionId=secret))
    assert _denied(lambda: user.get_object_acl(Bucket=bucket, Key="doc", VersionId=secret))
    assert _denied(lambda: user.delete_object_tagging(Bucket=bucket, Key="doc", VersionId=secret))
    assert _denied(lambda: user.put_object_tagging(Bucket=bucket, Key="doc", VersionId=secret,
                                                   Tagging={"TagSet": [{"Key": "class", "Value": "public"}]}))
    assert _denied(lambda: user.copy_object(Bucket=bucket, Key="copy",
                                            CopySource={"Bucket": bucket, "Key": "doc", "VersionId": secret}))
    # ... and its tags are still what they were
    tags = s3.get_object_tagging(Bucket=bucket, Key="doc", VersionId=secret)["TagSet"]
    assert tags == [{"Key": "class", "Value": "secret"}]

    # The tags of the version named count, not the current one's: a newer secret
    # version does not deny reading an older public one.
    newest = s3.put_object(Bucket=bucket, Key="doc", Body=b"newest", Tagging="class=secret")["VersionId"]
    assert _denied(lambda: user.get_object(Bucket=bucket, Key="doc"))
    assert _denied(lambda: user.get_object(Bucket=bucket, Key="doc", VersionId=newest))
    assert user.get_object(Bucket=bucket, Key="doc", VersionId=public)["Body"].read() == b"new"
    assert user.get_object_tagging(Bucket=bucket, Key="doc", VersionId=public)["TagSet"] == [
        {"Key": "class", "Value": "public"}]


def test_existing_object_tag_on_get_and_put_object_acl(admin: AwsEnv, s3: Any) -> None:
    bucket = _name("acl-tag")
    s3.create_bucket(Bucket=bucket, ObjectOwnership="ObjectWriter")
    s3.put_object(Bucket=bucket, Key="secret", Body=b"x", Tagging="class=secret")
    s3.put_object(Bucket=bucket, Key="plain", Body=b"x")
    arn = f"arn:aws:s3:::{bucket}/*"
    actions = ["s3:GetObjectAcl", "s3:PutObjectAcl"]
    user = admin.client_for(admin.new_user({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": actions, "Resource": arn},
        {"Effect": "Deny", "Action": actions, "Resource": arn,
         "Condition": {"StringEquals": {"s3:ExistingObjectTag/class": "secret"}}}]}), "s3")
    time.sleep(1)
    assert user.get_object_acl(Bucket=bucket, Key="plain")["Grants"]
    user.put_object_acl(Bucket=bucket, Key="plain", ACL="private")
    assert _denied(lambda: user.get_object_acl(Bucket=bucket, Key="secret"))
    assert _denied(lambda: user.put_object_acl(Bucket=bucket, Key="secret", ACL="private"))


# --- 2. the ACL operations' request-header condition keys -----------------------------------

def test_put_bucket_acl_is_denied_on_its_canned_acl_and_grant_headers(s3: Any) -> None:
    bucket = _name("acl-keys")
    s3.create_bucket(Bucket=bucket, ObjectOwnership="ObjectWriter")
    s3.delete_public_access_block(Bucket=bucket)  # so that only the bucket policy can refuse
    arn = f"arn:aws:s3:::{bucket}"
    s3.put_bucket_policy(Bucket=bucket, Policy=json.dumps({"Version": "2012-10-17", "Statement": [
        {"Effect": "Deny", "Principal": "*", "Action": "s3:PutBucketAcl", "Resource": arn,
         "Condition": {"StringEquals": {"s3:x-amz-acl": ["public-read", "public-read-write"]}}},
        {"Effect": "Deny", "Principal": "*", "Action": "s3:PutBucketAcl", "Resource": arn,
         "Condition": {"Null": {"s3:x-amz-grant-write": "false"}}},
        {"Effect": "Deny", "Principal": "*", "Action": "s3:PutBucketAcl", "Resource": arn,
         "Condition": {"Null": {"s3:x-amz-grant-read-acp": "false"}}}]}))
    owner = s3.get_bucket_acl(Bucket=bucket)["Owner"]["ID"]

    assert _denied(lambda: s3.put_bucket_acl(Bucket=bucket, ACL="public-read"))
    assert _denied(lambda: s3.put_bucket_acl(Bucket=bucket, ACL="public-read-write"))
    assert _denied(lambda: s3.put_bucket_acl(Bucket=bucket, GrantWrite=f"id={owner}",
                                             GrantFullControl=f"id={owner}"))
    assert _denied(lambda: s3.put_bucket_acl(Bucket=bucket, GrantReadACP=f"uri={ALL_USERS}",
                                             GrantFullControl=f"id={owner}"))
    assert ALL_USERS not in {uri for uri, _ in _grantees(s3.get_bucket_acl(Bucket=bucket)["Grants"])}

    # What the policy does not name still goes through (a public ACL too: not Block Public Access)
    s3.put_bucket_acl(Bucket=bucket, ACL="authenticated-read")
    assert (AUTHENTICATED_USERS, "READ") in _grantees(s3.get_bucket_acl(Bucket=bucket)["Grants"])
    s3.put_bucket_acl(Bucket=bucket, GrantRead=f"uri={ALL_USERS}", GrantFullControl=f"id={owner}")
    assert (ALL_USERS, "READ") in _grantees(s3.get_bucket_acl(Bucket=bucket)["Grants"])


def test_put_object_acl_and_its_version_are_denied_on_their_headers(admin: AwsEnv, s3: Any) -> None:
    bucket = _name("oacl-keys")
    s3.create_bucket(Bucket=bucket, ObjectOwnership="ObjectWriter")
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    s3.delete_public_access_block(Bucket=bucket)
    vid = s3.put_object(Bucket=bucket, Key="doc", Body=b"x")["VersionId"]
    arn = f"arn:aws:s3:::{bucket}/*"
    acl_actions = ["s3:PutObjectAcl", "s3:PutObjectVersionAcl"]
    user = admin.client_for(admin.new_user({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": acl_actions, "Resource": arn},
        {"Effect": "Deny", "Action": acl_actions, "Resource": arn,
         "Condition": {"StringEquals": {"s3:x-amz-acl": "public-read"}}},
        {"Effect": "Deny", "Action": acl_actions, "Resource": arn,
         "Condition": {"Null": {"s3:x-amz-grant-write-acp": "false"}}}]}), "s3")
    time.sleep(1)
    owner = s3.get_object_acl(Bucket=bucket, Key="doc")["Owner"]["ID"]

    assert _denied(lambda: user.put_object_acl(Bucket=bucket, Key="doc", ACL="public-read"))
    assert _denied(lambda: user.put_object_acl(Bucket=bucket, Key="doc", VersionId=vid, ACL="public-read"))
    assert _denied(lambda: user.put_object_acl(Bucket=bucket, Key="doc", GrantWriteACP=f"id={owner}"))
    assert _denied(lambda: user.put_object_acl(Bucket=bucket, Key="doc", VersionId=vid,
                                               GrantWriteACP=f"id={owner}"))
    assert ALL_USERS not in {uri for uri, _ in _grantees(s3.get_object_acl(Bucket=bucket, Key="doc")["Grants"])}

    user.put_object_acl(Bucket=bucket, Key="doc", VersionId=vid, ACL="authenticated-read")
    grants = s3.get_object_acl(Bucket=bucket, Key="doc", VersionId=vid)["Grants"]
    assert (AUTHENTICATED_USERS, "READ") in _grantees(grants)


def test_writes_carry_every_grant_header_key(s3: Any) -> None:
    bucket = _name("put-grants")
    s3.create_bucket(Bucket=bucket, ObjectOwnership="ObjectWriter")
    s3.put_object(Bucket=bucket, Key="src", Body=b"x")
    owner = s3.get_bucket_acl(Bucket=bucket)["Owner"]["ID"]
    arn = f"arn:aws:s3:::{bucket}/*"
    s3.put_bucket_policy(Bucket=bucket, Policy=json.dumps({"Version": "2012-10-17", "Statement": [
        {"Effect": "Deny", "Principal": "*", "Action": "s3:PutObject", "Resource": arn,
         "Condition": {"Null": {f"s3:x-amz-grant-{kind}": "false"}}}
        for kind in ("write", "read-acp", "write-acp")]}))

    assert _denied(lambda: s3.put_object(Bucket=bucket, Key="a", Body=b"y", GrantReadACP=f"id={owner}"))
    assert _denied(lambda: s3.put_object(Bucket=bucket, Key="b", Body=b"y", GrantWriteACP=f"id={owner}"))
    assert _denied(lambda: s3.copy_object(Bucket=bucket, Key="c", CopySource=f"{bucket}/src",
                                          GrantWriteACP=f"id={owner}"))
    assert _denied(lambda: s3.create_multipart_upload(Bucket=bucket, Key="d", GrantReadACP=f"id={owner}"))
    # x-amz-grant-write is refused by botocore's PutObject model; sent by hand it is one
    # more header the policy sees, so it must be denied too.
    def add_grant_write(request: Any, **_: Any) -> None:
        request.headers["x-amz-grant-write"] = f"id={owner}"

    s3.meta.events.register_first("before-sign.s3.PutObject", add_grant_write)
    try:
        assert _denied(lambda: s3.put_object(Bucket=bucket, Key="e", Body=b"y"))
    finally:
        s3.meta.events.unregister("before-sign.s3.PutObject", add_grant_write)
    # without them the writes go through
    s3.put_object(Bucket=bucket, Key="f", Body=b"y", GrantFullControl=f"id={owner}")
    s3.copy_object(Bucket=bucket, Key="g", CopySource=f"{bucket}/src")
    keys = {o["Key"] for o in s3.list_objects_v2(Bucket=bucket)["Contents"]}
    assert keys == {"src", "f", "g"}


# --- 3. an object another account owns --------------------------------------------------------

def _accounts(server: Server, tmp_path: Path) -> tuple[Any, str, Any, str]:
    (tmp_path / "b").mkdir()
    (tmp_path / "c").mkdir()
    writer, writer_id = new_account(server, tmp_path / "b", "s3ow-writer")
    reader, reader_id = new_account(server, tmp_path / "c", "s3ow-reader")
    return (writer.client("s3", region_name="us-east-1"), writer_id,
            reader.client("s3", region_name="us-east-1"), reader_id)


def test_bucket_owner_cannot_read_an_object_another_account_owns(server: Server, tmp_path: Path, s3: Any) -> None:
    writer, writer_id, reader, reader_id = _accounts(server, tmp_path)
    bucket = _name("ow")
    s3.create_bucket(Bucket=bucket, ObjectOwnership="ObjectWriter")
    objects = f"arn:aws:s3:::{bucket}/*"
    s3.put_bucket_policy(Bucket=bucket, Policy=json.dumps({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{writer_id}:root"},
         "Action": ["s3:PutObject", "s3:PutObjectTagging"], "Resource": objects},
        # names a third account: the bucket policy's Allow does not reach the writer's objects
        {"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{reader_id}:root"},
         "Action": ["s3:GetObject", "s3:GetObjectAcl"], "Resource": objects}]}))
    time.sleep(0.5)
    writer.put_object(Bucket=bucket, Key="theirs", Body=b"writer's data", Tagging="k=v")
    s3.put_object(Bucket=bucket, Key="ours", Body=b"owner's data")
    writer_cid = writer.get_object_acl(Bucket=bucket, Key="theirs")["Owner"]["ID"]
    assert writer_cid != s3.get_bucket_acl(Bucket=bucket)["Owner"]["ID"]

    # The bucket owner: no object ACL grant, so nothing of the object's.
    assert _denied(lambda: s3.get_object(Bucket=bucket, Key="theirs"))
    assert _forbidden(lambda: s3.head_object(Bucket=bucket, Key="theirs"))
    assert _denied(lambda: s3.get_object_acl(Bucket=bucket, Key="theirs"))
    assert _denied(lambda: s3.get_object_tagging(Bucket=bucket, Key="theirs"))
    assert _denied(lambda: s3.put_object_acl(Bucket=bucket, Key="theirs", ACL="private"))
    assert _denied(lambda: s3.copy_object(Bucket=bucket, Key="copied", CopySource=f"{bucket}/theirs"))
    # The account the bucket policy names reads the bucket owner's objects, not the writer's.
    assert reader.get_object(Bucket=bucket, Key="ours")["Body"].read() == b"owner's data"
    assert _denied(lambda: reader.get_object(Bucket=bucket, Key="theirs"))
    # The writer reads its own object though the bucket policy grants it no GetObject.
    assert writer.get_object(Bucket=bucket, Key="theirs")["Body"].read() == b"writer's data"
    assert writer.get_object_tagging(Bucket=bucket, Key="theirs")["TagSet"] == [{"Key": "k", "Value": "v"}]

    # The object's ACL decides: granting the bucket owner READ lets it read.
    writer.put_object_acl(Bucket=bucket, Key="theirs", ACL="bucket-owner-read")
    assert s3.get_object(Bucket=bucket, Key="theirs")["Body"].read() == b"writer's data"
    assert _denied(lambda: s3.get_object_acl(Bucket=bucket, Key="theirs"))  # READ, not READ_ACP
    assert _denied(lambda: reader.get_object(Bucket=bucket, Key="theirs"))

    # BucketOwnerEnforced (the default, ACLs off): the bucket owner owns what the writer uploads.
    enforced = _name("ow-enforced")
    s3.create_bucket(Bucket=enforced)
    s3.put_bucket_policy(Bucket=enforced, Policy=json.dumps({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{writer_id}:root"}, "Action": "s3:PutObject",
         "Resource": f"arn:aws:s3:::{enforced}/*"}]}))
    time.sleep(0.5)
    writer.put_object(Bucket=enforced, Key="theirs", Body=b"x")
    assert s3.get_object(Bucket=enforced, Key="theirs")["Body"].read() == b"x"
    assert _denied(lambda: writer.get_object(Bucket=enforced, Key="theirs"))


def test_bucket_policy_still_denies_and_the_bucket_owner_still_deletes(server: Server, tmp_path: Path,
                                                                       s3: Any) -> None:
    writer, writer_id, _, _ = _accounts(server, tmp_path)
    bucket = _name("ow-deny")
    s3.create_bucket(Bucket=bucket, ObjectOwnership="ObjectWriter")
    objects = f"arn:aws:s3:::{bucket}/*"
    writer_root = {"AWS": f"arn:aws:iam::{writer_id}:root"}
    allow = {"Effect": "Allow", "Principal": writer_root, "Action": "s3:PutObject", "Resource": objects}
    s3.put_bucket_policy(Bucket=bucket, Policy=json.dumps({"Version": "2012-10-17", "Statement": [allow]}))
    time.sleep(0.5)
    writer.put_object(Bucket=bucket, Key="theirs", Body=b"x")
    writer.put_object(Bucket=bucket, Key="gone", Body=b"x")
    assert writer.get_object(Bucket=bucket, Key="theirs")["Body"].read() == b"x"

    deny = {"Effect": "Deny", "Principal": writer_root, "Action": "s3:GetObject", "Resource": objects}
    s3.put_bucket_policy(Bucket=bucket, Policy=json.dumps({"Version": "2012-10-17", "Statement": [allow, deny]}))
    time.sleep(0.5)
    assert _denied(lambda: writer.get_object(Bucket=bucket, Key="theirs"))  # the bucket owner's Deny holds
    writer.get_object_acl(Bucket=bucket, Key="theirs")  # what it does not deny is the owner's to decide

    assert _denied(lambda: s3.get_object(Bucket=bucket, Key="gone"))
    s3.delete_object(Bucket=bucket, Key="gone")  # yet the bucket owner may delete any object
    assert [o["Key"] for o in s3.list_objects_v2(Bucket=bucket)["Contents"]] == ["theirs"]
