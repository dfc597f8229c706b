"""Secrets Manager through its authz map and handlers: envelope encryption under KMS
with KMS permissions checked as AWS does, versions and staging labels, deletion
windows on Skyhold's clock, resource policies."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator

import pytest

from skyhold import clock
from tests.unit.kms.harness import Harness, allow, stored_bytes


@pytest.fixture
def moved_clock() -> Iterator[None]:
    before = clock.offset().total_seconds()
    yield
    clock.set_offset(before)


def test_arn_suffix_and_envelope_encryption_at_rest(h: Harness) -> None:
    out = h.run("secretsmanager", "CreateSecret", Name="prod-db-password", SecretString="s3cr3t-db-pass!")
    assert re.fullmatch(rf"arn:aws:secretsmanager:us-east-1:{h.account}:secret:prod-db-password-[A-Za-z0-9]{{6}}",
                        out["ARN"])
    big = "B" * 20000  # beyond KMS's 4 KiB: only envelope encryption stores this
    h.run("secretsmanager", "PutSecretValue", SecretId="prod-db-password", SecretString=big)
    on_disk = stored_bytes(h.data_dir)
    assert b"s3cr3t-db-pass!" not in on_disk and b"B" * 64 not in on_disk
    assert h.run("secretsmanager", "GetSecretValue", SecretId=out["ARN"])["SecretString"] == big
    partial = out["ARN"][:-7]  # the ARN without its random suffix also names the secret
    assert h.run("secretsmanager", "GetSecretValue", SecretId=partial, VersionStage="AWSPREVIOUS")[
        "SecretString"] == "s3cr3t-db-pass!"
    aliases = [a["AliasName"] for a in h.run("kms", "ListAliases")["Aliases"]]
    assert "alias/aws/secretsmanager" in aliases


def test_customer_key_needs_kms_decrypt(h: Harness) -> None:
    key = h.run("kms", "CreateKey")["KeyMetadata"]
    h.run("secretsmanager", "CreateSecret", Name="app", SecretString="value", KmsKeyId=key["Arn"])
    reader = h.user("reader", allow("secretsmanager:GetSecretValue"))
    err = h.fails("AccessDeniedException", "secretsmanager", "GetSecretValue", as_=reader, SecretId="app")
    assert err.message == "Access to KMS is not allowed"
    assert err.explanation is not None  # the KMS decision stays explainable
    both = h.user("both", allow("secretsmanager:GetSecretValue"), allow("kms:Decrypt", key["Arn"]))
    assert h.run("secretsmanager", "GetSecretValue", as_=both, SecretId="app")["SecretString"] == "value"
    # decrypting only outside Secrets Manager does not count
    direct_only = h.user("direct", allow("secretsmanager:GetSecretValue"), allow(
        "kms:Decrypt", key["Arn"], **{"StringEquals": {"kms:ViaService": "ssm.us-east-1.amazonaws.com"}}))
    h.fails("AccessDeniedException", "secretsmanager", "GetSecretValue", as_=direct_only, SecretId="app")
    writer = h.user("writer", allow("secretsmanager:PutSecretValue"))
    err = h.fails("AccessDeniedException", "secretsmanager", "PutSecretValue", as_=writer, SecretId="app",
                  SecretString="new")
    assert err.message == "Access to KMS is not allowed"
    h.run("kms", "DisableKey", KeyId=key["KeyId"])
    h.fails("DecryptionFailure", "secretsmanager", "GetSecretValue", SecretId="app")
    h.fails("EncryptionFailure", "secretsmanager", "PutSecretValue", SecretId="app", SecretString="x")


def test_staging_labels(h: Harness) -> None:
    first = h.run("secretsmanager", "CreateSecret", Name="s", SecretString="v1")["VersionId"]
    second = h.run("secretsmanager", "PutSecretValue", SecretId="s", SecretString="v2")["VersionId"]
    pending = h.run("secretsmanager", "PutSecretValue", SecretId="s", SecretString="v3",
                    VersionStages=["AWSPENDING"])["VersionId"]
    stages = h.run("secretsmanager", "DescribeSecret", SecretId="s")["VersionIdsToStages"]
    assert stages == {first: ["AWSPREVIOUS"], second: ["AWSCURRENT"], pending: ["AWSPENDING"]}
    h.fails("InvalidParameterException", "secretsmanager", "UpdateSecretVersionStage", SecretId="s",
            VersionStage="AWSCURRENT", MoveToVersionId=pending)
    h.run("secretsmanager", "UpdateSecretVersionStage", SecretId="s", VersionStage="AWSCURRENT",
          MoveToVersionId=pending, RemoveFromVersionId=second)
    assert h.run("secretsmanager", "GetSecretValue", SecretId="s")["SecretString"] == "v3"
    assert h.run("secretsmanager", "GetSecretValue", SecretId="s", VersionStage="AWSPREVIOUS")["SecretString"] == "v2"
    assert h.run("secretsmanager", "GetSecretValue", SecretId="s", VersionId=first)["SecretString"] == "v1"


def test_deletion_window_on_the_clock(h: Harness, moved_clock: None) -> None:
    h.run("secretsmanager", "CreateSecret", Name="tmp", SecretString="x")
    h.fails("InvalidParameterException", "secretsmanager", "DeleteSecret", SecretId="tmp", RecoveryWindowInDays=6)
    h.run("secretsmanager", "DeleteSecret", SecretId="tmp", RecoveryWindowInDays=7)
    err = h.fails("InvalidRequestException", "secretsmanager", "GetSecretValue", SecretId="tmp")
    assert err.message == "You can't perform this operation on the secret because it was marked for deletion."
    h.run("secretsmanager", "RestoreSecret", SecretId="tmp")
    assert h.run("secretsmanager", "GetSecretValue", SecretId="tmp")["SecretString"] == "x"
    h.run("secretsmanager", "DeleteSecret", SecretId="tmp", RecoveryWindowInDays=7)
    clock.set_offset(clock.offset().total_seconds() + 7.01 * 86400)
    h.fails("ResourceNotFoundException", "secretsmanager", "DescribeSecret", SecretId="tmp")
    h.run("secretsmanager", "CreateSecret", Name="tmp", SecretString="again")  # the name is free again
    h.run("secretsmanager", "DeleteSecret", SecretId="tmp", ForceDeleteWithoutRecovery=True)
    h.fails("ResourceNotFoundException", "secretsmanager", "GetSecretValue", SecretId="tmp")


def test_resource_policy_is_the_access_resource_policy(h: Harness) -> None:
    arn = h.run("secretsmanager", "CreateSecret", Name="shared", SecretString="x")["ARN"]
    public = json.dumps({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Principal": "*", "Action": "secretsmanager:GetSecretValue", "Resource": "*"}]})
    h.fails("PublicPolicyException", "secretsmanager", "PutResourcePolicy", SecretId="shared", ResourcePolicy=public,
            BlockPublicPolicy=True)
    assert not h.run("secretsmanager", "ValidateResourcePolicy", ResourcePolicy=public)["PolicyValidationPassed"]
    nobody = h.user("nobody")
    h.fails("AccessDeniedException", "secretsmanager", "DescribeSecret", as_=nobody, SecretId="shared")
    h.run("secretsmanager", "PutResourcePolicy", SecretId="shared", ResourcePolicy=json.dumps({
        "Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"AWS": nobody.arn},
                                                "Action": "secretsmanager:DescribeSecret", "Resource": "*"}]}))
    assert h.run("secretsmanager", "DescribeSecret", as_=nobody, SecretId="shared")["ARN"] == arn
    h.fails("AccessDeniedException", "secretsmanager", "GetSecretValue", as_=nobody, SecretId="shared")


def test_list_filters_and_password(h: Harness) -> None:
    for name in ("prod/a", "prod/b", "dev/a"):
        h.run("secretsmanager", "CreateSecret", Name=name, SecretString="x",
              Tags=[{"Key": "env", "Value": name.split("/")[0]}])
    names = [s["Name"] for s in h.run("secretsmanager", "ListSecrets", Filters=[
        {"Key": "name", "Values": ["prod/"]}])["SecretList"]]
    assert sorted(names) == ["prod/a", "prod/b"]
    page = h.run("secretsmanager", "ListSecrets", MaxResults=2)
    rest = h.run("secretsmanager", "ListSecrets", MaxResults=2, NextToken=page["NextToken"])
    assert len(page["SecretList"]) + len(rest["SecretList"]) == 3
    password = h.run("secretsmanager", "GetRandomPassword", PasswordLength=30, ExcludePunctuation=True)[
        "RandomPassword"]
    assert len(password) == 30 and password.isalnum()
    assert any(c.isdigit() for c in password) and any(c.isupper() for c in password)


def test_cross_account_read_needs_resource_policy_and_a_customer_key(h: Harness) -> None:
    from skyhold import accounts

    partner = accounts.create_account(h.store, "partner").account_id
    reader = h.user_principal("admin", partner)  # AdministratorAccess in its own account
    key = h.run("kms", "CreateKey")["KeyMetadata"]
    by_default = h.run("secretsmanager", "CreateSecret", Name="default-key", SecretString="a")["ARN"]
    by_customer = h.run("secretsmanager", "CreateSecret", Name="customer-key", SecretString="b",
                        KmsKeyId=key["Arn"])["ARN"]
    h.fails("AccessDeniedException", "secretsmanager", "GetSecretValue", as_=reader, SecretId=by_customer)
    share = json.dumps({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{partner}:root"},
         "Action": "secretsmanager:GetSecretValue", "Resource": "*"}]})
    for arn in (by_default, by_customer):
        h.run("secretsmanager", "PutResourcePolicy", SecretId=arn, ResourcePolicy=share)
    # the AWS managed key serves only its own account: as AWS says, use a customer key
    err = h.fails("AccessDeniedException", "secretsmanager", "GetSecretValue", as_=reader, SecretId=by_default)
    assert err.message == "Access to KMS is not allowed"
    h.fails("AccessDeniedException", "secretsmanager", "GetSecretValue", as_=reader, SecretId=by_customer)
    policy = json.loads(h.run("kms", "GetKeyPolicy", KeyId=key["KeyId"], PolicyName="default")["Policy"])
    policy["Statement"].append({"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{partner}:root"},
                                "Action": "kms:Decrypt", "Resource": "*"})
    h.run("kms", "PutKeyPolicy", KeyId=key["KeyId"], PolicyName="default", Policy=json.dumps(policy))
    assert h.run("secretsmanager", "GetSecretValue", as_=reader, SecretId=by_customer)["SecretString"] == "b"
    # a name (not an ARN) means the caller's own account
    h.fails("ResourceNotFoundException", "secretsmanager", "GetSecretValue", as_=reader, SecretId="customer-key")
