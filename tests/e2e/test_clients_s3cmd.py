"""s3cmd 2.3.0 (Debian's; its own SigV4 signer in Python) against Skyhold's S3, path-style
on the plain HTTP port, as a user configures it for any S3 endpoint."""

from __future__ import annotations

import hashlib
import json
import subprocess
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from .conftest import AwsEnv, Server, clean_env, debian_package, static_admin

S3CMD = "/usr/bin/s3cmd"
ODD_KEY = "dir/a b+c \u00fc~&=%.txt"  # space, plus, unicode, tilde and query characters


@dataclass
class S3cmd:
    config: Path
    env: dict[str, str]
    admin: AwsEnv

    def __call__(self, *args: str, ok: bool = True, config: Path | None = None) -> subprocess.CompletedProcess[str]:
        out = subprocess.run([S3CMD, "-c", str(config or self.config), *args], capture_output=True, text=True,
                             env=self.env, timeout=60)
        if ok:
            assert out.returncode == 0, out.stdout + out.stderr
        return out

    def write_config(self, path: Path, access_key: str, secret_key: str, token: str = "") -> Path:
        host = self.admin.endpoint.removeprefix("http://")
        path.write_text(f"[default]\naccess_key = {access_key}\nsecret_key = {secret_key}\naccess_token = {token}\n"
                        f"host_base = {host}\nhost_bucket = {host}\nuse_https = False\nsignature_v2 = False\n"
                        "bucket_location = us-east-1\n")
        return path


@pytest.fixture(scope="module")
def s3cmd(server: Server, tmp_path_factory: pytest.TempPathFactory) -> S3cmd:
    debian_package(S3CMD, "s3cmd")
    home = tmp_path_factory.mktemp("s3cmd-home")
    admin = static_admin(server, home)
    creds = admin.credentials()
    tool = S3cmd(home / "s3cfg", clean_env(home), admin)
    tool.write_config(tool.config, creds.access_key, creds.secret_key)
    return tool


@pytest.fixture
def bucket(s3cmd: S3cmd) -> str:
    name = f"s3cmd-{uuid.uuid4().hex[:10]}"
    out = s3cmd("mb", f"s3://{name}")
    assert f"Bucket 's3://{name}/' created" in out.stdout
    return name


def s3(tool: S3cmd) -> Any:
    return tool.admin.client("s3", region_name="us-east-1")


def test_objects_with_odd_keys(s3cmd: S3cmd, bucket: str, tmp_path: Path) -> None:
    local = tmp_path / "in.txt"
    local.write_text("hello s3cmd\n")
    s3cmd("put", str(local), f"s3://{bucket}/{ODD_KEY}")
    assert f"s3://{bucket}/{ODD_KEY}" in s3cmd("ls", "--recursive", f"s3://{bucket}").stdout
    assert f"DIR  s3://{bucket}/dir/" in s3cmd("ls", f"s3://{bucket}").stdout
    assert f"s3://{bucket}/{ODD_KEY}" in s3cmd("la", "--recursive").stdout
    assert s3cmd("du", f"s3://{bucket}").stdout.split()[:2] == ["12", "1"]
    info = s3cmd("info", f"s3://{bucket}/{ODD_KEY}").stdout
    assert "File size: 12" in info and "MIME type: text/plain" in info
    assert "Location:  us-east-1" in s3cmd("info", f"s3://{bucket}").stdout
    s3cmd("get", f"s3://{bucket}/{ODD_KEY}", str(tmp_path / "out.txt"))
    assert (tmp_path / "out.txt").read_text() == "hello s3cmd\n"

    s3cmd("cp", f"s3://{bucket}/{ODD_KEY}", f"s3://{bucket}/copy+1 \u00fc.txt")
    s3cmd("mv", f"s3://{bucket}/copy+1 \u00fc.txt", f"s3://{bucket}/moved \u00fc.txt")
    keys = [o["Key"] for o in s3(s3cmd).list_objects_v2(Bucket=bucket)["Contents"]]
    assert keys == [ODD_KEY, "moved \u00fc.txt"]
    missing = s3cmd("get", f"s3://{bucket}/copy+1 \u00fc.txt", str(tmp_path / "gone"), ok=False)
    assert missing.returncode != 0 and "does not exist" in missing.stderr

    not_empty = s3cmd("rb", f"s3://{bucket}", ok=False)
    assert "409 (BucketNotEmpty): The bucket you tried to delete is not empty" in not_empty.stderr
    s3cmd("del", f"s3://{bucket}/moved \u00fc.txt", f"s3://{bucket}/{ODD_KEY}")
    s3cmd("rb", f"s3://{bucket}")
    assert "NoSuchBucket" in s3cmd("ls", f"s3://{bucket}", ok=False).stderr


def test_multipart_upload_and_the_multipart_commands(s3cmd: S3cmd, bucket: str, tmp_path: Path) -> None:
    local = tmp_path / "big.bin"
    local.write_bytes(hashlib.sha256(b"seed").digest() * (11 * 1024 * 1024 // 32))  # 11 MiB: three 5 MiB parts
    s3cmd("put", "--multipart-chunk-size-mb=5", str(local), f"s3://{bucket}/big \u00fc.bin")
    head = s3(s3cmd).head_object(Bucket=bucket, Key="big \u00fc.bin")
    assert head["ETag"].endswith('-3"') and head["ContentLength"] == 11 * 1024 * 1024
    s3cmd("get", f"s3://{bucket}/big \u00fc.bin", str(tmp_path / "back.bin"))
    assert (tmp_path / "back.bin").read_bytes() == local.read_bytes()

    upload = s3(s3cmd).create_multipart_upload(Bucket=bucket, Key=f"mp/{ODD_KEY}")["UploadId"]
    assert f"s3://{bucket}/mp/{ODD_KEY}\t{upload}" in s3cmd("multipart", f"s3://{bucket}").stdout
    assert "PartNumber" in s3cmd("listmp", f"s3://{bucket}/mp/{ODD_KEY}", upload).stdout
    s3cmd("abortmp", f"s3://{bucket}/mp/{ODD_KEY}", upload)
    assert upload not in s3cmd("multipart", f"s3://{bucket}").stdout


def test_sync_up_and_down_with_delete_removed(s3cmd: S3cmd, bucket: str, tmp_path: Path) -> None:
    src, dst = tmp_path / "src", tmp_path / "dst"
    (src / "sub").mkdir(parents=True)
    dst.mkdir()
    (src / "one.txt").write_text("1")
    (src / "sub" / "page.html").write_text("<html></html>")
    (src / "sp ace+\u00fc.json").write_text("{}")
    s3cmd("sync", f"{src}/", f"s3://{bucket}/sync/")
    (src / "one.txt").unlink()
    (src / "sp ace+\u00fc.json").write_text('{"changed": true}')
    out = s3cmd("sync", "--delete-removed", f"{src}/", f"s3://{bucket}/sync/").stdout
    assert f"delete: 's3://{bucket}/sync/one.txt'" in out
    client = s3(s3cmd)
    keys = [o["Key"] for o in client.list_objects_v2(Bucket=bucket)["Contents"]]
    assert keys == ["sync/sp ace+\u00fc.json", "sync/sub/page.html"]
    assert client.head_object(Bucket=bucket, Key="sync/sub/page.html")["ContentType"] == "text/html"

    (dst / "stray.txt").write_text("stray")
    s3cmd("sync", "--delete-removed", f"s3://{bucket}/sync/", f"{dst}/")
    assert sorted(str(p.relative_to(dst)) for p in dst.rglob("*") if p.is_file()) == ["sp ace+\u00fc.json",
                                                                                      "sub/page.html"]
    assert (dst / "sp ace+\u00fc.json").read_text() == '{"changed": true}'


def test_bucket_settings(s3cmd: S3cmd, bucket: str, tmp_path: Path) -> None:
    policy = {"Version": "2012-10-17", "Statement": [{"Effect": "Deny", "Principal": "*", "Action": "s3:GetObject",
                                                      "Resource": f"arn:aws:s3:::{bucket}/private/*"}]}
    (tmp_path / "policy.json").write_text(json.dumps(policy))
    s3cmd("setpolicy", str(tmp_path / "policy.json"), f"s3://{bucket}")
    assert json.loads(s3(s3cmd).get_bucket_policy(Bucket=bucket)["Policy"]) == policy
    s3cmd("delpolicy", f"s3://{bucket}")
    assert "Policy:    none" in s3cmd("info", f"s3://{bucket}").stdout

    (tmp_path / "cors.xml").write_text("<CORSConfiguration><CORSRule><AllowedOrigin>*</AllowedOrigin>"
                                       "<AllowedMethod>GET</AllowedMethod></CORSRule></CORSConfiguration>")
    s3cmd("setcors", str(tmp_path / "cors.xml"), f"s3://{bucket}")
    assert s3(s3cmd).get_bucket_cors(Bucket=bucket)["CORSRules"] == [{"AllowedMethods": ["GET"],
                                                                      "AllowedOrigins": ["*"]}]
    s3cmd("delcors", f"s3://{bucket}")

    (tmp_path / "lc.xml").write_text("<LifecycleConfiguration><Rule><ID>r1</ID><Filter><Prefix>logs/</Prefix>"
                                     "</Filter><Status>Enabled</Status><Expiration><Days>3</Days></Expiration>"
                                     "</Rule></LifecycleConfiguration>")
    s3cmd("setlifecycle", str(tmp_path / "lc.xml"), f"s3://{bucket}")
    assert "<Days>3</Days>" in s3cmd("getlifecycle", f"s3://{bucket}").stdout
    s3cmd("dellifecycle", f"s3://{bucket}")
    s3cmd("expire", "--expiry-days=5", "--expiry-prefix=tmp/", f"s3://{bucket}")
    rule = s3(s3cmd).get_bucket_lifecycle_configuration(Bucket=bucket)["Rules"][0]
    assert (rule["Expiration"], rule["Filter"], rule["Status"]) == ({"Days": 5}, {"Prefix": "tmp/"}, "Enabled")

    # Buckets are created with ACLs disabled (BucketOwnerEnforced), as on S3 since April 2023.
    local = tmp_path / "f.txt"
    local.write_text("f")
    s3cmd("put", str(local), f"s3://{bucket}/f.txt")
    public = s3cmd("setacl", "--acl-public", f"s3://{bucket}/f.txt", ok=False)
    assert "400 (AccessControlListNotSupported): The bucket does not allow ACLs" in public.stderr
    s3cmd("setacl", "--acl-private", f"s3://{bucket}/f.txt")  # the owner's full control alone is still taken


def test_modify_and_server_side_encryption(s3cmd: S3cmd, bucket: str, tmp_path: Path) -> None:
    local = tmp_path / "doc.json"
    local.write_text("{}")
    s3cmd("put", "--server-side-encryption", str(local), f"s3://{bucket}/sse.json")
    s3cmd("put", "--server-side-encryption-kms-id=alias/aws/s3", str(local), f"s3://{bucket}/kms.json")
    client = s3(s3cmd)
    assert client.head_object(Bucket=bucket, Key="sse.json")["ServerSideEncryption"] == "AES256"
    assert client.head_object(Bucket=bucket, Key="kms.json")["ServerSideEncryption"] == "aws:kms"
    s3cmd("modify", "--add-header=Cache-Control: max-age=60", "--add-header=x-amz-meta-color: blue",
          f"s3://{bucket}/sse.json")
    head = client.head_object(Bucket=bucket, Key="sse.json")
    assert (head["CacheControl"], head["Metadata"]["color"]) == ("max-age=60", "blue")


def test_restore_from_glacier(s3cmd: S3cmd, bucket: str, tmp_path: Path) -> None:
    local = tmp_path / "cold.txt"
    local.write_text("cold")
    s3cmd("put", "--storage-class=GLACIER", str(local), f"s3://{bucket}/cold.txt")
    s3cmd("put", str(local), f"s3://{bucket}/warm.txt")
    s3cmd("restore", "--restore-days=1", f"s3://{bucket}/cold.txt")
    assert 'ongoing-request="true"' in s3(s3cmd).head_object(Bucket=bucket, Key="cold.txt")["Restore"]
    again = s3cmd("restore", "--restore-days=1", f"s3://{bucket}/cold.txt")
    assert "Object restore is already in progress" in again.stderr  # S3's 409 RestoreAlreadyInProgress
    warm = s3cmd("restore", f"s3://{bucket}/warm.txt", ok=False)
    assert "403 (InvalidObjectState): Restore is not allowed for the object's current storage class" in warm.stderr


def test_signurl_is_signature_v2_which_new_buckets_refuse(s3cmd: S3cmd, bucket: str, tmp_path: Path) -> None:
    """s3cmd 2.3.0 presigns with Signature Version 2 only; S3 refuses it for buckets made
    after June 24, 2020 in AWS's words, which s3cmd itself knows to read."""
    local = tmp_path / "f.txt"
    local.write_text("f")
    s3cmd("put", str(local), f"s3://{bucket}/{ODD_KEY}")
    url = s3cmd("signurl", f"s3://{bucket}/{ODD_KEY}", "+600").stdout.strip()
    assert "Signature=" in url and "AWSAccessKeyId=" in url
    got = subprocess.run(["curl", "-s", "--noproxy", "*", "-w", "\n%{http_code}", url], capture_output=True,
                         text=True, timeout=30)
    body, status = got.stdout.rsplit("\n", 1)
    assert status == "400"
    assert ("<Code>InvalidRequest</Code><Message>The authorization mechanism you have provided is not supported. "
            "Please use AWS4-HMAC-SHA256.</Message>") in body


def test_recursive_listing_across_pages(s3cmd: S3cmd, bucket: str) -> None:
    """More than one page of 1000: s3cmd pages with the last key as its marker, which it
    signs itself (unicode, space, '+', '&', '=', '%' in the query)."""
    client = s3(s3cmd)
    names = [f"pg/\u00fc +~&=%{i:04d} x" for i in range(1003)]
    with ThreadPoolExecutor(8) as pool:
        list(pool.map(lambda name: client.put_object(Bucket=bucket, Key=name, Body=b"x"), names))
    lines = s3cmd("ls", "--recursive", f"s3://{bucket}/pg/").stdout.splitlines()
    assert [line.split("  s3://", 1)[1] for line in lines] == [f"{bucket}/{n}" for n in names]
    assert s3cmd("du", f"s3://{bucket}/pg/").stdout.split()[:2] == ["1003", "1003"]
    s3cmd("del", "--recursive", "--force", f"s3://{bucket}/pg/")
    assert client.list_objects_v2(Bucket=bucket)["KeyCount"] == 0


def test_wrong_secret_and_session_credentials(s3cmd: S3cmd, bucket: str, tmp_path: Path) -> None:
    creds = s3cmd.admin.credentials()
    wrong = s3cmd.write_config(tmp_path / "wrong.cfg", creds.access_key, "not-the-secret")
    out = s3cmd("ls", f"s3://{bucket}", ok=False, config=wrong)
    assert ("403 (SignatureDoesNotMatch): The request signature we calculated does not match the signature you "
            "provided. Check your key and signing method.") in out.stderr
    session = s3cmd.admin.client("sts").get_session_token()["Credentials"]
    with_token = s3cmd.write_config(tmp_path / "session.cfg", session["AccessKeyId"], session["SecretAccessKey"],
                                    session["SessionToken"])
    local = tmp_path / "f.txt"
    local.write_text("f")
    s3cmd("put", str(local), f"s3://{bucket}/by-session.txt", config=with_token)
    assert f"s3://{bucket}/by-session.txt" in s3cmd("ls", f"s3://{bucket}", config=with_token).stdout
