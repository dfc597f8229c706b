"""KMS errors as real AWS answers them (responses recorded from AWS KMS): codes,
messages, HTTP status, and which modeled error members the SDK sees."""

from __future__ import annotations

from typing import Any

import pytest
from botocore.exceptions import ClientError

from .conftest import AwsEnv, aws_error

TOO_LONG_TAG = "1 validation error detected: Value '{}' at 'tags.1.member.{}' failed to satisfy constraint: " \
                "Member must have length less than or equal to {}"


@pytest.fixture
def kms(admin: AwsEnv) -> Any:
    return admin.client("kms", region_name="us-east-1")


@pytest.fixture
def key(kms: Any) -> dict[str, Any]:
    return kms.create_key(Description="parity")["KeyMetadata"]


def error_response(call: Any) -> dict[str, Any]:
    with pytest.raises(ClientError) as err:
        call()
    return err.value.response


def test_key_arn_of_another_region(admin: AwsEnv, kms: Any) -> None:
    other = admin.client("kms", region_name="us-west-2").create_key()["KeyMetadata"]
    assert aws_error(lambda: kms.describe_key(KeyId=other["Arn"])) == (
        "NotFoundException", "Invalid arn us-west-2", 400)
    here = other["Arn"].replace(":us-west-2:", ":us-east-1:")
    assert aws_error(lambda: kms.describe_key(KeyId=other["KeyId"])) == (
        "NotFoundException", f"Key '{here}' does not exist", 400)


def test_multi_region_key_id_that_does_not_exist(kms: Any, key: dict[str, Any]) -> None:
    mrk = "mrk-d3b95762d3b95762d3b95762d3b95762"
    arn = key["Arn"].replace(key["KeyId"], mrk)
    assert aws_error(lambda: kms.describe_key(KeyId=mrk)) == ("NotFoundException", f"Key '{arn}' does not exist", 400)
    assert aws_error(lambda: kms.describe_key(KeyId="mrk-fake-key-id")) == (
        "NotFoundException", "Invalid keyId 'mrk-fake-key-id'", 400)


def test_create_key_spec_and_usage(kms: Any) -> None:
    assert aws_error(lambda: kms.create_key(KeySpec="HMAC_256")) == (
        "ValidationException", "You must specify a KeyUsage value for all KMS keys except for symmetric encryption "
        "keys.", 400)
    assert aws_error(lambda: kms.create_key(KeySpec="HMAC_random")) == (
        "ValidationException", "1 validation error detected: Value 'HMAC_random' at 'keySpec' failed to satisfy "
        "constraint: Member must satisfy enum value set: [RSA_2048, ECC_NIST_P384, ECC_NIST_P256, ECC_NIST_P521, "
        "HMAC_384, RSA_3072, ECC_SECG_P256K1, RSA_4096, SYMMETRIC_DEFAULT, HMAC_256, HMAC_224, HMAC_512]", 400)
    assert aws_error(lambda: kms.create_key(KeySpec="HMAC_256", KeyUsage="RANDOM")) == (
        "ValidationException", "1 validation error detected: Value 'RANDOM' at 'keyUsage' failed to satisfy "
        "constraint: Member must satisfy enum value set: [ENCRYPT_DECRYPT, SIGN_VERIFY, GENERATE_VERIFY_MAC]", 400)
    # A symmetric key needs no KeyUsage.
    assert kms.create_key(KeySpec="SYMMETRIC_DEFAULT")["KeyMetadata"]["KeyUsage"] == "ENCRYPT_DECRYPT"


@pytest.mark.parametrize("operation", ["generate_mac", "verify_mac"])
def test_mac_algorithm_outside_the_enum(kms: Any, operation: str) -> None:
    key_id = kms.create_key(KeySpec="HMAC_256", KeyUsage="GENERATE_VERIFY_MAC")["KeyMetadata"]["KeyId"]
    args: dict[str, Any] = {"KeyId": key_id, "Message": b"some important message", "MacAlgorithm": "INVALID"}
    if operation == "verify_mac":
        args["Mac"] = b"x" * 32
    assert aws_error(lambda: getattr(kms, operation)(**args)) == (
        "ValidationException", "1 validation error detected: Value 'INVALID' at 'macAlgorithm' failed to satisfy "
        "constraint: Member must satisfy enum value set: [HMAC_SHA_384, HMAC_SHA_256, HMAC_SHA_224, HMAC_SHA_512]",
        400)


def test_errors_without_a_message_carry_no_message_member(kms: Any, key: dict[str, Any]) -> None:
    """AWS sends no message for these; the SDK then shows Error.Message "" and no
    modeled `message` member."""
    blob = kms.encrypt(KeyId=key["KeyId"], Plaintext=b"p", EncryptionContext={"a": "b"})["CiphertextBlob"]
    signer = kms.create_key(KeySpec="ECC_NIST_P256", KeyUsage="SIGN_VERIFY")["KeyMetadata"]["KeyId"]
    signature = kms.sign(KeyId=signer, Message=b"bad", SigningAlgorithm="ECDSA_SHA_256")["Signature"]
    mac_key = kms.create_key(KeySpec="HMAC_256", KeyUsage="GENERATE_VERIFY_MAC")["KeyMetadata"]["KeyId"]
    mac = kms.generate_mac(KeyId=mac_key, Message=b"m", MacAlgorithm="HMAC_SHA_256")["Mac"]
    for code, call in [
        ("InvalidCiphertextException", lambda: kms.decrypt(KeyId=key["KeyId"], CiphertextBlob=blob)),
        ("KMSInvalidSignatureException", lambda: kms.verify(KeyId=signer, Message=b"good", Signature=signature,
                                                            SigningAlgorithm="ECDSA_SHA_256")),
        ("KMSInvalidMacException", lambda: kms.verify_mac(KeyId=mac_key, Message=b"other", Mac=mac,
                                                          MacAlgorithm="HMAC_SHA_256")),
    ]:
        response = error_response(call)
        assert response["Error"] == {"Code": code, "Message": ""}
        assert "message" not in response
        assert response["ResponseMetadata"]["HTTPStatusCode"] == 400


def test_tag_resource_tag_rules(kms: Any, key: dict[str, Any]) -> None:
    key_id = key["KeyId"]
    kms.tag_resource(KeyId=key_id, Tags=[{"TagKey": "kept", "TagValue": "1"}])
    assert aws_error(lambda: kms.tag_resource(KeyId=key_id, Tags=[{"TagKey": "tag1", "TagValue": "value1"},
                                                                  {"TagKey": "tag1", "TagValue": "other"}])) == (
        "TagException", "Duplicate tag keys", 400)
    for reserved in ("aws:key1", "AWS:key1"):
        response = error_response(lambda: kms.tag_resource(KeyId=key_id, Tags=[{"TagKey": reserved,
                                                                                "TagValue": "value1"}]))
        assert response["Error"] == {"Code": "TagException", "Message": "Tags beginning with aws: are reserved"}
        assert response["message"] == "Tags beginning with aws: are reserved"  # a modeled KMS error
    # 49 more make 50 tags; one beyond is too many.
    kms.tag_resource(KeyId=key_id, Tags=[{"TagKey": f"k{i}", "TagValue": "v"} for i in range(49)])
    assert aws_error(lambda: kms.tag_resource(KeyId=key_id, Tags=[{"TagKey": "k50", "TagValue": "v"}])) == (
        "TagException", "Too many tags", 400)
    tags = kms.list_resource_tags(KeyId=key_id)["Tags"]
    assert len(tags) == 50 and {"TagKey": "kept", "TagValue": "1"} in tags  # nothing refused was applied


def test_create_key_tag_rules(kms: Any) -> None:
    def create(tags: list[dict[str, str]]) -> Any:
        return lambda: kms.create_key(Description="tags", KeyUsage="ENCRYPT_DECRYPT", Tags=tags)

    assert aws_error(create([{"TagKey": f"key{i}", "TagValue": f"value{i}"} for i in range(51)])) == (
        "TagException", "Too many tags", 400)
    for reserved in ("aws:key1", "AWS:key1"):
        assert aws_error(create([{"TagKey": reserved, "TagValue": "value1"}])) == (
            "TagException", "Tags beginning with aws: are reserved", 400)
    assert aws_error(create([{"TagKey": "a" * 129, "TagValue": "value1"}])) == (
        "ValidationException", TOO_LONG_TAG.format("a" * 129, "tagKey", 128), 400)
    assert aws_error(create([{"TagKey": "tag1", "TagValue": "v" * 257}])) == (
        "ValidationException", TOO_LONG_TAG.format("v" * 257, "tagValue", 256), 400)
    made = kms.create_key(Tags=[{"TagKey": "a" * 128, "TagValue": "v" * 256}])["KeyMetadata"]["KeyId"]
    assert kms.list_resource_tags(KeyId=made)["Tags"] == [{"TagKey": "a" * 128, "TagValue": "v" * 256}]


def test_rotate_key_on_demand_refusals(kms: Any) -> None:
    rsa = kms.create_key(KeySpec="RSA_4096", KeyUsage="ENCRYPT_DECRYPT")["KeyMetadata"]
    response = error_response(lambda: kms.rotate_key_on_demand(KeyId=rsa["KeyId"]))
    assert response["Error"] == {"Code": "UnsupportedOperationException", "Message": ""}
    assert "message" not in response
    kms.disable_key(KeyId=rsa["KeyId"])  # the key's state is checked before its spec
    assert aws_error(lambda: kms.rotate_key_on_demand(KeyId=rsa["KeyId"])) == (
        "DisabledException", f"{rsa['Arn']} is disabled.", 400)


def test_rotate_key_on_demand_limit(kms: Any, key: dict[str, Any]) -> None:
    for _ in range(25):  # KMS allows 25 on-demand rotations per key
        kms.rotate_key_on_demand(KeyId=key["KeyId"])
    assert aws_error(lambda: kms.rotate_key_on_demand(KeyId=key["KeyId"])) == (
        "LimitExceededException", "The on-demand rotations limit has been reached for the given keyId. No more "
        f"on-demand rotations can be performed for this key: {key['Arn']}", 400)
    assert len(kms.list_key_rotations(KeyId=key["KeyId"])["Rotations"]) == 25


@pytest.mark.parametrize("operation", ["generate_data_key_pair", "generate_data_key_pair_without_plaintext"])
def test_dry_run_answers_400(kms: Any, key: dict[str, Any], operation: str) -> None:
    assert aws_error(lambda: getattr(kms, operation)(KeyId=key["KeyId"], KeyPairSpec="RSA_2048", DryRun=True)) == (
        "DryRunOperationException", "The request would have succeeded, but the DryRun option is set.", 400)
