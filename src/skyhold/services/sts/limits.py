"""What some temporary credentials may never call, whatever their policies allow.

From AWS's comparison of STS credentials (IAM User Guide, "Compare AWS STS credentials"):
- GetSessionToken's credentials call no IAM API unless the session was issued with
  MFA, and no STS API but AssumeRole and GetCallerIdentity;
- GetFederationToken's call no IAM API at all, and no STS API but GetCallerIdentity.
Role sessions have no such limits (only GetSessionToken/GetFederationToken refuse
them, in their handlers).

IAM refuses such a token as though it did not know it: InvalidClientTokenId, in IAM's
words (no final full stop, unlike STS's). STS refuses the call in the words it uses
for GetSessionToken called with session credentials.
"""

from __future__ import annotations

from skyhold import principal as p
from skyhold.errors import AwsError

_IAM_REFUSAL = "The security token included in the request is invalid"
_STS_ALLOWED = {
    p.IAM_USER: frozenset({"AssumeRole", "GetCallerIdentity"}),  # GetSessionToken's
    p.ROOT: frozenset({"AssumeRole", "GetCallerIdentity"}),  # GetSessionToken's, as root
    p.FEDERATED_USER: frozenset({"GetCallerIdentity"}),  # GetFederationToken's
}


def check(who: p.Principal, service: str, operation: str) -> None:
    """Raise AwsError when `who`'s credentials may not call `service`:`operation`."""
    if service not in ("iam", "sts") or not who.session.get("temporary"):
        return
    allowed = _STS_ALLOWED.get(who.type)
    if allowed is None:
        return
    issuer = "GetFederationToken" if who.type == p.FEDERATED_USER else "GetSessionToken"
    if service == "iam":
        if who.type == p.FEDERATED_USER:
            raise _refusal("InvalidClientTokenId", _IAM_REFUSAL, service, operation,
                           f"{issuer}'s credentials may call no IAM API, whatever the policies allow.",
                           "Call IAM with the user's long-term key, or with a role session (AssumeRole).")
        if not who.session.get("mfa"):
            raise _refusal("InvalidClientTokenId", _IAM_REFUSAL, service, operation,
                           f"{issuer}'s credentials issued without MFA may call no IAM API.",
                           "Call GetSessionToken with SerialNumber and TokenCode of the user's MFA device.")
    elif operation not in allowed:
        raise _refusal("AccessDenied", f"Cannot call {operation} with session credentials", service, operation,
                       f"{issuer}'s credentials may call no STS API but {' and '.join(sorted(allowed))}.",
                       f"Call {operation} with the user's long-term key.")


def _refusal(code: str, message: str, service: str, operation: str, reason: str, fix: str) -> AwsError:
    # The explanation is what `skyhold explain` shows: no policy statement can lift this.
    explanation = {"decision": "Denied", "denied_by": "the limits of the session's credentials",
                   "action": f"{service}:{operation}", "resource": "*", "reasons": [reason], "fix": fix}
    return AwsError(code, message, status=403, explanation=explanation)
