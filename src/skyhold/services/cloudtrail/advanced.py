"""Advanced event selectors (API reference: AdvancedEventSelector, AdvancedFieldSelector).

A trail logs an event when one of its selectors matches it; a selector matches when
each of its field selectors does; a field selector when each operator it carries
holds (Equals / StartsWith / EndsWith: one of the values; NotEquals / NotStartsWith /
NotEndsWith: none of them). Skyhold reads the fields its events have: eventCategory,
eventSource, eventName, readOnly, errorCode, userIdentity.arn, and for S3 data events
resources.type ("AWS::S3::Object") and resources.ARN (the object's ARN, or the
bucket's with a trailing "/" for bucket-level calls, as basic selectors see them).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from skyhold.errors import AwsError

MAX_VALUES = 500  # across all conditions of all selectors of a trail
_OPERATORS: dict[str, Callable[[str, list[str]], bool]] = {
    "Equals": lambda v, values: v in values,
    "StartsWith": lambda v, values: any(v.startswith(x) for x in values),
    "EndsWith": lambda v, values: any(v.endswith(x) for x in values),
    "NotEquals": lambda v, values: v not in values,
    "NotStartsWith": lambda v, values: not any(v.startswith(x) for x in values),
    "NotEndsWith": lambda v, values: not any(v.endswith(x) for x in values),
}
FIELDS = frozenset({"eventCategory", "eventSource", "eventName", "readOnly", "errorCode", "userIdentity.arn",
                    "resources.type", "resources.ARN", "eventType", "sessionCredentialFromConsole", "vpcEndpointId"})


def _refuse(message: str) -> AwsError:
    return AwsError("InvalidEventSelectorsException", message)


def checked(selectors: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The selectors as given, or InvalidEventSelectorsException (wordings guessed:
    AWS documents the limits, not its messages)."""
    if not selectors:
        raise _refuse("Specify at least one advanced event selector.")
    total = 0
    for selector in selectors:
        fields = selector.get("FieldSelectors") or []
        names = [f.get("Field") for f in fields]
        if "eventCategory" not in names:
            # AWS: eventCategory is required in every advanced event selector
            raise _refuse("The eventCategory field is required in each advanced event selector.")
        for field in fields:
            if field.get("Field") not in FIELDS:
                raise _refuse(f"Value {field.get('Field')} for Field is invalid.")
            given = [op for op in _OPERATORS if field.get(op)]
            if not given:
                raise _refuse(f"Field {field['Field']} must have at least one operator.")
            total += sum(len(field[op]) for op in given)
    if total > MAX_VALUES:
        raise _refuse(f"The number of values across all advanced event selectors exceeds {MAX_VALUES}.")
    return selectors


def _value(event: dict[str, Any], field: str, data_arn: str | None) -> str:
    if field == "readOnly":
        return "true" if event.get("readOnly") else "false"
    if field == "userIdentity.arn":
        return str((event.get("userIdentity") or {}).get("arn", ""))
    if field == "resources.type":
        return "AWS::S3::Object" if data_arn is not None else ""
    if field == "resources.ARN":
        return data_arn or ""
    return str(event.get(field) or "")


def selects(selectors: list[dict[str, Any]], event: dict[str, Any], data_arn: str | None) -> bool:
    """Does one of `selectors` match `event` (`data_arn`: its S3 data resource's ARN)?"""
    return any(all(all(test(_value(event, field["Field"], data_arn), field[op])
                       for op, test in _OPERATORS.items() if field.get(op))
                   for field in selector.get("FieldSelectors") or [])
               for selector in selectors)
