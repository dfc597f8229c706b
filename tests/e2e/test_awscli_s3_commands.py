"""The aws CLI's high-level `aws s3` commands (cp, mv, rm, ls, sync, mb, rb, presign,
website) and the s3api waiters, driven as users drive them, each outcome compared with
AWS's documented behaviour. Each `aws` process costs ~0.5 s to start: the work is batched
into few invocations."""

from __future__ import annotations

import os
import re
import subprocess
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import requests

from .conftest import VENV_BIN, AwsEnv, new_bucket, own_server

# A fixed past time for local files: `sync` compares sizes and modification times, and a
# file written in the second of its upload is newer than its object's LastModified (whole
# seconds, on S3 as here) whatever the server does.
PAST = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC).timestamp()


def _ok(env: AwsEnv, *args: str) -> str:
    out = env.aws(*args)
    assert out.returncode == 0, out.stderr
    return out.stdout


def _piped(env: AwsEnv, stdin: str, *args: str) -> subprocess.CompletedProcess[str]:
    """`aws` with `stdin` on its standard input (`cp -`)."""
    return subprocess.run([str(VENV_BIN / "aws"), "--profile", env.profile, *args], input=stdin,
                          capture_output=True, text=True, env=env.env, timeout=120)


def _tree(root: Path, files: dict[str, str]) -> None:
    for name, body in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(body)
        os.utime(path, (PAST, PAST))


def _transfers(out: str) -> list[str]:
    """The `upload:`/`download:`/`copy:`/`delete:` lines a command printed, sorted."""
    return sorted(line for line in out.splitlines() if re.match(r"(upload|download|copy|delete): ", line))


def test_sync_again_copies_nothing_up_down_and_between_buckets(admin: AwsEnv, tmp_path: Path) -> None:
    """`aws s3 sync` run twice copies nothing the second time, each way, and with
    --exact-timestamps too: the CLI stamps a downloaded file with the object's LastModified
    in whole seconds, and S3 lists LastModified in whole seconds (`.000Z`; aws-cli issues
    #5369, #8092: only S3 look-alikes with sub-second times re-download every time)."""
    s3: Any = admin.client("s3", region_name="us-east-1")
    bucket = new_bucket(s3, "cli-sync")
    up, down = tmp_path / "up", tmp_path / "down"
    _tree(up, {"a.txt": "alpha", "sub/b.log": "bravo", "dir with space/c+d é.txt": "charlie", "gone.txt": "x"})
    first = _ok(admin, "s3", "sync", str(up), f"s3://{bucket}/s/")
    assert len(_transfers(first)) == 4, first
    # every listing shows LastModified as its object's Last-Modified header does
    listed = s3.list_objects_v2(Bucket=bucket)["Contents"]
    for entry in listed:
        head = s3.head_object(Bucket=bucket, Key=entry["Key"])
        assert entry["LastModified"] == head["LastModified"] and entry["LastModified"].microsecond == 0
    out = _ok(admin, "s3", "sync", str(up), f"s3://{bucket}/s/")
    assert _transfers(out) == [], out
    assert len(_transfers(_ok(admin, "s3", "sync", f"s3://{bucket}/s/", str(down)))) == 4
    assert (down / "dir with space" / "c+d é.txt").read_text() == "charlie"
    for flags in ((), ("--exact-timestamps",)):
        out = _ok(admin, "s3", "sync", f"s3://{bucket}/s/", str(down), *flags)
        assert _transfers(out) == [], (flags, out)
    assert len(_transfers(_ok(admin, "s3", "sync", f"s3://{bucket}/s/", f"s3://{bucket}/t/"))) == 4
    out = _ok(admin, "s3", "sync", f"s3://{bucket}/s/", f"s3://{bucket}/t/")
    assert _transfers(out) == [], out
    # --delete removes what the source lost; --size-only sees a same-size change as none
    (up / "gone.txt").unlink()
    (up / "a.txt").write_text("ALPHA")
    later = time.time() + 3600  # newer than its object: the plain sync uploads it
    os.utime(up / "a.txt", (later, later))
    assert _transfers(_ok(admin, "s3", "sync", str(up), f"s3://{bucket}/s/", "--delete", "--size-only")) == [
        f"delete: s3://{bucket}/s/gone.txt"]
    uploaded = _transfers(_ok(admin, "s3", "sync", str(up), f"s3://{bucket}/s/"))
    assert len(uploaded) == 1 and uploaded[0].endswith(f"a.txt to s3://{bucket}/s/a.txt"), uploaded


def test_cp_stores_what_each_flag_asks(admin: AwsEnv, tmp_path: Path) -> None:
    """`aws s3 cp` flags land on the object as PutObject/CopyObject document them; a copy
    keeps the source's metadata (COPY) unless told REPLACE, and never the website redirect
    or storage class (CopyObject); `-` streams stdin and stdout."""
    s3: Any = admin.client("s3", region_name="us-east-1")
    bucket = new_bucket(s3, "cli-cp")
    src = tmp_path / "page.html"
    src.write_text("hello")
    url = f"s3://{bucket}"
    _ok(admin, "s3", "cp", str(src), f"{url}/full", "--metadata", "k1=v1,k2=v2", "--content-type", "text/x-foo",
        "--cache-control", "max-age=5", "--expires", "2030-01-01T00:00:00Z", "--website-redirect", "/other",
        "--storage-class", "STANDARD_IA", "--sse", "AES256", "--checksum-algorithm", "SHA256")
    head = s3.head_object(Bucket=bucket, Key="full", ChecksumMode="ENABLED")
    assert (head["Metadata"], head["ContentType"], head["CacheControl"], head["ExpiresString"],
            head["WebsiteRedirectLocation"], head["StorageClass"], head["ServerSideEncryption"]) == (
        {"k1": "v1", "k2": "v2"}, "text/x-foo", "max-age=5", "Tue, 01 Jan 2030 00:00:00 GMT", "/other",
        "STANDARD_IA", "AES256")
    assert head["ChecksumSHA256"] == "LPJNul+wow4m6DsqxbninhsWHlwfp0JecwQzYpOLmCQ="
    _ok(admin, "s3", "cp", f"{url}/full", f"{url}/copied")
    _ok(admin, "s3", "cp", f"{url}/full", f"{url}/replaced", "--metadata-directive", "REPLACE",
        "--metadata", "z=1", "--content-type", "text/plain")
    _ok(admin, "s3", "cp", str(src), f"{url}/guessed")
    _ok(admin, "s3", "cp", str(src), f"{url}/unguessed", "--no-guess-mime-type")
    copied = s3.head_object(Bucket=bucket, Key="copied")
    assert (copied["Metadata"], copied["ContentType"], copied["CacheControl"]) == (
        {"k1": "v1", "k2": "v2"}, "text/x-foo", "max-age=5")
    assert "WebsiteRedirectLocation" not in copied and "StorageClass" not in copied
    replaced = s3.head_object(Bucket=bucket, Key="replaced")
    assert (replaced["Metadata"], replaced["ContentType"], replaced.get("CacheControl")) == ({"z": "1"}, "text/plain",
                                                                                             None)
    assert s3.head_object(Bucket=bucket, Key="guessed")["ContentType"] == "text/html"
    assert s3.head_object(Bucket=bucket, Key="unguessed")["ContentType"] == "binary/octet-stream"
    for algorithm, field, value in (("CRC32", "ChecksumCRC32", "NhCmhg=="),
                                    ("CRC64NVME", "ChecksumCRC64NVME", "M3eFcAZSQlc=")):
        _ok(admin, "s3", "cp", str(src), f"{url}/{algorithm}", "--checksum-algorithm", algorithm)
        assert s3.head_object(Bucket=bucket, Key=algorithm, ChecksumMode="ENABLED")[field] == value
    piped = _piped(admin, "streamed\n", "s3", "cp", "-", f"{url}/stream", "--expected-size", "9")
    assert piped.returncode == 0, piped.stderr
    assert _ok(admin, "s3", "cp", f"{url}/stream", "-", "--request-payer", "requester") == "streamed\n"


def test_rm_ls_mv_rb_over_many_keys(admin: AwsEnv, tmp_path: Path) -> None:
    """`ls --page-size` pages (ListObjectsV2 continuation), `--summarize` counts,
    `rm --recursive` deletes over 1000 keys (DeleteObjects takes 1000 a call), `mv` moves
    both ways, `rb` refuses a bucket with keys and `rb --force` empties it first."""
    s3: Any = admin.client("s3", region_name="us-east-1")
    bucket = new_bucket(s3, "cli-many")
    with ThreadPoolExecutor(16) as pool:
        list(pool.map(lambda i: s3.put_object(Bucket=bucket, Key=f"k/{i:05d}", Body=b"xy"), range(1003)))
    out = _ok(admin, "s3", "ls", f"s3://{bucket}", "--recursive", "--page-size", "300", "--summarize",
              "--human-readable")
    assert "Total Objects: 1003" in out and "Total Size: 2.0 KiB" in out, out[-300:]
    assert len(re.findall(r"\d Bytes k/\d{5}$", out, re.M)) == 1003
    assert _ok(admin, "s3", "ls", f"s3://{bucket}").strip() == "PRE k/"
    out = _ok(admin, "s3", "rm", f"s3://{bucket}/k/", "--recursive", "--only-show-errors")
    assert out == "" and s3.list_objects_v2(Bucket=bucket)["KeyCount"] == 0
    local = tmp_path / "m.txt"
    local.write_text("moving")
    _ok(admin, "s3", "mv", str(local), f"s3://{bucket}/m1")
    _ok(admin, "s3", "mv", f"s3://{bucket}/m1", f"s3://{bucket}/m2")
    _ok(admin, "s3", "mv", f"s3://{bucket}/m2", str(local))
    assert local.read_text() == "moving" and s3.list_objects_v2(Bucket=bucket)["KeyCount"] == 0
    s3.put_object(Bucket=bucket, Key="left", Body=b"x")
    refused = admin.aws("s3", "rb", f"s3://{bucket}")
    assert refused.returncode == 1 and "BucketNotEmpty" in refused.stderr, refused.stderr
    assert _ok(admin, "s3", "rb", f"s3://{bucket}", "--force").splitlines()[-1] == f"remove_bucket: {bucket}"


def test_multipart_thresholds_from_the_profile(admin: AwsEnv, tmp_path: Path) -> None:
    """`aws configure set s3.multipart_threshold/_chunksize 5MB` (in a config file of the
    test's own) makes `cp` upload 12 MB in three parts, with SSE-KMS and a checksum; the
    download matches byte for byte."""
    config = tmp_path / "aws-config"
    config.write_text(Path(admin.env["AWS_CONFIG_FILE"]).read_text())
    env = AwsEnv(env={**admin.env, "AWS_CONFIG_FILE": str(config)}, profile=admin.profile, endpoint=admin.endpoint)
    for name in ("multipart_threshold", "multipart_chunksize"):
        _ok(env, "configure", "set", f"s3.{name}", "5MB")
    s3: Any = admin.client("s3", region_name="us-east-1")
    bucket = new_bucket(s3, "cli-mp")
    key_id = admin.client("kms", region_name="us-east-1").create_key()["KeyMetadata"]["Arn"]  # type: ignore[attr-defined]
    src, back = tmp_path / "big.bin", tmp_path / "back.bin"
    src.write_bytes(os.urandom(12 * 1024 * 1024))
    _ok(env, "s3", "cp", str(src), f"s3://{bucket}/big", "--sse", "aws:kms", "--sse-kms-key-id", key_id,
        "--checksum-algorithm", "SHA256")
    head = s3.head_object(Bucket=bucket, Key="big", ChecksumMode="ENABLED")
    assert head["ETag"].endswith('-3"') and head["ChecksumSHA256"].endswith("-3"), head
    assert (head["ServerSideEncryption"], head["SSEKMSKeyId"]) == ("aws:kms", key_id)
    _ok(env, "s3", "cp", f"s3://{bucket}/big", str(back))
    assert back.read_bytes() == src.read_bytes()


def test_waiters_presign_website_and_common_mistakes(admin: AwsEnv, tmp_path: Path) -> None:
    """The s3api waiters return at once when their condition holds; `presign` gives a URL
    that fetches the object; `website` stores the configuration; the usual mistakes end
    with AWS's messages (and the exit codes the CLI gives them)."""
    s3: Any = admin.client("s3", region_name="us-east-1")
    bucket = new_bucket(s3, "cli-misc")
    s3.put_object(Bucket=bucket, Key="here", Body=b"present")
    for waiter in (("bucket-exists", "--bucket", bucket), ("object-exists", "--bucket", bucket, "--key", "here"),
                   ("object-not-exists", "--bucket", bucket, "--key", "absent")):
        _ok(admin, "s3api", "wait", *waiter)
    url = _ok(admin, "s3", "presign", f"s3://{bucket}/here", "--expires-in", "60").strip()
    assert "X-Amz-Expires=60" in url and requests.get(url, timeout=30).content == b"present"
    _ok(admin, "s3", "website", f"s3://{bucket}", "--index-document", "index.html", "--error-document", "err.html")
    site = s3.get_bucket_website(Bucket=bucket)
    assert (site["IndexDocument"], site["ErrorDocument"]) == ({"Suffix": "index.html"}, {"Key": "err.html"})
    local = tmp_path / "f.txt"
    local.write_text("x")
    missing = f"missing-{uuid.uuid4().hex[:8]}"
    cases = [
        (("s3", "cp", str(local), f"s3://{missing}/f"), 1,
         "An error occurred (NoSuchBucket) when calling the PutObject operation: The specified bucket does not exist"),
        (("s3", "cp", f"s3://{bucket}/absent", str(tmp_path / "g")), 1,
         'An error occurred (404) when calling the HeadObject operation: Key "absent" does not exist'),
        (("s3", "cp", str(tmp_path / "nowhere.txt"), f"s3://{bucket}/f"), 255,
         f"The user-provided path {tmp_path / 'nowhere.txt'} does not exist."),
        (("s3", "ls", f"s3://{missing}"), 255,
         "An error occurred (NoSuchBucket) when calling the ListObjectsV2 operation: The specified bucket does not exist"),
    ]
    for args, code, message in cases:
        out = admin.aws(*args)
        assert (out.returncode, message in out.stderr) == (code, True), (args, out.stderr)


def test_wrong_region_is_followed_and_expired_credentials_say_so(tmp_path: Path) -> None:
    """A profile in the wrong region still reaches a bucket (botocore follows S3's
    AuthorizationHeaderMalformed and its Region); expired session credentials end in
    ExpiredToken, "The provided token has expired.", on every command."""
    with own_server(tmp_path) as (srv, admin):
        s3: Any = admin.client("s3", region_name="eu-west-1")
        s3.create_bucket(Bucket="cli-eu-bucket", CreateBucketConfiguration={"LocationConstraint": "eu-west-1"})
        local = tmp_path / "f.txt"
        local.write_text("far")
        _ok(admin, "s3", "cp", str(local), "s3://cli-eu-bucket/f", "--region", "us-west-2")
        assert _ok(admin, "s3", "cp", "s3://cli-eu-bucket/f", "-") == "far"
        creds = admin.client("sts").get_session_token(DurationSeconds=900)["Credentials"]  # type: ignore[attr-defined]
        home = tmp_path / "expired"
        home.mkdir()
        (home / "config").write_text(f"[profile lapsed]\nregion = eu-west-1\nendpoint_url = {srv.endpoint}\n"
                                     "s3 =\n  addressing_style = path\n")
        (home / "credentials").write_text(
            f"[lapsed]\naws_access_key_id = {creds['AccessKeyId']}\n"
            f"aws_secret_access_key = {creds['SecretAccessKey']}\naws_session_token = {creds['SessionToken']}\n")
        lapsed = AwsEnv(env={**admin.env, "AWS_CONFIG_FILE": str(home / "config"),
                             "AWS_SHARED_CREDENTIALS_FILE": str(home / "credentials")},
                        profile="lapsed", endpoint=srv.endpoint)
        assert _ok(lapsed, "s3", "ls", "s3://cli-eu-bucket").split()[-1] == "f"
        out = srv.cli("clock", "advance", "1h", "--endpoint", srv.endpoint)
        assert out.returncode == 0, out.stderr
        for args, operation in ((("s3", "ls", "s3://cli-eu-bucket"), "ListObjectsV2"),
                                (("s3", "cp", str(local), "s3://cli-eu-bucket/g"), "PutObject")):
            out = lapsed.aws(*args)
            assert out.returncode != 0 and (
                f"An error occurred (ExpiredToken) when calling the {operation} operation: "
                "The provided token has expired.") in out.stderr, out.stderr
