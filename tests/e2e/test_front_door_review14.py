"""The front door, review 14: the query protocol's Action/Version handling and its
parameters, STS's roleArn constraints, CORS for the services other than S3, unsigned
web identity calls with their parameters in the URL, and token files ending in a newline.

Requests are hand-made and signed by botocore's own signer, so that they carry exactly
what a test means to send. AWS's answers are from recorded probes of real STS
(`Could not find operation ... for version NO_VERSION_SPECIFIED`, the redirect of a
request without an Action, MalformedInput for an unreadable number, the first of a
repeated parameter counting, roleArn's pattern and length messages), IAM's answer in
a client's bug report (Paws: "Could not find operation CreateRole for version
NO_VERSION_SPECIFIED"), and the AWS SDK for JavaScript's list of the services that
allow CORS with the headers AWS's json services answer browsers with.
"""

from __future__ import annotations

import datetime
import http.client
import json
import subprocess
import sys
import urllib.parse
import uuid
import xml.etree.ElementTree as ET
from pathlib import Path

import boto3
import botocore.auth
import botocore.awsrequest
import pytest
from botocore import UNSIGNED
from botocore.config import Config
from botocore.exceptions import ClientError

from .conftest import AwsEnv, Server, clean_env, signing_credentials, web_identity_role

FORM = "application/x-www-form-urlencoded; charset=utf-8"
FAULT_NS = "http://webservices.amazon.com/AWSFault/2005-15-09"


def _send(admin: AwsEnv, service: str, method: str = "POST", path: str = "/", body: bytes = b"",
          headers: dict[str, str] | None = None, sign: bool = True) -> tuple[int, dict[str, str], bytes]:
    """Send exactly these headers (http.client adds no Content-Type of its own)."""
    req = botocore.awsrequest.AWSRequest(method=method, url=f"{admin.endpoint}{path}", data=body,
                                         headers=dict(headers or {}))
    if sign:
        botocore.auth.SigV4Auth(signing_credentials(admin), service, "us-east-1").add_auth(req)
    prepared = req.prepare()
    port = urllib.parse.urlsplit(admin.endpoint).port
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        conn.request(method, path, body=body if body else None, headers=dict(prepared.headers))
        resp = conn.getresponse()
        return resp.status, {k.lower(): v for k, v in resp.getheaders()}, resp.read()
    finally:
        conn.close()


def _query(admin: AwsEnv, service: str, pairs: list[tuple[str, str]] | str,
           content_type: str | None = FORM) -> tuple[int, dict[str, str], bytes]:
    body = pairs if isinstance(pairs, str) else urllib.parse.urlencode(pairs)
    headers = {"Content-Type": content_type} if content_type else {}
    return _send(admin, service, body=body.encode(), headers=headers)


def _error(body: bytes) -> tuple[str, dict[str, str]]:
    """The <ErrorResponse>'s namespace and its <Error>'s fields."""
    root = ET.fromstring(body)
    ns = root.tag[1:].split("}")[0] if root.tag.startswith("{") else ""
    error = next(el for el in root.iter() if el.tag.rsplit("}", 1)[-1] == "Error")
    return ns, {child.tag.rsplit("}", 1)[-1]: child.text or "" for child in error}


def _role(admin: AwsEnv) -> str:
    iam = admin.client("iam", region_name="us-east-1")
    account = admin.client("sts", region_name="us-east-1").get_caller_identity()["Account"]
    trust = {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{account}:root"}, "Action": "sts:AssumeRole"}]}
    name = f"r14-{uuid.uuid4().hex[:8]}"
    return iam.create_role(RoleName=name, AssumeRolePolicyDocument=json.dumps(trust))["Role"]["Arn"]


# --- Action and Version -----------------------------------------------------------------
# Coral finds a query operation by its Action *and* Version: a missing or wrong Version
# is an unknown operation, answered before authentication with the AWSFault namespace.

@pytest.mark.parametrize("service,action,version", [("sts", "GetCallerIdentity", "2011-06-15"),
                                                     ("iam", "ListUsers", "2010-05-08")])
@pytest.mark.parametrize("given,shown", [(None, "NO_VERSION_SPECIFIED"), ("", ""), ("2000-01-01", "2000-01-01")])
def test_a_query_call_without_its_services_version_is_an_unknown_operation(
        admin: AwsEnv, service: str, action: str, version: str, given: str | None, shown: str) -> None:
    pairs = [("Action", action)] + ([("Version", given)] if given is not None else [])
    status, headers, body = _query(admin, service, pairs)
    ns, error = _error(body)
    assert status == 400, body
    assert (error["Type"], error["Code"]) == ("Sender", "InvalidAction")
    assert error["Message"] == f"Could not find operation {action} for version {shown}"
    assert ns == FAULT_NS
    # The right Version still works, and an unknown action keeps its own message.
    assert _query(admin, service, [("Action", action), ("Version", version)])[0] == 200
    _, nope = _error(_query(admin, service, [("Action", "Nope"), ("Version", version)])[2])
    assert nope["Message"] == f"Could not find operation Nope for version {version}"


def test_an_empty_action_is_an_unknown_operation_not_a_missing_one(admin: AwsEnv) -> None:
    status, _, body = _query(admin, "sts", [("Action", ""), ("Version", "2011-06-15")])
    _, error = _error(body)
    assert (status, error["Code"]) == (400, "InvalidAction")
    assert error["Message"] == "Could not find operation  for version 2011-06-15"


def test_the_first_of_a_repeated_action_or_version_counts(admin: AwsEnv) -> None:
    ok = "Action=GetCallerIdentity&Action=NoSuchAction&Version=2011-06-15&Version=2000-01-01"
    assert _query(admin, "sts", ok)[0] == 200
    status, _, body = _query(admin, "sts", "Action=NoSuchAction&Action=GetCallerIdentity&Version=2011-06-15")
    assert (status, _error(body)[1]["Message"]) == (400, "Could not find operation NoSuchAction for version "
                                                         "2011-06-15")
    status, _, body = _query(admin, "sts", "Action=GetCallerIdentity&Version=2000-01-01&Version=2011-06-15")
    assert (status, _error(body)[1]["Code"]) == (400, "InvalidAction")


def test_sts_redirects_a_request_that_names_no_action(admin: AwsEnv) -> None:
    # POST without an Action, GET with only a Version: 302 to the IAM product page.
    status, headers, body = _query(admin, "sts", [("Version", "2011-06-15")])
    assert (status, headers.get("location"), body) == (302, "https://aws.amazon.com/iam", b"")
    assert headers.get("x-amzn-requestid")
    status, headers, body = _send(admin, "sts", method="GET", path="/?Version=2011-06-15")
    assert (status, headers.get("location"), body) == (302, "https://aws.amazon.com/iam?Version=2011-06-15", b"")


@pytest.mark.parametrize("content_type", [None, "application/json", "text/plain"])
def test_a_body_that_is_not_a_form_is_not_read(admin: AwsEnv, content_type: str | None) -> None:
    """AWS reads a query call's body only as a form: sent without a Content-Type (or with
    another) its parameters do not count, so the call names no Action."""
    status, headers, body = _query(admin, "sts", [("Action", "GetCallerIdentity"), ("Version", "2011-06-15")],
                                   content_type=content_type)
    assert (status, headers.get("location"), body) == (302, "https://aws.amazon.com/iam", b"")


@pytest.mark.parametrize("content_type", ["application/x-www-form-urlencoded",
                                          "application/x-www-form-urlencoded; charset=utf-8",
                                          "Application/X-WWW-Form-Urlencoded; charset=UTF-8"])
def test_a_form_body_is_read_whatever_its_charset_or_case(admin: AwsEnv, content_type: str) -> None:
    pairs = [("Action", "GetCallerIdentity"), ("Version", "2011-06-15")]
    assert _query(admin, "sts", pairs, content_type=content_type)[0] == 200


@pytest.mark.parametrize("service,query", [("sts", "Action=GetCallerIdentity&Version=2011-06-15"),
                                           ("iam", "Action=ListUsers&Version=2010-05-08"),
                                           ("ec2", "Action=DescribeVpcs&Version=2016-11-15")])
def test_every_query_service_takes_its_parameters_in_a_get_query_string(admin: AwsEnv, service: str,
                                                                        query: str) -> None:
    status, _, body = _send(admin, service, method="GET", path=f"/?{query}")
    assert status == 200, body


# --- parameters ---------------------------------------------------------------------------

def test_the_first_of_a_repeated_parameter_counts(admin: AwsEnv) -> None:
    role = _role(admin)
    base = [("Action", "AssumeRole"), ("Version", "2011-06-15"), ("RoleArn", role)]
    status, _, body = _query(admin, "sts", base + [("RoleSessionName", "good"), ("RoleSessionName", "bad/name")])
    assert status == 200, body
    assert b"assumed-role/" in body and b"/good</Arn>" in body
    status, _, body = _query(admin, "sts", base + [("RoleSessionName", "bad/name"), ("RoleSessionName", "good")])
    _, error = _error(body)
    assert (status, error["Code"]) == (400, "ValidationError")
    assert "Value 'bad/name' at 'roleSessionName'" in error["Message"]


@pytest.mark.parametrize("value,message", [("", "missing value for decimal type"), ("abc", None), ("900.0", None),
                                           ("2147483648", None), ("-2147483649", None), ("9_00", None),
                                           (" 900", None)])
def test_an_unreadable_number_is_malformed_input(admin: AwsEnv, value: str, message: str | None) -> None:
    """Coral reads an integer as Java does; anything else is MalformedInput, whose
    answer carries no Message at all (botocore then shows none)."""
    role = _role(admin)
    pairs = [("Action", "AssumeRole"), ("Version", "2011-06-15"), ("RoleArn", role),
             ("RoleSessionName", "s1"), ("DurationSeconds", value)]
    status, _, body = _query(admin, "sts", pairs)
    _, error = _error(body)
    assert (status, error["Code"]) == (400, "MalformedInput")
    assert error.get("Message") == message


@pytest.mark.parametrize("value,seconds", [("+900", 900), ("0900", 900), ("+03600", 3600)])
def test_a_signed_or_zero_padded_number_is_read(admin: AwsEnv, value: str, seconds: int) -> None:
    role = _role(admin)
    pairs = [("Action", "AssumeRole"), ("Version", "2011-06-15"), ("RoleArn", role),
             ("RoleSessionName", "s1"), ("DurationSeconds", value)]
    status, _, body = _query(admin, "sts", pairs)
    assert status == 200, body
    expiration = ET.fromstring(body).find(".//{*}Expiration")
    assert expiration is not None and expiration.text
    left = datetime.datetime.fromisoformat(expiration.text.replace("Z", "+00:00")) - datetime.datetime.now(
        datetime.timezone.utc)
    assert abs(left.total_seconds() - seconds) < 120
    # A number in range but below the API's minimum is STS's own ValidationError still.
    pairs[-1] = ("DurationSeconds", "-1")
    _, error = _error(_query(admin, "sts", pairs)[2])
    assert error["Code"] == "ValidationError"


def test_a_malformed_number_reaches_boto3_without_a_message(admin: AwsEnv) -> None:
    sts = admin.unchecked_client("sts", region_name="us-east-1")
    # botocore would refuse a str for an integer; an unchecked client sends it as is.
    with pytest.raises(ClientError) as info:
        sts.assume_role(RoleArn=_role(admin), RoleSessionName="s1", DurationSeconds="soon")
    assert info.value.response["Error"]["Code"] == "MalformedInput"
    assert "Message" not in info.value.response["Error"]


# --- STS's roleArn -------------------------------------------------------------------------

ARN_PATTERN = r"[\u0009\u000A\u000D\u0020-\u007E\u0085\u00A0-\uD7FF\uE000-\uFFFD\u10000-\u10FFFF]+"


def _assume(admin: AwsEnv, role_arn: str) -> tuple[int, dict[str, str]]:
    status, _, body = _query(admin, "sts", [("Action", "AssumeRole"), ("Version", "2011-06-15"),
                                            ("RoleArn", role_arn), ("RoleSessionName", "s1")])
    return status, _error(body)[1]


def _problem(value: str, constraint: str) -> str:
    return f"Value '{value}' at 'roleArn' failed to satisfy constraint: Member must {constraint}"


@pytest.mark.parametrize("value,problems", [
    ("", [f"satisfy regular expression pattern: {ARN_PATTERN}", "have length greater than or equal to 20"]),
    ("not-an-arn", ["have length greater than or equal to 20"]),
    ("x" * 2049, ["have length less than or equal to 2048"]),
    ("\U0001F600" * 2048, [f"satisfy regular expression pattern: {ARN_PATTERN}"]),
    ("\U0001F600" * 2049, [f"satisfy regular expression pattern: {ARN_PATTERN}",
                           "have length less than or equal to 2048"]),
    ("e\u0301" * 1025, ["have length less than or equal to 2048"]),
])
def test_a_role_arn_outside_its_model_constraints_is_a_validation_error(admin: AwsEnv, value: str,
                                                                        problems: list[str]) -> None:
    status, error = _assume(admin, value)
    n = len(problems)
    expected = f"{n} validation error{'s' if n > 1 else ''} detected: " + "; ".join(_problem(value, p)
                                                                                  for p in problems)
    assert (status, error["Code"]) == (400, "ValidationError")
    assert error["Message"] == expected


@pytest.mark.parametrize("value", ["x" * 20, "x" * 2048, "\u00e9" * 2048])
def test_a_role_arn_within_its_constraints_but_no_arn_is_invalid(admin: AwsEnv, value: str) -> None:
    status, error = _assume(admin, value)
    assert (status, error["Code"], error["Message"]) == (400, "ValidationError", f"{value} is invalid")


# --- CORS for STS, KMS, IAM ... -------------------------------------------------------------

APP = "https://app.example"
EXPOSE = "x-amzn-RequestId,x-amzn-ErrorType,x-amzn-ErrorMessage,Date"


def _options(admin: AwsEnv, host: str | None, path: str = "/") -> tuple[int, dict[str, str]]:
    headers = {"Origin": APP, "Access-Control-Request-Method": "POST",
               "Access-Control-Request-Headers": "authorization,content-type,x-amz-date,x-amz-target"}
    if host:
        headers["Host"] = host
    status, got, _ = _send(admin, "sts", method="OPTIONS", path=path, headers=headers, sign=False)
    return status, got


@pytest.mark.parametrize("host", [None, "sts.amazonaws.com", "kms.us-east-1.amazonaws.com",
                                  "secretsmanager.us-east-1.amazonaws.com"])
def test_a_browsers_preflight_for_a_json_or_query_service_is_allowed(admin: AwsEnv, host: str | None) -> None:
    """The JS SDK in a browser preflights each call to STS, KMS, ...; at Skyhold's one
    endpoint the preflight goes to `/` and names no service."""
    status, headers = _options(admin, host)
    assert status == 200
    assert headers["access-control-allow-origin"] == "*"
    assert headers["access-control-allow-methods"] == "POST"
    assert headers["access-control-allow-headers"] == "authorization,content-type,x-amz-date,x-amz-target"


def test_a_preflight_for_a_service_without_cors_is_not_answered_as_one(admin: AwsEnv) -> None:
    status, headers = _options(admin, "organizations.us-east-1.amazonaws.com")
    assert status >= 400 and "access-control-allow-origin" not in headers
    # A preflight for an object still goes by the bucket's CORS rules.
    status, headers = _options(admin, None, f"/r14-no-bucket-{uuid.uuid4().hex[:6]}/key")
    assert status == 403 and "access-control-allow-origin" not in headers


@pytest.mark.parametrize("service,target,body", [
    ("sts", None, "Action=GetCallerIdentity&Version=2011-06-15"),
    ("kms", "TrentService.ListKeys", "{}"),
    ("kms", "TrentService.Nope", "{}"),  # an error needs them as much: the browser hides it otherwise
])
def test_a_browsers_call_is_answered_with_cors_headers(admin: AwsEnv, service: str, target: str | None,
                                                       body: str) -> None:
    headers = {"Origin": APP, "Content-Type": FORM if target is None else "application/x-amz-json-1.1"}
    if target:
        headers["X-Amz-Target"] = target
    status, got, _ = _send(admin, service, body=body.encode(), headers=headers)
    assert got["access-control-allow-origin"] == "*"
    assert got["access-control-expose-headers"] == EXPOSE
    # Without an Origin, no CORS headers: only browsers get them.
    del headers["Origin"]
    _, got, _ = _send(admin, service, body=body.encode(), headers=headers)
    assert "access-control-allow-origin" not in got


# --- an unsigned call with its parameters in the URL --------------------------------------

def test_an_unsigned_web_identity_call_may_carry_its_parameters_in_the_url(server: Server, admin: AwsEnv) -> None:
    """AWS's sample AssumeRoleWithWebIdentity request is a GET with every parameter in the
    URL, unsigned (the token is the credential); at Skyhold's one endpoint such a request
    named no service and was answered as an anonymous S3 call."""
    role = web_identity_role(server, admin, "ci-job", "r14-wi")
    out = server.cli("oidc", "token", "--sub", "ci-job")
    assert out.returncode == 0, out.stderr
    query = urllib.parse.urlencode({"Action": "AssumeRoleWithWebIdentity", "Version": "2011-06-15", "RoleArn": role,
                                    "RoleSessionName": "ci", "WebIdentityToken": out.stdout.strip()})
    for method in ("GET", "POST"):
        status, _, body = _send(admin, "sts", method=method, path=f"/?{query}", sign=False)
        assert status == 200, body
        assert f":assumed-role/{role.split('/')[-1]}/ci</Arn>".encode() in body
    # Another query service's call so sent is refused in that service's words, not S3's.
    status, _, body = _send(admin, "iam", method="GET", path="/?Action=ListUsers&Version=2010-05-08", sign=False)
    assert (status, _error(body)[1]["Code"]) == (403, "MissingAuthenticationToken")


def test_a_web_identity_token_file_ending_in_a_newline_is_accepted(server: Server, admin: AwsEnv,
                                                                   tmp_path: Path) -> None:
    """`echo $TOKEN > file` (or `jq -r .value > file`) leaves a newline that boto3 sends
    as part of the token; AWS takes it."""
    role = web_identity_role(server, admin, "pod", "r14-nl")
    token = server.cli("oidc", "token", "--sub", "pod").stdout.strip()
    token_file = tmp_path / "token"
    token_file.write_text(token + "\n")
    env = clean_env(tmp_path)
    env.update({"AWS_WEB_IDENTITY_TOKEN_FILE": str(token_file), "AWS_ROLE_ARN": role, "AWS_ROLE_SESSION_NAME": "pod",
                "AWS_ENDPOINT_URL": server.endpoint, "AWS_DEFAULT_REGION": "us-east-1"})
    probe = "import boto3, json; print(json.dumps(boto3.client('sts').get_caller_identity()))"
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, env=env, timeout=60)
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout)["Arn"].endswith(f":assumed-role/{role.split('/')[-1]}/pod")
    # Only the line end goes: a token with anything else appended is still refused.
    sts = boto3.client("sts", endpoint_url=server.endpoint, region_name="us-east-1",
                       config=Config(signature_version=UNSIGNED, retries={"max_attempts": 1}))
    with pytest.raises(ClientError) as info:
        sts.assume_role_with_web_identity(RoleArn=role, RoleSessionName="pod", WebIdentityToken=token + "x\n")
    assert info.value.response["Error"]["Code"] == "InvalidIdentityToken"
