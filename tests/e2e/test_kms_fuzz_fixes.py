"""Client mistakes the operation fuzzer found answered with a 500: each now gets a KMS
error, and changes nothing. The current model makes some members optional that KMS
still needs (CiphertextBlob for dry runs, GranteePrincipal and RetiringPrincipal for
their service-principal alternatives)."""

from __future__ import annotations

from typing import Any

import pytest

from .conftest import AwsEnv, aws_error

NULL = "1 validation error detected: Value null at '{}' failed to satisfy constraint: Member must not be null"



@pytest.fixture
def kms(admin: AwsEnv) -> Any:
    return admin.unchecked_client("kms")  # the SDK would refuse some of these itself


@pytest.fixture
def key_id(kms: Any) -> str:
    return kms.create_key()["KeyMetadata"]["KeyId"]


@pytest.mark.parametrize("with_key", [False, True])
def test_decrypt_without_a_ciphertext(kms: Any, key_id: str, with_key: bool) -> None:
    args = {"KeyId": key_id} if with_key else {}
    assert aws_error(lambda: kms.decrypt(**args)) == ("ValidationException", NULL.format("ciphertextBlob"), 400)
    assert aws_error(lambda: kms.decrypt(CiphertextBlob=b"", **args)) == (
        "ValidationException", "1 validation error detected: Value at 'ciphertextBlob' failed to satisfy constraint: "
        "Member must have length greater than or equal to 1", 400)
    blob = kms.encrypt(KeyId=key_id, Plaintext=b"still works")["CiphertextBlob"]
    assert kms.decrypt(CiphertextBlob=blob, **args)["Plaintext"] == b"still works"


def test_re_encrypt_without_a_ciphertext(kms: Any, key_id: str) -> None:
    assert aws_error(lambda: kms.re_encrypt(DestinationKeyId=key_id, SourceKeyId=key_id)) == (
        "ValidationException", NULL.format("ciphertextBlob"), 400)
    blob = kms.encrypt(KeyId=key_id, Plaintext=b"x")["CiphertextBlob"]
    assert kms.re_encrypt(CiphertextBlob=blob, DestinationKeyId=key_id)["KeyId"].endswith(key_id)


def test_create_grant_without_a_grantee(kms: Any, key_id: str) -> None:
    assert aws_error(lambda: kms.create_grant(KeyId=key_id, Operations=["Decrypt"])) == (
        "ValidationException", NULL.format("granteePrincipal"), 400)
    # Skyhold folds grantees into the key policy and cannot honour the SourceArn
    # constraint a service-principal grant must carry: it refuses rather than grant more.
    assert aws_error(lambda: kms.create_grant(KeyId=key_id, Operations=["Decrypt"],
                                           GranteeServicePrincipal="s3.amazonaws.com",
                                           Constraints={"SourceArn": "arn:aws:s3:::bucket"})) == (
        "UnsupportedOperationException",
        "Skyhold does not support grants to service principals (GranteeServicePrincipal).", 400)
    assert kms.list_grants(KeyId=key_id)["Grants"] == []


def test_list_retirable_grants_without_a_retiring_principal(kms: Any, key_id: str) -> None:
    account = kms.describe_key(KeyId=key_id)["KeyMetadata"]["AWSAccountId"]
    retiring = f"arn:aws:iam::{account}:root"
    kms.create_grant(KeyId=key_id, Operations=["Decrypt"], GranteePrincipal=retiring, RetiringPrincipal=retiring)
    assert aws_error(lambda: kms.list_retirable_grants()) == ("ValidationException", NULL.format("retiringPrincipal"), 400)
    # No Skyhold grant names a retiring service principal.
    assert kms.list_retirable_grants(RetiringServicePrincipal="s3.amazonaws.com")["Grants"] == []
    assert any(g["KeyId"].endswith(key_id) for g in kms.list_retirable_grants(RetiringPrincipal=retiring)["Grants"])
