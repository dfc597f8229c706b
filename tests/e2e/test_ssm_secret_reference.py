"""Parameter Store names under /aws/reference/secretsmanager/ read Secrets Manager secrets
(GetParameter, GetParameters), answered with the members and error texts AWS sends —
LocalStack's AWS-validated test_get_secret_parameter, test_get_inexistent_secret and
test_get_parameters_and_secrets, AWS's user guide page, and outputs recorded from AWS —
and authorized for real: the caller needs the secret's own permissions too."""

from __future__ import annotations

import json
import re
import uuid
from typing import Any

import pytest

from tests.e2e.conftest import AwsEnv, aws_error

PREFIX = "/aws/reference/secretsmanager/"
NEEDS_DECRYPTION = "WithDecryption flag must be True for retrieving a Secret Manager secret."
DEPENDENCY_FAILED = "An error occurred while calling one AWS dependency service."
BAD_SELECTOR = ("Invalid parameter name. Please use correct syntax for referencing a version/label  "
                "<name>:<version/label>")


def _name(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


@pytest.fixture(scope="module")
def ssm(admin: AwsEnv) -> Any:
    return admin.client("ssm", region_name="us-east-1")


@pytest.fixture(scope="module")
def sm(admin: AwsEnv) -> Any:
    return admin.client("secretsmanager", region_name="us-east-1")


def _not_found(ref: str) -> str:
    return f"An error occurred (ParameterNotFound) when referencing Secrets Manager: Secret {ref} not found."


def test_get_secret_parameter_answers_as_aws(ssm: Any, sm: Any) -> None:
    name = _name("test_secret")
    created = sm.create_secret(Name=name, SecretString="my_secret", Description="testing creation of secrets")
    value = sm.get_secret_value(SecretId=name)

    param = ssm.get_parameter(Name=PREFIX + name, WithDecryption=True)["Parameter"]
    source = param.pop("SourceResult")
    assert param == {"Name": PREFIX + name, "Type": "SecureString", "Value": "my_secret", "Version": 0,
                     "LastModifiedDate": value["CreatedDate"], "ARN": created["ARN"]}  # no DataType, no Selector
    # GetSecretValue's result as SSM's Java service serializes it, members in this order.
    assert list(json.loads(source)) == ["ARN", "name", "versionId", "secretString", "versionStages", "createdDate"]
    assert json.loads(source) | {"createdDate": None} == {
        "ARN": created["ARN"], "name": name, "versionId": created["VersionId"], "secretString": "my_secret",
        "versionStages": ["AWSCURRENT"], "createdDate": None}
    assert re.fullmatch(r"[A-Z][a-z]{2} \d{1,2}, \d{4}, \d{1,2}:\d{2}:\d{2} [AP]M", json.loads(source)["createdDate"])
    assert source.startswith('{"ARN":"')  # compact JSON, no spaces

    # The secret's own name is no parameter (localstack#6551).
    assert aws_error(lambda: ssm.get_parameter(Name=name, WithDecryption=True))[0] == "ParameterNotFound"


def test_source_result_uses_gsons_escapes(ssm: Any, sm: Any) -> None:
    name = _name("escapes")
    sm.create_secret(Name=name, SecretString="a=b&<c>'d\"")
    param = ssm.get_parameter(Name=PREFIX + name, WithDecryption=True)["Parameter"]
    assert param["Value"] == "a=b&<c>'d\""
    assert '"secretString":"a\\u003db\\u0026\\u003cc\\u003e\\u0027d\\""' in param["SourceResult"]
    assert json.loads(param["SourceResult"])["secretString"] == "a=b&<c>'d\""


def test_get_inexistent_secret(ssm: Any) -> None:
    code, message, status = aws_error(lambda: ssm.get_parameter(Name=PREFIX + "inexistent", WithDecryption=True))
    # AWS prints the absent version selector as Java's "null".
    assert (code, message, status) == ("ParameterNotFound", _not_found("aws/reference/secretsmanager/inexistentnull"),
                                       400)


def test_with_decryption_is_required(ssm: Any, sm: Any) -> None:
    name = _name("plain")
    sm.create_secret(Name=name, SecretString="value")
    for ref in (PREFIX + name, PREFIX + _name("absent")):
        assert aws_error(lambda: ssm.get_parameter(Name=ref)) == ("ValidationException", NEEDS_DECRYPTION, 400)
        assert aws_error(lambda: ssm.get_parameter(Name=ref, WithDecryption=False)) == (
            "ValidationException", NEEDS_DECRYPTION, 400)


def test_version_ids_and_staging_labels_select_a_version(ssm: Any, sm: Any) -> None:
    name = _name("select")
    first = sm.create_secret(Name=name, SecretString="first-value")["VersionId"]
    sm.put_secret_value(SecretId=name, SecretString="second-value")

    previous = ssm.get_parameter(Name=f"{PREFIX}{name}:AWSPREVIOUS", WithDecryption=True)["Parameter"]
    assert (previous["Name"], previous["Selector"], previous["Value"]) == (PREFIX + name, ":AWSPREVIOUS",
                                                                          "first-value")
    assert json.loads(previous["SourceResult"])["versionStages"] == ["AWSPREVIOUS"]
    by_id = ssm.get_parameter(Name=f"{PREFIX}{name}:{first}", WithDecryption=True)["Parameter"]
    assert (by_id["Selector"], by_id["Value"]) == (f":{first}", "first-value")
    assert json.loads(by_id["SourceResult"])["versionId"] == first
    current = ssm.get_parameter(Name=f"{PREFIX}{name}:AWSCURRENT", WithDecryption=True)["Parameter"]
    assert current["Value"] == "second-value"

    assert aws_error(lambda: ssm.get_parameter(Name=f"{PREFIX}{name}:NOSUCHSTAGE", WithDecryption=True)) == (
        "ParameterNotFound", _not_found(f"aws/reference/secretsmanager/{name}:NOSUCHSTAGE"), 400)
    # A malformed selector (or an ARN as the id) is refused even before the decryption check.
    for ref in (f"{name}:AWSCURRENT:extra", f"{name}:", f"arn:aws:secretsmanager:us-east-1:000000000000:secret:{name}"):
        assert aws_error(lambda: ssm.get_parameter(Name=PREFIX + ref)) == ("ValidationException", BAD_SELECTOR, 400)


def test_get_parameters_and_secrets(ssm: Any, sm: Any) -> None:
    param_name = _name("param")
    secret = _name("test_secret_param")
    ssm.put_parameter(Name=param_name, Description="test", Value="123", Type="String")
    sm.create_secret(Name=secret, SecretString="my_secret", Description="testing creation of secrets")
    sm.put_secret_value(SecretId=secret, SecretString="newer")

    names = [param_name, PREFIX + secret, f"{PREFIX}{secret}:AWSPREVIOUS", "inexistent_param",
             PREFIX + "inexistent_secret", f"{PREFIX}{secret}:NOSUCH", f"{PREFIX}{secret}:a:b"]
    out = ssm.get_parameters(Names=names, WithDecryption=True)
    assert sorted((p["Name"], p["Value"], p["Version"]) for p in out["Parameters"]) == [
        (PREFIX + secret, "my_secret", 0), (PREFIX + secret, "newer", 0), (param_name, "123", 1)]
    assert sorted(out["InvalidParameters"]) == sorted(names[3:])
    reference = next(p for p in out["Parameters"] if p["Name"] == PREFIX + secret and "Selector" not in p)
    assert "DataType" not in reference and json.loads(reference["SourceResult"])["name"] == secret

    # Without decryption a reference is one more invalid name, not an error of the call.
    out = ssm.get_parameters(Names=[param_name, PREFIX + secret])
    assert [p["Name"] for p in out["Parameters"]] == [param_name]
    assert out["InvalidParameters"] == [PREFIX + secret]


def test_binary_and_deleted_secrets(ssm: Any, sm: Any) -> None:
    binary = _name("binary")
    sm.create_secret(Name=binary, SecretBinary=b"abc")
    param = ssm.get_parameter(Name=PREFIX + binary, WithDecryption=True)["Parameter"]
    assert param["Type"] == "SecureString" and "Value" not in param

    deleted = _name("deleted")
    sm.create_secret(Name=deleted, SecretString="value")
    sm.delete_secret(SecretId=deleted, RecoveryWindowInDays=7)
    assert aws_error(lambda: ssm.get_parameter(Name=PREFIX + deleted, WithDecryption=True)) == (
        "ValidationException", "Invalid Request to Secrets Manager", 400)


def test_only_get_parameter_and_get_parameters_read_references(ssm: Any, sm: Any) -> None:
    name = _name("no-path")
    sm.create_secret(Name=name, SecretString="value")
    assert ssm.get_parameters_by_path(Path=PREFIX.rstrip("/"), Recursive=True, WithDecryption=True)[
        "Parameters"] == []
    assert aws_error(lambda: ssm.get_parameter_history(Name=PREFIX + name, WithDecryption=True))[0] == \
        "ParameterNotFound"
    assert aws_error(lambda: ssm.put_parameter(Name=PREFIX + name, Value="x", Type="String", Overwrite=True))[0] == \
        "AccessDeniedException"


def test_the_caller_needs_get_secret_value_on_the_secret(admin: AwsEnv, sm: Any) -> None:
    name = _name("denied")
    arn = sm.create_secret(Name=name, SecretString="secret-value")["ARN"]
    ssm_only = {"Effect": "Allow", "Action": ["ssm:GetParameter", "ssm:GetParameters"], "Resource": "*"}

    reader = admin.client_for(admin.new_user({"Version": "2012-10-17", "Statement": [ssm_only]}), "ssm")
    for ref in (PREFIX + name, PREFIX + name + "-missing"):  # denied whether or not the secret exists
        assert aws_error(lambda: reader.get_parameter(Name=ref, WithDecryption=True)) == (
            "ValidationException", DEPENDENCY_FAILED, 400)
    # A denied reference fails GetParameters as a whole.
    assert aws_error(lambda: reader.get_parameters(Names=[PREFIX + name], WithDecryption=True)) == (
        "ValidationException", DEPENDENCY_FAILED, 400)
    # The syntax and decryption checks come before the caller's.
    assert aws_error(lambda: reader.get_parameter(Name=PREFIX + name))[1] == NEEDS_DECRYPTION
    assert aws_error(lambda: reader.get_parameter(Name=PREFIX + name + ":a:b", WithDecryption=True))[1] == \
        BAD_SELECTOR

    allowed = admin.client_for(admin.new_user({"Version": "2012-10-17", "Statement": [
        ssm_only, {"Effect": "Allow", "Action": "secretsmanager:GetSecretValue", "Resource": arn}]}), "ssm")
    assert allowed.get_parameter(Name=PREFIX + name, WithDecryption=True)["Parameter"]["Value"] == "secret-value"
    assert allowed.get_parameters(Names=[PREFIX + name], WithDecryption=True)["Parameters"][0]["Value"] == \
        "secret-value"

    # Secrets Manager's permission alone is not enough: ssm:GetParameter on the reference's ARN too.
    sm_only = admin.client_for(admin.new_user({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": "secretsmanager:GetSecretValue", "Resource": arn}]}), "ssm")
    code, message, _ = aws_error(lambda: sm_only.get_parameter(Name=PREFIX + name, WithDecryption=True))
    assert code == "AccessDeniedException"
    assert re.search(rf"ssm:GetParameter on resource: arn:aws:ssm:us-east-1:\d{{12}}:parameter{PREFIX}{name}\b",
                     message)


def test_a_customer_key_needs_kms_decrypt(admin: AwsEnv, sm: Any) -> None:
    key_arn = admin.client("kms", region_name="us-east-1").create_key()["KeyMetadata"]["Arn"]
    name = _name("cmk")
    arn = sm.create_secret(Name=name, SecretString="cmk-value", KmsKeyId=key_arn)["ARN"]
    statements: list[dict[str, Any]] = [
        {"Effect": "Allow", "Action": "ssm:GetParameter", "Resource": "*"},
        {"Effect": "Allow", "Action": "secretsmanager:GetSecretValue", "Resource": arn}]

    without_kms = admin.client_for(admin.new_user({"Version": "2012-10-17", "Statement": statements}), "ssm")
    assert aws_error(lambda: without_kms.get_parameter(Name=PREFIX + name, WithDecryption=True)) == (
        "ValidationException", DEPENDENCY_FAILED, 400)

    with_kms = admin.client_for(admin.new_user({"Version": "2012-10-17", "Statement": [
        *statements, {"Effect": "Allow", "Action": "kms:Decrypt", "Resource": key_arn}]}), "ssm")
    assert with_kms.get_parameter(Name=PREFIX + name, WithDecryption=True)["Parameter"]["Value"] == "cmk-value"
