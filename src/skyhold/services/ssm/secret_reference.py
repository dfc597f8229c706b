"""Secrets Manager secrets read through Parameter Store: GetParameter and GetParameters
on "/aws/reference/secretsmanager/<secret-id>[:<version-id or staging label>]".

Parameter Store keeps nothing of these: each read is a GetSecretValue on the caller's
behalf, so the caller needs secretsmanager:GetSecretValue on the secret (and kms:Decrypt
on a customer key) besides ssm:GetParameter(s) on the reference's parameter ARN. The
answer's members and error texts are those AWS sends: the secret's ARN, Version 0, no
DataType, the version's CreatedDate as LastModifiedDate, and SourceResult as the JSON
SSM's Java service makes of the GetSecretValue result.
"""

from __future__ import annotations

import json
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

from skyhold.errors import AwsError
from skyhold.services.secretsmanager.secrets import get_secret_value_for

if TYPE_CHECKING:
    from skyhold.pipeline import Call

PREFIX = "/aws/reference/secretsmanager/"
_BAD_SELECTOR = ("Invalid parameter name. Please use correct syntax for referencing a version/label  "
                 "<name>:<version/label>")  # two spaces, as AWS writes it
_NEEDS_DECRYPTION = "WithDecryption flag must be True for retrieving a Secret Manager secret."
_DEPENDENCY_FAILED = "An error occurred while calling one AWS dependency service."
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


def is_reference(ref: str) -> bool:
    return ref.startswith(PREFIX)


def parse(ref: str, decrypt: bool) -> tuple[str, str | None]:
    """(name, selector) of a reference; a malformed selector, then a read without
    WithDecryption, is refused before the secret is looked up or the caller checked."""
    name, sep, selector = ref.partition(":")
    if sep and (not selector or ":" in selector):
        raise AwsError("ValidationException", _BAD_SELECTOR)
    if not decrypt:
        raise AwsError("ValidationException", _NEEDS_DECRYPTION)
    return name, selector if sep else None


def read(call: Call, name: str, selector: str | None) -> dict[str, Any]:
    """The Parameter a reference answers with. Secrets Manager's refusals come back in
    SSM's words (a denial's decision trace kept for `skyhold explain`)."""
    try:
        value = get_secret_value_for(call, name[len(PREFIX):], selector)
    except AwsError as err:
        if err.code == "ResourceNotFoundException":
            # AWS prints the absent selector as Java's "null".
            shown = f"{name.lstrip('/')}{':' + selector if selector else 'null'}"
            raise AwsError("ParameterNotFound", "An error occurred (ParameterNotFound) when referencing Secrets "
                           f"Manager: Secret {shown} not found.") from None
        message = "Invalid Request to Secrets Manager" if err.code == "InvalidRequestException" else _DEPENDENCY_FAILED
        raise AwsError("ValidationException", message, explanation=err.explanation) from None
    out: dict[str, Any] = {"Name": name, "Type": "SecureString", "Version": 0, "SourceResult": _source_result(value),
                           "LastModifiedDate": value["CreatedDate"], "ARN": value["ARN"]}
    if "SecretString" in value:
        out["Value"] = value["SecretString"]  # a binary secret has no Value
    if selector:
        out["Selector"] = ":" + selector
    return out


def _source_result(value: dict[str, Any]) -> str:
    """GetSecretValue's result as Gson writes it: camelCase members (ARN as is), a
    Java-formatted UTC date, no nulls, and Gson's HTML-safe escapes."""
    body: dict[str, Any] = {"ARN": value["ARN"], "name": value["Name"], "versionId": value["VersionId"]}
    if "SecretString" in value:
        body["secretString"] = value["SecretString"]
    body["versionStages"] = value["VersionStages"]
    body["createdDate"] = _java_date(value["CreatedDate"])
    text = json.dumps(body, ensure_ascii=False, separators=(",", ":"))
    for ch in "<>&='\u2028\u2029":
        text = text.replace(ch, f"\\u{ord(ch):04x}")
    return text


def _java_date(when: datetime) -> str:
    """E.g. "Oct 14, 2021, 10:18:47 AM"."""
    t = when.astimezone(timezone.utc)
    hour = t.hour % 12 or 12
    return f"{_MONTHS[t.month - 1]} {t.day}, {t.year}, {hour}:{t:%M:%S} {'AM' if t.hour < 12 else 'PM'}"
