"""The CI engineer's workflow: run an app under a too-narrow role, find what it misses
from the AccessDenied messages and CloudTrail, and refine the policy."""

from __future__ import annotations

import json
import uuid
from typing import Any

from .conftest import AwsEnv, aws_error, wait_for


def _app_role(admin: AwsEnv, account: str, policy: dict[str, Any]) -> tuple[str, dict[str, str]]:
    """A role trusting the account with `policy` inline: (its ARN, a session's credentials)."""
    iam: Any = admin.client("iam")
    name = f"ci-app-{uuid.uuid4().hex[:8]}"
    trust = {"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{account}:root"}, "Action": "sts:AssumeRole"}]}
    arn = iam.create_role(RoleName=name, AssumeRolePolicyDocument=json.dumps(trust))["Role"]["Arn"]
    iam.put_role_policy(RoleName=name, PolicyName="app", PolicyDocument=json.dumps(policy))
    creds = admin.client("sts").assume_role(RoleArn=arn, RoleSessionName="ci")["Credentials"]  # type: ignore[attr-defined]
    return arn, creds


def test_decrypt_without_key_id_names_the_ciphertexts_resource(admin: AwsEnv, account: str) -> None:
    # AWS: "... is not authorized to perform: kms:Decrypt on the resource associated with
    # this ciphertext because no identity-based policy allows the kms:Decrypt action"
    # (IAM Identity Center user guide, troubleshooting customer managed keys).
    kms: Any = admin.client("kms")
    key = kms.create_key()["KeyMetadata"]
    blob = kms.encrypt(KeyId=key["KeyId"], Plaintext=b"secret")["CiphertextBlob"]
    role, creds = _app_role(admin, account, {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": "kms:Encrypt", "Resource": "*"}]})
    app_kms = admin.client_for(creds, "kms")
    session = f"arn:aws:sts::{account}:assumed-role/{role.rsplit('/', 1)[1]}/ci"

    code, message, status = aws_error(lambda: app_kms.decrypt(CiphertextBlob=blob))
    assert (code, status) == ("AccessDeniedException", 400)
    assert message == (f"User: {session} is not authorized to perform: kms:Decrypt on the resource associated "
                       "with this ciphertext because no identity-based policy allows the kms:Decrypt action")
    assert key["Arn"] not in message

    # Naming the key in the request names it in the denial, as before.
    _, named, _ = aws_error(lambda: app_kms.decrypt(CiphertextBlob=blob, KeyId=key["KeyId"]))
    assert f"kms:Decrypt on resource: {key['Arn']} because" in named

    # CloudTrail's errorMessage is the message the caller saw.
    trail: Any = admin.client("cloudtrail")

    def recorded() -> list[dict[str, Any]]:
        events = trail.lookup_events(LookupAttributes=[{"AttributeKey": "EventName", "AttributeValue": "Decrypt"}],
                                     MaxResults=50)["Events"]
        found = [json.loads(e["CloudTrailEvent"]) for e in events]
        return [e for e in found if e["userIdentity"].get("arn") == session]

    events = wait_for(lambda: len(recorded()) >= 2 and recorded())
    assert {e["errorMessage"] for e in events} == {message, named}
    assert all(e["errorCode"] == "AccessDeniedException" for e in events)


def test_last_accessed_reports_the_services_and_actions_the_app_used(admin: AwsEnv, account: str) -> None:
    # IAM API reference, GenerateServiceLastAccessedDetails / GetServiceLastAccessedDetails:
    # the report lists the services the entity's policies allow, with its last attempt
    # (denied ones included) on each, and at ACTION_LEVEL the tracked actions it used.
    ssm: Any = admin.client("ssm")
    name = f"/ci/{uuid.uuid4().hex[:8]}"
    ssm.put_parameter(Name=name, Value="v", Type="String")
    role, creds = _app_role(admin, account, {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": ["ssm:GetParameter", "ssm:PutParameter", "sqs:*"], "Resource": "*"}]})
    app_ssm = admin.client_for(creds, "ssm")
    assert app_ssm.get_parameter(Name=name)["Parameter"]["Value"] == "v"
    aws_error(lambda: app_ssm.delete_parameter(Name=name))  # denied: still an attempt

    job = admin.aws_json("iam", "generate-service-last-accessed-details", "--arn", role,
                         "--granularity", "ACTION_LEVEL")["JobId"]
    report = admin.aws_json("iam", "get-service-last-accessed-details", "--job-id", job)
    assert report["JobStatus"] == "COMPLETED" and report["JobType"] == "ACTION_LEVEL"
    services = {s["ServiceNamespace"]: s for s in report["ServicesLastAccessed"]}
    assert set(services) == {"ssm", "sqs"}
    used = services["ssm"]
    assert used["ServiceName"] == "AWS Systems Manager"
    assert used["LastAuthenticatedEntity"] == role and used["LastAuthenticatedRegion"] == "us-east-1"
    assert used["TotalAuthenticatedEntities"] == 1 and "LastAuthenticated" in used
    assert {a["ActionName"] for a in used["TrackedActionsLastAccessed"]} == {"GetParameter", "DeleteParameter"}
    unused = services["sqs"]
    assert unused["TotalAuthenticatedEntities"] == 0 and "LastAuthenticated" not in unused

    # Refine: keep exactly what was used and allowed; the app still works, a neighbour is denied.
    iam: Any = admin.client("iam")
    iam.put_role_policy(RoleName=role.rsplit("/", 1)[1], PolicyName="app", PolicyDocument=json.dumps({
        "Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "ssm:GetParameter", "Resource": "*"}]}))
    assert app_ssm.get_parameter(Name=name)["Parameter"]["Value"] == "v"
    code, message, _ = aws_error(lambda: app_ssm.put_parameter(Name=name, Value="w", Type="String", Overwrite=True))
    assert code == "AccessDeniedException"
    assert "because no identity-based policy allows the ssm:PutParameter action" in message
    service_level = admin.aws_json("iam", "get-service-last-accessed-details", "--job-id", admin.aws_json(
        "iam", "generate-service-last-accessed-details", "--arn", role)["JobId"])
    assert service_level["JobType"] == "SERVICE_LEVEL"
    assert [s["ServiceNamespace"] for s in service_level["ServicesLastAccessed"]] == ["ssm"]
    assert "TrackedActionsLastAccessed" not in service_level["ServicesLastAccessed"][0]


def test_last_accessed_unknown_entity_and_job(admin: AwsEnv, account: str) -> None:
    iam: Any = admin.client("iam")
    code, _, status = aws_error(lambda: iam.generate_service_last_accessed_details(
        Arn=f"arn:aws:iam::{account}:role/no-such-{uuid.uuid4().hex[:6]}"))
    assert (code, status) == ("NoSuchEntity", 404)
    code, _, status = aws_error(lambda: iam.get_service_last_accessed_details(JobId=str(uuid.uuid4())))
    assert (code, status) == ("NoSuchEntity", 404)


def test_simulation_refuses_a_session_or_root_as_caller(admin: AwsEnv, account: str) -> None:
    # IAM API reference, SimulatePrincipalPolicy/SimulateCustomPolicy CallerArn: "You cannot
    # specify the ARN of an assumed role, federated user, or a service principal" (only an
    # IAM user, group or role). A CI check simulating as its session ARN must fail as on AWS.
    role, _ = _app_role(admin, account, {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": "s3:PutObject", "Resource": "*"}]})
    iam: Any = admin.client("iam")
    policy = json.dumps({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:*", "Resource": "*"}]})
    session = f"arn:aws:sts::{account}:assumed-role/{role.rsplit('/', 1)[1]}/ci"
    for caller in (session, f"arn:aws:sts::{account}:federated-user/bob", f"arn:aws:iam::{account}:root"):
        code, message, status = aws_error(lambda: iam.simulate_principal_policy(
            PolicySourceArn=role, ActionNames=["s3:GetObject"], CallerArn=caller))
        assert (code, status) == ("InvalidInput", 400), caller
        assert caller in message
        code, _, _ = aws_error(lambda: iam.simulate_custom_policy(
            PolicyInputList=[policy], ActionNames=["s3:GetObject"], CallerArn=caller))
        assert code == "InvalidInput", caller
    # The role itself may be the caller.
    [result] = iam.simulate_principal_policy(PolicySourceArn=role, ActionNames=["s3:PutObject"],
                                             CallerArn=role)["EvaluationResults"]
    assert result["EvalDecision"] == "allowed"


def test_last_accessed_of_a_managed_policy_and_a_group(admin: AwsEnv, account: str) -> None:
    # GenerateServiceLastAccessedDetails takes "the ARN of an IAM resource (user, group,
    # role, or managed policy)" (IAM API reference); a policy's report covers the entities
    # it is attached to, a group's its members.
    iam: Any = admin.client("iam")
    tag = uuid.uuid4().hex[:8]
    policy_arn = iam.create_policy(PolicyName=f"ci-{tag}", PolicyDocument=json.dumps({
        "Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "ssm:DescribeParameters",
                                                "Resource": "*"}]}))["Policy"]["Arn"]
    group = f"ci-{tag}"
    iam.create_group(GroupName=group)
    iam.attach_group_policy(GroupName=group, PolicyArn=policy_arn)
    user = f"ci-{tag}"
    user_arn = iam.create_user(UserName=user)["User"]["Arn"]
    iam.add_user_to_group(GroupName=group, UserName=user)
    key = iam.create_access_key(UserName=user)["AccessKey"]
    admin.client_for(key, "ssm").describe_parameters()

    for arn in (policy_arn, f"arn:aws:iam::{account}:group/{group}"):
        job = iam.generate_service_last_accessed_details(Arn=arn)["JobId"]
        [service] = iam.get_service_last_accessed_details(JobId=job)["ServicesLastAccessed"]
        assert service["ServiceNamespace"] == "ssm", arn
        assert service["LastAuthenticatedEntity"] == user_arn and service["TotalAuthenticatedEntities"] == 1, arn
