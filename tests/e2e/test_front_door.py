"""The front door, driven by the real `aws` CLI and boto3 against `skyhold up`."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import re
import subprocess
import urllib.error
import urllib.request
from unittest import mock

import botocore.auth
import botocore.awsrequest
import botocore.credentials
import pytest
from botocore.exceptions import ClientError

from .conftest import AwsEnv, Server, clean_env, free_port


def test_health_endpoint(server: Server) -> None:
    with urllib.request.urlopen(f"{server.endpoint}/_skyhold/health") as r:
        assert r.status == 200
        assert json.loads(r.read())["status"] == "ready"


def test_first_start_prints_account_and_admin_key(server: Server) -> None:
    assert re.search(r"created account \d{12}", server.first_output)
    assert re.search(r"admin access key id:\s+AKIA[A-Z2-7]{16}", server.first_output)


def test_get_caller_identity_with_the_aws_cli(admin: AwsEnv, server: Server) -> None:
    ident = admin.aws_json("sts", "get-caller-identity")
    account = ident["Account"]
    assert re.fullmatch(r"\d{12}", account)
    assert ident["Arn"] == f"arn:aws:iam::{account}:user/admin"
    assert re.fullmatch(r"AIDA[A-Z2-7]{17}", ident["UserId"])
    # the same answer through boto3 with the same profile
    assert admin.client("sts").get_caller_identity()["Arn"] == ident["Arn"]


def test_request_is_logged_with_service_operation_principal_status(admin: AwsEnv, server: Server) -> None:
    admin.client("sts").get_caller_identity()
    line = [ln for ln in server.log().splitlines() if "sts GetCallerIdentity" in ln][-1]
    assert re.search(r"sts GetCallerIdentity arn:aws:iam::\d{12}:user/admin 200 [\d.]+ms", line)


def _sts(admin: AwsEnv, **creds: str | None) -> object:
    return admin.session().client(
        "sts",
        aws_access_key_id=creds["key"],
        aws_secret_access_key=creds["secret"],
        aws_session_token=creds.get("token"),
        endpoint_url=admin.endpoint,
        region_name="us-east-1",
    )


def _admin_key(admin: AwsEnv) -> tuple[str, str, str | None]:
    c = admin.credentials()
    return c.access_key, c.secret_key, c.token


def test_wrong_secret_is_signature_does_not_match(admin: AwsEnv) -> None:
    key, secret, token = _admin_key(admin)
    with pytest.raises(ClientError) as e:
        _sts(admin, key=key, token=token, secret=secret[:-1] + ("A" if secret[-1] != "A" else "B")).get_caller_identity()
    err = e.value.response
    assert err["Error"]["Code"] == "SignatureDoesNotMatch"
    assert err["ResponseMetadata"]["HTTPStatusCode"] == 403
    assert err["Error"]["Message"].startswith("The request signature we calculated does not match")


def test_unknown_key_is_invalid_client_token_id(admin: AwsEnv) -> None:
    with pytest.raises(ClientError) as e:
        _sts(admin, key="AKIAIOSFODNN7EXAMPLE", secret="x" * 40).get_caller_identity()
    assert e.value.response["Error"]["Code"] == "InvalidClientTokenId"
    assert e.value.response["Error"]["Message"] == "The security token included in the request is invalid."
    assert e.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403


def test_unknown_key_with_the_cli(admin: AwsEnv) -> None:
    env = {**admin.env, "AWS_ACCESS_KEY_ID": "AKIAIOSFODNN7EXAMPLE", "AWS_SECRET_ACCESS_KEY": "x" * 40}
    out = subprocess.run(
        ["aws", "--endpoint-url", admin.endpoint, "--region", "us-east-1", "sts", "get-caller-identity"],
        capture_output=True, text=True, env=env, timeout=60,
    )
    assert out.returncode != 0
    assert "InvalidClientTokenId" in out.stderr


def test_skewed_clock_is_rejected(admin: AwsEnv) -> None:
    key, secret, token = _admin_key(admin)
    sts = _sts(admin, key=key, secret=secret, token=token)
    skewed = dt.datetime.now(dt.timezone.utc) - dt.timedelta(minutes=20)
    # botocore stamps X-Amz-Date from get_current_datetime(); move only the signer's clock
    # (botocore.crt.auth's too: with awscrt installed, botocore signs with AWS's C signer).
    with mock.patch("botocore.auth.get_current_datetime", return_value=skewed.replace(tzinfo=None)), \
            mock.patch("botocore.crt.auth.get_current_datetime", return_value=skewed):
        with pytest.raises(ClientError) as e:
            sts.get_caller_identity()
    err = e.value.response["Error"]
    assert err["Code"] == "SignatureDoesNotMatch"
    assert err["Message"].startswith("Signature expired:")


def test_unsigned_sts_call_is_missing_authentication_token(server: Server) -> None:
    req = urllib.request.Request(
        f"{server.endpoint}/",
        data=b"Action=GetCallerIdentity&Version=2011-06-15",
        headers={"Content-Type": "application/x-www-form-urlencoded", "Host": "sts.amazonaws.com"},
    )
    with pytest.raises(urllib.error.HTTPError) as e:
        urllib.request.urlopen(req)
    assert e.value.code == 403
    assert b"<Code>MissingAuthenticationToken</Code>" in e.value.read()


def test_tampered_s3_body_is_content_sha256_mismatch(admin: AwsEnv) -> None:
    key, secret, token = _admin_key(admin)
    body = b'<Tagging xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><TagSet></TagSet></Tagging>'
    url = f"{admin.endpoint}/some-bucket?tagging"
    req = botocore.awsrequest.AWSRequest(method="PUT", url=url, data=body)
    req.headers["x-amz-content-sha256"] = hashlib.sha256(body).hexdigest()
    botocore.auth.S3SigV4Auth(botocore.credentials.Credentials(key, secret, token), "s3", "us-east-1").add_auth(req)
    prepared = req.prepare()
    tampered = body.replace(b"TagSet>", b"TagSeT>", 1)
    http = urllib.request.Request(url, data=tampered, method="PUT", headers=dict(prepared.headers))
    with pytest.raises(urllib.error.HTTPError) as e:
        urllib.request.urlopen(http)
    assert e.value.code == 400
    payload = e.value.read()
    assert b"<Code>XAmzContentSHA256Mismatch</Code>" in payload


def _tampered_put(endpoint: str, key: str, secret: str, token: str | None, path: str) -> tuple[int, bytes]:
    """A small PutObject signed for one body and sent with another."""
    body = b"the body that was signed"
    url = f"{endpoint}{path}"
    req = botocore.awsrequest.AWSRequest(method="PUT", url=url, data=body)
    req.headers["x-amz-content-sha256"] = hashlib.sha256(body).hexdigest()
    botocore.auth.S3SigV4Auth(botocore.credentials.Credentials(key, secret, token), "s3", "us-east-1").add_auth(req)
    http = urllib.request.Request(url, data=b"the body that was sent!!", method="PUT", headers=dict(req.prepare().headers))
    try:
        with urllib.request.urlopen(http) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()


def test_a_tampered_small_upload_is_refused_after_authorization_and_stores_nothing(admin: AwsEnv) -> None:
    """A small upload is read whole, yet checked in AWS's order: who may write first
    (AccessDenied tells a stranger nothing of the body), then the body's hash."""
    s3 = admin.client("s3")
    s3.create_bucket(Bucket="tamper-small")
    status, payload = _tampered_put(admin.endpoint, *_admin_key(admin), "/tamper-small/k")
    assert status == 400 and b"<Code>XAmzContentSHA256Mismatch</Code>" in payload, payload
    assert s3.list_objects_v2(Bucket="tamper-small").get("KeyCount") == 0
    stranger = admin.new_user()  # no policy: may not write
    status, payload = _tampered_put(admin.endpoint, stranger["AccessKeyId"], stranger["SecretAccessKey"], None,
                                    "/tamper-small/k")
    assert status == 403 and b"<Code>AccessDenied</Code>" in payload, payload


def test_unimplemented_operation_is_a_clear_aws_error(admin: AwsEnv) -> None:
    out = admin.aws("iam", "get-service-last-accessed-details-with-entities", "--job-id", "0" * 36,
                    "--service-namespace", "s3")
    # an operation Skyhold does not serve yet names itself
    assert out.returncode != 0
    assert "NotImplemented" in out.stderr and "GetServiceLastAccessedDetailsWithEntities" in out.stderr


def test_state_survives_restart(tmp_path) -> None:
    srv = Server(tmp_path / "data", free_port())
    srv.start()
    env = clean_env(tmp_path)
    assert srv.cli("configure", "--endpoint", srv.endpoint, env=env).returncode == 0
    aws = AwsEnv(env=env, profile="skyhold", endpoint=srv.endpoint)
    before = aws.aws_json("sts", "get-caller-identity")
    assert srv.stop() == 0  # graceful shutdown on SIGTERM
    assert "Skyhold stopped" in srv.log()
    srv.start()
    try:
        assert "First start" not in srv.first_output
        assert aws.aws_json("sts", "get-caller-identity") == before
    finally:
        srv.stop()


def test_second_account_has_its_own_admin(server: Server, tmp_path) -> None:
    out = server.cli("account", "create", "partner")
    assert out.returncode == 0, out.stderr
    partner_id = re.search(r"Created account (\d{12})", out.stdout).group(1)
    env = clean_env(tmp_path)
    out = server.cli("configure", "--profile", "partner", "--account", "partner", "--endpoint", server.endpoint, env=env)
    assert out.returncode == 0, out.stderr
    ident = AwsEnv(env=env, profile="partner", endpoint=server.endpoint).aws_json("sts", "get-caller-identity")
    assert ident["Account"] == partner_id
    assert ident["Arn"] == f"arn:aws:iam::{partner_id}:user/admin"
    # a duplicate name is refused and creates nothing
    again = server.cli("account", "create", "partner")
    assert again.returncode == 2 and "already exists" in again.stderr


def test_configure_keeps_other_profiles(server: Server, tmp_path) -> None:
    env = clean_env(tmp_path)
    (tmp_path / "aws-config").write_text("[profile other]\nregion = eu-west-1\n")
    assert server.cli("configure", "--static-keys", "--endpoint", server.endpoint, env=env).returncode == 0
    text = (tmp_path / "aws-config").read_text()
    assert "[profile other]" in text and "[profile skyhold]" in text
    assert oct((tmp_path / "aws-credentials").stat().st_mode & 0o777) == "0o600"
    assert "aws_secret_access_key" in (tmp_path / "aws-credentials").read_text()
    # the default writes no secret: the profile runs `skyhold credentials` instead
    assert server.cli("configure", "--endpoint", server.endpoint, env=env).returncode == 0
    assert "aws_secret_access_key" not in (tmp_path / "aws-credentials").read_text()
    assert "credential_process" in (tmp_path / "aws-config").read_text()
    ident = AwsEnv(env=env, profile="skyhold", endpoint=server.endpoint).aws_json("sts", "get-caller-identity")
    assert ident["Arn"].endswith(":user/admin")


def test_root_user_key_and_identity(server: Server, admin: AwsEnv) -> None:
    out = server.cli("account", "root-key")
    assert out.returncode == 0, out.stderr
    key = re.search(r"access key id:\s+(\S+)", out.stdout).group(1)
    secret = re.search(r"secret access key:\s+(\S+)", out.stdout).group(1)
    ident = _sts(admin, key=key, secret=secret).get_caller_identity()
    assert ident["Arn"] == f"arn:aws:iam::{ident['Account']}:root"
    assert ident["UserId"] == ident["Account"]
    # the root user may do anything in its account, and sees its own keys
    import boto3

    iam = boto3.client("iam", endpoint_url=admin.endpoint, region_name="us-east-1",
                       aws_access_key_id=key, aws_secret_access_key=secret)
    assert [k["AccessKeyId"] for k in iam.list_access_keys()["AccessKeyMetadata"]] == [key]
    iam.update_access_key(AccessKeyId=key, Status="Inactive")
    with pytest.raises(ClientError) as e:
        _sts(admin, key=key, secret=secret).get_caller_identity()
    assert e.value.response["Error"]["Code"] == "InvalidClientTokenId"


def test_admin_profile_is_an_mfa_session_kept_between_commands(server: Server, admin: AwsEnv) -> None:
    """`skyhold credentials` signs in as a careful admin does: GetSessionToken with a
    TOTP code of the admin's own MFA device, so its session may call IAM; the session
    is kept (owner-only) and handed out again, since each code works only once."""
    first = json.loads(server.cli("credentials", "--endpoint", server.endpoint).stdout)
    second = json.loads(server.cli("credentials", "--endpoint", server.endpoint).stdout)
    assert first["AccessKeyId"].startswith("ASIA") and second == first
    account = admin.client("sts").get_caller_identity()["Account"]
    kept = server.data_dir / "cli-sessions" / f"{account}.json"
    assert json.loads(kept.read_text()) == {**first, "SkyholdDurationSeconds": 3600}  # kept with the duration it answers
    assert oct(kept.stat().st_mode & 0o777) == "0o600"
    iam = admin.client("iam")
    devices = iam.list_mfa_devices(UserName="admin")["MFADevices"]
    assert [d["SerialNumber"] for d in devices] == [f"arn:aws:iam::{account}:mfa/admin"]
    # the trail records the admin's calls as made with MFA
    events = admin.client("cloudtrail").lookup_events(
        LookupAttributes=[{"AttributeKey": "AccessKeyId", "AttributeValue": first["AccessKeyId"]}])["Events"]
    assert events
    for event in events:
        identity = json.loads(event["CloudTrailEvent"])["userIdentity"]
        assert identity["sessionContext"]["attributes"]["mfaAuthenticated"] == "true"
