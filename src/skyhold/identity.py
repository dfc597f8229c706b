"""Access key id → Credential (with the Principal it authenticates as).

The authentication layer knows nothing about the store; it calls `lookup` with the
access key id of a signed request. Long-term keys (AKIA…) belong to IAM users;
temporary keys (ASIA…) are STS sessions (added by the STS service).

An IAM user's tags are its aws:PrincipalTag values, for its own keys and for its
GetSessionToken sessions alike; they are read when the credential is looked up, and the
lookup memo is dropped on every store commit, so a TagUser applies to the next request.

Secrets are stored sealed (crypto/fields.py): a key's secret is unsealed when the memo
is filled, not per request. `seal_stored_credentials` seals, at start-up, those a data
dir from before sealing still holds in plaintext.
"""

from __future__ import annotations

import dataclasses

from skyhold import arn
from skyhold import principal as p
from skyhold.auth.credentials import Credential, CredentialLookup
from skyhold.services.iam import mfa, service_credentials
from skyhold.services.iam import records as iam
from skyhold.services.sts import sessions
from skyhold.store.base import Store
from skyhold.store.cache import GenerationCache


def make_lookup(store: Store) -> CredentialLookup:
    cache = GenerationCache(store, ignore_bulk=True)

    def lookup(access_key_id: str) -> Credential | None:
        return cache.get(("credential", access_key_id), lambda: _load(access_key_id))

    def _load(access_key_id: str) -> Credential | None:
        if access_key_id.startswith("ASIA"):
            return _with_user_tags(sessions.credential(store, access_key_id))
        rec = store.get(iam.ACCESS_KEY, access_key_id)
        if rec is None:
            return None
        key = rec.value
        if key["UserName"] == iam.ROOT_USER:
            who = p.Principal(type=p.ROOT, account=key["Account"], arn=arn.root(key["Account"]),
                              user_id=key["Account"], access_key_id=access_key_id)
            return Credential(access_key_id=access_key_id, secret_access_key=iam.secret_access_key(store, key),
                              active=key["Status"] == "Active", principal=who)
        user = iam.get_user(store, key["Account"], key["UserName"])
        if user is None:  # a key outliving its user is not a credential
            return None
        who = p.Principal(
            type=p.IAM_USER,
            account=key["Account"],
            arn=user["Arn"],
            user_id=user["UserId"],
            name=user["UserName"],
            access_key_id=access_key_id,
            tags=iam.principal_tags(user),
        )
        return Credential(
            access_key_id=access_key_id,
            secret_access_key=iam.secret_access_key(store, key),
            active=key["Status"] == "Active",
            principal=who,
        )

    def _with_user_tags(cred: Credential | None) -> Credential | None:
        """A GetSessionToken session is the IAM user itself: it carries the user's tags."""
        who = cred.principal if cred is not None else None
        if cred is None or who is None or who.type != p.IAM_USER:
            return cred
        user = iam.get_user(store, who.account, who.name)
        if user is None:
            return cred
        return dataclasses.replace(cred, principal=dataclasses.replace(who, tags=iam.principal_tags(user)))

    return lookup


def seal_stored_credentials(store: Store) -> int:
    """Seal the access keys' secrets, MFA seeds and sessions' secrets (digesting their
    tokens, and service-specific credentials' secrets) that a data dir from before
    sealing holds in plaintext; how many records."""
    with store.transaction():
        sealed = (iam.seal_plaintext_keys(store) + mfa.seal_plaintext_seeds(store) + sessions.seal_plaintext(store)
                  + service_credentials.digest_plaintext_secrets(store))
    if sealed:
        store.scrub()  # the plaintext must not linger in the files either
    return sealed
