"""Presigned URLs and POST policies expire on Skyhold's clock: a lab can watch one
expire with `skyhold clock advance` instead of waiting. A URL's age is its wall age
plus how far the clock was moved forward since it was signed; a reset never revives
one. Each test moves the clock of a server of its own."""

from __future__ import annotations

import urllib.error
import urllib.request
import uuid
import xml.etree.ElementTree as ET
from datetime import datetime
from pathlib import Path
from typing import Any

import requests

from .conftest import AwsEnv, Server, own_server


def _get(url: str) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=30) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()


def _error(body: bytes) -> dict[str, str]:
    return {child.tag: child.text or "" for child in ET.fromstring(body)}


def _presign(env: AwsEnv, bucket: str, key: str, seconds: int) -> str:
    out = env.aws("s3", "presign", f"s3://{bucket}/{key}", "--expires-in", str(seconds))
    assert out.returncode == 0, out.stderr
    return out.stdout.strip()


def _clock(srv: Server, *args: str) -> None:
    out = srv.cli("clock", *args, "--endpoint", srv.endpoint)
    assert out.returncode == 0, out.stderr


def _object(env: AwsEnv, body: bytes) -> tuple[Any, str, str]:
    s3 = env.client("s3", region_name="us-east-1")
    bucket = f"presign-clock-{uuid.uuid4().hex[:8]}"
    s3.create_bucket(Bucket=bucket)
    s3.put_object(Bucket=bucket, Key="lab.txt", Body=body)
    return s3, bucket, "lab.txt"


def _expired(url: str) -> dict[str, str]:
    status, body = _get(url)
    err = _error(body)
    assert (status, err["Code"], err["Message"]) == (403, "AccessDenied", "Request has expired"), body
    return err


def test_a_presigned_url_expires_when_the_clock_passes_its_life(tmp_path: Path) -> None:
    with own_server(tmp_path) as (srv, admin):
        _, bucket, key = _object(admin, b"watch me expire")
        url = _presign(admin, bucket, key, 300)
        assert _get(url) == (200, b"watch me expire")

        _clock(srv, "advance", "2m")  # shorter than its remaining life
        assert _get(url) == (200, b"watch me expire")

        _clock(srv, "advance", "10m")
        err = _expired(url)
        assert err["X-Amz-Expires"] == "300"
        # ServerTime is the URL's moment on Skyhold's clock: past its Expires.
        assert datetime.fromisoformat(err["ServerTime"]) > datetime.fromisoformat(err["Expires"])

        fresh = _presign(admin, bucket, key, 60)  # signed after the advance: a full life
        assert _get(fresh) == (200, b"watch me expire")


def test_a_reset_does_not_revive_an_expired_url(tmp_path: Path) -> None:
    with own_server(tmp_path) as (srv, admin):
        _, bucket, key = _object(admin, b"gone")
        url = _presign(admin, bucket, key, 120)
        _clock(srv, "advance", "1h")
        signed_while_advanced = _presign(admin, bucket, key, 120)
        _expired(url)

        _clock(srv, "reset")
        _expired(url)
        assert _get(signed_while_advanced) == (200, b"gone")  # its wall age is seconds

        srv.stop()  # the clock's history outlives a restart
        srv.start()
        _expired(url)
        assert _get(signed_while_advanced) == (200, b"gone")


def test_a_post_policy_expires_on_skyholds_clock(tmp_path: Path) -> None:
    with own_server(tmp_path) as (srv, admin):
        s3, bucket, _ = _object(admin, b"")

        def upload(post: dict[str, Any], name: str) -> requests.Response:
            return requests.post(post["url"], data=post["fields"], files={"file": (name, b"form")}, timeout=30)

        post = s3.generate_presigned_post(bucket, "${filename}", ExpiresIn=300)
        assert upload(post, "before.txt").status_code == 204

        _clock(srv, "advance", "2m")
        assert upload(post, "within.txt").status_code == 204

        _clock(srv, "advance", "10m")
        r = upload(post, "late.txt")
        err = _error(r.content)
        assert (r.status_code, err["Code"], err["Message"]) == (
            403, "AccessDenied", "Invalid according to Policy: Policy expired.")

        fresh = s3.generate_presigned_post(bucket, "${filename}", ExpiresIn=60)
        assert upload(fresh, "after.txt").status_code == 204

        _clock(srv, "reset")
        assert upload(post, "revived.txt").status_code == 403
        keys = sorted(o["Key"] for o in s3.list_objects_v2(Bucket=bucket).get("Contents", []))
        assert keys == ["after.txt", "before.txt", "lab.txt", "within.txt"]
