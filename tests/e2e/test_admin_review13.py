"""Skyhold's administrative surface, review 13: the admin prefix takes no S3 object keys
of a virtual-hosted bucket, and SetClock bodies that are not what it documents are
refused (never a 500, never read as something else).

Tests that could move a clock do it on a server of their own.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.parse
import urllib.request
import uuid
from pathlib import Path
from typing import Any

import botocore.auth
import botocore.awsrequest
import botocore.config
import pytest

from skyhold.admin_client import call

from .conftest import AwsEnv, own_server, signing_credentials

CLOCK = "/_skyhold/clock"


def _virtual_hosted_s3(env: AwsEnv) -> Any:
    """An S3 client addressing buckets as <bucket>.s3.localhost:<port>, each request sent
    to the server's loopback address with that Host (signed as such)."""
    port = urllib.parse.urlsplit(env.endpoint).port
    s3: Any = env.session().client("s3", endpoint_url=f"http://s3.localhost:{port}", region_name="us-east-1",
                                   config=botocore.config.Config(s3={"addressing_style": "virtual"},
                                                                 signature_version="s3v4",
                                                                 retries={"max_attempts": 1}))

    def to_loopback(request: Any, **_: Any) -> None:
        url = urllib.parse.urlsplit(request.url)
        request.headers["Host"] = url.netloc
        request.url = urllib.parse.urlunsplit(url._replace(netloc=f"127.0.0.1:{port}"))

    s3.meta.events.register("before-send.s3", to_loopback)
    return s3


def _get_via_loopback(url: str, port: int) -> tuple[int, bytes]:
    parts = urllib.parse.urlsplit(url)
    req = urllib.request.Request(urllib.parse.urlunsplit(parts._replace(netloc=f"127.0.0.1:{port}")),
                                 headers={"Host": parts.netloc})
    try:
        with urllib.request.urlopen(req, timeout=10) as resp:
            return resp.status, resp.read()
    except urllib.error.HTTPError as err:
        return err.code, err.read()


# --- the admin prefix is no bucket's key space ----------------------------------------


def test_keys_under__skyhold_are_objects_of_a_virtual_hosted_bucket(admin: AwsEnv) -> None:
    """S3 takes any UTF-8 key; on a virtual-hosted bucket the path *is* the key, so
    "_skyhold/clock" is an object there, not Skyhold's admin API (which answered
    MissingAuthenticationToken to a signed PutObject, and its health check to a GET)."""
    s3 = _virtual_hosted_s3(admin)
    bucket = f"admin-keys-{uuid.uuid4().hex[:10]}"
    s3.create_bucket(Bucket=bucket)
    keys = ("_skyhold/clock", "_skyhold/health", "_skyhold/oidc/jwks.json", "_skyhold/notes.txt")
    for key in keys:
        body = f"object {key}".encode()
        s3.put_object(Bucket=bucket, Key=key, Body=body)
        assert s3.get_object(Bucket=bucket, Key=key)["Body"].read() == body, key
        assert s3.head_object(Bucket=bucket, Key=key)["ContentLength"] == len(body), key
    listed = [o["Key"] for o in s3.list_objects_v2(Bucket=bucket, Prefix="_skyhold/")["Contents"]]
    assert sorted(listed) == sorted(keys)

    # a presigned URL for such a key (handed to someone without credentials) reads the object
    port = urllib.parse.urlsplit(admin.endpoint).port
    assert port is not None
    url = s3.generate_presigned_url("get_object", Params={"Bucket": bucket, "Key": "_skyhold/clock"})
    assert _get_via_loopback(url, port) == (200, b"object _skyhold/clock")
    # ... and an unsigned GET of a private one is S3's AccessDenied, not the health check
    status, body = _get_via_loopback(f"http://{bucket}.s3.localhost:{port}/_skyhold/health", port)
    assert status == 403 and b"<Code>AccessDenied</Code>" in body, body

    # path-style, the prefix is still Skyhold's (no bucket name starts with "_")
    with urllib.request.urlopen(admin.endpoint + "/_skyhold/health", timeout=10) as resp:
        assert json.loads(resp.read())["status"] == "ready"
    for key in keys:
        s3.delete_object(Bucket=bucket, Key=key)
    s3.delete_bucket(Bucket=bucket)


# --- SetClock takes only what it documents ----------------------------------------------


def _post_clock(env: AwsEnv, body: bytes) -> tuple[int, dict[str, Any]]:
    """A SetClock call with exactly `body`, signed by the profile's credentials."""
    req = botocore.awsrequest.AWSRequest(method="POST", url=env.endpoint + CLOCK, data=body,
                                         headers={"Content-Type": "application/json"})
    botocore.auth.SigV4Auth(signing_credentials(env), "skyhold", "us-east-1").add_auth(req)
    prepared = req.prepare()
    request = urllib.request.Request(prepared.url, data=body, method="POST", headers=dict(prepared.headers))
    try:
        with urllib.request.urlopen(request, timeout=30) as resp:
            return resp.status, json.loads(resp.read())
    except urllib.error.HTTPError as err:
        raw = err.read()
        try:
            return err.code, json.loads(raw)
        except ValueError:
            return err.code, {"raw": raw.decode("latin-1")}


def _offset(env: AwsEnv) -> float:
    creds = env.credentials()
    return float(call(env.endpoint, creds.access_key, creds.secret_key, "GET", CLOCK, token=creds.token)
                 ["offset_seconds"])


def test_set_clock_refuses_bodies_it_does_not_document(tmp_path: Path) -> None:
    with own_server(tmp_path) as (srv, adm):
        status, moved = _post_clock(adm, b'{"advance_seconds": 30}')
        assert status == 200, moved
        before = _offset(adm)
        assert before >= 30
        refused = [
            b"[" * 20000,  # nested past Python's recursion limit: was a bare 500
            b'{"advance_seconds": ' + b"[" * 20000 + b"]" * 20000 + b"}",
            b'{"reset": "false"}',  # a truthy string: was a reset
            b'{"reset": 1}',
            b'{"advance_seconds": true}',  # a bool: was one second
            b'{"advance_seconds": "1e2"}',  # a string: was 100 seconds
            b'"reset"',
            b"[]",
        ]
        for body in refused:
            status, answer = _post_clock(adm, body)
            assert (status, answer.get("__type")) == (400, "ValidationException"), (body[:30], status, answer)
            assert _offset(adm) == before, body[:30]
        # the documented bodies still work
        status, moved = _post_clock(adm, b'{"reset": false, "advance_seconds": 2.5}')
        assert status == 200 and moved["offset_seconds"] == pytest.approx(before + 2.5), moved
        status, moved = _post_clock(adm, b'{"reset": true}')
        assert status == 200 and moved["offset_seconds"] == 0, moved
        assert "Traceback" not in srv.log()

