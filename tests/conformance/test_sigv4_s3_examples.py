"""The worked SigV4 examples of AWS's S3 API Reference (../shared/conformance/sigv4/s3-doc-examples.json).

Header auth, a presigned GET, aws-chunked uploads (signed, and signed with a CRC32C
trailer) and a browser POST policy: each accepted as published, each refused once tampered.
"""

from __future__ import annotations

import base64
import copy
import hashlib
import hmac
import json
import random
import re
from datetime import datetime, timezone
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from skyhold.auth import sigv4
from skyhold.auth.authenticate import authenticate
from skyhold.auth.chunked import ChunkedDecoder
from skyhold.auth.credentials import Credential
from skyhold.auth.post_policy import verify_post_policy
from skyhold.errors import AwsError
from skyhold.wire.http import HttpRequest

DATA = json.loads(
    (Path(__file__).parents[2] / ".." / "shared" / "conformance" / "sigv4" / "s3-doc-examples.json").read_text("utf-8")
)
CREDS = DATA["credentials"]
WHEN = datetime.strptime(DATA["timestamp"], "%Y%m%dT%H%M%SZ").replace(tzinfo=timezone.utc)
REGIONS = frozenset({"us-east-1", "eu-west-1"})


def lookup(akid: str) -> Credential | None:
    if akid != CREDS["access_key_id"]:
        return None
    return Credential(akid, CREDS["secret_access_key"])


def auth(req: HttpRequest, now: datetime = WHEN):
    return authenticate(req, lookup, service="s3", regions=REGIONS, s3=True, now=now)


def refused(req: HttpRequest, now: datetime = WHEN) -> AwsError:
    with pytest.raises(AwsError) as caught:
        auth(req, now)
    return caught.value


def _data(expr: str) -> bytes:
    # The examples write chunk data as "'a' * N".
    m = re.fullmatch(r"'(.)' \* (\d+)", expr)
    assert m, expr
    return m.group(1).encode() * int(m.group(2))


def _flip(sig: str) -> str:
    return sig[:-1] + ("0" if sig[-1] != "0" else "1")


# --- header auth -------------------------------------------------------------------------


def _header_request(case: dict) -> HttpRequest:
    headers = dict(case["signed_headers"])
    headers["authorization"] = case["expected"]["authorization"]
    body = case.get("body", "").encode()
    return HttpRequest(
        method=case["method"],
        path=case.get("raw_path", case["canonical_uri"]),
        query=case.get("raw_query", case["canonical_query"]),
        headers=headers,
        body=body,
    )


@pytest.mark.parametrize("case", DATA["header_auth"], ids=lambda c: c["name"])
def test_header_auth_accepted(case):
    req = _header_request(case)
    info = sigv4.extract_sigv4(req, s3=True)
    assert info is not None
    key = sigv4.signing_key(CREDS["secret_access_key"], info.date, info.region, info.service)
    signature, creq, sts = sigv4.expected_signature(req, info, key, s3=True)
    assert creq == case["expected"]["canonical_request"]
    assert sts == case["expected"]["string_to_sign"]
    assert signature == case["expected"]["signature"]
    result = auth(req)
    assert result.credential is not None and result.credential.access_key_id == CREDS["access_key_id"]


@pytest.mark.parametrize("case", DATA["header_auth"], ids=lambda c: c["name"])
def test_header_auth_tampered(case):
    req = _header_request(case)
    bad = copy.deepcopy(req)
    sig = case["expected"]["signature"]
    bad.headers["authorization"] = req.headers["authorization"].replace(sig, _flip(sig))
    err = refused(bad)
    assert err.code == "SignatureDoesNotMatch" and err.status == 403
    assert err.extra["CanonicalRequest"] == case["expected"]["canonical_request"]
    assert err.extra["StringToSign"] == case["expected"]["string_to_sign"]
    assert err.extra["SignatureProvided"] == _flip(sig)
    bad = copy.deepcopy(req)
    bad.headers["host"] = "other" + req.headers["host"]
    assert refused(bad).code == "SignatureDoesNotMatch"
    if req.body:
        bad = copy.deepcopy(req)
        bad.body = req.body + b"!"
        err = refused(bad)
        assert err.code == "XAmzContentSHA256Mismatch"
        assert err.extra["ClientComputedContentSHA256"] == case["payload_hash"]
        assert err.extra["S3ComputedContentSHA256"] == hashlib.sha256(bad.body).hexdigest()
    # An unknown key, and a clock 20 minutes off.
    bad = copy.deepcopy(req)
    bad.headers["authorization"] = req.headers["authorization"].replace(CREDS["access_key_id"], "AKIAUNKNOWNKEY000000")
    err = refused(bad)
    assert (err.code, err.extra["AWSAccessKeyId"]) == ("InvalidAccessKeyId", "AKIAUNKNOWNKEY000000")
    err = refused(req, WHEN.replace(minute=20))
    assert err.code == "RequestTimeTooSkewed" and err.extra["MaxAllowedSkewMilliseconds"] == "900000"


# --- presigned GET -----------------------------------------------------------------------


def _presigned(case: dict) -> HttpRequest:
    url = urlsplit(case["expected"]["url"])
    return HttpRequest(method=case["method"], path=url.path, query=url.query, headers={"host": case["host"]})


@pytest.mark.parametrize("case", DATA["presigned_url"], ids=lambda c: c["name"])
def test_presigned_accepted_until_expiry(case):
    req = _presigned(case)
    info = sigv4.extract_sigv4(req, s3=True)
    assert info is not None and info.presigned and info.expires == 86400
    key = sigv4.signing_key(CREDS["secret_access_key"], info.date, info.region, info.service)
    signature, creq, sts = sigv4.expected_signature(req, info, key, s3=True)
    assert (creq, sts, signature) == (
        case["expected"]["canonical_request"], case["expected"]["string_to_sign"], case["expected"]["signature"]
    )
    assert auth(req).credential is not None
    assert auth(req, WHEN.replace(hour=23, minute=59)).credential is not None  # within 24h
    err = refused(req, WHEN.replace(day=25, second=1))
    assert (err.code, err.message) == ("AccessDenied", "Request has expired")
    assert err.extra == {"X-Amz-Expires": "86400", "Expires": "2013-05-25T00:00:00Z", "ServerTime": "2013-05-25T00:00:01Z"}


@pytest.mark.parametrize("case", DATA["presigned_url"], ids=lambda c: c["name"])
def test_presigned_tampered(case):
    req = _presigned(case)
    sig = case["expected"]["signature"]
    bad = copy.deepcopy(req)
    bad.query = req.query.replace(sig, _flip(sig))
    assert refused(bad).code == "SignatureDoesNotMatch"
    bad = copy.deepcopy(req)
    bad.path = "/other.txt"
    assert refused(bad).code == "SignatureDoesNotMatch"
    bad = copy.deepcopy(req)
    bad.query = req.query.replace("X-Amz-Expires=86400", "X-Amz-Expires=604801")
    assert refused(bad).code == "AuthorizationQueryParametersError"
    bad = copy.deepcopy(req)
    bad.headers["x-amz-server-side-encryption"] = "AES256"  # an unsigned x-amz-* header
    err = refused(bad)
    assert (err.code, err.extra["HeadersNotSigned"]) == ("AccessDenied", "x-amz-server-side-encryption")


# --- aws-chunked -------------------------------------------------------------------------


def _chunked(case: dict) -> tuple[HttpRequest, bytes, bytes]:
    wire = bytearray()
    payload = bytearray()
    for chunk in case["expected"]["chunks"]:
        data = _data(chunk["data"])
        assert len(data) == chunk["size"]
        wire += f"{chunk['size']:x};chunk-signature={chunk['chunk_signature']}\r\n".encode()
        if chunk["size"] or "trailer" not in case["expected"]:
            wire += data + b"\r\n"
        payload += data
    trailer = case["expected"].get("trailer")
    if trailer:
        for line in trailer["canonical_trailer"].splitlines():
            wire += line.encode() + b"\r\n"
        wire += f"x-amz-trailer-signature:{trailer['trailer_signature']}\r\n\r\n".encode()
    headers = dict(case["signed_headers"])
    headers["authorization"] = case["expected"]["authorization"]
    req = HttpRequest(method=case["method"], path=case["path"], query="", headers=headers, body=bytes(wire))
    return req, bytes(wire), bytes(payload)


@pytest.mark.parametrize("case", DATA["chunked_upload"], ids=lambda c: c["name"])
def test_chunked_whole_body(case):
    req, wire, payload = _chunked(case)
    if "content-length" in case["signed_headers"]:
        assert len(wire) == int(case["signed_headers"]["content-length"])
    info = sigv4.extract_sigv4(req, s3=True)
    assert info is not None
    key = sigv4.signing_key(CREDS["secret_access_key"], info.date, info.region, info.service)
    signature, creq, sts = sigv4.expected_signature(req, info, key, s3=True)
    assert (creq, sts, signature) == (
        case["expected"]["canonical_request"], case["expected"]["string_to_sign"], case["expected"]["seed_signature"]
    )
    result = auth(req)
    assert req.body == payload and result.body_verifier is None
    if "trailer" in case["expected"]:
        assert result.trailers == {"x-amz-checksum-crc32c": "sOO8/Q=="}


@pytest.mark.parametrize("case", DATA["chunked_upload"], ids=lambda c: c["name"])
def test_chunked_streamed_in_random_pieces(case):
    req, wire, payload = _chunked(case)
    req.body = None
    result = auth(req)
    decoder = result.body_verifier
    assert isinstance(decoder, ChunkedDecoder)
    rng = random.Random(7)
    out = bytearray()
    pos = 0
    while pos < len(wire):
        step = rng.choice([1, 2, 3, 7, 100, 4096, 70000])
        out += decoder.feed(wire[pos : pos + step])
        pos += step
    trailers = decoder.finish()
    assert bytes(out) == payload
    if "trailer" in case["expected"]:
        assert trailers == {"x-amz-checksum-crc32c": "sOO8/Q=="}


@pytest.mark.parametrize("case", DATA["chunked_upload"], ids=lambda c: c["name"])
def test_chunked_tampered(case):
    req, wire, payload = _chunked(case)
    first = case["expected"]["chunks"][0]
    # A flipped byte of chunk data: that chunk's signature no longer matches.
    bad = copy.deepcopy(req)
    at = wire.index(b"\r\n") + 2 + 10
    bad.body = wire[:at] + b"b" + wire[at + 1 :]
    err = refused(bad)
    assert err.code == "SignatureDoesNotMatch" and first["string_to_sign"] != err.extra["StringToSign"]
    # A flipped chunk signature; a reordering of the chain is caught the same way.
    bad = copy.deepcopy(req)
    bad.body = wire.replace(first["chunk_signature"].encode(), _flip(first["chunk_signature"]).encode())
    assert refused(bad).code == "SignatureDoesNotMatch"
    # Truncated mid-chunk.
    bad = copy.deepcopy(req)
    bad.body = wire[:1000]
    assert refused(bad).code == "IncompleteBody"
    # The decoded length does not match x-amz-decoded-content-length.
    bad = copy.deepcopy(req)
    bad.headers["x-amz-decoded-content-length"] = "66561"
    assert refused(bad).code == "SignatureDoesNotMatch"  # it is a signed header
    if "trailer" in case["expected"]:
        bad = copy.deepcopy(req)
        bad.body = wire.replace(b"sOO8/Q==", b"AAAAAA==")
        assert refused(bad).code == "SignatureDoesNotMatch"  # the trailer is signed


def test_chunked_trailer_checksum_is_verified():
    """Re-sign the trailer with a wrong CRC32C: the signature holds, the checksum does not."""
    case = next(c for c in DATA["chunked_upload"] if "trailer" in c["expected"])
    req, wire, _ = _chunked(case)
    key = sigv4.signing_key(CREDS["secret_access_key"], "20130524", "us-east-1", "s3")
    wrong = "x-amz-checksum-crc32c:AAAAAA==\n"
    last_sig = case["expected"]["chunks"][-1]["chunk_signature"]
    sts = (
        f"AWS4-HMAC-SHA256-TRAILER\n{DATA['timestamp']}\n20130524/us-east-1/s3/aws4_request\n{last_sig}\n"
        + hashlib.sha256(wrong.encode()).hexdigest()
    )
    assert sts.replace(hashlib.sha256(wrong.encode()).hexdigest(), "") in case["expected"]["trailer"]["string_to_sign"]
    sig = hmac.new(key, sts.encode(), "sha256").hexdigest()
    cut = wire.index(b"x-amz-checksum-crc32c:")
    req.body = wire[:cut] + b"x-amz-checksum-crc32c:AAAAAA==\r\nx-amz-trailer-signature:" + sig.encode() + b"\r\n\r\n"
    err = refused(req)
    assert (err.code, err.message) == ("BadDigest", "The CRC32C you specified did not match the calculated checksum.")


# --- POST policy -------------------------------------------------------------------------


@pytest.mark.parametrize("case", DATA["post_policy"], ids=lambda c: c["name"])
def test_post_policy(case):
    policy_b64 = base64.b64encode(case["policy_json_crlf"].encode()).decode()
    assert policy_b64 == case["expected"]["policy_base64"] == case["form_fields"]["Policy"]
    key = sigv4.signing_key(CREDS["secret_access_key"], case["date"][:8], "us-east-1", "s3")
    assert sigv4.sign(key, policy_b64) == case["expected"]["signature"]
    now = datetime(2015, 12, 29, 10, tzinfo=timezone.utc)
    credential, policy = verify_post_policy(
        case["form_fields"], lookup, bucket=case["bucket"], regions=REGIONS, filename="photo.jpg", now=now
    )
    assert credential is not None and policy is not None and policy["expiration"] == "2015-12-30T12:00:00.000Z"

    def denied(fields, bucket=case["bucket"], when=now) -> AwsError:
        with pytest.raises(AwsError) as caught:
            verify_post_policy(fields, lookup, bucket=bucket, regions=REGIONS, now=when)
        return caught.value

    bad = dict(case["form_fields"], **{"X-Amz-Signature": _flip(case["expected"]["signature"])})
    assert denied(bad).code == "SignatureDoesNotMatch"
    assert denied(dict(case["form_fields"], key="user/user2/x")).message.startswith(
        "Invalid according to Policy: Policy Condition failed"
    )
    assert denied(case["form_fields"], bucket="otherbucket").code == "AccessDenied"
    assert denied(dict(case["form_fields"], extra="1")).message == "Invalid according to Policy: Extra input fields: extra"
    late = datetime(2015, 12, 30, 12, 0, 1, tzinfo=timezone.utc)
    assert denied(case["form_fields"], when=late).message == "Invalid according to Policy: Policy expired."
