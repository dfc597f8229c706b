"""STS: roles and short-lived credentials, with real MFA, session policies, expiry."""

from __future__ import annotations

import json
import re
import subprocess
import uuid

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from . import totp
from .conftest import AwsEnv, Server, clean_env, free_port, new_account, static_admin

NO_RETRY = Config(retries={"max_attempts": 1})


def client(endpoint: str, service: str, creds: dict) -> object:
    return boto3.client(
        service,
        endpoint_url=endpoint,
        region_name="us-east-1",
        aws_access_key_id=creds["AccessKeyId"],
        aws_secret_access_key=creds["SecretAccessKey"],
        aws_session_token=creds.get("SessionToken"),
        config=NO_RETRY,
    )


def trust(principal: dict, condition: dict | None = None) -> str:
    stmt = {"Effect": "Allow", "Principal": principal, "Action": "sts:AssumeRole"}
    if condition:
        stmt["Condition"] = condition
    return json.dumps({"Version": "2012-10-17", "Statement": [stmt]})


def allow(action: str | list, resource: str = "*") -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": action, "Resource": resource}]})


@pytest.fixture
def learner(admin: AwsEnv) -> dict:
    """A user with no permissions at all, a key, and an enabled virtual MFA device."""
    iam = admin.client("iam")
    name = f"learner-{uuid.uuid4().hex[:6]}"
    user = iam.create_user(UserName=name)["User"]
    key = iam.create_access_key(UserName=name)["AccessKey"]
    serial, seed, _ = totp.enable_virtual_device(iam, name, name)
    return {"name": name, "arn": user["Arn"], "key": key, "serial": serial, "seed": seed,
            "account": user["Arn"].split(":")[4]}


@pytest.fixture
def mfa_role(admin: AwsEnv, learner: dict) -> str:
    iam = admin.client("iam")
    name = f"ops-{uuid.uuid4().hex[:6]}"
    role = iam.create_role(RoleName=name, AssumeRolePolicyDocument=trust(
        {"AWS": learner["arn"]}, {"Bool": {"aws:MultiFactorAuthPresent": "true"}}))["Role"]
    iam.put_role_policy(RoleName=name, PolicyName="read-iam", PolicyDocument=allow(["iam:List*", "iam:Get*"]))
    return role["Arn"]


def test_mfa_protected_role(admin: AwsEnv, learner: dict, mfa_role: str) -> None:
    sts = client(admin.endpoint, "sts", learner["key"])
    # without a code: the trust policy's MFA condition fails
    with pytest.raises(ClientError) as e:
        sts.assume_role(RoleArn=mfa_role, RoleSessionName="s1")
    err = e.value.response["Error"]
    assert err["Code"] == "AccessDenied"
    assert f"is not authorized to perform: sts:AssumeRole on resource: {mfa_role}" in err["Message"]
    # a wrong code is refused
    with pytest.raises(ClientError) as e:
        sts.assume_role(RoleArn=mfa_role, RoleSessionName="s1", SerialNumber=learner["serial"], TokenCode="000000")
    assert "MultiFactorAuthentication failed" in e.value.response["Error"]["Message"]
    # a real code, computed like an authenticator app does
    code = totp.code(learner["seed"], totp.current_step() + 1)
    out = sts.assume_role(RoleArn=mfa_role, RoleSessionName="s1", SerialNumber=learner["serial"], TokenCode=code,
                          DurationSeconds=900)
    creds = out["Credentials"]
    assert re.fullmatch(r"ASIA[A-Z2-7]{16}", creds["AccessKeyId"]) and creds["SessionToken"]
    role_name = mfa_role.split("/")[-1]
    expected = f"arn:aws:sts::{learner['account']}:assumed-role/{role_name}/s1"
    assert out["AssumedRoleUser"]["Arn"] == expected
    assert re.fullmatch(r"AROA[A-Z2-7]{17}:s1", out["AssumedRoleUser"]["AssumedRoleId"])
    session = client(admin.endpoint, "sts", creds)
    assert session.get_caller_identity()["Arn"] == expected
    # the session can do what the role allows and nothing more
    role_iam = client(admin.endpoint, "iam", creds)
    role_iam.list_users()
    with pytest.raises(ClientError) as e:
        role_iam.create_user(UserName="x-" + uuid.uuid4().hex[:6])
    assert e.value.response["Error"]["Message"].startswith(f"User: {expected} is not authorized to perform: iam:CreateUser")
    # the same code cannot be replayed
    with pytest.raises(ClientError):
        sts.assume_role(RoleArn=mfa_role, RoleSessionName="s2", SerialNumber=learner["serial"], TokenCode=code)


def test_session_policy_narrows_the_role(admin: AwsEnv, learner: dict) -> None:
    iam = admin.client("iam")
    name = f"wide-{uuid.uuid4().hex[:6]}"
    role_arn = iam.create_role(RoleName=name, AssumeRolePolicyDocument=trust({"AWS": learner["arn"]}))["Role"]["Arn"]
    iam.put_role_policy(RoleName=name, PolicyName="iam-all", PolicyDocument=allow("iam:*"))
    sts = client(admin.endpoint, "sts", learner["key"])
    narrow = sts.assume_role(RoleArn=role_arn, RoleSessionName="narrow", Policy=allow("iam:ListUsers"))
    assert 0 < narrow["PackedPolicySize"] <= 100
    narrow_iam = client(admin.endpoint, "iam", narrow["Credentials"])
    narrow_iam.list_users()
    with pytest.raises(ClientError) as e:
        narrow_iam.list_roles()
    assert "because no session policy allows the iam:ListRoles action" in e.value.response["Error"]["Message"]
    wide = sts.assume_role(RoleArn=role_arn, RoleSessionName="wide")
    client(admin.endpoint, "iam", wide["Credentials"]).list_roles()
    # A managed policy as session policy: its ARN is what is packed, not its (long) document.
    managed = sts.assume_role(RoleArn=role_arn, RoleSessionName="managed",
                              PolicyArns=[{"arn": "arn:aws:iam::aws:policy/IAMReadOnlyAccess"}])
    assert 0 < managed["PackedPolicySize"] <= 5
    managed_iam = client(admin.endpoint, "iam", managed["Credentials"])
    managed_iam.list_roles()
    with pytest.raises(ClientError) as e:
        managed_iam.create_user(UserName="x-" + uuid.uuid4().hex[:6])
    assert "because no session policy allows the iam:CreateUser action" in e.value.response["Error"]["Message"]
    read_only = sts.assume_role(RoleArn=role_arn, RoleSessionName="ro",
                                PolicyArns=[{"arn": "arn:aws:iam::aws:policy/ReadOnlyAccess"}])
    assert read_only["PackedPolicySize"] <= 5  # the policy's document alone is 40 times the packed limit


def test_duration_rules(admin: AwsEnv, learner: dict) -> None:
    iam = admin.client("iam")
    name = f"dur-{uuid.uuid4().hex[:6]}"
    role_arn = iam.create_role(RoleName=name, AssumeRolePolicyDocument=trust({"AWS": learner["arn"]}))["Role"]["Arn"]
    iam.put_role_policy(RoleName=name, PolicyName="chain", PolicyDocument=allow("sts:AssumeRole"))
    iam.update_assume_role_policy(RoleName=name, PolicyDocument=trust({"AWS": [learner["arn"], role_arn]}))
    sts = client(admin.endpoint, "sts", learner["key"])
    with pytest.raises(ClientError) as e:
        sts.assume_role(RoleArn=role_arn, RoleSessionName="dd", DurationSeconds=7200)
    assert e.value.response["Error"]["Message"] == "The requested DurationSeconds exceeds the MaxSessionDuration set for this role."
    iam.update_role(RoleName=name, MaxSessionDuration=7200)
    first = sts.assume_role(RoleArn=role_arn, RoleSessionName="dd", DurationSeconds=7200)["Credentials"]
    chained = client(admin.endpoint, "sts", first)
    with pytest.raises(ClientError) as e:
        chained.assume_role(RoleArn=role_arn, RoleSessionName="d2", DurationSeconds=7200)
    assert "1 hour session limit for roles assumed by role chaining" in e.value.response["Error"]["Message"]
    chained.assume_role(RoleArn=role_arn, RoleSessionName="d2", DurationSeconds=3600)
    with pytest.raises(ClientError) as e:
        sts.assume_role(RoleArn=role_arn, RoleSessionName="bad name!")
    assert e.value.response["Error"]["Code"] == "ValidationError"


def test_cross_account_needs_both_sides(admin: AwsEnv, server: Server, learner: dict, tmp_path) -> None:
    partner, _ = new_account(server, tmp_path, "partner")
    role_arn = partner.client("iam").create_role(
        RoleName="auditor", AssumeRolePolicyDocument=trust({"AWS": f"arn:aws:iam::{learner['account']}:root"})
    )["Role"]["Arn"]
    partner.client("iam").put_role_policy(RoleName="auditor", PolicyName="r", PolicyDocument=allow("iam:List*"))
    sts = client(admin.endpoint, "sts", learner["key"])
    # the trust policy allows the learner's account, but the learner's own policies do not
    with pytest.raises(ClientError) as e:
        sts.assume_role(RoleArn=role_arn, RoleSessionName="xx")
    assert "because no identity-based policy allows the sts:AssumeRole action" in e.value.response["Error"]["Message"]
    admin.client("iam").put_user_policy(UserName=learner["name"], PolicyName="assume",
                                        PolicyDocument=allow("sts:AssumeRole", role_arn))
    creds = sts.assume_role(RoleArn=role_arn, RoleSessionName="xx")["Credentials"]
    ident = client(admin.endpoint, "sts", creds).get_caller_identity()
    assert ident["Account"] == role_arn.split(":")[4] != learner["account"]
    # the other way round: identity allows, trust does not
    partner.client("iam").update_assume_role_policy(
        RoleName="auditor", PolicyDocument=trust({"AWS": "arn:aws:iam::111122223333:root"}))
    with pytest.raises(ClientError):
        sts.assume_role(RoleArn=role_arn, RoleSessionName="yy")


def test_session_tags_reach_principal_tag_conditions(admin: AwsEnv, learner: dict) -> None:
    iam = admin.client("iam")
    name = f"tagged-{uuid.uuid4().hex[:6]}"
    doc = json.loads(trust({"AWS": learner["arn"]}))
    doc["Statement"][0]["Action"] = ["sts:AssumeRole", "sts:TagSession"]
    role_arn = iam.create_role(RoleName=name, AssumeRolePolicyDocument=json.dumps(doc))["Role"]["Arn"]
    iam.put_role_policy(RoleName=name, PolicyName="by-team", PolicyDocument=json.dumps({
        "Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "iam:ListUsers", "Resource": "*",
                                                "Condition": {"StringEquals": {"aws:PrincipalTag/team": "blue"}}}]}))
    sts = client(admin.endpoint, "sts", learner["key"])
    blue = sts.assume_role(RoleArn=role_arn, RoleSessionName="bb", Tags=[{"Key": "team", "Value": "blue"}])
    client(admin.endpoint, "iam", blue["Credentials"]).list_users()
    red = sts.assume_role(RoleArn=role_arn, RoleSessionName="rr", Tags=[{"Key": "team", "Value": "red"}])
    with pytest.raises(ClientError):
        client(admin.endpoint, "iam", red["Credentials"]).list_users()


def refused(call: object, code: str, message: str) -> None:
    with pytest.raises(ClientError) as e:
        call()
    err = e.value.response["Error"]
    assert (err["Code"], err["Message"]) == (code, message)
    assert e.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403


IAM_REFUSAL = "The security token included in the request is invalid"


def test_get_session_token_limits(admin: AwsEnv, server: Server, learner: dict, mfa_role: str) -> None:
    """GetSessionToken's credentials call IAM only with MFA, and of STS only AssumeRole and GetCallerIdentity."""
    admin.client("iam").put_user_policy(UserName=learner["name"], PolicyName="p",
                                        PolicyDocument=allow(["iam:ListUsers", "sts:GetFederationToken"]))
    sts = client(admin.endpoint, "sts", learner["key"])
    plain = sts.get_session_token(DurationSeconds=900)["Credentials"]
    assert client(admin.endpoint, "sts", plain).get_caller_identity()["Arn"] == learner["arn"]
    refused(client(admin.endpoint, "iam", plain).list_users, "InvalidClientTokenId", IAM_REFUSAL)
    why = server.cli("explain", "--last-denied", learner["name"])
    assert "call:      iam:ListUsers" in why.stdout, why.stderr
    assert "issued without MFA may call no IAM API" in why.stdout
    assert "No policy can allow it. Call GetSessionToken with SerialNumber and TokenCode" in why.stdout
    refused(client(admin.endpoint, "sts", plain).get_session_token, "AccessDenied",
            "Cannot call GetSessionToken with session credentials")
    refused(lambda: client(admin.endpoint, "sts", plain).get_federation_token(Name="bob"), "AccessDenied",
            "Cannot call GetFederationToken with session credentials")
    code = totp.code(learner["seed"], totp.current_step() + 1)
    mfa = sts.get_session_token(SerialNumber=learner["serial"], TokenCode=code, DurationSeconds=900)["Credentials"]
    client(admin.endpoint, "iam", mfa).list_users()  # with MFA, IAM answers
    # AssumeRole is allowed, and the MFA the session was issued with satisfies the trust policy
    role = client(admin.endpoint, "sts", mfa).assume_role(RoleArn=mfa_role, RoleSessionName="s2")["Credentials"]
    client(admin.endpoint, "iam", role).list_roles()  # role sessions have no such limits
    refused(lambda: client(admin.endpoint, "sts", plain).assume_role(RoleArn=mfa_role, RoleSessionName="s2"),
            "AccessDenied", f"User: {learner['arn']} is not authorized to perform: sts:AssumeRole on resource: "
            f"{mfa_role}")  # the trust policy wants MFA; STS does not say which policy refused


def test_get_federation_token(admin: AwsEnv, learner: dict) -> None:
    """A federated user gets the intersection of its user's policy and the session policy, and no IAM."""
    admin.client("iam").put_user_policy(UserName=learner["name"], PolicyName="fed", PolicyDocument=allow(
        ["sts:GetFederationToken", "iam:ListUsers", "s3:ListAllMyBuckets", "kms:ListKeys", "sts:GetAccessKeyInfo"]))
    sts = client(admin.endpoint, "sts", learner["key"])
    fed = sts.get_federation_token(Name="alice", Policy=allow(["s3:ListAllMyBuckets", "iam:ListUsers"]))
    fed_arn = f"arn:aws:sts::{learner['account']}:federated-user/alice"
    assert fed["FederatedUser"]["Arn"] == fed_arn
    creds = fed["Credentials"]
    assert client(admin.endpoint, "sts", creds).get_caller_identity()["Arn"] == fed_arn
    client(admin.endpoint, "s3", creds).list_buckets()  # in both the user's policy and the session policy
    with pytest.raises(ClientError) as e:
        client(admin.endpoint, "kms", creds).list_keys()  # the user may, the session policy does not
    assert e.value.response["Error"]["Code"] == "AccessDeniedException"
    # IAM refuses a federated user whatever the policies say
    refused(client(admin.endpoint, "iam", creds).list_users, "InvalidClientTokenId", IAM_REFUSAL)
    refused(client(admin.endpoint, "sts", creds).get_session_token, "AccessDenied",
            "Cannot call GetSessionToken with session credentials")
    # the user's long-term key may call what its session may not
    info = sts.get_access_key_info(AccessKeyId=learner["key"]["AccessKeyId"])
    assert info["Account"] == learner["account"]


def test_cli_profile_with_role_and_mfa(admin: AwsEnv, learner: dict, mfa_role: str, tmp_path) -> None:
    env = clean_env(tmp_path)
    (tmp_path / "aws-credentials").write_text(
        f"[learner]\naws_access_key_id = {learner['key']['AccessKeyId']}\n"
        f"aws_secret_access_key = {learner['key']['SecretAccessKey']}\n")
    (tmp_path / "aws-config").write_text(
        f"[profile learner]\nregion = us-east-1\nendpoint_url = {admin.endpoint}\n\n"
        f"[profile ops]\nregion = us-east-1\nendpoint_url = {admin.endpoint}\nrole_arn = {mfa_role}\n"
        f"source_profile = learner\nmfa_serial = {learner['serial']}\n")
    code = totp.code(learner["seed"], totp.current_step() + 1)
    out = subprocess.run(["aws", "--profile", "ops", "sts", "get-caller-identity", "--output", "json"],
                         input=code + "\n", capture_output=True, text=True, env=env, timeout=60)
    assert out.returncode == 0, out.stderr
    assert ":assumed-role/" + mfa_role.split("/")[-1] + "/" in json.loads(out.stdout)["Arn"]


def test_expired_credentials_after_clock_advance(tmp_path) -> None:
    srv = Server(tmp_path / "data", free_port())
    srv.start()
    try:
        admin = static_admin(srv, tmp_path)
        creds = admin.client("sts").get_session_token(DurationSeconds=900)["Credentials"]
        session = client(srv.endpoint, "sts", creds)
        session.get_caller_identity()
        out = srv.cli("clock", "advance", "16m", "--endpoint", srv.endpoint)
        assert out.returncode == 0, out.stderr
        assert "real time + 960s" in out.stdout
        with pytest.raises(ClientError) as e:
            session.get_caller_identity()
        assert e.value.response["Error"]["Code"] == "ExpiredToken"
        assert e.value.response["Error"]["Message"] == "The security token included in the request is expired"
        # long-lived keys keep working, and the moved clock survives a restart
        admin.client("sts").get_caller_identity()
        assert srv.stop() == 0
        srv.start()
        assert "real time + 9" in srv.cli("clock", "show", "--endpoint", srv.endpoint).stdout
        with pytest.raises(ClientError):
            client(srv.endpoint, "sts", creds).get_caller_identity()
    finally:
        if srv.proc is not None:
            srv.stop()


def test_clock_needs_an_authorized_caller(server: Server, admin: AwsEnv, learner: dict) -> None:
    from skyhold.admin_client import call
    from skyhold.errors import AwsError

    with pytest.raises(AwsError) as e:
        call(server.endpoint, learner["key"]["AccessKeyId"], learner["key"]["SecretAccessKey"], "POST",
             "/_skyhold/clock", {"advance_seconds": 60})
    assert e.value.code == "AccessDeniedException"
    assert "skyhold:SetClock" in e.value.message
    with pytest.raises(AwsError) as e:
        call(server.endpoint, learner["key"]["AccessKeyId"], "wrong" * 8, "GET", "/_skyhold/clock")
    assert e.value.code == "SignatureDoesNotMatch"


def test_revoke_active_sessions(admin: AwsEnv, learner: dict) -> None:
    """The console's "Revoke active sessions": an inline deny on aws:TokenIssueTime."""
    import datetime as dt
    import time

    iam = admin.client("iam")
    name = f"revoke-{uuid.uuid4().hex[:6]}"
    role_arn = iam.create_role(RoleName=name, AssumeRolePolicyDocument=trust({"AWS": learner["arn"]}))["Role"]["Arn"]
    iam.put_role_policy(RoleName=name, PolicyName="list", PolicyDocument=allow("iam:ListUsers"))
    sts = client(admin.endpoint, "sts", learner["key"])
    old = client(admin.endpoint, "iam", sts.assume_role(RoleArn=role_arn, RoleSessionName="old")["Credentials"])
    old.list_users()
    time.sleep(1.1)
    cutoff = dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    iam.put_role_policy(RoleName=name, PolicyName="AWSRevokeOlderSessions", PolicyDocument=json.dumps({
        "Version": "2012-10-17", "Statement": [{"Effect": "Deny", "Action": "*", "Resource": "*",
                                                "Condition": {"DateLessThan": {"aws:TokenIssueTime": cutoff}}}]}))
    with pytest.raises(ClientError) as e:
        old.list_users()
    assert "with an explicit deny in an identity-based policy" in e.value.response["Error"]["Message"]
    time.sleep(1.1)
    fresh = client(admin.endpoint, "iam", sts.assume_role(RoleArn=role_arn, RoleSessionName="new")["Credentials"])
    fresh.list_users()


def test_decode_authorization_message(admin: AwsEnv, server: Server, learner: dict) -> None:
    from skyhold import authorization_message

    # what EC2 puts in an UnauthorizedOperation, sealed with this server's root key
    message = {"allowed": False, "explicitDeny": False,
               "context": {"action": "ec2:RunInstances", "principal": {"id": "AIDA", "arn": learner["arn"]}}}
    encoded = authorization_message.encode(server.data_dir, message)
    sts = client(admin.endpoint, "sts", learner["key"])
    with pytest.raises(ClientError) as e:  # the learner has no sts:DecodeAuthorizationMessage yet
        sts.decode_authorization_message(EncodedMessage=encoded)
    assert e.value.response["Error"]["Code"] == "AccessDenied"
    admin.client("iam").put_user_policy(UserName=learner["name"], PolicyName="decode",
                                        PolicyDocument=allow("sts:DecodeAuthorizationMessage"))
    decoded = sts.decode_authorization_message(EncodedMessage=encoded)["DecodedMessage"]
    assert json.loads(decoded) == message
    with pytest.raises(ClientError) as e:
        sts.decode_authorization_message(EncodedMessage=encoded[:-4] + "AAAA")
    assert e.value.response["Error"]["Code"] == "InvalidAuthorizationMessageException"
    # the admin profile's session (GetSessionToken's) may call no STS API but AssumeRole and GetCallerIdentity
    refused(lambda: admin.client("sts").decode_authorization_message(EncodedMessage=encoded), "AccessDenied",
            "Cannot call DecodeAuthorizationMessage with session credentials")
