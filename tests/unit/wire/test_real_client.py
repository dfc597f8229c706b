"""A real boto3 client (virtual-hosted S3, its handlers and checksums included): the
request it would send is captured before sending and must parse back to every
parameter the caller passed. Members the client adds on its own (checksums,
EncodingType, Content-MD5) are allowed on top."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

import boto3
import pytest
from botocore.awsrequest import AWSResponse
from botocore.config import Config
from urllib.parse import urlsplit

from skyhold.wire import protocol
from skyhold.wire.http import HttpRequest
from skyhold.wire.models import service_model
from skyhold.wire.route import route_service


class _Captured(Exception):
    pass


def _capture(service: str, call: str, params: dict[str, Any], **config: Any) -> HttpRequest:
    client = boto3.client(service, region_name="us-east-1", aws_access_key_id="AKIDEXAMPLE",
                          aws_secret_access_key="secret", endpoint_url=f"http://{_host(service)}:4566",
                          config=Config(**config))
    seen: list[HttpRequest] = []

    def before_send(request: Any, **_: Any) -> AWSResponse:
        url = urlsplit(request.url)
        body = request.body
        body = body.read() if hasattr(body, "read") else body
        headers = {k.lower(): (v.decode() if isinstance(v, bytes) else v) for k, v in request.headers.items()}
        headers["host"] = url.netloc
        seen.append(HttpRequest(request.method, url.path or "/", url.query, headers,
                                body.encode() if isinstance(body, str) else (body or b"")))
        raise _Captured

    client.meta.events.register("before-send", before_send)
    with pytest.raises(_Captured):
        getattr(client, call)(**params)
    return seen[0]


def _host(service: str) -> str:
    return "s3.localhost" if service == "s3" else f"{service}.localhost"


CASES = [
    ("s3", "put_object", "PutObject", {"Bucket": "my-bucket", "Key": "dir/a file+é.txt", "Body": b"hello",
                                       "Metadata": {"owner": "bob"}, "ContentType": "text/plain"}),
    ("s3", "get_object", "GetObject", {"Bucket": "my-bucket", "Key": "k", "Range": "bytes=0-1",
                                       "IfModifiedSince": datetime(2024, 1, 2, 3, 4, 5, tzinfo=timezone.utc)}),
    ("s3", "list_objects_v2", "ListObjectsV2", {"Bucket": "my-bucket", "Prefix": "a/", "MaxKeys": 7}),
    ("s3", "put_bucket_tagging", "PutBucketTagging", {"Bucket": "my-bucket", "Tagging": {
        "TagSet": [{"Key": "k", "Value": "v <&>"}]}}),
    ("s3", "delete_objects", "DeleteObjects", {"Bucket": "my-bucket", "Delete": {
        "Objects": [{"Key": "a"}, {"Key": "b/c"}], "Quiet": True}}),
    ("s3", "copy_object", "CopyObject", {"Bucket": "my-bucket", "Key": "dst", "CopySource": "src-bucket/src"}),
    ("sts", "get_caller_identity", "GetCallerIdentity", {}),
    ("iam", "create_user", "CreateUser", {"UserName": "bob", "Tags": [{"Key": "a", "Value": "b"}]}),
    ("kms", "encrypt", "Encrypt", {"KeyId": "alias/x", "Plaintext": b"\x00secret",
                                   "EncryptionContext": {"a": "b"}}),
    ("ec2", "describe_instances", "DescribeInstances", {"InstanceIds": ["i-1", "i-2"], "Filters": [
        {"Name": "tag:Name", "Values": ["x", "y"]}]}),
]


# S3 calls are tried with both addressing styles (bucket in Host, bucket in path).
VARIANTS = [pytest.param(*case, style, id=f"{case[0]}.{case[2]}-{style}")
            for case in CASES for style in (("virtual", "path") if case[0] == "s3" else ("virtual",))]


@pytest.mark.parametrize(("service", "call", "op_name", "params", "addressing"), VARIANTS)
def test_real_client_request(service: str, call: str, op_name: str, params: dict[str, Any], addressing: str) -> None:
    req = _capture(service, call, params, s3={"addressing_style": addressing})
    assert route_service(req, None) == service
    model = service_model(service)
    op = protocol.find_operation(model, req)
    assert op.name == op_name
    got = protocol.parse_request(op, req)
    for key, value in params.items():
        assert got.get(key) == value, key
