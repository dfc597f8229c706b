"""The AWS SDK for Go v2, unmodified (Terraform's AWS provider is built on it), against `skyhold up`.

Each test runs a scenario of tests/e2e/go/scenarios.go, which configures the SDK as the
provider does for custom endpoints (static credentials, us-east-1, every service's
endpoint resolved to Skyhold's URL with HostnameImmutable, path-style S3) and prints
what Skyhold answered as the SDK parsed it. The SDK and Go are Debian's
(golang-github-aws-aws-sdk-go-v2-dev, golang-go): no module proxy is needed, the
program is built in GOPATH mode against /usr/share/gocode as Debian's dh-golang builds,
once per source hash (reruns reuse the binary)."""

from __future__ import annotations

import base64
import fcntl
import hashlib
import json
import os
import subprocess
import tempfile
import urllib.parse
import zlib
from pathlib import Path
from typing import Any

import pytest

from .conftest import AwsEnv, Server, clean_env, debian_package, static_admin

GO = "/usr/bin/go"
GOCODE = "/usr/share/gocode"
SDK_PACKAGE = "golang-github-aws-aws-sdk-go-v2-dev"
SOURCES = Path(__file__).parent / "go"
ALLOW_ALL = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}


@pytest.fixture(scope="session")
def go_scenarios() -> Path:
    """The scenarios program, built once per version of its sources under a file lock
    (pytest-xdist's workers all reach this at once)."""
    debian_package(GO, "golang-go")
    debian_package(f"{GOCODE}/src/github.com/aws/aws-sdk-go-v2/service/s3/api_client.go", SDK_PACKAGE)
    sources = sorted(SOURCES.glob("*.go"))
    digest = hashlib.sha256(b"".join(p.name.encode() + p.read_bytes() for p in sources)).hexdigest()[:16]
    cache = Path(tempfile.gettempdir()) / "skyhold-tests-go"
    cache.mkdir(exist_ok=True)
    binary = cache / f"scenarios-{digest}"
    with open(cache / "build.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not binary.exists():
            # As dh-golang builds Debian's Go packages: GOPATH mode, no network.
            env = {**os.environ, "GO111MODULE": "off", "GOPROXY": "off", "GOFLAGS": "",
                   "GOPATH": f"{cache / 'gopath'}{os.pathsep}{GOCODE}", "GOCACHE": str(cache / "build-cache")}
            out = subprocess.run([GO, "build", "-o", f"{binary}.tmp", *map(str, sources)], env=env,
                                 capture_output=True, text=True, timeout=600)
            assert out.returncode == 0, f"go build failed:\n{out.stdout}{out.stderr}"
            os.replace(f"{binary}.tmp", binary)
    return binary


@pytest.fixture(scope="module")
def go_key(admin: AwsEnv) -> dict:
    """A long-lived access key allowed everything, as Terraform is usually given."""
    return admin.new_user(ALLOW_ALL)


def run_go(program: Path, endpoint: str, key: dict, scenario: str, home: Path, **env: str) -> dict[str, Any]:
    """The JSON a scenario printed, run with `key` against `endpoint` (nothing of the
    machine's AWS settings)."""
    env = clean_env(home) | {"SKYHOLD_ENDPOINT": endpoint, "SKYHOLD_KEY_ID": key["AccessKeyId"],
                             "SKYHOLD_SECRET": key["SecretAccessKey"]} | env
    out = subprocess.run([str(program), scenario], env=env, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, f"{scenario} failed:\n{out.stdout}\n{out.stderr}"
    got = json.loads(out.stdout)
    assert "error" not in got, got
    return got


def test_sts_caller_identity_and_assume_role(go_scenarios: Path, admin: AwsEnv, go_key: dict, account: str,
                                             tmp_path: Path) -> None:
    got = run_go(go_scenarios, admin.endpoint, go_key, "sts", tmp_path)
    assert got["account"] == account
    assert got["arn"] == f"arn:aws:iam::{account}:user/{go_key['UserName']}"
    assert got["user_id"].startswith("AIDA")
    # The role's temporary credentials sign the next calls: its session is the caller.
    assert got["role_arn"] == got["assumed_role_arn"]
    assert got["role_arn"].startswith(f"arn:aws:sts::{account}:assumed-role/go-role-")
    assert got["role_arn"].endswith("/go-sdk")
    assert got["role_user_id"].startswith("AROA") and got["role_user_id"].endswith(":go-sdk")
    denied = got["role_denied"]
    assert (denied["code"], denied["status"], denied["type"]) == ("AccessDenied", 403, "*smithy.GenericAPIError")
    assert denied["message"] == (f"User: {got['role_arn']} is not authorized to perform: iam:ListUsers on resource: "
                                 f"arn:aws:iam::{account}:user/ because no identity-based policy allows the "
                                 "iam:ListUsers action")
    # A session policy narrows the role: what only the role allows is refused, and AWS says by what.
    assert got["narrowed_source_identity"] == "go-admin"
    narrowed = got["narrowed_denied"]
    assert (narrowed["code"], narrowed["status"]) == ("AccessDenied", 403)
    assert narrowed["message"] == (
        f"User: {got['role_arn'].removesuffix('/go-sdk')}/narrow is not authorized to perform: s3:ListAllMyBuckets "
        "because no session policy allows the s3:ListAllMyBuckets action")
    assert got["requests"] == 10  # one each: nothing retried


def test_iam_users_keys_policies_and_paging(go_scenarios: Path, admin: AwsEnv, go_key: dict, tmp_path: Path) -> None:
    got = run_go(go_scenarios, admin.endpoint, go_key, "iam", tmp_path)
    assert got["listed"] == sorted(got["created"])
    assert got["pages"] == 3  # 5 users, 2 a page: the paginator followed Marker
    assert (got["key_user"], got["key_status"], got["secret_length"]) == (got["created"][0], "Active", 40)
    assert got["key_id"].startswith("AKIA")
    # GetUserPolicy's document comes URL-encoded, as on AWS; the SDK leaves decoding to the caller.
    document = json.loads(urllib.parse.unquote(got["policy_document"]))
    assert document["Statement"][0]["Action"] == "s3:Get*"
    missing, twice = got["missing"], got["twice"]
    assert (missing["code"], missing["type"], missing["status"]) == (
        "NoSuchEntity", "*types.NoSuchEntityException", 404)
    assert missing["message"] == f"The user with name {got['created'][0]}-missing cannot be found."
    assert (twice["code"], twice["type"], twice["status"]) == (
        "EntityAlreadyExists", "*types.EntityAlreadyExistsException", 409)
    assert twice["message"] == f"User with name {got['created'][0]} already exists."
    assert got["requests"] == 5 + 1 + 1 + 1 + 3 + 2


def test_s3_objects_paging_multipart_presign_and_delete(go_scenarios: Path, admin: AwsEnv, go_key: dict,
                                                        tmp_path: Path) -> None:
    got = run_go(go_scenarios, admin.endpoint, go_key, "s3", tmp_path)
    assert got["body"] == "hello dir/object-1.txt"
    assert (got["content_type"], got["metadata"]) == ("text/plain", {"owner": "go"})
    assert got["listed"] == [f"dir/object-{i}.txt" for i in range(5)] and got["pages"] == 3
    assert got["multipart_etag"].endswith('-3"') and got["upload_id"]
    assert got["downloaded"] == 11 * 1024 * 1024 and got["download_matches"]
    assert (got["presigned_status"], got["presigned_body"]) == (200, "hello dir/object-0.txt")
    assert got["presigned_put_status"] == 200
    assert got["summed_body"] == "checksummed"
    assert got["summed_checksum"] == base64.b64encode(hashlib.sha256(b"checksummed").digest()).decode()
    assert got["bucket_region"] == "us-east-1"
    # A HEAD's error has no body: the SDK names it by the status alone.
    head = got["head_missing"]
    assert (head["code"], head["status"], head["type"]) == ("NotFound", 404, "*smithy.GenericAPIError")
    odd = "odd/a b+c=d&e?f#g%h ü~!.txt"
    assert got["odd_keys"] == [odd, f"{odd} copy"]
    assert got["odd_presigned"] == "200 odd"
    # S3 reports a key that was never there as deleted too.
    assert sorted(got["deleted"]) == sorted([f"dir/object-{i}.txt" for i in range(5)] + [
        "big.bin", "never-written", "put.txt", "summed.txt", odd, f"{odd} copy"])
    assert (got["delete_errors"], got["left"]) == (0, 0)
    missing = got["missing"]
    assert got["missing_is_no_such_key"]
    # This SDK's NoSuchKey has no members, so it keeps no message; the code comes from the body.
    assert (missing["code"], missing["type"], missing["status"]) == ("NoSuchKey", "*types.NoSuchKey", 404)
    assert missing["request_id"]
    # 1 CreateBucket, 5 PutObject, 1 GetObject, 3 list pages, 5 multipart calls, 3 ranged GETs, PutObject and
    # GetObject with checksums, HeadBucket, HeadObject, PutObject, CopyObject and ListObjectsV2 of odd keys,
    # DeleteObjects, ListObjectsV2, GetObject, DeleteBucket: nothing retried (the presigned URLs are fetched
    # with net/http's own client).
    assert got["requests"] == 29


def test_s3_checksums_trailed_over_https_and_per_part(go_scenarios: Path, https_server: Server,
                                                       tmp_path: Path) -> None:
    key = static_admin(https_server, tmp_path).new_user(ALLOW_ALL)
    got = run_go(go_scenarios, https_server.https_endpoint, key, "checksums", tmp_path,
                 AWS_CA_BUNDLE=str(https_server.data_dir / "tls" / "ca.pem"))
    assert got["body"] == "streamed body"
    crc = base64.b64encode(zlib.crc32(b"streamed body").to_bytes(4, "big")).decode()
    assert got["put_checksum"] == got["got_checksum"] == crc
    assert got["size"] == 11 * 1024 * 1024
    # A multipart object's checksum is the checksum of its parts' checksums, "-<parts>".
    big = b"fedcba9876543210" * (11 * 1024 * 1024 // 16)
    parts = b"".join(zlib.crc32(big[i:i + 5 * 1024 * 1024]).to_bytes(4, "big")
                     for i in range(0, len(big), 5 * 1024 * 1024))
    composite = base64.b64encode(zlib.crc32(parts).to_bytes(4, "big")).decode() + "-3"
    assert got["multipart_checksum"] == got["head_checksum"] == composite
    assert got["requests"] == 9  # nothing retried


def test_kms_encrypt_decrypt(go_scenarios: Path, admin: AwsEnv, go_key: dict, tmp_path: Path) -> None:
    got = run_go(go_scenarios, admin.endpoint, go_key, "kms", tmp_path)
    assert got["plaintext"] == "secret data"
    assert got["encrypt_key_id"] == got["decrypt_key_id"] == got["key_arn"]
    assert got["algorithm"] == "SYMMETRIC_DEFAULT"
    wrong = got["wrong_context"]
    assert (wrong["code"], wrong["type"], wrong["status"]) == (
        "InvalidCiphertextException", "*types.InvalidCiphertextException", 400)
    assert got["alias_key_id"] == got["data_key_id"] == got["key_arn"]  # an alias resolves to its key's ARN
    assert got["data_key_length"] == 32
    wrong = got["wrong_key"]
    assert (wrong["code"], wrong["type"], wrong["status"]) == (
        "IncorrectKeyException", "*types.IncorrectKeyException", 400)
    assert got["requests"] == 9


def test_secrets_manager_create_and_get(go_scenarios: Path, admin: AwsEnv, go_key: dict, tmp_path: Path) -> None:
    got = run_go(go_scenarios, admin.endpoint, go_key, "secretsmanager", tmp_path)
    assert got["got_arn"] == got["arn"] and got["secret"] == '{"password":"hunter2"}'
    assert got["stages"] == ["AWSCURRENT"] and got["created_date"]
    missing = got["missing"]
    assert (missing["code"], missing["type"], missing["status"]) == (
        "ResourceNotFoundException", "*types.ResourceNotFoundException", 400)
    assert missing["message"] == "Secrets Manager can't find the specified secret."
    assert got["described_name"] == got["arn"].split(":secret:")[1].rsplit("-", 1)[0]
    assert got["described_versions"] == 1 and got["no_resource_policy"]  # none set: no ResourcePolicy member
    assert got["deletion_days"] == 7
    deleted = got["read_deleted"]
    assert (deleted["code"], deleted["type"], deleted["message"]) == (
        "InvalidRequestException", "*types.InvalidRequestException",
        "You can't perform this operation on the secret because it was marked for deletion.")
    assert got["requests"] == 8


def test_ssm_secure_string_parameter(go_scenarios: Path, admin: AwsEnv, go_key: dict, tmp_path: Path) -> None:
    got = run_go(go_scenarios, admin.endpoint, go_key, "ssm", tmp_path)
    assert (got["version"], got["tier"], got["type"], got["value"]) == (1, "Standard", "SecureString", "hunter2")
    assert got["sealed_differs"]
    missing = got["missing"]
    assert (missing["code"], missing["type"], missing["status"]) == (
        "ParameterNotFound", "*types.ParameterNotFound", 400)
    name = got["arn"].split(":parameter", 1)[1]
    assert got["described"] == [f"{name} SecureString Standard text"]
    assert got["by_path"] == [f"{name}/sub/0", f"{name}/sub/1"]
    # Nothing retried: 4 calls, DescribeParameters, 2 PutParameter, 2 or 3 pages (a full
    # last page may still carry a NextToken, leading to an empty one).
    assert got["requests"] <= 4 + 1 + 2 + 3


def _because(user: str, action: str, resource: str | None = None) -> str:
    on = f" on resource: {resource}" if resource else ""
    return (f"User: {user} is not authorized to perform: {action}{on} because no identity-based policy "
            f"allows the {action} action")


@pytest.fixture(scope="module")
def denied(go_scenarios: Path, admin: AwsEnv, go_key: dict, tmp_path_factory: pytest.TempPathFactory) -> dict:
    """What a user without any permission got from each service."""
    return run_go(go_scenarios, admin.endpoint, go_key, "denied", tmp_path_factory.mktemp("go-denied"))


def test_denied_calls_parse_as_aws_words_them(denied: dict, account: str) -> None:
    user = denied["arn"]
    # The Query and REST-XML services answer 403, the JSON ones 400, as on AWS.
    expected = {
        "iam": ("AccessDenied", 403, _because(user, "iam:ListUsers", f"arn:aws:iam::{account}:user/")),
        "s3": ("AccessDenied", 403, _because(user, "s3:ListAllMyBuckets")),
        "secretsmanager": ("AccessDeniedException", 400, _because(user, "secretsmanager:ListSecrets")),
        # STS does not tell who may not assume a role why (the trust policy's business).
        "sts": ("AccessDenied", 403, f"User: {user} is not authorized to perform: sts:AssumeRole on resource: "
                                     f"arn:aws:iam::{account}:role/nothing"),
    }
    for service, (code, status, message) in expected.items():
        error = denied[service]
        assert (service, error["code"], error["status"], error["message"]) == (service, code, status, message)
        assert error["request_id"]
    kms = denied["kms"]
    assert (kms["code"], kms["status"]) == ("AccessDeniedException", 400)
    assert kms["message"].startswith(f"User: {user} is not authorized to perform: kms:ListKeys")
    assert (denied["ssm"]["code"], denied["ssm"]["status"]) == ("AccessDeniedException", 400)
    assert denied["requests"] == 2 + 1 + 6 + 2  # denied calls are not retried


def test_denied_describe_parameters_names_the_account_wide_resource(denied: dict, account: str) -> None:
    """SSM authorizes DescribeParameters on the account's and region's whole ARN space and
    says so when it refuses (as AWS answers it: "... ssm:DescribeParameters on resource:
    arn:aws:ssm:us-west-1:874171213677:* because no identity-based policy allows ...")."""
    assert denied["ssm"]["message"] == _because(denied["arn"], "ssm:DescribeParameters",
                                                f"arn:aws:ssm:us-east-1:{account}:*")
    # ... and so a policy naming that resource allows it.
    assert denied["ssm_account_scoped"] is None
