"""Secrets Manager: the course's "never hardcode a database password" lab."""

from __future__ import annotations

import json
import subprocess
import sys
import uuid

import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from .conftest import AwsEnv, Server, clean_env

# The course's script, unchanged but for where it finds its credentials.
COURSE_SCRIPT = '''
import boto3
client = boto3.client("secretsmanager", region_name="us-east-1")
response = client.get_secret_value(SecretId="prod-db-password")
print(response["SecretString"])
'''


def _user_env(admin: AwsEnv, tmp_path, policy: dict) -> dict:
    iam = admin.client("iam")
    name = f"app-{uuid.uuid4().hex[:6]}"
    iam.create_user(UserName=name)
    iam.put_user_policy(UserName=name, PolicyName="p", PolicyDocument=json.dumps(policy))
    key = iam.create_access_key(UserName=name)["AccessKey"]
    env = clean_env(tmp_path)
    env.update({"AWS_ACCESS_KEY_ID": key["AccessKeyId"], "AWS_SECRET_ACCESS_KEY": key["SecretAccessKey"],
                "AWS_ENDPOINT_URL": admin.endpoint})
    return {"env": env, "name": name}


def _run(env: dict) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-c", COURSE_SCRIPT], capture_output=True, text=True, env=env, timeout=60)


def test_course_script_needs_secret_and_key_permissions(admin: AwsEnv, server: Server, tmp_path) -> None:
    kms = admin.client("kms")
    key = kms.create_key(Description="db secrets")["KeyMetadata"]
    sm = admin.client("secretsmanager")
    try:
        sm.delete_secret(SecretId="prod-db-password", ForceDeleteWithoutRecovery=True)
    except ClientError:
        pass
    sm.create_secret(Name="prod-db-password", SecretString="s3cr3t-db-pass!", KmsKeyId=key["Arn"])
    stored = b"".join(p.read_bytes() for p in server.data_dir.glob("*.db*"))
    assert b"s3cr3t-db-pass!" not in stored

    read_only = _user_env(admin, tmp_path, {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": "secretsmanager:GetSecretValue", "Resource": "*"}]})
    out = _run(read_only["env"])
    # Secrets Manager's own wording for a KMS denial
    assert out.returncode != 0 and "AccessDeniedException" in out.stderr
    assert "Access to KMS is not allowed" in out.stderr
    admin.client("iam").put_user_policy(UserName=read_only["name"], PolicyName="kms", PolicyDocument=json.dumps({
        "Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "kms:Decrypt", "Resource": key["Arn"]}]}))
    out = _run(read_only["env"])
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "s3cr3t-db-pass!"


def test_versions_and_staging_labels(admin: AwsEnv) -> None:
    sm = admin.client("secretsmanager")
    name = f"app/{uuid.uuid4().hex[:6]}"
    first = sm.create_secret(Name=name, SecretString="v1")
    second = sm.put_secret_value(SecretId=name, SecretString="v2")
    assert sm.get_secret_value(SecretId=name)["SecretString"] == "v2"
    assert sm.get_secret_value(SecretId=name, VersionStage="AWSPREVIOUS")["SecretString"] == "v1"
    stages = sm.describe_secret(SecretId=name)["VersionIdsToStages"]
    assert stages == {first["VersionId"]: ["AWSPREVIOUS"], second["VersionId"]: ["AWSCURRENT"]}
    pending = sm.put_secret_value(SecretId=name, SecretString="v3", VersionStages=["AWSPENDING"])
    assert sm.get_secret_value(SecretId=name)["SecretString"] == "v2"
    sm.update_secret_version_stage(SecretId=name, VersionStage="AWSCURRENT", MoveToVersionId=pending["VersionId"],
                                   RemoveFromVersionId=second["VersionId"])
    assert sm.get_secret_value(SecretId=name)["SecretString"] == "v3"
    assert sm.get_secret_value(SecretId=name, VersionStage="AWSPREVIOUS")["SecretString"] == "v2"


def test_delete_restore_and_errors(admin: AwsEnv) -> None:
    sm = admin.client("secretsmanager")
    name = f"tmp/{uuid.uuid4().hex[:6]}"
    sm.create_secret(Name=name, SecretString="x")
    with pytest.raises(ClientError) as e:
        sm.create_secret(Name=name, SecretString="x")
    assert e.value.response["Error"]["Code"] == "ResourceExistsException"
    sm.delete_secret(SecretId=name, RecoveryWindowInDays=7)
    with pytest.raises(ClientError) as e:
        sm.get_secret_value(SecretId=name)
    assert e.value.response["Error"]["Code"] == "InvalidRequestException"
    sm.restore_secret(SecretId=name)
    assert sm.get_secret_value(SecretId=name)["SecretString"] == "x"
    with pytest.raises(ClientError) as e:
        sm.get_secret_value(SecretId="does/not/exist")
    assert e.value.response["Error"]["Code"] == "ResourceNotFoundException"
    password = sm.get_random_password(PasswordLength=20, ExcludePunctuation=True)["RandomPassword"]
    assert len(password) == 20 and password.isalnum()


def test_resource_policy_grants_and_blocks_public(admin: AwsEnv) -> None:
    sm = admin.client("secretsmanager")
    name = f"shared/{uuid.uuid4().hex[:6]}"
    sm.create_secret(Name=name, SecretString="x")
    public = json.dumps({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Principal": "*", "Action": "secretsmanager:GetSecretValue", "Resource": "*"}]})
    with pytest.raises(ClientError) as e:
        sm.put_resource_policy(SecretId=name, ResourcePolicy=public, BlockPublicPolicy=True)
    assert e.value.response["Error"]["Code"] == "PublicPolicyException"
    assert "ResourcePolicy" not in sm.get_resource_policy(SecretId=name)


ROTATION_FUNCTION = r'''
import json, os, sys, boto3
event = json.loads(sys.stdin.read())
sm = boto3.client("secretsmanager")
arn, token, step = event["SecretId"], event["ClientRequestToken"], event["Step"]
db = os.environ["FAKE_DB"]
if step == "createSecret":
    password = sm.get_random_password(PasswordLength=24, ExcludePunctuation=True)["RandomPassword"]
    sm.put_secret_value(SecretId=arn, ClientRequestToken=token, SecretString=password, VersionStages=["AWSPENDING"])
elif step == "setSecret":
    pending = sm.get_secret_value(SecretId=arn, VersionId=token, VersionStage="AWSPENDING")["SecretString"]
    open(db, "w").write(pending)
elif step == "testSecret":
    pending = sm.get_secret_value(SecretId=arn, VersionId=token, VersionStage="AWSPENDING")["SecretString"]
    assert open(db).read() == pending
elif step == "finishSecret":
    current = [v for v, s in sm.describe_secret(SecretId=arn)["VersionIdsToStages"].items() if "AWSCURRENT" in s][0]
    sm.update_secret_version_stage(SecretId=arn, VersionStage="AWSCURRENT", MoveToVersionId=token,
                                   RemoveFromVersionId=current)
'''


def test_rotation_runs_the_four_steps_and_follows_the_clock(tmp_path) -> None:
    import os
    import time

    from .conftest import VENV_BIN, free_port, static_admin

    srv = Server(tmp_path / "data", free_port())
    fake_db = tmp_path / "db-password"
    srv.env = {"FAKE_DB": str(fake_db)}
    srv.start()
    try:
        admin = static_admin(srv, tmp_path)
        iam = admin.client("iam")
        role = iam.create_role(RoleName="rotator", AssumeRolePolicyDocument=json.dumps({
            "Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"},
                                                    "Action": "sts:AssumeRole"}]}))["Role"]
        iam.put_role_policy(RoleName="rotator", PolicyName="rotate", PolicyDocument=json.dumps({
            "Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "secretsmanager:*", "Resource": "*"}]}))
        script = tmp_path / "rotate.py"
        script.write_text(ROTATION_FUNCTION)
        reg = subprocess.run([str(VENV_BIN / "skyhold"), "rotation", "register", "--data-dir", str(srv.data_dir),
                              "--role-arn", role["Arn"], "db-rotator", "--", sys.executable, str(script)],
                             capture_output=True, text=True, env={**os.environ, **admin.env})
        assert reg.returncode == 0, reg.stderr
        function_arn = reg.stdout.strip()
        sm = admin.client("secretsmanager")
        sm.create_secret(Name="prod-db-password", SecretString="initial")
        sm.rotate_secret(SecretId="prod-db-password", RotationLambdaARN=function_arn,
                         RotationRules={"AutomaticallyAfterDays": 30})

        def current() -> str:
            return sm.get_secret_value(SecretId="prod-db-password")["SecretString"]

        def wait_for_change(old: str) -> str:
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline:
                if current() != old:
                    return current()
                time.sleep(0.3)
            raise AssertionError("rotation did not complete")

        first = wait_for_change("initial")
        assert fake_db.read_text() == first  # setSecret ran with the pending value
        assert sm.get_secret_value(SecretId="prod-db-password", VersionStage="AWSPREVIOUS")["SecretString"] == "initial"
        described = sm.describe_secret(SecretId="prod-db-password")
        assert described["RotationEnabled"] and described["RotationRules"]["AutomaticallyAfterDays"] == 30
        assert srv.cli("clock", "advance", "31d", "--endpoint", srv.endpoint).returncode == 0
        second = wait_for_change(first)
        assert fake_db.read_text() == second
    finally:
        srv.stop()


def test_course_script_as_a_role(admin: AwsEnv, server: Server, tmp_path) -> None:
    """The course's version: a role that may read the secret but not decrypt with its
    customer managed key is refused; with both it gets the value."""
    iam, sts = admin.client("iam"), admin.client("sts")
    account = sts.get_caller_identity()["Account"]
    key_arn = admin.client("kms").create_key()["KeyMetadata"]["Arn"]
    name = f"app-secret-{uuid.uuid4().hex[:6]}"
    admin.client("secretsmanager").create_secret(Name=name, SecretString="role-read-me", KmsKeyId=key_arn)
    role = f"app-role-{uuid.uuid4().hex[:6]}"
    iam.create_role(RoleName=role, AssumeRolePolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{account}:root"}, "Action": "sts:AssumeRole"}]}))
    iam.put_role_policy(RoleName=role, PolicyName="read", PolicyDocument=json.dumps({"Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": "secretsmanager:GetSecretValue", "Resource": "*"}]}))
    script = COURSE_SCRIPT.replace("prod-db-password", name)

    def run_as_role() -> subprocess.CompletedProcess[str]:
        creds = sts.assume_role(RoleArn=f"arn:aws:iam::{account}:role/{role}", RoleSessionName="app")["Credentials"]
        env = clean_env(tmp_path)
        env.update({"AWS_ACCESS_KEY_ID": creds["AccessKeyId"], "AWS_SECRET_ACCESS_KEY": creds["SecretAccessKey"],
                    "AWS_SESSION_TOKEN": creds["SessionToken"], "AWS_ENDPOINT_URL": admin.endpoint})
        return subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=env, timeout=60)

    denied = run_as_role()
    assert denied.returncode != 0 and "Access to KMS is not allowed" in denied.stderr
    iam.put_role_policy(RoleName=role, PolicyName="decrypt", PolicyDocument=json.dumps({"Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": "kms:Decrypt", "Resource": key_arn}]}))
    allowed = run_as_role()
    assert allowed.returncode == 0, allowed.stderr
    assert allowed.stdout.strip() == "role-read-me"


def _error(exc: pytest.ExceptionInfo[ClientError]) -> tuple[int, str, str]:
    response = exc.value.response
    return response["ResponseMetadata"]["HTTPStatusCode"], response["Error"]["Code"], response["Error"]["Message"]


def _unvalidated(admin: AwsEnv) -> object:
    """A client that sends what it is given: boto3 would refuse bad lengths itself."""
    return admin.session().client("secretsmanager", config=Config(parameter_validation=False,
                                                                  retries={"max_attempts": 1}))


def test_put_resource_policy_refuses_a_malformed_policy_with_the_modelled_code(admin: AwsEnv) -> None:
    sm = admin.client("secretsmanager")
    name = f"policy/{uuid.uuid4().hex[:6]}"
    sm.create_secret(Name=name, SecretString="x")
    # the SDK maps the error to its modelled exception class only for the modelled code
    with pytest.raises(sm.exceptions.MalformedPolicyDocumentException) as e:
        sm.put_resource_policy(SecretId=name, ResourcePolicy="{bad")
    assert _error(e) == (400, "MalformedPolicyDocumentException", "This policy has invalid syntax.")
    assert "ResourcePolicy" not in sm.get_resource_policy(SecretId=name)


def test_create_secret_checks_the_name_and_lengths(admin: AwsEnv) -> None:
    sm = _unvalidated(admin)
    prefix = uuid.uuid4().hex[:6]
    refused = [
        ({"Name": f"{prefix} bad name!"}, "Invalid name. Must be a valid name containing alphanumeric characters, "
         "or any of the following: -/_+=.@!"),
        ({"Name": prefix + "a" * 507}, "1 validation error detected: Value at 'name' failed to satisfy constraint: "
         "Member must have length less than or equal to 512"),
        ({"Name": prefix, "Description": "d" * 2049}, "1 validation error detected: Value at 'description' failed "
         "to satisfy constraint: Member must have length less than or equal to 2048"),
        ({"Name": prefix, "ClientRequestToken": "t" * 31}, "1 validation error detected: Value at "
         "'clientRequestToken' failed to satisfy constraint: Member must have length greater than or equal to 32"),
    ]
    for params, message in refused:
        with pytest.raises(ClientError) as e:
            sm.create_secret(SecretString="x", **params)
        assert _error(e) == (400, "ValidationException", message)
        with pytest.raises(ClientError) as e:
            sm.describe_secret(SecretId=params["Name"])
        assert e.value.response["Error"]["Code"] in ("ResourceNotFoundException", "ValidationException")
    longest = prefix + "/_+=.@-" + "a" * 499  # 512 characters, every allowed punctuation mark
    assert sm.create_secret(Name=longest, SecretString="x", Description="d" * 2048)["Name"] == longest


def test_client_request_token_makes_retries_idempotent(admin: AwsEnv) -> None:
    sm = _unvalidated(admin)
    name = f"retry/{uuid.uuid4().hex[:6]}"
    token = str(uuid.uuid4())
    created = sm.create_secret(Name=name, SecretString="v1", ClientRequestToken=token)
    created.pop("ResponseMetadata")
    again = sm.create_secret(Name=name, SecretString="v1", ClientRequestToken=token)
    again.pop("ResponseMetadata")
    assert again == created == {"ARN": created["ARN"], "Name": name, "VersionId": token}
    in_use = (f"You can't use ClientRequestToken {token} because that value is already in use for a version of "
              f"secret {created['ARN']}.")
    with pytest.raises(ClientError) as e:
        sm.create_secret(Name=name, SecretString="other", ClientRequestToken=token)
    assert _error(e) == (400, "ResourceExistsException", in_use)

    put = sm.put_secret_value(SecretId=name, SecretString="v1", ClientRequestToken=token)
    assert (put["VersionId"], put["VersionStages"]) == (token, ["AWSCURRENT"])
    with pytest.raises(ClientError) as e:
        sm.put_secret_value(SecretId=name, SecretString="v2", ClientRequestToken=token)
    assert _error(e) == (400, "ResourceExistsException", in_use)
    for bad, rule in (("t" * 31, "greater than or equal to 32"), ("t" * 65, "less than or equal to 64")):
        with pytest.raises(ClientError) as e:
            sm.put_secret_value(SecretId=name, SecretString="v2", ClientRequestToken=bad)
        assert _error(e) == (400, "ValidationException", "1 validation error detected: Value at "
                             f"'clientRequestToken' failed to satisfy constraint: Member must have length {rule}")
    versions = sm.list_secret_version_ids(SecretId=name)["Versions"]
    assert [(v["VersionId"], v["VersionStages"]) for v in versions] == [(token, ["AWSCURRENT"])]
    assert sm.get_secret_value(SecretId=name)["SecretString"] == "v1"


def test_update_secret_version_stage_never_strands_awscurrent(admin: AwsEnv) -> None:
    sm = admin.client("secretsmanager")
    name = f"stages/{uuid.uuid4().hex[:6]}"
    old = sm.create_secret(Name=name, SecretString="v1")["VersionId"]
    new = sm.put_secret_value(SecretId=name, SecretString="v2")["VersionId"]
    sm.update_secret_version_stage(SecretId=name, VersionStage="CUSTOM", MoveToVersionId=new)
    before = {old: ["AWSPREVIOUS"], new: ["AWSCURRENT", "CUSTOM"]}
    not_holder = ("When you move staging label {0}, if you specify RemoveFromVersionId, it must be set to the "
                  "version that currently has the staging label {0}.")
    refused = [
        ({"VersionStage": "AWSCURRENT", "RemoveFromVersionId": new},
         "You can't remove AWSCURRENT from a version without moving it to another version."),
        ({"VersionStage": "AWSCURRENT", "MoveToVersionId": old, "RemoveFromVersionId": old},
         not_holder.format("AWSCURRENT")),
        ({"VersionStage": "CUSTOM", "RemoveFromVersionId": old}, not_holder.format("CUSTOM")),
        ({"VersionStage": "AWSCURRENT", "MoveToVersionId": old},
         f"The parameter RemoveFromVersionId can't be empty. Staging label AWSCURRENT is currently attached to "
         f"version {new}, so you must explicitly reference that version in RemoveFromVersionId."),
    ]
    for params, message in refused:
        with pytest.raises(ClientError) as e:
            sm.update_secret_version_stage(SecretId=name, **params)
        assert _error(e) == (400, "InvalidParameterException", message)
        assert sm.describe_secret(SecretId=name)["VersionIdsToStages"] == before
    sm.update_secret_version_stage(SecretId=name, VersionStage="AWSCURRENT", MoveToVersionId=old,
                                   RemoveFromVersionId=new)
    assert sm.describe_secret(SecretId=name)["VersionIdsToStages"] == {old: ["AWSCURRENT"],
                                                                        new: ["CUSTOM", "AWSPREVIOUS"]}
    assert sm.get_secret_value(SecretId=name)["SecretString"] == "v1"
