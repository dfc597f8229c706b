"""S3 ACLs end to end: disabled by default (BucketOwnerEnforced); where Object
Ownership enables them, canned ACLs and grants decide access alongside the bucket
policy, and Block Public Access refuses or ignores public ones."""

from __future__ import annotations

import json
import re
import urllib.error
import urllib.request
import uuid

import pytest
from botocore.exceptions import ClientError

from .conftest import AwsEnv, Server, clean_env

ALL_USERS = "http://acs.amazonaws.com/groups/global/AllUsers"


def _error(e: pytest.ExceptionInfo[ClientError]) -> tuple[int, str, str]:
    r = e.value.response
    return r["ResponseMetadata"]["HTTPStatusCode"], r["Error"]["Code"], r["Error"].get("Message", "")


def _anonymous_get(url: str) -> int:
    try:
        with urllib.request.urlopen(url) as r:
            return r.status
    except urllib.error.HTTPError as e:
        return e.code


@pytest.fixture
def s3(admin: AwsEnv):
    return admin.client("s3", region_name="us-east-1")


@pytest.fixture(scope="module")
def partner(server: Server, tmp_path_factory: pytest.TempPathFactory) -> AwsEnv:
    """The administrator of a second account."""
    name = f"acl-partner-{uuid.uuid4().hex[:6]}"
    out = server.cli("account", "create", name)
    assert out.returncode == 0, out.stderr
    env = clean_env(tmp_path_factory.mktemp("partner"))
    out = server.cli("configure", "--profile", "partner", "--account", name, "--endpoint", server.endpoint, env=env)
    assert out.returncode == 0, out.stderr
    return AwsEnv(env=env, profile="partner", endpoint=server.endpoint)


def _canonical_id(client) -> str:
    return client.list_buckets()["Owner"]["ID"]


def _acl_bucket(s3, ownership: str = "ObjectWriter") -> str:
    name = f"acl-{uuid.uuid4().hex[:12]}"
    s3.create_bucket(Bucket=name, ObjectOwnership=ownership)
    s3.put_object(Bucket=name, Key="doc.txt", Body=b"hello")
    return name


def test_acls_are_disabled_by_default(s3) -> None:
    name = f"acl-{uuid.uuid4().hex[:12]}"
    s3.create_bucket(Bucket=name)
    owner = _canonical_id(s3)
    acl = s3.get_bucket_acl(Bucket=name)
    assert acl["Owner"]["ID"] == owner
    assert acl["Grants"] == [{"Grantee": {"Type": "CanonicalUser", "ID": owner}, "Permission": "FULL_CONTROL"}]
    for call in (lambda: s3.put_object(Bucket=name, Key="k", Body=b"x", ACL="public-read"),
                 lambda: s3.put_bucket_acl(Bucket=name, ACL="public-read")):
        with pytest.raises(ClientError) as e:
            call()
        assert _error(e) == (400, "AccessControlListNotSupported", "The bucket does not allow ACLs")
    # ACLs that only give the owner full control are accepted, and change nothing
    s3.put_object(Bucket=name, Key="k", Body=b"x", ACL="bucket-owner-full-control")
    s3.put_bucket_acl(Bucket=name, ACL="private")
    grants = s3.get_object_acl(Bucket=name, Key="k")["Grants"]
    assert grants == [{"Grantee": {"Type": "CanonicalUser", "ID": owner}, "Permission": "FULL_CONTROL"}]
    with pytest.raises(ClientError) as e:
        s3.create_bucket(Bucket=f"acl-{uuid.uuid4().hex[:12]}", ACL="public-read")
    assert _error(e)[1] == "InvalidBucketAclWithObjectOwnership"


def test_public_read_acl_and_block_public_access(admin: AwsEnv, s3) -> None:
    name = _acl_bucket(s3)
    url = f"{admin.endpoint}/{name}/doc.txt"
    # BlockPublicAcls refuses a public ACL, on the object and on the bucket
    with pytest.raises(ClientError) as e:
        s3.put_object_acl(Bucket=name, Key="doc.txt", ACL="public-read")
    assert _error(e)[:2] == (403, "AccessDenied")
    with pytest.raises(ClientError) as e:
        s3.put_bucket_acl(Bucket=name, ACL="public-read")
    assert _error(e)[:2] == (403, "AccessDenied")

    # BlockPublicAcls off, IgnorePublicAcls still on: the ACL is set but grants nothing
    s3.put_public_access_block(Bucket=name, PublicAccessBlockConfiguration={
        "BlockPublicAcls": False, "IgnorePublicAcls": True, "BlockPublicPolicy": True, "RestrictPublicBuckets": True})
    s3.put_object_acl(Bucket=name, Key="doc.txt", ACL="public-read")
    grants = s3.get_object_acl(Bucket=name, Key="doc.txt")["Grants"]
    assert {"Grantee": {"Type": "Group", "URI": ALL_USERS}, "Permission": "READ"} in grants
    assert _anonymous_get(url) == 403

    s3.put_public_access_block(Bucket=name, PublicAccessBlockConfiguration={
        "BlockPublicAcls": False, "IgnorePublicAcls": False, "BlockPublicPolicy": True, "RestrictPublicBuckets": True})
    assert _anonymous_get(url) == 200
    assert _anonymous_get(f"{admin.endpoint}/{name}?list-type=2") == 403  # object READ is not bucket READ
    s3.put_object_acl(Bucket=name, Key="doc.txt", ACL="private")
    assert _anonymous_get(url) == 403

    # the CLI sets a canned ACL on upload
    out = admin.aws("s3api", "put-object", "--bucket", name, "--key", "cli.txt", "--acl", "public-read")
    assert out.returncode == 0, out.stderr
    assert _anonymous_get(f"{admin.endpoint}/{name}/cli.txt") == 200
    # a public bucket ACL (READ) opens listing
    s3.put_bucket_acl(Bucket=name, ACL="public-read")
    assert _anonymous_get(f"{admin.endpoint}/{name}?list-type=2") == 200


def test_grants_to_another_account(admin: AwsEnv, partner: AwsEnv, s3) -> None:
    name = _acl_bucket(s3)
    p3 = partner.client("s3", region_name="us-east-1")
    with pytest.raises(ClientError) as e:
        p3.get_object(Bucket=name, Key="doc.txt")
    assert _error(e)[:2] == (403, "AccessDenied")

    partner_id = _canonical_id(p3)
    s3.put_object_acl(Bucket=name, Key="doc.txt", GrantRead=f'id="{partner_id}"')
    grants = s3.get_object_acl(Bucket=name, Key="doc.txt")["Grants"]
    assert grants == [{"Grantee": {"Type": "CanonicalUser", "ID": partner_id}, "Permission": "READ"}]
    assert p3.get_object(Bucket=name, Key="doc.txt")["Body"].read() == b"hello"
    with pytest.raises(ClientError):
        p3.put_object(Bucket=name, Key="new", Body=b"x")

    # cross account, the partner's own identity policy must allow it too
    nobody = partner.client_for(partner.new_user(), "s3")
    with pytest.raises(ClientError) as e:
        nobody.get_object(Bucket=name, Key="doc.txt")
    assert _error(e)[:2] == (403, "AccessDenied")

    # bucket WRITE lets the partner add objects; under ObjectWriter the partner owns them
    s3.put_bucket_acl(Bucket=name, GrantWrite=f"id={partner_id}", GrantFullControl=f"id={_canonical_id(s3)}")
    p3.put_object(Bucket=name, Key="from-partner", Body=b"theirs")
    assert p3.get_object_acl(Bucket=name, Key="from-partner")["Owner"]["ID"] == partner_id


def test_restrict_public_buckets_keeps_the_policys_denies(admin: AwsEnv, partner: AwsEnv, s3) -> None:
    """RestrictPublicBuckets takes a public policy's grants from other accounts, not its
    Deny statements: an account the policy denies stays denied though an ACL grants it."""
    name = _acl_bucket(s3)
    p3 = partner.client("s3", region_name="us-east-1")
    partner_account = partner.client("sts").get_caller_identity()["Account"]
    s3.put_object_acl(Bucket=name, Key="doc.txt", GrantRead=f'id="{_canonical_id(p3)}"')
    assert p3.get_object(Bucket=name, Key="doc.txt")["Body"].read() == b"hello"
    s3.put_public_access_block(Bucket=name, PublicAccessBlockConfiguration={
        "BlockPublicAcls": True, "IgnorePublicAcls": True, "BlockPublicPolicy": False, "RestrictPublicBuckets": True})
    s3.put_bucket_policy(Bucket=name, Policy=json.dumps({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Principal": "*", "Action": "s3:GetObject", "Resource": f"arn:aws:s3:::{name}/*"},
        {"Effect": "Deny", "Principal": {"AWS": partner_account}, "Action": "s3:GetObject",
         "Resource": f"arn:aws:s3:::{name}/*"}]}))
    assert s3.get_bucket_policy_status(Bucket=name)["PolicyStatus"]["IsPublic"] is True
    with pytest.raises(ClientError) as e:
        p3.get_object(Bucket=name, Key="doc.txt")
    status, code, message = _error(e)
    # Denied though the ACL grants it (the policy's Deny held); another account is told no more.
    assert (status, code, message) == (403, "AccessDenied", "Access Denied")
    assert _anonymous_get(f"{admin.endpoint}/{name}/doc.txt") == 403  # the public grant is ignored


def test_put_object_with_an_acl_needs_put_object_acl(admin: AwsEnv, s3) -> None:
    name = _acl_bucket(s3)
    writer = admin.client_for(admin.new_user({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": "s3:PutObject", "Resource": "*"}]}), "s3")
    writer.put_object(Bucket=name, Key="plain", Body=b"x")
    with pytest.raises(ClientError) as e:
        writer.put_object(Bucket=name, Key="acl", Body=b"x", ACL="bucket-owner-read")
    status, code, message = _error(e)
    assert (status, code) == (403, "AccessDenied") and "s3:PutObjectAcl" in message


def test_malformed_acls(s3) -> None:
    name = _acl_bucket(s3)
    owner = _canonical_id(s3)
    with pytest.raises(ClientError) as e:
        s3.put_bucket_acl(Bucket=name, ACL="private", GrantRead=f"id={owner}")
    assert _error(e) == (400, "InvalidRequest", "Specifying both Canned ACLs and Header Grants is not allowed")
    with pytest.raises(ClientError) as e:
        s3.put_object(Bucket=name, Key="k", Body=b"x", ACL="world-readable")
    assert _error(e)[:2] == (400, "InvalidArgument")
    with pytest.raises(ClientError) as e:
        s3.put_bucket_acl(Bucket=name, GrantRead="id=" + "0" * 64)
    assert _error(e) == (400, "InvalidArgument", "Invalid id")
    with pytest.raises(ClientError) as e:
        s3.put_bucket_acl(Bucket=name, GrantRead="uri=http://example.com/everyone")
    assert _error(e) == (400, "InvalidArgument", "Invalid group uri")
    with pytest.raises(ClientError) as e:  # an AccessControlPolicy naming another owner gives nothing away
        s3.put_object_acl(Bucket=name, Key="doc.txt", AccessControlPolicy={
            "Owner": {"ID": "0" * 64}, "Grants": []})
    assert _error(e)[:2] == (400, "InvalidArgument")
    with pytest.raises(ClientError) as e:
        s3.put_object_acl(Bucket=name, Key="doc.txt", AccessControlPolicy={
            "Owner": {"ID": owner}, "Grants": [{"Grantee": {"Type": "Group", "URI": ALL_USERS}, "Permission": "ALL"}]})
    assert _error(e)[:2] == (400, "MalformedACLError")
    # none of that changed the ACL
    grants = s3.get_object_acl(Bucket=name, Key="doc.txt")["Grants"]
    assert grants == [{"Grantee": {"Type": "CanonicalUser", "ID": owner}, "Permission": "FULL_CONTROL"}]
    # an explicit body works
    s3.put_object_acl(Bucket=name, Key="doc.txt", AccessControlPolicy={
        "Owner": {"ID": owner}, "Grants": [{"Grantee": {"Type": "CanonicalUser", "ID": owner},
                                             "Permission": "READ"}]})
    assert s3.get_object_acl(Bucket=name, Key="doc.txt")["Grants"][0]["Permission"] == "READ"
    assert re.fullmatch(r"[0-9a-f]{64}", owner)
