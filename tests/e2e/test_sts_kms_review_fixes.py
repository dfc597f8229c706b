"""Holes a security review found in STS and KMS grants, each reproduced and refused:
another user's MFA device, the root user assuming a role, and grantees widening
their own grants through CreateGrant."""

from __future__ import annotations

import json
import re
import uuid
from typing import Any

import boto3
from botocore.config import Config

from . import totp
from .conftest import AwsEnv, Server, aws_error, new_account

NO_RETRY = Config(retries={"max_attempts": 1})
NOT_CALLERS_DEVICE = ("MultiFactorAuthentication failed, unable to validate MFA code.  Please verify your MFA "
                      "serial number is valid and associated with this user.")
WRONG_CODE = "MultiFactorAuthentication failed with invalid MFA one time pass code. "
ALLOW_ALL = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}


def _client(endpoint: str, service: str, creds: dict[str, Any]) -> Any:
    return boto3.client(service, endpoint_url=endpoint, region_name="us-east-1",
                        aws_access_key_id=creds["AccessKeyId"], aws_secret_access_key=creds["SecretAccessKey"],
                        aws_session_token=creds.get("SessionToken"), config=NO_RETRY)


def _user(iam: Any, prefix: str, policy: dict[str, Any] | None = None) -> tuple[str, dict[str, Any]]:
    """A new user (with an inline policy if given): its ARN and an access key."""
    name = f"{prefix}-{uuid.uuid4().hex[:8]}"
    arn = iam.create_user(UserName=name)["User"]["Arn"]
    if policy is not None:
        iam.put_user_policy(UserName=name, PolicyName="inline", PolicyDocument=json.dumps(policy))
    return arn, iam.create_access_key(UserName=name)["AccessKey"]


def _enabled_device(iam: Any, name: str, user_name: str | None) -> tuple[str, str]:
    """A virtual MFA device enabled for `user_name` (for the caller, root, when None):
    its serial and seed. Enabling uses up to the current step, so the next code is step+1."""
    serial, seed, _ = totp.enable_virtual_device(iam, name, user_name or "root")
    return serial, seed


def _next_code(seed: str) -> str:
    return totp.code(seed, totp.current_step() + 1)


def _trust(principal: str) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Principal": {"AWS": principal}, "Action": "sts:AssumeRole"}]})


# --- 1. another user's MFA device -------------------------------------------------


def test_user_cannot_present_another_users_mfa_device(admin: AwsEnv) -> None:
    iam = admin.client("iam")
    alice_arn, alice_key = _user(iam, "alice", ALLOW_ALL)
    bob = f"bob-{uuid.uuid4().hex[:8]}"
    iam.create_user(UserName=bob)
    serial, seed = _enabled_device(iam, bob, bob)
    role_arn = iam.create_role(RoleName=f"mfa-other-{uuid.uuid4().hex[:6]}",
                               AssumeRolePolicyDocument=_trust(alice_arn))["Role"]["Arn"]
    sts = _client(admin.endpoint, "sts", alice_key)
    code = _next_code(seed)

    assert aws_error(lambda: sts.get_session_token(SerialNumber=serial, TokenCode=code)) == (
        "AccessDenied", NOT_CALLERS_DEVICE, 403)
    assert aws_error(lambda: sts.assume_role(RoleArn=role_arn, RoleSessionName="s1", SerialNumber=serial,
                                             TokenCode=code)) == ("AccessDenied", NOT_CALLERS_DEVICE, 403)
    # A serial that names no device at all is not the caller's either.
    missing = serial.rsplit("/", 1)[0] + "/no-such-device-" + uuid.uuid4().hex[:6]
    assert aws_error(lambda: sts.get_session_token(SerialNumber=missing, TokenCode=code)) == (
        "AccessDenied", NOT_CALLERS_DEVICE, 403)

    # Alice's attempts spent none of bob's codes: bob still gets an MFA session with it.
    bob_key = iam.create_access_key(UserName=bob)["AccessKey"]
    creds = _client(admin.endpoint, "sts", bob_key).get_session_token(SerialNumber=serial, TokenCode=code)
    assert creds["Credentials"]["AccessKeyId"].startswith("ASIA")


def test_own_device_with_wrong_code_keeps_the_wrong_code_error(admin: AwsEnv) -> None:
    iam = admin.client("iam")
    name = f"carol-{uuid.uuid4().hex[:8]}"
    iam.create_user(UserName=name)
    key = iam.create_access_key(UserName=name)["AccessKey"]
    serial, seed = _enabled_device(iam, name, name)
    sts = _client(admin.endpoint, "sts", key)
    wrong = f"{(int(_next_code(seed)) + 1) % 1_000_000:06d}"
    assert aws_error(lambda: sts.get_session_token(SerialNumber=serial, TokenCode=wrong)) == (
        "AccessDenied", WRONG_CODE, 403)
    # …and the owner's right code still works (the device check does not refuse owners).
    out = sts.get_session_token(SerialNumber=serial, TokenCode=_next_code(seed))
    assert out["Credentials"]["SessionToken"]


def test_role_session_has_no_mfa_device_to_present(admin: AwsEnv) -> None:
    iam = admin.client("iam")
    name = f"dave-{uuid.uuid4().hex[:8]}"
    user_arn = iam.create_user(UserName=name)["User"]["Arn"]
    key = iam.create_access_key(UserName=name)["AccessKey"]
    serial, seed = _enabled_device(iam, name, name)
    role_name = f"chain-{uuid.uuid4().hex[:6]}"
    role_arn = iam.create_role(RoleName=role_name, AssumeRolePolicyDocument=_trust(user_arn))["Role"]["Arn"]
    iam.put_role_policy(RoleName=role_name, PolicyName="chain", PolicyDocument=json.dumps(ALLOW_ALL))
    iam.update_assume_role_policy(RoleName=role_name, PolicyDocument=json.dumps({
        "Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"AWS": [user_arn, role_arn]},
                                                "Action": "sts:AssumeRole"}]}))
    session = _client(admin.endpoint, "sts", key).assume_role(RoleArn=role_arn, RoleSessionName="first")
    role_sts = _client(admin.endpoint, "sts", session["Credentials"])
    # Even the device of the user who assumed the role is not the role session's.
    assert aws_error(lambda: role_sts.assume_role(RoleArn=role_arn, RoleSessionName="second", SerialNumber=serial,
                                                  TokenCode=_next_code(seed))) == (
        "AccessDenied", NOT_CALLERS_DEVICE, 403)


# --- 2. the root user and AssumeRole ----------------------------------------------


def test_root_user_cannot_assume_a_role(server: Server, tmp_path: Any) -> None:
    env, account = new_account(server, tmp_path, "rootassume")
    out = server.cli("account", "root-key", "--account", account)
    assert out.returncode == 0, out.stderr
    found = re.search(r"access key id:\s+(\S+)\s+secret access key:\s+(\S+)", out.stdout)
    assert found, out.stdout
    root_key = {"AccessKeyId": found.group(1), "SecretAccessKey": found.group(2)}
    root_sts = _client(env.endpoint, "sts", root_key)
    assert root_sts.get_caller_identity()["Arn"] == f"arn:aws:iam::{account}:root"
    iam = env.client("iam")
    role_arn = iam.create_role(RoleName=f"root-try-{uuid.uuid4().hex[:6]}",
                               AssumeRolePolicyDocument=_trust(f"arn:aws:iam::{account}:root"))["Role"]["Arn"]
    assert aws_error(lambda: root_sts.assume_role(RoleArn=role_arn, RoleSessionName="root-try")) == (
        "AccessDenied", "Roles may not be assumed by root accounts.", 403)
    # The same trust policy lets the account's users in: it is the caller that is refused.
    user_arn, user_key = _user(iam, "member", ALLOW_ALL)
    assumed = _client(env.endpoint, "sts", user_key).assume_role(RoleArn=role_arn, RoleSessionName="member")
    assert assumed["AssumedRoleUser"]["Arn"].endswith("/member")
    # GetFederationToken stays open to root (documented, if not recommended).
    fed = root_sts.get_federation_token(Name="rootfed")
    assert fed["FederatedUser"]["Arn"] == f"arn:aws:sts::{account}:federated-user/rootfed"

    # Root's own MFA device works for root; a user's device does not.
    root_iam = _client(env.endpoint, "iam", root_key)
    root_serial, root_seed = _enabled_device(root_iam, "root-account-mfa-device", None)
    member = user_arn.rsplit("/", 1)[1]
    user_serial, user_seed = _enabled_device(iam, member, member)
    assert aws_error(lambda: root_sts.get_session_token(SerialNumber=user_serial, TokenCode=_next_code(user_seed))) \
        == ("AccessDenied", NOT_CALLERS_DEVICE, 403)
    mfa_session = root_sts.get_session_token(SerialNumber=root_serial, TokenCode=_next_code(root_seed))
    assert mfa_session["Credentials"]["SessionToken"]


# --- 3./4. CreateGrant from a grant makes no wider grant ---------------------------


def _grantee(admin: AwsEnv) -> tuple[str, Any, Any]:
    """A user with no policy at all, the admin's KMS client and the user's KMS client."""
    arn, key = _user(admin.client("iam"), "grantee")
    return arn, admin.client("kms"), _client(admin.endpoint, "kms", key)


def _denied_create_grant(user_arn: str, key_arn: str) -> tuple[str, str, int]:
    return ("AccessDeniedException", f"User: {user_arn} is not authorized to perform: kms:CreateGrant on resource: "
            f"{key_arn}", 400)


def _refusal(call: Any) -> tuple[str, str, int]:
    """The error, its message cut to the part every KMS denial shares."""
    code, message, status = aws_error(call)
    return code, message.split(" because ")[0], status


def test_grantee_cannot_create_a_grant_with_operations_its_grant_lacks(admin: AwsEnv) -> None:
    user_arn, kms, user = _grantee(admin)
    key = kms.create_key()["KeyMetadata"]
    kms.create_grant(KeyId=key["KeyId"], GranteePrincipal=user_arn, Operations=["Decrypt", "CreateGrant"])
    assert aws_error(lambda: user.encrypt(KeyId=key["KeyId"], Plaintext=b"x"))[0] == "AccessDeniedException"

    assert _refusal(lambda: user.create_grant(KeyId=key["KeyId"], GranteePrincipal=user_arn,
                                              Operations=["Encrypt", "GenerateDataKey"])) == \
        _denied_create_grant(user_arn, key["Arn"])
    # One operation beyond the parent's is enough to refuse the whole child.
    assert _refusal(lambda: user.create_grant(KeyId=key["KeyId"], GranteePrincipal=user_arn,
                                              Operations=["Decrypt", "Encrypt"])) == \
        _denied_create_grant(user_arn, key["Arn"])
    assert aws_error(lambda: user.encrypt(KeyId=key["KeyId"], Plaintext=b"x"))[0] == "AccessDeniedException"
    # Some or all of the parent's operations are fine, for anyone.
    other_arn, _ = _user(admin.client("iam"), "other")
    user.create_grant(KeyId=key["KeyId"], GranteePrincipal=other_arn, Operations=["Decrypt"])
    user.create_grant(KeyId=key["KeyId"], GranteePrincipal=other_arn, Operations=["Decrypt", "CreateGrant"])
    children = [g for g in kms.list_grants(KeyId=key["KeyId"])["Grants"] if g["GranteePrincipal"] == other_arn]
    assert sorted(sorted(g["Operations"]) for g in children) == [["CreateGrant", "Decrypt"], ["Decrypt"]]


def test_grantee_cannot_drop_a_subset_constraint(admin: AwsEnv) -> None:
    user_arn, kms, user = _grantee(admin)
    key = kms.create_key()["KeyMetadata"]
    kms.create_grant(KeyId=key["KeyId"], GranteePrincipal=user_arn, Operations=["Encrypt", "CreateGrant"],
                     Constraints={"EncryptionContextSubset": {"dept": "a"}})
    for looser in ({}, {"EncryptionContextSubset": {"dept": "b"}}, {"EncryptionContextSubset": {"other": "a"}}):
        assert _refusal(lambda: user.create_grant(KeyId=key["KeyId"], GranteePrincipal=user_arn,
                                                  Operations=["Encrypt"], Constraints=looser)) == \
            _denied_create_grant(user_arn, key["Arn"]), looser
    assert aws_error(lambda: user.encrypt(KeyId=key["KeyId"], Plaintext=b"x"))[0] == "AccessDeniedException"
    # Stricter children are allowed: more pairs, or Subset turned into Equals.
    user.create_grant(KeyId=key["KeyId"], GranteePrincipal=user_arn, Operations=["Encrypt"],
                      Constraints={"EncryptionContextSubset": {"dept": "a", "team": "t"}})
    user.create_grant(KeyId=key["KeyId"], GranteePrincipal=user_arn, Operations=["Encrypt"],
                      Constraints={"EncryptionContextEquals": {"dept": "a"}})


def test_grantee_cannot_turn_an_equals_constraint_into_subset(admin: AwsEnv) -> None:
    user_arn, kms, user = _grantee(admin)
    key = kms.create_key()["KeyMetadata"]
    kms.create_grant(KeyId=key["KeyId"], GranteePrincipal=user_arn, Operations=["Encrypt", "CreateGrant"],
                     Constraints={"EncryptionContextEquals": {"dept": "a"}})
    wider = {"dept": "a", "extra": "x"}
    assert aws_error(lambda: user.encrypt(KeyId=key["KeyId"], Plaintext=b"x", EncryptionContext=wider))[0] == \
        "AccessDeniedException"
    for looser in ({"EncryptionContextSubset": {"dept": "a"}}, {"EncryptionContextEquals": wider}, {}):
        assert _refusal(lambda: user.create_grant(KeyId=key["KeyId"], GranteePrincipal=user_arn,
                                                  Operations=["Encrypt"], Constraints=looser)) == \
            _denied_create_grant(user_arn, key["Arn"]), looser
    assert aws_error(lambda: user.encrypt(KeyId=key["KeyId"], Plaintext=b"x", EncryptionContext=wider))[0] == \
        "AccessDeniedException"
    # The same Equals constraint is as strict as the parent's.
    user.create_grant(KeyId=key["KeyId"], GranteePrincipal=user_arn, Operations=["Encrypt"],
                      Constraints={"EncryptionContextEquals": {"dept": "a"}})
    assert user.encrypt(KeyId=key["KeyId"], Plaintext=b"x", EncryptionContext={"dept": "a"})["KeyId"] == key["Arn"]


def test_create_grant_allowed_by_the_key_policy_is_not_bounded_by_grants(admin: AwsEnv) -> None:
    # The bound applies only where CreateGrant comes from a grant: the admin, allowed by
    # IAM through the key policy, may still make any grant.
    user_arn, kms, _ = _grantee(admin)
    key = kms.create_key()["KeyMetadata"]
    kms.create_grant(KeyId=key["KeyId"], GranteePrincipal=user_arn, Operations=["Decrypt", "CreateGrant"])
    kms.create_grant(KeyId=key["KeyId"], GranteePrincipal=user_arn, Operations=["Encrypt", "GenerateDataKey"],
                     Constraints={"EncryptionContextSubset": {"any": "thing"}})
    assert len(kms.list_grants(KeyId=key["KeyId"])["Grants"]) == 2
