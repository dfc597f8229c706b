"""Account-level Block Public Access end to end (S3 Control), with boto3 and the aws
CLI: the account's settings win over a bucket whose own Block Public Access is off.

Reaching S3 Control at a local endpoint. botocore's S3 Control endpoint rules put the
account id in front of the host: `--endpoint-url http://127.0.0.1:PORT` becomes
`http://123456789012.127.0.0.1:PORT/v20180820/...`, which resolves nowhere.
`Config(inject_host_prefix=False)` does not help (the prefix comes from the endpoint
ruleset, not the model's hostPrefix), nor does the environment setting
AWS_DISABLE_HOST_PREFIX_INJECTION, and `123456789012.localhost` resolves only where the
system resolver maps *.localhost to loopback (systemd-resolved; not glibc alone, as on
this machine). What works: a `before-sign.s3-control` handler that drops the account
label again before signing, `skyhold.awscli_plugin.drop_account_label` — registered on
a boto3 client, or loaded by the AWS CLI (v1) from the `[plugins]` section of its
config file. The account still travels in x-amz-account-id, which is what Skyhold
reads; Skyhold accepts the prefixed Host too (test at the end).

Each test works in an account of its own: account settings would otherwise reach the
buckets of every other test.
"""

from __future__ import annotations

import http.client
import json
import re
import urllib.error
import urllib.request
import uuid
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from botocore.auth import S3SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.exceptions import ClientError, EndpointConnectionError

from skyhold.awscli_plugin import EVENT, drop_account_label

from .conftest import AwsEnv, Server, clean_env

OFF = {"BlockPublicAcls": False, "IgnorePublicAcls": False, "BlockPublicPolicy": False,
       "RestrictPublicBuckets": False}


@pytest.fixture
def tenant(server: Server, tmp_path: Path) -> tuple[AwsEnv, str]:
    """A fresh account's admin profile, with the AWS CLI plugin, and the account id."""
    name = f"bpa-{uuid.uuid4().hex[:8]}"
    out = server.cli("account", "create", name)
    assert out.returncode == 0, out.stderr
    account = re.search(r"Created account (\d{12})", out.stdout).group(1)
    env = clean_env(tmp_path)
    out = server.cli("configure", "--profile", "tenant", "--account", name, "--endpoint", server.endpoint, env=env)
    assert out.returncode == 0, out.stderr
    with open(env["AWS_CONFIG_FILE"], "a") as config:
        config.write("\n[plugins]\nskyhold = skyhold.awscli_plugin\n")
    return AwsEnv(env=env, profile="tenant", endpoint=server.endpoint), account


def _s3control(env: AwsEnv) -> object:
    client = env.client("s3control", region_name="us-east-1")
    client.meta.events.register(EVENT, drop_account_label)
    return client


def _open_bucket(env: AwsEnv) -> str:
    """A bucket whose own Block Public Access is off, holding doc.txt."""
    s3 = env.client("s3", region_name="us-east-1")
    name = f"bpa-{uuid.uuid4().hex[:12]}"
    s3.create_bucket(Bucket=name)
    s3.delete_public_access_block(Bucket=name)
    s3.put_object(Bucket=name, Key="doc.txt", Body=b"hello")
    return name


def _public_policy(bucket: str) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow", "Principal": "*", "Action": "s3:GetObject", "Resource": f"arn:aws:s3:::{bucket}/*"}]})


def _anonymous_get(endpoint: str, bucket: str) -> int:
    try:
        with urllib.request.urlopen(f"{endpoint}/{bucket}/doc.txt") as response:
            assert response.read() == b"hello"
            return response.status
    except urllib.error.HTTPError as err:
        assert b"<Code>AccessDenied</Code>" in err.read()
        return err.code


def test_account_block_public_policy_with_boto3(tenant: tuple[AwsEnv, str]) -> None:
    env, account = tenant
    s3, control = env.client("s3", region_name="us-east-1"), _s3control(env)
    bucket = _open_bucket(env)
    with pytest.raises(ClientError) as e:
        control.get_public_access_block(AccountId=account)
    assert e.value.response["Error"]["Code"] == "NoSuchPublicAccessBlockConfiguration"
    control.put_public_access_block(AccountId=account, PublicAccessBlockConfiguration={
        **OFF, "BlockPublicPolicy": True})
    assert control.get_public_access_block(AccountId=account)["PublicAccessBlockConfiguration"] == \
        {**OFF, "BlockPublicPolicy": True}
    with pytest.raises(ClientError) as e:
        s3.get_public_access_block(Bucket=bucket)  # the bucket's own setting stays off
    assert e.value.response["Error"]["Code"] == "NoSuchPublicAccessBlockConfiguration"

    with pytest.raises(ClientError) as e:
        s3.put_bucket_policy(Bucket=bucket, Policy=_public_policy(bucket))
    assert e.value.response["Error"]["Code"] == "AccessDenied"
    assert "BlockPublicPolicy" in e.value.response["Error"]["Message"]
    assert _anonymous_get(env.endpoint, bucket) == 403

    control.delete_public_access_block(AccountId=account)
    s3.put_bucket_policy(Bucket=bucket, Policy=_public_policy(bucket))
    assert _anonymous_get(env.endpoint, bucket) == 200


def test_account_settings_with_the_aws_cli(tenant: tuple[AwsEnv, str]) -> None:
    env, account = tenant
    bucket = _open_bucket(env)
    assert env.aws("s3api", "put-bucket-policy", "--bucket", bucket, "--policy", _public_policy(bucket)).returncode == 0
    assert _anonymous_get(env.endpoint, bucket) == 200

    def put(**settings: bool) -> None:
        config = ",".join(f"{k}={str(v).lower()}" for k, v in {**OFF, **settings}.items())
        out = env.aws("s3control", "put-public-access-block", "--account-id", account,
                      "--public-access-block-configuration", config)
        assert out.returncode == 0, out.stderr

    # RestrictPublicBuckets: the public policy that is already there grants anonymous nothing
    put(RestrictPublicBuckets=True)
    shown = env.aws_json("s3control", "get-public-access-block", "--account-id", account)
    assert shown["PublicAccessBlockConfiguration"] == {**OFF, "RestrictPublicBuckets": True}
    assert _anonymous_get(env.endpoint, bucket) == 403
    status = env.aws_json("s3api", "get-bucket-policy-status", "--bucket", bucket)
    assert status["PolicyStatus"]["IsPublic"] is True  # still public: just not honoured
    owner = env.aws("s3api", "get-object", "--bucket", bucket, "--key", "doc.txt", "/dev/null")
    assert owner.returncode == 0, owner.stderr  # the account's own callers are not outsiders

    # BlockPublicPolicy: a public policy is refused although the bucket's setting is off
    put(BlockPublicPolicy=True)
    refused = env.aws("s3api", "put-bucket-policy", "--bucket", bucket, "--policy", _public_policy(bucket))
    assert "(AccessDenied)" in refused.stderr and "BlockPublicPolicy" in refused.stderr

    assert env.aws("s3control", "delete-public-access-block", "--account-id", account).returncode == 0
    assert _anonymous_get(env.endpoint, bucket) == 200
    gone = env.aws("s3control", "get-public-access-block", "--account-id", account)
    assert "(NoSuchPublicAccessBlockConfiguration)" in gone.stderr


def test_the_server_accepts_the_account_prefixed_host_and_the_plain_one(tenant: tuple[AwsEnv, str]) -> None:
    env, account = tenant
    control = _s3control(env)
    control.put_public_access_block(AccountId=account, PublicAccessBlockConfiguration={
        **OFF, "IgnorePublicAcls": True})  # through the plain host

    # What botocore builds on its own: the account label in front of the endpoint's host.
    bare = env.client("s3control", region_name="us-east-1")
    with pytest.raises(EndpointConnectionError) as e:
        bare.get_public_access_block(AccountId=account)
    prefixed = f"{account}.{urlsplit(env.endpoint).netloc}"
    assert prefixed in str(e.value)

    # The same request, signed for the prefixed host, sent to where that name would resolve.
    request = AWSRequest(method="GET", url=f"http://{prefixed}/v20180820/configuration/publicAccessBlock",
                         headers={"x-amz-account-id": account})
    S3SigV4Auth(env.credentials(), "s3", "us-east-1").add_auth(request)
    address = urlsplit(env.endpoint)
    conn = http.client.HTTPConnection(address.hostname, address.port, timeout=10)
    try:
        conn.request("GET", "/v20180820/configuration/publicAccessBlock",
                     headers={**{k: v for k, v in request.headers.items()}, "Host": prefixed})
        response = conn.getresponse()
        body = response.read()
    finally:
        conn.close()
    assert response.status == 200, body
    assert b"<IgnorePublicAcls>true</IgnorePublicAcls>" in body
    assert b"<BlockPublicPolicy>false</BlockPublicPolicy>" in body
