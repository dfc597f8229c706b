"""A second SDK, unmodified: the AWS SDK for JavaScript v3 (Node.js) against `skyhold up`.

Each test runs a scenario of tests/e2e/js/scenarios.mjs, which prints what Skyhold
answered as the SDK parsed it, and checks it against what the test wrote and against
boto3's view of the same resources. The SDK comes from the npm registry at the
versions package-lock.json pins (`npm ci`, once per checkout: the node_sdk fixture)."""

from __future__ import annotations

import base64
import hashlib
import json
import os
import subprocess
import uuid
import xml.etree.ElementTree as ET
import zlib
from pathlib import Path
from typing import Any

import requests
from awscrt import checksums

from .conftest import AwsEnv, new_bucket


def _node_env(admin: AwsEnv, key: dict | None = None) -> dict[str, str]:
    """An application's environment: an access key (the admin's session credentials
    unless `key` is given) and Skyhold's endpoint, nothing of the machine's AWS settings."""
    env = {k: v for k, v in admin.env.items() if not k.startswith("AWS_")}
    if key is None:
        creds = admin.credentials()
        key = {"AccessKeyId": creds.access_key, "SecretAccessKey": creds.secret_key, "SessionToken": creds.token}
    env.update({"AWS_ACCESS_KEY_ID": key["AccessKeyId"], "AWS_SECRET_ACCESS_KEY": key["SecretAccessKey"],
                "AWS_REGION": "us-east-1", "AWS_ENDPOINT_URL": admin.endpoint, "NODE_NO_WARNINGS": "1"})
    if key.get("SessionToken"):
        env["AWS_SESSION_TOKEN"] = key["SessionToken"]
    return env


def run_js(sdk: Path, env: dict[str, str], scenario: str, **args: Any) -> dict[str, Any]:
    out = subprocess.run(["node", "scenarios.mjs", scenario, json.dumps(args)], cwd=sdk, env=env,
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, f"{scenario} failed:\n{out.stdout}\n{out.stderr}"
    return json.loads(out.stdout)


def _crc32(data: bytes) -> str:
    return base64.b64encode(zlib.crc32(data).to_bytes(4, "big")).decode()


def _md5_etag(data: bytes) -> str:
    return f'"{hashlib.md5(data).hexdigest()}"'


def _name(tag: str) -> str:
    return f"{tag}-{uuid.uuid4().hex[:12]}"


# --- STS -----------------------------------------------------------------------------------

def test_caller_identity_of_a_new_user_and_of_the_configured_profile(node_sdk: Path, admin: AwsEnv,
                                                                      account: str) -> None:
    key = admin.new_user()
    got = run_js(node_sdk, _node_env(admin, key), "identity")
    user = admin.client("iam").get_user(UserName=key["UserName"])["User"]
    assert got == {"UserId": user["UserId"], "Account": account,
                   "Arn": f"arn:aws:iam::{account}:user/{key['UserName']}"}

    # The profile `skyhold configure` wrote (credential_process, endpoint_url), as the SDK reads it.
    env = {k: v for k, v in admin.env.items() if k != "AWS_PROFILE"} | {"AWS_PROFILE": admin.profile,
                                                                       "NODE_NO_WARNINGS": "1"}
    got = run_js(node_sdk, env, "identity")
    expected = admin.client("sts").get_caller_identity()
    assert got == {k: expected[k] for k in ("UserId", "Account", "Arn")}


def test_profile_assuming_a_role(node_sdk: Path, admin: AwsEnv, account: str, tmp_path: Path) -> None:
    """A profile with role_arn and source_profile: the SDK calls STS AssumeRole itself."""
    iam: Any = admin.client("iam")
    role = _name("js-role")
    trust = {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{account}:root"}, "Action": "sts:AssumeRole"}]}
    role_id = iam.create_role(RoleName=role, AssumeRolePolicyDocument=json.dumps(trust))["Role"]["RoleId"]
    config = tmp_path / "aws-config"
    config.write_text(Path(admin.env["AWS_CONFIG_FILE"]).read_text() + (
        f"\n[profile app]\nrole_arn = arn:aws:iam::{account}:role/{role}\nsource_profile = {admin.profile}\n"
        f"role_session_name = node-app\nregion = us-east-1\nendpoint_url = {admin.endpoint}\n"))
    env = {**admin.env, "AWS_CONFIG_FILE": str(config), "AWS_PROFILE": "app", "NODE_NO_WARNINGS": "1"}
    got = run_js(node_sdk, env, "identity")
    assert got == {"UserId": f"{role_id}:node-app", "Account": account,
                   "Arn": f"arn:aws:sts::{account}:assumed-role/{role}/node-app"}


# --- S3 ------------------------------------------------------------------------------------

def test_objects_with_the_sdks_default_checksums(node_sdk: Path, admin: AwsEnv, tmp_path: Path) -> None:
    bucket = _name("js-objects")
    text = f"héllo from node {uuid.uuid4()}"
    streamed = os.urandom(300_000)
    (tmp_path / "streamed.bin").write_bytes(streamed)
    got = run_js(node_sdk, _node_env(admin), "s3Objects", bucket=bucket, text=text,
                 streamFile=str(tmp_path / "streamed.bin"))

    # What the SDK sent: a CRC32 header for the string body, aws-chunked with the CRC32
    # in a trailer for the stream (so both of Skyhold's paths were taken).
    plain_sent, stream_sent = got["sent"]
    assert plain_sent["x-amz-checksum-crc32"] == _crc32(text.encode())
    assert (stream_sent["content-encoding"], stream_sent["x-amz-trailer"], stream_sent["x-amz-content-sha256"]) == (
        "aws-chunked", "x-amz-checksum-crc32", "STREAMING-UNSIGNED-PAYLOAD-TRAILER")

    assert got["plain"] == {"etag": _md5_etag(text.encode()), "crc32": _crc32(text.encode()), "type": "FULL_OBJECT"}
    assert got["streamed"] == {"etag": _md5_etag(streamed), "crc32": _crc32(streamed), "type": "FULL_OBJECT"}
    # GetObject with the SDK validating the checksum Skyhold returns.
    assert got["get"] == {"body": text, "crc32": _crc32(text.encode()), "type": "FULL_OBJECT",
                          "contentType": "application/octet-stream"}
    assert got["streamedBack"] == {"sha256": hashlib.sha256(streamed).hexdigest(), "crc32": _crc32(streamed)}
    # Stored without the chunk framing, as boto3 reads it back.
    s3: Any = admin.client("s3", region_name="us-east-1")
    assert s3.get_object(Bucket=bucket, Key="streamed.bin")["Body"].read() == streamed
    # ListObjectsV2 paged one key at a time with continuation tokens.
    assert got["pages"] == [[{"key": "plain.txt", "size": len(text.encode()), "etag": _md5_etag(text.encode())}],
                            [{"key": "streamed.bin", "size": len(streamed), "etag": _md5_etag(streamed)}]]
    # Errors parsed into the SDK's exception classes (HEAD has no body: the status names it).
    assert (got["missing"]["name"], got["missing"]["status"], got["missing"]["message"]) == (
        "NoSuchKey", 404, "The specified key does not exist.")
    assert (got["missingHead"]["name"], got["missingHead"]["status"]) == ("NotFound", 404)


def test_multipart_upload_with_lib_storage(node_sdk: Path, admin: AwsEnv, tmp_path: Path) -> None:
    s3: Any = admin.client("s3", region_name="us-east-1")
    bucket = new_bucket(s3, "js-multipart")
    part = 5 * 1024 * 1024
    data = os.urandom(12 * 1024 * 1024)
    (tmp_path / "big.bin").write_bytes(data)
    got = run_js(node_sdk, _node_env(admin), "s3Multipart", bucket=bucket, key="big.bin",
                 file=str(tmp_path / "big.bin"), partSize=part)

    parts = [data[i:i + part] for i in range(0, len(data), part)]
    etag = hashlib.md5(b"".join(hashlib.md5(p).digest() for p in parts)).hexdigest()
    crc = _crc32(b"".join(zlib.crc32(p).to_bytes(4, "big") for p in parts))
    assert got["parts"] == 3
    assert (got["etag"], got["crc32"], got["type"]) == (f'"{etag}-3"', f"{crc}-3", "COMPOSITE")
    assert got["location"] == f"{admin.endpoint}/{bucket}/big.bin"
    assert got["get"] == {"size": len(data), "sha256": hashlib.sha256(data).hexdigest(), "crc32": f"{crc}-3",
                          "type": "COMPOSITE"}
    assert "Uploads" not in s3.list_multipart_uploads(Bucket=bucket)


def test_presigned_urls_used_with_fetch(node_sdk: Path, admin: AwsEnv) -> None:
    s3: Any = admin.client("s3", region_name="us-east-1")
    bucket = new_bucket(s3, "js-presigned")
    text = f"uploaded through a presigned URL {uuid.uuid4()}"
    got = run_js(node_sdk, _node_env(admin), "s3Presigned", bucket=bucket, key="pre.txt", text=text)

    assert got["put"] == {"status": 200, "etag": _md5_etag(text.encode()), "body": ""}
    assert got["get"] == {"status": 200, "body": text, "contentType": "text/plain;charset=UTF-8"}
    # The SDK signs its default CRC32 of the (still empty) body into a PUT URL; S3 ignores
    # a checksum in the query string and stores its own default, CRC64NVME.
    assert {"x-amz-checksum-crc32", "x-amz-sdk-checksum-algorithm"} <= set(got["putQuery"])
    head = s3.head_object(Bucket=bucket, Key="pre.txt", ChecksumMode="ENABLED")
    crc64 = base64.b64encode(checksums.crc64nvme(text.encode()).to_bytes(8, "big")).decode()
    assert (head.get("ChecksumCRC64NVME"), head.get("ChecksumCRC32")) == (crc64, None)


def test_presigned_url_query_checksum_is_signed(node_sdk: Path, admin: AwsEnv) -> None:
    """The checksum the JS presigner puts in the query string is part of what it signed:
    changing it breaks the signature (AWS answers 403)."""
    s3: Any = admin.client("s3", region_name="us-east-1")
    bucket = new_bucket(s3, "js-presigned")
    got = run_js(node_sdk, _node_env(admin), "presignPut", bucket=bucket, key="tampered.txt")
    assert "x-amz-checksum-crc32=AAAAAA%3D%3D" in got["url"]
    r = requests.put(got["url"].replace("crc32=AAAAAA%3D%3D", "crc32=BBBBBB%3D%3D"), data=b"123456", timeout=30)
    assert (r.status_code, ET.fromstring(r.content).findtext("Code")) == (403, "SignatureDoesNotMatch")
    assert "Contents" not in s3.list_objects_v2(Bucket=bucket)


def test_presigned_post_with_form_data(node_sdk: Path, admin: AwsEnv) -> None:
    s3: Any = admin.client("s3", region_name="us-east-1")
    bucket = new_bucket(s3, "js-post")
    text = f"posted as a form {uuid.uuid4()}"
    got = run_js(node_sdk, _node_env(admin), "s3PresignedPost", bucket=bucket, key="form/post.txt", text=text,
                 maxSize=100)

    assert got["ok"]["status"] == 201
    doc = ET.fromstring(got["ok"]["body"])
    location = f"{admin.endpoint}/{bucket}/form/post.txt"
    assert (doc.tag, {child.tag: child.text for child in doc}) == ("PostResponse", {
        "Location": location, "Bucket": bucket, "Key": "form/post.txt", "ETag": _md5_etag(text.encode())})
    assert got["ok"]["location"] == location
    obj = s3.get_object(Bucket=bucket, Key="form/post.txt")
    assert (obj["Body"].read().decode(), obj["ContentType"]) == (text, "text/plain")

    assert got["tooBig"]["status"] == 400
    err = {child.tag: child.text for child in ET.fromstring(got["tooBig"]["body"])}
    assert (err["Code"], err["ProposedSize"], err["MaxSizeAllowed"]) == ("EntityTooLarge", "101", "100")
    assert [o["Key"] for o in s3.list_objects_v2(Bucket=bucket)["Contents"]] == ["form/post.txt"]


def test_access_denied_parsed_by_the_sdk(node_sdk: Path, admin: AwsEnv, account: str) -> None:
    s3: Any = admin.client("s3", region_name="us-east-1")
    bucket = new_bucket(s3, "js-denied")
    s3.put_object(Bucket=bucket, Key="private.txt", Body=b"not for you")
    key = admin.new_user()  # no policy at all
    got = run_js(node_sdk, _node_env(admin, key), "s3Denied", bucket=bucket, key="private.txt")

    user = f"arn:aws:iam::{account}:user/{key['UserName']}"
    for call, action, resource in [("get", "s3:GetObject", f"{bucket}/private.txt"),
                                   ("put", "s3:PutObject", f"{bucket}/intruder.txt"),
                                   ("list", "s3:ListBucket", bucket), ("policy", "s3:PutBucketPolicy", bucket)]:
        assert (got[call]["name"], got[call]["status"], got[call]["fault"]) == ("AccessDenied", 403, "client"), call
        assert got[call]["message"] == (f'User: {user} is not authorized to perform: {action} on resource: '
                                        f'"arn:aws:s3:::{resource}" because no identity-based policy allows '
                                        f"the {action} action"), call
    assert got["head"]["status"] == 403
    assert (got["kms"]["name"], got["kms"]["status"]) == ("AccessDeniedException", 400)
    assert got["kms"]["message"] == (f"User: {user} is not authorized to perform: kms:CreateKey because no "
                                     "identity-based policy allows the kms:CreateKey action")
    assert (got["iam"]["name"], got["iam"]["status"]) == ("AccessDenied", 403)
    assert f"User: {user} is not authorized to perform: iam:GetUser" in got["iam"]["message"]
    assert [o["Key"] for o in s3.list_objects_v2(Bucket=bucket)["Contents"]] == ["private.txt"]


# --- KMS, Secrets Manager, SSM, IAM --------------------------------------------------------

def test_kms_encrypt_and_decrypt(node_sdk: Path, admin: AwsEnv) -> None:
    plaintext = f"top secret ü {uuid.uuid4()}"
    context = {"app": "node", "id": uuid.uuid4().hex}
    got = run_js(node_sdk, _node_env(admin), "kms", plaintext=plaintext, context=context)

    assert got["plaintext"] == plaintext
    kms: Any = admin.client("kms", region_name="us-east-1")
    arn = kms.describe_key(KeyId=got["keyArn"])["KeyMetadata"]["Arn"]
    assert got["keyArn"] == got["encryptedWith"] == got["decryptedWith"] == arn
    # The ciphertext is KMS's, not the SDK's: boto3 decrypts it too, with the same context only.
    blob = base64.b64decode(got["ciphertext"])
    assert kms.decrypt(CiphertextBlob=blob, EncryptionContext=context)["Plaintext"] == plaintext.encode()
    assert (got["wrongContext"]["name"], got["wrongContext"]["status"]) == ("InvalidCiphertextException", 400)


def test_secrets_manager_create_and_get(node_sdk: Path, admin: AwsEnv, account: str) -> None:
    name = _name("js/secret")
    value = json.dumps({"password": uuid.uuid4().hex})
    got = run_js(node_sdk, _node_env(admin), "secrets", name=name, value=value)

    described = admin.client("secretsmanager", region_name="us-east-1").describe_secret(SecretId=name)
    assert got["created"]["arn"] == got["got"]["arn"] == described["ARN"]
    assert described["ARN"].startswith(f"arn:aws:secretsmanager:us-east-1:{account}:secret:{name}-")
    assert got["got"]["value"] == value
    assert (got["got"]["versionId"], got["got"]["stages"]) == (got["created"]["versionId"], ["AWSCURRENT"])
    assert (got["missing"]["name"], got["missing"]["status"], got["missing"]["message"]) == (
        "ResourceNotFoundException", 400, "Secrets Manager can't find the specified secret.")


def test_ssm_secure_string_parameter(node_sdk: Path, admin: AwsEnv, account: str) -> None:
    name = f"/js/{uuid.uuid4().hex[:12]}/db-password"
    value = f"hunter2-{uuid.uuid4().hex}"
    got = run_js(node_sdk, _node_env(admin), "ssm", name=name, value=value)

    assert (got["version"], got["tier"]) == (1, "Standard")
    assert got["decrypted"] == {"value": value, "type": "SecureString",
                                "arn": f"arn:aws:ssm:us-east-1:{account}:parameter{name}"}
    # Without decryption, the stored ciphertext: never the value.
    raw = admin.client("ssm", region_name="us-east-1").get_parameter(Name=name)["Parameter"]["Value"]
    assert got["raw"] == raw and value not in raw
    assert (got["again"]["name"], got["again"]["status"]) == ("ParameterAlreadyExists", 400)


def test_iam_users_through_the_query_protocol(node_sdk: Path, admin: AwsEnv, account: str) -> None:
    prefix = f"js{uuid.uuid4().hex[:8]}"
    got = run_js(node_sdk, _node_env(admin), "iam", prefix=prefix, count=3)

    names = [f"{prefix}-{i}" for i in range(3)]
    iam: Any = admin.client("iam")
    assert got["created"] == [{"name": n, "arn": f"arn:aws:iam::{account}:user/{prefix}/{n}",
                               "id": iam.get_user(UserName=n)["User"]["UserId"]} for n in names]
    # ListUsers one user a page, following Marker until IsTruncated is false.
    assert got["pages"] == [{"users": [names[0]], "truncated": True}, {"users": [names[1]], "truncated": True},
                            {"users": [names[2]], "truncated": False}]
    assert (got["duplicate"]["name"], got["duplicate"]["status"], got["duplicate"]["message"]) == (
        "EntityAlreadyExistsException", 409, f"User with name {names[0]} already exists.")
    assert (got["missing"]["name"], got["missing"]["status"], got["missing"]["message"]) == (
        "NoSuchEntityException", 404, f"The user with name {prefix}-missing cannot be found.")
