"""S3 Bucket Keys as pure logic: the per-segment derivation, the wrapped-key text,
and who counts as a distinct requester."""

from __future__ import annotations

import secrets

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from skyhold.principal import IAM_USER, Principal
from skyhold.services.s3 import bucket_keys


def test_derivation_is_hkdf_sha256_over_the_bucket_key_with_the_salt() -> None:
    bucket_key, salt = secrets.token_bytes(32), secrets.token_bytes(32)
    derived = bucket_keys.derive(bucket_key, salt)
    assert len(derived) == 32 and derived != bucket_key
    assert derived == bucket_keys.derive(bucket_key, salt)  # the same segment opens again
    # domain-separated: plain HKDF without Skyhold's info string gives another key
    assert derived != HKDF(algorithm=hashes.SHA256(), length=32, salt=salt, info=b"").derive(bucket_key)


def test_each_salt_and_each_bucket_key_give_another_data_key() -> None:
    bucket_key = secrets.token_bytes(32)
    keys = {bucket_keys.derive(bucket_key, secrets.token_bytes(32)) for _ in range(50)}
    assert len(keys) == 50
    salt = secrets.token_bytes(32)
    assert bucket_keys.derive(bucket_key, salt) != bucket_keys.derive(secrets.token_bytes(32), salt)


def test_wrapped_text_round_trips() -> None:
    salt = secrets.token_bytes(32)
    text = bucket_keys.wrapped("my.bucket-1", "Ab_c-9", salt)
    assert text.startswith(bucket_keys.PREFIX)
    assert bucket_keys.parse(text) == ("my.bucket-1", "Ab_c-9", salt)


def test_bucket_context_names_the_bucket_not_the_object() -> None:
    assert bucket_keys.bucket_context("b1") == {"aws:s3:arn": "arn:aws:s3:::b1"}
    assert bucket_keys.bucket_of_context({"aws:s3:arn": "arn:aws:s3:::b1/dir/key:with:colons"}) == "b1"


def test_requesters_differ_by_principal_and_by_session_policy() -> None:
    def who(user_id: str, policies: object = None, arn: str = "arn:aws:sts::111122223333:assumed-role/r/s"
            ) -> Principal:
        session = {"policies": policies} if policies is not None else {}
        return Principal(type=IAM_USER, account="111122223333", arn=arn, user_id=user_id, session=session)

    session = "AROAEXAMPLE:s"
    narrow = [{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:*", "Resource": "*"}]}]
    assert bucket_keys.requester(who(session)) == bucket_keys.requester(who(session, []))
    assert bucket_keys.requester(who(session)) != bucket_keys.requester(who(session, narrow))
    assert bucket_keys.requester(who(session, narrow)) == bucket_keys.requester(who(session, list(narrow)))
    assert bucket_keys.requester(who(session)) != bucket_keys.requester(who("AIDAEXAMPLE"))
    # A principal deleted and created again has the same ARN and another unique id.
    user = "arn:aws:iam::111122223333:user/u"
    assert bucket_keys.requester(who("AIDAFIRST", arn=user)) != bucket_keys.requester(who("AIDASECOND", arn=user))
