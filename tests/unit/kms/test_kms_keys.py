"""KMS keys: lifecycle on Skyhold's clock, rotation, aliases, key policies (which must
allow even in the same account), condition keys, grants, managed keys, on-behalf use."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest

from skyhold import accounts, clock
from skyhold.errors import AwsError
from skyhold.services.kms import on_behalf
from tests.unit.kms.harness import Harness, allow


@pytest.fixture
def moved_clock() -> Iterator[None]:
    before = clock.offset().total_seconds()
    yield
    clock.set_offset(before)


def _advance(days: float) -> None:
    clock.set_offset(clock.offset().total_seconds() + days * 86400)


def _key(h: Harness, **params: object) -> dict:
    return h.run("kms", "CreateKey", **params)["KeyMetadata"]


def test_default_key_policy_is_awss(h: Harness) -> None:
    key = _key(h)
    policy = json.loads(h.run("kms", "GetKeyPolicy", KeyId=key["KeyId"], PolicyName="default")["Policy"])
    assert policy["Id"] == "key-default-1"
    [statement] = policy["Statement"]
    assert statement == {"Sid": "Enable IAM User Permissions", "Effect": "Allow",
                         "Principal": {"AWS": f"arn:aws:iam::{h.account}:root"}, "Action": "kms:*", "Resource": "*"}
    assert h.run("kms", "ListKeyPolicies", KeyId=key["KeyId"])["PolicyNames"] == ["default"]
    assert key["KeyManager"] == "CUSTOMER" and key["KeyState"] == "Enabled"


def test_key_policy_must_allow_even_with_kms_star(h: Harness) -> None:
    user = h.user("dev", allow("kms:*"))
    open_key = _key(h)
    h.run("kms", "Encrypt", as_=user, KeyId=open_key["KeyId"], Plaintext=b"x")
    closed = _key(h, Policy=json.dumps({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Principal": {"AWS": h.admin.arn}, "Action": "kms:*", "Resource": "*"}]}))
    err = h.fails("AccessDeniedException", "kms", "Encrypt", as_=user, KeyId=closed["KeyId"], Plaintext=b"x")
    assert err.message == (f"User: {user.arn} is not authorized to perform: kms:Encrypt on resource: "
                           f"{closed['Arn']} because no resource-based policy allows the kms:Encrypt action")
    # a key policy naming the user allows without any IAM policy at all
    nobody = h.user("nobody")
    named = _key(h, Policy=json.dumps({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Principal": {"AWS": h.admin.arn}, "Action": "kms:*", "Resource": "*"},
        {"Effect": "Allow", "Principal": {"AWS": nobody.arn}, "Action": "kms:Encrypt", "Resource": "*"}]}))
    h.run("kms", "Encrypt", as_=nobody, KeyId=named["KeyId"], Plaintext=b"x")


def test_lockout_safety_check(h: Harness) -> None:
    key = _key(h)
    elsewhere = json.dumps({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::111122223333:root"}, "Action": "kms:*",
         "Resource": "*"}]})
    err = h.fails("MalformedPolicyDocumentException", "kms", "PutKeyPolicy", KeyId=key["KeyId"],
                  PolicyName="default", Policy=elsewhere)
    assert err.message == "The new key policy will not allow you to update the key policy in the future."
    h.fails("MalformedPolicyDocumentException", "kms", "CreateKey", Policy=elsewhere)
    h.run("kms", "PutKeyPolicy", KeyId=key["KeyId"], PolicyName="default", Policy=elsewhere,
          BypassPolicyLockoutSafetyCheck=True)
    h.fails("AccessDeniedException", "kms", "GetKeyPolicy", KeyId=key["KeyId"], PolicyName="default")


def test_disable_delete_cancel_on_the_clock(h: Harness, moved_clock: None) -> None:
    key = _key(h)
    blob = h.run("kms", "Encrypt", KeyId=key["KeyId"], Plaintext=b"x")["CiphertextBlob"]
    h.run("kms", "DisableKey", KeyId=key["KeyId"])
    err = h.fails("DisabledException", "kms", "Decrypt", CiphertextBlob=blob)
    assert err.message == f"{key['Arn']} is disabled."
    h.run("kms", "EnableKey", KeyId=key["KeyId"])
    h.fails("ValidationException", "kms", "ScheduleKeyDeletion", KeyId=key["KeyId"], PendingWindowInDays=6)
    out = h.run("kms", "ScheduleKeyDeletion", KeyId=key["KeyId"], PendingWindowInDays=7)
    assert out["KeyState"] == "PendingDeletion"
    err = h.fails("KMSInvalidStateException", "kms", "Encrypt", KeyId=key["KeyId"], Plaintext=b"x")
    assert err.message == f"{key['Arn']} is pending deletion."
    h.run("kms", "CancelKeyDeletion", KeyId=key["KeyId"])
    assert h.run("kms", "DescribeKey", KeyId=key["KeyId"])["KeyMetadata"]["KeyState"] == "Disabled"
    h.run("kms", "ScheduleKeyDeletion", KeyId=key["KeyId"], PendingWindowInDays=7)
    _advance(6)
    assert h.run("kms", "DescribeKey", KeyId=key["KeyId"])["KeyMetadata"]["KeyState"] == "PendingDeletion"
    _advance(1.01)
    err = h.fails("NotFoundException", "kms", "DescribeKey", KeyId=key["KeyId"])
    assert err.message == f"Key '{key['Arn']}' does not exist"


def test_rotation_on_demand_and_on_the_clock(h: Harness, moved_clock: None) -> None:
    key = _key(h)
    old = h.run("kms", "Encrypt", KeyId=key["KeyId"], Plaintext=b"year one")["CiphertextBlob"]
    h.run("kms", "EnableKeyRotation", KeyId=key["KeyId"], RotationPeriodInDays=90)
    status = h.run("kms", "GetKeyRotationStatus", KeyId=key["KeyId"])
    assert status["KeyRotationEnabled"] and status["RotationPeriodInDays"] == 90
    h.run("kms", "RotateKeyOnDemand", KeyId=key["KeyId"])
    _advance(91)
    rotations = h.run("kms", "ListKeyRotations", KeyId=key["KeyId"])["Rotations"]
    assert [r["RotationType"] for r in rotations] == ["ON_DEMAND", "AUTOMATIC"]
    new = h.run("kms", "Encrypt", KeyId=key["KeyId"], Plaintext=b"year two")["CiphertextBlob"]
    assert new[40:42] == (2).to_bytes(2, "big") and old[40:42] == (0).to_bytes(2, "big")
    assert h.run("kms", "Decrypt", CiphertextBlob=old)["Plaintext"] == b"year one"
    assert h.run("kms", "Decrypt", CiphertextBlob=new)["Plaintext"] == b"year two"
    h.fails("ValidationException", "kms", "EnableKeyRotation", KeyId=key["KeyId"], RotationPeriodInDays=30)
    signer = _key(h, KeySpec="ECC_NIST_P256", KeyUsage="SIGN_VERIFY")
    h.fails("UnsupportedOperationException", "kms", "EnableKeyRotation", KeyId=signer["KeyId"])


def test_aliases_name_keys_everywhere(h: Harness) -> None:
    a, b = _key(h), _key(h)
    h.run("kms", "CreateAlias", AliasName="alias/app", TargetKeyId=a["KeyId"])
    h.fails("AlreadyExistsException", "kms", "CreateAlias", AliasName="alias/app", TargetKeyId=b["KeyId"])
    h.fails("NotAuthorizedException", "kms", "CreateAlias", AliasName="alias/aws/mine", TargetKeyId=a["KeyId"])
    h.fails("ValidationException", "kms", "CreateAlias", AliasName="app2", TargetKeyId=a["KeyId"])
    alias_arn = f"arn:aws:kms:us-east-1:{h.account}:alias/app"
    for ref in ("alias/app", alias_arn, a["Arn"], a["KeyId"]):
        assert h.run("kms", "Encrypt", KeyId=ref, Plaintext=b"x")["KeyId"] == a["Arn"]
    h.run("kms", "UpdateAlias", AliasName="alias/app", TargetKeyId=b["KeyId"])
    assert h.run("kms", "Encrypt", KeyId="alias/app", Plaintext=b"x")["KeyId"] == b["Arn"]
    listed = h.run("kms", "ListAliases", KeyId=b["KeyId"])["Aliases"]
    assert [x["AliasName"] for x in listed] == ["alias/app"]
    assert h.run("kms", "ListAliases", KeyId=a["KeyId"])["Aliases"] == []
    h.run("kms", "DeleteAlias", AliasName="alias/app")
    err = h.fails("NotFoundException", "kms", "DescribeKey", KeyId="alias/app")
    assert err.message == f"Alias {alias_arn} is not found."


def test_managed_key_created_on_first_reference(h: Harness) -> None:
    meta = h.run("kms", "DescribeKey", KeyId="alias/aws/ssm")["KeyMetadata"]
    assert meta["KeyManager"] == "AWS"
    assert h.run("kms", "DescribeKey", KeyId="alias/aws/ssm")["KeyMetadata"]["KeyId"] == meta["KeyId"]
    # its policy allows use only through the service
    h.fails("AccessDeniedException", "kms", "Encrypt", KeyId="alias/aws/ssm", Plaintext=b"x")
    h.fails("AccessDeniedException", "kms", "ScheduleKeyDeletion", KeyId="alias/aws/ssm")
    h.fails("NotFoundException", "kms", "DescribeKey", KeyId="alias/aws/not-a-service")


def test_list_keys_pages(h: Harness) -> None:
    made = {_key(h)["KeyId"] for _ in range(5)}
    seen, marker = [], None
    while True:
        page = h.run("kms", "ListKeys", Limit=2, **({"Marker": marker} if marker else {}))
        seen += [k["KeyId"] for k in page["Keys"]]
        if not page["Truncated"]:
            break
        marker = page["NextMarker"]
    assert made <= set(seen) and len(seen) == len(set(seen))
    # Limit is 1–1000: 0 is refused, not taken for the default
    for limit, bound in ((0, "greater than or equal to 1"), (-1, "greater than or equal to 1"),
                         (1001, "less than or equal to 1000")):
        with pytest.raises(AwsError) as e:
            h.run("kms", "ListKeys", Limit=limit)
        assert (e.value.code, e.value.message) == ("ValidationException", (
            f"1 validation error detected: Value '{limit}' at 'limit' failed to satisfy constraint: "
            f"Member must have value {bound}"))


def test_condition_keys(h: Harness) -> None:
    key = _key(h, Tags=[{"TagKey": "team", "TagValue": "billing"}])
    h.run("kms", "CreateAlias", AliasName="alias/billing", TargetKeyId=key["KeyId"])
    ctx_user = h.user("ctx", allow("kms:Encrypt", **{"StringEquals": {"kms:EncryptionContext:app": "billing"}}))
    h.run("kms", "Encrypt", as_=ctx_user, KeyId=key["KeyId"], Plaintext=b"x", EncryptionContext={"app": "billing"})
    h.fails("AccessDeniedException", "kms", "Encrypt", as_=ctx_user, KeyId=key["KeyId"], Plaintext=b"x")
    tag_user = h.user("tags", allow("kms:Encrypt", **{"StringEquals": {"aws:ResourceTag/team": "billing"}}))
    h.run("kms", "Encrypt", as_=tag_user, KeyId=key["KeyId"], Plaintext=b"x")
    alias_user = h.user("aliases", allow("kms:Encrypt", **{"ForAnyValue:StringEquals":
                                                           {"kms:ResourceAliases": "alias/billing"}}))
    h.run("kms", "Encrypt", as_=alias_user, KeyId=key["KeyId"], Plaintext=b"x")
    request_alias = h.user("reqalias", allow("kms:Encrypt", **{"StringEquals": {"kms:RequestAlias": "alias/billing"}}))
    h.run("kms", "Encrypt", as_=request_alias, KeyId="alias/billing", Plaintext=b"x")
    h.fails("AccessDeniedException", "kms", "Encrypt", as_=request_alias, KeyId=key["KeyId"], Plaintext=b"x")
    spec_user = h.user("spec", allow("kms:CreateKey", **{"StringEquals": {"kms:KeySpec": "SYMMETRIC_DEFAULT"}}))
    h.run("kms", "CreateKey", as_=spec_user)
    h.fails("AccessDeniedException", "kms", "CreateKey", as_=spec_user, KeySpec="HMAC_256",
            KeyUsage="GENERATE_VERIFY_MAC")


def test_grants(h: Harness) -> None:
    admin_only = json.dumps({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Principal": {"AWS": h.admin.arn}, "Action": "kms:*", "Resource": "*"}]})
    key = _key(h, Policy=admin_only)
    app = h.user("app")
    retirer = h.user("retirer")
    blob = h.run("kms", "Encrypt", KeyId=key["KeyId"], Plaintext=b"p", EncryptionContext={"app": "billing"})[
        "CiphertextBlob"]
    h.fails("AccessDeniedException", "kms", "Decrypt", as_=app, CiphertextBlob=blob,
            EncryptionContext={"app": "billing"})
    grant = h.run("kms", "CreateGrant", KeyId=key["KeyId"], GranteePrincipal=app.arn, Operations=["Decrypt"],
                  RetiringPrincipal=retirer.arn, Constraints={"EncryptionContextEquals": {"app": "billing"}})
    assert h.run("kms", "Decrypt", as_=app, CiphertextBlob=blob, EncryptionContext={"app": "billing"})[
        "Plaintext"] == b"p"
    wider = h.run("kms", "Encrypt", KeyId=key["KeyId"], Plaintext=b"p",
                  EncryptionContext={"app": "billing", "more": "1"})["CiphertextBlob"]
    h.fails("AccessDeniedException", "kms", "Decrypt", as_=app, CiphertextBlob=wider,
            EncryptionContext={"app": "billing", "more": "1"})  # Equals, not Subset
    h.fails("AccessDeniedException", "kms", "Encrypt", as_=app, KeyId=key["KeyId"], Plaintext=b"x")
    listed = h.run("kms", "ListRetirableGrants", RetiringPrincipal=retirer.arn)["Grants"]
    assert [g["GrantId"] for g in listed] == [grant["GrantId"]]
    h.fails("AccessDeniedException", "kms", "RetireGrant", as_=app, GrantToken=grant["GrantToken"])
    h.run("kms", "RetireGrant", as_=retirer, GrantToken=grant["GrantToken"])
    assert h.run("kms", "ListGrants", KeyId=key["KeyId"])["Grants"] == []
    h.fails("AccessDeniedException", "kms", "Decrypt", as_=app, CiphertextBlob=blob,
            EncryptionContext={"app": "billing"})


def test_cross_account_use_by_arn(h: Harness) -> None:
    partner = accounts.create_account(h.store, "partner").account_id
    partner_admin = h.user_principal("admin", partner)
    key = _key(h)
    blob = h.run("kms", "Encrypt", KeyId=key["KeyId"], Plaintext=b"shared")["CiphertextBlob"]
    h.fails("NotFoundException", "kms", "Encrypt", as_=partner_admin, KeyId=key["KeyId"], Plaintext=b"x")
    h.fails("AccessDeniedException", "kms", "Decrypt", as_=partner_admin, CiphertextBlob=blob)
    policy = json.loads(h.run("kms", "GetKeyPolicy", KeyId=key["KeyId"], PolicyName="default")["Policy"])
    policy["Statement"].append({"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{partner}:root"},
                                "Action": ["kms:Decrypt", "kms:Encrypt"], "Resource": "*"})
    h.run("kms", "PutKeyPolicy", KeyId=key["KeyId"], PolicyName="default", Policy=json.dumps(policy))
    assert h.run("kms", "Decrypt", as_=partner_admin, CiphertextBlob=blob)["Plaintext"] == b"shared"
    h.run("kms", "Encrypt", as_=partner_admin, KeyId=key["Arn"], Plaintext=b"x")


def test_on_behalf_needs_the_callers_permission_via_the_service(h: Harness) -> None:
    key = _key(h)
    plain, blob, arn = on_behalf.generate_data_key(h.call("ssm", "PutParameter", h.admin), key["KeyId"],
                                                   {"PARAMETER_ARN": "p"}, "ssm")
    assert arn == key["Arn"] and len(plain) == 32
    only_via_s3 = h.user("vias3", allow("kms:Decrypt", **{"StringEquals": {"kms:ViaService":
                                                                          "s3.us-east-1.amazonaws.com"}}))
    with pytest.raises(AwsError) as e:
        on_behalf.decrypt(h.call("ssm", "GetParameter", only_via_s3), blob, {"PARAMETER_ARN": "p"}, "ssm")
    assert e.value.code == "AccessDeniedException"
    assert e.value.message.startswith(f"User: {only_via_s3.arn} is not authorized to perform: kms:Decrypt on "
                                      f"resource: {key['Arn']}")
    assert "(Service: AWSKMS; Status Code: 400; Error Code: AccessDeniedException;" in e.value.message
    with pytest.raises(AwsError) as e:
        on_behalf.decrypt(h.call("secretsmanager", "GetSecretValue", only_via_s3), blob, {"PARAMETER_ARN": "p"},
                          "secretsmanager")
    assert (e.value.code, e.value.message) == ("AccessDeniedException", "Access to KMS is not allowed")
    assert on_behalf.decrypt(h.call("s3", "GetObject", only_via_s3), blob, {"PARAMETER_ARN": "p"}, "s3")[0] == plain
