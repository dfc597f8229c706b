"""S3 CORS: rule matching, configuration checks, and the preflight/actual answers,
against a real store (no server)."""

from __future__ import annotations

from pathlib import Path

import pytest

from skyhold.errors import AwsError
from skyhold.services.s3 import cors, records
from skyhold.store import SqliteStore
from skyhold.wire.http import HttpRequest

NOT_ALLOWED = ("CORSResponse: This CORS request is not allowed. This is usually because the evalution of Origin, "
               "request method / Access-Control-Request-Method or Access-Control-Request-Headers are not "
               "whitelisted by the resource's CORS spec.")
VARY = "Origin, Access-Control-Request-Headers, Access-Control-Request-Method"


def rule(origins: list[str], methods: list[str], **more: object) -> dict:
    return {"AllowedOrigins": origins, "AllowedMethods": methods, **more}


# --- matching ----------------------------------------------------------------------------

@pytest.mark.parametrize("pattern, origin, expected", [
    ("https://app.example.com", "https://app.example.com", True),
    ("https://app.example.com", "http://app.example.com", False),       # scheme counts
    ("https://app.example.com", "https://app.example.com:443", False),  # so does the port, as written
    ("https://app.example.com", "https://app.example.com/", False),     # no trailing slash
    ("https://app.example.com", "https://APP.example.com", False),      # origins match exactly
    ("https://*.example.com", "https://a.b.example.com", True),
    ("https://*.example.com", "https://example.com", False),
    ("*suffix", "suffix", True),                                         # * matches nothing too
    ("start*end", "startend", True),
    ("start*end", "0start12end", False),                                 # anchored at both ends
    ("prefix*", "prefix.anything", True),
    ("*", "null", True),
])
def test_origin_patterns(pattern: str, origin: str, expected: bool) -> None:
    assert (cors.match([rule([pattern], ["GET"])], origin, "GET") is not None) is expected


def test_first_matching_rule_wins_and_method_must_be_allowed() -> None:
    rules = [rule(["https://a.example"], ["PUT"], ID="put"), rule(["*"], ["GET", "PUT"], ID="any")]
    assert cors.match(rules, "https://a.example", "PUT")["ID"] == "put"
    assert cors.match(rules, "https://a.example", "GET")["ID"] == "any"
    assert cors.match(rules, "https://a.example", "DELETE") is None


def test_requested_headers_match_case_insensitively_with_one_wildcard() -> None:
    rules = [rule(["*"], ["GET"], AllowedHeaders=["x-amz-*", "Content-TYPE"])]
    assert cors.match(rules, "o", "GET", ["content-type", "x-amz-date", "x-amz-meta-a"]) is not None
    assert cors.match(rules, "o", "GET", ["authorization"]) is None
    # A rule without AllowedHeaders allows no requested header at all.
    assert cors.match([rule(["*"], ["GET"])], "o", "GET", ["x-amz-date"]) is None
    assert cors.match([rule(["*"], ["GET"])], "o", "GET", None) is not None


def test_headers_for_a_specific_origin_and_for_the_wildcard() -> None:
    specific = rule(["https://a.example"], ["GET", "PUT"], ExposeHeaders=["ETag", "x-amz-request-id"],
                    MaxAgeSeconds=3000)
    assert cors.headers_for(specific, "https://a.example", ["x-amz-date", "content-type"]) == [
        ("access-control-allow-origin", "https://a.example"),
        ("access-control-allow-methods", "GET, PUT"),
        ("access-control-allow-headers", "x-amz-date, content-type"),
        ("access-control-expose-headers", "ETag, x-amz-request-id"),
        ("access-control-max-age", "3000"),
        ("access-control-allow-credentials", "true"),
        ("vary", VARY),
    ]
    assert cors.headers_for(rule(["*"], ["GET"]), "https://b.example", None) == [
        ("access-control-allow-origin", "*"),
        ("access-control-allow-methods", "GET"),
        ("vary", VARY),
    ]


# --- PutBucketCors checks ----------------------------------------------------------------

def _refused(rules: list[dict]) -> AwsError:
    with pytest.raises(AwsError) as caught:
        cors.validate(rules)
    return caught.value


def test_validate_refuses_what_s3_refuses() -> None:
    assert _refused([]).code == "MalformedXML"
    assert _refused([{"AllowedOrigins": ["*"]}]).code == "MalformedXML"
    assert _refused([{"AllowedMethods": ["GET"]}]).code == "MalformedXML"
    assert _refused([rule(["*"], ["GET"])] * 101).code == "MalformedXML"
    err = _refused([rule(["*"], ["GET", "OPTIONS"])])
    assert (err.code, err.message) == (
        "InvalidRequest", "Found unsupported HTTP method in CORS config. Unsupported method is OPTIONS")
    err = _refused([rule(["*a*.com"], ["GET"])])
    assert (err.code, err.message) == ("InvalidRequest", 'AllowedOrigin "*a*.com" can not have more than one wildcard.')
    err = _refused([rule(["*"], ["GET"], AllowedHeaders=["x-*-*"])])
    assert err.message == 'AllowedHeader "x-*-*" can not have more than one wildcard.'
    err = _refused([rule(["*"], ["GET"], ExposeHeaders=["*"])])
    assert err.message == 'ExposeHeader "*" contains wildcard. We currently do not support wildcard for ExposeHeader.'
    # The shape of every rule is checked before any value.
    assert _refused([rule(["*"], ["BAD"]), {"AllowedOrigins": ["*"]}]).code == "MalformedXML"


def test_validate_accepts_a_full_configuration() -> None:
    cors.validate([rule(["*"], ["GET"])] * 100)
    cors.validate([rule(["https://*.example.com", ""], ["GET", "PUT", "POST", "DELETE", "HEAD"],
                        AllowedHeaders=["*"], ExposeHeaders=["ETag"], MaxAgeSeconds=0)])


# --- preflight and actual requests, against a store ----------------------------------------

@pytest.fixture
def store(tmp_path: Path):
    s = SqliteStore(tmp_path / "db")
    s.put(records.BUCKET, "photos", {"Name": "photos", "Owner": "111122223333", "Region": "us-east-1"})
    s.put(records.BUCKET, "plain", {"Name": "plain", "Owner": "111122223333", "Region": "us-east-1"})
    records.update_bucket(s, "photos", Cors=[
        rule(["https://app.example"], ["GET", "PUT"], AllowedHeaders=["content-type", "x-amz-*"], MaxAgeSeconds=60),
        rule(["*"], ["GET"]),
    ])
    yield s
    s.close()


def request(method: str, path: str, host: str = "127.0.0.1:4566", **headers: str) -> HttpRequest:
    hdrs = {"host": host, **{k.replace("_", "-").lower(): v for k, v in headers.items()}}
    return HttpRequest(method, path, "", hdrs)


def _preflight_error(store, req: HttpRequest) -> AwsError:
    with pytest.raises(AwsError) as caught:
        cors.preflight(store, req)
    return caught.value


def test_preflight_allowed(store) -> None:
    got = dict(cors.preflight(store, request("OPTIONS", "/photos/a.jpg", Origin="https://app.example",
                                             Access_Control_Request_Method="PUT",
                                             Access_Control_Request_Headers="Content-Type,X-Amz-Date")))
    assert got["access-control-allow-origin"] == "https://app.example"
    assert got["access-control-allow-methods"] == "GET, PUT"
    assert got["access-control-allow-headers"] == "content-type, x-amz-date"
    assert got["access-control-max-age"] == "60"
    assert got["access-control-allow-credentials"] == "true"


def test_preflight_virtual_hosted(store) -> None:
    got = dict(cors.preflight(store, request("OPTIONS", "/a.jpg", host="photos.s3.localhost:4566",
                                             Origin="https://elsewhere.example", Access_Control_Request_Method="GET")))
    assert got["access-control-allow-origin"] == "*"
    assert "access-control-allow-credentials" not in got


def test_preflight_refusals(store) -> None:
    err = _preflight_error(store, request("OPTIONS", "/photos/a.jpg", Access_Control_Request_Method="GET"))
    assert (err.code, err.status, err.message) == (
        "BadRequest", 400, "Insufficient information. Origin request header needed.")
    err = _preflight_error(store, request("OPTIONS", "/missing/a.jpg", Origin="https://app.example"))
    assert (err.code, err.status, err.message, err.extra) == (
        "AccessForbidden", 403, "CORSResponse: Bucket not found", {"Method": "OPTIONS", "ResourceType": "BUCKET"})
    err = _preflight_error(store, request("OPTIONS", "/plain/a.jpg", Origin="https://app.example",
                                          Access_Control_Request_Method="PUT"))
    assert (err.code, err.message, err.extra) == (
        "AccessForbidden", "CORSResponse: CORS is not enabled for this bucket.",
        {"Method": "PUT", "ResourceType": "BUCKET"})
    err = _preflight_error(store, request("OPTIONS", "/photos/a.jpg", Origin="https://app.example"))
    assert (err.code, err.status, err.message) == ("BadRequest", 400, "Invalid Access-Control-Request-Method: null")
    err = _preflight_error(store, request("OPTIONS", "/photos/a.jpg", Origin="https://app.example",
                                          Access_Control_Request_Method="PATCH"))
    assert err.message == "Invalid Access-Control-Request-Method: PATCH"
    err = _preflight_error(store, request("OPTIONS", "/photos/a.jpg", Origin="https://evil.example",
                                          Access_Control_Request_Method="PUT"))
    assert (err.code, err.status, err.message, err.extra) == (
        "AccessForbidden", 403, NOT_ALLOWED, {"Method": "PUT", "ResourceType": "OBJECT"})
    err = _preflight_error(store, request("OPTIONS", "/photos", Origin="https://app.example",
                                          Access_Control_Request_Method="GET",
                                          Access_Control_Request_Headers="authorization"))
    assert err.extra == {"Method": "GET", "ResourceType": "BUCKET"}


def test_actual_request_headers(store) -> None:
    got = dict(cors.actual_headers(store, request("PUT", "/photos/a.jpg", Origin="https://app.example")))
    assert got["access-control-allow-origin"] == "https://app.example"
    assert "access-control-allow-headers" not in got  # a real request's own headers are not checked
    assert cors.actual_headers(store, request("PUT", "/photos/a.jpg", Origin="https://evil.example")) == []
    assert cors.actual_headers(store, request("GET", "/photos/a.jpg")) == []
    assert cors.actual_headers(store, request("GET", "/plain/a.jpg", Origin="https://app.example")) == []
    assert cors.actual_headers(store, request("GET", "/missing/a.jpg", Origin="https://app.example")) == []
    # The Access-Control-Request-* headers, when sent, decide an actual request's match too.
    assert cors.actual_headers(store, request("GET", "/photos/a.jpg", Origin="https://evil.example",
                                              Access_Control_Request_Method="PUT")) == []
