"""RestoreObject: a temporary readable copy of an archived (GLACIER, DEEP_ARCHIVE) object.

S3 answers 202 to a new restore and works on it for minutes to hours; meanwhile HEAD
says x-amz-restore: ongoing-request="true" and another restore is 409
RestoreAlreadyInProgress. Once done, GET serves the object (x-amz-restore:
ongoing-request="false", expiry-date="<midnight UTC>") until the copy expires, `Days`
after the restore completed, rounded up to a midnight UTC; a restore of a restored
copy answers 200 and sets a new expiry counted from now.

Skyhold completes a restore after the shortest time S3 quotes for its tier, on
Skyhold's clock (`skyhold clock` moves it): Expedited 1 minute (GLACIER only),
Standard 3 hours (GLACIER) or 12 hours (DEEP_ARCHIVE), Bulk 5 hours or 48 hours
(an Expedited restore of DEEP_ARCHIVE, which S3 does not offer, is taken as Standard).
An object's restore is kept with it as "rst": {"done": epoch the copy is ready,
"exp": epoch it expires}, and read against the clock on each request, so nothing has
to run for a restore to complete or expire (an expired "rst" is simply ignored).
"""

from __future__ import annotations

from datetime import UTC, datetime
from email.utils import format_datetime
from typing import TYPE_CHECKING, Any

from skyhold import clock
from skyhold.errors import AwsError
from skyhold.services.s3 import errors, lifecycle_rules, versions

if TYPE_CHECKING:
    from skyhold.pipeline import Call

_TIERS = ("Expedited", "Standard", "Bulk")
_MINUTE, _HOUR = 60.0, 3600.0
# (storage class, tier) → seconds until the restored copy is ready.
_DELAY = {
    ("GLACIER", "Expedited"): _MINUTE, ("GLACIER", "Standard"): 3 * _HOUR, ("GLACIER", "Bulk"): 5 * _HOUR,
    ("DEEP_ARCHIVE", "Standard"): 12 * _HOUR, ("DEEP_ARCHIVE", "Bulk"): 48 * _HOUR,
}


def _restore(value: dict[str, Any], now: float) -> dict[str, float] | None:
    """The version's restore, unless there is none or its copy has expired."""
    rst = value.get("rst")
    return rst if rst is not None and now < rst["exp"] else None


def readable(value: dict[str, Any]) -> bool:
    """Whether an archived version's restored copy is there to read."""
    now = clock.now_epoch()
    rst = _restore(value, now)
    return rst is not None and rst["done"] <= now


def header(value: dict[str, Any]) -> str | None:
    """x-amz-restore for GET/HEAD (None: no restore ongoing or restored)."""
    now = clock.now_epoch()
    rst = _restore(value, now)
    if rst is None:
        return None
    if now < rst["done"]:
        return 'ongoing-request="true"'
    return f'ongoing-request="false", expiry-date="{_http_date(rst["exp"])}"'


def status(value: dict[str, Any]) -> dict[str, Any] | None:
    """A listing entry's RestoreStatus (x-amz-optional-object-attributes: RestoreStatus);
    None for a version with no restore ongoing or restored, which S3 lists without one."""
    now = clock.now_epoch()
    rst = _restore(value, now)
    if rst is None:
        return None
    if now < rst["done"]:
        return {"IsRestoreInProgress": True}
    return {"IsRestoreInProgress": False, "RestoreExpiryDate": datetime.fromtimestamp(rst["exp"], UTC)}


def _http_date(epoch: float) -> str:
    return format_datetime(datetime.fromtimestamp(epoch, UTC), usegmt=True)


def _expiry(ready: float, days: int) -> float:
    """`days` after the copy is ready, rounded up to a midnight UTC."""
    at = lifecycle_rules.after(datetime.fromtimestamp(ready, UTC), days)
    return at.timestamp() if at is not None else float(clock.LATEST.timestamp())


def _request(params: dict[str, Any]) -> tuple[int, str]:
    """(Days, tier) of a plain restore. S3 Select restores (Type SELECT, OutputLocation)
    are no longer offered to new AWS customers, and Skyhold has none."""
    spec = params.get("RestoreRequest") or {}
    if spec.get("Type") is not None or spec.get("OutputLocation") is not None or spec.get("SelectParameters"):
        raise AwsError("NotImplemented", "Skyhold does not implement S3 Select restores", 501)
    days = spec.get("Days")
    if days is None or days < 1:  # Days is required for a plain restore (S3 API Reference)
        raise errors.malformed_xml()
    tier = (spec.get("GlacierJobParameters") or {}).get("Tier") or spec.get("Tier") or "Standard"
    if tier not in _TIERS:  # the schema's enum
        raise errors.malformed_xml()
    return days, tier


def restore_object(call: Call, params: dict[str, Any]) -> dict[str, Any]:
    from skyhold.services.s3 import objects  # which reads restores (readable, header) on every GET

    bucket = objects.bucket_of(call, params)
    key, version_id = params["Key"], params.get("VersionId")
    days, tier = _request(params)
    # The version's own errors first (NoSuchKey, or AccessDenied without s3:ListBucket).
    objects.lookup(call, bucket, key, version_id, "POST")
    already = False

    def change(value: dict[str, Any]) -> None:
        nonlocal already
        storage_class = value.get("sc", "STANDARD")
        if not lifecycle_rules.is_archived(value):
            raise AwsError("InvalidObjectState", "Restore is not allowed for the object's current storage class",
                           403)
        now = clock.now_epoch()
        rst = _restore(value, now)
        if rst is not None and now < rst["done"]:
            raise AwsError("RestoreAlreadyInProgress", "Object restore is already in progress", 409)
        if rst is not None:  # restored already: a new lifetime, counted from now
            already = True
            value["rst"] = {"done": rst["done"], "exp": _expiry(now, days)}
            return
        ready = now + _DELAY.get((storage_class, tier), _DELAY[(storage_class, "Standard")])
        value["rst"] = {"done": ready, "exp": _expiry(ready, days)}

    versions.update(call, bucket, key, version_id, change, method="POST")
    call.extras["http_status"] = 200 if already else 202
    return {}


HANDLERS = {"RestoreObject": restore_object}
