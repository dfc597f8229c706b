"""SSM Parameter Store: versions, labels, paths, and SecureStrings that need kms:Decrypt."""

from __future__ import annotations

import json
import uuid

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from .conftest import AwsEnv, Server


def test_string_parameters_versions_labels_paths(admin: AwsEnv) -> None:
    base = f"/app-{uuid.uuid4().hex[:6]}"
    admin.aws_json("ssm", "put-parameter", "--name", f"{base}/db/host", "--value", "db1", "--type", "String")
    assert admin.aws_json("ssm", "put-parameter", "--name", f"{base}/db/host", "--value", "db2",
                          "--overwrite")["Version"] == 2
    dup = admin.aws("ssm", "put-parameter", "--name", f"{base}/db/host", "--value", "x", "--type", "String")
    assert dup.returncode != 0 and "ParameterAlreadyExists" in dup.stderr
    ssm = admin.client("ssm")
    ssm.put_parameter(Name=f"{base}/flags", Value="a,b", Type="StringList")
    assert ssm.get_parameter(Name=f"{base}/db/host")["Parameter"]["Value"] == "db2"
    assert ssm.get_parameter(Name=f"{base}/db/host:1")["Parameter"]["Value"] == "db1"
    ssm.label_parameter_version(Name=f"{base}/db/host", ParameterVersion=1, Labels=["stable"])
    assert ssm.get_parameter(Name=f"{base}/db/host:stable")["Parameter"]["Value"] == "db1"
    shallow = ssm.get_parameters_by_path(Path=base)["Parameters"]
    deep = ssm.get_parameters_by_path(Path=base, Recursive=True)["Parameters"]
    assert [p["Name"] for p in shallow] == [f"{base}/flags"]
    assert sorted(p["Name"] for p in deep) == [f"{base}/db/host", f"{base}/flags"]
    history = ssm.get_parameter_history(Name=f"{base}/db/host")["Parameters"]
    assert [(h["Version"], h["Labels"]) for h in history] == [(1, ["stable"]), (2, [])]
    got = ssm.get_parameters(Names=[f"{base}/flags", f"{base}/missing"])
    assert got["InvalidParameters"] == [f"{base}/missing"]
    ssm.delete_parameter(Name=f"{base}/flags")
    with pytest.raises(ClientError) as e:
        ssm.get_parameter(Name=f"{base}/flags")
    assert e.value.response["Error"]["Code"] == "ParameterNotFound"


def test_parameter_names_follow_ssm_rules(admin: AwsEnv) -> None:
    """Names outside SSM's rules are refused with SSM's errors, and nothing is stored."""
    ssm = admin.client("ssm")
    rules = ("Parameter name: can't be prefixed with \"ssm\" (case-insensitive). If formed as a path, it can "
             "consist of sub-paths divided by slash symbol; each sub-path can be formed as a mix of letters, "
             "numbers and the following 3 symbols .-_")
    prefixed = "Parameter name: can't be prefixed with \"aws\" or \"ssm\" (case-insensitive)."
    refused = {
        "app/db/host": ("ValidationException", "Parameter name must be a fully qualified name."),
        "/app/db/user@example.com": ("ValidationException", rules),
        "/app//host": ("ValidationException", rules),
        "has space": ("ValidationException", rules),
        "AWS-setting": ("ValidationException", prefixed),
        "/ssmtp": ("ValidationException", prefixed),
        "/SSM/setting": ("ValidationException", rules),
        "/aws/reference/mine": ("AccessDeniedException", "No access to reserved parameter name: /aws/reference/mine."),
    }
    for name, expected in refused.items():
        with pytest.raises(ClientError) as e:
            ssm.put_parameter(Name=name, Value="v", Type="String")
        error = e.value.response["Error"]
        assert (error["Code"], error["Message"], e.value.response["ResponseMetadata"]["HTTPStatusCode"]) == (
            *expected, 400), name
    names = [p["Name"] for p in ssm.describe_parameters()["Parameters"]]
    assert not set(names) & set(refused)
    for name in ("/app-names/db.host_1-a", "plain.name_1-a", "/awesome"):  # within the rules
        assert ssm.put_parameter(Name=name, Value="v", Type="String")["Version"] == 1


def test_secure_string_needs_kms_decrypt(admin: AwsEnv, server: Server) -> None:
    name = f"/prod/db-password-{uuid.uuid4().hex[:6]}"
    kms = admin.client("kms")
    key_id = kms.create_key()["KeyMetadata"]["KeyId"]
    ssm = admin.client("ssm")
    ssm.put_parameter(Name=name, Value="hunter2-secret", Type="SecureString", KeyId=key_id)
    assert ssm.get_parameter(Name=name, WithDecryption=True)["Parameter"]["Value"] == "hunter2-secret"
    assert ssm.get_parameter(Name=name)["Parameter"]["Value"] != "hunter2-secret"
    stored = b"".join(p.read_bytes() for p in server.data_dir.glob("*.db*"))
    assert b"hunter2-secret" not in stored

    iam = admin.client("iam")
    user = f"reader-{uuid.uuid4().hex[:6]}"
    iam.create_user(UserName=user)
    iam.put_user_policy(UserName=user, PolicyName="ssm", PolicyDocument=json.dumps({
        "Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "ssm:GetParameter", "Resource": "*"}]}))
    key = iam.create_access_key(UserName=user)["AccessKey"]
    reader = boto3.client("ssm", endpoint_url=admin.endpoint, region_name="us-east-1",
                          aws_access_key_id=key["AccessKeyId"], aws_secret_access_key=key["SecretAccessKey"],
                          config=Config(retries={"max_attempts": 1}))
    reader.get_parameter(Name=name)  # the ciphertext needs no KMS permission
    with pytest.raises(ClientError) as e:
        reader.get_parameter(Name=name, WithDecryption=True)
    assert e.value.response["Error"]["Code"] == "AccessDeniedException"
    assert "kms:Decrypt" in e.value.response["Error"]["Message"]
    iam.put_user_policy(UserName=user, PolicyName="kms", PolicyDocument=json.dumps({
        "Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "kms:Decrypt", "Resource": "*"}]}))
    assert reader.get_parameter(Name=name, WithDecryption=True)["Parameter"]["Value"] == "hunter2-secret"


def test_default_aws_managed_key(admin: AwsEnv) -> None:
    ssm = admin.client("ssm")
    name = f"/app/token-{uuid.uuid4().hex[:6]}"
    ssm.put_parameter(Name=name, Value="t0ken", Type="SecureString")
    assert ssm.get_parameter(Name=name, WithDecryption=True)["Parameter"]["Value"] == "t0ken"
    aliases = admin.client("kms").list_aliases()["Aliases"]
    assert any(a["AliasName"] == "alias/aws/ssm" for a in aliases)


def test_parameter_tags(admin: AwsEnv) -> None:
    ssm = admin.client("ssm")
    name = f"/tags/p-{uuid.uuid4().hex[:6]}"
    ssm.put_parameter(Name=name, Value="v", Type="String", Tags=[{"Key": "team", "Value": "blue"}])
    ssm.add_tags_to_resource(ResourceType="Parameter", ResourceId=name, Tags=[{"Key": "env", "Value": "prod"}])
    tags = ssm.list_tags_for_resource(ResourceType="Parameter", ResourceId=name)["TagList"]
    assert {t["Key"]: t["Value"] for t in tags} == {"team": "blue", "env": "prod"}
    ssm.remove_tags_from_resource(ResourceType="Parameter", ResourceId=name, TagKeys=["team"])
    assert [t["Key"] for t in ssm.list_tags_for_resource(ResourceType="Parameter", ResourceId=name)["TagList"]] == ["env"]
    with pytest.raises(ClientError) as e:
        ssm.list_tags_for_resource(ResourceType="Parameter", ResourceId="/nope")
    assert e.value.response["Error"]["Code"] == "InvalidResourceId"
