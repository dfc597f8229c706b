"""Bad input gets the AWS error for it, per protocol — and never anything else."""

from __future__ import annotations

import base64
import json

import pytest

from skyhold.errors import AwsError
from skyhold.wire import protocol
from skyhold.wire.http import HttpRequest
from skyhold.wire.models import service_model

FORM = {"content-type": "application/x-www-form-urlencoded; charset=utf-8"}


def _call(service: str, req: HttpRequest) -> dict:
    model = service_model(service)
    return protocol.parse_request(protocol.find_operation(model, req), req)


def _error(service: str, req: HttpRequest) -> AwsError:
    with pytest.raises(AwsError) as info:
        _call(service, req)
    return info.value


def _query(service: str, body: str) -> HttpRequest:
    return HttpRequest("POST", "/", "", {"host": f"{service}.amazonaws.com", **FORM}, body.encode())


def _json(target: str, body: bytes) -> HttpRequest:
    return HttpRequest("POST", "/", "", {"host": "kms.us-east-1.amazonaws.com", "x-amz-target": target,
                                          "content-type": "application/x-amz-json-1.1"}, body)


def _s3(method: str, path: str, query: str = "", body: bytes | None = b"", **headers: str) -> HttpRequest:
    return HttpRequest(method, path, query, {"host": "s3.us-east-1.amazonaws.com", **headers}, body)


# ---- query / ec2 ---------------------------------------------------------------------

def test_query_unknown_action() -> None:
    err = _error("sts", _query("sts", "Action=Nope&Version=2011-06-15"))
    assert (err.code, err.status) == ("InvalidAction", 400)
    assert err.message == "Could not find operation Nope for version 2011-06-15"


def test_query_missing_action() -> None:
    assert _error("iam", _query("iam", "Version=2010-05-08")).code == "MissingAction"


@pytest.mark.parametrize("body", ["Action=GetCallerIdentity&Version=2011-06-15&X=%zz",
                                  "Action=GetCallerIdentity&Version=2011-06-15&X=%E0%A4%A",
                                  "Action=GetCallerIdentity&X=%ff"])
def test_query_bad_percent_encoding(body: str) -> None:
    err = _error("sts", _query("sts", body))
    assert (err.code, err.status) == ("MalformedQueryString", 404)


def test_query_missing_required_member() -> None:
    err = _error("sts", _query("sts", "Action=AssumeRole&Version=2011-06-15&RoleArn=arn:aws:iam::1:role/r"))
    assert err.code == "ValidationError"
    assert err.message == ("1 validation error detected: Value null at 'roleSessionName' failed to satisfy "
                           "constraint: Member must not be null")


def test_query_wrong_type() -> None:
    body = "Action=AssumeRole&Version=2011-06-15&RoleArn=a&RoleSessionName=s&DurationSeconds=soon"
    assert _error("sts", _query("sts", body)).code == "MalformedInput"  # Coral's answer to an unreadable number


def test_query_nested_members_and_lists() -> None:
    body = ("Action=CreateUser&Version=2010-05-08&UserName=bob&Tags.member.2.Key=b&Tags.member.2.Value=2"
            "&Tags.member.1.Key=a&Tags.member.1.Value=1")
    assert _call("iam", _query("iam", body)) == {"UserName": "bob", "Tags": [{"Key": "a", "Value": "1"},
                                                                             {"Key": "b", "Value": "2"}]}


def test_query_bad_list_index() -> None:
    body = "Action=CreateUser&Version=2010-05-08&UserName=bob&Tags.member.x.Key=a"
    assert _error("iam", _query("iam", body)).code == "InvalidParameterValue"


def test_ec2_unknown_action_and_missing_parameter() -> None:
    err = _error("ec2", _query("ec2", "Action=Nope&Version=2016-11-15"))
    assert (err.code, err.message) == ("InvalidAction", "The action Nope is not valid for this web service.")
    err = _error("ec2", _query("ec2", "Action=CreateKeyPair&Version=2016-11-15"))
    assert (err.code, err.message) == ("MissingParameter", "The request must contain the parameter KeyName")


# ---- json ------------------------------------------------------------------------------

def test_json_unknown_operation() -> None:
    assert _error("kms", _json("TrentService.Nope", b"{}")).code == "UnknownOperationException"


@pytest.mark.parametrize("body", [b"{", b"\xff\xfe", b"[1,", b"not json", b'{"NumberOfBytes": NaN}',
                                  b'{"NumberOfBytes": Infinity}'])
def test_json_malformed_body(body: bytes) -> None:
    assert _error("kms", _json("TrentService.GenerateRandom", body)).code == "SerializationException"


@pytest.mark.parametrize(("body", "message"), [
    ({"KeyId": {"a": 1}}, "Start of structure or map found where not expected."),
    ({"KeyId": 5}, "NUMBER_VALUE can not be converted to a String"),
    ({"KeyId": "k", "GrantTokens": "x"}, "Expected a list for GrantTokens"),
    ([1, 2], "Expected a structure or map for "),
])
def test_json_wrong_types(body: object, message: str) -> None:
    err = _error("kms", _json("TrentService.DescribeKey", json.dumps(body).encode()))
    assert (err.code, err.message) == ("SerializationException", message)


def test_json_bad_blob_and_number() -> None:
    body = {"KeyId": "k", "Plaintext": "***not base64***"}
    assert _error("kms", _json("TrentService.Encrypt", json.dumps(body).encode())).code == "SerializationException"
    body = {"NumberOfBytes": "12"}
    assert _error("kms", _json("TrentService.GenerateRandom", json.dumps(body).encode())).code == \
        "SerializationException"


def test_json_missing_required() -> None:
    err = _error("kms", _json("TrentService.Encrypt", json.dumps({"KeyId": "k"}).encode()))
    assert err.code == "ValidationException"
    assert err.message == ("1 validation error detected: Value null at 'plaintext' failed to satisfy constraint: "
                           "Member must not be null")


def test_json_decodes_blobs_and_ignores_unknown_members() -> None:
    body = {"KeyId": "k", "Plaintext": base64.b64encode(b"\x00\x01").decode(), "Surprise": 1}
    assert _call("kms", _json("TrentService.Encrypt", json.dumps(body).encode())) == \
        {"KeyId": "k", "Plaintext": b"\x00\x01"}


# ---- rest-xml (S3) ---------------------------------------------------------------------

@pytest.mark.parametrize("body", [
    b"<Tagging><TagSet><Tag><Key>a</Key>",
    b"<?xml version='1.0'?><!DOCTYPE x [<!ENTITY a 'aaaa'>]><Tagging>&a;</Tagging>",
    b'<!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;">]><Tagging>&lol2;</Tagging>',
    b"\xff\xfe<a/>",
    b"<Tagging><TagSet><Tag><Value>no key</Value></Tag></TagSet></Tagging>",
    b"<Tagging>&undefined;</Tagging>",
])
def test_s3_malformed_xml(body: bytes) -> None:
    err = _error("s3", _s3("PUT", "/bucket", "tagging", body))
    assert (err.code, err.status) == ("MalformedXML", 400)
    assert err.message == ("The XML you provided was not well-formed or did not validate against our "
                           "published schema")


def test_s3_missing_required_body() -> None:
    assert _error("s3", _s3("PUT", "/bucket", "tagging", b"")).code == "MalformedXML"


@pytest.mark.parametrize("path", ["/b%zz/k", "/bucket/%E0%A4%A", "/bucket/%ff"])
def test_s3_bad_percent_encoding(path: str) -> None:
    assert _error("s3", _s3("GET", path)).code == "InvalidURI"


def test_s3_bad_query_value() -> None:
    err = _error("s3", _s3("GET", "/bucket", "list-type=2&max-keys=many"))
    assert err.code == "InvalidArgument"
    assert err.message == "Provided max-keys not an integer or within integer range"
    assert err.extra == {"ArgumentName": "max-keys", "ArgumentValue": "many"}


def test_s3_bad_header_value() -> None:
    # (not If-Modified-Since: S3 ignores a conditional date it cannot parse, RFC 9110 13.1.3)
    err = _error("s3", _s3("PUT", "/bucket/key", **{"x-amz-object-lock-retain-until-date": "yesterday"}))
    assert err.code == "InvalidArgument"


def test_s3_unknown_method() -> None:
    model = service_model("s3")
    with pytest.raises(AwsError) as info:
        protocol.find_operation(model, _s3("PATCH", "/bucket/key"))
    assert (info.value.code, info.value.status) == ("MethodNotAllowed", 405)


def test_s3_reads_virtual_host_and_metadata_headers() -> None:
    req = HttpRequest("PUT", "/a%20b/c+d.txt", "", {"host": "my.bucket.s3.localhost:4566",
                                                     "x-amz-meta-color": "blue", "content-length": "3"}, None)
    op = protocol.find_operation(service_model("s3"), req)
    assert op.name == "PutObject" and protocol.has_streaming_input(op)
    # The body is still a stream: it is omitted, the pipeline supplies it.
    assert protocol.parse_request(op, req) == {"Bucket": "my.bucket", "Key": "a b/c+d.txt",
                                               "Metadata": {"color": "blue"}, "ContentLength": 3}


@pytest.mark.parametrize(("method", "path", "query", "headers", "expected"), [
    ("GET", "/bucket", "", {}, "ListObjects"),
    ("GET", "/bucket/", "list-type=2&prefix=a", {}, "ListObjectsV2"),
    ("GET", "/bucket/key", "uploadId=u", {}, "ListParts"),
    ("GET", "/bucket/key", "partNumber=1", {}, "GetObject"),
    ("PUT", "/bucket/key", "", {"x-amz-copy-source": "/a/b"}, "CopyObject"),
    ("PUT", "/bucket/key", "partNumber=1&uploadId=u", {}, "UploadPart"),
    ("PUT", "/bucket/key", "partNumber=1&uploadId=u", {"x-amz-copy-source": "/a/b"}, "UploadPartCopy"),
    ("DELETE", "/bucket/key", "uploadId=u", {}, "AbortMultipartUpload"),
    ("POST", "/bucket/key", "uploads", {}, "CreateMultipartUpload"),
    ("GET", "/bucket", "lifecycle", {}, "GetBucketLifecycleConfiguration"),
    ("GET", "/bucket", "analytics&id=x", {}, "GetBucketAnalyticsConfiguration"),
    ("GET", "/bucket", "analytics", {}, "ListBucketAnalyticsConfigurations"),
    ("GET", "/", "", {}, "ListBuckets"),
    ("HEAD", "/bucket/key", "", {}, "HeadObject"),
])
def test_s3_most_specific_operation(method: str, path: str, query: str, headers: dict, expected: str) -> None:
    req = _s3(method, path, query, None, **headers)
    assert protocol.find_operation(service_model("s3"), req).name == expected
