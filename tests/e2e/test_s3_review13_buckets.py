"""Review 13 of S3 bucket configuration: what earlier rounds missed, each checked
against AWS's documented or recorded behaviour."""

from __future__ import annotations

import base64
import hashlib
import json
import uuid
import zlib
from pathlib import Path
from typing import Any

import pytest
import requests
from botocore.auth import S3SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from botocore.exceptions import ClientError

from .conftest import AwsEnv, Server, error_and_status, new_account


def _bucket(s3: Any, prefix: str) -> str:
    name = f"r13-{prefix}-{uuid.uuid4().hex[:10]}"
    s3.create_bucket(Bucket=name)
    return name


# --- ownership controls ------------------------------------------------------------------

def test_deleted_ownership_controls_enable_acls_and_writer_ownership(admin: AwsEnv, server: Server,
                                                                      tmp_path: Path) -> None:
    """Deleting a bucket's ownership controls leaves it as buckets were before them:
    ACLs count (PutBucketAcl works, as in LocalStack's AWS-validated tests, which delete
    them to set public-read) and an object another account writes is that account's
    (ObjectWriter): the bucket owner cannot read it without a grant."""
    s3 = admin.client("s3", region_name="us-east-1")
    name = _bucket(s3, "own")
    s3.delete_bucket_ownership_controls(Bucket=name)
    error, status = error_and_status(lambda: s3.get_bucket_ownership_controls(Bucket=name))
    assert (error["Code"], status) == ("OwnershipControlsNotFoundError", 404)
    s3.put_bucket_acl(Bucket=name, ACL="log-delivery-write")  # refused while ACLs are disabled
    grantees = [g["Grantee"].get("URI") for g in s3.get_bucket_acl(Bucket=name)["Grants"]]
    assert "http://acs.amazonaws.com/groups/s3/LogDelivery" in grantees

    writer, writer_account = new_account(server, tmp_path, "r13own")
    s3.put_bucket_policy(Bucket=name, Policy=json.dumps({"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{writer_account}:root"},
        "Action": "s3:PutObject", "Resource": f"arn:aws:s3:::{name}/*"}]}))
    writer.client("s3", region_name="us-east-1").put_object(Bucket=name, Key="theirs", Body=b"x")
    error, status = error_and_status(lambda: s3.get_object(Bucket=name, Key="theirs"))
    assert (error["Code"], status) == ("AccessDenied", 403)
    # BucketOwnerEnforced (once the ACL is private) makes the bucket owner own every object.
    s3.put_bucket_acl(Bucket=name, ACL="private")
    s3.put_bucket_ownership_controls(Bucket=name, OwnershipControls={
        "Rules": [{"ObjectOwnership": "BucketOwnerEnforced"}]})
    assert s3.get_object(Bucket=name, Key="theirs")["Body"].read() == b"x"



def test_acls_granting_others_keep_bucket_owner_enforced_off(admin: AwsEnv) -> None:
    """"If your PutBucketOwnershipControls request sets Bucket owner enforced for a bucket
    with a bucket ACL that grants permissions to others, the request fails" with
    InvalidBucketAclWithObjectOwnership (S3 User Guide, Object Ownership troubleshooting).
    Once the ACL is reset to private it succeeds."""
    s3 = admin.client("s3", region_name="us-east-1")
    name = f"r13-enf-{uuid.uuid4().hex[:10]}"
    s3.create_bucket(Bucket=name, ObjectOwnership="ObjectWriter")
    s3.put_bucket_acl(Bucket=name, ACL="log-delivery-write")
    enforced = {"Rules": [{"ObjectOwnership": "BucketOwnerEnforced"}]}
    error, status = error_and_status(lambda: s3.put_bucket_ownership_controls(Bucket=name,
                                                                              OwnershipControls=enforced))
    assert (error["Code"], status) == ("InvalidBucketAclWithObjectOwnership", 400)
    assert s3.get_bucket_ownership_controls(Bucket=name)["OwnershipControls"]["Rules"] == [
        {"ObjectOwnership": "ObjectWriter"}]
    s3.put_bucket_acl(Bucket=name, ACL="private")
    s3.put_bucket_ownership_controls(Bucket=name, OwnershipControls=enforced)
    assert s3.get_bucket_ownership_controls(Bucket=name)["OwnershipControls"]["Rules"] == enforced["Rules"]

# --- HeadBucket --------------------------------------------------------------------------

def test_head_bucket_names_the_region_when_refused(admin: AwsEnv, server: Server, tmp_path: Path) -> None:
    """"Regardless of the permissions on the bucket, you will receive a response header
    with the correct bucket location" (S3 API reference, HeadBucket): another account's
    403 and an anonymous one carry x-amz-bucket-region; a missing bucket's 404 does not."""
    owner = admin.client("s3", region_name="eu-west-1")
    name = f"r13-head-{uuid.uuid4().hex[:10]}"
    owner.create_bucket(Bucket=name, CreateBucketConfiguration={"LocationConstraint": "eu-west-1"})
    other, _ = new_account(server, tmp_path, "r13head")
    with pytest.raises(ClientError) as refused:
        other.client("s3", region_name="eu-west-1").head_bucket(Bucket=name)
    meta = refused.value.response["ResponseMetadata"]
    assert meta["HTTPStatusCode"] == 403
    assert meta["HTTPHeaders"]["x-amz-bucket-region"] == "eu-west-1"
    anonymous = requests.head(f"{admin.endpoint}/{name}", timeout=10)
    assert (anonymous.status_code, anonymous.headers.get("x-amz-bucket-region")) == (403, "eu-west-1")
    assert anonymous.content == b""
    missing = requests.head(f"{admin.endpoint}/r13-missing-{uuid.uuid4().hex[:10]}", timeout=10)
    assert missing.status_code == 404 and "x-amz-bucket-region" not in missing.headers


# --- configuration bodies must come with a checksum ---------------------------------------

def _signed_put(admin: AwsEnv, path: str, body: bytes, headers: dict[str, str] | None = None) -> requests.Response:
    """A PUT signed as an SDK would sign it, but with only the headers given: no
    Content-MD5 or x-amz-checksum-* unless asked."""
    url = f"{admin.endpoint}{path}"
    request = AWSRequest(method="PUT", url=url, data=body, headers=dict(headers or {}))
    request.headers["x-amz-content-sha256"] = hashlib.sha256(body).hexdigest()
    creds = admin.credentials()
    S3SigV4Auth(Credentials(creds.access_key, creds.secret_key, creds.token), "s3", "us-east-1").add_auth(request)
    return requests.put(url, data=body, headers=dict(request.headers), timeout=10)


_CONFIGURATIONS = {  # query → a valid body
    "tagging": b"<Tagging><TagSet><Tag><Key>k</Key><Value>v</Value></Tag></TagSet></Tagging>",
    "cors": b"<CORSConfiguration><CORSRule><AllowedMethod>GET</AllowedMethod><AllowedOrigin>*</AllowedOrigin>"
            b"</CORSRule></CORSConfiguration>",
    "lifecycle": b"<LifecycleConfiguration><Rule><ID>r</ID><Filter></Filter><Status>Enabled</Status>"
                 b"<Expiration><Days>1</Days></Expiration></Rule></LifecycleConfiguration>",
    "versioning": b"<VersioningConfiguration><Status>Enabled</Status></VersioningConfiguration>",
    "encryption": b"<ServerSideEncryptionConfiguration><Rule><ApplyServerSideEncryptionByDefault>"
                  b"<SSEAlgorithm>AES256</SSEAlgorithm></ApplyServerSideEncryptionByDefault></Rule>"
                  b"</ServerSideEncryptionConfiguration>",
    "ownershipControls": b"<OwnershipControls><Rule><ObjectOwnership>ObjectWriter</ObjectOwnership></Rule>"
                         b"</OwnershipControls>",
    "object-lock": b"<ObjectLockConfiguration><ObjectLockEnabled>Enabled</ObjectLockEnabled>"
                   b"</ObjectLockConfiguration>",
}


# S3 refuses these without a checksum (aws-cli#229, amazonka#369, botocore#3415; S3's
# answer to PutObjectLockConfiguration quoted in versitygw#1301) but takes the others
# without one, as clients that send none rely on (minio-go's SetBucketPolicy).
_CHECKED = ("tagging", "cors", "lifecycle", "object-lock")
_UNCHECKED = ("versioning", "encryption", "ownershipControls")


@pytest.mark.parametrize("query", _CHECKED)
def test_configuration_bodies_need_content_md5_or_a_checksum(admin: AwsEnv, query: str) -> None:
    """S3 answers these configuration PUTs without Content-MD5 (or, since flexible
    checksums, an x-amz-checksum-* header) with InvalidRequest "Missing required header
    for this request: Content-MD5 OR x-amz-checksum-*"."""
    body = _CONFIGURATIONS[query]
    s3 = admin.client("s3", region_name="us-east-1")
    name = _bucket(s3, "md5")
    if query == "object-lock":  # Object Lock comes to versioned buckets only
        s3.put_bucket_versioning(Bucket=name, VersioningConfiguration={"Status": "Enabled"})
    refused = _signed_put(admin, f"/{name}?{query}", body)
    assert refused.status_code == 400, refused.text
    assert "<Code>InvalidRequest</Code>" in refused.text
    message = "Missing required header for this request: Content-MD5 OR x-amz-checksum-*"
    assert f"<Message>{message}</Message>" in refused.text
    md5 = base64.b64encode(hashlib.md5(body).digest()).decode()
    accepted = _signed_put(admin, f"/{name}?{query}", body, {"Content-MD5": md5})
    assert accepted.status_code in (200, 204), accepted.text
    crc = base64.b64encode(zlib.crc32(body).to_bytes(4, "big")).decode()
    assert _signed_put(admin, f"/{name}?{query}", body, {"x-amz-checksum-crc32": crc}).status_code in (200, 204)


@pytest.mark.parametrize("query", _UNCHECKED)
def test_other_configuration_bodies_are_taken_without_a_checksum(admin: AwsEnv, query: str) -> None:
    s3 = admin.client("s3", region_name="us-east-1")
    name = _bucket(s3, "nomd5")
    taken = _signed_put(admin, f"/{name}?{query}", _CONFIGURATIONS[query])
    assert taken.status_code in (200, 204), taken.text
    if query == "versioning":
        assert s3.get_bucket_versioning(Bucket=name)["Status"] == "Enabled"


# --- CreateBucket's extra permissions ---------------------------------------------------------

def test_create_bucket_needs_the_permissions_of_what_it_sets(admin: AwsEnv) -> None:
    """S3 API reference, CreateBucket: "if you specify an access control list (ACL) [other
    than private] ... both s3:CreateBucket and s3:PutBucketAcl permissions are required";
    "If your CreateBucket request includes the x-amz-object-ownership header, then the
    s3:PutBucketOwnershipControls permission is required"; "You must have the
    s3:TagResource permission to create a general purpose bucket with tags", which
    aws:RequestTag/aws:TagKeys condition."""
    only_create = admin.client_for(admin.new_user({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": "s3:CreateBucket", "Resource": "*"}]}), "s3")
    name = f"r13-perm-{uuid.uuid4().hex[:10]}"

    def denied_action(call: Any) -> str:
        error, status = error_and_status(call)
        assert (error["Code"], status) == ("AccessDenied", 403)
        return str(error["Message"])

    assert "s3:PutBucketOwnershipControls" in denied_action(
        lambda: only_create.create_bucket(Bucket=name + "-o", ObjectOwnership="BucketOwnerEnforced"))
    assert "s3:PutBucketAcl" in denied_action(
        lambda: only_create.create_bucket(Bucket=name + "-a", ObjectOwnership="ObjectWriter",
                                          GrantRead=f"id={'0' * 64}"))
    tagged = {"Tags": [{"Key": "env", "Value": "prod"}]}
    assert "s3:TagResource" in denied_action(
        lambda: only_create.create_bucket(Bucket=name + "-t", CreateBucketConfiguration=tagged))
    only_create.create_bucket(Bucket=name + "-p", ACL="private")  # private asks for nothing more

    prod_only = admin.client_for(admin.new_user({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": ["s3:CreateBucket", "s3:TagResource"], "Resource": "*",
         "Condition": {"StringEquals": {"aws:RequestTag/env": "prod"}}}]}), "s3")
    prod_only.create_bucket(Bucket=name + "-prod", CreateBucketConfiguration=tagged)
    assert "s3:CreateBucket" in denied_action(lambda: prod_only.create_bucket(
        Bucket=name + "-dev", CreateBucketConfiguration={"Tags": [{"Key": "env", "Value": "dev"}]}))
