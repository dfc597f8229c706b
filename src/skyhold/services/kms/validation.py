"""KMS request members that break the API model's constraints (worded by
skyhold.constraints, as AWS words them)."""

from __future__ import annotations

from typing import Any

from skyhold.constraints import enum_problem, null_member, problem, raise_if
from skyhold.errors import AwsError, validation_failed


def ciphertext(params: dict[str, Any]) -> bytes | None:
    """Decrypt's and ReEncrypt's CiphertextBlob, optional in the model only for a dry run
    with DryRunModifiers IGNORE_CIPHERTEXT (then None: the key is named instead)."""
    blob: bytes | None = params.get("CiphertextBlob")
    if blob is None:
        if params.get("DryRun") and "IGNORE_CIPHERTEXT" in (params.get("DryRunModifiers") or ()):
            return None
        raise validation_failed([null_member("ciphertextBlob")])
    if not blob:
        raise validation_failed(["Value at 'ciphertextBlob' failed to satisfy constraint: Member must have length "
                                 "greater than or equal to 1"])
    return blob


# Enum value sets in the order KMS lists them in its validation messages (recorded
# from AWS; the order is KMS's own, not the API model's).
KEY_SPECS = ("RSA_2048", "ECC_NIST_P384", "ECC_NIST_P256", "ECC_NIST_P521", "HMAC_384", "RSA_3072",
             "ECC_SECG_P256K1", "RSA_4096", "SYMMETRIC_DEFAULT", "HMAC_256", "HMAC_224", "HMAC_512")
# Every usage the model knows is accepted (a spec that cannot have it is refused later,
# as KMS words it). The enum message lists the set as recorded from AWS in 2023, before
# the newer two existed: where KMS puts them in its (unordered) list is unknown.
KEY_USAGES_LISTED = ("ENCRYPT_DECRYPT", "SIGN_VERIFY", "GENERATE_VERIFY_MAC")
KEY_USAGES = KEY_USAGES_LISTED + ("KEY_AGREEMENT", "ENCAPSULATE_DECAPSULATE")
KEY_AGREEMENT_ALGORITHMS = ("ECDH",)
MAC_ALGORITHMS = ("HMAC_SHA_384", "HMAC_SHA_256", "HMAC_SHA_224", "HMAC_SHA_512")
MAX_TAGS = 50  # tags per KMS key


def tag_error(message: str) -> AwsError:
    return AwsError("TagException", message, 400)


def _tag_members(tags: list[dict[str, str]]) -> list[str]:
    problems = []
    for i, tag in enumerate(tags, 1):
        key, value = tag.get("TagKey", ""), tag.get("TagValue", "")
        if not 1 <= len(key) <= 128:
            bound = "less than or equal to 128" if key else "greater than or equal to 1"
            problems.append(problem(f"tags.{i}.member.tagKey", key, f"have length {bound}"))
        if len(value) > 256:
            problems.append(problem(f"tags.{i}.member.tagValue", value, "have length less than or equal to 256"))
    return problems


def check_tags(tags: list[dict[str, str]]) -> None:
    """TagResource's and CreateKey's tags: the model's lengths, then KMS's own rules."""
    raise_if(_tag_members(tags))
    keys = [t["TagKey"] for t in tags]
    if len(set(keys)) != len(keys):
        raise tag_error("Duplicate tag keys")
    if any(k.lower().startswith("aws:") for k in keys):  # reserved for AWS, in any case
        raise tag_error("Tags beginning with aws: are reserved")


def request(operation: str, params: dict[str, Any]) -> None:
    """The request's own members, checked (as AWS does) before authorization and before
    its key is looked up."""
    problems = []
    if operation == "CreateKey":
        spec = params.get("KeySpec")
        if spec is not None and spec not in KEY_SPECS:
            problems.append(enum_problem("keySpec", spec, KEY_SPECS))
        usage = params.get("KeyUsage")
        if usage is not None and usage not in KEY_USAGES:
            problems.append(enum_problem("keyUsage", usage, KEY_USAGES_LISTED))
    if operation in ("GetParametersForImport", "ImportKeyMaterial"):
        from skyhold.services.kms import imports  # local: imports needs keyspecs, which needs this module

        problems.extend(imports.request_problems(operation, params))
    mac = params.get("MacAlgorithm")
    if operation in ("GenerateMac", "VerifyMac") and mac is not None and mac not in MAC_ALGORITHMS:
        problems.append(enum_problem("macAlgorithm", mac, MAC_ALGORITHMS))
    agreement = params.get("KeyAgreementAlgorithm")
    if operation == "DeriveSharedSecret" and agreement is not None and agreement not in KEY_AGREEMENT_ALGORITHMS:
        problems.append(enum_problem("keyAgreementAlgorithm", agreement, KEY_AGREEMENT_ALGORITHMS))
    raise_if(problems)
    if operation in ("CreateKey", "TagResource") and params.get("Tags"):
        check_tags(params["Tags"])
        if len(params["Tags"]) > MAX_TAGS:
            raise tag_error("Too many tags")
