"""IAM service-specific credentials (CodeCommit/Keyspaces passwords, Bedrock API keys):
shapes and errors as real AWS answers them (LocalStack's AWS-validated snapshots of
tests/aws/services/iam/test_iam.py::TestIAMServiceSpecificCredentials)."""

from __future__ import annotations

import base64
import json
import time
import uuid
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest

from .conftest import AwsEnv, aws_error


def _name(prefix: str = "user") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def _account(admin: AwsEnv) -> str:
    sts: Any = admin.client("sts")
    return sts.get_caller_identity()["Account"]


def _user(iam: Any) -> str:
    name = _name()
    iam.create_user(UserName=name)
    return name


@pytest.mark.parametrize("service", ["codecommit.amazonaws.com", "cassandra.amazonaws.com"])
def test_lifecycle(admin: AwsEnv, service: str) -> None:
    iam: Any = admin.client("iam")
    user = _user(iam)
    created = iam.create_service_specific_credential(UserName=user, ServiceName=service)["ServiceSpecificCredential"]
    cred_id, password = created["ServiceSpecificCredentialId"], created["ServicePassword"]
    assert set(created) == {"CreateDate", "ServiceName", "ServicePassword", "ServiceSpecificCredentialId",
                            "ServiceUserName", "Status", "UserName"}
    assert created["ServiceUserName"] == f"{user}-at-{_account(admin)}"
    assert (created["ServiceName"], created["Status"], created["UserName"]) == (service, "Active", user)
    assert cred_id.startswith("ACCA") and len(cred_id) == 21 and len(password) >= 40

    listed = iam.list_service_specific_credentials(UserName=user, ServiceName=service)["ServiceSpecificCredentials"]
    assert listed == [{k: v for k, v in created.items() if k != "ServicePassword"}]  # the password is shown once

    iam.update_service_specific_credential(UserName=user, ServiceSpecificCredentialId=cred_id, Status="Inactive")
    listed = iam.list_service_specific_credentials(UserName=user, ServiceName=service)["ServiceSpecificCredentials"]
    assert [c["Status"] for c in listed] == ["Inactive"]

    reset = iam.reset_service_specific_credential(UserName=user, ServiceSpecificCredentialId=cred_id)[
        "ServiceSpecificCredential"]
    assert reset["ServiceSpecificCredentialId"] == cred_id and reset["Status"] == "Inactive"  # status kept
    assert reset["ServicePassword"] != password and reset["ServiceUserName"] == created["ServiceUserName"]

    iam.delete_service_specific_credential(UserName=user, ServiceSpecificCredentialId=cred_id)
    assert iam.list_service_specific_credentials(UserName=user)["ServiceSpecificCredentials"] == []


def test_create_for_a_user_that_does_not_exist(admin: AwsEnv) -> None:
    iam: Any = admin.client("iam")
    missing = ("NoSuchEntity", "The user with name non-existent-user cannot be found.", 404)
    for service in ("codecommit.amazonaws.com", "nonexistentservice.amazonaws.com"):  # the user is checked first
        assert aws_error(lambda: iam.create_service_specific_credential(
            UserName="non-existent-user", ServiceName=service)) == missing


@pytest.mark.parametrize("service", ["nonexistentservice.amazonaws.com", "o3on3n3onosneo", "lambda.amazonaws.com"])
def test_create_for_an_unsupported_service(admin: AwsEnv, service: str) -> None:
    iam: Any = admin.client("iam")
    user = _user(iam)
    assert aws_error(lambda: iam.create_service_specific_credential(UserName=user, ServiceName=service)) == (
        "NoSuchEntity", f"No such service {service} is supported for Service Specific Credentials", 404)


def test_list_filters_by_service(admin: AwsEnv) -> None:
    iam: Any = admin.client("iam")
    user = _user(iam)
    assert aws_error(lambda: iam.list_service_specific_credentials(
        UserName=user, ServiceName="nonexistentservice.amazonaws.com")) == (
        "NoSuchEntity",
        "No such service nonexistentservice.amazonaws.com is supported for Service Specific Credentials", 404)
    iam.create_service_specific_credential(UserName=user, ServiceName="codecommit.amazonaws.com")
    assert iam.list_service_specific_credentials(
        UserName=user, ServiceName="cassandra.amazonaws.com")["ServiceSpecificCredentials"] == []
    assert len(iam.list_service_specific_credentials(UserName=user)["ServiceSpecificCredentials"]) == 1


def test_delete_user_with_a_credential(admin: AwsEnv) -> None:
    iam: Any = admin.client("iam")
    user = _user(iam)
    cred = iam.create_service_specific_credential(UserName=user, ServiceName="codecommit.amazonaws.com")[
        "ServiceSpecificCredential"]
    assert aws_error(lambda: iam.delete_user(UserName=user)) == (
        "DeleteConflict", "Cannot delete entity, must remove referenced objects first.", 409)
    iam.delete_service_specific_credential(UserName=user,
                                           ServiceSpecificCredentialId=cred["ServiceSpecificCredentialId"])
    iam.delete_user(UserName=user)


def test_id_of_another_user(admin: AwsEnv) -> None:
    iam: Any = admin.client("iam")
    owner, other = _user(iam), _user(iam)
    cred_id = iam.create_service_specific_credential(UserName=owner, ServiceName="codecommit.amazonaws.com")[
        "ServiceSpecificCredential"]["ServiceSpecificCredentialId"]
    calls = {
        "update": lambda user: iam.update_service_specific_credential(
            UserName=user, ServiceSpecificCredentialId=cred_id, Status="Inactive"),
        "reset": lambda user: iam.reset_service_specific_credential(UserName=user, ServiceSpecificCredentialId=cred_id),
        "delete": lambda user: iam.delete_service_specific_credential(
            UserName=user, ServiceSpecificCredentialId=cred_id),
    }
    for op, call in calls.items():
        assert aws_error(lambda: call("wrong-user-name")) == (
            "NoSuchEntity", "The user with name wrong-user-name cannot be found.", 404), op
        assert aws_error(lambda: call(other)) == ("NoSuchEntity", f"No such credential {cred_id} exists", 404), op
    listed = iam.list_service_specific_credentials(UserName=owner)["ServiceSpecificCredentials"]
    assert [(c["ServiceSpecificCredentialId"], c["Status"]) for c in listed] == [(cred_id, "Active")]


@pytest.mark.parametrize("wrong_id, error", [
    ("totally-wrong-credential-id-with-hyphens",
     ("ValidationError", "1 validation error detected: Value at 'serviceSpecificCredentialId' failed to satisfy "
                         "constraint: Member must satisfy regular expression pattern: [\\w]+", 400)),
    ("satisfiesregexbutstillinvalid",
     ("NoSuchEntity", "No such credential satisfiesregexbutstillinvalid exists", 404)),
])
def test_user_with_a_wrong_id(admin: AwsEnv, wrong_id: str, error: tuple[str, str, int]) -> None:
    iam: Any = admin.client("iam")
    user = _user(iam)
    iam.create_service_specific_credential(UserName=user, ServiceName="codecommit.amazonaws.com")
    assert aws_error(lambda: iam.update_service_specific_credential(
        UserName=user, ServiceSpecificCredentialId=wrong_id, Status="Inactive")) == error
    assert aws_error(lambda: iam.reset_service_specific_credential(
        UserName=user, ServiceSpecificCredentialId=wrong_id)) == error
    assert aws_error(lambda: iam.delete_service_specific_credential(
        UserName=user, ServiceSpecificCredentialId=wrong_id)) == error


def test_update_with_an_invalid_status(admin: AwsEnv) -> None:
    iam: Any = admin.client("iam")
    user = _user(iam)
    cred_id = iam.create_service_specific_credential(UserName=user, ServiceName="codecommit.amazonaws.com")[
        "ServiceSpecificCredential"]["ServiceSpecificCredentialId"]
    assert aws_error(lambda: iam.update_service_specific_credential(
        ServiceSpecificCredentialId=cred_id, Status="Invalid")) == (
        "ValidationError", "1 validation error detected: Value at 'status' failed to satisfy constraint: "
                           "Member must satisfy enum value set", 400)


def test_two_per_user_per_service(admin: AwsEnv) -> None:
    iam: Any = admin.client("iam")
    user, account = _user(iam), _account(admin)
    names = [iam.create_service_specific_credential(UserName=user, ServiceName="codecommit.amazonaws.com")[
        "ServiceSpecificCredential"]["ServiceUserName"] for _ in range(2)]
    assert names == [f"{user}-at-{account}", f"{user}+1-at-{account}"]
    code, _, status = aws_error(lambda: iam.create_service_specific_credential(
        UserName=user, ServiceName="codecommit.amazonaws.com"))
    assert (code, status) == ("LimitExceeded", 409)
    # The quota is per service.
    iam.create_service_specific_credential(UserName=user, ServiceName="cassandra.amazonaws.com")
    assert len(iam.list_service_specific_credentials(UserName=user)["ServiceSpecificCredentials"]) == 3


def test_bedrock_api_key(admin: AwsEnv) -> None:
    iam: Any = admin.client("iam")
    user = _user(iam)
    created = iam.create_service_specific_credential(
        UserName=user, ServiceName="bedrock.amazonaws.com", CredentialAgeDays=30)["ServiceSpecificCredential"]
    assert "ServicePassword" not in created and "ServiceUserName" not in created
    alias, secret = created["ServiceCredentialAlias"], created["ServiceCredentialSecret"]
    assert alias.startswith(f"{user}-at-{_account(admin)}")
    assert secret.startswith("ABSK") and base64.b64decode(secret[4:]).decode().startswith(alias + ":")
    assert created["ExpirationDate"] - created["CreateDate"] == timedelta(days=30)
    listed = iam.list_service_specific_credentials(UserName=user)["ServiceSpecificCredentials"]
    assert listed == [{k: v for k, v in created.items() if k != "ServiceCredentialSecret"}]
    # AllUsers lists every user's credentials for the service.
    everyone = iam.list_service_specific_credentials(AllUsers=True, ServiceName="bedrock.amazonaws.com")
    assert created["ServiceSpecificCredentialId"] in [
        c["ServiceSpecificCredentialId"] for c in everyone["ServiceSpecificCredentials"]]
    assert created["ExpirationDate"] > datetime.now(timezone.utc)


def test_rename_user_keeps_its_credentials(admin: AwsEnv) -> None:
    iam: Any = admin.client("iam")
    user = _user(iam)
    cred_id = iam.create_service_specific_credential(UserName=user, ServiceName="codecommit.amazonaws.com")[
        "ServiceSpecificCredential"]["ServiceSpecificCredentialId"]
    new = _name("renamed")
    iam.update_user(UserName=user, NewUserName=new)
    listed = iam.list_service_specific_credentials(UserName=new)["ServiceSpecificCredentials"]
    assert [(c["ServiceSpecificCredentialId"], c["UserName"]) for c in listed] == [(cred_id, new)]


def test_cli_create_and_list(admin: AwsEnv) -> None:
    iam: Any = admin.client("iam")
    user = _user(iam)
    created = admin.aws_json("iam", "create-service-specific-credential", "--user-name", user,
                             "--service-name", "cassandra.amazonaws.com")["ServiceSpecificCredential"]
    assert created["ServicePassword"] and created["Status"] == "Active"
    listed = admin.aws_json("iam", "list-service-specific-credentials", "--user-name", user)
    assert [c["ServiceSpecificCredentialId"] for c in listed["ServiceSpecificCredentials"]] == [
        created["ServiceSpecificCredentialId"]]
    out = admin.aws("iam", "delete-user", "--user-name", user)
    assert out.returncode != 0 and "DeleteConflict" in out.stderr


def test_condition_on_the_service_name(admin: AwsEnv) -> None:
    key = admin.new_user({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": ["iam:CreateServiceSpecificCredential", "iam:ListServiceSpecificCredentials"],
         "Resource": "*",
         "Condition": {"StringEquals": {"iam:ServiceSpecificCredentialServiceName": "codecommit.amazonaws.com"}}},
        {"Effect": "Allow", "Action": "iam:DeleteServiceSpecificCredential", "Resource": "*"}]})
    iam: Any = admin.client_for(key, "iam")
    user = key["UserName"]
    cred_id = iam.create_service_specific_credential(UserName=user, ServiceName="codecommit.amazonaws.com")[
        "ServiceSpecificCredential"]["ServiceSpecificCredentialId"]
    code, message, status = aws_error(lambda: iam.create_service_specific_credential(
        UserName=user, ServiceName="cassandra.amazonaws.com"))
    assert (code, status) == ("AccessDenied", 403) and "iam:CreateServiceSpecificCredential" in message
    iam.delete_service_specific_credential(ServiceSpecificCredentialId=cred_id)  # UserName defaults to the caller


def test_the_password_stays_out_of_cloudtrail(admin: AwsEnv) -> None:
    iam: Any = admin.client("iam")
    user = _user(iam)
    created = iam.create_service_specific_credential(UserName=user, ServiceName="codecommit.amazonaws.com")
    request_id = created["ResponseMetadata"]["RequestId"]
    password = created["ServiceSpecificCredential"]["ServicePassword"]
    ct: Any = admin.client("cloudtrail")
    for _ in range(50):
        events = [e["CloudTrailEvent"] for e in ct.lookup_events(LookupAttributes=[
            {"AttributeKey": "EventName", "AttributeValue": "CreateServiceSpecificCredential"}])["Events"]]
        mine = [json.loads(e) for e in events if request_id in e]
        if mine:
            break
        time.sleep(0.1)
    assert mine and password not in json.dumps(mine)
    assert mine[0]["responseElements"]["serviceSpecificCredential"]["serviceUserName"].startswith(user)
