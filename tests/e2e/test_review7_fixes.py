"""Five holes a security review reproduced, each refused (or allowed) as AWS does:
another account's rotation function, another account decoding an encoded
authorization message, ListParts on an SSE-KMS upload without kms:Decrypt, the key
policy lockout check ignoring the key's own context, and an over-long VersionStage."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import pytest

from .conftest import VENV_BIN, AwsEnv, Server, aws_error, new_account, new_bucket

CANNOT_INVOKE = ("Secrets Manager cannot invoke the specified Lambda function. Ensure that the function policy "
                 "grants access to the principal secretsmanager.amazonaws.com.")
NOT_A_MESSAGE = "The error message provided in the request is not a valid encoded authorization message."
LOCKOUT = "The new key policy will not allow you to update the key policy in the future."


def _allow(*statements: dict[str, Any]) -> dict[str, Any]:
    return {"Version": "2012-10-17", "Statement": list(statements)}


# --- 1. another account's rotation function ------------------------------------------


# The function runs as a child of the server: the path it notes its steps in is
# written into the script itself.
ROTATION_MARKER = """
import sys
open({marker!r}, "a").write(sys.stdin.read() + "\\n")
"""


@pytest.fixture(scope="module")
def other_account(server: Server, tmp_path_factory: pytest.TempPathFactory) -> tuple[AwsEnv, str]:
    return new_account(server, tmp_path_factory.mktemp("r7-other"), "r7other")


def _register_function(server: Server, env: AwsEnv, account: str, tmp: Path, marker: Path) -> str:
    """A rotation function of `account` (running as a role of its own) that notes each
    step it runs in `marker`: its ARN."""
    iam = env.client("iam")
    role = iam.create_role(RoleName=f"r7-rot-{uuid.uuid4().hex[:6]}", AssumeRolePolicyDocument=json.dumps(_allow(
        {"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"})))["Role"]
    script = tmp / "rotate.py"
    script.write_text(ROTATION_MARKER.format(marker=str(marker)))
    reg = subprocess.run([str(VENV_BIN / "skyhold"), "rotation", "register", "--data-dir", str(server.data_dir),
                          "--account", account, "--role-arn", role["Arn"], f"r7-fn-{uuid.uuid4().hex[:6]}", "--",
                          sys.executable, str(script)],
                         capture_output=True, text=True, env={**os.environ, **env.env})
    assert reg.returncode == 0, reg.stderr
    return reg.stdout.strip()


def _wait_for(path: Path, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if path.exists():
            return True
        time.sleep(0.2)
    return False


def test_secret_cannot_rotate_with_another_accounts_function(
        admin: AwsEnv, server: Server, other_account: tuple[AwsEnv, str], tmp_path: Path) -> None:
    other, other_id = other_account
    marker = tmp_path / "ran"  # written only if the function runs (see the control below)
    function = _register_function(server, other, other_id, tmp_path, marker)
    assert f":{other_id}:function:" in function

    sm = admin.client("secretsmanager")
    name = f"r7-a-secret-{uuid.uuid4().hex[:6]}"
    arn = sm.create_secret(Name=name, SecretString="v1")["ARN"]
    assert arn.split(":")[4] != other_id

    # The account's admin, and a user allowed RotateSecret and any lambda:InvokeFunction.
    assert aws_error(lambda: sm.rotate_secret(SecretId=arn, RotationLambdaARN=function)) == (
        "AccessDeniedException", CANNOT_INVOKE, 400)
    key = admin.new_user(_allow({"Effect": "Allow", "Action": ["secretsmanager:RotateSecret",
                                                                "lambda:InvokeFunction"], "Resource": "*"}))
    user_sm = admin.client_for(key, "secretsmanager")
    assert aws_error(lambda: user_sm.rotate_secret(SecretId=arn, RotationLambdaARN=function)) == (
        "AccessDeniedException", CANNOT_INVOKE, 400)
    described = sm.describe_secret(SecretId=arn)
    assert "RotationLambdaARN" not in described and "RotationEnabled" not in described
    assert not _wait_for(marker, 3)
    assert sm.get_secret_value(SecretId=arn)["SecretString"] == "v1"


def test_rotation_function_of_the_secrets_own_account_still_runs(
        server: Server, other_account: tuple[AwsEnv, str], tmp_path: Path) -> None:
    """The control: the same kind of function does run for a secret of its own account
    (so the refusal above is not a function that could not have run anyway)."""
    other, other_id = other_account
    marker = tmp_path / "ran"
    function = _register_function(server, other, other_id, tmp_path, marker)
    sm = other.client("secretsmanager")
    arn = sm.create_secret(Name=f"r7-b-secret-{uuid.uuid4().hex[:6]}", SecretString="v1")["ARN"]
    sm.rotate_secret(SecretId=arn, RotationLambdaARN=function)
    assert sm.describe_secret(SecretId=arn)["RotationLambdaARN"] == function
    assert _wait_for(marker, 20)
    assert json.loads(marker.read_text().splitlines()[0])["SecretId"] == arn


# --- 2. another account decoding an encoded authorization message -----------------------


def _decoder(env: AwsEnv) -> Any:
    # STS refuses the admin profile's session credentials: a user of the account decodes.
    key = env.new_user(_allow({"Effect": "Allow", "Action": "sts:DecodeAuthorizationMessage", "Resource": "*"}))
    return env.client_for(key, "sts")


def test_encoded_authorization_message_opens_only_in_its_own_account(
        admin: AwsEnv, other_account: tuple[AwsEnv, str]) -> None:
    other, _ = other_account
    sid = f"SecretProject{uuid.uuid4().hex[:8]}Deny"
    low = admin.new_user(_allow({"Sid": sid, "Effect": "Deny", "Action": "ec2:CreateKeyPair", "Resource": "*"}))
    code, message, status = aws_error(lambda: admin.client_for(low, "ec2").create_key_pair(KeyName="r7-x"))
    assert (code, status) == ("UnauthorizedOperation", 403)
    encoded = message.split("Encoded authorization failure message: ")[1]

    # Another account's decoder learns nothing: the answer for a message that does not open.
    assert aws_error(lambda: _decoder(other).decode_authorization_message(EncodedMessage=encoded)) == (
        "InvalidAuthorizationMessageException", NOT_A_MESSAGE, 400)
    # The denied principal's own account still decodes it.
    decoded = json.loads(_decoder(admin).decode_authorization_message(EncodedMessage=encoded)["DecodedMessage"])
    assert decoded["explicitDeny"] is True
    assert [s["statementId"] for s in decoded["matchedStatements"]["items"]] == [sid]


# --- 3. ListParts on an SSE-KMS upload needs kms:Decrypt -------------------------------


def test_list_parts_of_sse_kms_upload_needs_kms_decrypt(admin: AwsEnv) -> None:
    s3 = admin.client("s3", region_name="us-east-1")
    bucket = new_bucket(s3, "r7-mpu")
    key_arn = admin.client("kms").create_key(Description="r7 mpu")["KeyMetadata"]["Arn"]
    s3_parts = {"Effect": "Allow", "Action": ["s3:PutObject", "s3:ListMultipartUploadParts"],
                "Resource": f"arn:aws:s3:::{bucket}/*"}
    # kms:Decrypt only under the object's encryption context, as S3 would ask KMS.
    uploader = admin.client_for(admin.new_user(_allow(
        s3_parts, {"Effect": "Allow", "Action": "kms:GenerateDataKey", "Resource": key_arn},
        {"Effect": "Allow", "Action": "kms:Decrypt", "Resource": key_arn, "Condition": {"StringEquals": {
            "kms:EncryptionContext:aws:s3:arn": f"arn:aws:s3:::{bucket}/big",
            "kms:ViaService": "s3.us-east-1.amazonaws.com"}}})), "s3")
    lister = admin.client_for(admin.new_user(_allow(s3_parts)), "s3")

    upload = uploader.create_multipart_upload(Bucket=bucket, Key="big", ServerSideEncryption="aws:kms",
                                              SSEKMSKeyId=key_arn)["UploadId"]
    uploader.upload_part(Bucket=bucket, Key="big", UploadId=upload, PartNumber=1, Body=b"a" * 10)
    assert [p["PartNumber"] for p in uploader.list_parts(Bucket=bucket, Key="big", UploadId=upload)["Parts"]] == [1]

    code, message, status = aws_error(lambda: lister.list_parts(Bucket=bucket, Key="big", UploadId=upload))
    assert (code, status) == ("AccessDenied", 403)
    assert "kms:Decrypt" in message and key_arn in message

    # An upload without SSE-KMS needs no KMS permission to list.
    plain = uploader.create_multipart_upload(Bucket=bucket, Key="plain")["UploadId"]
    uploader.upload_part(Bucket=bucket, Key="plain", UploadId=plain, PartNumber=1, Body=b"b")
    assert len(lister.list_parts(Bucket=bucket, Key="plain", UploadId=plain)["Parts"]) == 1


# --- 4. the key policy lockout check sees the key's own context --------------------------


def _admin_policy(caller: str, condition: dict[str, Any] | None = None, action: str = "kms:*") -> str:
    statement: dict[str, Any] = {"Effect": "Allow", "Principal": {"AWS": caller}, "Action": action, "Resource": "*"}
    if condition:
        statement["Condition"] = condition
    return json.dumps(_allow(statement))


def test_lockout_check_judges_the_later_put_key_policy_with_the_keys_context(admin: AwsEnv) -> None:
    kms = admin.client("kms")
    caller = admin.client("sts").get_caller_identity()["Arn"]
    key = kms.create_key(Description="r7 lockout")["KeyMetadata"]["KeyId"]
    alias = f"alias/r7-{uuid.uuid4().hex[:8]}"
    kms.create_alias(AliasName=alias, TargetKeyId=key)
    kms.tag_resource(KeyId=key, Tags=[{"TagKey": "team", "TagValue": "sec"}])

    for condition in ({"StringEquals": {"kms:KeySpec": "SYMMETRIC_DEFAULT"}},
                      {"StringEquals": {"kms:KeyUsage": "ENCRYPT_DECRYPT"}},
                      {"StringEquals": {"aws:ResourceTag/team": "sec"}},
                      {"ForAnyValue:StringEquals": {"kms:ResourceAliases": alias}},
                      {"Bool": {"kms:BypassPolicyLockoutSafetyCheck": "false"}}):
        policy = _admin_policy(caller, condition)
        kms.put_key_policy(KeyId=key, PolicyName="default", Policy=policy)
        # ... and indeed the caller may still change it, safety check on.
        kms.put_key_policy(KeyId=key, PolicyName="default", Policy=policy)

    # Policies that truly lock the caller out are still refused.
    for policy in (_admin_policy(caller, action="kms:Encrypt"),
                   _admin_policy(caller, {"StringEquals": {"kms:KeySpec": "RSA_2048"}}),
                   _admin_policy(caller, {"StringEquals": {"aws:ResourceTag/team": "other"}}),
                   _admin_policy(caller, {"Bool": {"kms:BypassPolicyLockoutSafetyCheck": "true"}})):
        assert aws_error(lambda: kms.put_key_policy(KeyId=key, PolicyName="default", Policy=policy)) == (
            "MalformedPolicyDocumentException", LOCKOUT, 400)


def test_lockout_check_on_create_key_judges_the_key_about_to_be_created(admin: AwsEnv) -> None:
    kms = admin.client("kms")
    caller = admin.client("sts").get_caller_identity()["Arn"]
    spec = {"StringEquals": {"kms:KeySpec": "SYMMETRIC_DEFAULT"}}
    created = kms.create_key(Policy=_admin_policy(caller, spec))["KeyMetadata"]["KeyId"]
    kms.put_key_policy(KeyId=created, PolicyName="default", Policy=_admin_policy(caller, spec))
    tagged = kms.create_key(Policy=_admin_policy(caller, {"StringEquals": {"aws:ResourceTag/team": "sec"}}),
                            Tags=[{"TagKey": "team", "TagValue": "sec"}])["KeyMetadata"]
    assert tagged["KeyState"] == "Enabled"
    hmac = kms.create_key(KeySpec="HMAC_256", KeyUsage="GENERATE_VERIFY_MAC",
                          Policy=_admin_policy(caller, {"StringEquals": {"kms:KeySpec": "HMAC_256"}}))
    assert hmac["KeyMetadata"]["KeySpec"] == "HMAC_256"
    # A symmetric key whose policy allows only RSA keys would lock the caller out.
    assert aws_error(lambda: kms.create_key(Policy=_admin_policy(caller, {"StringEquals": {"kms:KeySpec": "RSA_2048"}}))
                     ) == ("MalformedPolicyDocumentException", LOCKOUT, 400)


# --- 5. UpdateSecretVersionStage's VersionStage length -----------------------------------


def test_update_secret_version_stage_checks_its_lengths(admin: AwsEnv) -> None:
    sm = admin.unchecked_client("secretsmanager")
    name = f"r7-stage-{uuid.uuid4().hex[:6]}"
    sm.create_secret(Name=name, SecretString="v1")
    pending = sm.put_secret_value(SecretId=name, SecretString="v2", VersionStages=["AWSPENDING"])["VersionId"]
    before = sm.describe_secret(SecretId=name)["VersionIdsToStages"]

    assert aws_error(lambda: sm.update_secret_version_stage(SecretId=name, VersionStage="X" * 257,
                                                            MoveToVersionId=pending)) == (
        "ValidationException", "1 validation error detected: Value at 'versionStage' failed to satisfy constraint: "
        "Member must have length less than or equal to 256", 400)
    assert aws_error(lambda: sm.update_secret_version_stage(SecretId=name, VersionStage="AWSPENDING",
                                                            RemoveFromVersionId="x" * 65)) == (
        "ValidationException", "1 validation error detected: Value at 'removeFromVersionId' failed to satisfy "
        "constraint: Member must have length less than or equal to 64", 400)
    assert sm.describe_secret(SecretId=name)["VersionIdsToStages"] == before
    # 256 characters is a valid label.
    sm.update_secret_version_stage(SecretId=name, VersionStage="Y" * 256, MoveToVersionId=pending)
    assert "Y" * 256 in sm.describe_secret(SecretId=name)["VersionIdsToStages"][pending]
