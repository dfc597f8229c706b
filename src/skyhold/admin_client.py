"""The `skyhold` command's side of the admin API: signed requests as `admin`."""

from __future__ import annotations

import json
import re
import ssl
import urllib.error
import urllib.request
from typing import Any

import botocore.auth
import botocore.awsrequest
import botocore.credentials

from skyhold.admin_api import SIGNING_SERVICE
from skyhold.errors import AwsError

_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


def parse_duration(text: str) -> float:
    """'90s', '15m', '2h', '1h30m', '100d' → seconds."""
    parts = re.findall(r"(\d+(?:\.\d+)?)([smhdw])", text.strip().lower())
    if not parts or "".join(n + u for n, u in parts) != text.strip().lower():
        raise ValueError(f"not a duration: {text!r} (use e.g. 90s, 15m, 2h, 1h30m, 100d)")
    return sum(float(n) * _UNITS[u] for n, u in parts)


def call(endpoint: str, key: str, secret: str, method: str, path: str, payload: dict[str, Any] | None = None,
         token: str | None = None, cafile: str | None = None) -> dict[str, Any]:
    """`cafile`: the CA to trust for an https endpoint (Skyhold's own, tls.ca_path)."""
    url = endpoint.rstrip("/") + path
    body = json.dumps(payload).encode() if payload is not None else b""
    req = botocore.awsrequest.AWSRequest(method=method, url=url, data=body,
                                         headers={"Content-Type": "application/json"})
    creds = botocore.credentials.Credentials(key, secret, token)
    botocore.auth.SigV4Auth(creds, SIGNING_SERVICE, "us-east-1").add_auth(req)
    prepared = req.prepare()
    http = urllib.request.Request(url, data=body or None, method=method, headers=dict(prepared.headers))
    try:
        context = ssl.create_default_context(cafile=cafile) if cafile else None
        with urllib.request.urlopen(http, timeout=30, context=context) as resp:
            return json.loads(resp.read())
    except urllib.error.HTTPError as err:
        raise _error(err.code, err.read(), str(err)) from None


def _error(status: int, body: bytes, fallback: str) -> AwsError:
    """The AwsError an error answer carries; one that is not Skyhold's JSON (a proxy's
    page, a server older or newer than this client) still makes an error, not a crash."""
    try:
        detail = json.loads(body or b"{}")
    except ValueError:
        detail = None
    if not isinstance(detail, dict):
        text = body.decode("utf-8", "replace").strip()[:200]
        return AwsError("Error", text or fallback, status)
    return AwsError(str(detail.get("__type", "Error")), str(detail.get("message", fallback)), status)
