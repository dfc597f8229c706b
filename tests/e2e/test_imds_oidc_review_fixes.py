"""Fixes from a security review: IMDS serves a role's credentials only when the role
trusts ec2.amazonaws.com (AssumeRoleUnauthorizedAccess otherwise, re-decided at each
refresh); IMDS does not wait forever for an announced body and refuses a malformed
Content-Length; AssumeRoleWithWebIdentity answers InvalidIdentityToken (not a 500)
for a validly signed token with missing or mistyped claims; `skyhold instance exec`
honours its options after the instance id."""

from __future__ import annotations

import base64
import json
import os
import socket
import subprocess
import time
import urllib.error
import urllib.request
import uuid
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore import UNSIGNED
from botocore.config import Config
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding

from skyhold import oidc

from .conftest import VENV_BIN, AwsEnv, Server, aws_error, own_server

# Each test's instances count against the shared account's quota till the module is done.
pytestmark = pytest.mark.usefixtures("instances_terminated")

AL2023 = "ami-0453ec754f44f9a4a"
EC2_TRUST = {"Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"}, "Action": "sts:AssumeRole"}
DOCS = ("Please see documentation at https://docs.aws.amazon.com/IAM/latest/UserGuide/troubleshoot_iam-ec2.html"
        "#troubleshoot_iam-ec2_errors-info-doc.")


# --- helpers -------------------------------------------------------------------------

def _trust(*statements: dict[str, Any]) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements)})


def _instance_with_role(admin: AwsEnv, *trust: dict[str, Any]) -> tuple[str, str]:
    """(instance id, role name): a running instance whose profile holds a new role."""
    iam, ec2 = admin.client("iam"), admin.client("ec2")
    name = f"rv6-{uuid.uuid4().hex[:8]}"
    iam.create_role(RoleName=name, AssumeRolePolicyDocument=_trust(*trust))
    iam.create_instance_profile(InstanceProfileName=name)
    iam.add_role_to_instance_profile(InstanceProfileName=name, RoleName=name)
    instance_id = ec2.run_instances(ImageId=AL2023, InstanceType="t3.micro", MinCount=1, MaxCount=1,
                                    IamInstanceProfile={"Name": name})["Instances"][0]["InstanceId"]
    return instance_id, name


def _imds_port(server: Server, instance_id: str) -> int:
    """The instance's metadata service port, as a program on the instance is told it."""
    out = _exec(server, "--data-dir", str(server.data_dir), "--endpoint", server.endpoint, instance_id, "--",
                "python", "-c", "import os; print(os.environ['AWS_EC2_METADATA_SERVICE_ENDPOINT'])")
    assert out.returncode == 0, out.stderr
    return int(out.stdout.strip().rstrip("/").rsplit(":", 1)[1])


def _imds(port: int, path: str) -> tuple[int, str]:
    """(status, body) of an IMDSv2 GET."""
    put = urllib.request.Request(f"http://127.0.0.1:{port}/latest/api/token", method="PUT",
                                 headers={"X-aws-ec2-metadata-token-ttl-seconds": "60"})
    with urllib.request.urlopen(put, timeout=5) as r:
        token = r.read().decode()
    get = urllib.request.Request(f"http://127.0.0.1:{port}{path}", headers={"X-aws-ec2-metadata-token": token})
    try:
        with urllib.request.urlopen(get, timeout=5) as r:
            return r.status, r.read().decode()
    except urllib.error.HTTPError as err:
        return err.code, ""


def _imds_json(port: int, path: str) -> dict[str, Any]:
    status, body = _imds(port, path)
    assert status == 200, (path, status)
    return json.loads(body)


def _exec(server: Server, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(VENV_BIN / "skyhold"), "instance", "exec", *args], capture_output=True, text=True,
                          timeout=120, env={**os.environ, "PATH": f"{VENV_BIN}:{os.environ['PATH']}"})


# --- 1. the role's trust policy decides whether IMDS serves credentials ---------------

def test_role_that_does_not_trust_ec2_gets_no_credentials(server: Server, admin: AwsEnv) -> None:
    account = admin.client("sts").get_caller_identity()["Account"]
    instance_id, role = _instance_with_role(
        admin, {"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{account}:root"}, "Action": "sts:AssumeRole"})
    port = _imds_port(server, instance_id)
    # the role is still listed: only its document carries the error
    assert _imds(port, "/latest/meta-data/iam/security-credentials/") == (200, role)
    refused = _imds_json(port, f"/latest/meta-data/iam/security-credentials/{role}")
    assert refused["Code"] == "AssumeRoleUnauthorizedAccess"
    assert refused["Message"] == f"EC2 cannot assume the role {role}.  {DOCS}"
    assert set(refused) == {"Code", "Message", "LastUpdated"}
    info = _imds_json(port, "/latest/meta-data/iam/info")
    assert info["Code"] == "AssumeRoleUnauthorizedAccess" and "InstanceProfileArn" not in info
    # and so the unmodified aws CLI on the instance finds no credentials
    out = _exec(server, "--data-dir", str(server.data_dir), "--endpoint", server.endpoint, instance_id, "--",
                "aws", "sts", "get-caller-identity")
    assert out.returncode != 0 and "assumed-role" not in out.stdout

    # once the trust policy names EC2, the next request gets credentials
    admin.client("iam").update_assume_role_policy(RoleName=role, PolicyDocument=_trust(EC2_TRUST))
    creds = _imds_json(port, f"/latest/meta-data/iam/security-credentials/{role}")
    assert creds["Code"] == "Success" and creds["AccessKeyId"].startswith("ASIA")
    assert _imds_json(port, "/latest/meta-data/iam/info")["Code"] == "Success"


def test_explicit_deny_of_ec2_wins_over_an_allow(server: Server, admin: AwsEnv) -> None:
    deny = {**EC2_TRUST, "Effect": "Deny"}
    instance_id, role = _instance_with_role(admin, EC2_TRUST, deny)
    port = _imds_port(server, instance_id)
    doc = _imds_json(port, f"/latest/meta-data/iam/security-credentials/{role}")
    assert doc["Code"] == "AssumeRoleUnauthorizedAccess" and "AccessKeyId" not in doc


def test_trust_condition_and_other_services_do_not_let_ec2_in(server: Server, admin: AwsEnv) -> None:
    lambda_only = {**EC2_TRUST, "Principal": {"Service": "lambda.amazonaws.com"}}
    instance_id, role = _instance_with_role(admin, lambda_only)
    doc = _imds_json(_imds_port(server, instance_id), f"/latest/meta-data/iam/security-credentials/{role}")
    assert doc["Code"] == "AssumeRoleUnauthorizedAccess"
    # a condition EC2's request cannot meet refuses it too
    expired = {**EC2_TRUST, "Condition": {"DateLessThan": {"aws:CurrentTime": "2001-01-01T00:00:00Z"}}}
    instance_id, role = _instance_with_role(admin, expired)
    doc = _imds_json(_imds_port(server, instance_id), f"/latest/meta-data/iam/security-credentials/{role}")
    assert doc["Code"] == "AssumeRoleUnauthorizedAccess"


def test_trust_is_decided_again_at_each_refresh(tmp_path: Path) -> None:
    with own_server(tmp_path) as (srv, admin):
        instance_id, role = _instance_with_role(admin, EC2_TRUST)
        port = _imds_port(srv, instance_id)
        path = f"/latest/meta-data/iam/security-credentials/{role}"
        first = _imds_json(port, path)
        assert first["Code"] == "Success"
        account = admin.client("sts").get_caller_identity()["Account"]
        admin.client("iam").update_assume_role_policy(RoleName=role, PolicyDocument=_trust(
            {"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{account}:root"}, "Action": "sts:AssumeRole"}))
        # as on AWS, credentials already issued are served until the scheduled refresh
        assert _imds_json(port, path)["AccessKeyId"] == first["AccessKeyId"]
        assert srv.cli("clock", "advance", "6h", "--endpoint", srv.endpoint).returncode == 0
        assert _imds_json(port, path)["Code"] == "AssumeRoleUnauthorizedAccess"
        admin.client("iam").update_assume_role_policy(RoleName=role, PolicyDocument=_trust(EC2_TRUST))
        again = _imds_json(port, path)
        assert again["Code"] == "Success" and again["AccessKeyId"] != first["AccessKeyId"]


# --- 2. the metadata service's request reading ------------------------------------------

@pytest.fixture(scope="module")
def open_imds(server: Server, admin: AwsEnv) -> int:
    """The port of an instance that allows IMDSv1 (tokenless GETs)."""
    instance_id = admin.client("ec2").run_instances(
        ImageId=AL2023, InstanceType="t3.micro", MinCount=1, MaxCount=1,
        MetadataOptions={"HttpTokens": "optional"})["Instances"][0]["InstanceId"]
    return _imds_port(server, instance_id)


def _raw(port: int, request: bytes, wait: float = 5) -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=wait) as s:
        s.sendall(request)
        chunks = []
        while chunk := s.recv(4096):
            chunks.append(chunk)
        return b"".join(chunks)


@pytest.mark.parametrize("length", ["-1", "abc", "1e3", "+5", "５"])
def test_malformed_content_length_is_a_400(open_imds: int, length: str) -> None:
    answer = _raw(open_imds, f"GET /latest/meta-data/instance-id HTTP/1.1\r\nContent-Length: {length}\r\n\r\n"
                  .encode())
    assert answer.startswith(b"HTTP/1.1 400 Bad Request\r\n")
    assert b"<title>400 - Bad Request</title>" in answer


def test_a_body_that_arrives_is_read_and_ignored(open_imds: int) -> None:
    answer = _raw(open_imds, b"GET /latest/meta-data/instance-id HTTP/1.1\r\nContent-Length: 5\r\n\r\nhello")
    assert answer.startswith(b"HTTP/1.1 200 OK\r\n") and b"\r\n\r\ni-" in answer


def test_an_announced_body_that_never_comes_does_not_hold_the_connection(open_imds: int) -> None:
    started = time.monotonic()
    with socket.create_connection(("127.0.0.1", open_imds), timeout=30) as s:
        s.sendall(b"GET /latest/meta-data/instance-id HTTP/1.1\r\nContent-Length: 10\r\n\r\n")
        assert s.recv(100) == b""  # closed by the server, unanswered
    assert time.monotonic() - started < 20


# --- 3. web identity tokens with missing or mistyped claims ------------------------------

@pytest.fixture(scope="module")
def web_role(server: Server, admin: AwsEnv) -> str:
    iam = admin.client("iam")
    try:
        iam.create_open_id_connect_provider(Url=oidc.ISSUER, ClientIDList=["sts.amazonaws.com"],
                                            ThumbprintList=["0" * 40])
    except iam.exceptions.EntityAlreadyExistsException:
        pass
    account = admin.client("sts").get_caller_identity()["Account"]
    host = oidc.ISSUER_HOST
    name = f"rv6-web-{uuid.uuid4().hex[:6]}"
    return iam.create_role(RoleName=name, AssumeRolePolicyDocument=_trust({
        "Effect": "Allow", "Principal": {"Federated": f"arn:aws:iam::{account}:oidc-provider/{host}"},
        "Action": "sts:AssumeRoleWithWebIdentity",
        "Condition": {"StringEquals": {f"{host}:sub": "repo:good", f"{host}:aud": "sts.amazonaws.com"}}}))[
        "Role"]["Arn"]


def _signed(server: Server, claims: dict[str, Any]) -> str:
    """An RS256 token signed with Skyhold's own issuer key, whatever its claims (signed
    by hand: PyJWT refuses to encode some of the malformed ones)."""
    key = oidc.signing_key(server.data_dir)

    def part(doc: dict[str, Any]) -> str:
        return base64.urlsafe_b64encode(json.dumps(doc).encode()).rstrip(b"=").decode()

    signing_input = part({"alg": "RS256", "typ": "JWT", "kid": oidc.key_id(key)}) + "." + part(claims)
    signature = key.sign(signing_input.encode(), padding.PKCS1v15(), hashes.SHA256())
    return signing_input + "." + base64.urlsafe_b64encode(signature).rstrip(b"=").decode()


def _base() -> dict[str, Any]:
    now = int(time.time())
    return {"iss": oidc.ISSUER, "sub": "repo:good", "aud": "sts.amazonaws.com", "iat": now, "nbf": now,
            "exp": now + 600}


def _assume(server: Server, role_arn: str, token: str) -> Any:
    sts = boto3.client("sts", endpoint_url=server.endpoint, region_name="us-east-1",
                       config=Config(signature_version=UNSIGNED, retries={"max_attempts": 1}))
    return sts.assume_role_with_web_identity(RoleArn=role_arn, RoleSessionName="ci-run", WebIdentityToken=token)


NOT_A_JWT = "The ID Token provided is not a valid JWT. (You may see this error if you sent an Access Token)"


@pytest.mark.parametrize("claim", ["sub", "aud", "exp"])
def test_a_missing_required_claim_is_named(server: Server, web_role: str, claim: str) -> None:
    claims = {k: v for k, v in _base().items() if k != claim}
    assert aws_error(lambda: _assume(server, web_role, _signed(server, claims))) == (
        "InvalidIdentityToken", f"Missing a required claim: {claim}", 400)


@pytest.mark.parametrize("change", [
    {"exp": "soon"}, {"exp": float("nan")}, {"exp": float("inf")}, {"exp": True}, {"iat": "yesterday"}, {"nbf": [1]},
    {"sub": 42}, {"aud": ["sts.amazonaws.com", 7]}, {"aud": {"x": 1}}, {"iss": 5}, {"iss": [oidc.ISSUER]},
], ids=lambda c: f"{next(iter(c))}={next(iter(c.values()))!r}")
def test_a_mistyped_claim_is_an_invalid_token(server: Server, web_role: str, change: dict[str, Any]) -> None:
    token = _signed(server, {**_base(), **change})
    assert aws_error(lambda: _assume(server, web_role, token)) == ("InvalidIdentityToken", NOT_A_JWT, 400)


def test_a_token_before_its_not_before_time_is_refused(server: Server, web_role: str) -> None:
    base = _base()
    early = _signed(server, {**base, "nbf": base["nbf"] + 3600})
    error = aws_error(lambda: _assume(server, web_role, early))
    assert error[0] == "InvalidIdentityToken" and error[2] == 400
    assert error[1].startswith("Token not yet valid: current date/time ") and str(base["nbf"] + 3600) in error[1]
    # an nbf in the past, or none at all, is fine
    for claims in ({**base, "nbf": base["nbf"] - 60}, {k: v for k, v in base.items() if k != "nbf"}):
        assert _assume(server, web_role, _signed(server, claims))["AssumedRoleUser"]["Arn"].endswith("/ci-run")


def test_an_audience_list_and_numeric_dates_are_accepted(server: Server, web_role: str) -> None:
    base = _base()
    for exp in (base["exp"] + 0.5, 10**400):  # any JSON number, however large
        token = _signed(server, {**base, "aud": ["other", "sts.amazonaws.com"], "exp": exp})
        arn = _assume(server, web_role, token)["AssumedRoleUser"]["Arn"]
        assert arn.endswith(f":assumed-role/{web_role.rsplit('/', 1)[-1]}/ci-run")
    # a wrong audience in the list is still refused
    wrong = _signed(server, {**base, "aud": ["other"]})
    assert aws_error(lambda: _assume(server, web_role, wrong)) == (
        "InvalidIdentityToken", "Incorrect token audience", 400)


# --- 4. `skyhold instance exec` options after the instance id ---------------------------

def test_exec_takes_options_after_the_instance_id(server: Server, admin: AwsEnv, tmp_path: Path) -> None:
    instance_id = admin.client("ec2").run_instances(ImageId=AL2023, InstanceType="t3.micro", MinCount=1,
                                                    MaxCount=1)["Instances"][0]["InstanceId"]
    probe = "import os; print(os.environ['AWS_ENDPOINT_URL'])"
    for args in (["--data-dir", str(server.data_dir), "--endpoint", server.endpoint, instance_id],
                 [instance_id, "--data-dir", str(server.data_dir), "--endpoint", server.endpoint],
                 [instance_id, f"--data-dir={server.data_dir}", f"--endpoint={server.endpoint}"]):
        out = _exec(server, *args, "--", "python", "-c", probe)
        assert out.returncode == 0, (args, out.stderr)
        assert out.stdout.strip() == server.endpoint
    # the command's own options after -- stay the command's
    out = _exec(server, instance_id, "--data-dir", str(server.data_dir), "--", "python", "-c",
                "import sys; print(sys.argv[1:])", "--data-dir", "x")
    assert out.returncode == 0 and out.stdout.strip() == "['--data-dir', 'x']"
    # an option exec does not know is a usage error, not "no instance"
    out = _exec(server, instance_id, "--data-dir", str(server.data_dir), "--bogus", "--", "true")
    assert out.returncode == 2 and "--bogus" in out.stderr and "usage:" in out.stderr
    # a data dir without Skyhold's state is named, and left uncreated
    missing = tmp_path / "nowhere"
    out = _exec(server, instance_id, "--data-dir", str(missing), "--", "true")
    assert out.returncode == 2 and str(missing) in out.stderr and not missing.exists()
