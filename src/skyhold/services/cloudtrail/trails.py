"""Trails: CreateTrail, DescribeTrails, GetTrail(Status), Start/StopLogging,
Put/GetEventSelectors, DeleteTrail, ListTrails, ListPublicKeys.

Kind `cloudtrail.trail` in the main store, key "<account>/<region>/<name>". A trail
delivers only where the bucket policy lets cloudtrail.amazonaws.com write, which is
checked at CreateTrail (InsufficientS3BucketPolicyException) and at each delivery.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING, Any

from skyhold import clock
from skyhold.errors import AwsError
from skyhold.policy import Caller, PolicySet, RequestContext, evaluate
from skyhold.services.cloudtrail import advanced
from skyhold.services.cloudtrail import selectors as event_selectors
from skyhold.services.cloudtrail import signing, tags
from skyhold.services.s3 import records as s3records

if TYPE_CHECKING:
    from skyhold.pipeline import Call

TRAIL = "cloudtrail.trail"
SERVICE_PRINCIPAL = "cloudtrail.amazonaws.com"
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{1,126}[A-Za-z0-9]$")
_ADJACENT = re.compile(r"[._-]{2}")  # "my--trail", "my-_trail", "a..b": refused
_IP = re.compile(r"^\d{1,3}(\.\d{1,3}){3}$")  # nor may a name look like an IP address
_TRAIL_ARN = re.compile(r"^arn:aws:cloudtrail:(?P<region>[a-z0-9-]+):(?P<account>\d{12}):trail/(?P<name>[^/:]+)$")


def trail_arn(region: str, account: str, name: str) -> str:
    return f"arn:aws:cloudtrail:{region}:{account}:trail/{name}"


def _key(call: Call, name: str) -> str:
    return f"{call.principal.account}/{call.region}/{name}"


@dataclass(frozen=True, slots=True)
class TrailRef:
    """The trail a `Name`/`TrailName` names: a bare name is the caller's trail in the
    region called; an ARN names its own account and region."""

    account: str
    region: str
    name: str

    @property
    def arn(self) -> str:
        return trail_arn(self.region, self.account, self.name)

    @property
    def key(self) -> str:
        return f"{self.account}/{self.region}/{self.name}"


def locate(call: Call, name_or_arn: str) -> TrailRef:
    """Parsed once, the same way for the authorizer and the handler, so the trail
    whose ARN IAM decided on is the trail acted upon."""
    if not name_or_arn.startswith("arn:"):
        return TrailRef(call.principal.account, call.region, name_or_arn)
    found = _TRAIL_ARN.match(name_or_arn)
    if found is None:
        # Wording guessed: AWS documents the exception, not its message.
        raise AwsError("CloudTrailARNInvalidException", f"Invalid trail ARN: {name_or_arn}")
    return TrailRef(found["account"], found["region"], found["name"])


def find(call: Call, name_or_arn: str, *, home_only: bool = False) -> tuple[dict[str, Any], int]:
    """The trail and its version. A trail of another account is never visible (no
    organization trails); one of another region only as a multi-region trail's shadow,
    which only reads may use (`home_only`: InvalidHomeRegionException, as AWS)."""
    ref = locate(call, name_or_arn)
    rec = call.store.get(TRAIL, ref.key) if ref.account == call.principal.account else None
    if rec is None or (ref.region != call.region and not rec.value["IsMultiRegionTrail"]):
        raise AwsError("TrailNotFoundException", f"Unknown trail: {ref.arn} for the user: {call.principal.account}")
    if home_only and ref.region != call.region:
        # Wording guessed: AWS documents the exception, not its message.
        raise AwsError("InvalidHomeRegionException", f"This operation must be called from the trail's home region: "
                       f"{ref.region}")
    return rec.value, rec.version


def log_prefix(trail: dict[str, Any]) -> str:
    return (trail["S3KeyPrefix"] + "/" if trail.get("S3KeyPrefix") else "") + f"AWSLogs/{trail['Account']}/"


def cloudtrail_may_write(call_store: Any, bucket_name: str, object_key: str, trail: dict[str, Any]) -> bool:
    """Does the bucket policy let CloudTrail check the bucket's ACL and put this
    object? AWS's required policy has both statements (AWSCloudTrailAclCheck:
    s3:GetBucketAcl on the bucket; AWSCloudTrailWrite: s3:PutObject on the logs)."""
    rec = call_store.get(s3records.BUCKET, bucket_name)
    if rec is None or not rec.value.get("Policy"):
        return False
    policies = PolicySet.build(resource=rec.value["Policy"])
    source = {"aws:SourceArn": trail["TrailARN"], "aws:SourceAccount": trail["Account"]}
    checks = (("s3:GetBucketAcl", f"arn:aws:s3:::{bucket_name}", source),
              ("s3:PutObject", f"arn:aws:s3:::{bucket_name}/{object_key}",
               {"s3:x-amz-acl": "bucket-owner-full-control", **source}))
    return all(evaluate(RequestContext(Caller.from_arn(SERVICE_PRINCIPAL), action, resource,
                                       resource_account=rec.value["Owner"], context=context), policies).allowed
               for action, resource, context in checks)


def _encryption_key(call: Call, key_ref: str, trail: dict[str, Any]) -> str:
    """The ARN of the KMS key `key_ref` names (id, ARN, alias), whose key policy must let
    CloudTrail generate data keys for this trail (AWS's required key policy: the
    "Allow CloudTrail to encrypt logs" statement, kms:GenerateDataKey* for
    cloudtrail.amazonaws.com with the trail as aws:SourceArn and as the
    aws:cloudtrail:arn encryption context)."""
    from skyhold.services.kms import grants
    from skyhold.services.kms import records as kms_records

    try:
        key, _ = kms_records.find(call, key_ref)
    except AwsError:
        # Wording guessed: AWS documents the exception, not its message.
        raise AwsError("KmsKeyNotFoundException", f"KMS key {key_ref} does not exist.") from None
    context = {"aws:SourceArn": trail["TrailARN"], "aws:SourceAccount": trail["Account"],
               "kms:EncryptionContext:aws:cloudtrail:arn": trail["TrailARN"],
               "kms:EncryptionContextKeys": ["aws:cloudtrail:arn"]}
    decision = evaluate(RequestContext(Caller.from_arn(SERVICE_PRINCIPAL), "kms:GenerateDataKey", key["Arn"],
                                       resource_account=key["AWSAccountId"], context=context),
                        PolicySet.build(resource=grants.effective_policy(key, grants.naming(call, key, SERVICE_PRINCIPAL))))
    if not decision.allowed or key.get("KeyState") != "Enabled" or key.get("KeySpec") != "SYMMETRIC_DEFAULT":
        # AWS's message (as reported by its users; the key named by ARN)
        raise AwsError("InsufficientEncryptionPolicyException", f"Insufficient permissions to access S3 bucket "
                       f"{trail['S3BucketName']} or KMS key {key['Arn']}.")
    return str(key["Arn"])


def _view(trail: dict[str, Any]) -> dict[str, Any]:
    out = {k: trail[k] for k in ("Name", "S3BucketName", "IncludeGlobalServiceEvents", "IsMultiRegionTrail",
                                 "HomeRegion", "TrailARN", "LogFileValidationEnabled", "HasCustomEventSelectors",
                                 "IsOrganizationTrail", "HasInsightSelectors")}
    if trail.get("S3KeyPrefix"):
        out["S3KeyPrefix"] = trail["S3KeyPrefix"]
    if trail.get("KmsKeyId"):
        out["KmsKeyId"] = trail["KmsKeyId"]
    return out


def _check_flags(trail: dict[str, Any]) -> None:
    if trail["IsMultiRegionTrail"] and not trail["IncludeGlobalServiceEvents"]:
        # AWS's message (as its users report it)
        raise AwsError("InvalidParameterCombinationException", "Multi-Region trail must include global service "
                       "events.")


def _check_destination(call: Call, trail: dict[str, Any], key_ref: str | None) -> None:
    """What CreateTrail and UpdateTrail check of where `trail` writes: its bucket exists
    and lets CloudTrail write, and `key_ref` (a new KMS key) lets CloudTrail encrypt."""
    bucket = trail["S3BucketName"]
    if call.store.get(s3records.BUCKET, bucket) is None:
        raise AwsError("S3BucketDoesNotExistException", f"S3 bucket {bucket} does not exist.")
    if not cloudtrail_may_write(call.store, bucket, log_prefix(trail) + "CloudTrail/", trail):
        raise AwsError("InsufficientS3BucketPolicyException", f"Incorrect S3 bucket policy is detected for bucket: "
                       f"{bucket}")
    if key_ref:
        trail["KmsKeyId"] = _encryption_key(call, key_ref, trail)


def create_trail(call: Call, params: dict[str, Any]) -> dict[str, Any]:
    name, bucket = params["Name"], params["S3BucketName"]
    if not _NAME.match(name) or _ADJACENT.search(name) or _IP.match(name):
        raise AwsError("InvalidTrailNameException", "Trail name must starts with a letter or number, end with a letter "
                       "or number, be between 3 and 128 characters, and contain only letters, numbers, periods, "
                       "underscores and dashes.")
    if call.store.get(TRAIL, _key(call, name)):
        raise AwsError("TrailAlreadyExistsException",
                       f"Trail {trail_arn(call.region, call.principal.account, name)} already exists for customer: "
                       f"{call.principal.account}")
    trail = {
        "Name": name, "Account": call.principal.account, "S3BucketName": bucket,
        "S3KeyPrefix": params.get("S3KeyPrefix") or "", "IncludeGlobalServiceEvents":
            params.get("IncludeGlobalServiceEvents", True), "IsMultiRegionTrail": params.get("IsMultiRegionTrail", False),
        "HomeRegion": call.region, "TrailARN": trail_arn(call.region, call.principal.account, name),
        "LogFileValidationEnabled": params.get("EnableLogFileValidation", False), "HasCustomEventSelectors": False,
        "IsOrganizationTrail": False, "HasInsightSelectors": False, "IsLogging": False,
        "EventSelectors": [{"ReadWriteType": "All", "IncludeManagementEvents": True, "DataResources": [],
                            "ExcludeManagementEventSources": []}],
        "Tags": tags.checked(params.get("TagsList") or []),
    }
    _check_flags(trail)
    _check_destination(call, trail, params.get("KmsKeyId"))
    call.store.put(TRAIL, _key(call, name), trail, expect_version=0)
    return _view(trail)


def update_trail(call: Call, params: dict[str, Any]) -> dict[str, Any]:
    """Changes what the request names, checked as CreateTrail checks it: the bucket (and
    its policy, also when only the prefix moves), the KMS key ("" stops encrypting)."""
    trail, version = find(call, params["Name"], home_only=True)
    changes = {field: params[member] for member, field in _UPDATABLE.items() if params.get(member) is not None}
    moved = any(field in changes for field in ("S3BucketName", "S3KeyPrefix"))
    if not trail["LogFileValidationEnabled"] and changes.get("LogFileValidationEnabled") and trail["IsLogging"]:
        _restart_digests(trail)
    trail.update(changes)
    _check_flags(trail)
    key_ref = params.get("KmsKeyId")
    if key_ref == "":
        trail.pop("KmsKeyId", None)
    if moved or key_ref:
        _check_destination(call, trail, key_ref)
    call.store.put(TRAIL, _key(call, trail["Name"]), trail, expect_version=version)
    return _view(trail)


# UpdateTrail's members → the trail's fields
_UPDATABLE = {"S3BucketName": "S3BucketName", "S3KeyPrefix": "S3KeyPrefix",
              "IncludeGlobalServiceEvents": "IncludeGlobalServiceEvents", "IsMultiRegionTrail": "IsMultiRegionTrail",
              "EnableLogFileValidation": "LogFileValidationEnabled"}


def _restart_digests(trail: dict[str, Any]) -> None:
    """Validation turned on while logging: the first digest covers what is delivered
    from now on, as StartLogging's would."""
    now = clock.now()
    trail.update(DigestStart=clock.iso8601(now), NextDigestTime=clock.iso8601(next_hour(now)))
    for state in (trail.get("Digests") or {}).values():
        state.update(DigestStart=trail["DigestStart"], PendingLogs=[])


def describe_trails(call: Call, params: dict[str, Any]) -> dict[str, Any]:
    wanted = params.get("trailNameList") or []
    trails = [r.value for r in call.store.scan(TRAIL, f"{call.principal.account}/")
              if r.value["HomeRegion"] == call.region or r.value["IsMultiRegionTrail"]]
    if wanted:
        trails = [t for t in trails if t["Name"] in wanted or t["TrailARN"] in wanted]
    return {"trailList": [_view(t) for t in trails]}


def get_trail(call: Call, params: dict[str, Any]) -> dict[str, Any]:
    trail, _ = find(call, params["Name"])
    return {"Trail": _view(trail)}


def list_trails(call: Call, params: dict[str, Any]) -> dict[str, Any]:
    return {"Trails": [{"TrailARN": r.value["TrailARN"], "Name": r.value["Name"], "HomeRegion": r.value["HomeRegion"]}
                       for r in call.store.scan(TRAIL, f"{call.principal.account}/")]}


def _when(text: str | None) -> datetime | None:
    return datetime.fromisoformat(text.replace("Z", "+00:00")) if text else None


def get_trail_status(call: Call, params: dict[str, Any]) -> dict[str, Any]:
    trail, _ = find(call, params["Name"])
    out: dict[str, Any] = {"IsLogging": trail["IsLogging"]}
    for field in ("LatestDeliveryTime", "StartLoggingTime", "StopLoggingTime", "LatestDigestDeliveryTime"):
        if trail.get(field):
            out[field] = _when(trail[field])
    for field in ("LatestDeliveryError", "LatestDigestDeliveryError"):
        if trail.get(field):
            out[field] = trail[field]
    return out


def next_hour(now: datetime) -> datetime:
    return now.replace(minute=0, second=0, microsecond=0) + timedelta(hours=1)


def start_logging(call: Call, params: dict[str, Any]) -> dict[str, Any]:
    trail, version = find(call, params["Name"], home_only=True)
    if not trail["IsLogging"]:
        now = clock.now()
        trail.update(IsLogging=True, StartLoggingTime=clock.iso8601(now), DigestStart=clock.iso8601(now),
                     NextDigestTime=clock.iso8601(next_hour(now)))
        for state in (trail.get("Digests") or {}).values():  # each region's chain (delivery.py)
            state["DigestStart"] = trail["DigestStart"]
        # Deliver only what happens from now on.
        trail.setdefault("Cursor", f"{trail['Account']}/{_ns_now():020d}")
        call.store.put(TRAIL, _key(call, trail["Name"]), trail, expect_version=version)
    return {}


def _ns_now() -> int:
    import time

    return time.time_ns()


def stop_logging(call: Call, params: dict[str, Any]) -> dict[str, Any]:
    trail, version = find(call, params["Name"], home_only=True)
    trail.update(IsLogging=False, StopLoggingTime=clock.now_iso8601())
    call.store.put(TRAIL, _key(call, trail["Name"]), trail, expect_version=version)
    return {}


def delete_trail(call: Call, params: dict[str, Any]) -> dict[str, Any]:
    trail, version = find(call, params["Name"], home_only=True)
    call.store.delete(TRAIL, _key(call, trail["Name"]), expect_version=version)
    return {}


def put_event_selectors(call: Call, params: dict[str, Any]) -> dict[str, Any]:
    trail, version = find(call, params["TrailName"], home_only=True)
    basic, advanced_ = params.get("EventSelectors"), params.get("AdvancedEventSelectors")
    if (basic is None) == (advanced_ is None):
        # AWS: one or the other, never both. Wording guessed.
        raise AwsError("InvalidEventSelectorsException", "You must specify either EventSelectors or "
                       "AdvancedEventSelectors, but not both.")
    if advanced_ is not None:
        # advanced selectors replace the basic ones (and the other way round)
        trail.pop("EventSelectors", None)
        trail.update(AdvancedEventSelectors=advanced.checked(advanced_), HasCustomEventSelectors=True)
    else:
        trail.pop("AdvancedEventSelectors", None)
        trail.update(EventSelectors=event_selectors.checked(basic or []), HasCustomEventSelectors=True)
    call.store.put(TRAIL, _key(call, trail["Name"]), trail, expect_version=version)
    return _selectors_view(trail)


def _selectors_view(trail: dict[str, Any]) -> dict[str, Any]:
    if "AdvancedEventSelectors" in trail:
        return {"TrailARN": trail["TrailARN"], "AdvancedEventSelectors": trail["AdvancedEventSelectors"]}
    return {"TrailARN": trail["TrailARN"], "EventSelectors": trail["EventSelectors"]}


def get_event_selectors(call: Call, params: dict[str, Any]) -> dict[str, Any]:
    trail, _ = find(call, params["TrailName"])
    return _selectors_view(trail)


def list_public_keys(call: Call, params: dict[str, Any]) -> dict[str, Any]:
    start = params.get("StartTime")
    end = params.get("EndTime")
    start = start.astimezone(timezone.utc) if start else None
    end = end.astimezone(timezone.utc) if end else None
    return {"PublicKeyList": signing.public_keys(call.pipeline, call.region, start, end)}


HANDLERS = {
    "CreateTrail": create_trail,
    "UpdateTrail": update_trail,
    "DescribeTrails": describe_trails,
    "GetTrail": get_trail,
    "ListTrails": list_trails,
    "GetTrailStatus": get_trail_status,
    "StartLogging": start_logging,
    "StopLogging": stop_logging,
    "DeleteTrail": delete_trail,
    "PutEventSelectors": put_event_selectors,
    "GetEventSelectors": get_event_selectors,
    "ListPublicKeys": list_public_keys,
}
