"""What the engine is asked: who (Caller), does what (action) to what (resource), in
which context, and with which flags.

The condition context is normalised once per request: keys lower-cased (IAM key names
are case-insensitive) and the keys AWS derives from the caller (aws:PrincipalArn,
aws:PrincipalAccount, aws:PrincipalType, aws:username, aws:userid, aws:PrincipalTag/…)
filled in when the caller did not supply them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from skyhold import principal as P

ROLE = "Role"  # a role ARN used directly as the caller (simulator convenience)


@dataclass(frozen=True, slots=True)
class Caller:
    arn: str  # principal ARN; "anonymous"; or a service principal ("ec2.amazonaws.com")
    type: str  # skyhold.principal types (ROOT, IAM_USER, ASSUMED_ROLE, …) or ROLE
    account: str = ""  # "" for anonymous and service principals
    name: str = ""  # user name / role name
    session_name: str = ""
    role_arn: str = ""  # for role sessions, when known (may carry a path)
    user_id: str = ""
    tags: Mapping[str, str] = field(default_factory=dict)
    # For web-identity / SAML calls (trust policies' Federated principal).
    federated_provider: str = ""
    canonical_user: str = ""
    # For a federated user (GetFederationToken): the IAM user that made it, whom a
    # resource policy may name instead of the session.
    source_user_arn: str = ""
    source_user_id: str = ""
    # derived_context(self), computed once per Caller (callers are reused across requests).
    _derived: dict[str, Any] | None = field(default=None, compare=False, repr=False)

    def derived(self) -> dict[str, Any]:
        d = self._derived
        if d is None:
            d = derived_context(self)
            object.__setattr__(self, "_derived", d)
        return d

    @classmethod
    def from_arn(cls, arn: str, **kw: Any) -> Caller:
        """Recognise the caller's kind from its ARN (or "anonymous", or a service name)."""
        if arn == "anonymous" or arn == "*":
            return cls("anonymous", P.ANONYMOUS, user_id="anonymous", **kw)
        if not arn.startswith("arn:"):
            return cls(arn, P.AWS_SERVICE, **kw)
        parts = arn.split(":", 5)
        if len(parts) != 6:
            raise ValueError(f"not a principal ARN: {arn!r}")
        service, account, res = parts[2], parts[4], parts[5]
        if service == "iam" and res == "root":
            return cls(arn, P.ROOT, account, user_id=kw.pop("user_id", account), **kw)
        if service == "iam" and res.startswith("user/"):
            return cls(arn, P.IAM_USER, account, name=res.rsplit("/", 1)[-1], **kw)
        if service == "iam" and res.startswith("role/"):
            return cls(arn, ROLE, account, name=res.rsplit("/", 1)[-1], role_arn=arn, **kw)
        if service == "sts" and res.startswith("assumed-role/"):
            _, role, session = (res.split("/", 2) + ["", ""])[:3]
            role_arn = kw.pop("role_arn", f"arn:{parts[1]}:iam::{account}:role/{role}")
            return cls(arn, P.ASSUMED_ROLE, account, name=role, session_name=session, role_arn=role_arn, **kw)
        if service == "sts" and res.startswith("federated-user/"):
            return cls(arn, P.FEDERATED_USER, account, name=res.split("/", 1)[1], **kw)
        raise ValueError(f"not a principal ARN: {arn!r}")

    @classmethod
    def from_principal(cls, p: P.Principal) -> Caller:
        """From the authenticated skyhold.principal.Principal of the pipeline."""
        s = p.session or {}
        if p.is_anonymous:
            return cls.from_arn("anonymous")
        return cls.from_arn(
            p.arn,
            user_id=p.user_id,
            # The user's own tags, then the session's (which win on a shared key).
            tags={**p.tags, **(s.get("tags") or {})},
            **({"role_arn": s["role_arn"]} if s.get("role_arn") else {}),
            **({"source_user_arn": s.get("source_user_arn") or "", "source_user_id": s.get("source_user_id") or ""}
               if p.type == P.FEDERATED_USER else {}),
        )

    @property
    def is_service(self) -> bool:
        return self.type == P.AWS_SERVICE

    @property
    def is_anonymous(self) -> bool:
        return self.type == P.ANONYMOUS

    @property
    def principal_arn(self) -> str:
        """aws:PrincipalArn: the role (not the session) for role sessions."""
        return self.role_arn if self.type == P.ASSUMED_ROLE else self.arn


# aws:PrincipalType's vocabulary
_PRINCIPAL_TYPE = {
    P.ROOT: "Account",
    P.IAM_USER: "User",
    P.ASSUMED_ROLE: "AssumedRole",
    ROLE: "AssumedRole",
    P.FEDERATED_USER: "FederatedUser",
    P.ANONYMOUS: "Anonymous",
}


def derived_context(c: Caller) -> dict[str, Any]:
    """The global keys AWS sets from the caller itself (lower-cased names)."""
    out: dict[str, Any] = {}
    if c.is_service:
        out["aws:principalservicename"] = c.arn
        out["aws:principalisawsservice"] = "true"
        return out
    out["aws:principalisawsservice"] = "false"
    if c.type in _PRINCIPAL_TYPE:
        out["aws:principaltype"] = _PRINCIPAL_TYPE[c.type]
    if c.is_anonymous:
        out["aws:userid"] = "anonymous"
        return out
    out["aws:principalarn"] = c.principal_arn
    out["aws:principalaccount"] = c.account
    if c.type == P.IAM_USER:
        out["aws:username"] = c.name
    if c.user_id:
        out["aws:userid"] = c.user_id
    for k, v in c.tags.items():
        out["aws:principaltag/" + k.lower()] = v
    return out


@dataclass(slots=True)
class RequestContext:
    caller: Caller
    action: str  # "s3:GetObject"
    resource: str = "*"  # resource ARN, or "*"
    resource_account: str | None = None  # owner of the resource; None: the caller's
    context: Mapping[str, Any] = field(default_factory=dict)  # condition keys, any case
    # KMS key policies, role trust policies: the resource policy must allow even in
    # the same account (an account principal in it delegates to IAM policies).
    resource_policy_required: bool = False
    # The caller's account is the organization's management account: SCPs do not apply.
    is_management_account: bool = False
    # The resource's account is the management account: RCPs do not apply.
    resource_in_management_account: bool = False
    # What Resource elements are matched against, when not `resource`: S3's
    # ListAllMyBuckets names no bucket ("*"), yet Resource "arn:aws:s3:::*" grants it.
    matched_as: str | None = None
    # Filled in __post_init__:
    action_lower: str = field(init=False)
    ctx: dict[str, Any] = field(init=False)  # normalised condition context

    def __post_init__(self) -> None:
        self.action_lower = self.action.lower()
        ctx = self.caller.derived().copy()
        context = self.context
        ctx.update(zip(map(str.lower, context.keys()), context.values()))  # keys any case: in C
        self.ctx = ctx
        if self.resource_account is None:
            self.resource_account = self.caller.account
        if self.matched_as is None:
            self.matched_as = self.resource

    @property
    def is_service_principal(self) -> bool:
        return self.caller.is_service

    @property
    def same_account(self) -> bool:
        c = self.caller
        return bool(c.account) and c.account == self.resource_account
