"""The pipeline's authorization step: every Access an operation needs is decided
by the policy engine with every policy that applies to the caller.

Identity policies come from IAM's records (user + groups, or role + session);
resource policies come with the Access (the service read them). A denial becomes
the service's AccessDenied error with the engine's explanation in AWS's wording.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from skyhold import authorization_message, clock
from skyhold import principal as p
from skyhold.authz import Access, AuthzFn
from skyhold.errors import AwsError
from skyhold.policy import Caller, Decision, PolicySet, RequestContext, evaluate
from skyhold.policy.decision import RESOURCE
from skyhold.policy.evaluate import LabeledPolicy, labeled
from skyhold.services.iam import effective, records
from skyhold.store.base import Store
from skyhold.store.cache import GenerationCache

if TYPE_CHECKING:
    from skyhold.pipeline import Call

# The IAM action prefix of each service we serve (botocore name → prefix).
ACTION_PREFIX = {"s3control": "s3"}

# What each service calls its access-denied error (code, HTTP status).
_DENIED_CODE = {
    "iam": ("AccessDenied", 403),
    "sts": ("AccessDenied", 403),
    "s3": ("AccessDenied", 403),
    "s3control": ("AccessDenied", 403),
    "ec2": ("UnauthorizedOperation", 403),
}
_DEFAULT_DENIED = ("AccessDeniedException", 400)

# The root user's implicit power in its own account, expressed as a policy so the
# engine still applies explicit denies (resource policies, SCPs) and the
# cross-account rules to it exactly as to everyone else.
_ROOT_POWER = json.dumps({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]})


@lru_cache(maxsize=1024)
def _resource_policy(text: str) -> LabeledPolicy:
    return labeled(text, "attached to the resource")


_second: tuple[int, str, str] = (-1, "", "")


def _time_keys() -> tuple[float, str, str]:
    """(epoch, aws:CurrentTime, aws:EpochTime) of Skyhold's clock, the texts formatted
    once per second (both from the same second)."""
    global _second
    epoch = clock.now_epoch()
    whole = int(epoch)
    if _second[0] != whole:
        _second = (whole, time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(whole)), str(whole))
    return epoch, _second[1], _second[2]


@dataclass(frozen=True, slots=True, eq=False)  # compared and hashed by identity
class _Subject:
    """What the engine needs of one principal, compiled once per store generation."""

    who: p.Principal  # held so the id() it is cached under is not reused
    caller: Caller
    identity: tuple[LabeledPolicy, ...]
    boundary: LabeledPolicy | None
    session: tuple[LabeledPolicy, ...]
    context_free: bool  # none of its policies reads the request context


def _caller(who: p.Principal) -> Caller:
    if who.type == p.WEB_IDENTITY_USER:
        # Trust policies name web identities by their provider (`Federated`).
        return Caller(who.arn, p.WEB_IDENTITY_USER, user_id=who.user_id,
                      federated_provider=who.session.get("federated_provider", ""))
    return Caller.from_principal(who)


class Authorizer:
    def __init__(self, store: Store, authz: dict[str, dict[str, AuthzFn]], data_dir: Path | None = None) -> None:
        self.store = store
        self.authz = authz
        self.data_dir = data_dir
        self._cache = GenerationCache(store, ignore_bulk=True)

    def accesses(self, call: Call, params: dict[str, Any]) -> list[Access]:
        fn = self.authz.get(call.service, {}).get(call.operation)
        if fn is not None:
            return fn(call, params)
        prefix = ACTION_PREFIX.get(call.service, call.service)
        return [Access(f"{prefix}:{call.operation}", "*")]

    def check(self, call: Call, params: dict[str, Any]) -> None:
        accesses = self.accesses(call, params)
        call.accesses = accesses  # the audit trail names the resources and their owners
        for access in accesses:
            self.check_access(call, access)

    def check_access(self, call: Call, access: Access) -> None:
        """Decide one Access for the caller; raise the service's AccessDenied."""
        subject = self._subject(call.principal)
        policy = access.resource_policy
        if subject.context_free and (policy is None or _resource_policy(policy).policy.context_free):
            # No policy in play reads the request's context (no condition, no variable):
            # the verdict is the same for every request of this caller on this action
            # and resource, until the store changes. A denial is decided again below,
            # for its explanation.
            key = ("verdict", subject, access.action, access.resource, access.matched_as, access.resource_account,
                   policy, access.resource_policy_required)
            if self._cache.get(key, lambda: self.decide(call, access).allowed):
                return
        decision = self.decide(call, access)
        if not decision.allowed:
            raise self.denied(call, decision, access.denied_resource_text)

    def decide(self, call: Call, access: Access) -> Decision:
        who = call.principal
        subject = self._subject(who)
        context = self.base_context(call)
        context.update(access.context)
        policy = access.resource_policy
        return evaluate(
            RequestContext(
                subject.caller,
                access.action,
                access.resource,
                resource_account=access.resource_account or who.account or None,
                context=context,
                resource_policy_required=access.resource_policy_required,
                matched_as=access.matched_as,
            ),
            PolicySet(
                identity=subject.identity,
                resource=None if policy is None else _resource_policy(policy),
                boundary=subject.boundary,
                session=subject.session,
            ),
        )

    def _subject(self, who: p.Principal) -> _Subject:
        """The caller and its compiled policies. Keyed by the principal object: the
        credential lookup hands out the same one until the store changes, and the
        generation cache forgets everything when it does (a changed policy counts at once)."""
        found = self._cache.get(("subject", id(who)), lambda: self._new_subject(who))
        # The entry holds `who`, so its id cannot be reused while cached; checked anyway.
        return found if found.who is who else self._new_subject(who)

    def _new_subject(self, who: p.Principal) -> _Subject:
        identity, boundary = self.identity_policies(who)
        policies = PolicySet.build(identity=identity, boundary=boundary, session=who.session.get("policies") or ())
        every = (*policies.identity, *policies.session, *((policies.boundary,) if policies.boundary else ()))
        return _Subject(who, _caller(who), policies.identity, policies.boundary, policies.session,
                        all(lp.policy.context_free for lp in every))

    def denied(self, call: Call, decision: Decision, resource_text: str | None = None) -> AwsError:
        code, status = _DENIED_CODE.get(call.service, _DEFAULT_DENIED)
        trust = call.service == "sts" and decision.denied_by == RESOURCE  # a role's trust policy
        quote = call.service in ("s3", "s3control")
        message = decision.denial_message(quote_resource=quote, say_why=not trust, resource_text=resource_text)
        if call.principal.is_anonymous:
            message = "Access Denied"  # AWS tells anonymous callers nothing more
        elif call.service == "s3" and decision.request.resource_account != call.principal.account:
            # S3 explains a denial only "for requests made to resources within the same AWS
            # account" (S3 User Guide, troubleshooting 403 errors); `skyhold explain` still does.
            message = "Access Denied"
        explanation = decision.explain()
        explanation["message"] = decision.denial_message(quote_resource=quote, resource_text=resource_text)
        explanation["action"] = decision.request.action
        explanation["resource"] = decision.request.resource
        explanation["principal"] = call.principal.arn
        if call.service == "ec2" and self.data_dir is not None:
            # EC2 hides the details in a message only sts:DecodeAuthorizationMessage opens.
            encoded = authorization_message.encode(self.data_dir, authorization_message.decoded(
                explanation, call.principal.user_id, call.principal.arn, decision.request.context))
            message = (f"You are not authorized to perform this operation. {message}. "
                       f"Encoded authorization failure message: {encoded}")
        return AwsError(code, message, status=status, explanation=explanation)

    @staticmethod
    def base_context(call: Call) -> dict[str, Any]:
        epoch, current_time, epoch_time = _time_keys()
        req = call.request
        ctx: dict[str, Any] = {
            "aws:CurrentTime": current_time,
            "aws:EpochTime": epoch_time,
            "aws:SourceIp": req.source_ip,
            "aws:SecureTransport": "true" if req.scheme == "https" else "false",
            "aws:RequestedRegion": call.region,
        }
        if ua := req.headers.get("user-agent"):
            ctx["aws:UserAgent"] = ua
        if referer := req.headers.get("referer"):
            ctx["aws:Referer"] = referer
        session = call.principal.session
        if call.principal.type in (p.ASSUMED_ROLE, p.FEDERATED_USER) or session.get("mfa") is not None:
            ctx["aws:MultiFactorAuthPresent"] = "true" if session.get("mfa") else "false"
            if session.get("mfa_time"):
                ctx["aws:MultiFactorAuthAge"] = str(int(epoch - session["mfa_time"]))
        if issued := session.get("issued_at"):
            ctx["aws:TokenIssueTime"] = issued
        if source_identity := session.get("source_identity"):
            ctx["aws:SourceIdentity"] = source_identity
        ctx.update(session.get("context") or {})
        return ctx

    def identity_policies(self, who: p.Principal) -> tuple[list[tuple[str, str]], str | None]:
        """(labelled identity policies, permissions boundary) of a principal."""
        key = (who.type, who.account, who.name, who.session.get("role_name"), who.session.get("source_user"))
        return self._cache.get(("policies", key), lambda: self._load_identity_policies(who))

    def _load_identity_policies(self, who: p.Principal) -> tuple[list[tuple[str, str]], str | None]:
        if who.type == p.ROOT:
            return [("root user", _ROOT_POWER)], None
        if who.type == p.FEDERATED_USER:
            # A federated user has the intersection of the issuing user's policies and
            # the session policy (carried in the session, applied by `check`).
            source = who.session.get("source_user")
            if not source:
                return [("root user", _ROOT_POWER)], None
            who = p.Principal(type=p.IAM_USER, account=who.account, arn="", user_id="", name=source)
        if who.type == p.IAM_USER:
            rec = self.store.get(records.USER, records.user_key(who.account, who.name))
            if rec is None:
                return [], None
            found = effective.of_user(self.store, who.account, rec.value)
            return [(s.label, s.document) for s in found], effective.boundary(self.store, who.account, rec.value)
        if who.type == p.ASSUMED_ROLE and who.session.get("role_name"):
            rec = self.store.get(records.ROLE, records.name_key(who.account, who.session["role_name"]))
            if rec is None:
                return [], None
            found = effective.owned(self.store, who.account, rec.value, "role")
            return [(s.label, s.document) for s in found], effective.boundary(self.store, who.account, rec.value)
        return [], None
