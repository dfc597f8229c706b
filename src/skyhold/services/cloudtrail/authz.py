"""What each CloudTrail operation means to IAM (Service Authorization Reference,
AWS CloudTrail): operations on a trail are decided on the trail's ARN
(arn:aws:cloudtrail:<region>:<account>:trail/<name>), so a policy can allow or deny
them for one trail; LookupEvents, DescribeTrails, ListTrails and ListPublicKeys
name no resource and stay on "*".

Condition keys, as the reference documents them: aws:RequestTag/<k> and aws:TagKeys
for CreateTrail and AddTags, aws:TagKeys for RemoveTags, and aws:ResourceTag/<k> (of
the trail resource type) from an existing trail's tags.

A trail named by ARN is decided on that ARN, parsed as the handler parses it
(trails.locate), so the trail decided on is the trail acted upon. A trail of another
account is decided with the caller's own policies — the handler then finds no such
trail (Skyhold has no organization trails to share).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from skyhold.authz import Access, AuthzFn
from skyhold.policy import tagging
from skyhold.services.cloudtrail.trails import TRAIL, locate

if TYPE_CHECKING:
    from skyhold.pipeline import Call


def _on_trail(call: Call, action: str, ref_text: str, context: dict[str, Any] | None = None) -> Access:
    if ref_text.startswith("arn:") and ":trail/" not in ref_text:
        return Access(action, ref_text, context or {})  # an event data store's, channel's or dashboard's ARN
    ref = locate(call, ref_text)
    ctx: dict[str, Any] = {}
    rec = call.store.get(TRAIL, ref.key) if ref.account == call.principal.account else None
    if rec is not None:
        ctx.update({f"aws:ResourceTag/{t['Key']}": t.get("Value", "") for t in rec.value.get("Tags") or []})
    ctx.update(context or {})
    return Access(action, ref.arn, ctx)


def _trail(param: str, *, tags: str | None = None, tag_values: bool = True) -> AuthzFn:
    """cloudtrail:<Operation> on the trail `params[param]` names ("*" when the call
    names none, e.g. GetInsightSelectors of an event data store); `tags`: the member
    carrying the request's tags."""

    def fn(call: Call, params: dict[str, Any]) -> list[Access]:
        action = f"cloudtrail:{call.operation}"
        ref = params.get(param)
        if not isinstance(ref, str):
            return [Access(action, "*")]
        context = tagging.request_tags(tagging.pairs(params.get(tags)), values=tag_values) if tags else None
        return [_on_trail(call, action, ref, context)]

    return fn


def _list_tags(call: Call, params: dict[str, Any]) -> list[Access]:
    refs = [r for r in params.get("ResourceIdList") or [] if isinstance(r, str)]
    return [_on_trail(call, "cloudtrail:ListTags", r) for r in refs] or [Access("cloudtrail:ListTags", "*")]


AUTHZ: dict[str, AuthzFn] = {
    "CreateTrail": _trail("Name", tags="TagsList"),
    "UpdateTrail": _trail("Name"),
    "DeleteTrail": _trail("Name"),
    "StartLogging": _trail("Name"),
    "StopLogging": _trail("Name"),
    "GetTrail": _trail("Name"),
    "GetTrailStatus": _trail("Name"),
    "PutEventSelectors": _trail("TrailName"),
    "GetEventSelectors": _trail("TrailName"),
    "PutInsightSelectors": _trail("TrailName"),
    "GetInsightSelectors": _trail("TrailName"),
    "ListInsightsData": _trail("InsightSource"),
    "AddTags": _trail("ResourceId", tags="TagsList"),
    "RemoveTags": _trail("ResourceId", tags="TagsList", tag_values=False),
    "ListTags": _list_tags,
}
