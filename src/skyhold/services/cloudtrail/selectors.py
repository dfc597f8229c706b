"""PutEventSelectors' checks, as the CloudTrail API reference states them (EventSelector,
DataResource, InvalidEventSelectorsException): 1 to 5 selectors a trail, at most 250
data resource values across them, a DataResource Type of S3 objects, Lambda functions
or DynamoDB tables, and Values that are that type's "all" prefix or a real ARN of it.

AWS refuses a bucket ARN without its "/" (`arn:aws:s3:::data-bucket`) and wildcards
(`arn:aws:s3:::*`, `arn:aws:lambda:*`) with "Value <v> for DataResources.Values is
invalid." (as its users report it), so a stored Value is always a prefix that means
what it says: "arn:aws:s3" (or "arn:aws:s3:::") every object, "arn:aws:s3:::bucket/"
a bucket's objects, "arn:aws:s3:::bucket/prefix" those under the prefix.
"""

from __future__ import annotations

import re
from typing import Any

from skyhold.errors import AwsError

MAX_SELECTORS = 5
MAX_VALUES = 250
READ_WRITE_TYPES = ("ReadOnly", "WriteOnly", "All")
_BUCKET = r"[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]"
# Type → (the values that mean "all of them", the pattern of one resource or prefix)
_VALUES: dict[str, tuple[frozenset[str], re.Pattern[str]]] = {
    "AWS::S3::Object": (frozenset({"arn:aws:s3", "arn:aws:s3:::"}), re.compile(rf"^arn:aws:s3:::{_BUCKET}/.*$")),
    "AWS::Lambda::Function": (frozenset({"arn:aws:lambda"}), re.compile(
        r"^arn:aws:lambda:[a-z0-9-]+:\d{12}:function:[A-Za-z0-9_-]{1,64}(:[A-Za-z0-9$_-]+)?$")),
    "AWS::DynamoDB::Table": (frozenset({"arn:aws:dynamodb"}), re.compile(
        r"^arn:aws:dynamodb:[a-z0-9-]+:\d{12}:table/[A-Za-z0-9_.-]{3,255}$")),
}


def _refuse(message: str) -> AwsError:
    return AwsError("InvalidEventSelectorsException", message)


def _value_ok(kind: str, value: str) -> bool:
    everything, one = _VALUES[kind]
    return value in everything or one.match(value) is not None


def checked(selectors: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The selectors with AWS's defaults filled in, or InvalidEventSelectorsException."""
    if not 1 <= len(selectors) <= MAX_SELECTORS:
        # Wording guessed from the exception's documentation ("1 to 5").
        raise _refuse("Specify a valid number of EventSelectors (1 to 5) for your trail.")
    total = sum(len(r.get("Values") or []) for s in selectors for r in s.get("DataResources") or [])
    if total > MAX_VALUES:
        # AWS's message as its users report it (aws-solutions/aws-crr-monitor #7)
        raise _refuse("Specify a valid number of DataResources.Values (0 to 250) for all your selectors.")
    out = []
    for selector in selectors:
        selector = {"ReadWriteType": "All", "IncludeManagementEvents": True, "DataResources": [],
                    "ExcludeManagementEventSources": [], **selector}
        if selector["ReadWriteType"] not in READ_WRITE_TYPES:
            # Wording guessed.
            raise _refuse(f"Value {selector['ReadWriteType']} for ReadWriteType is invalid.")
        for resource in selector["DataResources"]:
            kind = resource.get("Type")
            if kind not in _VALUES:
                # AWS's first sentence, as user reports quote it; AWS then lists its own
                # valid types, many more than the three Skyhold records.
                raise _refuse(f"Value {kind} for DataResources.Type is invalid.")
            for value in resource.get("Values") or []:
                if not _value_ok(kind, value):
                    raise _refuse(f"Value {value} for DataResources.Values is invalid.")
        if not selector["IncludeManagementEvents"] and not selector["DataResources"]:
            # AWS's message as a user reported it (awsdocs/aws-cloudformation-user-guide #752)
            raise _refuse("Invalid combination of parameters in EventSelectors. When includeManagementEvents is "
                          "false, DataResources must not be empty.")
        out.append(selector)
    return out


def selects_object(values: list[str], target: str) -> bool:
    """Does one of a checked AWS::S3::Object resource's Values cover `target` (an
    object's ARN, or a bucket's with a trailing "/")?"""
    return any(v in ("arn:aws:s3", "arn:aws:s3:::") or (v.startswith("arn:aws:s3:::") and "/" in v
                                                        and target.startswith(v)) for v in values)
