"""LookupEvents: the last 90 days of management events of the caller's account and
region, newest first, filtered by at most one lookup attribute."""

from __future__ import annotations

import json
import math
from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING, Any

from skyhold import clock, paging
from skyhold.errors import AwsError
from skyhold.trail.events import EVENT

if TYPE_CHECKING:
    from skyhold.pipeline import Call

HISTORY = timedelta(days=90)
_PAGE = 500  # store rows read per step while filtering


def _event_time(event: dict[str, Any]) -> datetime:
    return datetime.fromisoformat(event["eventTime"].replace("Z", "+00:00"))


def _username(event: dict[str, Any]) -> str | None:
    ident = event["userIdentity"]
    if ident.get("type") == "Root":
        return "root"
    if ident.get("userName"):
        return ident["userName"]
    arn = ident.get("arn", "")
    if ident.get("type") in ("AssumedRole", "FederatedUser"):
        return arn.rsplit("/", 1)[-1]
    return None


def _resources(event: dict[str, Any]) -> list[dict[str, str]]:
    return [{"ResourceType": r["type"], "ResourceName": r["ARN"]} for r in event.get("resources") or []]


def _matches(event: dict[str, Any], key: str, value: str) -> bool:
    if key == "EventId":
        return event["eventID"] == value
    if key == "EventName":
        return event["eventName"] == value
    if key == "ReadOnly":
        return str(event["readOnly"]).lower() == value.lower()
    if key == "Username":
        return _username(event) == value
    if key == "EventSource":
        return event["eventSource"] == value
    if key == "AccessKeyId":
        return event["userIdentity"].get("accessKeyId") == value
    if key == "ResourceType":
        return any(r["ResourceType"] == value for r in _resources(event))
    if key == "ResourceName":
        return any(r["ResourceName"] == value or r["ResourceName"].rsplit("/", 1)[-1] == value
                   for r in _resources(event))
    raise AwsError("InvalidLookupAttributesException", f"Invalid lookup attribute key: {key}")


def _summary(event: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {
        "EventId": event["eventID"],
        "EventName": event["eventName"],
        "ReadOnly": str(event["readOnly"]).lower(),
        "EventTime": _event_time(event),
        "EventSource": event["eventSource"],
        "Resources": _resources(event),
        "CloudTrailEvent": json.dumps(event, separators=(",", ":")),
    }
    if event["userIdentity"].get("accessKeyId"):
        out["AccessKeyId"] = event["userIdentity"]["accessKeyId"]
    if (name := _username(event)) is not None:
        out["Username"] = name
    return out


async def lookup_events(call: Call, params: dict[str, Any]) -> dict[str, Any]:
    attributes = params.get("LookupAttributes") or []
    if len(attributes) > 1:
        raise AwsError("InvalidLookupAttributesException", "You cannot specify more than one lookup attribute.")
    if params.get("EventCategory") not in (None, "insight"):
        raise AwsError("InvalidEventCategoryException", "Event category is not valid.")
    if params.get("EventCategory") == "insight":
        return {"Events": []}  # Skyhold raises no Insights events
    limit = params.get("MaxResults", 50)
    if not 1 <= limit <= 50:
        raise AwsError("InvalidMaxResultsException", "MaxResults must be between 1 and 50.")
    now = clock.now()
    start = params.get("StartTime") or now - HISTORY
    end = params.get("EndTime") or now
    start, end = (t.astimezone(timezone.utc) for t in (start, end))
    if start > end:
        raise AwsError("InvalidTimeRangeException", "Start time must be before end time.")
    start = max(start, now - HISTORY)
    account = call.principal.account
    # Start at EndTime rather than reading every newer event to skip it (200,000 events
    # with an EndTime a day back read 180,000). An event's key holds the wall time it was
    # recorded at, taken just before its eventTime (whole seconds) on Skyhold's clock,
    # which only runs ahead of the wall's: every event up to EndTime has a key before
    # the next second's.
    before = f"{account}/{(math.floor(end.timestamp()) + 1) * 10**9:020d}"
    if params.get("NextToken"):
        before = min(before, _before_token(params["NextToken"]))
    found: list[dict[str, Any]] = []
    last_key = ""
    await call.pipeline.audit.recorder.index()
    while len(found) < limit:
        rows = call.pipeline.trail_store.scan(EVENT, f"{account}/", before=before, limit=_PAGE, reverse=True)
        if not rows:
            last_key = ""
            break
        for row in rows:
            before = row.key
            event = row.value["event"]
            if not event["managementEvent"] or event["awsRegion"] != call.region:
                continue
            when = _event_time(event)
            if when > end:
                continue
            if when < start:
                rows = []
                break
            if attributes and not _matches(event, attributes[0]["AttributeKey"], attributes[0]["AttributeValue"]):
                continue
            found.append(_summary(event))
            last_key = row.key
            if len(found) == limit:
                break
        if not rows:
            last_key = ""
            break
    result: dict[str, Any] = {"Events": found}
    if last_key and len(found) == limit:
        result["NextToken"] = paging.token(last_key)
    return result


def _before_token(token: str) -> str:
    before = paging.position(token)
    if before is None:
        raise AwsError("InvalidNextTokenException", "Invalid NextToken.")
    return before


HANDLERS = {"LookupEvents": lookup_events}
