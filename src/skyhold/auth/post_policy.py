"""Browser-based S3 uploads (POST Object with a SigV4-signed policy).

The form carries a base64 JSON policy, signed by the uploader: the string to sign is
the base64 policy itself. The policy's conditions say which form fields may appear
and what they may hold; S3 refuses any field no condition covers. A form with none of
the signature fields is anonymous: only a bucket policy can let it write.

Field names are matched without regard to case, values exactly.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import json
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

from skyhold import clock
from skyhold.auth import errors, sigv4
from skyhold.auth.credentials import Credential, CredentialLookup
from skyhold.auth.errors import Style
from skyhold.errors import AwsError

# Fields a POST may carry without a condition naming them (S3's list, plus the
# bucket we add from the URL).
_EXEMPT = frozenset({"policy", "x-amz-signature", "file", "bucket"})
# A signed form must carry all of these; S3 names the first one missing in this order.
_SIGNATURE_FIELDS = ("X-Amz-Signature", "X-Amz-Algorithm", "X-Amz-Credential", "X-Amz-Date")
_SIGV2_FIELDS = ("signature", "awsaccesskeyid")


def missing_field(name: str) -> AwsError:
    return AwsError(
        "InvalidArgument",
        f"Bucket POST must contain a field named '{name}'.  If it is specified, please check the order of the fields.",
        status=400,
        extra={"ArgumentName": name, "ArgumentValue": ""},
    )


def _invalid_policy(detail: str) -> AwsError:
    return AwsError("InvalidPolicyDocument", f"Invalid Policy: {detail}", status=400)


def verify_post_policy(
    fields: Mapping[str, str],
    lookup: CredentialLookup,
    *,
    bucket: str,
    regions: frozenset[str],
    filename: str | None = None,
    now: datetime | None = None,
) -> tuple[Credential | None, dict[str, Any] | None]:
    """Verify a POST form; returns (credential, policy) or (None, None) for an anonymous
    form. Raises AwsError as S3 does. The content-length-range condition is left to
    the upload (see `content_length_range`): only the streamed file tells the size."""
    form = {name.lower(): value for name, value in fields.items()}
    if not form.get("key"):
        raise missing_field("key")
    if not any(name.lower() in form for name in _SIGNATURE_FIELDS):
        if any(name in form for name in _SIGV2_FIELDS):
            raise errors.s3_sigv2_refused()
        return None, None
    for name in _SIGNATURE_FIELDS:
        if not form.get(name.lower()):
            raise missing_field(name)
    policy_b64 = form.get("policy")
    if not policy_b64:
        raise missing_field("Policy")
    if form["x-amz-algorithm"] != sigv4.ALGORITHM:
        raise AwsError("InvalidArgument", f'X-Amz-Algorithm only supports "{sigv4.ALGORITHM}"', status=400,
                       extra={"ArgumentName": "X-Amz-Algorithm", "ArgumentValue": form["x-amz-algorithm"]})
    credential = _signer(form, policy_b64, lookup, regions)
    policy = _decode(policy_b64)
    _check_expiration(policy, now or _policy_now(form["x-amz-date"]))
    if filename is not None:
        form["key"] = form["key"].replace("${filename}", filename)
    form["bucket"] = bucket
    check_conditions(policy, form)
    return credential, policy


def _signer(form: dict[str, str], policy_b64: str, lookup: CredentialLookup, regions: frozenset[str]) -> Credential:
    """The credential whose secret signed the policy (with its session token, if any)."""
    credential_text = form["x-amz-credential"]
    fault = errors.s3_credential_fault(credential_text, False, regions)
    if fault is not None:
        raise fault
    access_key_id, date, region, service, _ = credential_text.split("/")
    credential = lookup(access_key_id)
    if credential is None or not credential.active:
        raise errors.unknown_access_key(Style.S3, access_key_id)
    key = sigv4.signing_key(credential.secret_access_key, date, region, service)
    provided = form["x-amz-signature"]
    if not hmac.compare_digest(sigv4.sign(key, policy_b64), provided):
        raise errors.chunk_signature_mismatch(access_key_id, provided, policy_b64)
    token = form.get("x-amz-security-token")
    if credential.temporary:
        if not credential.token_matches(token):
            raise errors.invalid_token(Style.S3, token)
        if credential.expiration is not None and credential.expiration <= clock.now():
            raise errors.expired_token(Style.S3, token)
    elif token:
        raise errors.invalid_token(Style.S3, token)
    return credential


def region_of(fields: Mapping[str, str]) -> str | None:
    """The region of a signed form's credential scope (checked by `verify_post_policy`)."""
    for name, value in fields.items():
        if name.lower() == "x-amz-credential":
            parts = value.split("/")
            return parts[2] if len(parts) == 5 else None
    return None


def _decode(policy_b64: str) -> dict[str, Any]:
    try:
        policy = json.loads(base64.b64decode(policy_b64, validate=True))
    except (binascii.Error, ValueError):
        raise _invalid_policy("Invalid JSON.") from None
    if not isinstance(policy, dict) or not isinstance(policy.get("conditions"), list):
        raise _invalid_policy("Policy missing conditions.")
    return policy


def _policy_now(amz_date: str) -> datetime:
    """The moment a policy's expiration is compared with: the uploader wrote it in
    wall time, so wall time plus how far Skyhold's clock was moved forward since the
    form was signed (its X-Amz-Date); Skyhold's clock itself if that date is unreadable."""
    signed = sigv4.parse_amz_date(amz_date)
    if signed is None:
        return clock.now()
    return clock.wall_now() + timedelta(seconds=clock.advanced_since(signed.timestamp()))


def _check_expiration(policy: dict[str, Any], now: datetime) -> None:
    text = policy.get("expiration")
    if not isinstance(text, str):
        raise _invalid_policy("Policy missing expiration.")
    try:
        expires = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise _invalid_policy(f"Invalid 'expiration' value: '{text}'") from None
    if expires.tzinfo is None:
        raise _invalid_policy(f"Invalid 'expiration' value: '{text}'")
    if expires <= now:
        raise errors.post_policy_denied("Policy expired.")


def _failed(condition: list[Any]) -> AwsError:
    shown = ", ".join(json.dumps(item, ensure_ascii=False) for item in condition)
    return errors.post_policy_denied(f"Policy Condition failed: [{shown}]")


def _starts_with(name: str, actual: str, prefix: str) -> bool:
    if name == "content-type" and "," in actual:
        # A list of content types passes when every one of them does.
        return all(part.strip().startswith(prefix) for part in actual.split(","))
    return actual.startswith(prefix)


def check_conditions(policy: dict[str, Any], form: Mapping[str, str]) -> None:
    """Every condition must hold and every (non-exempt) field must be named by one.
    `form`: lower-cased field names, `bucket` set from the URL."""
    covered: set[str] = set()
    for condition in policy["conditions"]:
        if isinstance(condition, dict):
            if len(condition) != 1:
                raise _invalid_policy("Invalid Simple-Condition: Simple-Conditions must have exactly one property "
                                      "specified.")
            ((name, value),) = condition.items()
            covered.add(name.lower())
            if form.get(name.lower()) != value:
                raise _failed(["eq", f"${name}", value])
            continue
        if not isinstance(condition, list) or len(condition) != 3:
            raise _invalid_policy("Invalid Condition.")
        op = str(condition[0]).lower()
        if op == "content-length-range":
            _bounds(condition)
            continue
        target = str(condition[1])
        # A field is named with a leading "$"; without it the condition holds for nothing.
        name = target[1:].lower() if target.startswith("$") else None
        if name is not None:
            covered.add(name)
        actual = form.get(name) if name is not None else None
        expected = condition[2]
        if op == "eq":
            ok = actual is not None and actual == expected
        elif op == "starts-with":
            ok = name is not None and isinstance(expected, str) and _starts_with(name, actual or "", expected)
        else:
            raise _invalid_policy(f"Invalid Condition: unknown operation '{condition[0]}'.")
        if not ok:
            raise _failed(condition)
    extra = sorted(
        name for name in form
        if name not in covered and name not in _EXEMPT and not name.startswith("x-ignore-")
    )
    if extra:
        raise errors.post_policy_denied("Extra input fields: " + ", ".join(extra))


def _bounds(condition: list[Any]) -> tuple[int, int]:
    try:
        return int(condition[1]), int(condition[2])
    except (TypeError, ValueError):
        raise _failed(condition) from None


def content_length_range(policy: dict[str, Any] | None) -> tuple[int, int] | None:
    """(min, max) bytes the policy allows the file; None when it sets no range.
    Every condition must hold, so several ranges allow only what they all allow."""
    ranges = [
        _bounds(condition) for condition in (policy or {}).get("conditions", ())
        if isinstance(condition, list) and len(condition) == 3 and str(condition[0]).lower() == "content-length-range"
    ]
    if not ranges:
        return None
    return max(low for low, _ in ranges), min(high for _, high in ranges)
