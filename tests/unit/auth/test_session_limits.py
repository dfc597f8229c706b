"""What GetSessionToken's and GetFederationToken's credentials may never call."""

from __future__ import annotations

import pytest

from skyhold import principal as p
from skyhold.errors import AwsError
from skyhold.services.sts import limits


def who(kind: str, **session: object) -> p.Principal:
    return p.Principal(type=kind, account="111122223333", arn="arn", user_id="id", session=session)


def refusal(principal: p.Principal, service: str, operation: str) -> tuple[str, str, int] | None:
    try:
        limits.check(principal, service, operation)
    except AwsError as err:
        return err.code, err.message, err.status
    return None


IAM_REFUSED = ("InvalidClientTokenId", "The security token included in the request is invalid", 403)


@pytest.mark.parametrize("kind", [p.IAM_USER, p.ROOT])
def test_get_session_token_without_mfa(kind: str) -> None:
    plain = who(kind, temporary=True)
    assert refusal(plain, "iam", "ListUsers") == IAM_REFUSED
    assert refusal(plain, "sts", "GetCallerIdentity") is None
    assert refusal(plain, "sts", "AssumeRole") is None
    assert refusal(plain, "sts", "GetAccessKeyInfo") == (
        "AccessDenied", "Cannot call GetAccessKeyInfo with session credentials", 403)
    assert refusal(plain, "s3", "ListBuckets") is None


def test_get_session_token_with_mfa_may_call_iam() -> None:
    with_mfa = who(p.IAM_USER, temporary=True, mfa=True)
    assert refusal(with_mfa, "iam", "ListUsers") is None
    assert refusal(with_mfa, "sts", "GetSessionToken")[0] == "AccessDenied"


def test_federated_user_never_calls_iam() -> None:
    fed = who(p.FEDERATED_USER, temporary=True, mfa=True)
    assert refusal(fed, "iam", "ListUsers") == IAM_REFUSED
    assert refusal(fed, "sts", "GetCallerIdentity") is None
    assert refusal(fed, "sts", "AssumeRole")[0] == "AccessDenied"


def test_long_term_keys_and_role_sessions_have_no_such_limits() -> None:
    assert refusal(who(p.IAM_USER), "iam", "ListUsers") is None
    assert refusal(who(p.IAM_USER), "sts", "GetSessionToken") is None
    role = who(p.ASSUMED_ROLE, temporary=True)
    assert refusal(role, "iam", "ListUsers") is None
    assert refusal(role, "sts", "DecodeAuthorizationMessage") is None
