"""S3 Object Lock: write-once-read-many protection of object versions.

A bucket has Object Lock once created with it (ObjectLockEnabledForBucket, which turns
versioning on) or once PutObjectLockConfiguration enables it on a versioned bucket; it
is never turned off, and versioning can then not be suspended. Its configuration may
hold a default retention rule that new versions get when the write names none.

Each version may carry a retention ("lk": Mode, RetainUntilDate as text) and a legal
hold ("lh": ON|OFF). While either protects it, the version cannot be deleted for good
(DeleteObject/DeleteObjects with a version id, lifecycle expiration) nor its retention
weakened: GOVERNANCE yields to x-amz-bypass-governance-retention:true from a caller
allowed s3:BypassGovernanceRetention, COMPLIANCE to nobody until the date passes on
Skyhold's clock. A delete without a version id only adds a delete marker, as on S3.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from skyhold import clock
from skyhold.errors import AwsError
from skyhold.services.s3 import errors, records, versions
from skyhold.wire import scalars

if TYPE_CHECKING:
    from skyhold.pipeline import Call

MODES = ("GOVERNANCE", "COMPLIANCE")
# S3's longest default retention: 100 years, in either unit.
MAX_DEFAULT_RETENTION = {"Days": 36500, "Years": 100}
HOLD_STATUSES = ("ON", "OFF")
_BOTH = "x-amz-object-lock-retain-until-date and x-amz-object-lock-mode must both be supplied"


# --- errors, in S3's words -------------------------------------------------------------

def protected() -> AwsError:
    return errors.access_denied("Access Denied because object protected by object lock.")


def missing_configuration() -> AwsError:
    return errors.invalid_request("Bucket is missing Object Lock Configuration")


def _missing_configuration_for_write() -> AwsError:
    """PutObject, CopyObject and CreateMultipartUpload word it without spaces (versitygw#1751)."""
    return errors.invalid_request("Bucket is missing ObjectLockConfiguration")


def _no_object_configuration() -> AwsError:
    return AwsError("NoSuchObjectLockConfiguration", "The specified object does not have a ObjectLock configuration",
                    404)


def _invalid_bucket_state(message: str) -> AwsError:
    return AwsError("InvalidBucketState", message, 409)


def _argument(message: str, name: str, value: str | None = None) -> AwsError:
    """InvalidArgument naming the argument, and its value only where S3 echoes it."""
    extra = {"ArgumentName": name} if value is None else {"ArgumentName": name, "ArgumentValue": value}
    return AwsError("InvalidArgument", message, 400, extra=extra)


def _java_date(when: datetime) -> str:
    """S3 echoes a refused RetainUntilDate as Java's Date.toString() in US Pacific time
    (e.g. "Tue Dec 31 16:00:00 PST 2019"), whatever the bucket's region."""
    try:
        from zoneinfo import ZoneInfo
        local = when.astimezone(ZoneInfo("America/Los_Angeles"))
    except Exception:  # no time zone database on this machine
        local = when.astimezone(UTC)
    return local.strftime("%a %b %d %H:%M:%S %Z %Y")


# --- bucket configuration --------------------------------------------------------------

def enabled(bucket: dict[str, Any]) -> bool:
    return bool(bucket.get("ObjectLock"))


def require_enabled(bucket: dict[str, Any]) -> None:
    if not enabled(bucket):
        raise missing_configuration()


ENABLED_CONFIGURATION = {"ObjectLockEnabled": "Enabled"}


def check_versioning_change(bucket: dict[str, Any], status: str | None) -> None:
    """PutBucketVersioning on a locked bucket may only (re)state Enabled."""
    if enabled(bucket) and status != "Enabled":
        raise _invalid_bucket_state("An Object Lock configuration is present on this bucket, so the versioning "
                                    "state cannot be changed.")


def _checked_rule(rule: Any) -> dict[str, Any]:
    retention = rule.get("DefaultRetention") if isinstance(rule, dict) else None
    if not retention or retention.get("Mode") not in MODES or ("Days" in retention) == ("Years" in retention):
        raise errors.malformed_xml()
    unit = "Days" if "Days" in retention else "Years"
    if retention[unit] is None or retention[unit] <= 0:
        raise _argument("Default retention period must be a positive integer value.", unit)
    if retention[unit] > MAX_DEFAULT_RETENTION[unit]:
        raise _argument("Default retention period too large.", unit)
    return {"DefaultRetention": {"Mode": retention["Mode"], unit: retention[unit]}}


def put_object_lock_configuration(call: Call, params: dict[str, Any]) -> dict[str, Any]:
    bucket = records.get_bucket(call.store, params["Bucket"]).value
    if bucket.get("Versioning") != "Enabled":  # AWS now enables Object Lock on existing buckets, versioned ones
        raise _invalid_bucket_state("Versioning must be 'Enabled' on the bucket to apply a Object Lock configuration")
    config = params.get("ObjectLockConfiguration") or {}
    if config.get("ObjectLockEnabled") != "Enabled":
        raise errors.malformed_xml()
    stored: dict[str, Any] = dict(ENABLED_CONFIGURATION)
    if "Rule" in config:
        stored["Rule"] = _checked_rule(config["Rule"])
    records.update_bucket(call.store, bucket["Name"], ObjectLock=stored)
    return {}


def get_object_lock_configuration(call: Call, params: dict[str, Any]) -> dict[str, Any]:
    bucket = records.get_bucket(call.store, params["Bucket"]).value
    if not enabled(bucket):
        raise AwsError("ObjectLockConfigurationNotFoundError", "Object Lock configuration does not exist for this "
                       "bucket", 404, extra={"BucketName": bucket["Name"]})
    return {"ObjectLockConfiguration": bucket["ObjectLock"]}


# --- a version's protection ------------------------------------------------------------

def _now() -> datetime:
    return datetime.fromtimestamp(clock.now_epoch(), UTC)


def _text(when: datetime) -> str:
    return scalars.iso8601(when, always_millis=True)


def retention_of(value: dict[str, Any]) -> tuple[str, datetime] | None:
    lock = value.get("lk")
    return (lock["Mode"], records.parse_time(lock["RetainUntilDate"])) if lock else None


def _active_retention(value: dict[str, Any]) -> tuple[str, datetime] | None:
    found = retention_of(value)
    return found if found is not None and found[1] > _now() else None


def is_protected(value: dict[str, Any]) -> bool:
    """Whether anything keeps this version from being deleted for good (lifecycle asks)."""
    return value.get("lh") == "ON" or _active_retention(value) is not None


def may_bypass(call: Call, bucket: dict[str, Any], key: str, params: dict[str, Any]) -> bool:
    """x-amz-bypass-governance-retention:true from a caller allowed s3:BypassGovernanceRetention."""
    if not params.get("BypassGovernanceRetention"):
        return False
    from skyhold.services.s3 import authz

    decision = call.pipeline.authorizer.decide(
        call, authz.access(call, bucket, "s3:BypassGovernanceRetention", records.object_arn(bucket["Name"], key)))
    return decision.allowed


def check_bypass_header(bucket: dict[str, Any], params: dict[str, Any]) -> None:
    """S3 refuses the bypass header (true or false) on a bucket without Object Lock."""
    if params.get("BypassGovernanceRetention") is not None and not enabled(bucket):
        raise _argument("x-amz-bypass-governance-retention is only applicable to Object Lock enabled buckets.",
                        "x-amz-bypass-governance-retention")


def deletion_check(call: Call, bucket: dict[str, Any], key: str, params: dict[str, Any]) -> Any:
    """A check(version) for versions.delete_version: refuses a protected version."""
    def check(value: dict[str, Any]) -> None:
        if value.get("lh") == "ON":
            raise protected()
        active = _active_retention(value)
        if active is not None and (active[0] == "COMPLIANCE" or not may_bypass(call, bucket, key, params)):
            raise protected()
    return check


def describe(call: Call, bucket: dict[str, Any], key: str, value: dict[str, Any]) -> dict[str, Any]:
    """HeadObject/GetObject members: retention for callers allowed s3:GetObjectRetention,
    the legal hold for those allowed s3:GetObjectLegalHold (as S3 documents)."""
    if "lk" not in value and "lh" not in value:
        return {}
    from skyhold.services.s3 import authz

    arn = records.object_arn(bucket["Name"], key)

    def allowed(action: str) -> bool:
        return call.pipeline.authorizer.decide(call, authz.access(call, bucket, action, arn)).allowed

    out: dict[str, Any] = {}
    found = retention_of(value)
    if found is not None and allowed("s3:GetObjectRetention"):
        out["ObjectLockMode"], out["ObjectLockRetainUntilDate"] = found
    if "lh" in value and allowed("s3:GetObjectLegalHold"):
        out["ObjectLockLegalHoldStatus"] = value["lh"]
    return out


# --- new versions (PutObject, CopyObject, multipart uploads) ---------------------------

def requested(params: dict[str, Any]) -> dict[str, Any]:
    """The lock a write's x-amz-object-lock-* headers ask for, checked: {"lk"?, "lh"?}."""
    mode, until = params.get("ObjectLockMode"), params.get("ObjectLockRetainUntilDate")
    hold = params.get("ObjectLockLegalHoldStatus")
    if mode is not None and until is None:
        raise _argument(_BOTH, "x-amz-object-lock-retain-until-date")
    if until is not None and mode is None:
        raise _argument(_BOTH, "x-amz-object-lock-mode")
    if mode is not None and mode not in MODES:
        raise _argument("Unknown wormMode directive.", "x-amz-object-lock-mode", mode)
    if hold is not None and hold not in HOLD_STATUSES:
        raise _argument("Legal Hold must be either of 'ON' or 'OFF'", "x-amz-object-lock-legal-hold", hold)
    out: dict[str, Any] = {}
    if mode is not None and until is not None:
        if until <= _now():
            raise _argument("The retain until date must be in the future!", "x-amz-object-lock-retain-until-date",
                            _java_date(until))
        out["lk"] = {"Mode": mode, "RetainUntilDate": _text(until)}
    if hold is not None:
        out["lh"] = hold
    return out


def for_new_version(bucket: dict[str, Any], params: dict[str, Any]) -> dict[str, Any]:
    """The lock a new version gets: the request's, else the bucket's default retention."""
    asked = requested(params)
    if asked and not enabled(bucket):
        raise _missing_configuration_for_write()
    return asked


def with_default(bucket: dict[str, Any], lock: dict[str, Any], created: str) -> dict[str, Any]:
    """`lock` plus the bucket's default retention, counted from the version's creation."""
    rule = (bucket.get("ObjectLock") or {}).get("Rule")
    if "lk" in lock or not rule:
        return lock
    default = rule["DefaultRetention"]
    until = _retain_until(records.parse_time(created), default)
    return {**lock, "lk": {"Mode": default["Mode"], "RetainUntilDate": _text(until)}}


def _retain_until(start: datetime, default: dict[str, Any]) -> datetime:
    """`start` plus the default retention, held at Skyhold's clock limit: a rule stored
    before its period was checked must not make every write fail."""
    if "Days" in default:
        if default["Days"] >= (clock.LATEST - start).days:
            return clock.LATEST
        return start + timedelta(days=default["Days"])
    year = start.year + default["Years"]
    if year >= clock.LATEST.year:
        return clock.LATEST
    try:
        return start.replace(year=year)
    except ValueError:  # February 29th
        return start.replace(year=year, day=28)


def has_parameters(bucket: dict[str, Any], lock: dict[str, Any]) -> bool:
    """Whether an upload carries Object Lock parameters (its own or the bucket's default)."""
    return bool(lock) or bool((bucket.get("ObjectLock") or {}).get("Rule"))


def require_checksum(call: Call, what: str) -> None:
    """S3 wants an upload that will be locked to prove its bytes: Content-MD5 or a checksum."""
    from skyhold.services.s3 import objects

    if "content-md5" not in call.request.headers and objects.sent_checksum(call)[0] is None:
        raise errors.invalid_request(f"Content-MD5 OR x-amz-checksum- HTTP header is required for {what} requests "
                                     "with Object Lock parameters")


# --- retention and legal hold of one version ------------------------------------------

def _lookup(call: Call, bucket: dict[str, Any], params: dict[str, Any]) -> dict[str, Any]:
    from skyhold.services.s3 import objects

    return objects.lookup(call, bucket, params["Key"], params.get("VersionId"), "GET", marker_refused=True)


def _checked_retention(wanted: dict[str, Any]) -> datetime | None:
    """The RetainUntilDate a PutObjectRetention body asks for (None: remove), checked."""
    if wanted and (wanted.get("Mode") not in MODES or wanted.get("RetainUntilDate") is None):
        raise errors.malformed_xml()
    until: datetime | None = wanted.get("RetainUntilDate")
    if until is not None and until <= _now():
        raise _argument("The retain until date must be in the future!", "RetainUntilDate", _java_date(until))
    return until


def put_object_retention(call: Call, params: dict[str, Any]) -> dict[str, Any]:
    from skyhold.services.s3 import objects

    wanted = params.get("Retention") or {}
    until = _checked_retention(wanted)  # S3 refuses a bad body before it looks for the object
    bucket = objects.bucket_of(call, params)
    require_enabled(bucket)
    key = params["Key"]

    def change(value: dict[str, Any]) -> None:
        current = _active_retention(value)
        weaker = current is not None and (until is None or until < current[1] or wanted["Mode"] != current[0])
        if weaker and (current is not None and current[0] == "COMPLIANCE"
                       or not may_bypass(call, bucket, key, params)):
            raise protected()
        if until is None:
            value.pop("lk", None)
        else:
            value["lk"] = {"Mode": wanted["Mode"], "RetainUntilDate": _text(until)}

    versions.update(call, bucket, key, params.get("VersionId"), change)
    return {}


def get_object_retention(call: Call, params: dict[str, Any]) -> dict[str, Any]:
    from skyhold.services.s3 import objects

    bucket = objects.bucket_of(call, params)
    require_enabled(bucket)
    found = retention_of(_lookup(call, bucket, params))
    if found is None:
        raise _no_object_configuration()
    return {"Retention": {"Mode": found[0], "RetainUntilDate": found[1]}}


def put_object_legal_hold(call: Call, params: dict[str, Any]) -> dict[str, Any]:
    from skyhold.services.s3 import objects

    hold = params.get("LegalHold")
    # Checked first: S3 refuses a missing body or status before looking at the bucket's
    # lock or the object (versitygw's PutObjectLegalHold_invalid_status).
    if hold is None or hold.get("Status") not in HOLD_STATUSES:
        raise errors.malformed_xml()
    bucket = objects.bucket_of(call, params)
    require_enabled(bucket)

    def change(value: dict[str, Any]) -> None:
        value["lh"] = hold["Status"]

    versions.update(call, bucket, params["Key"], params.get("VersionId"), change)
    return {}


def get_object_legal_hold(call: Call, params: dict[str, Any]) -> dict[str, Any]:
    from skyhold.services.s3 import objects

    bucket = objects.bucket_of(call, params)
    require_enabled(bucket)
    value = _lookup(call, bucket, params)
    if "lh" not in value:
        raise _no_object_configuration()
    return {"LegalHold": {"Status": value["lh"]}}


# --- condition keys --------------------------------------------------------------------

def condition_keys(mode: str | None, until: datetime | None, hold: str | None) -> dict[str, Any]:
    """s3:object-lock-* keys of a request that sets a retention or a legal hold."""
    ctx: dict[str, Any] = {}
    if mode is not None:
        ctx["s3:object-lock-mode"] = mode
    if until is not None:
        ctx["s3:object-lock-retain-until-date"] = _text(until)
        days = math.ceil((until - _now()).total_seconds() / 86400)
        ctx["s3:object-lock-remaining-retention-days"] = str(max(days, 0))
    if hold is not None:
        ctx["s3:object-lock-legal-hold"] = hold
    return ctx


HANDLERS = {
    "PutObjectLockConfiguration": put_object_lock_configuration,
    "GetObjectLockConfiguration": get_object_lock_configuration,
    "PutObjectRetention": put_object_retention,
    "GetObjectRetention": get_object_retention,
    "PutObjectLegalHold": put_object_legal_hold,
    "GetObjectLegalHold": get_object_legal_hold,
}
