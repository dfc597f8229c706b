"""`skyhold up --https-port`: the same API over TLS, with a certificate of a local CA,
so aws:SecureTransport is true for calls made over it (and only for those)."""

from __future__ import annotations

import configparser
import json
import signal
import socket
import ssl
import subprocess
import time
import urllib.request
import uuid
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import SSLError

from skyhold import tls

from .conftest import AwsEnv, Server, aws_error, clean_env, free_port


pytestmark = pytest.mark.usefixtures("profile_ca_bundle")


def _ca(srv: Server) -> Path:
    return srv.data_dir / tls.FOLDER / tls.CA_CERT


def _over(env: AwsEnv, endpoint: str, service: str, **kw: Any) -> Any:
    """A client of the profile's credentials and CA, sent to another of Skyhold's endpoints."""
    return env.session().client(service, endpoint_url=endpoint, region_name="us-east-1",
                                config=Config(retries={"max_attempts": 1}), **kw)


def _deny_insecure(bucket: str) -> str:
    # The policy of AWS's S3 security best practices (Security Hub S3.5).
    return json.dumps({"Version": "2012-10-17", "Statement": [{
        "Sid": "DenyInsecureTransport", "Effect": "Deny", "Principal": "*", "Action": "s3:*",
        "Resource": [f"arn:aws:s3:::{bucket}", f"arn:aws:s3:::{bucket}/*"],
        "Condition": {"Bool": {"aws:SecureTransport": "false"}},
    }]})


def _deny_insecure_bucket(s3: Any, key: str, body: bytes) -> str:
    """A new bucket holding `key`, with the DenyInsecureTransport policy."""
    bucket = f"tls-{uuid.uuid4().hex[:12]}"
    s3.create_bucket(Bucket=bucket)
    s3.put_object(Bucket=bucket, Key=key, Body=body)
    s3.put_bucket_policy(Bucket=bucket, Policy=_deny_insecure(bucket))
    return bucket


def test_configure_writes_the_https_endpoint_and_ca_bundle(https_server: Server, https_admin: AwsEnv) -> None:
    parser = configparser.RawConfigParser()
    parser.read(https_admin.env["AWS_CONFIG_FILE"])
    section = parser["profile skyhold"]
    assert section["endpoint_url"] == https_server.https_endpoint
    assert Path(section["ca_bundle"]) == _ca(https_server)
    assert "BEGIN CERTIFICATE" in _ca(https_server).read_text()


def test_health_answers_on_both_listeners(https_server: Server) -> None:
    import ssl

    ctx = ssl.create_default_context(cafile=str(_ca(https_server)))
    for url, kw in ((https_server.endpoint, {}), (https_server.https_endpoint, {"context": ctx})):
        with urllib.request.urlopen(f"{url}/_skyhold/health", timeout=5, **kw) as resp:
            assert json.loads(resp.read()) == {"status": "ready"}


def test_the_clock_command_reaches_the_https_listener(https_server: Server) -> None:
    out = https_server.cli("clock", "show", "--endpoint", https_server.https_endpoint)
    assert out.returncode == 0, out.stderr
    assert out.stdout.startswith("Skyhold's time: ")


def test_caller_identity_over_https_with_the_cli_and_boto3(https_admin: AwsEnv) -> None:
    who = https_admin.aws_json("sts", "get-caller-identity")
    assert who["Arn"].endswith(":user/admin")
    sts = https_admin.client("sts")
    assert sts.meta.endpoint_url.startswith("https://")
    assert sts.get_caller_identity()["Arn"] == who["Arn"]


def test_deny_insecure_transport_refuses_http_and_allows_https(https_server: Server, https_admin: AwsEnv) -> None:
    s3 = https_admin.client("s3", region_name="us-east-1")
    bucket = _deny_insecure_bucket(s3, "k", b"over tls")

    plain = _over(https_admin, https_server.endpoint, "s3")
    code, _, status = aws_error(lambda: plain.list_objects_v2(Bucket=bucket))
    assert (code, status) == ("AccessDenied", 403)
    code, _, status = aws_error(lambda: plain.get_object(Bucket=bucket, Key="k"))
    assert (code, status) == ("AccessDenied", 403)
    assert [o["Key"] for o in s3.list_objects_v2(Bucket=bucket)["Contents"]] == ["k"]
    assert s3.get_object(Bucket=bucket, Key="k")["Body"].read() == b"over tls"

    # The aws CLI alike: its profile's endpoint (HTTPS) is allowed, plain HTTP denied.
    ok = https_admin.aws("s3api", "list-objects-v2", "--bucket", bucket)
    assert ok.returncode == 0 and '"k"' in ok.stdout, ok.stderr
    denied = https_admin.aws("s3api", "list-objects-v2", "--bucket", bucket, "--endpoint-url", https_server.endpoint)
    assert denied.returncode != 0 and "AccessDenied" in denied.stderr, denied.stderr

    # What the request's own scheme and host give back (Location) stays on HTTPS.
    upload = s3.create_multipart_upload(Bucket=bucket, Key="m")["UploadId"]
    etag = s3.upload_part(Bucket=bucket, Key="m", UploadId=upload, PartNumber=1, Body=b"x")["ETag"]
    done = s3.complete_multipart_upload(Bucket=bucket, Key="m", UploadId=upload,
                                        MultipartUpload={"Parts": [{"ETag": etag, "PartNumber": 1}]})
    assert done["Location"].startswith(f"{https_server.https_endpoint}/{bucket}/")


def test_presigned_urls_over_https_work_with_curl(https_server: Server, https_admin: AwsEnv) -> None:
    s3 = https_admin.client("s3", region_name="us-east-1")
    bucket = _deny_insecure_bucket(s3, "doc.txt", b"presigned over tls")
    url = s3.generate_presigned_url("get_object", Params={"Bucket": bucket, "Key": "doc.txt"}, ExpiresIn=300)
    assert url.startswith("https://")
    got = subprocess.run(["curl", "-sS", "--fail", "--cacert", str(_ca(https_server)), url],
                         capture_output=True, timeout=30)
    assert got.returncode == 0 and got.stdout == b"presigned over tls", got.stderr
    # Without Skyhold's CA curl refuses the certificate (exit 60: peer certificate cannot be authenticated).
    untrusted = subprocess.run(["curl", "-sS", url], capture_output=True, timeout=30)
    assert untrusted.returncode == 60, untrusted.stderr
    # The same presigned request over plain HTTP is refused by the bucket policy.
    plain = _over(https_admin, https_server.endpoint, "s3")
    http_url = plain.generate_presigned_url("get_object", Params={"Bucket": bucket, "Key": "doc.txt"}, ExpiresIn=300)
    refused = subprocess.run(["curl", "-sS", "-o", "/dev/null", "-w", "%{http_code}", http_url],
                             capture_output=True, text=True, timeout=30)
    assert refused.stdout == "403"


def test_virtual_hosted_presigned_urls_pass_the_certificate_check(https_server: Server,
                                                                   https_admin: AwsEnv) -> None:
    """boto3 signs `<bucket>.s3.localhost` when told to address buckets virtual-hosted
    style; curl checks that name against the certificate (resolved to loopback, as
    *.localhost names resolve on systemd-resolved machines and in browsers)."""
    port = https_server.https_port
    s3 = https_admin.client("s3", region_name="us-east-1")
    bucket = _deny_insecure_bucket(s3, "vhost.txt", b"virtual-hosted over tls")
    virtual = https_admin.session().client("s3", endpoint_url=f"https://s3.localhost:{port}", region_name="us-east-1",
                                           config=Config(s3={"addressing_style": "virtual"}))
    url = virtual.generate_presigned_url("get_object", Params={"Bucket": bucket, "Key": "vhost.txt"}, ExpiresIn=300)
    assert url.startswith(f"https://{bucket}.s3.localhost:{port}/vhost.txt?")
    resolve = ["--resolve", f"{bucket}.s3.localhost:{port}:127.0.0.1"]
    got = subprocess.run(["curl", "-sS", "--fail", "--cacert", str(_ca(https_server)), *resolve, url],
                         capture_output=True, timeout=30)
    assert got.returncode == 0 and got.stdout == b"virtual-hosted over tls", got.stderr
    # The wildcard covers one label only, as AWS's *.s3.amazonaws.com does: a name one
    # label deeper fails the check (curl exit 60), whatever the request.
    deeper = f"x.{bucket}.s3.localhost"
    refused = subprocess.run(["curl", "-sS", "--cacert", str(_ca(https_server)), "--resolve",
                              f"{deeper}:{port}:127.0.0.1", f"https://{deeper}:{port}/"],
                             capture_output=True, timeout=30)
    assert refused.returncode == 60, refused.stderr


def test_an_unknown_ca_is_refused(https_server: Server, https_admin: AwsEnv, tmp_path: Path) -> None:
    other_ca = tls.ca_path(tmp_path / "elsewhere")  # a CA that did not sign Skyhold's certificate
    key = https_admin.credentials()
    client = boto3.client("sts", endpoint_url=https_server.https_endpoint, region_name="us-east-1",
                          aws_access_key_id=key.access_key, aws_secret_access_key=key.secret_key,
                          aws_session_token=key.token, verify=str(other_ca),
                          config=Config(retries={"max_attempts": 1}))
    with pytest.raises(SSLError, match="CERTIFICATE_VERIFY_FAILED"):
        client.get_caller_identity()
    out = https_admin.aws("sts", "get-caller-identity", "--ca-bundle", str(other_ca))
    assert out.returncode != 0 and "CERTIFICATE_VERIFY_FAILED" in out.stderr, out.stderr


def test_reconfiguring_for_http_drops_the_ca_bundle(https_server: Server, tmp_path: Path) -> None:
    env = clean_env(tmp_path)
    out = https_server.cli("configure", "--static-keys", "--endpoint", https_server.https_endpoint, env=env)
    assert out.returncode == 0, out.stderr
    https_profile = AwsEnv(env=env, profile="skyhold", endpoint=https_server.https_endpoint)
    assert https_profile.client("sts").get_caller_identity()["Arn"].endswith(":user/admin")
    out = https_server.cli("configure", "--static-keys", "--endpoint", https_server.endpoint, env=env)
    assert out.returncode == 0, out.stderr
    parser = configparser.RawConfigParser()
    parser.read(env["AWS_CONFIG_FILE"])
    assert parser["profile skyhold"]["endpoint_url"] == https_server.endpoint
    assert "ca_bundle" not in parser["profile skyhold"]


def test_a_taken_https_port_stops_the_start(tmp_path: Path) -> None:
    import socket

    with socket.create_server(("127.0.0.1", 0)) as taken:
        srv = Server(tmp_path / "data", free_port(), https_port=taken.getsockname()[1])
        with pytest.raises(RuntimeError, match="cannot listen for HTTPS"):
            srv.start()
    assert srv.proc is not None and srv.proc.returncode not in (None, 0)


def test_cloudtrail_records_tls_details_for_calls_over_https(https_server: Server, https_admin: AwsEnv) -> None:
    """tlsDetails (TLS version, cipher suite, the Host the client sent) on events of calls
    made over TLS, as CloudTrail writes them; none on plain HTTP calls."""
    import time

    bucket = f"tlsd-{uuid.uuid4().hex[:8]}"
    https_admin.client("s3", region_name="us-east-1").create_bucket(Bucket=bucket)
    _over(https_admin, https_server.endpoint, "s3").head_bucket(Bucket=bucket)  # the same caller over HTTP
    trail = https_admin.client("cloudtrail")
    deadline = time.monotonic() + 20
    events: dict[str, Any] = {}
    while {"CreateBucket", "HeadBucket"} - events.keys() and time.monotonic() < deadline:
        for name in ("CreateBucket", "HeadBucket"):
            found = trail.lookup_events(LookupAttributes=[{"AttributeKey": "EventName", "AttributeValue": name}])
            events.update({name: event for e in found["Events"]
                           if (event := json.loads(e["CloudTrailEvent"]))["requestParameters"]["bucketName"] == bucket})
        time.sleep(0.2)
    details = events["CreateBucket"]["tlsDetails"]
    assert details["tlsVersion"] in ("TLSv1.2", "TLSv1.3") and details["cipherSuite"]
    assert details["clientProvidedHostHeader"] == f"127.0.0.1:{https_server.https_port}"
    assert "tlsDetails" not in events["HeadBucket"]


def test_a_stop_does_not_wait_for_an_idle_tls_client(tmp_path: Path) -> None:
    """A keep-alive HTTPS connection left idle by its client (a connection pool) is
    dropped at a stop: a TLS close would wait for the client's close_notify, and the stop
    with it, up to uvicorn's 10 s graceful limit."""
    srv = Server(tmp_path / "data", free_port(), https_port=free_port())
    srv.start()
    assert srv.proc is not None
    ctx = ssl.create_default_context(cafile=str(_ca(srv)))
    with socket.create_connection(("127.0.0.1", srv.https_port)) as raw, \
            ctx.wrap_socket(raw, server_hostname="127.0.0.1") as conn:
        conn.sendall(b"GET /_skyhold/health HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        assert conn.recv(65536).startswith(b"HTTP/1.1 200")  # answered; the connection stays open, idle
        started = time.monotonic()
        srv.proc.send_signal(signal.SIGTERM)
        assert srv.proc.wait(timeout=30) == 0
        assert time.monotonic() - started < 5, "the stop waited for the idle TLS connection"
    srv.proc = None
