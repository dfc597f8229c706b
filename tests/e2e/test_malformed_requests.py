"""Malformed requests thrown at a running server never get a 500 or crash it.

Requests are signed with the admin's real key so that they get past
authentication and reach the wire parsers, where the malformation lives.
"""

from __future__ import annotations

import http.client
import json
import socket
import urllib.parse

import botocore.auth
import botocore.awsrequest
import botocore.credentials
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from .conftest import AwsEnv, Server

FUZZ = settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])

text = st.text(st.characters(codec="utf-8"), max_size=60)
junk_bytes = st.binary(max_size=400)
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | text,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(text, inner, max_size=4),
    max_leaves=12,
)


def _send(server: Server, admin: AwsEnv, method: str, path: str, body: bytes, headers: dict[str, str],
          service: str, sign: bool = True) -> tuple[int, bytes]:
    url = f"{server.endpoint}{path}"
    if sign:
        c = admin.credentials()
        req = botocore.awsrequest.AWSRequest(method=method, url=url, data=body, headers=headers)
        signer = botocore.auth.S3SigV4Auth if service == "s3" else botocore.auth.SigV4Auth
        signer(botocore.credentials.Credentials(c.access_key, c.secret_key, c.token), service, "us-east-1").add_auth(req)
        headers = dict(req.prepare().headers)
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
    try:
        conn.request(method, path, body=body, headers=headers)
        resp = conn.getresponse()
        return resp.status, resp.read()
    finally:
        conn.close()


def _assert_healthy(status: int, body: bytes, server: Server) -> None:
    assert status < 500 or status == 501, (status, body[:500])
    assert server.proc is not None and server.proc.poll() is None


@FUZZ
@given(action=st.sampled_from(["GetCallerIdentity", "CreateUser", "ListUsers", "AssumeRole", "Nope", ""]),
       pairs=st.lists(st.tuples(text, text), max_size=6), raw_tail=st.sampled_from(["", "&%zz", "&a=%E0%A4%A", "&&=", "%"]))
def test_query_protocol_garbage(server: Server, admin: AwsEnv, action: str, pairs: list, raw_tail: str) -> None:
    body = (f"Action={action}&Version=2011-06-15&" + urllib.parse.urlencode(pairs) + raw_tail).encode()
    for service in ("sts", "iam"):
        status, payload = _send(server, admin, "POST", "/", body,
                                {"Content-Type": "application/x-www-form-urlencoded; charset=utf-8"}, service)
        _assert_healthy(status, payload, server)


@FUZZ
@given(target=st.sampled_from(["TrentService.Encrypt", "TrentService.CreateKey", "secretsmanager.GetSecretValue",
                               "AmazonSSM.PutParameter", "TrentService.Nope", "Garbage"]),
       body=st.one_of(json_values.map(lambda v: json.dumps(v).encode()), junk_bytes))
def test_json_protocol_garbage(server: Server, admin: AwsEnv, target: str, body: bytes) -> None:
    service = {"TrentService": "kms", "secretsmanager": "secretsmanager", "AmazonSSM": "ssm"}.get(
        target.split(".")[0], "kms")
    status, payload = _send(server, admin, "POST", "/", body,
                            {"Content-Type": "application/x-amz-json-1.1", "X-Amz-Target": target}, service)
    _assert_healthy(status, payload, server)


@FUZZ
@given(body=st.one_of(junk_bytes, st.sampled_from([
    b"<Tagging><TagSet><Tag><Key>a</Key>", b"<?xml version='1.0'?><!DOCTYPE x [<!ENTITY a 'aaaa'>]><x>&a;</x>",
    b"<Tagging><TagSet><Tag><Key>1</Key><Value><x/></Value></Tag></TagSet></Tagging>", b"\xff\xfe<a/>"])),
       path=st.sampled_from(["/bucket?tagging", "/bucket?versioning", "/bucket/key?tagging", "/b%zz/k?acl",
                             "/bucket?lifecycle", "/bucket/%E0%A4%A?uploads"]))
def test_rest_xml_garbage(server: Server, admin: AwsEnv, body: bytes, path: str) -> None:
    status, payload = _send(server, admin, "PUT", path, body, {"Content-Type": "application/xml"}, "s3")
    _assert_healthy(status, payload, server)


@FUZZ
@given(path=st.text(st.characters(codec="ascii", exclude_categories=["Cc"]), max_size=80),
       header_value=st.text(st.characters(codec="latin-1", exclude_categories=["Cc"]), max_size=200))
def test_unsigned_garbage_paths_and_headers(server: Server, admin: AwsEnv, path: str, header_value: str) -> None:
    path = "/" + urllib.parse.quote(path, safe="/?&=%+")
    status, payload = _send(server, admin, "GET", path, b"", {"Authorization": header_value, "X-Amz-Target": header_value},
                            "s3", sign=False)
    _assert_healthy(status, payload, server)


def test_huge_header_is_refused_not_crashed(server: Server, admin: AwsEnv) -> None:
    try:
        status, payload = _send(server, admin, "GET", "/", b"", {"X-Big": "a" * 200_000}, "s3", sign=False)
        _assert_healthy(status, payload, server)
    except (ConnectionError, http.client.HTTPException):
        pass  # the server may hang up on an oversized head; it must stay up
    assert server.proc is not None and server.proc.poll() is None


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(cut=st.integers(min_value=1, max_value=200), chunked_header=st.booleans())
def test_truncated_bodies(server: Server, admin: AwsEnv, cut: int, chunked_header: bool) -> None:
    """A client that disconnects mid-body leaves the server healthy."""
    body = b"5;chunk-signature=" + b"0" * 64 + b"\r\nhello\r\n0;chunk-signature=" + b"0" * 64 + b"\r\n\r\n"
    head = (
        "PUT /bucket/key HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        + ("Content-Encoding: aws-chunked\r\nx-amz-content-sha256: STREAMING-AWS4-HMAC-SHA256-PAYLOAD\r\n"
           "x-amz-decoded-content-length: 5\r\n" if chunked_header else "")
        + f"Content-Length: {len(body)}\r\n\r\n"
    ).encode()
    with socket.create_connection(("127.0.0.1", server.port), timeout=5) as s:
        s.sendall(head + body[: cut % len(body)])
    status, payload = _send(server, admin, "GET", "/_skyhold/health", b"", {}, "s3", sign=False)
    assert status == 200


def test_a_refused_upload_closes_its_connection_unread(server: Server) -> None:
    """Refused before its body was read, an upload's connection is closed after the
    answer: the unread body is never parsed as a request."""
    smuggled = b"GET /_skyhold/health HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"
    head = (b"PUT /no-such-bucket-for-refusal/key HTTP/1.1\r\nHost: 127.0.0.1\r\n"
            b"Content-Length: 1048576\r\n\r\n")
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as s:
        s.sendall(head + smuggled)
        received = b""
        while chunk := s.recv(65536):  # the server hangs up after its answer
            received += chunk
    assert received.startswith(b"HTTP/1.1 404 ")
    assert b"<Code>NoSuchBucket</Code>" in received
    assert b"connection: close" in received.lower()
    assert received.count(b"HTTP/1.1 ") == 1  # the body was not read as a request
