"""botocore as the signer: what real SDK clients send must verify, and tampering must not.

Requests are built by botocore's own signers and by boto3 clients whose requests are
captured at `before-send` (nothing leaves the process), so the shapes are exactly what
the SDK puts on the wire, aws-chunked trailers included.
"""

from __future__ import annotations

import base64
import copy
import hashlib
import zlib
from urllib.parse import urlsplit

import boto3
import pytest
from botocore.auth import S3SigV4Auth, S3SigV4QueryAuth, SigV4Auth
from botocore.awsrequest import AWSRequest, AWSResponse
from botocore.config import Config
from botocore.credentials import Credentials

from skyhold.auth.authenticate import authenticate
from skyhold.auth.chunked import ChunkedDecoder
from skyhold.auth.credentials import Credential
from skyhold.errors import AwsError
from skyhold.regions import REGIONS
from skyhold.wire.http import HttpRequest

AKID, SECRET = "AKIAIOSFODNN7EXAMPLE", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
TEMP_AKID, TEMP_SECRET, TOKEN = "ASIAEXAMPLETEMPKEY01", "tempsecret/abc", "FwoGZXIvYXdzEXAMPLETOKEN=="


def lookup(akid: str) -> Credential | None:
    if akid == AKID:
        return Credential(AKID, SECRET)
    if akid == TEMP_AKID:
        return Credential(TEMP_AKID, TEMP_SECRET, session_token=TOKEN)
    return None


def to_http(req: AWSRequest | object, body: bytes | None = None) -> HttpRequest:
    url = urlsplit(req.url)  # type: ignore[attr-defined]
    headers: dict[str, str] = {}
    for name, value in req.headers.items():  # type: ignore[attr-defined]
        value = value.decode() if isinstance(value, bytes) else value
        headers[name.lower()] = f"{headers[name.lower()]},{value}" if name.lower() in headers else value
    headers.setdefault("host", url.netloc)
    if body is None:
        raw = req.body  # type: ignore[attr-defined]
        body = raw.encode() if isinstance(raw, str) else (raw or b"")
    return HttpRequest(method=req.method, path=url.path or "/", query=url.query, headers=headers, body=body)  # type: ignore[attr-defined]


def verify(req: HttpRequest, service: str, s3: bool):
    return authenticate(req, lookup, service=service, regions=REGIONS, s3=s3)


def refused(req: HttpRequest, service: str, s3: bool) -> AwsError:
    with pytest.raises(AwsError) as caught:
        verify(req, service, s3)
    return caught.value


def _flip(sig: str) -> str:
    return sig[:-1] + ("0" if sig[-1] != "0" else "1")


# --- botocore's signers, directly ------------------------------------------------------


@pytest.mark.parametrize("creds", [Credentials(AKID, SECRET), Credentials(TEMP_AKID, TEMP_SECRET, TOKEN)],
                         ids=["long-term", "session"])
def test_sigv4auth_query_service(creds):
    aws = AWSRequest(
        "POST", "https://sts.amazonaws.com/", data="Action=GetCallerIdentity&Version=2011-06-15",
        headers={"Content-Type": "application/x-www-form-urlencoded; charset=utf-8"},
    )
    SigV4Auth(creds, "sts", "us-east-1").add_auth(aws)
    req = to_http(aws)
    result = verify(req, "sts", False)
    assert result.credential is not None and result.credential.access_key_id == creds.access_key
    bad = copy.deepcopy(req)
    bad.body = b"Action=GetCallerIdentity&Version=2011-06-16"
    err = refused(bad, "sts", False)
    assert err.code == "SignatureDoesNotMatch" and "The Canonical String for this request should have been" in err.message
    assert refused(req, "iam", False).message == "Credential should be scoped to correct service: 'iam'. "
    if creds.token:
        bad = copy.deepcopy(req)
        del bad.headers["x-amz-security-token"]  # signed: the signature breaks first
        assert refused(bad, "sts", False).code == "SignatureDoesNotMatch"


def test_sigv4auth_json_service_error_names():
    aws = AWSRequest("POST", "https://dynamodb.us-east-1.amazonaws.com/", data=b"{}",
                     headers={"X-Amz-Target": "DynamoDB_20120810.ListTables"})
    SigV4Auth(Credentials("AKIANOSUCHKEY0000000", SECRET), "dynamodb", "us-east-1").add_auth(aws)
    with pytest.raises(AwsError) as caught:
        authenticate(to_http(aws), lookup, service="dynamodb", regions=REGIONS, s3=False, protocol="json")
    assert (caught.value.code, caught.value.message) == (
        "UnrecognizedClientException", "The security token included in the request is invalid."
    )


def test_s3sigv4auth_put_with_body():
    body = b"hello skyhold" * 100
    aws = AWSRequest("PUT", "http://s3.us-east-1.amazonaws.com/bucket/key%20with%20spaces/%E2%9C%93", data=body,
                     headers={"Content-MD5": base64.b64encode(hashlib.md5(body).digest()).decode()})
    S3SigV4Auth(Credentials(AKID, SECRET), "s3", "us-east-1").add_auth(aws)
    req = to_http(aws)
    assert verify(req, "s3", True).credential is not None
    bad = copy.deepcopy(req)
    bad.body = body[:-1] + b"!"
    err = refused(bad, "s3", True)
    assert err.code == "XAmzContentSHA256Mismatch"
    bad = copy.deepcopy(req)
    bad.path = bad.path.replace("spaces", "spacez")
    assert refused(bad, "s3", True).code == "SignatureDoesNotMatch"


def test_s3_content_md5_checked():
    body = b"payload"
    aws = AWSRequest("PUT", "https://s3.us-east-1.amazonaws.com/bucket/k", data=body,
                     headers={"Content-MD5": "1B2M2Y8AsgTpgAmY7PhCfg=="})  # md5 of b""
    S3SigV4Auth(Credentials(AKID, SECRET), "s3", "us-east-1").add_auth(aws)
    err = refused(to_http(aws), "s3", True)
    assert (err.code, err.extra["ExpectedDigest"]) == ("BadDigest", "1B2M2Y8AsgTpgAmY7PhCfg==")


def test_s3sigv4queryauth_presign():
    aws = AWSRequest("GET", "https://bucket.s3.us-west-2.amazonaws.com/a/b.txt?versionId=3")
    S3SigV4QueryAuth(Credentials(TEMP_AKID, TEMP_SECRET, TOKEN), "s3", "us-west-2", expires=60).add_auth(aws)
    req = to_http(aws)
    assert verify(req, "s3", True).credential is not None
    bad = copy.deepcopy(req)
    bad.query = req.query.replace("versionId=3", "versionId=4")
    assert refused(bad, "s3", True).code == "SignatureDoesNotMatch"
    bad = copy.deepcopy(req)
    bad.query = req.query.replace("X-Amz-Security-Token=", "X-Amz-Security-Token=x")
    assert refused(bad, "s3", True).code == "SignatureDoesNotMatch"


# --- boto3 clients, captured at before-send ------------------------------------------


class _Raw:
    def stream(self, **_):
        yield b""


def capture(client) -> list:
    sent: list = []

    def before_send(request, **_):
        body = request.body
        if hasattr(body, "read"):
            body = body.read()
        sent.append((request, body.encode() if isinstance(body, str) else (body or b"")))
        return AWSResponse(request.url, 200, {}, _Raw())

    client.meta.events.register("before-send", before_send)
    return sent


def _client(service: str, endpoint: str, creds=(AKID, SECRET, None), **config):
    return boto3.client(
        service, region_name="us-east-1", endpoint_url=endpoint, aws_access_key_id=creds[0],
        aws_secret_access_key=creds[1], aws_session_token=creds[2], config=Config(**config) if config else None,
    )


def test_boto3_put_object_over_https_sends_unsigned_trailer():
    """Current botocore: STREAMING-UNSIGNED-PAYLOAD-TRAILER + x-amz-checksum-crc32 trailer over TLS."""
    client = _client("s3", "https://s3.us-east-1.amazonaws.com")
    sent = capture(client)
    body = b"x" * 70000
    client.put_object(Bucket="bucket", Key="dir/object.bin", Body=body)
    aws, wire = sent[0]
    req = to_http(aws, wire)
    assert req.headers["x-amz-content-sha256"] == "STREAMING-UNSIGNED-PAYLOAD-TRAILER"
    assert req.headers["x-amz-trailer"] == "x-amz-checksum-crc32"
    assert "aws-chunked" in req.headers["content-encoding"]
    result = verify(req, "s3", True)
    crc = base64.b64encode(zlib.crc32(body).to_bytes(4, "big")).decode()
    assert req.body == body and result.trailers == {"x-amz-checksum-crc32": crc}
    # Streamed through the verifier one byte at a time.
    req = to_http(aws, None)
    req.body = None
    decoder = verify(req, "s3", True).body_verifier
    assert isinstance(decoder, ChunkedDecoder)
    out = b"".join(decoder.feed(wire[i : i + 1]) for i in range(len(wire)))
    assert out == body and decoder.finish()["x-amz-checksum-crc32"] == crc
    # A corrupted payload byte: the CRC32 trailer catches it.
    bad = to_http(aws, wire.replace(b"xxxx", b"xxyx", 1))
    err = refused(bad, "s3", True)
    assert (err.code, err.message) == ("BadDigest", "The CRC32 you specified did not match the calculated checksum.")


def test_boto3_put_object_over_http_signs_payload():
    client = _client("s3", "http://s3.us-east-1.amazonaws.com")
    sent = capture(client)
    client.put_object(Bucket="bucket", Key="k", Body=b"data over http")
    aws, wire = sent[0]
    req = to_http(aws, wire)
    assert len(req.headers["x-amz-content-sha256"]) == 64
    assert verify(req, "s3", True).credential is not None
    assert refused(to_http(aws, b"data over HTTP"), "s3", True).code == "XAmzContentSHA256Mismatch"


def test_boto3_presigned_url():
    # Without signature_version="s3v4", boto3 presigns S3 URLs with SigV2 in us-east-1.
    client = _client("s3", "https://s3.us-east-1.amazonaws.com", creds=(TEMP_AKID, TEMP_SECRET, TOKEN),
                     signature_version="s3v4")
    url = urlsplit(client.generate_presigned_url("get_object", Params={"Bucket": "b", "Key": "a key+plus"}, ExpiresIn=300))
    req = HttpRequest("GET", url.path, url.query, {"host": url.netloc})
    assert verify(req, "s3", True).credential is not None
    bad = copy.deepcopy(req)
    bad.path = url.path.replace("plus", "minus")
    assert refused(bad, "s3", True).code == "SignatureDoesNotMatch"


def test_boto3_default_s3_presign_is_sigv2_and_refused():
    client = _client("s3", "https://s3.us-east-1.amazonaws.com")
    url = urlsplit(client.generate_presigned_url("get_object", Params={"Bucket": "b", "Key": "k"}))
    err = refused(HttpRequest("GET", url.path, url.query, {"host": url.netloc}), "s3", True)
    assert (err.code, err.status) == ("InvalidRequest", 400)


@pytest.mark.parametrize("service,call", [
    ("sts", lambda c: c.get_caller_identity()),
    ("iam", lambda c: c.list_users()),
    ("lambda", lambda c: c.get_function(FunctionName="arn:aws:lambda:us-east-1:123456789012:function:f")),
    ("dynamodb", lambda c: c.list_tables()),
])
def test_boto3_clients_of_other_services(service, call):
    client = _client(service, f"https://{service}.us-east-1.amazonaws.com", creds=(TEMP_AKID, TEMP_SECRET, TOKEN))
    sent = capture(client)
    try:
        call(client)
    except Exception:
        pass  # the empty fake response need not parse; the request was captured
    aws, wire = sent[0]
    req = to_http(aws, wire)
    name = client.meta.service_model.signing_name
    assert verify(req, name, False).credential is not None
    bad = copy.deepcopy(req)
    bad.path = req.path + "x"
    assert refused(bad, name, False).code == "SignatureDoesNotMatch"
