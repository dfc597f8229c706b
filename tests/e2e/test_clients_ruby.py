"""The AWS SDK for Ruby v3, unmodified (Debian's aws-sdk-core 3.168 with STS, aws-sdk-s3
1.117, aws-sdk-kms, aws-sigv4), against `skyhold up`.

Each test runs a scenario of tests/e2e/ruby/scenarios.rb, which configures the SDK as for
any custom endpoint (static credentials of a user the test made, us-east-1, the endpoint
set to Skyhold's URL, path-style S3, at most 2 retries) and prints what Skyhold answered
as the SDK parsed it (its own SigV4 signer, REST-XML, Query and JSON parsers, presigner,
managed transfers, client-side encryption), with every HTTP request the SDK sent as
"Operation status": a retried call shows twice. Debian's aws-sdk-kms (1.24) is older than
the rest (its Decrypt has no KeyId) and aws-sdk-core 3.168 ignores the port of
AWS_EC2_METADATA_SERVICE_ENDPOINT (aws-sdk-ruby#2997): the scenarios work around both as
an application on this SDK would."""

from __future__ import annotations

import base64
import hashlib
import json
import subprocess
import uuid
import zlib
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from .conftest import (VENV_BIN, AwsEnv, Server, allow_sse_c, clean_env, debian_package, new_bucket, own_server,
                       static_admin)

RUBY = "/usr/bin/ruby"
SCRIPT = Path(__file__).parent / "ruby" / "scenarios.rb"
ALLOW_ALL = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}


@pytest.fixture(scope="session")
def ruby_sdk() -> None:
    """Debian's ruby and AWS SDK for Ruby (aws-sdk-s3 brings aws-sdk-core, -kms and -sigv4)."""
    debian_package(RUBY, "ruby")
    debian_package("/usr/lib/ruby/vendor_ruby/aws-sdk-s3/client.rb", "ruby-aws-sdk-s3")


@pytest.fixture(scope="module")
def ruby_key(admin: AwsEnv) -> dict:
    """A long-lived access key allowed everything, as an application is often given."""
    return admin.new_user(ALLOW_ALL)


def run_ruby(admin: AwsEnv, key: dict, scenario: str, home: Path, **env: str) -> dict[str, Any]:
    """The JSON a scenario printed, run with `key` (nothing of the machine's AWS settings)."""
    env = clean_env(home) | {"SKYHOLD_ENDPOINT": admin.endpoint, "SKYHOLD_KEY_ID": key["AccessKeyId"],
                             "SKYHOLD_SECRET": key["SecretAccessKey"]} | env
    out = subprocess.run([RUBY, str(SCRIPT), scenario], env=env, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, f"{scenario} failed:\n{out.stdout}\n{out.stderr}"
    got = json.loads(out.stdout)
    assert "error" not in got, got
    return got


def _error(got: dict, cls: str, code: str, status: int, message: str | None = None) -> None:
    """An error as the SDK raised it: its class, code, status and (if given) AWS's message."""
    assert (got["class"], got["code"], got["status"]) == (cls, code, status), got
    if message is not None:
        assert got["message"] == message, got
    assert got["request_id"]


def _because(caller: str, action: str, resource: str | None = None) -> str:
    on = f" on resource: {resource}" if resource else ""
    return (f"User: {caller} is not authorized to perform: {action}{on} because no identity-based policy "
            f"allows the {action} action")


def test_sts_caller_identity_and_assumed_role_credentials(ruby_sdk: None, admin: AwsEnv, ruby_key: dict,
                                                          account: str, tmp_path: Path) -> None:
    iam: Any = admin.client("iam")
    trust = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole",
                                                     "Principal": {"AWS": f"arn:aws:iam::{account}:root"}}]}
    role = iam.create_role(RoleName=f"ruby-role-{uuid.uuid4().hex[:6]}",
                           AssumeRolePolicyDocument=json.dumps(trust))["Role"]
    got = run_ruby(admin, ruby_key, "sts", tmp_path, SKYHOLD_ROLE_ARN=role["Arn"])
    assert (got["account"], got["arn"]) == (account, f"arn:aws:iam::{account}:user/{ruby_key['UserName']}")
    assert got["user_id"].startswith("AIDA")
    # Aws::AssumeRoleCredentials' temporary credentials sign the next calls: the session is the caller.
    session = f"arn:aws:sts::{account}:assumed-role/{role['RoleName']}/ruby-sdk"
    assert got["role_arn"] == session and got["role_user_id"] == f"{role['RoleId']}:ruby-sdk"
    assert got["access_key_prefix"] == "ASIA" and 890 <= got["expires_in"] <= 900
    _error(got["role_denied"], "Aws::S3::Errors::AccessDenied", "AccessDenied", 403,
           _because(session, "s3:ListAllMyBuckets"))
    # STS does not tell who may not assume a role why (the trust policy's business).
    _error(got["assume_denied"], "Aws::STS::Errors::AccessDenied", "AccessDenied", 403,
           f"User: {got['arn']} is not authorized to perform: sts:AssumeRole on resource: "
           f"arn:aws:iam::{account}:role/nothing")
    assert got["requests"] == ["GetCallerIdentity 200", "AssumeRole 200", "GetCallerIdentity 200",
                               "ListBuckets 403", "AssumeRole 403"]  # nothing retried


def test_s3_objects_paging_odd_keys_presigned_urls_and_errors(ruby_sdk: None, admin: AwsEnv, ruby_key: dict,
                                                              tmp_path: Path) -> None:
    got = run_ruby(admin, ruby_key, "s3", tmp_path)
    etag = f'"{hashlib.md5(b"hello dir/object-1.txt").hexdigest()}"'
    assert (got["body"], got["content_type"], got["metadata"]) == ("hello dir/object-1.txt", "text/plain",
                                                                   {"owner": "ruby"})
    assert got["etag"] == got["head_etag"] == etag and got["head_length"] == 22
    assert got["last_modified"] == "Time"  # the SDK parsed the header's date
    listed = [f"dir/object-{i}.txt" for i in range(5)]
    # The pageable response followed NextContinuationToken: 2 keys a page.
    assert (got["listed"], got["pages"], got["key_counts"], got["truncated"]) == (
        listed, 3, [2, 2, 1], [True, True, False])
    assert got["resource_listed"] == listed
    odd = "odd/a b+c=d&e?f#g%h ü~!.txt"
    assert got["odd_keys"] == [odd, f"{odd} again", f"{odd} copy"] and got["odd_copy_body"] == "odd"
    assert got["copy_etag"] == f'"{hashlib.md5(b"odd").hexdigest()}"'
    # Aws::S3::Presigner's URLs, fetched with Net::HTTP; one whose path is changed is refused.
    assert (got["presigned_status"], got["presigned_body"]) == (200, "hello dir/object-0.txt")
    assert got["odd_presigned"] == "200 odd"
    assert got["presigned_put_status"] == 200
    assert got["presigned_put"] == ["a,b", "text/csv", {"via": "presigned"}]
    assert got["tampered_status"] == 403
    # A matching If-None-Match: 304 without a body, which the SDK names by its status.
    _error(got["not_modified"], "Aws::S3::Errors::NotModified", "NotModified", 304)
    _error(got["precondition"], "Aws::S3::Errors::PreconditionFailed", "PreconditionFailed", 412,
           "At least one of the pre-conditions you specified did not hold")
    assert got["modified_since"] == "hello dir/object-1.txt"
    _error(got["missing"], "Aws::S3::Errors::NoSuchKey", "NoSuchKey", 404, "The specified key does not exist.")
    _error(got["head_missing"], "Aws::S3::Errors::NotFound", "NotFound", 404)  # a HEAD's error has no body
    _error(got["no_bucket"], "Aws::S3::Errors::NoSuchBucket", "NoSuchBucket", 404,
           "The specified bucket does not exist")
    assert got["exists"] == [True, False]
    # S3 reports a key that was never there as deleted too.
    assert sorted(got["deleted"]) == sorted([*listed, odd, f"{odd} again", f"{odd} copy", "put.txt",
                                             "never-written"])
    assert (got["delete_errors"], got["left"]) == (0, 0)
    # One request per call (the presigned URLs went through Net::HTTP): nothing retried.
    assert Counter(got["requests"]) == Counter({
        "CreateBucket 200": 1, "PutObject 200": 6, "GetObject 200": 4, "HeadObject 200": 2, "CopyObject 200": 2,
        "ListObjectsV2 200": 7, "GetObject 304": 1, "GetObject 412": 1, "GetObject 404": 1, "HeadObject 404": 2,
        "ListObjectsV2 404": 1, "DeleteObjects 200": 1, "DeleteBucket 204": 1})


def test_s3_upload_file_multipart_download_file_and_upload_stream(ruby_sdk: None, admin: AwsEnv, ruby_key: dict,
                                                                   tmp_path: Path) -> None:
    got = run_ruby(admin, ruby_key, "multipart", tmp_path)
    size = 11 * 1024 * 1024
    data = b"0123456789abcdef" * (size // 16)
    parts = [data[i:i + 5 * 1024 * 1024] for i in range(0, size, 5 * 1024 * 1024)]
    etag = hashlib.md5(b"".join(hashlib.md5(p).digest() for p in parts)).hexdigest()
    assert got["uploaded"] is True
    assert (got["etag"], got["size"], got["content_type"]) == (f'"{etag}-3"', size, "application/x-test")
    # HEAD of part 1 (as download_file sizes its parallel GETs): that part's length, the object's parts.
    assert (got["part_length"], got["parts_count"]) == (5 * 1024 * 1024, 3)
    assert got["download_matches"]
    assert got["stream_etag"].endswith('-3"') and got["stream_size"] == 12 * 1024 * 1024
    assert got["uploads_left"] == 0
    # Each part once (Expect: 100-continue honoured), 206 for the ranged HEADs and per-part GETs.
    assert Counter(got["requests"]) == Counter({
        "CreateBucket 200": 1, "CreateMultipartUpload 200": 2, "UploadPart 200": 6,
        "CompleteMultipartUpload 200": 2, "HeadObject 200": 3, "HeadObject 206": 2, "GetObject 206": 3,
        "ListMultipartUploads 200": 1, "ListObjectsV2 200": 1, "DeleteObjects 200": 1, "DeleteBucket 204": 1})


def test_s3_checksums_computed_and_validated_by_the_sdk(ruby_sdk: None, admin: AwsEnv, ruby_key: dict,
                                                        tmp_path: Path) -> None:
    got = run_ruby(admin, ruby_key, "checksums", tmp_path)
    body = b"checksummed"
    expected = {"CRC32": base64.b64encode(zlib.crc32(body).to_bytes(4, "big")).decode(),
                "SHA1": base64.b64encode(hashlib.sha1(body).digest()).decode(),
                "SHA256": base64.b64encode(hashlib.sha256(body).digest()).decode()}
    for algorithm, checksum in expected.items():
        # PUT answers the checksum, GET (checksum mode enabled) returns it and the SDK validated the body.
        assert got[algorithm] == {"put": checksum, "got": checksum, "validated": algorithm, "body": "checksummed"}
    _error(got["mismatch"], "Aws::S3::Errors::BadDigest", "BadDigest", 400,
           "The SHA256 you specified did not match the calculated checksum.")
    _error(got["md5_mismatch"], "Aws::S3::Errors::BadDigest", "BadDigest", 400,
           "The Content-MD5 you specified did not match what we received.")
    assert got["attributes"] == {"sha256": expected["SHA256"], "size": len(body),
                                 "etag": hashlib.md5(body).hexdigest()}
    assert got["requests"] == ["CreateBucket 200", *["PutObject 200", "GetObject 200"] * 3, "PutObject 400",
                               "PutObject 400", "GetObjectAttributes 200", "ListObjectsV2 200",
                               "DeleteObjects 200", "DeleteBucket 204"]


def test_s3_presigned_post_form_waiter_and_bad_credentials(ruby_sdk: None, admin: AwsEnv, ruby_key: dict,
                                                           tmp_path: Path) -> None:
    got = run_ruby(admin, ruby_key, "post", tmp_path)
    bucket = got["url"].rsplit("/", 1)[1]
    # Aws::S3::PresignedPost's form, posted as a browser would: 201 with S3's PostResponse.
    assert got["post_status"] == 201
    assert f"<Bucket>{bucket}</Bucket><Key>uploads/form.txt</Key>" in got["post_body"]
    assert got["posted"] == ["posted by a form", "text/plain", {"via": "form"}]
    assert got["too_big"][0] == 400 and "<Code>EntityTooLarge</Code>" in got["too_big"][1]
    assert got["outside"][0] == 403 and (
        '<Message>Invalid according to Policy: Policy Condition failed: ["starts-with", "$key", "uploads/"]'
        "</Message>") in got["outside"][1]
    _error(got["wrong_secret"], "Aws::S3::Errors::SignatureDoesNotMatch", "SignatureDoesNotMatch", 403,
           "The request signature we calculated does not match the signature you provided. "
           "Check your key and signing method.")
    _error(got["unknown_key"], "Aws::S3::Errors::InvalidAccessKeyId", "InvalidAccessKeyId", 403,
           "The AWS Access Key Id you provided does not exist in our records.")
    # The waiter saw the object at once; the refused signatures were not retried.
    assert got["requests"] == ["CreateBucket 200", "HeadObject 200", "GetObject 200", "HeadObject 200",
                               "ListObjectsV2 403", "ListObjectsV2 403", "ListObjectsV2 200",
                               "DeleteObjects 200", "DeleteBucket 204"]


def test_kms_encrypt_decrypt_data_keys_and_a_wrong_context(ruby_sdk: None, admin: AwsEnv, ruby_key: dict,
                                                           tmp_path: Path) -> None:
    got = run_ruby(admin, ruby_key, "kms", tmp_path)
    assert (got["key_state"], got["key_usage"]) == ("Enabled", "ENCRYPT_DECRYPT")
    assert got["plaintext"] == "secret data"
    assert got["encrypt_key_id"] == got["decrypt_key_id"] == got["key_arn"]
    # KMS says nothing more of a ciphertext it cannot open: the SDK falls back to the class name.
    _error(got["wrong_context"], "Aws::KMS::Errors::InvalidCiphertextException", "InvalidCiphertextException",
           400, "Aws::KMS::Errors::InvalidCiphertextException")
    assert got["data_key_id"] == got["key_arn"]  # an alias resolves to its key's ARN
    assert got["data_key_length"] == 32 and got["data_key_opens"]
    missing = got["key_arn"].rsplit("/", 1)[0] + "/00000000-0000-4000-8000-000000000000"
    _error(got["missing_key"], "Aws::KMS::Errors::NotFoundException", "NotFoundException", 400,
           f"Key '{missing}' does not exist")
    assert got["requests"] == ["CreateKey 200", "Encrypt 200", "Decrypt 200", "Decrypt 400", "CreateAlias 200",
                               "GenerateDataKey 200", "Decrypt 200", "DescribeKey 400"]


def test_s3_client_side_encryption_with_kms(ruby_sdk: None, admin: AwsEnv, ruby_key: dict, tmp_path: Path) -> None:
    got = run_ruby(admin, ruby_key, "encryption", tmp_path)
    assert got["opened"] == "client-side secret" and got["stored_differs"]
    # The envelope travels as user metadata, which S3 returns as it was given.
    assert got["envelope"] == ["x-amz-cek-alg", "x-amz-iv", "x-amz-key-v2", "x-amz-matdesc", "x-amz-tag-len",
                               "x-amz-unencrypted-content-length", "x-amz-wrap-alg"]
    # The opening GET, KMS Decrypt of the data key, and a ranged GET of the AES-GCM tag.
    assert Counter(got["requests"]) == Counter({
        "CreateBucket 200": 1, "CreateKey 200": 1, "GenerateDataKey 200": 1, "PutObject 200": 1,
        "GetObject 200": 2, "Decrypt 200": 1, "GetObject 206": 1, "ListObjectsV2 200": 1,
        "DeleteObjects 200": 1, "DeleteBucket 204": 1})


def test_denied_caller_gets_aws_errors(ruby_sdk: None, admin: AwsEnv, tmp_path: Path) -> None:
    s3: Any = admin.client("s3")
    bucket = f"ruby-denied-{uuid.uuid4().hex[:12]}"
    s3.create_bucket(Bucket=bucket)
    s3.put_object(Bucket=bucket, Key="secret.txt", Body=b"secret")
    got = run_ruby(admin, admin.new_user(), "denied", tmp_path, SKYHOLD_BUCKET=bucket)
    user = got["arn"]
    _error(got["s3"], "Aws::S3::Errors::AccessDenied", "AccessDenied", 403, _because(user, "s3:ListAllMyBuckets"))
    # S3 quotes the resource in its denials.
    _error(got["s3_get"], "Aws::S3::Errors::AccessDenied", "AccessDenied", 403,
           _because(user, "s3:GetObject", f'"arn:aws:s3:::{bucket}/secret.txt"'))
    _error(got["s3_head"], "Aws::S3::Errors::Forbidden", "Forbidden", 403)  # a HEAD's error has no body
    _error(got["kms"], "Aws::KMS::Errors::AccessDeniedException", "AccessDeniedException", 400)
    assert got["kms"]["message"].startswith(f"User: {user} is not authorized to perform: kms:ListKeys")
    assert got["requests"] == ["GetCallerIdentity 200", "ListBuckets 403", "GetObject 403", "HeadObject 403",
                               "ListKeys 400"]  # denials are not retried


def test_s3_versions_delete_markers_tags_and_prefixes(ruby_sdk: None, admin: AwsEnv, ruby_key: dict,
                                                      tmp_path: Path) -> None:
    got = run_ruby(admin, ruby_key, "versions", tmp_path)
    assert got["versions_differ"] and got["first_body"] == "one"
    assert got["tags"] == ["team=ruby", "tier=1"]
    assert got["delete_marker"] is True
    _error(got["gone"], "Aws::S3::Errors::NoSuchKey", "NoSuchKey", 404, "The specified key does not exist.")
    # A GET of the delete marker's own version: 405, as S3 answers it.
    _error(got["marker_get"], "Aws::S3::Errors::MethodNotAllowed", "MethodNotAllowed", 405,
           "The specified method is not allowed against this resource.")
    assert got["versions"] == [["a/v.txt", False, 3], ["a/v.txt", False, 3]]
    assert got["markers"] == [["a/v.txt", True]]
    assert got["resource_versions"] == ["a/v.txt"] * 3 + ["b/w.txt"]
    assert got["prefixes"] == ["b/"]  # a/ holds only a delete marker now
    assert got["bucket_exists"] == [True, False] and got["deleted_versions"] == 4
    assert got["requests"] == [
        "CreateBucket 200", "PutBucketVersioning 200", "PutObject 200", "PutObject 200", "PutObject 200",
        "GetObject 200", "GetObjectTagging 200", "DeleteObject 204", "GetObject 404", "GetObject 405",
        "ListObjectVersions 200", "ListObjectVersions 200", "ListObjectsV2 200", "HeadBucket 200", "HeadBucket 404",
        "ListObjectVersions 200", "DeleteObjects 200", "DeleteBucket 204"]


def test_a_fast_client_clock_is_corrected_from_the_date_header(ruby_sdk: None, admin: AwsEnv, ruby_key: dict,
                                                               account: str, tmp_path: Path) -> None:
    """The SDK's standard retry mode reads the server's time from a clock-skew error's Date
    header and signs again with its clock corrected: one refused request per client."""
    got = run_ruby(admin, ruby_key, "skew", tmp_path)
    assert (got["buckets"], got["again"], got["keys"]) == ("Array", "Array", "Array")
    assert got["identity"] == f"arn:aws:iam::{account}:user/{ruby_key['UserName']}"
    _error(got["skewed"], "Aws::S3::Errors::RequestTimeTooSkewed", "RequestTimeTooSkewed", 403,
           "The difference between the request time and the current time is too large.")
    assert got["requests"] == [
        "ListBuckets 403", "ListBuckets 200", "ListBuckets 200", "ListKeys 400", "ListKeys 200",
        "GetCallerIdentity 403", "GetCallerIdentity 200",
        # The default (legacy) mode retries the error twice without correcting its clock.
        "ListBuckets 403", "ListBuckets 403", "ListBuckets 403"]


def test_a_bucket_of_another_region(ruby_sdk: None, admin: AwsEnv, ruby_key: dict, tmp_path: Path) -> None:
    got = run_ruby(admin, ruby_key, "region", tmp_path)
    assert (got["location"], got["head_region"], got["body"]) == ("eu-west-1", "eu-west-1", "eu")
    _error(got["wrong_region"], "Aws::S3::Errors::AuthorizationHeaderMalformed", "AuthorizationHeaderMalformed",
           400, "The authorization header is malformed; the region 'us-east-1' is wrong; expecting 'eu-west-1'")
    assert got["requests"] == ["CreateBucket 200", "PutObject 200", "GetBucketLocation 200", "HeadBucket 200",
                               "GetObject 400", "GetObject 200", "ListObjectsV2 200", "DeleteObjects 200",
                               "DeleteBucket 204"]


def test_on_an_instance_the_sdk_finds_its_role_through_imdsv2(ruby_sdk: None, server: Server, admin: AwsEnv,
                                                             account: str, launched: list[str]) -> None:
    iam: Any = admin.client("iam")
    ec2: Any = admin.client("ec2", region_name="us-east-1")
    role = f"ruby-ec2-{uuid.uuid4().hex[:6]}"
    iam.create_role(RoleName=role, AssumeRolePolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"}, "Action": "sts:AssumeRole"}]}))
    iam.attach_role_policy(RoleName=role, PolicyArn="arn:aws:iam::aws:policy/AmazonS3ReadOnlyAccess")
    iam.create_instance_profile(InstanceProfileName=role)
    iam.add_role_to_instance_profile(InstanceProfileName=role, RoleName=role)
    # Amazon Linux 2023: IMDSv2 tokens required.
    launched.append(ec2.run_instances(ImageId="ami-0453ec754f44f9a4a", MinCount=1, MaxCount=1,
                                      IamInstanceProfile={"Name": role})["Instances"][0]["InstanceId"])
    out = subprocess.run([str(VENV_BIN / "skyhold"), "instance", "exec", "--data-dir", str(server.data_dir),
                          "--endpoint", server.endpoint, launched[0], "--", RUBY, str(SCRIPT), "instance"],
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    got = json.loads(out.stdout)
    assert "error" not in got, got
    session = f"arn:aws:sts::{account}:assumed-role/{role}/{launched[0]}"
    assert (got["identity"], got["buckets"]) == (session, "Array") and got["expires_in"] > 900
    _error(got["denied"], "Aws::S3::Errors::AccessDenied", "AccessDenied", 403)
    assert got["denied"]["message"].startswith(f"User: {session} is not authorized to perform: s3:CreateBucket")
    assert got["requests"] == ["GetCallerIdentity 200", "ListBuckets 200", "CreateBucket 403"]


def test_role_credentials_expired_on_skyholds_clock_are_refreshed(ruby_sdk: None, tmp_path: Path) -> None:
    with own_server(tmp_path) as (srv, admin):
        key = admin.new_user(ALLOW_ALL)
        account = admin.client("sts").get_caller_identity()["Account"]  # type: ignore[attr-defined]
        trust = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole",
                                                         "Principal": {"AWS": f"arn:aws:iam::{account}:root"}}]}
        iam: Any = admin.client("iam")
        role = iam.create_role(RoleName="ruby-expiry", AssumeRolePolicyDocument=json.dumps(trust))["Role"]["Arn"]
        iam.put_role_policy(RoleName="ruby-expiry", PolicyName="all", PolicyDocument=json.dumps(ALLOW_ALL))
        advance = [str(VENV_BIN / "skyhold"), "clock", "advance", "1h", "--endpoint", srv.endpoint,
                   "--data-dir", str(srv.data_dir)]
        got = run_ruby(admin, key, "expiry", tmp_path, SKYHOLD_ROLE_ARN=role, SKYHOLD_ADVANCE=json.dumps(advance))
    assert got["before"] == got["after"] == "Array" and got["refreshed"]
    _error(got["expired"], "Aws::S3::Errors::ExpiredToken", "ExpiredToken", 400, "The provided token has expired.")
    # The held credentials are refused once and refreshed (AssumeRole) before the call is sent again.
    assert got["requests"] == ["AssumeRole 200", "ListBuckets 200", "ListBuckets 400", "ListBuckets 400",
                               "AssumeRole 200", "ListBuckets 200"]


def test_sse_c_multipart_and_sse_kms_over_https(ruby_sdk: None, https_server: Server, tmp_path: Path) -> None:
    https_admin = static_admin(https_server, tmp_path)
    ca = str(https_server.data_dir / "tls" / "ca.pem")
    s3: Any = https_admin.client("s3", endpoint_url=https_server.https_endpoint, region_name="us-east-1", verify=ca)
    bucket = new_bucket(s3, "ruby-sse")
    allow_sse_c(s3, bucket)
    got = run_ruby(https_admin, https_admin.new_user(ALLOW_ALL), "sse", tmp_path, SKYHOLD_BUCKET=bucket,
                   SKYHOLD_ENDPOINT=https_server.https_endpoint, AWS_CA_BUNDLE=ca)
    key_md5 = base64.b64encode(hashlib.md5(b"k" * 32).digest()).decode()
    assert got["put"] == ["AES256", key_md5]
    assert (got["got"], got["copied"]) == ("customer keyed", "customer keyed")
    _error(got["no_key"], "Aws::S3::Errors::InvalidRequest", "InvalidRequest", 400,
           "The object was stored using a form of Server Side Encryption. The correct parameters must be provided "
           "to retrieve the object.")
    _error(got["wrong_key"], "Aws::S3::Errors::Forbidden", "Forbidden", 403)  # a HEAD's error has no body
    assert got["big"] == [6 * 1024 * 1024, True, "AES256"]
    assert got["kms"] == ["aws:kms", True, "kms keyed", "aws:kms", True]
    assert Counter(got["requests"]) == Counter({
        "PutObject 200": 2, "GetObject 200": 3, "GetObject 400": 1, "HeadObject 403": 1, "CopyObject 200": 1,
        "CreateMultipartUpload 200": 1, "UploadPart 200": 2, "CompleteMultipartUpload 200": 1, "HeadObject 200": 1,
        "CreateKey 200": 1})


def test_presigned_put_with_x_amz_parameters_in_the_query(ruby_sdk: None, admin: AwsEnv, ruby_key: dict,
                                                          tmp_path: Path) -> None:
    """Aws::S3::Presigner (like the JS v3 presigner) moves x-amz-* headers into the signed
    query string, so the URL's user sends none; S3 applies them as if they were headers
    (aws-sdk-js-v3#4694; LocalStack's presigned_url.py does likewise). Skyhold ignored
    them: the object was stored without its metadata, tags and storage class."""
    got = run_ruby(admin, ruby_key, "hoisted", tmp_path)
    assert got["query"] == ["x-amz-meta-via", "x-amz-storage-class", "x-amz-tagging"]
    assert got["status"] == 200
    assert (got["metadata"], got["storage_class"], got["tags"]) == ({"via": "query"}, "STANDARD_IA", ["team=ruby"])
    assert got["requests"] == ["CreateBucket 200", "HeadObject 200", "GetObjectTagging 200", "ListObjectsV2 200",
                               "DeleteObjects 200", "DeleteBucket 204"]
