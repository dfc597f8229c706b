"""KMS: real encryption bound to its context, key policies that must allow, key states."""

from __future__ import annotations

import base64
import json
import uuid

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from .conftest import AwsEnv, own_server


def _user_client(admin: AwsEnv, policy: dict) -> object:
    iam = admin.client("iam")
    name = f"kms-{uuid.uuid4().hex[:6]}"
    iam.create_user(UserName=name)
    iam.put_user_policy(UserName=name, PolicyName="p", PolicyDocument=json.dumps(policy))
    key = iam.create_access_key(UserName=name)["AccessKey"]
    return boto3.client("kms", endpoint_url=admin.endpoint, region_name="us-east-1",
                        aws_access_key_id=key["AccessKeyId"], aws_secret_access_key=key["SecretAccessKey"],
                        config=Config(retries={"max_attempts": 1}))


def test_encrypt_decrypt_with_the_cli_and_context(admin: AwsEnv, tmp_path) -> None:
    key_id = admin.aws_json("kms", "create-key", "--description", "lab")["KeyMetadata"]["KeyId"]
    (tmp_path / "secret.txt").write_bytes(b"db-password-123")
    out = admin.aws_json("kms", "encrypt", "--key-id", key_id, "--plaintext", f"fileb://{tmp_path / 'secret.txt'}",
                         "--encryption-context", "app=billing")
    blob = base64.b64decode(out["CiphertextBlob"])
    assert b"db-password-123" not in blob
    (tmp_path / "blob").write_bytes(blob)
    back = admin.aws_json("kms", "decrypt", "--ciphertext-blob", f"fileb://{tmp_path / 'blob'}",
                          "--encryption-context", "app=billing")
    assert base64.b64decode(back["Plaintext"]) == b"db-password-123"
    assert back["KeyId"].endswith(key_id)
    wrong = admin.aws("kms", "decrypt", "--ciphertext-blob", f"fileb://{tmp_path / 'blob'}",
                      "--encryption-context", "app=payroll")
    assert wrong.returncode != 0 and "InvalidCiphertextException" in wrong.stderr


def test_key_policy_must_allow_even_with_kms_star(admin: AwsEnv) -> None:
    kms = admin.client("kms")
    account = admin.client("sts").get_caller_identity()["Account"]
    user = _user_client(admin, {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": "kms:*", "Resource": "*"}]})
    open_key = kms.create_key()["KeyMetadata"]["KeyId"]  # default policy: IAM policies work
    user.encrypt(KeyId=open_key, Plaintext=b"x")
    admin_arn = f"arn:aws:iam::{account}:user/admin"
    closed_key = kms.create_key(Policy=json.dumps({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Principal": {"AWS": admin_arn}, "Action": "kms:*", "Resource": "*"}]}))["KeyMetadata"]
    with pytest.raises(ClientError) as e:
        user.encrypt(KeyId=closed_key["KeyId"], Plaintext=b"x")
    err = e.value.response["Error"]
    assert err["Code"] == "AccessDeniedException"
    assert "because no resource-based policy allows the kms:Encrypt action" in err["Message"]


def test_lockout_safety_check(admin: AwsEnv) -> None:
    kms = admin.client("kms")
    key_id = kms.create_key()["KeyMetadata"]["KeyId"]
    nobody = json.dumps({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::111122223333:root"}, "Action": "kms:*", "Resource": "*"}]})
    with pytest.raises(ClientError) as e:
        kms.put_key_policy(KeyId=key_id, PolicyName="default", Policy=nobody)
    assert e.value.response["Error"]["Code"] == "MalformedPolicyDocumentException"
    assert json.loads(kms.get_key_policy(KeyId=key_id, PolicyName="default")["Policy"])["Id"] == "key-default-1"
    # A role that does not exist is no principal, lockout check or not.
    account = admin.client("sts").get_caller_identity()["Account"]
    ghost = json.dumps({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{account}:root"}, "Action": "kms:*", "Resource": "*"},
        {"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{account}:role/DoesNotExist"},
         "Action": "kms:Decrypt", "Resource": "*"}]})
    for call in (lambda: kms.put_key_policy(KeyId=key_id, PolicyName="default", Policy=ghost,
                                            BypassPolicyLockoutSafetyCheck=True),
                 lambda: kms.create_key(Policy=ghost)):
        with pytest.raises(ClientError) as e:
            call()
        assert (e.value.response["Error"]["Code"], e.value.response["Error"]["Message"]) == (
            "MalformedPolicyDocumentException", "Policy contains a statement with one or more invalid principals.")


def test_disabled_key_refuses_and_rotation_keeps_old_ciphertexts(admin: AwsEnv) -> None:
    kms = admin.client("kms")
    key_id = kms.create_key()["KeyMetadata"]["KeyId"]
    kms.create_alias(AliasName=f"alias/lab-{uuid.uuid4().hex[:6]}", TargetKeyId=key_id)
    old = kms.encrypt(KeyId=key_id, Plaintext=b"before rotation")["CiphertextBlob"]
    kms.rotate_key_on_demand(KeyId=key_id)
    new = kms.encrypt(KeyId=key_id, Plaintext=b"after rotation")["CiphertextBlob"]
    assert kms.decrypt(CiphertextBlob=old)["Plaintext"] == b"before rotation"
    assert kms.decrypt(CiphertextBlob=new)["Plaintext"] == b"after rotation"
    kms.disable_key(KeyId=key_id)
    with pytest.raises(ClientError) as e:
        kms.decrypt(CiphertextBlob=old)
    assert e.value.response["Error"]["Code"] == "DisabledException"
    kms.enable_key(KeyId=key_id)
    kms.schedule_key_deletion(KeyId=key_id, PendingWindowInDays=7)
    with pytest.raises(ClientError) as e:
        kms.encrypt(KeyId=key_id, Plaintext=b"x")
    assert e.value.response["Error"]["Code"] == "KMSInvalidStateException"
    kms.cancel_key_deletion(KeyId=key_id)
    assert kms.describe_key(KeyId=key_id)["KeyMetadata"]["KeyState"] == "Disabled"


def test_data_keys_and_aliases(admin: AwsEnv) -> None:
    kms = admin.client("kms")
    key_id = kms.create_key()["KeyMetadata"]["KeyId"]
    alias = f"alias/app-{uuid.uuid4().hex[:6]}"
    kms.create_alias(AliasName=alias, TargetKeyId=key_id)
    dk = kms.generate_data_key(KeyId=alias, KeySpec="AES_256", EncryptionContext={"bucket": "b"})
    assert len(dk["Plaintext"]) == 32
    assert kms.decrypt(CiphertextBlob=dk["CiphertextBlob"], EncryptionContext={"bucket": "b"})["Plaintext"] == dk["Plaintext"]
    assert any(a["AliasName"] == alias for a in kms.list_aliases(KeyId=key_id)["Aliases"])
    with pytest.raises(ClientError) as e:
        kms.describe_key(KeyId="alias/does-not-exist")
    assert e.value.response["Error"]["Code"] == "NotFoundException"


def test_no_key_material_in_the_store(admin: AwsEnv, server) -> None:
    kms = admin.client("kms")
    key_id = kms.create_key()["KeyMetadata"]["KeyId"]
    dk = kms.generate_data_key(KeyId=key_id, NumberOfBytes=32)
    data = b"".join(p.read_bytes() for p in server.data_dir.glob("*.db*"))
    assert dk["Plaintext"] not in data
    assert base64.b64encode(dk["Plaintext"]) not in data


def test_asymmetric_keys_work_outside_skyhold(admin: AwsEnv) -> None:
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec, padding

    kms = admin.client("kms")
    signer = kms.create_key(KeySpec="ECC_NIST_P256", KeyUsage="SIGN_VERIFY")["KeyMetadata"]
    assert signer["SigningAlgorithms"] == ["ECDSA_SHA_256"]
    sig = kms.sign(KeyId=signer["KeyId"], Message=b"release v1.0", SigningAlgorithm="ECDSA_SHA_256")["Signature"]
    public = serialization.load_der_public_key(kms.get_public_key(KeyId=signer["KeyId"])["PublicKey"])
    public.verify(sig, b"release v1.0", ec.ECDSA(hashes.SHA256()))  # raises if invalid
    assert kms.verify(KeyId=signer["KeyId"], Message=b"release v1.0", Signature=sig,
                      SigningAlgorithm="ECDSA_SHA_256")["SignatureValid"] is True
    with pytest.raises(ClientError) as e:
        kms.verify(KeyId=signer["KeyId"], Message=b"release v1.1", Signature=sig, SigningAlgorithm="ECDSA_SHA_256")
    assert e.value.response["Error"]["Code"] == "KMSInvalidSignatureException"

    rsa_key = kms.create_key(KeySpec="RSA_2048", KeyUsage="ENCRYPT_DECRYPT")["KeyMetadata"]
    rsa_public = serialization.load_der_public_key(kms.get_public_key(KeyId=rsa_key["KeyId"])["PublicKey"])
    outside = rsa_public.encrypt(b"sealed outside", padding.OAEP(mgf=padding.MGF1(hashes.SHA256()),
                                                                 algorithm=hashes.SHA256(), label=None))
    inside = kms.decrypt(KeyId=rsa_key["KeyId"], CiphertextBlob=outside, EncryptionAlgorithm="RSAES_OAEP_SHA_256")
    assert inside["Plaintext"] == b"sealed outside"

    rsa_signer = kms.create_key(KeySpec="RSA_3072", KeyUsage="SIGN_VERIFY")["KeyMetadata"]
    sig = kms.sign(KeyId=rsa_signer["KeyId"], Message=b"m", SigningAlgorithm="RSASSA_PSS_SHA_256")["Signature"]
    pub = serialization.load_der_public_key(kms.get_public_key(KeyId=rsa_signer["KeyId"])["PublicKey"])
    pub.verify(sig, b"m", padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=32), hashes.SHA256())

    mac_key = kms.create_key(KeySpec="HMAC_256", KeyUsage="GENERATE_VERIFY_MAC")["KeyMetadata"]
    mac = kms.generate_mac(KeyId=mac_key["KeyId"], Message=b"token", MacAlgorithm="HMAC_SHA_256")["Mac"]
    assert kms.verify_mac(KeyId=mac_key["KeyId"], Message=b"token", Mac=mac, MacAlgorithm="HMAC_SHA_256")["MacValid"]
    with pytest.raises(ClientError) as e:
        kms.verify_mac(KeyId=mac_key["KeyId"], Message=b"tokeN", Mac=mac, MacAlgorithm="HMAC_SHA_256")
    assert e.value.response["Error"]["Code"] == "KMSInvalidMacException"
    with pytest.raises(ClientError) as e:
        kms.encrypt(KeyId=signer["KeyId"], Plaintext=b"x")
    assert e.value.response["Error"]["Code"] == "InvalidKeyUsageException"


def test_automatic_rotation_follows_skyhold_clock(tmp_path) -> None:
    with own_server(tmp_path) as (srv, admin):
        kms = admin.client("kms")
        key_id = kms.create_key()["KeyMetadata"]["KeyId"]
        kms.enable_key_rotation(KeyId=key_id, RotationPeriodInDays=90)
        old = kms.encrypt(KeyId=key_id, Plaintext=b"year one")["CiphertextBlob"]
        assert kms.list_key_rotations(KeyId=key_id)["Rotations"] == []
        assert srv.cli("clock", "advance", "91d", "--endpoint", srv.endpoint).returncode == 0
        rotations = kms.list_key_rotations(KeyId=key_id)["Rotations"]
        assert [r["RotationType"] for r in rotations] == ["AUTOMATIC"]
        assert kms.decrypt(CiphertextBlob=old)["Plaintext"] == b"year one"


def test_grants_allow_without_policy_and_respect_constraints(admin: AwsEnv) -> None:
    kms = admin.client("kms")
    account = admin.client("sts").get_caller_identity()["Account"]
    admin_arn = f"arn:aws:iam::{account}:user/admin"
    key_id = kms.create_key(Policy=json.dumps({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Principal": {"AWS": admin_arn}, "Action": "kms:*", "Resource": "*"}]}))["KeyMetadata"]["KeyId"]
    iam = admin.client("iam")
    name = f"grantee-{uuid.uuid4().hex[:6]}"
    user_arn = iam.create_user(UserName=name)["User"]["Arn"]
    key = iam.create_access_key(UserName=name)["AccessKey"]
    user = boto3.client("kms", endpoint_url=admin.endpoint, region_name="us-east-1",
                        aws_access_key_id=key["AccessKeyId"], aws_secret_access_key=key["SecretAccessKey"],
                        config=Config(retries={"max_attempts": 1}))
    blob = kms.encrypt(KeyId=key_id, Plaintext=b"for the app", EncryptionContext={"app": "billing"})["CiphertextBlob"]
    with pytest.raises(ClientError):
        user.decrypt(CiphertextBlob=blob, EncryptionContext={"app": "billing"})
    grant = kms.create_grant(KeyId=key_id, GranteePrincipal=user_arn, Operations=["Decrypt"],
                             Constraints={"EncryptionContextSubset": {"app": "billing"}})
    assert user.decrypt(CiphertextBlob=blob, EncryptionContext={"app": "billing"})["Plaintext"] == b"for the app"
    other = kms.encrypt(KeyId=key_id, Plaintext=b"x", EncryptionContext={"app": "payroll"})["CiphertextBlob"]
    with pytest.raises(ClientError):
        user.decrypt(CiphertextBlob=other, EncryptionContext={"app": "payroll"})
    assert [g["GrantId"] for g in kms.list_grants(KeyId=key_id)["Grants"]] == [grant["GrantId"]]
    kms.revoke_grant(KeyId=key_id, GrantId=grant["GrantId"])
    with pytest.raises(ClientError):
        user.decrypt(CiphertextBlob=blob, EncryptionContext={"app": "billing"})


def test_cross_account_key_use_needs_the_key_policy(admin: AwsEnv, server, tmp_path) -> None:
    from .conftest import new_account

    kms = admin.client("kms")
    partner_env, partner_account = new_account(server, tmp_path, "kmspartner")
    partner = partner_env.client("kms")
    key = kms.create_key()["KeyMetadata"]
    blob = kms.encrypt(KeyId=key["KeyId"], Plaintext=b"shared")["CiphertextBlob"]
    with pytest.raises(ClientError) as e:  # the key policy trusts only its own account
        partner.decrypt(CiphertextBlob=blob)
    assert e.value.response["Error"]["Code"] == "AccessDeniedException"
    policy = json.loads(kms.get_key_policy(KeyId=key["KeyId"], PolicyName="default")["Policy"])
    policy["Statement"].append({"Sid": "Partner", "Effect": "Allow",
                                "Principal": {"AWS": f"arn:aws:iam::{partner_account}:root"},
                                "Action": "kms:Decrypt", "Resource": "*"})
    kms.put_key_policy(KeyId=key["KeyId"], PolicyName="default", Policy=json.dumps(policy))
    assert partner.decrypt(CiphertextBlob=blob)["Plaintext"] == b"shared"  # its admin's policy allows kms:*


def test_private_key_material_never_at_rest_in_clear(admin: AwsEnv, server) -> None:
    from cryptography.hazmat.primitives import serialization

    kms = admin.client("kms")
    key_id = kms.create_key(KeySpec="RSA_2048", KeyUsage="SIGN_VERIFY")["KeyMetadata"]["KeyId"]
    public = serialization.load_der_public_key(kms.get_public_key(KeyId=key_id)["PublicKey"])
    modulus = public.public_numbers().n.to_bytes(256, "big")
    stored = b"".join(p.read_bytes() for p in server.data_dir.rglob("*") if p.is_file())
    # a private key stored in the clear (DER, PEM or base64) would carry its modulus
    import base64 as b64

    assert modulus not in stored and b64.b64encode(modulus)[:40] not in stored


def test_new_operations_round_trip_through_boto3(admin: AwsEnv) -> None:
    from cryptography.hazmat.primitives import serialization

    kms = admin.client("kms")
    a, b = kms.create_key()["KeyMetadata"], kms.create_key()["KeyMetadata"]
    alias = f"alias/move-{uuid.uuid4().hex[:6]}"
    kms.create_alias(AliasName=alias, TargetKeyId=a["KeyId"])
    kms.update_alias(AliasName=alias, TargetKeyId=b["KeyId"])
    assert kms.describe_key(KeyId=alias)["KeyMetadata"]["KeyId"] == b["KeyId"]
    pair = kms.generate_data_key_pair(KeyId=alias, KeyPairSpec="ECC_NIST_P384")
    private = serialization.load_der_private_key(pair["PrivateKeyPlaintext"], password=None)
    assert private.public_key().public_bytes(serialization.Encoding.DER,
                                             serialization.PublicFormat.SubjectPublicKeyInfo) == pair["PublicKey"]
    assert kms.decrypt(CiphertextBlob=pair["PrivateKeyCiphertextBlob"])["Plaintext"] == pair["PrivateKeyPlaintext"]
    managed = kms.describe_key(KeyId="alias/aws/secretsmanager")["KeyMetadata"]
    assert managed["KeyManager"] == "AWS"


def _fails(operation, **params) -> tuple[str, str]:
    """(code, message) of a call that must fail as a client error."""
    with pytest.raises(ClientError) as e:
        operation(**params)
    assert e.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    return e.value.response["Error"]["Code"], e.value.response["Error"]["Message"]


def test_data_keys_need_a_symmetric_encryption_key(admin: AwsEnv) -> None:
    kms = admin.client("kms")
    signer = kms.create_key(KeySpec="RSA_2048", KeyUsage="SIGN_VERIFY")["KeyMetadata"]
    ecc = kms.create_key(KeySpec="ECC_NIST_P256", KeyUsage="SIGN_VERIFY")["KeyMetadata"]
    rsa = kms.create_key(KeySpec="RSA_2048", KeyUsage="ENCRYPT_DECRYPT")["KeyMetadata"]
    mac = kms.create_key(KeySpec="HMAC_256", KeyUsage="GENERATE_VERIFY_MAC")["KeyMetadata"]
    for key in (signer, ecc, rsa, mac):
        assert _fails(kms.generate_data_key, KeyId=key["KeyId"], KeySpec="AES_256") == (
            "InvalidKeyUsageException", f"{key['Arn']} key usage is {key['KeyUsage']} which is not valid for "
            "GenerateDataKey.")
        assert _fails(kms.generate_data_key_without_plaintext, KeyId=key["KeyId"], NumberOfBytes=32) == (
            "InvalidKeyUsageException", f"{key['Arn']} key usage is {key['KeyUsage']} which is not valid for "
            "GenerateDataKeyWithoutPlaintext.")
    blob = kms.encrypt(KeyId=kms.create_key()["KeyMetadata"]["KeyId"], Plaintext=b"move me")["CiphertextBlob"]
    assert _fails(kms.re_encrypt, CiphertextBlob=blob, DestinationKeyId=signer["KeyId"]) == (
        "InvalidKeyUsageException", f"{signer['Arn']} key usage is SIGN_VERIFY which is not valid for ReEncrypt.")
    assert _fails(kms.re_encrypt, CiphertextBlob=blob, DestinationKeyId=rsa["KeyId"]) == (
        "InvalidKeyUsageException", "Algorithm SYMMETRIC_DEFAULT is incompatible with key spec RSA_2048.")
    moved = kms.re_encrypt(CiphertextBlob=blob, DestinationKeyId=rsa["KeyId"],
                           DestinationEncryptionAlgorithm="RSAES_OAEP_SHA_256")
    assert moved["DestinationEncryptionAlgorithm"] == "RSAES_OAEP_SHA_256"
    assert kms.decrypt(KeyId=rsa["KeyId"], CiphertextBlob=moved["CiphertextBlob"],
                       EncryptionAlgorithm="RSAES_OAEP_SHA_256")["Plaintext"] == b"move me"


def test_rsa_encrypt_refuses_plaintext_beyond_the_oaep_limit(admin: AwsEnv) -> None:
    kms = admin.client("kms")
    key_id = kms.create_key(KeySpec="RSA_2048", KeyUsage="ENCRYPT_DECRYPT")["KeyMetadata"]["KeyId"]
    kms.encrypt(KeyId=key_id, Plaintext=b"x" * 190, EncryptionAlgorithm="RSAES_OAEP_SHA_256")
    assert _fails(kms.encrypt, KeyId=key_id, Plaintext=b"x" * 300, EncryptionAlgorithm="RSAES_OAEP_SHA_256") == (
        "ValidationException", "Algorithm RSAES_OAEP_SHA_256 and key spec RSA_2048 cannot encrypt data larger than "
        "190 bytes.")
    assert _fails(kms.encrypt, KeyId=key_id, Plaintext=b"x" * 215, EncryptionAlgorithm="RSAES_OAEP_SHA_1") == (
        "ValidationException", "Algorithm RSAES_OAEP_SHA_1 and key spec RSA_2048 cannot encrypt data larger than "
        "214 bytes.")


def test_data_key_size_must_fit_the_model(admin: AwsEnv) -> None:
    kms = admin.client("kms")
    key_id = kms.create_key()["KeyMetadata"]["KeyId"]
    assert len(kms.generate_data_key(KeyId=key_id, NumberOfBytes=1024)["Plaintext"]) == 1024
    assert _fails(kms.generate_data_key, KeyId=key_id, NumberOfBytes=1025) == (
        "ValidationException", "1 validation error detected: Value '1025' at 'numberOfBytes' failed to satisfy "
        "constraint: Member must have value less than or equal to 1024")
    assert _fails(kms.generate_data_key_without_plaintext, KeyId=key_id, KeySpec="AES_512") == (
        "ValidationException", "1 validation error detected: Value 'AES_512' at 'keySpec' failed to satisfy "
        "constraint: Member must satisfy enum value set: [AES_256, AES_128]")


def test_create_grant_checks_key_state_operations_and_name(admin: AwsEnv) -> None:
    kms = admin.client("kms")
    grantee = f"arn:aws:iam::{admin.client('sts').get_caller_identity()['Account']}:user/admin"
    symmetric = kms.create_key()["KeyMetadata"]
    signer = kms.create_key(KeySpec="ECC_NIST_P256", KeyUsage="SIGN_VERIFY")["KeyMetadata"]
    mac = kms.create_key(KeySpec="HMAC_256", KeyUsage="GENERATE_VERIFY_MAC")["KeyMetadata"]
    kms.create_grant(KeyId=signer["KeyId"], GranteePrincipal=grantee, Operations=["Sign", "GetPublicKey"])
    kms.create_grant(KeyId=mac["KeyId"], GranteePrincipal=grantee, Operations=["GenerateMac", "VerifyMac"])

    code, message = _fails(kms.create_grant, KeyId=symmetric["KeyId"], GranteePrincipal=grantee,
                           Operations=["Decrypt", "Sign"])
    assert code == "ValidationException" and "[Sign]" in message
    code, message = _fails(kms.create_grant, KeyId=signer["KeyId"], GranteePrincipal=grantee,
                           Operations=["GenerateDataKey"])
    assert code == "ValidationException" and "[GenerateDataKey]" in message
    code, _ = _fails(kms.create_grant, KeyId=signer["KeyId"], GranteePrincipal=grantee, Operations=["Sign"],
                     Constraints={"EncryptionContextSubset": {"app": "billing"}})
    assert code == "ValidationException"
    assert _fails(kms.create_grant, KeyId=symmetric["KeyId"], GranteePrincipal=grantee, Operations=[]) == (
        "ValidationException", "1 validation error detected: Value '[]' at 'operations' failed to satisfy "
        "constraint: Member must have length greater than or equal to 1")
    assert _fails(kms.create_grant, KeyId=symmetric["KeyId"], GranteePrincipal=grantee, Operations=["CreateGrant"]) == (
        "ValidationException", "Grants must not contain only the CreateGrant operation.")
    assert _fails(kms.create_grant, KeyId=symmetric["KeyId"], GranteePrincipal=grantee, Operations=["Decrypt"],
                  Name="my grant!") == (
        "ValidationException", "1 validation error detected: Value 'my grant!' at 'name' failed to satisfy "
        "constraint: Member must satisfy regular expression pattern: ^[a-zA-Z0-9:/_-]+$")

    kms.disable_key(KeyId=symmetric["KeyId"])
    assert _fails(kms.create_grant, KeyId=symmetric["KeyId"], GranteePrincipal=grantee, Operations=["Decrypt"]) == (
        "DisabledException", f"{symmetric['Arn']} is disabled.")
    kms.schedule_key_deletion(KeyId=symmetric["KeyId"], PendingWindowInDays=7)
    assert _fails(kms.create_grant, KeyId=symmetric["KeyId"], GranteePrincipal=grantee, Operations=["Decrypt"]) == (
        "KMSInvalidStateException", f"{symmetric['Arn']} is pending deletion.")
    assert kms.list_grants(KeyId=symmetric["KeyId"])["Grants"] == []


def test_key_management_respects_key_state(admin: AwsEnv) -> None:
    kms = admin.client("kms")
    key = kms.create_key()["KeyMetadata"]
    kms.disable_key(KeyId=key["KeyId"])
    kms.tag_resource(KeyId=key["KeyId"], Tags=[{"TagKey": "team", "TagValue": "a"}])  # a disabled key may be tagged
    assert _fails(kms.disable_key_rotation, KeyId=key["KeyId"]) == ("DisabledException", f"{key['Arn']} is disabled.")
    kms.schedule_key_deletion(KeyId=key["KeyId"], PendingWindowInDays=7)
    pending = ("KMSInvalidStateException", f"{key['Arn']} is pending deletion.")
    assert _fails(kms.tag_resource, KeyId=key["KeyId"], Tags=[{"TagKey": "team", "TagValue": "b"}]) == pending
    assert _fails(kms.untag_resource, KeyId=key["KeyId"], TagKeys=["team"]) == pending
    assert _fails(kms.update_key_description, KeyId=key["KeyId"], Description="new") == pending
    assert kms.list_resource_tags(KeyId=key["KeyId"])["Tags"] == [{"TagKey": "team", "TagValue": "a"}]
    assert kms.describe_key(KeyId=key["KeyId"])["KeyMetadata"]["Description"] == ""


def test_dry_run_authorizes_and_does_nothing(admin: AwsEnv) -> None:
    """`--dry-run` is how the KMS guide says to test permissions: authorized, the call
    answers DryRunOperationException (HTTP 400) and does nothing; denied, it is denied."""
    kms = admin.client("kms")
    key = kms.create_key()["KeyMetadata"]["Arn"]
    blob = kms.encrypt(KeyId=key, Plaintext=b"s3cret")["CiphertextBlob"]
    grantee = admin.client("iam").create_user(UserName=f"grantee-{uuid.uuid4().hex[:6]}")["User"]["Arn"]

    def dry(call, **params) -> dict:
        with pytest.raises(ClientError) as err:
            call(DryRun=True, **params)
        return err.value.response

    for answer in (dry(kms.create_grant, KeyId=key, GranteePrincipal=grantee, Operations=["Decrypt"]),
                   dry(kms.encrypt, KeyId=key, Plaintext=b"x"),
                   dry(kms.decrypt, CiphertextBlob=blob),
                   dry(kms.decrypt, KeyId=key, DryRunModifiers=["IGNORE_CIPHERTEXT"]),
                   dry(kms.generate_data_key, KeyId=key, KeySpec="AES_256")):
        assert answer["Error"] == {"Code": "DryRunOperationException",
                                   "Message": "The request would have succeeded, but the DryRun option is set."}
        assert answer["ResponseMetadata"]["HTTPStatusCode"] == 400  # as AWS KMS answers
    assert kms.list_grants(KeyId=key)["Grants"] == []  # the dry run created nothing

    grant = kms.create_grant(KeyId=key, GranteePrincipal=grantee, Operations=["Decrypt"])["GrantId"]
    assert dry(kms.revoke_grant, KeyId=key, GrantId=grant)["Error"]["Code"] == "DryRunOperationException"
    assert [g["GrantId"] for g in kms.list_grants(KeyId=key)["Grants"]] == [grant]  # still there

    # Ignoring the ciphertext, the dry run must name its key.
    missing = dry(kms.decrypt, DryRunModifiers=["IGNORE_CIPHERTEXT"])["Error"]
    assert missing == {"Code": "ValidationException", "Message": "1 validation error detected: Value null at "
                       "'keyId' failed to satisfy constraint: Member must not be null"}

    # Not allowed: a dry run answers what the real call would.
    denied = dry(_user_client(admin, {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": "kms:Encrypt", "Resource": "*"}]}).decrypt, CiphertextBlob=blob)
    assert denied["Error"]["Code"] == "AccessDeniedException"
    assert "is not authorized to perform: kms:Decrypt" in denied["Error"]["Message"]
