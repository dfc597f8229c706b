"""Which service a request is for."""

from __future__ import annotations

import pytest

from skyhold.errors import AwsError
from skyhold.wire.http import HttpRequest
from skyhold.wire.models import service_model
from skyhold.wire.route import route_service, s3_bucket_from_host


def _req(host: str = "localhost:4566", path: str = "/", target: str | None = None) -> HttpRequest:
    headers = {"host": host}
    if target:
        headers["x-amz-target"] = target
    return HttpRequest("POST", path, "", headers, b"")


@pytest.mark.parametrize(("scope", "host", "path", "expected"), [
    ("s3", "localhost:4566", "/bucket/key", "s3"),
    ("s3", "123456789012.s3-control.us-east-1.amazonaws.com", "/v20180820/jobs", "s3control"),
    ("s3", "localhost:4566", "/v20180820/accesspoint/ap", "s3control"),
    ("ecr", "localhost:4566", "/", "ecr"),
    ("sts", "iam.amazonaws.com", "/", "sts"),  # the signed scope wins over the host
])
def test_scope_first(scope: str, host: str, path: str, expected: str) -> None:
    assert route_service(_req(host, path), scope) == expected


def test_unknown_scope_is_refused() -> None:
    with pytest.raises(AwsError):
        route_service(_req(), "dynamodb")


@pytest.mark.parametrize("service", ["kms", "secretsmanager", "ssm", "ecr", "cloudtrail", "organizations"])
def test_target_prefix_from_model(service: str) -> None:
    prefix = service_model(service).metadata["targetPrefix"]
    assert route_service(_req(target=f"{prefix}.AnyOperation"), None) == service


@pytest.mark.parametrize(("host", "expected"), [
    ("sts.amazonaws.com", "sts"),
    ("iam.amazonaws.com", "iam"),
    ("api.ecr.us-east-1.amazonaws.com", "ecr"),
    ("kms.us-east-1.localhost:4566", "kms"),
    ("s3.us-east-1.localhost.localstack.cloud:4566", "s3"),
    ("iam.s3.localhost:4566", "s3"),  # a bucket called "iam"
    ("localhost:4566", "s3"),         # anonymous browser GET
    ("bucket.localhost:4566", "s3"),
])
def test_host(host: str, expected: str) -> None:
    assert route_service(_req(host), None) == expected


def test_unknown_target_is_refused() -> None:
    with pytest.raises(AwsError):
        route_service(_req(target="DynamoDB_20120810.GetItem"), None)


@pytest.mark.parametrize(("host", "bucket"), [
    ("bucket.s3.localhost:4566", "bucket"),
    ("my.dotted.bucket.s3.us-east-1.amazonaws.com", "my.dotted.bucket"),
    ("bucket.s3-us-west-2.amazonaws.com", "bucket"),
    ("bucket.localhost", None),
    ("s3.amazonaws.com", None),
    ("123.s3-control.us-east-1.amazonaws.com", None),
    ("localhost:4566", None),
])
def test_s3_bucket_from_host(host: str, bucket: str | None) -> None:
    assert s3_bucket_from_host(host) == bucket
