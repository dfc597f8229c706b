"""Policy documents as IAM accepts them: grammar (MalformedPolicyDocument) and
size quotas (LimitExceeded). Sizes count characters other than whitespace, as IAM
does."""

from __future__ import annotations

import json

from skyhold.policy.validate import PolicyType, validate_policy
from skyhold.services.iam import errors, principals
from skyhold.store.base import Store

IDENTITY = "identity"  # inline and managed policies, permissions boundaries
TRUST = "trust"  # role trust (AssumeRolePolicyDocument)

MANAGED_POLICY_SIZE = 6144
TRUST_POLICY_SIZE = 2048
INLINE_SIZE = {"user": 2048, "group": 5120, "role": 10240}
# What IAM says of a trust policy that is not JSON at all (identity policies get
# the policy engine's "Syntax errors in policy." instead).
TRUST_INVALID_JSON = "This policy contains invalid Json"


def size(text: str) -> int:
    return sum(1 for c in text if not c.isspace())


def check(text: str, kind: str) -> None:
    """Raise MalformedPolicyDocument when `text` is not a valid policy of `kind`.

    The policy engine owns IAM's grammar and messages (skyhold.policy.validate).
    """
    validate_policy(text, PolicyType.TRUST if kind == TRUST else PolicyType.IDENTITY)


def check_managed(text: str) -> None:
    check(text, IDENTITY)
    if size(text) > MANAGED_POLICY_SIZE:
        raise errors.quota("PolicySize", MANAGED_POLICY_SIZE)


def check_trust(store: Store, text: str) -> None:
    try:
        json.loads(text)
    except (ValueError, RecursionError):  # RecursionError: nesting deeper than the parser goes
        raise errors.malformed_policy(TRUST_INVALID_JSON) from None
    check(text, TRUST)
    if size(text) > TRUST_POLICY_SIZE:
        raise errors.quota("ACLSizePerRole", TRUST_POLICY_SIZE)
    for who in principals.unknown(store, text):
        raise errors.malformed_policy(f'Invalid principal in policy: "AWS":"{who}"')


def check_inline(text: str, owner_kind: str, owner_name: str, others: dict[str, str], name: str) -> None:
    """An inline policy `name` replacing/added to `others` on a user/group/role."""
    check(text, IDENTITY)
    limit = INLINE_SIZE[owner_kind]
    total = size(text) + sum(size(t) for n, t in others.items() if n != name)
    if total > limit:
        raise errors.limit_exceeded(f"Maximum policy size of {limit} bytes exceeded for {owner_kind} {owner_name}")
