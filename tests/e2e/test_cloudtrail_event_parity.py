"""Recorded events shaped as AWS documents them (CloudTrail, IAM/STS, S3, KMS and
Secrets Manager user guides' example records), member by member."""

from __future__ import annotations

import json
import uuid
from typing import Any

import pytest

from .conftest import AwsEnv, Server, new_account

_ALL = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}


def _event(server: Server, response: dict[str, Any]) -> dict[str, Any]:
    """The event recorded for a call in the caller's account (`skyhold explain --json`)."""
    out = server.cli("explain", response["ResponseMetadata"]["RequestId"], "--json")
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout)["event"]


@pytest.fixture(scope="module")
def user(admin: AwsEnv) -> dict:
    return admin.new_user(_ALL)


def test_kms_cryptographic_calls_are_reads_with_key_material_and_context(admin: AwsEnv, server: Server,
                                                                         user: dict) -> None:
    kms = admin.client_for(user, "kms")
    key = kms.create_key()
    metadata = _event(server, key)["responseElements"]["keyMetadata"]
    assert metadata["AWSAccountId"] == key["KeyMetadata"]["AWSAccountId"] and "aWSAccountId" not in metadata
    key_id = key["KeyMetadata"]["KeyId"]
    context = {"Department": "Finance", "project": "alpha"}
    data_key = kms.generate_data_key(KeyId=key_id, KeySpec="AES_256", EncryptionContext=context)
    event = _event(server, data_key)
    assert event["requestParameters"] == {"keyId": key_id, "keySpec": "AES_256", "encryptionContext": context}
    assert event["responseElements"] is None and event["readOnly"] is True
    assert event["additionalEventData"] == {"keyMaterialId": data_key["KeyMaterialId"]}
    assert event["resources"] == [{"accountId": key["KeyMetadata"]["AWSAccountId"], "type": "AWS::KMS::Key",
                                   "ARN": key["KeyMetadata"]["Arn"]}]

    decrypted = kms.decrypt(CiphertextBlob=data_key["CiphertextBlob"], EncryptionContext=context)
    event = _event(server, decrypted)
    # KMS always writes the algorithm, even when the request left it to its default
    assert event["requestParameters"] == {"encryptionContext": context, "encryptionAlgorithm": "SYMMETRIC_DEFAULT"}
    assert event["responseElements"] is None and event["readOnly"] is True
    assert event["additionalEventData"]["keyMaterialId"] == data_key["KeyMaterialId"]

    event = _event(server, kms.encrypt(KeyId=key_id, Plaintext=b"x"))
    assert event["requestParameters"] == {"keyId": key_id, "encryptionAlgorithm": "SYMMETRIC_DEFAULT"}
    assert event["responseElements"] is None and event["readOnly"] is True


def test_s3_data_events_name_bucket_host_and_key(admin: AwsEnv, server: Server, user: dict) -> None:
    s3 = admin.client_for(user, "s3")
    bucket = f"ctparity-{uuid.uuid4().hex[:10]}"
    created = _event(server, s3.create_bucket(Bucket=bucket))
    host = created["requestParameters"]["Host"]
    assert host.startswith("127.0.0.1:") or bucket in host
    assert created["requestParameters"]["bucketName"] == bucket and "bucket" not in created["requestParameters"]

    put = _event(server, s3.put_object(Bucket=bucket, Key="dir/a.txt", Body=b"hello"))
    assert list(put["requestParameters"])[:3] == ["bucketName", "Host", "key"]
    assert (put["requestParameters"]["bucketName"], put["requestParameters"]["key"]) == (bucket, "dir/a.txt")
    assert put["userAgent"].startswith("[") and put["userAgent"].endswith("]")  # S3 brackets the user agent
    assert put["additionalEventData"] == {"SignatureVersion": "SigV4", "AuthenticationMethod": "AuthHeader",
                                          "bytesTransferredIn": 5, "bytesTransferredOut": 0}
    assert put["eventCategory"] == "Data" and put["managementEvent"] is False and put["readOnly"] is False

    got = _event(server, s3.get_object(Bucket=bucket, Key="dir/a.txt"))
    assert got["requestParameters"]["key"] == "dir/a.txt" and got["responseElements"] is None
    assert got["additionalEventData"]["bytesTransferredOut"] == 5
    assert got["additionalEventData"]["bytesTransferredIn"] == 0
    assert got["readOnly"] is True

    import urllib.request

    import boto3
    from botocore.config import Config

    signer = boto3.client("s3", endpoint_url=admin.endpoint, region_name="us-east-1",
                          aws_access_key_id=user["AccessKeyId"], aws_secret_access_key=user["SecretAccessKey"],
                          config=Config(signature_version="s3v4"))
    url = signer.generate_presigned_url("get_object", Params={"Bucket": bucket, "Key": "dir/a.txt"})

    with urllib.request.urlopen(url) as answer:
        request_id = answer.headers["x-amz-request-id"]
    out = server.cli("explain", request_id, "--json")
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout)["event"]["additionalEventData"]["AuthenticationMethod"] == "QueryString"


def test_secrets_manager_writes_arn_in_lower_case(admin: AwsEnv, server: Server, user: dict) -> None:
    sm = admin.client_for(user, "secretsmanager")
    created = sm.create_secret(Name=f"ctparity-{uuid.uuid4().hex[:8]}", SecretString="s3cr3t")
    elements = _event(server, created)["responseElements"]
    assert elements["arn"] == created["ARN"] and "aRN" not in elements


def test_iam_events_name_no_resources(admin: AwsEnv, server: Server, user: dict) -> None:
    event = _event(server, admin.client_for(user, "iam").list_users())
    assert "resources" not in event  # not even a made-up "arn:aws:iam::<account>:user/"


def test_role_session_context_in_aws_order(admin: AwsEnv, server: Server, user: dict) -> None:
    iam = admin.client("iam")
    account = admin.client("sts").get_caller_identity()["Account"]
    name = f"ctparity-{uuid.uuid4().hex[:6]}"
    iam.create_role(RoleName=name, AssumeRolePolicyDocument=json.dumps({
        "Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{account}:root"},
                                                "Action": ["sts:AssumeRole", "sts:SetSourceIdentity"]}]}))
    creds = admin.client_for(user, "sts").assume_role(
        RoleArn=f"arn:aws:iam::{account}:role/{name}", RoleSessionName="ss", SourceIdentity="alice")["Credentials"]
    import boto3

    sts = boto3.client("sts", endpoint_url=admin.endpoint, region_name="us-east-1",
                       aws_access_key_id=creds["AccessKeyId"], aws_secret_access_key=creds["SecretAccessKey"],
                       aws_session_token=creds["SessionToken"])
    ident = _event(server, sts.get_caller_identity())["userIdentity"]
    assert list(ident["sessionContext"]) == ["sessionIssuer", "webIdFederationData", "attributes", "sourceIdentity"]
    assert ident["sessionContext"]["sourceIdentity"] == "alice"
    assert "sourceIdentity" not in ident  # written in the session context only


def test_cross_account_events_share_an_id_and_show_the_caller_as_an_account(admin: AwsEnv, server: Server,
                                                                            tmp_path) -> None:
    partner, _ = new_account(server, tmp_path, "ctshared")
    account = admin.client("sts").get_caller_identity()["Account"]
    role_arn = partner.client("iam").create_role(RoleName="shared", AssumeRolePolicyDocument=json.dumps({
        "Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{account}:root"},
                                                "Action": "sts:AssumeRole"}]}))["Role"]["Arn"]
    request_id = admin.client("sts").assume_role(RoleArn=role_arn, RoleSessionName="visit")[
        "ResponseMetadata"]["RequestId"]

    def recorded(env: AwsEnv) -> dict:
        events = env.client("cloudtrail").lookup_events(
            LookupAttributes=[{"AttributeKey": "EventName", "AttributeValue": "AssumeRole"}])["Events"]
        return next(e for e in map(lambda e: json.loads(e["CloudTrailEvent"]), events) if e["requestID"] == request_id)

    mine, theirs = recorded(admin), recorded(partner)
    assert mine["sharedEventID"] == theirs["sharedEventID"] and mine["eventID"] != theirs["eventID"]
    assert theirs["userIdentity"] == {"type": "AWSAccount", "principalId": mine["userIdentity"]["principalId"],
                                      "accountId": account}
    assert "arn" in mine["userIdentity"]  # the caller's own account sees the caller in full
