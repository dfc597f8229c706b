"""IAM end to end: a real `skyhold up` driven by the `aws` CLI and boto3."""

from __future__ import annotations

import base64
import csv
import hashlib
import hmac
import io
import json
import struct
import time
import uuid
from pathlib import Path

import pytest
from botocore.exceptions import ClientError

from .conftest import AwsEnv

POLICY = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:ListAllMyBuckets", "Resource": "*"}]}
REPORT_COLUMNS = (
    "user,arn,user_creation_time,password_enabled,password_last_used,password_last_changed,"
    "password_next_rotation,mfa_active,access_key_1_active,access_key_1_last_rotated,"
    "access_key_1_last_used_date,access_key_1_last_used_region,access_key_1_last_used_service,"
    "access_key_2_active,access_key_2_last_rotated,access_key_2_last_used_date,access_key_2_last_used_region,"
    "access_key_2_last_used_service,cert_1_active,cert_1_last_rotated,cert_2_active,cert_2_last_rotated"
).split(",")


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def totp(seed: str, t: float) -> str:
    """RFC 6238 (SHA-1, 30 s, 6 digits), as an authenticator app computes it."""
    key = base64.b32decode(seed)
    mac = hmac.new(key, struct.pack(">Q", int(t) // 30), hashlib.sha1).digest()
    o = mac[-1] & 15
    return "%06d" % ((struct.unpack(">I", mac[o:o + 4])[0] & 0x7FFFFFFF) % 10**6)


def error_of(exc: pytest.ExceptionInfo[ClientError]) -> tuple[str, int, str]:
    r = exc.value.response
    return r["Error"]["Code"], r["ResponseMetadata"]["HTTPStatusCode"], r["Error"]["Message"]


def test_group_with_policy_and_user_in_it_via_cli(admin: AwsEnv) -> None:
    group, user = unique("devs"), unique("dana")
    made = admin.aws_json("iam", "create-group", "--group-name", group, "--path", "/teams/")["Group"]
    assert made["GroupId"].startswith("AGPA") and made["Arn"].endswith(f":group/teams/{group}")
    out = admin.aws("iam", "put-group-policy", "--group-name", group, "--policy-name", "list",
                    "--policy-document", json.dumps(POLICY))
    assert out.returncode == 0, out.stderr
    admin.aws_json("iam", "create-user", "--user-name", user, "--tags", "Key=team,Value=devs")
    assert admin.aws("iam", "add-user-to-group", "--group-name", group, "--user-name", user).returncode == 0
    got = admin.aws_json("iam", "get-group", "--group-name", group)
    assert [u["UserName"] for u in got["Users"]] == [user]
    doc = admin.aws_json("iam", "get-group-policy", "--group-name", group, "--policy-name", "list")
    assert doc["PolicyDocument"] == POLICY  # percent-encoded on the wire, decoded by the CLI
    groups = admin.aws_json("iam", "list-groups-for-user", "--user-name", user)["Groups"]
    assert [g["GroupName"] for g in groups] == [group]
    dup = admin.aws("iam", "create-group", "--group-name", group)
    assert dup.returncode != 0 and "EntityAlreadyExists" in dup.stderr
    conflict = admin.aws("iam", "delete-group", "--group-name", group)
    assert "DeleteConflict" in conflict.stderr


def test_access_key_authenticates_until_deactivated(admin: AwsEnv) -> None:
    iam = admin.client("iam")
    user = unique("kay")
    iam.create_user(UserName=user)
    key = iam.create_access_key(UserName=user)["AccessKey"]
    assert key["AccessKeyId"].startswith("AKIA") and len(key["SecretAccessKey"]) == 40

    def sts():  # type: ignore[no-untyped-def]
        return admin.session().client("sts", aws_access_key_id=key["AccessKeyId"],
                                      aws_secret_access_key=key["SecretAccessKey"],
                                      endpoint_url=admin.endpoint, region_name="us-east-1")

    assert sts().get_caller_identity()["Arn"].endswith(f":user/{user}")
    iam.create_access_key(UserName=user)
    with pytest.raises(ClientError) as exc:
        iam.create_access_key(UserName=user)
    assert error_of(exc) == ("LimitExceeded", 409, "Cannot exceed quota for AccessKeysPerUser: 2")
    iam.update_access_key(UserName=user, AccessKeyId=key["AccessKeyId"], Status="Inactive")
    with pytest.raises(ClientError):
        sts().get_caller_identity()  # inactive keys stop authenticating at once
    iam.update_access_key(UserName=user, AccessKeyId=key["AccessKeyId"], Status="Active")
    assert sts().get_caller_identity()["Arn"].endswith(f":user/{user}")
    with pytest.raises(ClientError) as exc:
        iam.delete_user(UserName=user)
    assert error_of(exc) == ("DeleteConflict", 409, "Cannot delete entity, must delete access keys first.")


def test_errors_for_missing_and_duplicate(admin: AwsEnv) -> None:
    iam = admin.client("iam")
    with pytest.raises(ClientError) as exc:
        iam.get_user(UserName="nobody-here")
    assert error_of(exc) == ("NoSuchEntity", 404, "The user with name nobody-here cannot be found.")
    name = unique("dup")
    iam.create_user(UserName=name)
    with pytest.raises(ClientError) as exc:
        iam.create_user(UserName=name)
    assert error_of(exc) == ("EntityAlreadyExists", 409, f"User with name {name} already exists.")
    with pytest.raises(ClientError) as exc:
        iam.create_user(UserName="bad name")
    assert error_of(exc)[:2] == ("ValidationError", 400)


def test_login_profile_and_password_policy(admin: AwsEnv) -> None:
    iam = admin.client("iam")
    user = unique("pat")
    iam.create_user(UserName=user)
    out = admin.aws("iam", "update-account-password-policy", "--minimum-password-length", "12",
                    "--require-symbols", "--require-numbers", "--require-uppercase-characters",
                    "--require-lowercase-characters", "--allow-users-to-change-password")
    assert out.returncode == 0, out.stderr
    policy = admin.aws_json("iam", "get-account-password-policy")["PasswordPolicy"]
    assert policy["MinimumPasswordLength"] == 12 and policy["RequireSymbols"] is True
    try:
        with pytest.raises(ClientError) as exc:
            iam.create_login_profile(UserName=user, Password="weakpassword")
        assert error_of(exc)[:2] == ("PasswordPolicyViolation", 400)
        profile = iam.create_login_profile(UserName=user, Password="Correct-Horse-9", PasswordResetRequired=True)
        assert profile["LoginProfile"]["UserName"] == user
        assert iam.get_login_profile(UserName=user)["LoginProfile"]["PasswordResetRequired"] is True
        # The user changes its own password with its own access key, allowed by the AWS managed
        # policy made for that, and reads itself through an inline policy with a policy variable.
        iam.attach_user_policy(UserName=user, PolicyArn="arn:aws:iam::aws:policy/IAMUserChangePassword")
        iam.put_user_policy(UserName=user, PolicyName="self", PolicyDocument=json.dumps({
            "Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "iam:GetUser",
                                                    "Resource": "arn:aws:iam::*:user/${aws:username}"}]}))
        key = iam.create_access_key(UserName=user)["AccessKey"]
        own = admin.session().client("iam", aws_access_key_id=key["AccessKeyId"],
                                     aws_secret_access_key=key["SecretAccessKey"],
                                     endpoint_url=admin.endpoint, region_name="us-east-1")
        assert own.get_user()["User"]["UserName"] == user  # no UserName: the caller
        with pytest.raises(ClientError) as exc:
            own.change_password(OldPassword="Correct-Horse-9", NewPassword="short")
        assert error_of(exc)[:2] == ("PasswordPolicyViolation", 400)
        own.change_password(OldPassword="Correct-Horse-9", NewPassword="Battery-Staple-42")
        assert iam.get_login_profile(UserName=user)["LoginProfile"]["PasswordResetRequired"] is False
        with pytest.raises(ClientError) as exc:
            iam.delete_user(UserName=user)
        assert error_of(exc)[0] == "DeleteConflict"
    finally:
        iam.delete_account_password_policy()


def test_virtual_mfa_with_real_totp_codes(admin: AwsEnv, tmp_path: Path) -> None:
    iam = admin.client("iam")
    user, device = unique("mia"), unique("mia-phone")
    iam.create_user(UserName=user)
    seed_file = tmp_path / "seed.txt"
    out = admin.aws_json("iam", "create-virtual-mfa-device", "--virtual-mfa-device-name", device,
                         "--outfile", str(seed_file), "--bootstrap-method", "Base32StringSeed")
    serial = out["VirtualMFADevice"]["SerialNumber"]
    assert serial.endswith(f":mfa/{device}")
    seed = seed_file.read_text().strip()
    assert len(base64.b32decode(seed)) == 40
    qr = tmp_path / "qr.png"
    device2 = unique("qr")
    admin.aws_json("iam", "create-virtual-mfa-device", "--virtual-mfa-device-name", device2,
                   "--outfile", str(qr), "--bootstrap-method", "QRCodePNG")
    assert qr.read_bytes().startswith(b"\x89PNG")

    now = time.time()
    with pytest.raises(ClientError) as exc:
        iam.enable_mfa_device(UserName=user, SerialNumber=serial, AuthenticationCode1=totp(seed, now - 30),
                              AuthenticationCode2=totp(seed, now + 3600))
    assert error_of(exc)[:2] == ("InvalidAuthenticationCode", 403)
    iam.enable_mfa_device(UserName=user, SerialNumber=serial, AuthenticationCode1=totp(seed, now - 30),
                          AuthenticationCode2=totp(seed, now))
    listed = admin.aws_json("iam", "list-mfa-devices", "--user-name", user)["MFADevices"]
    assert [d["SerialNumber"] for d in listed] == [serial]
    assigned = iam.list_virtual_mfa_devices(AssignmentStatus="Assigned")["VirtualMFADevices"]
    assert any(d["SerialNumber"] == serial and d["User"]["UserName"] == user for d in assigned)
    with pytest.raises(ClientError) as exc:
        iam.delete_virtual_mfa_device(SerialNumber=serial)
    assert error_of(exc)[0] == "DeleteConflict"
    iam.deactivate_mfa_device(UserName=user, SerialNumber=serial)
    iam.delete_virtual_mfa_device(SerialNumber=serial)
    iam.delete_user(UserName=user)


def test_credential_report_parses_with_csv(admin: AwsEnv) -> None:
    iam = admin.client("iam")
    user = unique("rep")
    iam.create_user(UserName=user)
    iam.create_access_key(UserName=user)
    state = iam.generate_credential_report()["State"]
    assert state in ("STARTED", "COMPLETE")
    if state == "COMPLETE":  # an earlier report is still fresh: it predates this user
        pytest.skip("a credential report generated earlier in this session is still current")
    report = iam.get_credential_report()
    assert report["ReportFormat"] == "text/csv"
    rows = list(csv.DictReader(io.StringIO(report["Content"].decode())))
    assert list(rows[0]) == REPORT_COLUMNS
    assert rows[0]["user"] == "<root_account>"
    mine = next(r for r in rows if r["user"] == user)
    assert mine["access_key_1_active"] == "true" and mine["password_enabled"] == "false"


def test_pagination_with_max_items_and_marker(admin: AwsEnv) -> None:
    iam = admin.client("iam")
    path = f"/{unique('page')}/"
    names = sorted(unique("pg") for _ in range(5))
    for n in names:
        iam.create_user(UserName=n, Path=path)
    seen, kwargs = [], {"PathPrefix": path, "MaxItems": 2}
    while True:
        page = iam.list_users(**kwargs)
        assert len(page["Users"]) <= 2
        seen += [u["UserName"] for u in page["Users"]]
        if not page["IsTruncated"]:
            break
        kwargs["Marker"] = page["Marker"]
    assert seen == names
    paged = [u["UserName"] for p in iam.get_paginator("list_users").paginate(
        PathPrefix=path, PaginationConfig={"PageSize": 2}) for u in p["Users"]]
    assert paged == names
    cli = admin.aws_json("iam", "list-users", "--path-prefix", path, "--page-size", "2")
    assert [u["UserName"] for u in cli["Users"]] == names  # the CLI follows Markers itself


def test_roles_policies_and_instance_profiles(admin: AwsEnv) -> None:
    iam = admin.client("iam")
    role, profile, pol = unique("app"), unique("app-ip"), unique("pol")
    trust = {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"}, "Action": "sts:AssumeRole"}]}
    made = iam.create_role(RoleName=role, AssumeRolePolicyDocument=json.dumps(trust), MaxSessionDuration=7200)
    assert made["Role"]["RoleId"].startswith("AROA")
    got = iam.get_role(RoleName=role)["Role"]
    assert got["AssumeRolePolicyDocument"] == trust and got["MaxSessionDuration"] == 7200
    arn = iam.create_policy(PolicyName=pol, PolicyDocument=json.dumps(POLICY))["Policy"]["Arn"]
    iam.create_policy_version(PolicyArn=arn, PolicyDocument=json.dumps(POLICY), SetAsDefault=True)
    assert iam.get_policy(PolicyArn=arn)["Policy"]["DefaultVersionId"] == "v2"
    iam.attach_role_policy(RoleName=role, PolicyArn=arn)
    iam.attach_role_policy(RoleName=role, PolicyArn="arn:aws:iam::aws:policy/ReadOnlyAccess")
    attached = {p["PolicyName"] for p in iam.list_attached_role_policies(RoleName=role)["AttachedPolicies"]}
    assert attached == {pol, "ReadOnlyAccess"}
    aws = iam.list_policies(Scope="AWS", MaxItems=1000)["Policies"]
    assert {"AdministratorAccess", "AWSDenyAll"} <= {p["PolicyName"] for p in aws}
    iam.create_instance_profile(InstanceProfileName=profile)
    iam.add_role_to_instance_profile(InstanceProfileName=profile, RoleName=role)
    with pytest.raises(ClientError) as exc:
        iam.add_role_to_instance_profile(InstanceProfileName=profile, RoleName=role)
    assert error_of(exc) == ("LimitExceeded", 409, "Cannot exceed quota for InstanceSessionsPerInstanceProfile: 1")
    with pytest.raises(ClientError) as exc:
        iam.delete_role(RoleName=role)
    assert error_of(exc)[0] == "DeleteConflict"
    summary = iam.get_account_summary()["SummaryMap"]
    assert summary["Roles"] >= 1 and summary["AccessKeysPerUserQuota"] == 2


def test_trust_policies_name_principals_that_exist(admin: AwsEnv) -> None:
    """IAM resolves the users and roles a trust policy names: one that does not exist,
    a group, or a malformed ARN is refused; accounts are taken as they are."""
    iam = admin.client("iam")
    account = admin.client("sts").get_caller_identity()["Account"]
    user = iam.create_user(UserName=unique("trusted"))["User"]
    role_name = unique("trusting")

    def trust(who: object) -> str:
        return json.dumps({"Version": "2012-10-17", "Statement": [
            {"Effect": "Allow", "Principal": {"AWS": who}, "Action": "sts:AssumeRole"}]})

    group = iam.create_group(GroupName=unique("g"))["Group"]["Arn"]
    for who in (f"arn:aws:iam::{account}:user/nobody-{uuid.uuid4().hex[:6]}",
                f"arn:aws:iam::{account}:role/{role_name}",  # itself, before it exists
                group, "notanarn", f"arn:aws:iam::{account}:user/other-path/{user['UserName']}"):
        with pytest.raises(ClientError) as e:
            iam.create_role(RoleName=role_name, AssumeRolePolicyDocument=trust([user["Arn"], who]))
        assert error_of(e) == ("MalformedPolicyDocument", 400, f'Invalid principal in policy: "AWS":"{who}"')
    with pytest.raises(ClientError):
        iam.get_role(RoleName=role_name)  # nothing was created
    arn = iam.create_role(RoleName=role_name, AssumeRolePolicyDocument=trust(
        [user["Arn"], account, "arn:aws:iam::111122223333:root"]))["Role"]["Arn"]
    iam.update_assume_role_policy(RoleName=role_name, PolicyDocument=trust(arn))  # now it exists
    with pytest.raises(ClientError) as e:
        iam.update_assume_role_policy(RoleName=role_name, PolicyDocument=trust(f"{arn}-gone"))
    assert error_of(e) == ("MalformedPolicyDocument", 400, f'Invalid principal in policy: "AWS":"{arn}-gone"')
    assert iam.get_role(RoleName=role_name)["Role"]["AssumeRolePolicyDocument"]["Statement"][0]["Principal"][
        "AWS"] == arn  # the refused update changed nothing
