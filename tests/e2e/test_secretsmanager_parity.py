"""Secrets Manager errors as real AWS answers them (AWS's responses as recorded by
LocalStack's validated snapshot tests of Secrets Manager, and by users' reports)."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from botocore.exceptions import ClientError

from .conftest import AwsEnv, aws_error

INVALID_NAME = ("ValidationException", "Invalid name. Must be a valid name containing alphanumeric characters, "
                "or any of the following: -/_+=.@!", 400)
NO_TOKEN = "You must provide a ClientRequestToken value. We recommend a UUID-type value."
POLICY = ('{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::123456789012:root"},'
          '"Action":"secretsmanager:GetSecretValue","Resource":"*"}]}')


@pytest.fixture
def sm(admin: AwsEnv) -> Any:
    return admin.unchecked_client("secretsmanager", region_name="us-east-1")


def _name() -> str:
    return f"parity-{uuid.uuid4().hex[:8]}"


@pytest.mark.parametrize("bad", ["Inv Name", " Inv Name", " Inv*Name? ", " Inv *?!]Name\\-"])
def test_an_invalid_secret_id_is_refused_by_every_operation(sm: Any, bad: str) -> None:
    calls = [
        lambda: sm.create_secret(Name=bad, SecretString="MySecretString"),
        lambda: sm.delete_secret(SecretId=bad, ForceDeleteWithoutRecovery=True),
        lambda: sm.describe_secret(SecretId=bad),
        lambda: sm.get_secret_value(SecretId=bad),
        lambda: sm.list_secret_version_ids(SecretId=bad, IncludeDeprecated=True),
        lambda: sm.put_secret_value(SecretId=bad, SecretString="MySecretString"),
        lambda: sm.tag_resource(SecretId=bad, Tags=[{"Key": "FirstTag", "Value": "SomeValue"}]),
        lambda: sm.untag_resource(SecretId=bad, TagKeys=["FirstTag"]),
        lambda: sm.update_secret(SecretId=bad, Description="MyNewDescription"),
        lambda: sm.validate_resource_policy(SecretId=bad, ResourcePolicy=POLICY),
    ]
    assert [aws_error(call) for call in calls] == [INVALID_NAME] * len(calls)


def test_an_arn_and_a_managed_secret_name_are_valid_secret_ids(sm: Any) -> None:
    arn = sm.create_secret(Name=_name(), SecretString="s")["ARN"]
    assert sm.describe_secret(SecretId=arn)["ARN"] == arn
    # "!" is in names of secrets other services manage: valid, just not there
    assert aws_error(lambda: sm.describe_secret(SecretId="rds!cluster-nope"))[0] == "ResourceNotFoundException"


@pytest.mark.parametrize(("operation", "code"), [
    ("create_secret", "InvalidRequestException"),
    ("update_secret", "InvalidRequestException"),
    ("rotate_secret", "InvalidParameterException"),
    ("put_secret_value", "InvalidRequestException"),
])
def test_a_request_without_client_request_token(sm: Any, operation: str, code: str) -> None:
    # The SDK fills the token in; a hand-made request without it is refused, even for a
    # secret that does not exist.
    name = _name()
    params: dict[str, Any] = {"Name": name} if operation == "create_secret" else {"SecretId": name}
    if operation != "rotate_secret":
        params["SecretString"] = "thisisthesecret"
    with pytest.raises(ClientError) as e:
        getattr(sm, operation)(ClientRequestToken=None, **params)
    assert (e.value.response["Error"]["Code"], e.value.response["Error"]["Message"],
            e.value.response["ResponseMetadata"]["HTTPStatusCode"]) == (code, NO_TOKEN, 400)
    assert e.value.response["Message"] == NO_TOKEN  # the body's modeled "Message" member
    assert aws_error(lambda: sm.describe_secret(SecretId=name))[0] == "ResourceNotFoundException"


def test_a_secret_without_a_value_needs_no_token(sm: Any) -> None:
    name = _name()
    assert "VersionId" not in sm.create_secret(Name=name, ClientRequestToken=None)
    sm.update_secret(SecretId=name, Description="d", ClientRequestToken=None)
    assert sm.describe_secret(SecretId=name)["Description"] == "d"


def test_modeled_errors_carry_their_message_member(sm: Any) -> None:
    with pytest.raises(ClientError) as e:
        sm.get_secret_value(SecretId=_name())
    assert e.value.response["Error"] == {"Code": "ResourceNotFoundException",
                                         "Message": "Secrets Manager can't find the specified secret."}
    assert e.value.response["Message"] == "Secrets Manager can't find the specified secret."


def test_rotating_with_a_function_secrets_manager_cannot_invoke(admin: AwsEnv, sm: Any) -> None:
    name = _name()
    sm.create_secret(Name=name, SecretString="init")
    account = admin.client("sts").get_caller_identity()["Account"]
    function = f"arn:aws:lambda:us-east-1:{account}:function:rotate_secret_invalid_lambda_arn"
    assert aws_error(lambda: sm.rotate_secret(SecretId=name, RotationLambdaARN=function,
                                              RotationRules={"AutomaticallyAfterDays": 1})) == (
        "AccessDeniedException", "Secrets Manager cannot invoke the specified Lambda function. Ensure that the "
        "function policy grants access to the principal secretsmanager.amazonaws.com.", 400)
    described = sm.describe_secret(SecretId=name)
    assert "RotationLambdaARN" not in described and "RotationRules" not in described


def test_a_version_id_with_a_stage_it_does_not_carry(sm: Any) -> None:
    name = _name()
    version = sm.create_secret(Name=name, SecretString="test")["VersionId"]
    assert aws_error(lambda: sm.get_secret_value(SecretId=name, VersionId=version, VersionStage="AWSPREVIOUS")) == (
        "InvalidRequestException", "You provided a VersionStage that is not associated to the provided VersionId.",
        400)
    assert sm.get_secret_value(SecretId=name, VersionId=version, VersionStage="AWSCURRENT")["SecretString"] == "test"
    missing = str(uuid.uuid4())
    assert aws_error(lambda: sm.get_secret_value(SecretId=name, VersionId=missing, VersionStage="AWSCURRENT")) == (
        "ResourceNotFoundException", f"Secrets Manager can't find the specified secret value for VersionId: {missing}",
        400)


def test_force_deleting_a_secret_that_does_not_exist_succeeds(sm: Any) -> None:
    name = _name()
    out = sm.delete_secret(SecretId=name, ForceDeleteWithoutRecovery=True)
    assert out["Name"] == name
    assert out["ARN"].startswith("arn:aws:secretsmanager:us-east-1:") and f":secret:{name}-" in out["ARN"]
    assert out["DeletionDate"] is not None
    # without force, a missing secret is still an error
    assert aws_error(lambda: sm.delete_secret(SecretId=name))[0] == "ResourceNotFoundException"


def test_system_tags_cannot_be_set(sm: Any) -> None:
    name = _name()
    sm.create_secret(Name=name, SecretString="s", Tags=[{"Key": "team", "Value": "a"}])
    tags = [{"Key": "ok", "Value": "1"}, {"Key": "aws:cloudformation:stack-name", "Value": "x"}]
    assert aws_error(lambda: sm.tag_resource(SecretId=name, Tags=tags)) == (
        "InvalidParameterException", "You can't modify system tags. Tag key: 'aws:cloudformation:stack-name'.", 400)
    assert sm.describe_secret(SecretId=name)["Tags"] == [{"Key": "team", "Value": "a"}]
