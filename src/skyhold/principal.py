"""Who is calling: the verified caller that flows through the pipeline."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

# CloudTrail's userIdentity.type values; also aws:PrincipalType's vocabulary
# (where AWS says "Account" for root and "User" for IAM users).
ROOT = "Root"
IAM_USER = "IAMUser"
ASSUMED_ROLE = "AssumedRole"
FEDERATED_USER = "FederatedUser"
WEB_IDENTITY_USER = "WebIdentityUser"
AWS_SERVICE = "AWSService"
ANONYMOUS = "Anonymous"


@dataclass(frozen=True, slots=True)
class Principal:
    type: str
    account: str  # "" for anonymous
    arn: str  # "anonymous" for anonymous callers
    user_id: str  # GetCallerIdentity's UserId (AIDA…, account id for root, AROA…:session)
    name: str = ""  # user name, or session name for sessions
    access_key_id: str | None = None
    # Session facts for temporary credentials (issuer, MFA, tags, policies, …);
    # filled by STS, read by the policy engine and CloudTrail.
    session: dict[str, Any] = field(default_factory=dict)
    # The IAM user's own tags (aws:PrincipalTag), for its keys and GetSessionToken sessions.
    tags: dict[str, str] = field(default_factory=dict)

    @property
    def is_anonymous(self) -> bool:
        return self.type == ANONYMOUS


ANONYMOUS_PRINCIPAL = Principal(type=ANONYMOUS, account="", arn="anonymous", user_id="anonymous")
