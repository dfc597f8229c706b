"""The Principal / NotPrincipal element, compiled.

A match has a *kind*, because how a resource-based policy's Allow combines with the
caller's other policies depends on whom it names (IAM User Guide, "Policy evaluation
logic" and "Cross-account policy evaluation logic"):
- DIRECT: the IAM user, the role session (assumed-role ARN), a service, a federated
  provider or canonical user named as such — in the same account this grants even when a
  permissions boundary or session policy implicitly denies;
- ROLE: the role ARN (matches all its sessions), or the IAM user that made a federated
  user (GetFederationToken) — grants, but a boundary's or session policy's implicit
  deny still limits it ("Session policies": such a policy adds its permissions to the
  user or role before the session is made);
- ANY: "*" — treated like ROLE;
- ACCOUNT: an account id or `arn:aws:iam::ACCT:root` — delegates to the account's IAM
  policies: the caller's identity-based policies must allow too.
Wildcards other than a lone "*" are not valid in principals and never match.

A user or role can also be named by its unique id: IAM stores the users and roles a
trust or resource policy names as their ids (skyhold.services.iam.principals), so
that a principal deleted and created again under the same name is not the one the
policy named. A user id (AIDA…) names the user whose id it is, as its ARN does
(DIRECT); a role id (AROA…) names the role's sessions, whose caller id is
"AROA…:session-name", as the role's ARN does (ROLE).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from skyhold import principal as P
from skyhold.policy.request import ROLE, Caller

NONE, ACCOUNT, ANY, ROLE_MATCH, DIRECT = 0, 1, 2, 3, 4
ROLE_ID_PREFIX = "AROA"  # IAM's unique-id prefix for roles (users' is AIDA)
KIND_NAMES = {NONE: "none", ACCOUNT: "account", ANY: "any", ROLE_MATCH: "role", DIRECT: "direct"}


def _as_list(v: Any) -> list[str]:
    if v is None:
        return []
    if isinstance(v, list):
        return [x for x in v if isinstance(x, str)]
    return [v] if isinstance(v, str) else []


def _account_of(entry: str) -> str | None:
    if len(entry) == 12 and entry.isdigit():
        return entry
    if entry.startswith("arn:") and entry.endswith(":root"):
        parts = entry.split(":")
        if len(parts) == 6 and parts[2] == "iam" and parts[5] == "root":
            return parts[4]
    return None


def _is_role_id(entry: str) -> bool:
    return entry.startswith(ROLE_ID_PREFIX) and ":" not in entry


def _role_key(entry: str) -> tuple[str, str] | None:
    parts = entry.split(":", 5)
    if len(parts) == 6 and parts[2] == "iam" and parts[5].startswith("role/"):
        return parts[4], parts[5].rsplit("/", 1)[-1]
    return None


@dataclass(slots=True)
class PrincipalMatcher:
    any: bool = False
    accounts: frozenset[str] = frozenset()
    arns: frozenset[str] = frozenset()  # user/session/federated-user ARNs and unique ids
    roles: frozenset[tuple[str, str]] = frozenset()  # (account, role name)
    role_ids: frozenset[str] = frozenset()  # AROA… unique ids
    services: frozenset[str] = frozenset()
    federated: frozenset[str] = frozenset()
    canonical: frozenset[str] = frozenset()
    _cache: dict[str, int] = field(default_factory=dict)

    @classmethod
    def compile(cls, element: Any) -> PrincipalMatcher:
        if element == "*":
            return cls(any=True)
        accounts: set[str] = set()
        arns: set[str] = set()
        roles: set[tuple[str, str]] = set()
        role_ids: set[str] = set()
        any_ = False
        el = element if isinstance(element, dict) else {}
        for entry in _as_list(el.get("AWS")):
            if entry == "*":
                any_ = True
            elif (acct := _account_of(entry)) is not None:
                accounts.add(acct)
            elif (rk := _role_key(entry)) is not None:
                roles.add(rk)
            elif _is_role_id(entry):
                role_ids.add(entry)
            else:
                arns.add(entry)
        return cls(
            any=any_,
            accounts=frozenset(accounts),
            arns=frozenset(arns),
            roles=frozenset(roles),
            role_ids=frozenset(role_ids),
            services=frozenset(s.lower() for s in _as_list(el.get("Service"))),
            federated=frozenset(_as_list(el.get("Federated"))),
            canonical=frozenset(_as_list(el.get("CanonicalUser"))),
        )

    def match(self, c: Caller) -> int:
        """The strongest way this element names the caller (NONE if it does not)."""
        if c.federated_provider or c.canonical_user:
            return self._match(c)
        key = c.arn + "\x00" + c.user_id + "\x00" + c.source_user_id
        hit = self._cache.get(key)
        if hit is None:
            hit = self._match(c)
            if len(self._cache) > 4096:
                self._cache.clear()
            self._cache[key] = hit
        return hit

    def _match(self, c: Caller) -> int:
        best = ANY if self.any else NONE
        if c.type == P.AWS_SERVICE:
            return DIRECT if c.arn.lower() in self.services else best
        if c.type == P.ANONYMOUS:
            return best
        if c.federated_provider and c.federated_provider in self.federated:
            return DIRECT
        if c.canonical_user and c.canonical_user in self.canonical:
            return DIRECT
        if c.arn in self.arns or (c.user_id and c.user_id in self.arns):
            return DIRECT
        if c.type in (P.ASSUMED_ROLE, ROLE) and ((c.account, c.name) in self.roles or self._role_id_of(c)):
            return ROLE_MATCH
        if c.source_user_arn and (c.source_user_arn in self.arns or c.source_user_id in self.arns):
            return ROLE_MATCH
        if c.account in self.accounts:
            return max(best, ACCOUNT)
        return best

    def excludes(self, c: Caller, *, bounded_deny: bool = False) -> bool:
        """NotPrincipal: is the caller one of the listed (hence exempt) principals?

        AWS evaluates every identity in the caller's chain (User Guide, NotPrincipal):
        the account, then for a role session the role, then the session or user itself.
        So to exempt a user both its ARN and its account must be listed; to exempt a role
        session, its ARN, its role's ARN and its account (AWS: without the role's ARN the
        policy "might" deny the role — Skyhold does). A role ARN alone exempts no session.
        `bounded_deny`: the statement is a Deny and the caller has a permissions
        boundary, which such a statement "will always deny", whatever it lists.
        """
        if self.any:
            return not bounded_deny
        if c.type == P.AWS_SERVICE:
            return c.arn.lower() in self.services
        if c.type == P.ANONYMOUS:
            return False
        if c.federated_provider and c.federated_provider in self.federated:
            return True
        if bounded_deny or c.account not in self.accounts:
            return False
        if c.type == P.ROOT:
            return True
        role_listed = (c.account, c.name) in self.roles or self._role_id_of(c)
        if c.type == ROLE:
            return role_listed
        if c.type == P.ASSUMED_ROLE and not role_listed:
            return False
        return c.arn in self.arns or (bool(c.user_id) and c.user_id in self.arns)

    def _role_id_of(self, c: Caller) -> bool:
        """Whether a role, or a session of one (user id "AROA…:session"), has one of the
        role ids listed."""
        return bool(self.role_ids) and c.user_id.partition(":")[0] in self.role_ids
