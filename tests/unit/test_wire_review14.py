"""The query protocol's front, review 14: which operation a request names (Action and
Version, the first of each), which bodies count, how numbers are read, and how the
answers look (AWSFault namespace, no empty Message, a redirect without a document)."""

from __future__ import annotations

import pytest

from skyhold.errors import AwsError
from skyhold.wire import protocol, query
from skyhold.wire.http import HttpRequest
from skyhold.wire.models import service_model

FORM = "application/x-www-form-urlencoded; charset=utf-8"


def _req(body: str, content_type: str | None = FORM, query_string: str = "") -> HttpRequest:
    headers = {"host": "sts.amazonaws.com"}
    if content_type is not None:
        headers["content-type"] = content_type
    return HttpRequest("POST", "/", query_string, headers, body.encode())


def _refusal(service: str, req: HttpRequest) -> AwsError:
    model = service_model(service)
    with pytest.raises(AwsError) as info:
        protocol.parse_request(protocol.find_operation(model, req), req)
    return info.value


@pytest.mark.parametrize("body,expected", [
    ("Action=A&Version=1", ("A", "1")),
    ("Version=1&Action=A&Action=B&Version=2", ("A", "1")),
    ("Action=&Version=", ("", "")),
    ("Other=x", (None, None)),
])
def test_action_and_version_are_the_first_given(body: str, expected: tuple[str | None, str | None]) -> None:
    assert query.action_of(_req(body), False) == expected


def test_the_query_string_comes_before_the_body() -> None:
    req = _req("Action=FromBody&Version=2", query_string="Action=FromQuery")
    assert query.action_of(req, False) == ("FromQuery", "2")


@pytest.mark.parametrize("content_type", [None, "application/json", "text/plain", "multipart/form-data"])
def test_a_body_of_another_type_is_not_read(content_type: str | None) -> None:
    assert query.action_of(_req("Action=GetCallerIdentity&Version=2011-06-15", content_type), False) == (None, None)


@pytest.mark.parametrize("version,shown", [(None, "NO_VERSION_SPECIFIED"), ("", ""), ("2010-05-08", "2010-05-08")])
def test_a_wrong_version_is_an_unknown_operation(version: str | None, shown: str) -> None:
    body = "Action=GetCallerIdentity" + (f"&Version={version}" if version is not None else "")
    err = _refusal("sts", _req(body))
    assert (err.code, err.status) == ("InvalidAction", 400)
    assert err.message == f"Could not find operation GetCallerIdentity for version {shown}"


def test_sts_redirects_no_action_and_iam_refuses_it() -> None:
    err = _refusal("sts", _req("Version=2011-06-15", query_string="Version=2011-06-15"))
    assert (err.status, err.headers) == (302, {"Location": "https://aws.amazon.com/iam?Version=2011-06-15"})
    response = query.serialize_error(service_model("sts"), err, "rid", False)
    assert (response.status, response.body) == (302, b"")
    assert ("location", "https://aws.amazon.com/iam?Version=2011-06-15") in response.headers
    assert _refusal("iam", _req("Version=2010-05-08")).code == "MissingAction"


def test_ec2_keeps_its_own_words_and_needs_no_version() -> None:
    req = HttpRequest("POST", "/", "", {"host": "ec2.us-east-1.amazonaws.com", "content-type": FORM},
                      b"Action=Nope")
    err = _refusal("ec2", req)
    assert (err.code, err.message) == ("InvalidAction", "The action Nope is not valid for this web service.")


@pytest.mark.parametrize("value,expected", [("900", 900), ("+900", 900), ("0900", 900), ("-1", -1),
                                            ("2147483647", 2147483647), ("-2147483648", -2147483648)])
def test_an_integer_is_read_as_java_reads_it(value: str, expected: int) -> None:
    assert query._integer(value, "integer") == expected


@pytest.mark.parametrize("value,message", [("", "missing value for decimal type"), ("2147483648", ""),
                                           ("-2147483649", ""), ("9_00", ""), (" 900", ""), ("900.0", ""),
                                           ("0x10", ""), ("١٢", "")])
def test_anything_else_is_malformed_input(value: str, message: str) -> None:
    with pytest.raises(AwsError) as info:
        query._integer(value, "integer")
    assert (info.value.code, info.value.message) == ("MalformedInput", message)


def test_a_long_takes_64_bits() -> None:
    assert query._integer(str(2**63 - 1), "long") == 2**63 - 1
    with pytest.raises(AwsError):
        query._integer(str(2**63), "long")


def test_the_answers_namespace_and_an_empty_message() -> None:
    model = service_model("sts")
    invalid = query.serialize_error(model, AwsError("InvalidAction", "x"), "rid", False).body
    assert isinstance(invalid, bytes)
    assert b'<ErrorResponse xmlns="http://webservices.amazon.com/AWSFault/2005-15-09">' in invalid
    malformed = query.serialize_error(model, AwsError("MalformedInput", ""), "rid", False).body
    assert isinstance(malformed, bytes)
    assert b"<Message>" not in malformed and b"<Code>MalformedInput</Code>" in malformed
    assert b'xmlns="https://sts.amazonaws.com/doc/2011-06-15/"' in malformed
