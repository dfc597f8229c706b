"""A trail's tags, as the CloudTrail API reference limits them (AddTags, Tag): up to 50
a trail, keys of 1 to 128 characters, values of up to 256, keys unique, and the
"aws:" prefix kept for AWS. A key given without a value is stored without one (AWS:
"a value of null"), and ListTags then answers the key alone."""

from __future__ import annotations

from typing import Any

from skyhold.errors import AwsError

MAX_TAGS = 50
MAX_KEY = 128
MAX_VALUE = 256


def _invalid(message: str) -> AwsError:
    return AwsError("InvalidTagParameterException", message)


def checked(tags_list: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The tags a request gives, each {"Key"[, "Value"]}, or InvalidTagParameterException
    (wordings guessed: AWS documents the exception, not its messages)."""
    seen: set[str] = set()
    out: list[dict[str, Any]] = []
    for tag in tags_list:
        key, value = tag.get("Key"), tag.get("Value")
        if not isinstance(key, str) or not 1 <= len(key) <= MAX_KEY:
            raise _invalid(f"Tag key must be between 1 and {MAX_KEY} characters long.")
        if value is not None and len(value) > MAX_VALUE:
            raise _invalid(f"Tag value must be at most {MAX_VALUE} characters long.")
        if key.lower().startswith("aws:"):
            raise _invalid("Tag keys starting with 'aws:' are reserved for AWS use.")
        if key in seen:
            raise _invalid(f"Duplicate tag key: {key}")
        seen.add(key)
        out.append({"Key": key} if value is None else {"Key": key, "Value": value})
    _check_count(out)
    return out


def _check_count(tags_list: list[dict[str, Any]]) -> None:
    if len(tags_list) > MAX_TAGS:
        # Wording after the exception's documentation (the limit is 50).
        raise AwsError("TagsLimitExceededException", f"The number of tags per trail has exceeded the permitted "
                       f"amount. Currently, the limit is {MAX_TAGS}.")


def added(current: list[dict[str, Any]], new: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """`current` with `new` added: a key already there takes the new value."""
    incoming = {t["Key"]: t for t in checked(new)}
    merged = [incoming.pop(t["Key"], t) for t in current] + list(incoming.values())
    _check_count(merged)
    return merged


def removed(current: list[dict[str, Any]], gone: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """`current` without the keys of `gone` (a tag removed by key, whatever its value)."""
    keys = {t.get("Key") for t in gone}
    return [t for t in current if t["Key"] not in keys]
