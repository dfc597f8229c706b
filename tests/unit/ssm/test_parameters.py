"""SSM Parameter Store through its authz map and handlers: versions, labels,
selectors, paths and filters, and SecureStrings kept only as KMS ciphertext."""

from __future__ import annotations

import pytest

from tests.unit.kms.harness import Harness, allow, stored_bytes


def test_versions_labels_and_selectors(h: Harness) -> None:
    h.run("ssm", "PutParameter", Name="/app/db/host", Value="db1", Type="String")
    h.fails("ParameterAlreadyExists", "ssm", "PutParameter", Name="/app/db/host", Value="x", Type="String")
    assert h.run("ssm", "PutParameter", Name="/app/db/host", Value="db2", Overwrite=True)["Version"] == 2
    h.run("ssm", "LabelParameterVersion", Name="/app/db/host", ParameterVersion=1, Labels=["stable"])
    get = lambda ref: h.run("ssm", "GetParameter", Name=ref)["Parameter"]  # noqa: E731
    assert get("/app/db/host")["Value"] == "db2"
    assert get("/app/db/host:1")["Value"] == "db1"
    assert get("/app/db/host:stable")["Selector"] == ":stable" and get("/app/db/host:stable")["Value"] == "db1"
    assert get("/app/db/host")["ARN"] == f"arn:aws:ssm:us-east-1:{h.account}:parameter/app/db/host"
    out = h.run("ssm", "UnlabelParameterVersion", Name="/app/db/host", ParameterVersion=1, Labels=["stable", "nope"])
    assert out == {"RemovedLabels": ["stable"], "InvalidLabels": ["nope"]}
    h.fails("ParameterVersionNotFound", "ssm", "GetParameter", Name="/app/db/host:stable")
    got = h.run("ssm", "GetParameters", Names=["/app/db/host", "/app/missing"])
    assert [p["Name"] for p in got["Parameters"]] == ["/app/db/host"]
    assert got["InvalidParameters"] == ["/app/missing"]


def test_limits_and_patterns(h: Harness) -> None:
    h.fails("ValidationException", "ssm", "PutParameter", Name="/big", Value="x" * 4097, Type="String")
    assert h.run("ssm", "PutParameter", Name="/big", Value="x" * 8192, Type="String", Tier="Advanced")["Tier"] == \
        "Advanced"
    h.fails("ParameterPatternMismatchException", "ssm", "PutParameter", Name="/port", Value="http", Type="String",
            AllowedPattern=r"^\d+$")
    h.run("ssm", "PutParameter", Name="/port", Value="8080", Type="String", AllowedPattern=r"^\d+$")


def test_paths_filters_and_pages(h: Harness) -> None:
    for name, kind in (("/a/x", "String"), ("/a/y", "StringList"), ("/a/b/z", "String"), ("/other", "String")):
        h.run("ssm", "PutParameter", Name=name, Value="v", Type=kind)
    shallow = h.run("ssm", "GetParametersByPath", Path="/a")["Parameters"]
    assert [p["Name"] for p in shallow] == ["/a/x", "/a/y"]
    deep = h.run("ssm", "GetParametersByPath", Path="/a", Recursive=True,
                 ParameterFilters=[{"Key": "Type", "Values": ["String"]}])["Parameters"]
    assert sorted(p["Name"] for p in deep) == ["/a/b/z", "/a/x"]
    names, token = [], None
    while True:
        page = h.run("ssm", "DescribeParameters", MaxResults=2, **({"NextToken": token} if token else {}))
        names += [p["Name"] for p in page["Parameters"]]
        token = page.get("NextToken")
        if not token:
            break
    assert sorted(names) == ["/a/b/z", "/a/x", "/a/y", "/other"]
    one_level = h.run("ssm", "DescribeParameters", ParameterFilters=[
        {"Key": "Path", "Option": "OneLevel", "Values": ["/a"]}])["Parameters"]
    assert [p["Name"] for p in one_level] == ["/a/x", "/a/y"]
    begins = h.run("ssm", "DescribeParameters", ParameterFilters=[
        {"Key": "Name", "Option": "BeginsWith", "Values": ["/a/b"]}])["Parameters"]
    assert [p["Name"] for p in begins] == ["/a/b/z"]


def test_secure_string_encrypted_at_rest_and_needs_kms_decrypt(h: Harness) -> None:
    key = h.run("kms", "CreateKey")["KeyMetadata"]
    h.run("ssm", "PutParameter", Name="/prod/db-password", Value="hunter2-secret", Type="SecureString",
          KeyId=key["KeyId"])
    h.run("ssm", "PutParameter", Name="/prod/token", Value="t0ken-default-key", Type="SecureString")
    on_disk = stored_bytes(h.data_dir)
    assert b"hunter2-secret" not in on_disk and b"t0ken-default-key" not in on_disk
    raw = h.run("ssm", "GetParameter", Name="/prod/db-password")["Parameter"]["Value"]
    assert raw != "hunter2-secret"
    described = {p["Name"]: p for p in h.run("ssm", "DescribeParameters")["Parameters"]}
    assert described["/prod/token"]["KeyId"] == "alias/aws/ssm"

    reader = h.user("reader", allow("ssm:GetParameter*"))
    err = h.fails("AccessDeniedException", "ssm", "GetParameter", as_=reader, Name="/prod/db-password",
                  WithDecryption=True)
    assert f"is not authorized to perform: kms:Decrypt on resource: {key['Arn']}" in err.message
    assert "(Service: AWSKMS;" in err.message
    # the AWS managed key's policy lets any principal of the account use it through SSM
    assert h.run("ssm", "GetParameter", as_=reader, Name="/prod/token", WithDecryption=True)[
        "Parameter"]["Value"] == "t0ken-default-key"
    decrypter = h.user("decrypter", allow("ssm:GetParameter*"), allow("kms:Decrypt", key["Arn"]))
    assert h.run("ssm", "GetParameter", as_=decrypter, Name="/prod/db-password", WithDecryption=True)[
        "Parameter"]["Value"] == "hunter2-secret"
    by_path = h.run("ssm", "GetParametersByPath", as_=decrypter, Path="/prod", WithDecryption=True)["Parameters"]
    assert {p["Name"]: p["Value"] for p in by_path} == {"/prod/db-password": "hunter2-secret",
                                                        "/prod/token": "t0ken-default-key"}
    h.run("kms", "DisableKey", KeyId=key["KeyId"])
    h.fails("InvalidKeyId", "ssm", "GetParameter", Name="/prod/db-password", WithDecryption=True)


@pytest.mark.parametrize("op", ["GetParameter", "DeleteParameter"])
def test_parameter_arn_is_the_resource(h: Harness, op: str) -> None:
    h.run("ssm", "PutParameter", Name="/team-a/x", Value="v", Type="String")
    h.run("ssm", "PutParameter", Name="/team-b/x", Value="v", Type="String")
    scoped = h.user(f"scoped{op}", allow(f"ssm:{op}", f"arn:aws:ssm:us-east-1:{h.account}:parameter/team-a/*"))
    h.run("ssm", op, as_=scoped, Name="/team-a/x")
    h.fails("AccessDeniedException", "ssm", op, as_=scoped, Name="/team-b/x")


def test_arn_names_and_tag_conditions(h: Harness) -> None:
    h.run("ssm", "PutParameter", Name="/team/db", Value="v1", Type="String",
          Tags=[{"Key": "team", "Value": "billing"}])
    h.run("ssm", "PutParameter", Name="/team/db", Value="v2", Type="String", Overwrite=True)
    h.run("ssm", "PutParameter", Name="flat", Value="f", Type="String")
    arn = f"arn:aws:ssm:us-east-1:{h.account}:parameter/team/db"
    assert h.run("ssm", "GetParameter", Name=arn)["Parameter"]["Value"] == "v2"
    assert h.run("ssm", "GetParameter", Name=arn + ":1")["Parameter"]["Value"] == "v1"
    assert h.run("ssm", "GetParameter", Name=f"arn:aws:ssm:us-east-1:{h.account}:parameter/flat")[
        "Parameter"]["Value"] == "f"
    tagged = h.user("abac", allow("ssm:GetParameter", **{"StringEquals": {"aws:ResourceTag/team": "billing"}}))
    assert h.run("ssm", "GetParameter", as_=tagged, Name="/team/db")["Parameter"]["Value"] == "v2"
    h.fails("AccessDeniedException", "ssm", "GetParameter", as_=tagged, Name="flat")
