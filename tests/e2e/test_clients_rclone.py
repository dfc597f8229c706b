"""rclone (Debian's 1.60, aws-sdk-go v1), unmodified, against a real `skyhold up`: the
transfers, listings and bucket chores its users run, with temporary and least-privilege
credentials whose denials must read as AWS's."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import time
import urllib.request
import uuid
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.conftest import AwsEnv, Server, clean_env, debian_package, new_account, new_bucket

RCLONE = "/usr/bin/rclone"
MIB = 1024 * 1024


@pytest.fixture(scope="module", autouse=True)
def _rclone() -> None:
    debian_package(RCLONE, "rclone")


def rclone_remote(server: Server, key: Any, name: str = "sky") -> dict[str, str]:
    """Environment variables defining rclone remote `name` for an access key (a boto3
    credentials object, or a dict as from new_user or STS, with its session token)."""
    if isinstance(key, dict):
        ident, secret, token = key["AccessKeyId"], key["SecretAccessKey"], key.get("SessionToken")
    else:
        ident, secret, token = key.access_key, key.secret_key, key.token
    prefix = f"RCLONE_CONFIG_{name.upper()}_"
    env = {"TYPE": "s3", "PROVIDER": "Other", "ACCESS_KEY_ID": ident, "SECRET_ACCESS_KEY": secret,
           "ENDPOINT": server.endpoint, "REGION": "us-east-1", **({"SESSION_TOKEN": token} if token else {})}
    return {prefix + k: v for k, v in env.items()}


def rclone(home: Path, remotes: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    """rclone with no config file but `remotes`, and one try per call (retries hide bugs)."""
    env = {**clean_env(home), **remotes, "RCLONE_CONFIG": os.devnull,
           "RCLONE_RETRIES": "1", "RCLONE_LOW_LEVEL_RETRIES": "1"}
    return subprocess.run([RCLONE, *args], capture_output=True, text=True, env=env, timeout=120)


def ok(out: subprocess.CompletedProcess[str]) -> str:
    assert out.returncode == 0, out.stderr[-3000:]
    return out.stdout


def tree(root: Path, files: dict[str, bytes]) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    for name, data in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_bytes(data)
    return root


def md5sums(listing: str) -> dict[str, str]:
    return {line.split("  ", 1)[1]: line.split("  ", 1)[0] for line in listing.splitlines() if line}


@pytest.fixture
def sky(server: Server, admin: AwsEnv) -> dict[str, str]:
    """Remote `sky:` as admin, with the session token of admin's (MFA) session."""
    return rclone_remote(server, admin.credentials())


def test_copy_sync_check_multipart_and_server_side_copies(tmp_path: Path, admin: AwsEnv,
                                                         sky: dict[str, str]) -> None:
    s3: Any = admin.client("s3")
    bucket = new_bucket(s3, "rc")
    big = os.urandom(11 * MIB)
    src = tree(tmp_path / "src", {"a.txt": b"alpha\n", "b.bin": os.urandom(3000), "sub/c.txt": b"gamma",
                                  "big.bin": big})
    chunks = ("--s3-upload-cutoff", "5M", "--s3-chunk-size", "5M", "--s3-upload-concurrency", "2")
    ok(rclone(tmp_path, sky, "copy", str(src), f"sky:{bucket}/d", *chunks))
    assert s3.head_object(Bucket=bucket, Key="d/big.bin")["ETag"].endswith('-3"')  # multipart
    # check compares MD5s: the ETags of single-part objects, rclone's own metadata for big.bin
    assert "0 differences found" in rclone(tmp_path, sky, "check", str(src), f"sky:{bucket}/d").stderr

    # Server-side copies: CopyObject, and UploadPartCopy past the copy cutoff.
    ok(rclone(tmp_path, sky, "copyto", f"sky:{bucket}/d/big.bin", f"sky:{bucket}/e/big.bin", "--s3-copy-cutoff", "5M"))
    ok(rclone(tmp_path, sky, "copyto", f"sky:{bucket}/d/a.txt", f"sky:{bucket}/e/a.txt"))
    sums = md5sums(ok(rclone(tmp_path, sky, "md5sum", f"sky:{bucket}/e")))
    assert sums == {"big.bin": hashlib.md5(big).hexdigest(), "a.txt": hashlib.md5(b"alpha\n").hexdigest()}
    assert s3.head_object(Bucket=bucket, Key="e/big.bin")["ETag"].endswith('-3"')

    ok(rclone(tmp_path, sky, "moveto", f"sky:{bucket}/e/a.txt", f"sky:{bucket}/e/moved.txt"))
    listed = json.loads(ok(rclone(tmp_path, sky, "lsjson", "-R", "-M", f"sky:{bucket}/d")))
    by_path = {e["Path"]: e for e in listed}
    assert by_path["sub/c.txt"]["Size"] == 5 and by_path["sub"]["IsDir"]
    local_mtime = (src / "sub/c.txt").stat().st_mtime_ns
    assert "mtime" in by_path["sub/c.txt"]["Metadata"]  # x-amz-meta-mtime round trip
    remote_mtime = float(s3.head_object(Bucket=bucket, Key="d/sub/c.txt")["Metadata"]["mtime"])
    assert abs(remote_mtime - local_mtime / 1e9) < 1e-5  # seconds, as a float holds them

    # sync deletes what the source lacks; delete, rmdirs and purge empty the rest.
    (src / "a.txt").unlink()
    ok(rclone(tmp_path, sky, "sync", str(src), f"sky:{bucket}/d"))
    assert "a.txt" not in ok(rclone(tmp_path, sky, "lsf", f"sky:{bucket}/d"))
    ok(rclone(tmp_path, sky, "delete", f"sky:{bucket}/d", "--include", "*.txt"))
    ok(rclone(tmp_path, sky, "rmdirs", f"sky:{bucket}"))
    assert sorted(ok(rclone(tmp_path, sky, "lsf", "-R", f"sky:{bucket}")).split()) == [
        "d/", "d/b.bin", "d/big.bin", "e/", "e/big.bin", "e/moved.txt"]
    ok(rclone(tmp_path, sky, "purge", f"sky:{bucket}"))
    assert bucket not in ok(rclone(tmp_path, sky, "lsd", "sky:"))


def test_listing_v1_paging_and_versions(tmp_path: Path, admin: AwsEnv, sky: dict[str, str]) -> None:
    s3: Any = admin.client("s3")
    bucket = new_bucket(s3, "rcv", versioning="Enabled")
    names = ["a b+c.txt", "d/e%20f.txt", "d/ü €.txt", "g/h.txt", "z.txt"]
    for name in names:
        s3.put_object(Bucket=bucket, Key=name, Body=name.encode())
    for version in ("1", "2"):  # ListObjects (markers) and ListObjectsV2, one key a page
        out = ok(rclone(tmp_path, sky, "lsf", "-R", f"sky:{bucket}", "--s3-list-version", version,
                        "--s3-list-chunk", "1", "--s3-list-url-encode", "false"))
        assert sorted(out.split("\n")[:-1]) == sorted(names + ["d/", "g/"]), out

    src = tree(tmp_path / "v", {"doc.txt": b"one\n"})
    ok(rclone(tmp_path, sky, "copyto", str(src / "doc.txt"), f"sky:{bucket}/doc.txt"))
    # rclone names a version by its LastModified, which S3 gives to the second: two
    # versions made within one second would share a name (on AWS too).
    time.sleep(1.1)
    (src / "doc.txt").write_bytes(b"two two\n")
    ok(rclone(tmp_path, sky, "copyto", str(src / "doc.txt"), f"sky:{bucket}/doc.txt"))
    ok(rclone(tmp_path, sky, "delete", f"sky:{bucket}/doc.txt"))
    versions = json.loads(ok(rclone(tmp_path, sky, "lsjson", "--s3-versions", "--s3-list-chunk", "1",
                                    "--files-only", f"sky:{bucket}", "--include", "doc*")))
    assert sorted(v["Size"] for v in versions) == [4, 8], versions  # two versions; the current one deleted
    old = next(v["Path"] for v in versions if v["Size"] == 4)
    assert ok(rclone(tmp_path, sky, "cat", "--s3-versions", f"sky:{bucket}/{old}")) == "one\n"
    ok(rclone(tmp_path, sky, "backend", "cleanup-hidden", f"sky:{bucket}"))
    left = s3.list_object_versions(Bucket=bucket, Prefix="doc")
    assert "Versions" not in left and "DeleteMarkers" not in left


def test_cleanup_link_tiers_restore_and_kms(tmp_path: Path, admin: AwsEnv, sky: dict[str, str]) -> None:
    s3: Any = admin.client("s3")
    bucket = new_bucket(s3, "rct")
    for key in ("pending/x", "pending/y"):
        s3.create_multipart_upload(Bucket=bucket, Key=key)
    ok(rclone(tmp_path, sky, "backend", "cleanup", f"sky:{bucket}", "-o", "max-age=0s"))
    assert "Uploads" not in s3.list_multipart_uploads(Bucket=bucket)

    src = tree(tmp_path / "t", {"f.txt": b"presign me", "g.txt": b"cold"})
    ok(rclone(tmp_path, sky, "copy", str(src), f"sky:{bucket}"))
    link = ok(rclone(tmp_path, sky, "link", f"sky:{bucket}/f.txt", "--expire", "1h")).strip()
    assert "X-Amz-Security-Token=" in link  # admin's session: its token is in the URL
    with urllib.request.urlopen(link) as resp:
        assert resp.read() == b"presign me"

    ok(rclone(tmp_path, sky, "settier", "STANDARD_IA", f"sky:{bucket}/f.txt"))
    ok(rclone(tmp_path, sky, "settier", "GLACIER", f"sky:{bucket}/g.txt"))
    tiers = {e["Name"]: e["Tier"] for e in json.loads(ok(rclone(tmp_path, sky, "lsjson", f"sky:{bucket}")))}
    assert tiers == {"f.txt": "STANDARD_IA", "g.txt": "GLACIER"}
    assert "Object in GLACIER, restore first" in rclone(tmp_path, sky, "cat", f"sky:{bucket}/g.txt").stderr
    restore = ("backend", "restore", f"sky:{bucket}", "--include", "g.txt", "-o", "priority=Standard",
               "-o", "lifetime=1")
    assert json.loads(ok(rclone(tmp_path, sky, *restore))) == [{"Status": "OK", "Remote": "g.txt"}]
    again = json.loads(ok(rclone(tmp_path, sky, *restore)))[0]["Status"]
    assert again.startswith("RestoreAlreadyInProgress: Object restore is already in progress\n\tstatus code: 409")
    assert s3.head_object(Bucket=bucket, Key="g.txt")["Restore"] == 'ongoing-request="true"'

    key_id = admin.client("kms").create_key()["KeyMetadata"]["KeyId"]  # type: ignore[attr-defined]
    big = tree(tmp_path / "k", {"big.bin": os.urandom(6 * MIB)})
    ok(rclone(tmp_path, sky, "copy", str(big), f"sky:{bucket}/kms", "--s3-server-side-encryption", "aws:kms",
              "--s3-sse-kms-key-id", key_id, "--s3-upload-cutoff", "5M", "--s3-chunk-size", "5M"))
    head = s3.head_object(Bucket=bucket, Key="kms/big.bin")
    assert head["ServerSideEncryption"] == "aws:kms" and head["SSEKMSKeyId"].endswith(f":key/{key_id}")
    assert "0 differences found" in rclone(tmp_path, sky, "check", str(big), f"sky:{bucket}/kms").stderr


def test_least_privilege_role_sees_aws_denials(tmp_path: Path, server: Server, admin: AwsEnv,
                                               account: str, sky: dict[str, str]) -> None:
    s3: Any = admin.client("s3")
    iam: Any = admin.client("iam")
    bucket = new_bucket(s3, "rcp")
    role = f"rclone-{uuid.uuid4().hex[:6]}"
    trust = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{account}:root"},
                                                     "Action": "sts:AssumeRole"}]}
    iam.create_role(RoleName=role, AssumeRolePolicyDocument=json.dumps(trust))
    # rclone's documented policy (it sends x-amz-acl: private), minus deleting.
    policy = {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": "s3:ListBucket", "Resource": f"arn:aws:s3:::{bucket}"},
        {"Effect": "Allow", "Action": ["s3:GetObject", "s3:PutObject", "s3:PutObjectAcl", "s3:DeleteObject"],
         "Resource": f"arn:aws:s3:::{bucket}/*"},
        {"Effect": "Deny", "Action": "s3:DeleteObject", "Resource": f"arn:aws:s3:::{bucket}/keep/*"}]}
    iam.put_role_policy(RoleName=role, PolicyName="rclone", PolicyDocument=json.dumps(policy))
    creds = admin.client("sts").assume_role(  # type: ignore[attr-defined]
        RoleArn=f"arn:aws:iam::{account}:role/{role}", RoleSessionName="rc")["Credentials"]
    me = rclone_remote(server, creds, "me")

    src = tree(tmp_path / "s", {"keep/a.txt": b"kept", "tmp/b.txt": b"gone", "big.bin": os.urandom(6 * MIB)})
    # Without CreateBucket, rclone's bucket check (made when it has not listed the bucket)
    # is AWS's AccessDenied, naming the action.
    out = rclone(tmp_path, me, "copyto", str(src / "keep/a.txt"), f"me:{bucket}/keep/a.txt")
    assert (f"AccessDenied: User: arn:aws:sts::{account}:assumed-role/{role}/rc is not authorized to perform: "
            f's3:CreateBucket on resource: "arn:aws:s3:::{bucket}" because no identity-based policy allows '
            "the s3:CreateBucket action\n\tstatus code: 403") in out.stderr, out.stderr
    ok(rclone(tmp_path, me, "copy", str(src), f"me:{bucket}", "--s3-no-check-bucket", "--s3-upload-cutoff", "5M",
              "--s3-chunk-size", "5M"))
    assert "0 differences found" in rclone(tmp_path, me, "check", str(src), f"me:{bucket}").stderr
    ok(rclone(tmp_path, me, "delete", f"me:{bucket}/tmp"))
    out = rclone(tmp_path, me, "delete", f"me:{bucket}/keep")
    assert out.returncode != 0
    assert (f"AccessDenied: User: arn:aws:sts::{account}:assumed-role/{role}/rc is not authorized to perform: "
            f's3:DeleteObject on resource: "arn:aws:s3:::{bucket}/keep/a.txt" with an explicit deny in an '
            "identity-based policy") in out.stderr, out.stderr
    out = rclone(tmp_path, me, "lsd", "me:")
    assert ("is not authorized to perform: s3:ListAllMyBuckets because no identity-based policy allows "
            "the s3:ListAllMyBuckets action") in out.stderr, out.stderr
    assert sorted(ok(rclone(tmp_path, sky, "lsf", "-R", f"sky:{bucket}")).split()) == [
        "big.bin", "keep/", "keep/a.txt"]


def test_requester_pays_from_another_account(tmp_path: Path, server: Server, admin: AwsEnv,
                                             sky: dict[str, str]) -> None:
    s3: Any = admin.client("s3")
    bucket = new_bucket(s3, "rcr")
    other, other_id = new_account(server, tmp_path / "other", "rcr")
    s3.put_bucket_request_payment(Bucket=bucket, RequestPaymentConfiguration={"Payer": "Requester"})
    s3.put_bucket_policy(Bucket=bucket, Policy=json.dumps({"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{other_id}:root"},
        "Action": ["s3:ListBucket", "s3:GetObject", "s3:PutObject"],
        "Resource": [f"arn:aws:s3:::{bucket}", f"arn:aws:s3:::{bucket}/*"]}]}))
    them = rclone_remote(server, other.credentials(), "them")
    src = tree(tmp_path / "s", {"x.txt": b"paid for", "big.bin": os.urandom(6 * MIB)})

    out = rclone(tmp_path, them, "ls", f"them:{bucket}")  # no x-amz-request-payer: AWS's bare denial
    assert "AccessDenied: Access Denied\n\tstatus code: 403" in out.stderr, out.stderr
    pays = ("--s3-requester-pays", "--s3-no-check-bucket")
    ok(rclone(tmp_path, them, "copy", str(src), f"them:{bucket}", *pays, "--s3-upload-cutoff", "5M",
              "--s3-chunk-size", "5M"))
    assert "0 differences found" in rclone(tmp_path, them, "check", str(src), f"them:{bucket}", *pays).stderr
    assert ok(rclone(tmp_path, them, "cat", f"them:{bucket}/x.txt", *pays)) == "paid for"
    assert sorted(ok(rclone(tmp_path, sky, "lsf", f"sky:{bucket}")).split()) == ["big.bin", "x.txt"]


def test_presigned_request_upload(tmp_path: Path, admin: AwsEnv, sky: dict[str, str]) -> None:
    """rclone's presigned uploads send Content-Length twice with one value, which AWS takes
    (llhttp alone refused it: a 400 'Invalid HTTP request received.')."""
    s3: Any = admin.client("s3")
    bucket = new_bucket(s3, "rcu")
    src = tree(tmp_path / "s", {"p.txt": b"presigned put"})
    ok(rclone(tmp_path, sky, "copy", str(src), f"sky:{bucket}", "--s3-use-presigned-request"))
    assert s3.get_object(Bucket=bucket, Key="p.txt")["Body"].read() == b"presigned put"
