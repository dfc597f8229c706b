"""STS input rules, with STS's own error texts."""

from __future__ import annotations

import json
import re
from typing import Any

from skyhold import constraints
from skyhold.errors import AwsError, validation_failed
from skyhold.policy import tagging

# AWS packs session policies and tags into the session token; the limit is on that
# packed form. Skyhold approximates the packing as compact JSON against AWS's
# documented plain-text limit for inline session policies (2,048 characters).
PACKED_LIMIT = 2048
MAX_SESSION_TAGS = 50
SESSION_NAME = r"[\w+=,.@-]*"  # roleSessionName's pattern in STS's model


def check_pattern(field: str, value: str, pattern: str, min_len: int, max_len: int) -> None:
    problems = []
    if len(value) < min_len:
        problems.append(constraints.problem(field, value, f"have length greater than or equal to {min_len}"))
    if len(value) > max_len:
        problems.append(constraints.problem(field, value, f"have length less than or equal to {max_len}"))
    if not re.fullmatch(pattern, value):
        problems.append(constraints.problem(field, value, f"satisfy regular expression pattern: {pattern}"))
    if problems:
        raise validation_failed(problems, "ValidationError")


# roleArn's pattern as STS's model (and its messages) spell it. Java reads the
# "\u10000-\u10FFFF" at its end as U+1000, "0"-U+10FF and "FF", so what it admits is
# below: every character of the BMP but most controls and the surrogates — a character
# beyond the BMP fails it (recorded real-AWS answers: 2048 emoji fail the pattern alone).
ARN_PATTERN = r"[\u0009\u000A\u000D\u0020-\u007E\u0085\u00A0-\uD7FF\uE000-\uFFFD\u10000-\u10FFFF]+"
_ARN_CHARS = re.compile("[\t\n\r\x20-\ud7ff\ue000-\ufffd]+")


def check_role_arn(role_arn: str) -> None:
    """roleArn's model constraints (pattern, then length 20..2048 in characters: AWS
    lists them in this order), then STS's own ARN check, all before authorization: six
    colon-separated fields, with partition, service and resource present (region and
    account may be empty)."""
    problems = []
    if not _ARN_CHARS.fullmatch(role_arn):
        problems.append(constraints.problem("roleArn", role_arn, f"satisfy regular expression pattern: {ARN_PATTERN}"))
    if len(role_arn) < 20:
        problems.append(constraints.problem("roleArn", role_arn, "have length greater than or equal to 20"))
    elif len(role_arn) > 2048:
        problems.append(constraints.problem("roleArn", role_arn, "have length less than or equal to 2048"))
    if problems:
        raise validation_failed(problems, "ValidationError")
    parts = role_arn.split(":", 5)
    if len(parts) != 6 or parts[0] != "arn" or not (parts[1] and parts[2] and parts[5]):
        raise AwsError("ValidationError", f"{role_arn} is invalid")


def check_duration(value: int, low: int, high: int) -> None:
    problems = constraints.check_range("durationSeconds", value, low, high)
    if problems:
        raise validation_failed(problems, "ValidationError")


def session_tags(tags: list[dict[str, str]]) -> dict[str, str]:
    if len(tags) > MAX_SESSION_TAGS:
        raise AwsError("ValidationError", f"1 validation error detected: Value at 'tags' failed to satisfy "
                       f"constraint: Member must have length less than or equal to {MAX_SESSION_TAGS}")
    seen: dict[str, str] = {}
    for tag in tags:
        if tag["Key"].lower() in (k.lower() for k in seen):
            raise AwsError("InvalidParameterValue", "Duplicate tag keys found. Please note that Tag keys are "
                           "case insensitive.")
        seen[tag["Key"]] = tag["Value"]
    return seen


def packed_policy_size(params: dict[str, Any], tags: dict[str, str]) -> int:
    """PackedPolicySize: percent of the packed limit used; above 100 is refused. What is
    packed is the inline session policy, the managed policies' ARNs (not their
    documents: AWS resolves those when it evaluates) and the session tags."""
    packed = len(json.dumps(json.loads(params["Policy"]), separators=(",", ":"))) if params.get("Policy") else 0
    packed += sum(len(ref["arn"]) for ref in params.get("PolicyArns") or [])
    packed += sum(len(k) + len(v) for k, v in tags.items())
    percent = (packed * 100 + PACKED_LIMIT - 1) // PACKED_LIMIT
    if percent > 100:
        raise AwsError(
            "PackedPolicyTooLarge",
            f"Packed policy consumes {percent}% of allotted space, please use smaller policy.",
        )
    return percent


def tag_context(tags: list[dict[str, Any]]) -> dict[str, Any]:
    """A session's tags as the request keys sts:TagSession is decided with."""
    return tagging.request_tags(tagging.pairs(tags))
