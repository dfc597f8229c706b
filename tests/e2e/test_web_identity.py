"""Web identity federation offline: Skyhold's OIDC issuer, IAM's OIDC provider, and
boto3's own AWS_WEB_IDENTITY_TOKEN_FILE + AWS_ROLE_ARN credential provider."""

from __future__ import annotations

import json
import subprocess
import sys
import urllib.request

import pytest

from .conftest import AwsEnv, Server, clean_env, web_identity_role

PROBE = "import boto3, json; print(json.dumps(boto3.client('sts').get_caller_identity()))"


@pytest.fixture(scope="module")
def issuer(server: Server, admin: AwsEnv) -> str:
    url = server.cli("oidc", "issuer").stdout.strip()
    assert url.startswith("https://")
    iam = admin.client("iam")
    try:
        iam.create_open_id_connect_provider(Url=url, ClientIDList=["sts.amazonaws.com"], ThumbprintList=["0" * 40])
    except iam.exceptions.EntityAlreadyExistsException:
        pass
    return url


@pytest.fixture
def irsa_role(server: Server, admin: AwsEnv, issuer: str) -> str:
    return web_identity_role(server, admin, "system:serviceaccount:default:app", "irsa")


def _run_as_pod(server: Server, tmp_path, token: str, role_arn: str) -> subprocess.CompletedProcess[str]:
    token_file = tmp_path / "token"
    token_file.write_text(token)
    env = clean_env(tmp_path)
    env.update({"AWS_WEB_IDENTITY_TOKEN_FILE": str(token_file), "AWS_ROLE_ARN": role_arn,
                "AWS_ROLE_SESSION_NAME": "app", "AWS_ENDPOINT_URL": server.endpoint, "AWS_DEFAULT_REGION": "us-east-1"})
    return subprocess.run([sys.executable, "-c", PROBE], capture_output=True, text=True, env=env, timeout=60)


def _token(server: Server, *args: str) -> str:
    out = server.cli("oidc", "token", *args)
    assert out.returncode == 0, out.stderr
    return out.stdout.strip()


def test_discovery_and_jwks_are_served(server: Server, issuer: str) -> None:
    with urllib.request.urlopen(f"{server.endpoint}/_skyhold/oidc/.well-known/openid-configuration") as r:
        doc = json.loads(r.read())
    assert doc["issuer"] == issuer
    with urllib.request.urlopen(doc["jwks_uri"]) as r:
        keys = json.loads(r.read())["keys"]
    assert keys[0]["kty"] == "RSA" and keys[0]["alg"] == "RS256"


def test_service_account_token_yields_role_credentials(server: Server, irsa_role: str, tmp_path) -> None:
    token = _token(server, "--sub", "system:serviceaccount:default:app")
    out = _run_as_pod(server, tmp_path, token, irsa_role)
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout)["Arn"].endswith(f":assumed-role/{irsa_role.split('/')[-1]}/app")


def test_wrong_subject_is_refused_by_the_trust_policy(server: Server, irsa_role: str, tmp_path) -> None:
    out = _run_as_pod(server, tmp_path, _token(server, "--sub", "system:serviceaccount:default:other"), irsa_role)
    assert out.returncode != 0 and "AccessDenied" in out.stderr


def test_wrong_audience_and_expired_tokens(server: Server, admin: AwsEnv, irsa_role: str) -> None:
    import boto3
    from botocore import UNSIGNED
    from botocore.config import Config
    from botocore.exceptions import ClientError

    sts = boto3.client("sts", endpoint_url=server.endpoint, region_name="us-east-1",
                       config=Config(signature_version=UNSIGNED, retries={"max_attempts": 1}))
    wrong_aud = _token(server, "--sub", "system:serviceaccount:default:app", "--aud", "someone-else")
    with pytest.raises(ClientError) as e:
        sts.assume_role_with_web_identity(RoleArn=irsa_role, RoleSessionName="app", WebIdentityToken=wrong_aud)
    assert e.value.response["Error"]["Code"] == "InvalidIdentityToken"
    assert e.value.response["Error"]["Message"] == "Incorrect token audience"
    expired = _token(server, "--sub", "system:serviceaccount:default:app", "--ttl", "-10")
    with pytest.raises(ClientError) as e:
        sts.assume_role_with_web_identity(RoleArn=irsa_role, RoleSessionName="app", WebIdentityToken=expired)
    assert e.value.response["Error"]["Code"] == "ExpiredTokenException"
    with pytest.raises(ClientError) as e:
        sts.assume_role_with_web_identity(RoleArn=irsa_role, RoleSessionName="app", WebIdentityToken="not.a.jwt")
    assert e.value.response["Error"]["Code"] == "InvalidIdentityToken"
    good = _token(server, "--sub", "system:serviceaccount:default:app")
    out = sts.assume_role_with_web_identity(RoleArn=irsa_role, RoleSessionName="app", WebIdentityToken=good)
    assert out["SubjectFromWebIdentityToken"] == "system:serviceaccount:default:app"
    assert out["Audience"] == "sts.amazonaws.com"
