"""IAM's MalformedPolicyDocument checks, in the order IAM applies them.

IAM reports one error per document; which one depends on the order of its phases:
syntax → version → legacy parsing → principal rules of the policy type → Sid
uniqueness → actions present → resource ARN format → action vendors → resources
present. The messages are IAM's own (see the conformance corpus in
shared/conformance/policy-validation).

`validate_policy(doc, policy_type)` raises AwsError("MalformedPolicyDocument", …).
"""

from __future__ import annotations

import enum
import re
from collections.abc import Mapping
from typing import Any

from skyhold import client_json
from skyhold.errors import AwsError
from skyhold.policy.conditions import parse_operator
from skyhold.policy.values import parse_date


class PolicyType(str, enum.Enum):
    IDENTITY = "identity"  # managed and inline policies of users, groups, roles
    BOUNDARY = "boundary"  # permissions boundaries (identity-policy grammar)
    SESSION = "session"  # session policies passed to AssumeRole*/GetFederationToken
    RESOURCE = "resource"  # bucket, key, queue, secret … policies: Principal required
    TRUST = "trust"  # role trust policies: Principal required, no Resource
    SCP = "scp"  # service control policies: no Principal
    RCP = "rcp"  # resource control policies: Principal required
    ENDPOINT = "endpoint"  # VPC endpoint policies: Principal required


_IDENTITY_LIKE = {PolicyType.IDENTITY, PolicyType.BOUNDARY, PolicyType.SESSION, PolicyType.SCP}
_PRINCIPAL_REQUIRED = {PolicyType.RESOURCE, PolicyType.TRUST, PolicyType.RCP, PolicyType.ENDPOINT}

SYNTAX = "Syntax errors in policy."
VERSION = "Policy document must be version 2012-10-17 or greater."
LEGACY = "The policy failed legacy parsing"
SID_UNIQUE = "Statement IDs (SID) in a single policy must be unique."
NO_ACTIONS = "Policy statement must contain actions."
NO_RESOURCES = "Policy statement must contain resources."
NO_VENDOR = "Actions/Conditions must be prefaced by a vendor, e.g., iam, sdb, ec2, etc."
ONE_COLON = "Actions/Condition can contain only one colon."
PRINCIPAL_FORBIDDEN = "Policy document should not specify a principal."
PRINCIPAL_MISSING = "Missing required field Principal."
RESOURCE_FORBIDDEN = "Has prohibited field Resource."
RESOURCE_VENDOR = "Resource vendor must be fully qualified and cannot contain regexes."
IAM_PATHS = (
    "user/", "federated-user/", "role/", "group/", "instance-profile/", "mfa/", "server-certificate/",
    "policy/", "sms-mfa/", "saml-provider/", "oidc-provider/", "report/", "access-report/",
)  # fmt: skip
IAM_PATH_MESSAGE = 'IAM resource path must either be "*" or start with ' + ", ".join(IAM_PATHS) + "."

_TOP = {"Version", "Id", "Statement"}
_STMT = {"Sid", "Effect", "Principal", "NotPrincipal", "Action", "NotAction", "Resource", "NotResource", "Condition"}
_PRINCIPAL_KEYS = {"AWS", "Service", "Federated", "CanonicalUser"}
_PARTITIONS = {"aws", "aws-cn", "aws-us-gov", "aws-iso", "aws-iso-b", "aws-iso-e", "aws-iso-f", "aws-eusc"}
_VENDOR = re.compile(r"[A-Za-z0-9_.\-]+")


class _Malformed(Exception):
    pass


def malformed(message: str) -> AwsError:
    return AwsError("MalformedPolicyDocument", message)


def validate_policy(
    doc: str | bytes | Mapping[str, Any], policy_type: PolicyType | str = PolicyType.IDENTITY
) -> dict[str, Any]:
    """Validate like IAM does for `policy_type`; return the parsed document.

    Raises AwsError("MalformedPolicyDocument", message) on the first problem IAM reports.
    """
    try:
        return _validate(doc, PolicyType(policy_type))
    except _Malformed as e:
        raise malformed(str(e)) from None


def _validate(doc: Any, ptype: PolicyType) -> dict[str, Any]:
    if isinstance(doc, bytes):
        doc = doc.decode("utf-8", "replace")
    if isinstance(doc, str):
        try:
            doc = client_json.loads(doc)
        except (ValueError, RecursionError):  # RecursionError: nesting deeper than the parser goes
            raise _Malformed(SYNTAX) from None
    if not isinstance(doc, Mapping) or not _syntax_ok(doc):
        raise _Malformed(SYNTAX)
    statements = doc["Statement"] if isinstance(doc["Statement"], list) else [doc["Statement"]]

    if ptype in _IDENTITY_LIKE and doc.get("Version") != "2012-10-17":
        raise _Malformed(VERSION)

    resource_error: str | None = None
    for st in statements:
        if st["Effect"] not in ("Allow", "Deny") or not _dates_ok(st.get("Condition") or {}):
            raise _Malformed(LEGACY)
        for name in ("Resource", "NotResource"):
            for r in _list(st.get(name)):
                if r is None:
                    continue
                legacy, msg = _resource_problem(r)
                if legacy:
                    raise _Malformed(LEGACY)
                resource_error = resource_error or msg

    for st in statements:
        has_principal = "Principal" in st or "NotPrincipal" in st
        if ptype in _IDENTITY_LIKE and has_principal:
            raise _Malformed(PRINCIPAL_FORBIDDEN)
        if ptype is PolicyType.TRUST and ("Resource" in st or "NotResource" in st):
            raise _Malformed(RESOURCE_FORBIDDEN)
        if ptype in _PRINCIPAL_REQUIRED and not has_principal:
            raise _Malformed(PRINCIPAL_MISSING)

    sids = [st["Sid"] for st in statements if st.get("Sid")]
    if len(sids) != len(set(sids)):
        raise _Malformed(SID_UNIQUE)

    for st in statements:
        if not _list(st.get("Action")) and not _list(st.get("NotAction")):
            raise _Malformed(NO_ACTIONS)

    if resource_error:
        raise _Malformed(resource_error)

    for st in statements:
        for a in _list(st.get("Action")) + _list(st.get("NotAction")):
            _check_action(a)

    if ptype is not PolicyType.TRUST:
        for st in statements:
            if not [r for r in _list(st.get("Resource")) + _list(st.get("NotResource")) if r is not None]:
                raise _Malformed(NO_RESOURCES)
    return dict(doc)


def _list(v: Any) -> list[Any]:
    if v is None:
        return []
    return v if isinstance(v, list) else [v]


def _str_or_list(v: Any, allow_null: bool = False) -> bool:
    if isinstance(v, str):
        return True
    return isinstance(v, list) and all(isinstance(x, str) or (allow_null and x is None) for x in v)


def _syntax_ok(doc: Mapping[str, Any]) -> bool:
    if not set(doc) <= _TOP or "Statement" not in doc:
        return False
    if "Version" in doc and doc["Version"] not in ("2008-10-17", "2012-10-17"):
        return False
    if "Id" in doc and not isinstance(doc["Id"], str):
        return False
    raw = doc["Statement"]
    statements = raw if isinstance(raw, list) else [raw]
    if not statements:
        return False
    return all(_statement_syntax_ok(st) for st in statements)


def _statement_syntax_ok(st: Any) -> bool:
    if not isinstance(st, dict) or not set(st) <= _STMT:
        return False
    effect = st.get("Effect")
    if not isinstance(effect, str) or effect.lower() not in ("allow", "deny"):
        return False
    if "Sid" in st and not isinstance(st["Sid"], str):
        return False
    for a, b in (("Action", "NotAction"), ("Resource", "NotResource"), ("Principal", "NotPrincipal")):
        if a in st and b in st:
            return False
    for name in ("Action", "NotAction"):
        if name in st and not _str_or_list(st[name]):
            return False
    for name in ("Resource", "NotResource"):
        if name in st and not _str_or_list(st[name], allow_null=True):
            return False
    for name in ("Principal", "NotPrincipal"):
        if name in st and not _principal_ok(st[name]):
            return False
    if "Condition" in st and not _condition_ok(st["Condition"]):
        return False
    return True


def _principal_ok(p: Any) -> bool:
    if p == "*":
        return True
    if not isinstance(p, dict) or not p or not set(p) <= _PRINCIPAL_KEYS:
        return False
    return all(_str_or_list(v) and v != [] for v in p.values())


def _scalar(v: Any) -> bool:
    return isinstance(v, str | bool | int | float)


def _condition_ok(cond: Any) -> bool:
    if not isinstance(cond, dict):
        return False
    for op, block in cond.items():
        if not isinstance(block, dict):
            return False
        if block and parse_operator(op) is None:
            return False
        for v in block.values():
            if not (_scalar(v) or (isinstance(v, list) and all(_scalar(x) for x in v))):
                return False
    return True


def _dates_ok(cond: Mapping[str, Any]) -> bool:
    for op, block in cond.items():
        parsed = parse_operator(op)
        if parsed is None or not parsed.base.startswith("Date"):
            continue
        for v in block.values():
            for x in _list(v):
                if isinstance(x, bool) or parse_date(str(x)) is None:
                    return False
    return True


def _resource_problem(r: str) -> tuple[bool, str | None]:
    """(fails legacy parsing?, IAM's message for a malformed resource ARN)."""
    if r == "*":
        return False, None
    if ":" not in r:
        return False, f'Resource {r} must be in ARN format or "*".'
    # The first segment is not checked; everything hangs on the partition.
    partition, has_more, after = r.split(":", 1)[1].partition(":")
    if partition not in _PARTITIONS:
        parts = after.split(":")
        a1 = parts[0] if parts[0] or len(parts) > 1 else "*"
        a2 = parts[1] if len(parts) > 1 else "*"
        a3 = parts[2] if len(parts) > 2 else "*"
        a4 = ":".join(parts[3:]) if len(parts) > 3 else "*"
        return False, f'Partition "{partition}" is not valid for resource "arn:{partition}:{a1}:{a2}:{a3}:{a4}".'
    if not has_more:
        return False, RESOURCE_VENDOR
    service, has_region, rest = after.partition(":")
    if not service:
        return True, None
    if not has_region:
        return False, None  # "arn:aws:svc": IAM lets it through
    region_account_res = rest.split(":", 2)
    if len(region_account_res) < 3:
        return True, None
    region, _account, resource = region_account_res
    if region and service == "iam":
        return False, f"IAM resource {r} cannot contain region information."
    if region and service == "s3" and not resource.startswith("accesspoint/"):
        return False, f"Resource {r} can not contain region information."
    if service == "iam" and resource not in ("*", "root") and not resource.startswith(IAM_PATHS):
        return False, IAM_PATH_MESSAGE
    return False, None


def _check_action(a: str) -> None:
    if a == "*":
        return
    if ":" not in a:
        raise _Malformed(NO_VENDOR)
    if a.count(":") > 1:
        raise _Malformed(ONE_COLON)
    vendor = a.split(":", 1)[0]
    if not _VENDOR.fullmatch(vendor):
        raise _Malformed(f"Vendor {vendor} is not valid")
