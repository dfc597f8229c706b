"""Users and roles named in trust and resource policies are bound to their unique ids.

IAM User Guide ("AWS JSON policy elements: Principal", IAM role and user principals):
when a trust or resource policy is saved, each IAM user or role ARN in its Principal
becomes that principal's unique id. A user or role deleted and created again under the
same name has a new id, and the policy no longer matches it until it is saved again.
While the principal exists the policy shows its ARN; after it is deleted, the bare id.
"""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore import UNSIGNED
from botocore.config import Config
from botocore.exceptions import ClientError

from .conftest import AwsEnv, aws_error, new_bucket, own_server


def _unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def _account(admin: AwsEnv) -> str:
    return admin.client("sts").get_caller_identity()["Account"]  # type: ignore[attr-defined]


def _trust_account(account: str) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{account}:root"}, "Action": "sts:AssumeRole"}]})


def _create_role(iam: Any, name: str, trust: str) -> dict[str, Any]:
    return iam.create_role(RoleName=name, AssumeRolePolicyDocument=trust)["Role"]


def _session_client(admin: AwsEnv, creds: dict[str, Any], service: str) -> Any:
    return boto3.client(service, aws_access_key_id=creds["AccessKeyId"], aws_secret_access_key=creds["SecretAccessKey"],
                        aws_session_token=creds.get("SessionToken"), endpoint_url=admin.endpoint,
                        region_name="us-east-1", config=Config(retries={"max_attempts": 1}))


def _as_role(admin: AwsEnv, role_arn: str, service: str) -> Any:
    """A client of a new session of the role, assumed by the admin."""
    creds = admin.client("sts").assume_role(RoleArn=role_arn, RoleSessionName="bound")  # type: ignore[attr-defined]
    return _session_client(admin, creds["Credentials"], service)


def _principal_of(policy_text: str, index: int = 0) -> Any:
    return json.loads(policy_text)["Statement"][index]["Principal"]


def _new_user_with_key(iam: Any, name: str) -> tuple[str, dict[str, Any]]:
    """User `name` allowed to call sts:AssumeRole, its id and an access key."""
    user_id = iam.create_user(UserName=name)["User"]["UserId"]
    iam.put_user_policy(UserName=name, PolicyName="assume", PolicyDocument=json.dumps({
        "Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole", "Resource": "*"}]}))
    return user_id, iam.create_access_key(UserName=name)["AccessKey"]


def _delete_user(iam: Any, name: str) -> None:
    for key in iam.list_access_keys(UserName=name)["AccessKeyMetadata"]:
        iam.delete_access_key(UserName=name, AccessKeyId=key["AccessKeyId"])
    for policy in iam.list_user_policies(UserName=name)["PolicyNames"]:
        iam.delete_user_policy(UserName=name, PolicyName=policy)
    iam.delete_user(UserName=name)


def test_bucket_policy_does_not_grant_a_recreated_role(admin: AwsEnv) -> None:
    s3: Any = admin.client("s3", region_name="us-east-1")
    iam: Any = admin.client("iam")
    account = _account(admin)
    bucket = new_bucket(s3, "bound-role")
    s3.put_object(Bucket=bucket, Key="secret", Body=b"top secret")
    name = _unique("bound-role")
    old = _create_role(iam, name, _trust_account(account))
    policy = json.dumps({"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow", "Principal": {"AWS": old["Arn"]}, "Action": "s3:GetObject",
        "Resource": f"arn:aws:s3:::{bucket}/*"}]}, indent=2)
    s3.put_bucket_policy(Bucket=bucket, Policy=policy)
    # While the role exists, its sessions are granted and the policy reads as written.
    assert _as_role(admin, old["Arn"], "s3").get_object(Bucket=bucket, Key="secret")["Body"].read() == b"top secret"
    assert s3.get_bucket_policy(Bucket=bucket)["Policy"] == policy

    iam.delete_role(RoleName=name)
    new = _create_role(iam, name, _trust_account(account))
    assert new["RoleId"] != old["RoleId"] and new["Arn"] == old["Arn"]
    recreated = _as_role(admin, new["Arn"], "s3")
    code, _, status = aws_error(lambda: recreated.get_object(Bucket=bucket, Key="secret"))
    assert (code, status) == ("AccessDenied", 403)
    # The policy now shows the id it is bound to, the rest of it unchanged.
    shown = json.loads(s3.get_bucket_policy(Bucket=bucket)["Policy"])
    written = json.loads(policy)
    written["Statement"][0]["Principal"] = {"AWS": old["RoleId"]}
    assert shown == written

    # Saving the policy again binds the new role.
    s3.put_bucket_policy(Bucket=bucket, Policy=policy)
    assert recreated.get_object(Bucket=bucket, Key="secret")["Body"].read() == b"top secret"
    assert s3.get_bucket_policy(Bucket=bucket)["Policy"] == policy


def test_trust_policy_does_not_trust_a_recreated_user(admin: AwsEnv) -> None:
    iam: Any = admin.client("iam")
    account = _account(admin)
    user = _unique("bound-user")
    old_id, old_key = _new_user_with_key(iam, user)
    user_arn = f"arn:aws:iam::{account}:user/{user}"
    role = _unique("trusts-user")
    trust = json.dumps({"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow", "Principal": {"AWS": user_arn}, "Action": "sts:AssumeRole"}]})
    role_arn = _create_role(iam, role, trust)["Arn"]

    def assume(key: dict[str, Any]) -> Any:
        sts = admin.client_for(key, "sts")
        return sts.assume_role(RoleArn=role_arn, RoleSessionName="as-user")  # type: ignore[attr-defined]

    assert assume(old_key)["AssumedRoleUser"]["Arn"].endswith(f":assumed-role/{role}/as-user")
    assert _principal_of(json.dumps(iam.get_role(RoleName=role)["Role"]["AssumeRolePolicyDocument"])) == \
        {"AWS": user_arn}

    _delete_user(iam, user)
    new_id, new_key = _new_user_with_key(iam, user)
    assert new_id != old_id
    code, message, status = aws_error(lambda: assume(new_key))
    assert (code, status) == ("AccessDenied", 403)
    assert f"arn:aws:iam::{account}:user/{user} is not authorized to perform: sts:AssumeRole" in message
    # GetRole and ListRoles show the bare id the trust policy is bound to.
    shown = iam.get_role(RoleName=role)["Role"]["AssumeRolePolicyDocument"]
    assert shown["Statement"][0]["Principal"] == {"AWS": old_id}
    listed = next(r for r in iam.get_paginator("list_roles").paginate().build_full_result()["Roles"]
                  if r["RoleName"] == role)
    assert listed["AssumeRolePolicyDocument"] == shown

    # UpdateAssumeRolePolicy with the ARN again trusts the new user.
    iam.update_assume_role_policy(RoleName=role, PolicyDocument=trust)
    assert assume(new_key)["AssumedRoleUser"]["Arn"].endswith(f":assumed-role/{role}/as-user")
    assert _principal_of(json.dumps(iam.get_role(RoleName=role)["Role"]["AssumeRolePolicyDocument"])) == \
        {"AWS": user_arn}


def test_trust_policy_does_not_trust_a_recreated_role(admin: AwsEnv) -> None:
    """Role chaining: the trusted role is named by ARN and bound to its role id."""
    iam: Any = admin.client("iam")
    account = _account(admin)
    middle = _unique("chain-middle")
    old = _create_role(iam, middle, _trust_account(account))
    allow_assume = json.dumps({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": "sts:AssumeRole", "Resource": "*"}]})
    iam.put_role_policy(RoleName=middle, PolicyName="assume", PolicyDocument=allow_assume)
    target = _unique("chain-target")
    target_arn = _create_role(iam, target, json.dumps({"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow", "Principal": {"AWS": [old["Arn"]]}, "Action": "sts:AssumeRole"}]}))["Arn"]

    def chain() -> Any:
        return _as_role(admin, old["Arn"], "sts").assume_role(RoleArn=target_arn, RoleSessionName="chained")

    assert chain()["AssumedRoleUser"]["Arn"].endswith(f":assumed-role/{target}/chained")
    iam.delete_role_policy(RoleName=middle, PolicyName="assume")
    iam.delete_role(RoleName=middle)
    new = _create_role(iam, middle, _trust_account(account))
    iam.put_role_policy(RoleName=middle, PolicyName="assume", PolicyDocument=allow_assume)
    code, _, status = aws_error(chain)
    assert (code, status) == ("AccessDenied", 403)
    shown = iam.get_role(RoleName=target)["Role"]["AssumeRolePolicyDocument"]
    assert shown["Statement"][0]["Principal"] == {"AWS": [old["RoleId"]]}
    assert new["RoleId"] != old["RoleId"]


def test_key_policy_does_not_grant_a_recreated_role(admin: AwsEnv) -> None:
    kms: Any = admin.client("kms", region_name="us-east-1")
    iam: Any = admin.client("iam")
    account = _account(admin)
    name = _unique("key-user-role")
    old = _create_role(iam, name, _trust_account(account))
    policy = json.dumps({"Version": "2012-10-17", "Statement": [
        {"Sid": "admin", "Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{account}:root"},
         "Action": "kms:*", "Resource": "*"},
        {"Sid": "use", "Effect": "Allow", "Principal": {"AWS": old["Arn"]},
         "Action": ["kms:Encrypt", "kms:Decrypt"], "Resource": "*"}]})
    key_id = kms.create_key(Policy=policy)["KeyMetadata"]["KeyId"]
    _as_role(admin, old["Arn"], "kms").encrypt(KeyId=key_id, Plaintext=b"x")
    assert kms.get_key_policy(KeyId=key_id, PolicyName="default")["Policy"] == policy

    iam.delete_role(RoleName=name)
    new = _create_role(iam, name, _trust_account(account))
    recreated = _as_role(admin, new["Arn"], "kms")
    code, message, status = aws_error(lambda: recreated.encrypt(KeyId=key_id, Plaintext=b"x"))
    assert (code, status) == ("AccessDeniedException", 400)
    assert "kms:Encrypt" in message
    shown = json.loads(kms.get_key_policy(KeyId=key_id, PolicyName="default")["Policy"])
    assert [st["Principal"] for st in shown["Statement"]] == [
        {"AWS": f"arn:aws:iam::{account}:root"}, {"AWS": old["RoleId"]}]

    kms.put_key_policy(KeyId=key_id, PolicyName="default", Policy=policy)
    recreated.encrypt(KeyId=key_id, Plaintext=b"x")


def test_secret_policy_does_not_grant_a_recreated_user(admin: AwsEnv) -> None:
    sm: Any = admin.client("secretsmanager", region_name="us-east-1")
    iam: Any = admin.client("iam")
    account = _account(admin)
    user = _unique("secret-reader")
    old_id, old_key = _new_user_with_key(iam, user)
    secret = sm.create_secret(Name=_unique("bound-secret"), SecretString="s3cr3t")["ARN"]
    policy = json.dumps({"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{account}:user/{user}"},
        "Action": "secretsmanager:GetSecretValue", "Resource": "*"}]})
    sm.put_resource_policy(SecretId=secret, ResourcePolicy=policy)
    reader: Any = admin.client_for(old_key, "secretsmanager")
    assert reader.get_secret_value(SecretId=secret)["SecretString"] == "s3cr3t"

    _delete_user(iam, user)
    _, new_key = _new_user_with_key(iam, user)
    again: Any = admin.client_for(new_key, "secretsmanager")
    code, _, _ = aws_error(lambda: again.get_secret_value(SecretId=secret))
    assert code == "AccessDeniedException"
    assert _principal_of(sm.get_resource_policy(SecretId=secret)["ResourcePolicy"]) == {"AWS": old_id}


def test_accounts_star_and_services_are_not_bound(admin: AwsEnv) -> None:
    """Only users and roles become ids: an account, "*" and a service principal stay as
    written, and keep granting, when a role named beside them is deleted."""
    s3: Any = admin.client("s3", region_name="us-east-1")
    iam: Any = admin.client("iam")
    account = _account(admin)
    bucket = new_bucket(s3, "bound-mixed")
    s3.put_public_access_block(Bucket=bucket, PublicAccessBlockConfiguration={
        "BlockPublicAcls": False, "IgnorePublicAcls": False, "BlockPublicPolicy": False,
        "RestrictPublicBuckets": False})
    s3.put_object(Bucket=bucket, Key="public/doc", Body=b"for all")
    role = _create_role(iam, _unique("bound-mixed"), _trust_account(account))
    statements = [
        {"Effect": "Allow", "Principal": {"AWS": [account, f"arn:aws:iam::{account}:root", role["Arn"]]},
         "Action": "s3:ListBucket", "Resource": f"arn:aws:s3:::{bucket}"},
        {"Effect": "Allow", "Principal": "*", "Action": "s3:GetObject", "Resource": f"arn:aws:s3:::{bucket}/public/*"},
        {"Effect": "Allow", "Principal": {"AWS": "*"}, "Action": "s3:GetObject",
         "Resource": f"arn:aws:s3:::{bucket}/public/*"},
        {"Effect": "Allow", "Principal": {"Service": "cloudtrail.amazonaws.com"}, "Action": "s3:PutObject",
         "Resource": f"arn:aws:s3:::{bucket}/logs/*"},
    ]
    s3.put_bucket_policy(Bucket=bucket, Policy=json.dumps({"Version": "2012-10-17", "Statement": statements}))
    iam.delete_role(RoleName=role["RoleName"])

    shown = json.loads(s3.get_bucket_policy(Bucket=bucket)["Policy"])["Statement"]
    assert shown[0]["Principal"] == {"AWS": [account, f"arn:aws:iam::{account}:root", role["RoleId"]]}
    assert [st["Principal"] for st in shown[1:]] == [st["Principal"] for st in statements[1:]]
    anonymous = boto3.client("s3", endpoint_url=admin.endpoint, region_name="us-east-1",
                             config=Config(signature_version=UNSIGNED, retries={"max_attempts": 1}))
    assert anonymous.get_object(Bucket=bucket, Key="public/doc")["Body"].read() == b"for all"


def test_a_policy_naming_the_deleted_principal_by_its_id_is_refused(admin: AwsEnv) -> None:
    """The id a policy shows for a deleted principal names nobody: saving the policy as
    shown is refused, as a policy naming any principal that does not exist is."""
    iam: Any = admin.client("iam")
    account = _account(admin)
    role = _create_role(iam, _unique("bound-gone"), _trust_account(account))
    trusting = _unique("trusts-gone")
    _create_role(iam, trusting, json.dumps({"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow", "Principal": {"AWS": role["Arn"]}, "Action": "sts:AssumeRole"}]}))
    iam.delete_role(RoleName=role["RoleName"])
    shown = iam.get_role(RoleName=trusting)["Role"]["AssumeRolePolicyDocument"]
    with pytest.raises(ClientError) as e:
        iam.update_assume_role_policy(RoleName=trusting, PolicyDocument=json.dumps(shown))
    assert e.value.response["Error"]["Code"] == "MalformedPolicyDocument"
    assert role["RoleId"] in e.value.response["Error"]["Message"]


def test_an_escaped_principal_and_a_condition_naming_it_keep_their_meaning(admin: AwsEnv) -> None:
    """The principal written with a JSON escape ("\\/") and the same ARN, plain, in a
    Deny's condition: only the principal is bound; the Deny still names the ARN."""
    s3: Any = admin.client("s3", region_name="us-east-1")
    iam: Any = admin.client("iam")
    bucket = new_bucket(s3, "bound-escaped")
    s3.put_object(Bucket=bucket, Key="public", Body=b"public")
    s3.put_object(Bucket=bucket, Key="secret", Body=b"secret")
    name = _unique("escaped")
    iam.create_user(UserName=name)
    key = iam.create_access_key(UserName=name)["AccessKey"]
    arn = f"arn:aws:iam::{_account(admin)}:user/{name}"
    text = ('{"Version":"2012-10-17","Statement":['
            '{"Effect":"Allow","Principal":{"AWS":"%s"},"Action":"s3:GetObject","Resource":"arn:aws:s3:::%s/*"},'
            '{"Effect":"Deny","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::%s/secret",'
            '"Condition":{"StringEquals":{"aws:PrincipalArn":"%s"}}}]}') % (arn.replace("/", "\\/"), bucket, bucket, arn)
    s3.put_bucket_policy(Bucket=bucket, Policy=text)
    user = admin.client_for(key, "s3")
    assert user.get_object(Bucket=bucket, Key="public")["Body"].read() == b"public"
    assert aws_error(lambda: user.get_object(Bucket=bucket, Key="secret"))[0] == "AccessDenied"

    iam.delete_access_key(UserName=name, AccessKeyId=key["AccessKeyId"])
    user_id = iam.get_user(UserName=name)["User"]["UserId"]
    iam.delete_user(UserName=name)
    iam.create_user(UserName=name)
    key = iam.create_access_key(UserName=name)["AccessKey"]
    assert aws_error(lambda: admin.client_for(key, "s3").get_object(Bucket=bucket, Key="public"))[0] == "AccessDenied"
    shown = json.loads(s3.get_bucket_policy(Bucket=bucket)["Policy"])
    assert shown["Statement"][0]["Principal"] == {"AWS": user_id}
    assert shown["Statement"][1]["Condition"] == {"StringEquals": {"aws:PrincipalArn": arn}}


def test_a_secret_policy_naming_no_principal_is_refused(admin: AwsEnv) -> None:
    sm: Any = admin.client("secretsmanager")
    secret = sm.create_secret(Name=_unique("bound-none"), SecretString="s")["ARN"]
    missing = f"arn:aws:iam::{_account(admin)}:user/{_unique('nobody')}"
    policy = json.dumps({"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow", "Principal": {"AWS": missing}, "Action": "secretsmanager:GetSecretValue", "Resource": "*"}]})
    code, message, status = aws_error(lambda: sm.put_resource_policy(SecretId=secret, ResourcePolicy=policy))
    assert (code, message, status) == (
        "MalformedPolicyDocumentException", "This resource policy contains an unsupported principal.", 400)
    assert "ResourcePolicy" not in sm.get_resource_policy(SecretId=secret)


def test_policies_stored_before_bindings_are_bound_at_start(tmp_path: Path) -> None:
    """A data dir from before bindings: its policies are bound once when Skyhold starts,
    so a principal created later under a name they give is not granted."""
    from skyhold.services.s3 import policy as s3_policy, records as s3_records
    from skyhold import upgrades
    from skyhold.store import open_store

    with own_server(tmp_path) as (srv, env):
        s3: Any = env.client("s3", region_name="us-east-1")
        iam: Any = env.client("iam")
        bucket = new_bucket(s3, "bound-legacy")
        s3.put_object(Bucket=bucket, Key="k", Body=b"legacy")
        name = _unique("legacy")
        iam.create_user(UserName=name)
        arn = iam.get_user(UserName=name)["User"]["Arn"]
        s3.put_bucket_policy(Bucket=bucket, Policy=json.dumps({"Version": "2012-10-17", "Statement": [{
            "Effect": "Allow", "Principal": {"AWS": arn}, "Action": "s3:GetObject",
            "Resource": f"arn:aws:s3:::{bucket}/*"}]}))
        srv.stop()
        store, _ = open_store(srv.data_dir)  # as an older Skyhold left it: no binding
        rec = store.get(s3_records.BUCKET, bucket)
        assert rec is not None and s3_policy.BINDING in rec.value
        store.put(s3_records.BUCKET, bucket, {k: v for k, v in rec.value.items() if k != s3_policy.BINDING})
        upgrades.forget(store, upgrades.BIND_PRINCIPALS)
        store.close()
        srv.start()

        iam.delete_user(UserName=name)
        iam.create_user(UserName=name)
        key = iam.create_access_key(UserName=name)["AccessKey"]
        recreated = env.client_for(key, "s3")
        assert aws_error(lambda: recreated.get_object(Bucket=bucket, Key="k"))[0] == "AccessDenied"
