"""IAM's last-accessed reports: GenerateServiceLastAccessedDetails and
GetServiceLastAccessedDetails, the data AWS's "refine permissions using last accessed
information" guidance removes unused permissions with.

The activity comes from Skyhold's own audit trail: every authenticated request, allowed
or denied ("The service last accessed data includes all attempts to access an AWS API,
not just the successful ones", IAM API reference). A report lists the services the
entity's identity policies allow, each with the entity's last attempt on it; at
ACTION_LEVEL also the actions it attempted there.
"""

from __future__ import annotations

import fnmatch
import json
import uuid
from datetime import datetime
from typing import TYPE_CHECKING, Any

from skyhold.authz import Access
from skyhold.policy.reference import reference
from skyhold.services.iam import common, effective, errors, managed, records, validate
from skyhold.store.base import Store
from skyhold.trail.events import EVENT

if TYPE_CHECKING:
    from skyhold.pipeline import Call

JOB = "iam.last-accessed-job"
_PAGE = 500


def _entity(call: Call, arn: str) -> tuple[list[str], list[str], list[str]]:
    """(users, roles — by ARN — whose activity the report is of, identity policy texts)."""
    account = call.principal.account
    store = call.store
    parts = arn.split(":", 5)
    kind, _, path_name = parts[5].partition("/") if len(parts) == 6 and parts[2] == "iam" else ("", "", "")
    if kind == "policy":
        # A policy's report: the activity of every entity it is attached to (a group's
        # through its members), on the services the policy itself allows.
        policy, _ = managed.require(store, account, arn)
        users, roles = [], []
        for user in records.in_account(store, records.USER, account):
            if arn in user.get("AttachedPolicies", []) or any(
                    arn in _group(store, account, g).get("AttachedPolicies", []) for g in user.get("Groups", [])):
                users.append(user["Arn"])
        roles = [r["Arn"] for r in records.in_account(store, records.ROLE, account)
                 if arn in r.get("AttachedPolicies", [])]
        return users, roles, [managed.default_document(policy)]
    if len(parts) != 6 or parts[4] != account or kind not in ("user", "role", "group"):
        raise errors.invalid_input(f"Invalid ARN: {arn}")  # wording guessed
    name = path_name.rsplit("/", 1)[-1]
    if kind == "user":
        record, _ = common.require_user(store, account, name)
        return [record["Arn"]], [], [s.document for s in effective.of_user(store, account, record)]
    if kind == "role":
        record, _ = common.require_role(store, account, name)
        return [], [record["Arn"]], [s.document for s in effective.owned(store, account, record, "role")]
    record, _ = common.require_group(store, account, name)
    members = [u["Arn"] for u in records.in_account(store, records.USER, account) if name in u.get("Groups", [])]
    return members, [], [s.document for s in effective.owned(store, account, record, "group")]


def _group(store: Store, account: str, name: str) -> dict[str, Any]:
    found = store.get(records.GROUP, records.name_key(account, name))
    return found.value if found is not None else {}


def _allowed_services(documents: list[str]) -> list[str]:
    """Service prefixes any Allow statement's actions reach (NotAction reaches all)."""
    every = reference().services.get_service_keys()
    patterns: list[str] = []
    for text in documents:
        statements = json.loads(text).get("Statement", [])
        for st in statements if isinstance(statements, list) else [statements]:
            if st.get("Effect") != "Allow":
                continue
            if "NotAction" in st:
                patterns.append("*")
            actions = st.get("Action", [])
            patterns += [actions] if isinstance(actions, str) else actions
    prefixes = {a.split(":", 1)[0].lower() for a in patterns}
    return sorted(s for s in every if any(fnmatch.fnmatchcase(s, p) for p in prefixes))


def _service_of(event: dict[str, Any]) -> str:
    return str(event.get("eventSource", "")).removesuffix(".amazonaws.com")


def _attempts(call: Call, users: list[str], roles: list[str]) -> list[dict[str, Any]]:
    """The entity's events, newest first."""
    out = []
    before = ""
    while True:
        rows = call.pipeline.trail_store.scan(EVENT, f"{call.principal.account}/", before=before, limit=_PAGE,
                                              reverse=True)
        for row in rows:
            event = row.value["event"]
            who = event.get("userIdentity") or {}
            issuer = (who.get("sessionContext") or {}).get("sessionIssuer") or {}
            if who.get("type") == "IAMUser" and who.get("arn") in users:
                out.append({**event, "_entity": who["arn"]})
            elif who.get("type") == "AssumedRole" and issuer.get("arn") in roles:
                out.append({**event, "_entity": issuer["arn"]})
        if len(rows) < _PAGE:
            return out
        before = rows[-1].key


def _report(call: Call, arn: str, granularity: str) -> list[dict[str, Any]]:
    users, roles, documents = _entity(call, arn)
    attempts = _attempts(call, users, roles)
    ref = reference()
    services = []
    for prefix in _allowed_services(documents):
        entry: dict[str, Any] = {"ServiceName": ref.services.get_service_name(prefix), "ServiceNamespace": prefix}
        mine = [e for e in attempts if _service_of(e) == prefix]
        entry["TotalAuthenticatedEntities"] = len({e["_entity"] for e in mine})
        if mine:
            last = mine[0]
            entry.update(LastAuthenticated=last["eventTime"], LastAuthenticatedEntity=last["_entity"],
                         LastAuthenticatedRegion=last["awsRegion"])
        if granularity == "ACTION_LEVEL":
            known = {a.lower() for a in ref.actions.get_actions_for_service(prefix)}
            actions: dict[str, dict[str, Any]] = {}
            for e in mine:  # newest first: the first of each action is its last use
                name = e["eventName"]
                # Data events (S3 GetObject…) are not tracked per action (IAM User Guide,
                # "IAM action last accessed information services and actions").
                if e.get("managementEvent", True) and name.lower() in known and name not in actions:
                    actions[name] = {"ActionName": name, "LastAccessedEntity": e["_entity"],
                                     "LastAccessedTime": e["eventTime"], "LastAccessedRegion": e["awsRegion"]}
            if actions:
                entry["TrackedActionsLastAccessed"] = sorted(actions.values(), key=lambda a: a["ActionName"])
        services.append(entry)
    return services


async def generate_service_last_accessed_details(call: Call, params: dict[str, Any]) -> dict[str, Any]:
    validate.check("GenerateServiceLastAccessedDetails", params)
    granularity = params.get("Granularity") or "SERVICE_LEVEL"
    await call.pipeline.audit.recorder.index()  # every request so far is in the report
    services = _report(call, params["Arn"], granularity)
    job_id = str(uuid.uuid4())
    now = common.now_text()
    call.store.put(JOB, f"{call.principal.account}/{job_id}", {
        "JobType": granularity, "JobCreationDate": now, "JobCompletionDate": now, "Services": services})
    return {"JobId": job_id}


def _dates(entry: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for k, v in entry.items():
        if k in ("LastAuthenticated", "LastAccessedTime"):
            out[k] = common.dt(v)
        elif k == "TrackedActionsLastAccessed":
            out[k] = [_dates(a) for a in v]
        else:
            out[k] = v
    return out


def get_service_last_accessed_details(call: Call, params: dict[str, Any]) -> dict[str, Any]:
    validate.check("GetServiceLastAccessedDetails", params)
    job = call.store.get(JOB, f"{call.principal.account}/{params['JobId']}")
    if job is None:
        raise errors.no_such_entity(f"Job {params['JobId']} not found.")  # wording guessed
    services = job.value["Services"]
    numbered = list(enumerate(services))
    page, more = common.paginate(numbered, params, key=lambda item: f"{item[0]:08d}")
    created: datetime | None = common.dt(job.value["JobCreationDate"])
    return {"JobStatus": "COMPLETED", "JobType": job.value["JobType"], "JobCreationDate": created,
            "ServicesLastAccessed": [_dates(s) for _, s in page],
            "JobCompletionDate": common.dt(job.value["JobCompletionDate"]), "IsTruncated": False, **more}


HANDLERS = {
    "GenerateServiceLastAccessedDetails": generate_service_last_accessed_details,
    "GetServiceLastAccessedDetails": get_service_last_accessed_details,
}

AUTHZ = {
    # Generating a report is an action on the entity it is about (Service Authorization Reference).
    "GenerateServiceLastAccessedDetails": lambda call, params: [
        Access("iam:GenerateServiceLastAccessedDetails", params["Arn"])],
    "GetServiceLastAccessedDetails": lambda call, params: [Access("iam:GetServiceLastAccessedDetails", "*")],
}
