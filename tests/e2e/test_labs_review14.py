"""Labs a learner does, end to end, with AWS's own tutorials' policies and commands:
each test is one lab step where Skyhold answered differently from the tutorial."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.config import Config

from .conftest import VENV_BIN, AwsEnv, Server, aws_error, wait_for, web_identity_role

# Each test's instances count against the shared account's quota till the module is done.
pytestmark = pytest.mark.usefixtures("instances_terminated")


def _uniq(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"




def _account(admin: AwsEnv) -> str:
    sts: Any = admin.client("sts")
    return str(sts.get_caller_identity()["Account"])


# --- IAM tutorial: Define permissions to access AWS resources based on tags (ABAC) ---

def _abac_tags(project: str, team: str, cost_center: str) -> list[dict[str, str]]:
    return [{"Key": "access-project", "Value": project}, {"Key": "access-team", "Value": team},
            {"Key": "cost-center", "Value": cost_center}]


def _abac_assume_role_policy(account: str, prefix: str) -> dict[str, Any]:
    """The tutorial's access-assume-role policy (roles named with our prefix)."""
    return {"Version": "2012-10-17", "Statement": [{
        "Sid": "TutorialAssumeRole", "Effect": "Allow", "Action": "sts:AssumeRole",
        "Resource": f"arn:aws:iam::{account}:role/{prefix}-*",
        "Condition": {"StringEquals": {
            "iam:ResourceTag/access-project": "${aws:PrincipalTag/access-project}",
            "iam:ResourceTag/access-team": "${aws:PrincipalTag/access-team}",
            "iam:ResourceTag/cost-center": "${aws:PrincipalTag/cost-center}"}}}]}


# The tutorial's access-same-project-team policy, as its Step 2 gives it.
ABAC_SAME_PROJECT_TEAM = {"Version": "2012-10-17", "Statement": [
    {"Sid": "AllActionsSecretsManagerSameProjectSameTeam", "Effect": "Allow", "Action": "secretsmanager:*",
     "Resource": "*", "Condition": {
         "StringEquals": {"aws:ResourceTag/access-project": "${aws:PrincipalTag/access-project}",
                          "aws:ResourceTag/access-team": "${aws:PrincipalTag/access-team}",
                          "aws:ResourceTag/cost-center": "${aws:PrincipalTag/cost-center}"},
         "ForAllValues:StringEquals": {"aws:TagKeys": ["access-project", "access-team", "cost-center", "Name",
                                                       "OwnedBy"]},
         "StringEqualsIfExists": {"aws:RequestTag/access-project": "${aws:PrincipalTag/access-project}",
                                  "aws:RequestTag/access-team": "${aws:PrincipalTag/access-team}",
                                  "aws:RequestTag/cost-center": "${aws:PrincipalTag/cost-center}"}}},
    {"Sid": "AllResourcesSecretsManagerNoTags", "Effect": "Allow",
     "Action": ["secretsmanager:GetRandomPassword", "secretsmanager:ListSecrets"], "Resource": "*"},
    {"Sid": "ReadSecretsManagerSameTeam", "Effect": "Allow",
     "Action": ["secretsmanager:Describe*", "secretsmanager:Get*", "secretsmanager:List*"], "Resource": "*",
     "Condition": {"StringEquals": {"aws:ResourceTag/access-team": "${aws:PrincipalTag/access-team}"}}},
    {"Sid": "DenyUntagSecretsManagerReservedTags", "Effect": "Deny", "Action": "secretsmanager:UntagResource",
     "Resource": "*", "Condition": {"StringLike": {"aws:TagKeys": "access-*"}}},
    {"Sid": "DenyPermissionsManagement", "Effect": "Deny", "Action": "secretsmanager:*Policy", "Resource": "*"}]}


def _abac_setup(admin: AwsEnv) -> tuple[str, dict[str, Any], str, str]:
    """Steps 1-3: a tagged user with access-assume-role, and two tagged roles with
    access-same-project-team (peg engineering, uni engineering)."""
    iam: Any = admin.client("iam")
    account = _account(admin)
    prefix = _uniq("access")
    assume = iam.create_policy(PolicyName=f"{prefix}-assume-role",
                               PolicyDocument=json.dumps(_abac_assume_role_policy(account, prefix)))["Policy"]["Arn"]
    same = iam.create_policy(PolicyName=f"{prefix}-same-project-team",
                             PolicyDocument=json.dumps(ABAC_SAME_PROJECT_TEAM))["Policy"]["Arn"]
    user = f"{prefix}-Arnav-peg-eng"
    iam.create_user(UserName=user, Tags=_abac_tags("peg", "eng", "987654"))
    iam.attach_user_policy(UserName=user, PolicyArn=assume)
    key = iam.create_access_key(UserName=user)["AccessKey"]
    trust = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{account}:root"},
                                                     "Action": "sts:AssumeRole"}]}
    roles = []
    for name, tags in ((f"{prefix}-peg-engineering", _abac_tags("peg", "eng", "987654")),
                       (f"{prefix}-uni-engineering", _abac_tags("uni", "eng", "123456"))):
        roles.append(iam.create_role(RoleName=name, AssumeRolePolicyDocument=json.dumps(trust),
                                     Tags=tags)["Role"]["Arn"])
        iam.attach_role_policy(RoleName=name, PolicyArn=same)
    return prefix, key, roles[0], roles[1]


def test_abac_step4_user_switches_only_to_the_role_whose_tags_match(admin: AwsEnv) -> None:
    """Step 4: access-Arnav-peg-eng cannot switch to access-uni-engineering (tags differ)
    but can switch to access-peg-engineering: the role's tags are iam:ResourceTag/… of
    sts:AssumeRole (Service Authorization Reference). Skyhold left them out, so the
    tutorial's access-assume-role policy never allowed any role."""
    prefix, key, peg_role, uni_role = _abac_setup(admin)
    sts: Any = admin.client_for(key, "sts")
    creds = sts.assume_role(RoleArn=peg_role, RoleSessionName="arnav")["Credentials"]
    assert admin.client_for(creds, "sts").get_caller_identity()["Arn"].endswith(f"{prefix}-peg-engineering/arnav")
    code, message, status = aws_error(lambda: sts.assume_role(RoleArn=uni_role, RoleSessionName="arnav"))
    assert (code, status) == ("AccessDenied", 403)
    assert f"sts:AssumeRole on resource: {uni_role}" in message


def test_abac_step4_role_creates_a_secret_tagged_like_itself(admin: AwsEnv) -> None:
    """Step 4: as access-peg-engineering, creating test-access-peg-eng fails with missing,
    extra or mismatched tags, and "the last tag set is allowed and will successfully
    create the secret": on CreateSecret the new secret's tags are its aws:ResourceTag/…
    (the reference lists that key for CreateSecret). Skyhold refused every tag set."""
    prefix, key, peg_role, _ = _abac_setup(admin)
    sts: Any = admin.client_for(key, "sts")
    sm = admin.client_for(sts.assume_role(RoleArn=peg_role, RoleSessionName="arnav")["Credentials"], "secretsmanager")
    name = f"test-{prefix}-peg-eng"
    for tags in ([], _abac_tags("peg", "eng", "987654")[:2], _abac_tags("uni", "eng", "123456"),
                 [*_abac_tags("peg", "eng", "987654"), {"Key": "Other", "Value": "x"}]):
        code, _, status = aws_error(lambda: sm.create_secret(Name=name, SecretString="s", Tags=tags))
        assert (code, status) == ("AccessDeniedException", 400), tags
    made = sm.create_secret(Name=name, SecretString="s",
                            Tags=[*_abac_tags("peg", "eng", "987654"), {"Key": "Name", "Value": "n"}])
    assert made["Name"] == name
    # Step 7: the role updates its own secret but may not strip its access-* tags.
    sm.update_secret(SecretId=name, Description="updated")
    code, _, _ = aws_error(lambda: sm.untag_resource(SecretId=name, TagKeys=["access-team"]))
    assert code == "AccessDeniedException"



def test_abac_explain_the_roles_denial_by_role_name(admin: AwsEnv, server: Server) -> None:
    """Investigating the tutorial's denied secret: `skyhold explain --last-denied` takes
    "user/role/session name" or ARN, but a role session's denial was found only by the
    session ARN the CLI made up, never by the role's name or ARN the learner knows."""
    prefix, key, peg_role, _ = _abac_setup(admin)
    sts: Any = admin.client_for(key, "sts")
    sm = admin.client_for(sts.assume_role(RoleArn=peg_role, RoleSessionName="arnav")["Credentials"], "secretsmanager")
    name = f"test-{prefix}-untagged"
    code, _, _ = aws_error(lambda: sm.create_secret(Name=name, SecretString="s"))
    assert code == "AccessDeniedException"
    for who in (f"{prefix}-peg-engineering", peg_role):
        why = server.cli("explain", "--last-denied", who)
        assert why.returncode == 0, why.stderr
        assert "call:      secretsmanager:CreateSecret" in why.stdout, why.stdout
        assert f"secret:{name}" in why.stdout


# --- Decode an EC2 authorization failure message (aws sts decode-authorization-message) ---

def test_decoded_message_lists_the_deny_statement_as_aws_shows_it(admin: AwsEnv) -> None:
    """The STS API reference's decode-authorization-message example: an explicit deny's
    matchedStatements hold the Deny statement as {"statementId", "effect": "DENY",
    "principals", "principalGroups", "actions", "resources", "conditions"}, each list
    as {"items": [{"value": …}]}. Skyhold listed every applying statement (the Allow
    too) with an "Allow"/"Deny" effect and none of the statement's parts."""
    deny = {"Sid": "VisualEditor0", "Effect": "Deny", "Action": "ec2:CreateKeyPair", "Resource": "*",
            "Condition": {"StringNotEquals": {"aws:RequestedRegion": "eu-west-1"}}}
    key = admin.new_user({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": "ec2:*", "Resource": "*"}, deny]})
    ec2: Any = admin.client_for(key, "ec2")
    code, message, _ = aws_error(lambda: ec2.create_key_pair(KeyName=_uniq("lab-decode")))
    assert code == "UnauthorizedOperation"
    encoded = message.split("Encoded authorization failure message: ")[1]
    decoder = admin.client_for(admin.new_user({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": "sts:DecodeAuthorizationMessage", "Resource": "*"}]}), "sts")
    decoded = json.loads(decoder.decode_authorization_message(EncodedMessage=encoded)["DecodedMessage"])
    assert (decoded["allowed"], decoded["explicitDeny"]) == (False, True)
    caller_id = decoded["context"]["principal"]["id"]
    assert decoded["matchedStatements"]["items"] == [{
        "statementId": "VisualEditor0", "effect": "DENY", "principals": {"items": [{"value": caller_id}]},
        "principalGroups": {"items": []}, "actions": {"items": [{"value": "ec2:CreateKeyPair"}]},
        "resources": {"items": [{"value": "*"}]},
        "conditions": {"items": [{"key": "aws:RequestedRegion", "values": {"items": [{"value": "eu-west-1"}]}}]}}]

# --- Secrets Manager: rotate a secret with AWS's rotation function template ---

# The checks and createSecret/finishSecret steps of AWS's SecretsManagerRotationTemplate
# (aws-samples/aws-secrets-manager-rotation-lambdas), as a local "function" that reads
# the event on standard input.
ROTATION_TEMPLATE = """
import json, sys, boto3
event = json.loads(sys.stdin.read())
arn, token, step = event["SecretId"], event["ClientRequestToken"], event["Step"]
client = boto3.client("secretsmanager")
metadata = client.describe_secret(SecretId=arn)
if not metadata["RotationEnabled"]:
    raise ValueError("Secret %s is not enabled for rotation" % arn)
versions = metadata["VersionIdsToStages"]
if token not in versions:
    raise ValueError("Secret version %s has no stage for rotation of secret %s." % (token, arn))
if "AWSCURRENT" in versions[token]:
    sys.exit(0)
elif "AWSPENDING" not in versions[token]:
    raise ValueError("Secret version %s not set as AWSPENDING for rotation of secret %s." % (token, arn))
if step == "createSecret":
    client.get_secret_value(SecretId=arn, VersionStage="AWSCURRENT")
    try:
        client.get_secret_value(SecretId=arn, VersionId=token, VersionStage="AWSPENDING")
    except client.exceptions.ResourceNotFoundException:
        password = client.get_random_password(ExcludeCharacters="/@")["RandomPassword"]
        client.put_secret_value(SecretId=arn, ClientRequestToken=token, SecretString=password,
                                VersionStages=["AWSPENDING"])
elif step == "finishSecret":
    current = None
    for version, stages in client.describe_secret(SecretId=arn)["VersionIdsToStages"].items():
        if "AWSCURRENT" in stages:
            if version == token:
                sys.exit(0)
            current = version
    client.update_secret_version_stage(SecretId=arn, VersionStage="AWSCURRENT", MoveToVersionId=token,
                                       RemoveFromVersionId=current)
"""


def test_rotation_with_aws_template_finds_its_pending_version(admin: AwsEnv, server: Server, tmp_path: Path) -> None:
    """AWS's rotation templates start every step by checking that the event's token is a
    version labeled AWSPENDING: "During rotation, Secrets Manager creates an AWSPENDING
    version ID before creating the new secret version" (DescribeSecret,
    VersionIdsToStages), and GetSecretValue finds no value there until createSecret
    puts one. Skyhold made no such version, so the template failed at createSecret and
    the secret never rotated."""
    iam: Any = admin.client("iam")
    role = iam.create_role(RoleName=_uniq("lab-rotation"), AssumeRolePolicyDocument=json.dumps({
        "Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"},
                                                "Action": "sts:AssumeRole"}]}))["Role"]
    iam.put_role_policy(RoleName=role["RoleName"], PolicyName="rotate", PolicyDocument=json.dumps({
        "Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Resource": "*", "Action": [
            "secretsmanager:DescribeSecret", "secretsmanager:GetSecretValue", "secretsmanager:PutSecretValue",
            "secretsmanager:UpdateSecretVersionStage", "secretsmanager:GetRandomPassword"]}]}))
    script = tmp_path / "lambda_function.py"
    script.write_text(ROTATION_TEMPLATE)
    reg = subprocess.run([str(VENV_BIN / "skyhold"), "rotation", "register", "--data-dir", str(server.data_dir),
                          "--role-arn", role["Arn"], _uniq("lab-template"), "--", sys.executable, str(script)],
                         capture_output=True, text=True, env={**os.environ, **admin.env})
    assert reg.returncode == 0, reg.stderr
    sm: Any = admin.client("secretsmanager")
    name = _uniq("lab-rotated")
    first = sm.create_secret(Name=name, SecretString="initial")["VersionId"]
    token = sm.rotate_secret(SecretId=name, RotationLambdaARN=reg.stdout.strip(),
                             RotationRules={"AutomaticallyAfterDays": 30})["VersionId"]

    def rotated() -> bool:
        return "AWSCURRENT" in sm.describe_secret(SecretId=name)["VersionIdsToStages"].get(token, [])

    wait_for(rotated, timeout=60)
    stages = sm.describe_secret(SecretId=name)["VersionIdsToStages"]
    assert stages[first] == ["AWSPREVIOUS"]
    value = sm.get_secret_value(SecretId=name)
    assert value["VersionId"] == token and value["SecretString"] != "initial"


# --- EC2: an instance role, read from inside the instance with IMDSv2 ---

LIST_METADATA = r'''
import os, urllib.request
base = os.environ["AWS_EC2_METADATA_SERVICE_ENDPOINT"].rstrip("/")
put = urllib.request.Request(base + "/latest/api/token", method="PUT",
                             headers={"X-aws-ec2-metadata-token-ttl-seconds": "21600"})
token = urllib.request.urlopen(put).read().decode()
get = urllib.request.Request(base + "/latest/meta-data/", headers={"X-aws-ec2-metadata-token": token})
print(urllib.request.urlopen(get).read().decode())
'''


def test_instance_metadata_listing_is_in_aws_order(admin: AwsEnv, server: Server, launched: list[str]) -> None:
    """`curl -H "X-aws-ec2-metadata-token: $TOKEN" http://169.254.169.254/latest/meta-data/`
    on an instance with a role lists the categories alphabetically, iam/ between
    hostname and identity-credentials/ (EC2 User Guide, instance metadata retrieval
    example). Skyhold added iam/ at the end of the listing."""
    iam: Any = admin.client("iam")
    name = _uniq("lab-instance")
    iam.create_role(RoleName=name, AssumeRolePolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"}, "Action": "sts:AssumeRole"}]}))
    iam.create_instance_profile(InstanceProfileName=name)
    iam.add_role_to_instance_profile(InstanceProfileName=name, RoleName=name)
    ec2: Any = admin.client("ec2")
    instance = ec2.run_instances(ImageId="ami-0453ec754f44f9a4a", MinCount=1, MaxCount=1,
                                 IamInstanceProfile={"Name": name})["Instances"][0]["InstanceId"]
    launched.append(instance)
    out = subprocess.run([str(VENV_BIN / "skyhold"), "instance", "exec", "--data-dir", str(server.data_dir),
                          "--endpoint", server.endpoint, instance, "--", sys.executable, "-c", LIST_METADATA],
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    listing = out.stdout.split()
    assert listing == sorted(listing)
    assert listing.index("iam/") == listing.index("hostname") + 1


# --- Web identity federation (GitHub Actions style OIDC role) ---

def test_web_identity_refusal_says_what_aws_says(admin: AwsEnv, server: Server) -> None:
    """A token whose subject the role's trust policy does not accept: AWS answers
    AccessDenied "Not authorized to perform sts:AssumeRoleWithWebIdentity" (the text SDKs
    and GitHub Actions users see). Skyhold named the OIDC provider as a "User" and the
    role, in the text of an IAM user's denial."""
    role = web_identity_role(server, admin, "repo:octo-org/octo-repo:ref:refs/heads/main", "lab-gha")
    token = server.cli("oidc", "token", "--sub", "repo:octo-org/octo-repo:ref:refs/heads/dev").stdout.strip()
    sts = boto3.client("sts", endpoint_url=admin.endpoint, region_name="us-east-1",
                       aws_access_key_id="unused", aws_secret_access_key="unused",
                       config=Config(retries={"max_attempts": 1}))
    assert aws_error(lambda: sts.assume_role_with_web_identity(
        RoleArn=role, RoleSessionName="gh", WebIdentityToken=token)) == (
        "AccessDenied", "Not authorized to perform sts:AssumeRoleWithWebIdentity", 403)


ROLE_DELIVERY_PROBE = r'''
import json, os, sys, urllib.request
import boto3
from botocore.exceptions import ClientError
base = os.environ["AWS_EC2_METADATA_SERVICE_ENDPOINT"].rstrip("/")
path = base + "/latest/meta-data/iam/security-credentials/" + sys.argv[1]
put = urllib.request.Request(base + "/latest/api/token", method="PUT",
                             headers={"X-aws-ec2-metadata-token-ttl-seconds": "60"})
token = urllib.request.urlopen(put).read().decode()
for headers in ({}, {"X-aws-ec2-metadata-token": token}):  # IMDSv1, then IMDSv2
    creds = json.loads(urllib.request.urlopen(urllib.request.Request(path, headers=headers)).read())
    iam = boto3.client("iam", aws_access_key_id=creds["AccessKeyId"], aws_secret_access_key=creds["SecretAccessKey"],
                       aws_session_token=creds["Token"])
    try:
        iam.list_users()
        print("allowed")
    except ClientError as err:
        print(err.response["Error"]["Code"])
'''


def test_imdsv1_role_credentials_are_denied_by_role_delivery_policy(admin: AwsEnv, server: Server,
                                                                      launched: list[str]) -> None:
    """The EC2 User Guide's "require IMDSv2" policy denies every call whose role
    credentials came from IMDSv1: {"Effect": "Deny", "Action": "*", "Condition":
    {"NumericLessThan": {"ec2:RoleDelivery": "2.0"}}}. Credentials fetched without a
    session token are IMDSv1's, with one IMDSv2's (EC2 API reference, HttpTokens).
    Skyhold's role credentials carried no ec2:RoleDelivery, so the deny never applied and
    IMDSv1 credentials were allowed."""
    iam: Any = admin.client("iam")
    name = _uniq("lab-imdsv2")
    iam.create_role(RoleName=name, AssumeRolePolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"}, "Action": "sts:AssumeRole"}]}))
    iam.put_role_policy(RoleName=name, PolicyName="require-imdsv2", PolicyDocument=json.dumps({
        "Version": "2012-10-17", "Statement": [
            {"Effect": "Allow", "Action": "iam:ListUsers", "Resource": "*"},
            {"Sid": "RequireAllEc2RolesToUseV2", "Effect": "Deny", "Action": "*", "Resource": "*",
             "Condition": {"NumericLessThan": {"ec2:RoleDelivery": "2.0"}}}]}))
    iam.create_instance_profile(InstanceProfileName=name)
    iam.add_role_to_instance_profile(InstanceProfileName=name, RoleName=name)
    ec2: Any = admin.client("ec2")
    instance = ec2.run_instances(ImageId="ami-0453ec754f44f9a4a", MinCount=1, MaxCount=1,
                                 IamInstanceProfile={"Name": name},
                                 MetadataOptions={"HttpTokens": "optional"})["Instances"][0]["InstanceId"]
    launched.append(instance)
    out = subprocess.run([str(VENV_BIN / "skyhold"), "instance", "exec", "--data-dir", str(server.data_dir),
                          "--endpoint", server.endpoint, instance, "--", sys.executable, "-c", ROLE_DELIVERY_PROBE,
                          name], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["AccessDenied", "allowed"]
