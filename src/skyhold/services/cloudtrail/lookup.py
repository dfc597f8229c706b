"""LookupEvents: the last 90 days of management events of the caller's account and
region, newest first, filtered by at most one lookup attribute."""

from __future__ import annotations

import json
import math
from collections.abc import Iterable
from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING, Any

from skyhold import clock, paging
from skyhold.errors import AwsError
from skyhold.store import jsontext
from skyhold.trail import index

if TYPE_CHECKING:
    from skyhold.pipeline import Call

HISTORY = timedelta(days=90)


def _event_time(event: dict[str, Any]) -> datetime:
    return datetime.fromisoformat(event["eventTime"].replace("Z", "+00:00"))


def _resources(event: dict[str, Any]) -> list[dict[str, str]]:
    return [{"ResourceType": r["type"], "ResourceName": r["ARN"]} for r in event.get("resources") or []]


def _attribute(attributes: list[dict[str, str]]) -> tuple[str, str] | None:
    if not attributes:
        return None
    key, value = attributes[0]["AttributeKey"], attributes[0]["AttributeValue"]
    if key not in index.COLUMNS and key not in index.RESOURCE_ATTRIBUTES:
        raise AwsError("InvalidLookupAttributesException", f"Invalid lookup attribute key: {key}")
    return key, value


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
    if (name := index.username(event)) is not None:
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
    attribute = _attribute(attributes)
    # Start at EndTime rather than reading every newer event to skip it (200,000 events
    # with an EndTime a day back read 180,000). An event's key holds the wall time it was
    # recorded at, taken just before its eventTime (whole seconds) on Skyhold's clock,
    # which only runs ahead of the wall's: every event up to EndTime has a key before
    # the next second's.
    account = call.principal.account
    before = f"{account}/{(math.floor(end.timestamp()) + 1) * 10**9:020d}"
    if params.get("NextToken"):
        before = min(before, _before_token(params["NextToken"]))
    await call.pipeline.audit.recorder.index()
    rows = index.newest_first(call.pipeline.trail_store, account, call.region, attribute, before)
    try:
        found, last_key = search(rows, start, end, limit)
    finally:
        rows.close()  # ends the query: nothing past this page is read
    result: dict[str, Any] = {"Events": found}
    if last_key:
        result["NextToken"] = paging.token(last_key)
    return result


def search(rows: Iterable[tuple[str, str]], start: datetime, end: datetime,
           limit: int) -> tuple[list[dict[str, Any]], str]:
    """The first `limit` events of `rows` (index.newest_first) between start and end,
    and the key of the last of them when there are `limit` (the next page's start)."""
    found: list[dict[str, Any]] = []
    for key, text in rows:
        event = jsontext.loads(text)["event"]
        when = _event_time(event)
        if when > end:
            continue
        if when < start:
            return found, ""
        found.append(_summary(event))
        if len(found) == limit:
            return found, key
    return found, ""


def _before_token(token: str) -> str:
    before = paging.position(token)
    if before is None:
        raise AwsError("InvalidNextTokenException", "Invalid NextToken.")
    return before


HANDLERS = {"LookupEvents": lookup_events}
