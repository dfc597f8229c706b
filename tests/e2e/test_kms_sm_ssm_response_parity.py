"""Successful responses of KMS, Secrets Manager and SSM shaped as AWS answers them:
which members are present, left out until set, and in what format."""

from __future__ import annotations

import re
import uuid
from typing import Any

import pytest

from tests.e2e.conftest import AwsEnv

_MATERIAL_ID = re.compile(r"[0-9a-f]{64}")


@pytest.fixture(scope="module")
def kms(admin: AwsEnv) -> Any:
    return admin.client("kms", region_name="us-east-1")


@pytest.fixture(scope="module")
def sm(admin: AwsEnv) -> Any:
    return admin.client("secretsmanager", region_name="us-east-1")


def _name(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


# --- KMS ---------------------------------------------------------------------------

def test_describe_key_reports_current_key_material_of_symmetric_keys(kms: Any) -> None:
    created = kms.create_key(Description="test key 123")["KeyMetadata"]
    material = created["CurrentKeyMaterialId"]
    assert _MATERIAL_ID.fullmatch(material)
    assert kms.describe_key(KeyId=created["KeyId"])["KeyMetadata"]["CurrentKeyMaterialId"] == material
    # Only keys that can rotate have one: not HMAC or asymmetric keys.
    hmac_key = kms.create_key(KeySpec="HMAC_256", KeyUsage="GENERATE_VERIFY_MAC")["KeyMetadata"]
    rsa_key = kms.create_key(KeySpec="RSA_2048", KeyUsage="SIGN_VERIFY")["KeyMetadata"]
    assert "CurrentKeyMaterialId" not in hmac_key and "CurrentKeyMaterialId" not in rsa_key
    kms.rotate_key_on_demand(KeyId=created["KeyId"])
    rotated = kms.describe_key(KeyId=created["KeyId"])["KeyMetadata"]["CurrentKeyMaterialId"]
    assert _MATERIAL_ID.fullmatch(rotated) and rotated != material


def test_rotate_key_on_demand_answers_the_key_arn(kms: Any) -> None:
    key = kms.create_key()["KeyMetadata"]
    response = kms.rotate_key_on_demand(KeyId=key["KeyId"])
    assert response["KeyId"] == key["Arn"] and set(response) == {"KeyId", "ResponseMetadata"}


def test_cryptographic_operations_name_the_key_material(kms: Any) -> None:
    key = kms.create_key()["KeyMetadata"]
    first = key["CurrentKeyMaterialId"]
    blob = kms.encrypt(KeyId=key["KeyId"], Plaintext=b"x", EncryptionContext={"a": "b"})["CiphertextBlob"]
    decrypted = kms.decrypt(CiphertextBlob=blob, EncryptionContext={"a": "b"})
    assert decrypted["KeyMaterialId"] == first
    for call in (kms.generate_data_key, kms.generate_data_key_without_plaintext):
        assert call(KeyId=key["KeyId"], KeySpec="AES_256")["KeyMaterialId"] == first
    for call in (kms.generate_data_key_pair, kms.generate_data_key_pair_without_plaintext):
        assert call(KeyId=key["KeyId"], KeyPairSpec="ECC_NIST_P256")["KeyMaterialId"] == first

    kms.rotate_key_on_demand(KeyId=key["KeyId"])
    second = kms.describe_key(KeyId=key["KeyId"])["KeyMetadata"]["CurrentKeyMaterialId"]
    # An old ciphertext still names the material it was made with.
    assert kms.decrypt(CiphertextBlob=blob, EncryptionContext={"a": "b"})["KeyMaterialId"] == first
    moved = kms.re_encrypt(CiphertextBlob=blob, SourceEncryptionContext={"a": "b"}, DestinationKeyId=key["KeyId"])
    assert (moved["SourceKeyMaterialId"], moved["DestinationKeyMaterialId"]) == (first, second)
    # An RSA destination has no key material id.
    rsa = kms.create_key(KeySpec="RSA_2048", KeyUsage="ENCRYPT_DECRYPT")["KeyMetadata"]
    to_rsa = kms.re_encrypt(CiphertextBlob=blob, SourceEncryptionContext={"a": "b"}, DestinationKeyId=rsa["KeyId"],
                            DestinationEncryptionAlgorithm="RSAES_OAEP_SHA_256")
    assert to_rsa["SourceKeyMaterialId"] == first and "DestinationKeyMaterialId" not in to_rsa


def test_list_key_rotations_lists_the_key_materials(kms: Any) -> None:
    key = kms.create_key()["KeyMetadata"]
    kms.rotate_key_on_demand(KeyId=key["KeyId"])
    current = kms.describe_key(KeyId=key["KeyId"])["KeyMetadata"]["CurrentKeyMaterialId"]
    (rotation,) = kms.list_key_rotations(KeyId=key["KeyId"])["Rotations"]
    assert rotation["KeyId"] == key["KeyId"]
    assert (rotation["KeyMaterialId"], rotation["KeyMaterialState"], rotation["RotationType"]) == (
        current, "CURRENT", "ON_DEMAND")
    assert "RotationDate" in rotation and "ImportState" not in rotation
    # With ALL_KEY_MATERIAL the original material is listed too, without a rotation.
    original, rotated = kms.list_key_rotations(KeyId=key["KeyId"], IncludeKeyMaterial="ALL_KEY_MATERIAL")["Rotations"]
    assert original == {"KeyId": key["KeyId"], "KeyMaterialId": key["CurrentKeyMaterialId"],
                        "KeyMaterialState": "NON_CURRENT"}
    assert rotated["KeyMaterialId"] == current


# --- Secrets Manager ------------------------------------------------------------------

_ALWAYS = {"ARN", "Name", "CreatedDate", "LastChangedDate", "ResponseMetadata"}


def test_describe_secret_leaves_out_members_never_set(sm: Any) -> None:
    name = _name("bare")
    sm.create_secret(Name=name)
    assert set(sm.describe_secret(SecretId=name)) == _ALWAYS
    sm.tag_resource(SecretId=name, Tags=[{"Key": "tag1", "Value": "value1"}])
    assert sm.describe_secret(SecretId=name)["Tags"] == [{"Key": "tag1", "Value": "value1"}]
    sm.untag_resource(SecretId=name, TagKeys=["tag1"])
    described = sm.describe_secret(SecretId=name)
    assert described["Tags"] == [] and set(described) == _ALWAYS | {"Tags"}

    with_value = _name("valued")
    version = sm.create_secret(Name=with_value, SecretString="s")["VersionId"]
    described = sm.describe_secret(SecretId=with_value)
    assert set(described) == _ALWAYS | {"VersionIdsToStages"}
    assert described["VersionIdsToStages"] == {version: ["AWSCURRENT"]}
    listed = sm.list_secrets(Filters=[{"Key": "name", "Values": [with_value]}])["SecretList"]
    assert set(listed[0]) == {"ARN", "Name", "CreatedDate", "LastChangedDate", "SecretVersionsToStages"}


def test_describe_secret_shows_only_labeled_versions(sm: Any) -> None:
    name = _name("deprecated")
    first = sm.create_secret(Name=name, SecretString="v1", Description="d")["VersionId"]
    second = sm.put_secret_value(SecretId=name, SecretString="v2")["VersionId"]
    third = sm.put_secret_value(SecretId=name, SecretString="v3")["VersionId"]
    # The first version has lost both labels: it is deprecated.
    expected = {second: ["AWSPREVIOUS"], third: ["AWSCURRENT"]}
    assert sm.describe_secret(SecretId=name)["VersionIdsToStages"] == expected
    listed = sm.list_secrets(Filters=[{"Key": "name", "Values": [name]}])["SecretList"][0]
    assert listed["SecretVersionsToStages"] == expected and listed["Description"] == "d"
    assert [v["VersionId"] for v in sm.list_secret_version_ids(SecretId=name)["Versions"]] == [second, third]
    everything = sm.list_secret_version_ids(SecretId=name, IncludeDeprecated=True)["Versions"]
    assert [v["VersionId"] for v in everything] == [first, second, third]
    assert "VersionStages" not in everything[0]


def test_list_secret_version_ids_members(sm: Any) -> None:
    name = _name("versions")
    current = sm.create_secret(Name=name, SecretString="S1")["VersionId"]
    pending = sm.put_secret_value(SecretId=name, SecretString="S2", VersionStages=["AWSPENDING"])["VersionId"]
    versions = sm.list_secret_version_ids(SecretId=name)["Versions"]
    assert [set(v) for v in versions] == [{"VersionId", "VersionStages", "CreatedDate", "KmsKeyIds"}] * 2
    assert [v["KmsKeyIds"] for v in versions] == [["DefaultEncryptionKey"]] * 2
    sm.get_secret_value(SecretId=name)  # reads AWSCURRENT only
    accessed = {v["VersionId"]: "LastAccessedDate" in v for v in sm.list_secret_version_ids(SecretId=name)["Versions"]}
    assert accessed == {current: True, pending: False}


# --- SSM ----------------------------------------------------------------------------------

def test_get_parameter_history_members(admin: AwsEnv) -> None:
    ssm: Any = admin.client("ssm", region_name="us-east-1")
    name = f"/{_name('history')}/p"
    ssm.put_parameter(Name=name, Value="v1", Type="String")
    (entry,) = ssm.get_parameter_history(Name=name)["Parameters"]
    assert entry["Labels"] == [] and entry["Policies"] == []
    assert "Description" not in entry
    ssm.put_parameter(Name=name, Value="v2", Type="String", Description="test", Overwrite=True)
    assert ssm.get_parameter_history(Name=name)["Parameters"][1]["Description"] == "test"
