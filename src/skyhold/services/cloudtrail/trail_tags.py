"""AddTags, ListTags, RemoveTags on trails (tags.py holds the rules). The trail is named
by its ARN; another account's ARN is refused as AWS refuses it, with
CloudTrailARNInvalidException, and a well-formed ARN of no trail is
ResourceNotFoundException. A multi-region trail is tagged only from its home region."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from skyhold.errors import AwsError
from skyhold.services.cloudtrail import tags
from skyhold.services.cloudtrail.trails import TRAIL, TrailRef, find, locate

if TYPE_CHECKING:
    from skyhold.pipeline import Call


def _trail(call: Call, resource_id: str, *, home_only: bool) -> tuple[TrailRef, dict[str, Any], int]:
    ref = locate(call, resource_id)
    if ref.account != call.principal.account:
        # AWS's message (as its users report it, from ListTags)
        raise AwsError("CloudTrailARNInvalidException", f"AccountID in ARN is wrong, you can only access resources "
                       f"with AccountID {call.principal.account}.")
    try:
        trail, version = find(call, resource_id, home_only=home_only)
    except AwsError as err:
        if err.code != "TrailNotFoundException":
            raise
        # Wording guessed: AWS documents the exception, not its message.
        raise AwsError("ResourceNotFoundException", f"Resource {ref.arn} not found.") from None
    return ref, trail, version


def add_tags(call: Call, params: dict[str, Any]) -> dict[str, Any]:
    ref, trail, version = _trail(call, params["ResourceId"], home_only=True)
    trail["Tags"] = tags.added(trail.get("Tags") or [], params.get("TagsList") or [])
    call.store.put(TRAIL, ref.key, trail, expect_version=version)
    return {}


def remove_tags(call: Call, params: dict[str, Any]) -> dict[str, Any]:
    ref, trail, version = _trail(call, params["ResourceId"], home_only=True)
    trail["Tags"] = tags.removed(trail.get("Tags") or [], params.get("TagsList") or [])
    call.store.put(TRAIL, ref.key, trail, expect_version=version)
    return {}


def list_tags(call: Call, params: dict[str, Any]) -> dict[str, Any]:
    found = []
    for resource_id in params.get("ResourceIdList") or []:
        ref, trail, _ = _trail(call, resource_id, home_only=False)
        found.append({"ResourceId": ref.arn, "TagsList": trail.get("Tags") or []})
    return {"ResourceTagList": found}


HANDLERS = {"AddTags": add_tags, "RemoveTags": remove_tags, "ListTags": list_tags}
