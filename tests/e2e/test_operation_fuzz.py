"""Every operation Skyhold serves, called with random well-typed parameters, never gets
a 5xx (other than 501 for what is not implemented) nor an answer the SDK cannot read.

boto3 serializes the parameters (random_params.py makes them from the operation's
input shape, with client-side validation off), so each request is one a real SDK
could send; what the values hold is anything. Seeds are fixed per operation and
round: a failure reproduces. The server is this module's own, so the resources the
calls create and change touch no other test.
"""

from __future__ import annotations

import json
import os
import random
import re
import zlib
from collections.abc import Iterator
from typing import Any

import boto3
import botocore.exceptions
import pytest
from botocore.config import Config

from skyhold.awscli_plugin import EVENT, drop_account_label
from skyhold.services.registry import load_handlers

from .conftest import Server, free_port
from .random_params import RandomParams

# Calls per operation, and a seed to explore beyond the fixed ones:
# SKYHOLD_FUZZ_SEED=7 SKYHOLD_FUZZ_ROUNDS=200 pytest tests/e2e/test_operation_fuzz.py
ROUNDS = int(os.environ.get("SKYHOLD_FUZZ_ROUNDS", "20"))
SEED = os.environ.get("SKYHOLD_FUZZ_SEED", "")

# Mistakes the SDK catches before sending: not the server's to answer.
_CLIENT_SIDE = (
    botocore.exceptions.ParamValidationError,
    botocore.exceptions.HTTPClientError,  # a header value with a newline
    botocore.exceptions.FlexibleChecksumError,
    botocore.exceptions.MissingDependencyException,
    botocore.exceptions.EndpointResolutionError,  # S3 Control's account id goes into the host name
    TypeError, ValueError, OverflowError,
)
_SERVER_GONE = (botocore.exceptions.EndpointConnectionError, botocore.exceptions.ConnectionClosedError)

TRUST = json.dumps({"Version": "2012-10-17", "Statement": [
    {"Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"}, "Action": "sts:AssumeRole"}]})
POLICY = json.dumps({"Version": "2012-10-17", "Statement": [
    {"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"}]})


@pytest.fixture(scope="module")
def fuzzed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Server, boto3.Session, dict[str, list[Any]]]]:
    srv = Server(tmp_path_factory.mktemp("fuzz") / "data", free_port())
    srv.start()
    key = re.search(r"admin access key id:\s+(\S+)", srv.first_output)
    secret = re.search(r"admin secret access key:\s+(\S+)", srv.first_output)
    assert key and secret
    session = boto3.Session(aws_access_key_id=key.group(1), aws_secret_access_key=secret.group(1),
                            region_name="us-east-1")
    yield srv, session, _seed_resources(srv, session)
    srv.stop()


def _client(srv: Server, session: boto3.Session, service: str) -> Any:
    config = Config(parameter_validation=False, retries={"max_attempts": 1}, s3={"addressing_style": "path"})
    client = session.client(service, endpoint_url=srv.endpoint, config=config)
    if service == "s3control":
        client.meta.events.register(EVENT, drop_account_label)
    return client


def _seed_resources(srv: Server, session: boto3.Session) -> dict[str, list[Any]]:
    """Resources that exist, named in the values the fuzzer tries often."""
    s3, iam, kms = (_client(srv, session, s) for s in ("s3", "iam", "kms"))
    s3.create_bucket(Bucket="fuzz-bucket")
    s3.put_object(Bucket="fuzz-bucket", Key="fuzz-key", Body=b"hello")
    iam.create_user(UserName="fuzz-user")
    role = iam.create_role(RoleName="fuzz-role", AssumeRolePolicyDocument=TRUST)["Role"]["Arn"]
    policy = iam.create_policy(PolicyName="fuzz-policy", PolicyDocument=POLICY)["Policy"]["Arn"]
    key = kms.create_key()["KeyMetadata"]["KeyId"]
    blob = kms.encrypt(KeyId=key, Plaintext=b"secret")["CiphertextBlob"]
    _client(srv, session, "secretsmanager").create_secret(Name="fuzz-secret", SecretString="x")
    _client(srv, session, "ssm").put_parameter(Name="/fuzz/param", Value="v", Type="String")
    account = session.client("sts", endpoint_url=srv.endpoint).get_caller_identity()["Account"]
    return {
        "Bucket": ["fuzz-bucket"], "Key": ["fuzz-key", "a/b", "x" * 1100], "UserName": ["fuzz-user"],
        "RoleName": ["fuzz-role"], "RoleArn": [role], "PolicyArn": [policy, "arn:aws:iam::aws:policy/ReadOnlyAccess"],
        "KeyId": [key, "alias/aws/s3", "alias/none"], "CiphertextBlob": [blob], "SecretId": ["fuzz-secret"],
        "Name": ["/fuzz/param", "fuzz-secret"], "AccountId": [account],
        "PolicyDocument": [POLICY, "{}", "[]", '{"Statement": 5}'], "Policy": [POLICY, "{}", "null"],
        "AssumeRolePolicyDocument": [TRUST, "{}"],
    }


SERVED = {name: sorted(ops) for name, ops in load_handlers().items() if ops}


@pytest.mark.parametrize("service", sorted(SERVED))
def test_no_operation_fails_on_the_server(fuzzed: tuple[Server, boto3.Session, dict[str, list[Any]]],
                                         service: str) -> None:
    srv, session, plausible = fuzzed
    client = _client(srv, session, service)
    model = client.meta.service_model
    failures: list[str] = []
    for op in SERVED[service]:
        if op not in model.operation_names:
            continue  # served outside the model (S3's browser POST)
        shape = model.operation_model(op).input_shape
        call = getattr(client, botocore.xform_name(op))
        for round_ in range(ROUNDS):
            params = RandomParams(random.Random(zlib.crc32(f"{SEED}{service}.{op}.{round_}".encode())),
                                  plausible).value(shape) if shape is not None else {}
            try:
                call(**params)
            except botocore.exceptions.ClientError as err:
                status = err.response["ResponseMetadata"].get("HTTPStatusCode", 0)
                if status >= 500 and status != 501:
                    failures.append(f"{op} {params!r:.300}: {status} {err.response['Error']}")
            except _CLIENT_SIDE:
                pass
            except _SERVER_GONE as err:
                pytest.fail(f"server gone after {op} {params!r:.300}: {err}\n{srv.log()[-3000:]}")
            except Exception as err:  # the answer itself is broken (XML or JSON the SDK cannot parse)
                failures.append(f"{op} {params!r:.300}: {type(err).__name__}: {str(err)[:300]}")
    assert srv.proc is not None and srv.proc.poll() is None, srv.log()[-3000:]
    assert not failures, f"{len(failures)} failures:\n" + "\n".join(failures[:40])
