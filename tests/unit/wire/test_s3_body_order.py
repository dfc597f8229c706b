"""S3 body problems are raised as `rest.BodyRefused`, naming the bucket, so the pipeline
can answer NoSuchBucket first; and members AWS accepts absent are not required."""

from __future__ import annotations

import pytest

from skyhold.errors import AwsError
from skyhold.wire import protocol, rest
from skyhold.wire.http import HttpRequest
from skyhold.wire.models import service_model

NS = b' xmlns="http://s3.amazonaws.com/doc/2006-03-01/"'


def _parse(path: str, query: str, body: bytes, **headers: str) -> dict:
    model = service_model("s3")
    req = HttpRequest("PUT", path, query, {"host": "s3.us-east-1.amazonaws.com", **headers}, body)
    return protocol.parse_request(protocol.find_operation(model, req), req)


@pytest.mark.parametrize("body", [
    b"<ServerSideEncryptionConfiguration" + NS + b"/>",      # no Rule: a required element is missing
    b"<ServerSideEncryptionConfiguration" + NS + b"><Rule>",  # not even well formed
])
def test_a_body_s3_cannot_read_is_refused_with_its_bucket(body: bytes) -> None:
    with pytest.raises(rest.BodyRefused) as info:
        _parse("/my-bucket", "encryption", body)
    err = info.value
    assert (err.code, err.status, err.bucket) == ("MalformedXML", 400, "my-bucket")
    assert err.message == "The XML you provided was not well-formed or did not validate against our published schema"


def test_uri_and_header_problems_are_not_deferred() -> None:
    """Only the body waits for the bucket: a bad header value is refused at once."""
    with pytest.raises(AwsError) as info:
        _parse("/my-bucket/k", "", b"", **{"x-amz-object-lock-retain-until-date": "not a date"})
    assert not isinstance(info.value, rest.BodyRefused)
    assert info.value.code == "InvalidArgument"


def test_tagging_without_a_tag_set_is_read_as_no_tags() -> None:
    assert _parse("/my-bucket", "tagging", b"<Tagging" + NS + b"></Tagging>") == {
        "Bucket": "my-bucket", "Tagging": {}}
    assert _parse("/my-bucket/k", "tagging", b"<Tagging" + NS + b"/>") == {
        "Bucket": "my-bucket", "Key": "k", "Tagging": {}}


def test_a_tag_without_its_key_is_still_malformed() -> None:
    with pytest.raises(rest.BodyRefused) as info:
        _parse("/my-bucket", "tagging", b"<Tagging" + NS + b"><TagSet><Tag><Value>v</Value></Tag></TagSet></Tagging>")
    assert info.value.code == "MalformedXML"
