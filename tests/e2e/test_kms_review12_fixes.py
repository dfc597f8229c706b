"""KMS holes a review reproduced: ListRetirableGrants leaking across accounts and Regions,
list operations that ignored Limit and Marker, the bound named for an empty plaintext,
and KEY_AGREEMENT keys (DeriveSharedSecret)."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from .conftest import AwsEnv, Server, aws_error, new_account

INVALID_MARKER = ("InvalidMarkerException", "The request was rejected because the marker that specifies where "
                  "pagination should next begin is not valid.", 400)


def _account(admin: AwsEnv) -> str:
    return admin.client("sts").get_caller_identity()["Account"]


def _pages(call: Any, member: str, **args: Any) -> list[list[dict[str, Any]]]:
    """Every page of a KMS list, following NextMarker."""
    pages, marker = [], None
    while True:
        out = call(**args, **({"Marker": marker} if marker else {}))
        pages.append(out[member])
        if not out["Truncated"]:
            assert "NextMarker" not in out
            return pages
        marker = out["NextMarker"]


def test_retirable_grants_of_another_accounts_principal_are_refused(admin: AwsEnv, server: Server,
                                                                    tmp_path: Path) -> None:
    kms, account = admin.client("kms"), _account(admin)
    retiring = f"arn:aws:iam::{account}:user/retirer-{uuid.uuid4().hex[:6]}"
    key_id = kms.create_key()["KeyMetadata"]["KeyId"]
    grant = kms.create_grant(KeyId=key_id, GranteePrincipal=f"arn:aws:iam::{account}:root", Operations=["Decrypt"],
                             RetiringPrincipal=retiring, Name="a-secret-grant")
    assert [g["GrantId"] for g in kms.list_retirable_grants(RetiringPrincipal=retiring)["Grants"]] == [
        grant["GrantId"]]
    other_env, other_account = new_account(server, tmp_path, "kmsretire")
    other = other_env.client("kms")
    code, message, status = aws_error(lambda: other.list_retirable_grants(RetiringPrincipal=retiring))
    assert (code, status) == ("AccessDeniedException", 400)
    assert "kms:ListRetirableGrants" in message and retiring in message and "a-secret-grant" not in message
    # A grant on the other account's key that names this account's principal is listed here.
    theirs = other.create_key()["KeyMetadata"]["KeyId"]
    shared = other.create_grant(KeyId=theirs, GranteePrincipal=f"arn:aws:iam::{other_account}:root",
                                Operations=["Encrypt"], RetiringPrincipal=retiring)
    listed = {g["GrantId"] for g in kms.list_retirable_grants(RetiringPrincipal=retiring)["Grants"]}
    assert listed == {grant["GrantId"], shared["GrantId"]}


def test_retirable_grants_stay_in_their_region_and_page(admin: AwsEnv) -> None:
    east, west, account = admin.client("kms", region_name="us-east-1"), admin.client(
        "kms", region_name="us-west-2"), _account(admin)
    retiring = f"arn:aws:iam::{account}:user/pager-{uuid.uuid4().hex[:6]}"
    key_id = west.create_key()["KeyMetadata"]["KeyId"]
    made = {west.create_grant(KeyId=key_id, GranteePrincipal=f"arn:aws:iam::{account}:root", Operations=["Encrypt"],
                              RetiringPrincipal=retiring)["GrantId"] for _ in range(3)}
    assert east.list_retirable_grants(RetiringPrincipal=retiring)["Grants"] == []
    pages = _pages(west.list_retirable_grants, "Grants", RetiringPrincipal=retiring, Limit=2)
    assert [len(p) for p in pages] == [2, 1]
    assert {g["GrantId"] for p in pages for g in p} == made
    assert aws_error(lambda: west.list_retirable_grants(RetiringPrincipal=retiring, Marker="garbage!!")) == \
        INVALID_MARKER


def test_list_grants_and_tags_honour_limit_and_marker(admin: AwsEnv) -> None:
    kms, account = admin.unchecked_client("kms"), _account(admin)
    key_id = kms.create_key(Tags=[{"TagKey": f"t{i}", "TagValue": "v"} for i in range(3)])["KeyMetadata"]["KeyId"]
    made = {kms.create_grant(KeyId=key_id, GranteePrincipal=f"arn:aws:iam::{account}:root",
                             Operations=["Encrypt"])["GrantId"] for _ in range(3)}
    pages = _pages(kms.list_grants, "Grants", KeyId=key_id, Limit=1)
    assert [len(p) for p in pages] == [1, 1, 1] and {g["GrantId"] for p in pages for g in p} == made
    tags = _pages(kms.list_resource_tags, "Tags", KeyId=key_id, Limit=2)
    assert [len(p) for p in tags] == [2, 1] and {t["TagKey"] for p in tags for t in p} == {"t0", "t1", "t2"}
    for call in (lambda **a: kms.list_grants(KeyId=key_id, **a), lambda **a: kms.list_resource_tags(KeyId=key_id, **a),
                 kms.list_keys, kms.list_aliases):
        assert aws_error(lambda: call(Limit=5000)) == (
            "ValidationException", "1 validation error detected: Value '5000' at 'limit' failed to satisfy "
            "constraint: Member must have value less than or equal to 1000", 400)
        assert aws_error(lambda: call(Marker="garbage!!")) == INVALID_MARKER


def test_key_rotations_and_key_policies_page_too(admin: AwsEnv) -> None:
    kms = admin.unchecked_client("kms")
    key_id = kms.create_key()["KeyMetadata"]["KeyId"]
    for _ in range(3):
        kms.rotate_key_on_demand(KeyId=key_id)
    every = kms.list_key_rotations(KeyId=key_id)["Rotations"]
    assert len(every) == 3
    pages = _pages(kms.list_key_rotations, "Rotations", KeyId=key_id, Limit=2)
    assert [len(p) for p in pages] == [2, 1] and [r for p in pages for r in p] == every  # in their order
    assert _pages(kms.list_key_policies, "PolicyNames", KeyId=key_id, Limit=1) == [["default"]]
    for call in (kms.list_key_rotations, kms.list_key_policies):
        assert aws_error(lambda: call(KeyId=key_id, Limit=5000))[0] == "ValidationException"
        assert aws_error(lambda: call(KeyId=key_id, Marker="bogus")) == INVALID_MARKER


def test_empty_plaintext_names_the_lower_bound(admin: AwsEnv) -> None:
    kms = admin.unchecked_client("kms")
    key_id = kms.create_key()["KeyMetadata"]["KeyId"]
    assert aws_error(lambda: kms.encrypt(KeyId=key_id, Plaintext=b"")) == (
        "ValidationException", "1 validation error detected: Value at 'plaintext' failed to satisfy constraint: "
        "Member must have length greater than or equal to 1", 400)
    assert aws_error(lambda: kms.encrypt(KeyId=key_id, Plaintext=b"x" * 4097))[1].endswith(
        "Member must have length less than or equal to 4096")


@pytest.mark.parametrize("spec,curve", [("ECC_NIST_P256", ec.SECP256R1()), ("ECC_NIST_P384", ec.SECP384R1()),
                                        ("ECC_NIST_P521", ec.SECP521R1())])
def test_key_agreement_derives_the_ecdh_secret(admin: AwsEnv, spec: str, curve: ec.EllipticCurve) -> None:
    kms = admin.client("kms")
    meta = kms.create_key(KeySpec=spec, KeyUsage="KEY_AGREEMENT")["KeyMetadata"]
    assert (meta["KeyUsage"], meta["KeyAgreementAlgorithms"]) == ("KEY_AGREEMENT", ["ECDH"])
    public = kms.get_public_key(KeyId=meta["KeyId"])
    assert public["KeyAgreementAlgorithms"] == ["ECDH"] and "SigningAlgorithms" not in public
    mine = ec.generate_private_key(curve)
    mine_der = mine.public_key().public_bytes(serialization.Encoding.DER,
                                              serialization.PublicFormat.SubjectPublicKeyInfo)
    out = kms.derive_shared_secret(KeyId=meta["KeyId"], KeyAgreementAlgorithm="ECDH", PublicKey=mine_der)
    peer = serialization.load_der_public_key(public["PublicKey"])
    assert isinstance(peer, ec.EllipticCurvePublicKey)
    assert out["SharedSecret"] == mine.exchange(ec.ECDH(), peer)
    assert (out["KeyId"], out["KeyAgreementAlgorithm"], out["KeyOrigin"]) == (meta["KeyId"], "ECDH", "AWS_KMS")


def test_key_agreement_refusals(admin: AwsEnv) -> None:
    kms = admin.unchecked_client("kms")
    agreeing = kms.create_key(KeySpec="ECC_NIST_P256", KeyUsage="KEY_AGREEMENT")["KeyMetadata"]["KeyId"]
    peer = kms.get_public_key(KeyId=agreeing)["PublicKey"]
    signing = kms.create_key(KeySpec="ECC_NIST_P256", KeyUsage="SIGN_VERIFY")["KeyMetadata"]
    symmetric = kms.create_key()["KeyMetadata"]
    for key, usage in ((signing, "SIGN_VERIFY"), (symmetric, "ENCRYPT_DECRYPT")):
        assert aws_error(lambda: kms.derive_shared_secret(KeyId=key["KeyId"], KeyAgreementAlgorithm="ECDH",
                                                          PublicKey=peer)) == (
            "InvalidKeyUsageException", f"{key['Arn']} key usage is {usage} which is not valid for DeriveSharedSecret.",
            400)
    assert aws_error(lambda: kms.create_key(KeySpec="RSA_2048", KeyUsage="KEY_AGREEMENT")) == (
        "ValidationException", "KeyUsage KEY_AGREEMENT is not compatible with KeySpec RSA_2048", 400)
    # a known usage Skyhold's key specs never pair with: not a false enum error
    assert aws_error(lambda: kms.create_key(KeySpec="ECC_NIST_P256", KeyUsage="ENCAPSULATE_DECAPSULATE")) == (
        "ValidationException", "KeyUsage ENCAPSULATE_DECAPSULATE is not compatible with KeySpec ECC_NIST_P256", 400)
    assert aws_error(lambda: kms.derive_shared_secret(KeyId=agreeing, KeyAgreementAlgorithm="INVALID",
                                                      PublicKey=peer)) == (
        "ValidationException", "1 validation error detected: Value 'INVALID' at 'keyAgreementAlgorithm' failed to "
        "satisfy constraint: Member must satisfy enum value set: [ECDH]", 400)
    assert aws_error(lambda: kms.derive_shared_secret(KeyId=agreeing, KeyAgreementAlgorithm="ECDH",
                                                      PublicKey=b"InvalidPublicKey")) == ("ValidationException", "", 400)
