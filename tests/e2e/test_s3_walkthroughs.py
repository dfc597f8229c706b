"""The S3 User Guide's access-control walkthroughs, step by step, with real clients and
two or three accounts: "Example walkthroughs: Managing access to your Amazon S3
resources" (Examples 1-4), "Controlling access to a bucket with user policies" and
"Examples of Amazon S3 bucket policies". Each step's outcome is what the guide says
AWS answers, in AWS's words (S3 explains a denial only within one account)."""

from __future__ import annotations

import json
import subprocess
import uuid
from pathlib import Path
from typing import Any

import pytest
import requests
from botocore.config import Config

from . import totp
from .conftest import VENV_BIN, AwsEnv, Server, aws_error, new_account, new_bucket

ACCESS_DENIED = ("AccessDenied", "Access Denied", 403)


def _policy(*statements: dict[str, Any]) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements)})


def _taking_uploads(s3: Any, prefix: str, ownership: str, uploader: str) -> str:
    """A new bucket with `ownership` whose policy lets account `uploader` put objects."""
    bucket = f"{prefix}-{uuid.uuid4().hex[:12]}"
    s3.create_bucket(Bucket=bucket, ObjectOwnership=ownership)
    s3.put_bucket_policy(Bucket=bucket, Policy=_policy({
        "Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{uploader}:root"}, "Action": "s3:PutObject",
        "Resource": f"arn:aws:s3:::{bucket}/*"}))
    return bucket


def _user(env: AwsEnv, name: str, policy: dict[str, Any] | None = None) -> dict[str, Any]:
    """A named IAM user (policies name users by name in these walkthroughs): its key."""
    iam: Any = env.client("iam")
    iam.create_user(UserName=name)
    if policy is not None:
        iam.put_user_policy(UserName=name, PolicyName="inline", PolicyDocument=json.dumps(policy))
    return iam.create_access_key(UserName=name)["AccessKey"]


def _denied(who: str, action: str, resource: str | None, why: str) -> tuple[str, str, int]:
    on = f' on resource: "{resource}"' if resource else ""
    return "AccessDenied", f"User: {who} is not authorized to perform: {action}{on} {why}", 403


def _no_identity_policy(action: str) -> str:
    return f"because no identity-based policy allows the {action} action"


@pytest.fixture(scope="module")
def account_b(server: Server, tmp_path_factory: pytest.TempPathFactory) -> tuple[AwsEnv, str]:
    return new_account(server, tmp_path_factory.mktemp("walk-b"), "walk-b")


@pytest.fixture(scope="module")
def account_c(server: Server, tmp_path_factory: pytest.TempPathFactory) -> tuple[AwsEnv, str]:
    return new_account(server, tmp_path_factory.mktemp("walk-c"), "walk-c")


def test_user_policies_walkthrough_console_list_home_folders(server: Server, admin: AwsEnv, account: str,
                                                              tmp_path: Path) -> None:
    """"Controlling access to a bucket with user policies": a group policy lets Alice and
    Bob see the bucket list (s3:ListAllMyBuckets and s3:GetBucketLocation on
    "arn:aws:s3:::*", as the guide writes it), list the bucket's root (s3:prefix "" and
    s3:delimiter "/") and work in their own home folder (${aws:username})."""
    s3: Any = admin.client("s3")
    iam: Any = admin.client("iam")
    bucket = new_bucket(s3, "companybucket")
    tag = uuid.uuid4().hex[:6]
    alice_name, bob_name, group = f"Alice{tag}", f"Bob{tag}", f"Consultants{tag}"
    for key in ("Private/privDoc1.txt", "Development/project1.xls", "s3-dg.pdf",
                f"home/{alice_name}/a.txt", f"home/{bob_name}/b.txt"):
        s3.put_object(Bucket=bucket, Key=key, Body=b"x")
    iam.create_group(GroupName=group)
    alice_key, bob_key = _user(admin, alice_name), _user(admin, bob_name)
    for name in (alice_name, bob_name):
        iam.add_user_to_group(GroupName=group, UserName=name)
    alice, bob = admin.client_for(alice_key, "s3"), admin.client_for(bob_key, "s3")
    alice_arn = f"arn:aws:iam::{account}:user/{alice_name}"

    # Step 4.1: no permissions yet. ListBuckets names no resource in its denial.
    assert aws_error(lambda: alice.list_buckets()) == _denied(
        alice_arn, "s3:ListAllMyBuckets", None, _no_identity_policy("s3:ListAllMyBuckets"))
    iam.put_group_policy(GroupName=group, PolicyName="console", PolicyDocument=_policy({
        "Sid": "AllowGroupToSeeBucketListInTheConsole", "Effect": "Allow",
        "Action": ["s3:ListAllMyBuckets", "s3:GetBucketLocation"], "Resource": ["arn:aws:s3:::*"]}))
    assert bucket in [b["Name"] for b in alice.list_buckets()["Buckets"]]
    assert "LocationConstraint" in alice.get_bucket_location(Bucket=bucket)
    assert aws_error(lambda: alice.list_objects_v2(Bucket=bucket, Delimiter="/")) == _denied(
        alice_arn, "s3:ListBucket", f"arn:aws:s3:::{bucket}", _no_identity_policy("s3:ListBucket"))

    # Step 4.2: the bucket's root level only, as the console asks for it.
    iam.put_group_policy(GroupName=group, PolicyName="root", PolicyDocument=_policy({
        "Sid": "AllowRootLevelListingOfCompanyBucket", "Effect": "Allow", "Action": "s3:ListBucket",
        "Resource": f"arn:aws:s3:::{bucket}",
        "Condition": {"StringEquals": {"s3:prefix": [""], "s3:delimiter": ["/"]}}}))
    root = alice.list_objects_v2(Bucket=bucket, Delimiter="/")
    assert [p["Prefix"] for p in root["CommonPrefixes"]] == ["Development/", "Private/", "home/"]
    assert [o["Key"] for o in root["Contents"]] == ["s3-dg.pdf"]
    assert aws_error(lambda: alice.list_objects_v2(Bucket=bucket))[0] == "AccessDenied"  # no delimiter
    assert aws_error(lambda: alice.list_objects_v2(Bucket=bucket, Prefix="Development/", Delimiter="/"))[0] \
        == "AccessDenied"

    # Step 5: home folders, one group policy for everyone through ${aws:username}.
    iam.put_group_policy(GroupName=group, PolicyName="home", PolicyDocument=_policy(
        {"Sid": "AllowListingOfUserFolder", "Effect": "Allow", "Action": "s3:ListBucket",
         "Resource": f"arn:aws:s3:::{bucket}",
         "Condition": {"StringLike": {"s3:prefix": ["home/${aws:username}/*"]}}},
        {"Sid": "AllowAllS3ActionsInUserFolder", "Effect": "Allow", "Action": ["s3:GetObject", "s3:PutObject"],
         "Resource": f"arn:aws:s3:::{bucket}/home/${{aws:username}}/*"}))
    alice.put_object(Bucket=bucket, Key=f"home/{alice_name}/new.txt", Body=b"x")
    assert [o["Key"] for o in alice.list_objects_v2(Bucket=bucket, Prefix=f"home/{alice_name}/")["Contents"]] \
        == [f"home/{alice_name}/a.txt", f"home/{alice_name}/new.txt"]
    assert bob.get_object(Bucket=bucket, Key=f"home/{bob_name}/b.txt")["Body"].read() == b"x"
    assert aws_error(lambda: alice.get_object(Bucket=bucket, Key=f"home/{bob_name}/b.txt")) == _denied(
        alice_arn, "s3:GetObject", f"arn:aws:s3:::{bucket}/home/{bob_name}/b.txt", _no_identity_policy("s3:GetObject"))

    # The same through the aws CLI, as the guide runs it (Alice's key, no profile).
    env = {**admin.env, "AWS_ACCESS_KEY_ID": alice_key["AccessKeyId"],
           "AWS_SECRET_ACCESS_KEY": alice_key["SecretAccessKey"], "AWS_DEFAULT_REGION": "us-east-1"}

    def cli(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([str(VENV_BIN / "aws"), "--endpoint-url", admin.endpoint, *args],
                              capture_output=True, text=True, env=env, timeout=60)

    listed = cli("s3", "ls")
    assert listed.returncode == 0 and bucket in listed.stdout, listed.stderr
    home = cli("s3", "ls", f"s3://{bucket}/home/{alice_name}/")
    assert home.returncode == 0 and "new.txt" in home.stdout, home.stderr
    other = cli("s3", "ls", f"s3://{bucket}/home/{bob_name}/")
    assert other.returncode != 0 and "when calling the ListObjectsV2 operation: User: " in other.stderr
    assert "is not authorized to perform: s3:ListBucket" in other.stderr

    # Bob's explicit Deny outside Finance/ (step 6) wins over the group's Allow.
    iam.put_user_policy(UserName=bob_name, PolicyName="deny", PolicyDocument=_policy({
        "Sid": "ExplicitlyDenyAnyRequestsForAllOtherFoldersExceptFinance", "Effect": "Deny",
        "Action": "s3:ListBucket", "Resource": f"arn:aws:s3:::{bucket}",
        "Condition": {"StringNotLike": {"s3:prefix": ["Finance/*", ""]}, "Null": {"s3:prefix": "false"}}}))
    assert aws_error(lambda: bob.list_objects_v2(Bucket=bucket, Prefix=f"home/{bob_name}/")) == _denied(
        f"arn:aws:iam::{account}:user/{bob_name}", "s3:ListBucket", f"arn:aws:s3:::{bucket}",
        "with an explicit deny in an identity-based policy")


def test_list_all_my_buckets_is_not_granted_on_one_bucket(admin: AwsEnv, account: str) -> None:
    """s3:ListAllMyBuckets has no resource type: a statement naming one bucket's ARN does
    not grant it (only "*" or "arn:aws:s3:::*" do); `skyhold explain` says what would."""
    s3: Any = admin.client("s3")
    bucket = new_bucket(s3, "walk-one")
    key = admin.new_user({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": ["s3:ListAllMyBuckets", "s3:ListBucket"], "Resource": f"arn:aws:s3:::{bucket}"}]})
    user = admin.client_for(key, "s3")
    code, message, status = aws_error(lambda: user.list_buckets())
    assert (code, status) == ("AccessDenied", 403)
    assert message.endswith("is not authorized to perform: s3:ListAllMyBuckets because no identity-based policy "
                            "allows the s3:ListAllMyBuckets action")
    assert user.list_objects_v2(Bucket=bucket)["KeyCount"] == 0


def test_example1_bucket_owner_grants_its_user(admin: AwsEnv, account: str) -> None:
    """Example 1: a bucket policy of account A grants its user Dave bucket and object
    permissions; what it does not grant is refused in AWS's same-account words."""
    s3: Any = admin.client("s3")
    bucket = new_bucket(s3, "walk-ex1")
    name = f"Dave{uuid.uuid4().hex[:6]}"
    dave = admin.client_for(_user(admin, name), "s3")
    dave_arn = f"arn:aws:iam::{account}:user/{name}"
    assert aws_error(lambda: dave.list_objects_v2(Bucket=bucket)) == _denied(
        dave_arn, "s3:ListBucket", f"arn:aws:s3:::{bucket}", _no_identity_policy("s3:ListBucket"))
    s3.put_bucket_policy(Bucket=bucket, Policy=_policy(
        {"Sid": "statement1", "Effect": "Allow", "Principal": {"AWS": dave_arn},
         "Action": ["s3:GetBucketLocation", "s3:ListBucket"], "Resource": f"arn:aws:s3:::{bucket}"},
        {"Sid": "statement2", "Effect": "Allow", "Principal": {"AWS": dave_arn},
         "Action": "s3:GetObject", "Resource": f"arn:aws:s3:::{bucket}/*"}))
    s3.put_object(Bucket=bucket, Key="doc", Body=b"one")
    assert dave.list_objects_v2(Bucket=bucket)["KeyCount"] == 1
    assert dave.get_object(Bucket=bucket, Key="doc")["Body"].read() == b"one"
    assert dave.get_bucket_location(Bucket=bucket)["LocationConstraint"] is None
    assert aws_error(lambda: dave.get_object(Bucket=bucket, Key="missing"))[0] == "NoSuchKey"  # he may list
    assert aws_error(lambda: dave.put_object(Bucket=bucket, Key="new", Body=b"x")) == _denied(
        dave_arn, "s3:PutObject", f"arn:aws:s3:::{bucket}/new", _no_identity_policy("s3:PutObject"))


def test_example2_cross_account_bucket_permissions(admin: AwsEnv, account_b: tuple[AwsEnv, str]) -> None:
    """Example 2: account A's bucket policy grants account B; B's administrator may use
    it at once, B's user Dave only once B delegates it; another account's caller hears
    only "Access Denied", explicit Deny or not."""
    env_b, id_b = account_b
    s3: Any = admin.client("s3")
    bucket = new_bucket(s3, "walk-ex2")
    s3.put_object(Bucket=bucket, Key="doc", Body=b"x")
    grant = {"Sid": "Example permissions", "Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{id_b}:root"},
             "Action": ["s3:GetLifecycleConfiguration", "s3:ListBucket"], "Resource": f"arn:aws:s3:::{bucket}"}
    s3.put_bucket_policy(Bucket=bucket, Policy=_policy(grant))
    admin_b: Any = env_b.client("s3")
    assert admin_b.list_objects_v2(Bucket=bucket)["KeyCount"] == 1
    assert aws_error(lambda: admin_b.get_object(Bucket=bucket, Key="doc")) == ACCESS_DENIED

    dave_key = _user(env_b, f"Dave{uuid.uuid4().hex[:6]}")
    dave = env_b.client_for(dave_key, "s3")
    assert aws_error(lambda: dave.list_objects_v2(Bucket=bucket)) == ACCESS_DENIED  # B has not delegated yet
    env_b.client("iam").put_user_policy(  # type: ignore[attr-defined]
        UserName=dave_key["UserName"], PolicyName="delegated",
        PolicyDocument=_policy({"Effect": "Allow", "Action": "s3:ListBucket", "Resource": f"arn:aws:s3:::{bucket}"}))
    assert dave.list_objects_v2(Bucket=bucket)["KeyCount"] == 1
    assert aws_error(lambda: dave.get_bucket_lifecycle_configuration(Bucket=bucket)) == ACCESS_DENIED

    s3.put_bucket_policy(Bucket=bucket, Policy=_policy(grant, {
        "Sid": "Deny permission", "Effect": "Deny", "Principal": {"AWS": f"arn:aws:iam::{id_b}:root"},
        "Action": "s3:ListBucket", "Resource": f"arn:aws:s3:::{bucket}"}))
    assert aws_error(lambda: dave.list_objects_v2(Bucket=bucket)) == ACCESS_DENIED
    assert aws_error(lambda: admin_b.list_objects_v2(Bucket=bucket)) == ACCESS_DENIED


@pytest.mark.parametrize("ownership, a_reads_plain", [("BucketOwnerEnforced", True), ("ObjectWriter", False),
                                                      ("BucketOwnerPreferred", False)])
def test_example3_objects_the_bucket_owner_does_not_own(admin: AwsEnv, account_b: tuple[AwsEnv, str],
                                                        ownership: str, a_reads_plain: bool) -> None:
    """Example 3 and Object Ownership: account B uploads into A's bucket. With ACLs
    disabled (BucketOwnerEnforced) A owns every object and B's ACLs other than
    bucket-owner-full-control are refused; with ObjectWriter B owns what it wrote and A
    reads it only through B's ACL grant; BucketOwnerPreferred gives A the objects B
    uploads with bucket-owner-full-control. The bucket owner may delete anything."""
    env_b, id_b = account_b
    s3: Any = admin.client("s3")
    bucket = _taking_uploads(s3, "walk-ex3", ownership, id_b)
    writer: Any = env_b.client("s3")
    writer.put_object(Bucket=bucket, Key="plain", Body=b"p")
    writer.put_object(Bucket=bucket, Key="bofc", Body=b"b", ACL="bucket-owner-full-control")
    if ownership == "BucketOwnerEnforced":
        assert aws_error(lambda: writer.put_object(Bucket=bucket, Key="x", Body=b"x", ACL="public-read")) == (
            "AccessControlListNotSupported", "The bucket does not allow ACLs", 400)
    if a_reads_plain:
        assert s3.get_object(Bucket=bucket, Key="plain")["Body"].read() == b"p"
    else:
        assert aws_error(lambda: s3.get_object(Bucket=bucket, Key="plain")) == ACCESS_DENIED
        assert writer.get_object(Bucket=bucket, Key="plain")["Body"].read() == b"p"  # the writer owns it
    assert s3.get_object(Bucket=bucket, Key="bofc")["Body"].read() == b"b"
    owner_id = s3.get_bucket_acl(Bucket=bucket)["Owner"]["ID"]
    assert (s3.get_object_acl(Bucket=bucket, Key="bofc")["Owner"]["ID"] == owner_id) == (ownership != "ObjectWriter")
    s3.delete_object(Bucket=bucket, Key="plain")


def test_require_bucket_owner_full_control_and_acl_grant(admin: AwsEnv, account_b: tuple[AwsEnv, str]) -> None:
    """The bucket policy that requires s3:x-amz-acl bucket-owner-full-control of other
    accounts' uploads; and (Example 3's ACL step) an object B owns but grants account A
    full control on, which A's user reads with his own identity policy."""
    env_b, id_b = account_b
    s3: Any = admin.client("s3")
    bucket = f"walk-bofc-{uuid.uuid4().hex[:12]}"
    s3.create_bucket(Bucket=bucket, ObjectOwnership="ObjectWriter")
    owner_id = s3.get_bucket_acl(Bucket=bucket)["Owner"]["ID"]
    s3.put_bucket_policy(Bucket=bucket, Policy=_policy(
        {"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{id_b}:root"}, "Action": "s3:PutObject",
         "Resource": f"arn:aws:s3:::{bucket}/*",
         "Condition": {"StringEquals": {"s3:x-amz-acl": "bucket-owner-full-control"}}},
        {"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{id_b}:root"}, "Action": "s3:PutObject",
         "Resource": f"arn:aws:s3:::{bucket}/granted/*",
         "Condition": {"StringEquals": {"s3:x-amz-grant-full-control": f"id={owner_id}"}}}))
    writer: Any = env_b.client("s3")
    assert aws_error(lambda: writer.put_object(Bucket=bucket, Key="k", Body=b"x")) == ACCESS_DENIED
    writer.put_object(Bucket=bucket, Key="k", Body=b"x", ACL="bucket-owner-full-control")
    writer.put_object(Bucket=bucket, Key="granted/k", Body=b"g", GrantFullControl=f"id={owner_id}")
    dave = admin.client_for(admin.new_user({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": "s3:GetObject", "Resource": f"arn:aws:s3:::{bucket}/*"}]}), "s3")
    assert dave.get_object(Bucket=bucket, Key="granted/k")["Body"].read() == b"g"
    assert dave.get_object(Bucket=bucket, Key="k")["Body"].read() == b"x"


def test_example4_role_reads_objects_of_a_third_account(admin: AwsEnv, account: str,
                                                        account_b: tuple[AwsEnv, str],
                                                        account_c: tuple[AwsEnv, str]) -> None:
    """Example 4: account C uploads into A's (ACL-enabled) bucket; A's role, assumed by
    B's user, reads what C gave A (bucket-owner-full-control), not what C kept to itself."""
    (env_b, id_b), (env_c, id_c) = account_b, account_c
    s3: Any = admin.client("s3")
    iam: Any = admin.client("iam")
    bucket = _taking_uploads(s3, "walk-ex4", "ObjectWriter", id_c)
    uploader: Any = env_c.client("s3")
    uploader.put_object(Bucket=bucket, Key="kept", Body=b"k")
    uploader.put_object(Bucket=bucket, Key="given", Body=b"g", ACL="bucket-owner-full-control")
    role = f"examplerole{uuid.uuid4().hex[:6]}"
    iam.create_role(RoleName=role, AssumeRolePolicyDocument=_policy({
        "Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{id_b}:root"}, "Action": "sts:AssumeRole"}))
    iam.put_role_policy(RoleName=role, PolicyName="read", PolicyDocument=_policy({
        "Effect": "Allow", "Action": ["s3:GetObject", "s3:ListBucket"],
        "Resource": [f"arn:aws:s3:::{bucket}", f"arn:aws:s3:::{bucket}/*"]}))
    role_arn = f"arn:aws:iam::{account}:role/{role}"
    dave = env_b.client_for(_user(env_b, f"Dave{uuid.uuid4().hex[:6]}", {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": "sts:AssumeRole", "Resource": role_arn}]}), "sts")
    creds = dave.assume_role(RoleArn=role_arn, RoleSessionName="dave")["Credentials"]
    as_role = admin.client_for(creds, "s3")
    assert as_role.list_objects_v2(Bucket=bucket)["KeyCount"] == 2
    assert as_role.get_object(Bucket=bucket, Key="given")["Body"].read() == b"g"
    assert aws_error(lambda: as_role.get_object(Bucket=bucket, Key="kept")) == ACCESS_DENIED
    assert aws_error(lambda: as_role.delete_object(Bucket=bucket, Key="given")) == _denied(
        f"arn:aws:sts::{account}:assumed-role/{role}/dave", "s3:DeleteObject", f"arn:aws:s3:::{bucket}/given",
        _no_identity_policy("s3:DeleteObject"))


def test_bucket_policy_examples_encryption_tags_referer(admin: AwsEnv, account: str) -> None:
    """"Examples of Amazon S3 bucket policies": require SSE-KMS with one key, deny
    unencrypted uploads (Null), read by s3:ExistingObjectTag, write only allowed tag
    keys (s3:RequestObjectTagKeys), and anonymous reads only from a Referer."""
    s3: Any = admin.client("s3")
    kms: Any = admin.client("kms")
    dev_key = admin.new_user({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": ["s3:*", "kms:*"], "Resource": "*"}]})
    dev = admin.client_for(dev_key, "s3")
    key_arn = kms.create_key()["KeyMetadata"]["Arn"]

    kms_bucket = new_bucket(s3, "walk-kms")
    s3.put_bucket_policy(Bucket=kms_bucket, Policy=_policy({
        "Sid": "RequireKey", "Effect": "Deny", "Principal": "*", "Action": "s3:PutObject",
        "Resource": f"arn:aws:s3:::{kms_bucket}/*",
        "Condition": {"StringNotEquals": {"s3:x-amz-server-side-encryption-aws-kms-key-id": key_arn}}}))
    code, message, _ = aws_error(lambda: dev.put_object(Bucket=kms_bucket, Key="k", Body=b"1",
                                                        ServerSideEncryption="AES256"))
    assert code == "AccessDenied" and message.endswith("with an explicit deny in a resource-based policy")
    put = dev.put_object(Bucket=kms_bucket, Key="k", Body=b"1", ServerSideEncryption="aws:kms", SSEKMSKeyId=key_arn)
    assert put["SSEKMSKeyId"] == key_arn

    plain_bucket = new_bucket(s3, "walk-null")
    s3.put_bucket_policy(Bucket=plain_bucket, Policy=_policy({
        "Sid": "DenyUnEncryptedObjectUploads", "Effect": "Deny", "Principal": "*", "Action": "s3:PutObject",
        "Resource": f"arn:aws:s3:::{plain_bucket}/*",
        "Condition": {"Null": {"s3:x-amz-server-side-encryption": "true"}}}))
    assert aws_error(lambda: dev.put_object(Bucket=plain_bucket, Key="k", Body=b"1"))[0] == "AccessDenied"
    assert aws_error(lambda: dev.create_multipart_upload(Bucket=plain_bucket, Key="m"))[0] == "AccessDenied"
    dev.put_object(Bucket=plain_bucket, Key="k", Body=b"1", ServerSideEncryption="AES256")

    tag_bucket = new_bucket(s3, "walk-tags")
    s3.put_object(Bucket=tag_bucket, Key="prod", Body=b"p", Tagging="environment=production")
    s3.put_object(Bucket=tag_bucket, Key="dev", Body=b"d", Tagging="environment=dev")
    name = f"tagged{uuid.uuid4().hex[:6]}"
    reader = admin.client_for(_user(admin, name), "s3")
    arn = f"arn:aws:iam::{account}:user/{name}"
    s3.put_bucket_policy(Bucket=tag_bucket, Policy=_policy(
        {"Effect": "Allow", "Principal": {"AWS": arn}, "Action": "s3:GetObject",
         "Resource": f"arn:aws:s3:::{tag_bucket}/*",
         "Condition": {"StringEquals": {"s3:ExistingObjectTag/environment": "production"}}},
        {"Effect": "Allow", "Principal": {"AWS": arn}, "Action": ["s3:PutObject", "s3:PutObjectTagging"],
         "Resource": f"arn:aws:s3:::{tag_bucket}/*",
         "Condition": {"ForAllValues:StringLike": {"s3:RequestObjectTagKeys": ["Owner", "CreationDate"]}}}))
    assert reader.get_object(Bucket=tag_bucket, Key="prod")["Body"].read() == b"p"
    assert aws_error(lambda: reader.get_object(Bucket=tag_bucket, Key="dev")) == _denied(
        arn, "s3:GetObject", f"arn:aws:s3:::{tag_bucket}/dev", _no_identity_policy("s3:GetObject"))
    reader.put_object(Bucket=tag_bucket, Key="n", Body=b"x", Tagging="Owner=me")
    assert aws_error(lambda: reader.put_object(Bucket=tag_bucket, Key="n", Body=b"x", Tagging="Other=x"))[0] \
        == "AccessDenied"

    web = new_bucket(s3, "walk-referer")
    s3.put_object(Bucket=web, Key="index.html", Body=b"hi")
    s3.delete_public_access_block(Bucket=web)
    s3.put_bucket_policy(Bucket=web, Policy=_policy({
        "Sid": "Allow only GET requests originating from www.example.com and example.com.", "Effect": "Allow",
        "Principal": "*", "Action": ["s3:GetObject", "s3:GetObjectVersion"], "Resource": f"arn:aws:s3:::{web}/*",
        "Condition": {"StringLike": {"aws:Referer": ["http://www.example.com/*", "http://example.com/*"]}}}))
    url = f"{admin.endpoint}/{web}/index.html"
    assert requests.get(url, timeout=10).status_code == 403
    assert requests.get(url, headers={"Referer": "http://www.example.com/page"}, timeout=10).content == b"hi"


def test_bucket_policy_requires_mfa_and_header_signatures(admin: AwsEnv, account: str) -> None:
    """MFA: a Deny on taxdocuments/ when aws:MultiFactorAuthAge is absent (a long-term key
    or a session without MFA) or over an hour, and a session from GetSessionToken with a
    real TOTP code passes; and s3:authType refusing presigned URLs."""
    s3: Any = admin.client("s3")
    iam: Any = admin.client("iam")
    name = f"mfa{uuid.uuid4().hex[:6]}"
    key = _user(admin, name, {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": "s3:*", "Resource": "*"}]})
    serial, seed, step = totp.enable_virtual_device(iam, name, name)
    bucket = new_bucket(s3, "walk-mfa")
    s3.put_object(Bucket=bucket, Key="taxdocuments/2025.pdf", Body=b"tax")
    s3.put_bucket_policy(Bucket=bucket, Policy=_policy(
        {"Sid": "NoMFA", "Effect": "Deny", "Principal": "*", "Action": "s3:*",
         "Resource": f"arn:aws:s3:::{bucket}/taxdocuments/*", "Condition": {"Null": {"aws:MultiFactorAuthAge": True}}},
        {"Sid": "OldMFA", "Effect": "Deny", "Principal": "*", "Action": "s3:*",
         "Resource": f"arn:aws:s3:::{bucket}/taxdocuments/*",
         "Condition": {"NumericGreaterThan": {"aws:MultiFactorAuthAge": 3600}}}))
    sts = admin.client_for(key, "sts")
    with_mfa = admin.client_for(sts.get_session_token(SerialNumber=serial, TokenCode=totp.code(seed, step + 1))
                                ["Credentials"], "s3")
    assert with_mfa.get_object(Bucket=bucket, Key="taxdocuments/2025.pdf")["Body"].read() == b"tax"
    for client in (admin.client_for(key, "s3"), admin.client_for(sts.get_session_token()["Credentials"], "s3")):
        assert aws_error(lambda: client.get_object(Bucket=bucket, Key="taxdocuments/2025.pdf")) == _denied(
            f"arn:aws:iam::{account}:user/{name}", "s3:GetObject", f"arn:aws:s3:::{bucket}/taxdocuments/2025.pdf",
            "with an explicit deny in a resource-based policy")

    s3.put_bucket_policy(Bucket=bucket, Policy=_policy({
        "Sid": "Allow-only-header-auth", "Effect": "Deny", "Principal": "*", "Action": "s3:*",
        "Resource": f"arn:aws:s3:::{bucket}/*", "Condition": {"StringNotEquals": {"s3:authType": "REST-HEADER"}}}))
    signer = admin.session().client("s3", config=Config(signature_version="s3v4"))
    url = signer.generate_presigned_url("get_object", Params={"Bucket": bucket, "Key": "taxdocuments/2025.pdf"})
    answer = requests.get(url, timeout=10)
    assert answer.status_code == 403 and b"with an explicit deny in a resource-based policy" in answer.content
    assert s3.get_object(Bucket=bucket, Key="taxdocuments/2025.pdf")["Body"].read() == b"tax"


def test_create_bucket_requires_bucket_owner_enforced(admin: AwsEnv, account: str) -> None:
    """Object Ownership: an identity policy that lets a user create buckets only with ACLs
    disabled (s3:x-amz-object-ownership BucketOwnerEnforced)."""
    key = admin.new_user({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": "s3:*", "Resource": "*"},
        {"Effect": "Deny", "Action": ["s3:CreateBucket", "s3:PutBucketOwnershipControls"], "Resource": "*",
         "Condition": {"StringNotEquals": {"s3:x-amz-object-ownership": "BucketOwnerEnforced"}}}]})
    user = admin.client_for(key, "s3")
    name = f"walk-own-{uuid.uuid4().hex[:12]}"
    code, message, status = aws_error(lambda: user.create_bucket(Bucket=name, ObjectOwnership="ObjectWriter"))
    assert (code, status) == ("AccessDenied", 403)
    assert message.endswith(f'on resource: "arn:aws:s3:::{name}" with an explicit deny in an identity-based policy')
    user.create_bucket(Bucket=name, ObjectOwnership="BucketOwnerEnforced")


def test_missing_key_without_list_bucket_names_s3_list_bucket(admin: AwsEnv, account: str) -> None:
    """A GetObject of a missing key by a same-account caller who may not list the bucket:
    AWS answers 403 naming the permission that decided it, s3:ListBucket ("User: ... is
    not authorized to perform: s3:ListBucket on resource: "arn:aws:s3:::bucket" because
    no identity-based policy allows the s3:ListBucket action")."""
    s3: Any = admin.client("s3")
    bucket = new_bucket(s3, "walk-missing")
    name = f"reader{uuid.uuid4().hex[:6]}"
    reader = admin.client_for(_user(admin, name, {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": "s3:GetObject", "Resource": f"arn:aws:s3:::{bucket}/*"}]}), "s3")
    assert aws_error(lambda: reader.get_object(Bucket=bucket, Key="missing")) == _denied(
        f"arn:aws:iam::{account}:user/{name}", "s3:ListBucket", f"arn:aws:s3:::{bucket}",
        _no_identity_policy("s3:ListBucket"))


def test_bucket_policy_action_must_apply_to_a_resource(admin: AwsEnv, account: str) -> None:
    """A learner's first bucket policy often grants s3:GetObject on the bucket's ARN, or
    s3:ListBucket on its objects: S3 refuses it (MalformedPolicy "Action does not apply
    to any resource(s) in statement"); one action per matching ARN is accepted."""
    s3: Any = admin.client("s3")
    bucket = new_bucket(s3, "walk-mismatch")
    arn = f"arn:aws:s3:::{bucket}"

    def statement(actions: list[str], resources: list[str]) -> str:
        return _policy({"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{account}:root"},
                        "Action": actions, "Resource": resources})

    mismatch = ("MalformedPolicy", "Action does not apply to any resource(s) in statement", 400)
    for actions, resources in ((["s3:GetObject", "s3:ListBucket"], [arn]), (["s3:ListBucket"], [f"{arn}/*"]),
                               (["s3:PutObject", "s3:GetObject", "s3:ListBucket"], [f"{arn}/*"])):
        assert aws_error(lambda: s3.put_bucket_policy(Bucket=bucket, Policy=statement(actions, resources))) == mismatch
    s3.put_bucket_policy(Bucket=bucket, Policy=statement(["s3:GetObject", "s3:ListBucket"], [arn, f"{arn}/*"]))
    s3.put_bucket_policy(Bucket=bucket, Policy=statement(["s3:Get*"], [f"{arn}/*"]))
