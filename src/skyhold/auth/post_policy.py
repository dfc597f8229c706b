"""Browser-based S3 uploads (POST Object with a SigV4-signed policy).

The form carries a base64 JSON policy, signed by the uploader: the string to sign is
the base64 policy itself. The policy's conditions say which form fields may appear
and what they may hold; S3 refuses any field no condition covers.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import json
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from skyhold import clock
from skyhold.auth import errors, sigv4
from skyhold.auth.credentials import Credential, CredentialLookup
from skyhold.auth.errors import Style
from skyhold.errors import AwsError

# Fields a POST may carry without a condition naming them (S3's list, plus the
# bucket we add from the URL).
_EXEMPT = frozenset({"policy", "x-amz-signature", "file", "bucket"})


def verify_post_policy(
    fields: Mapping[str, str],
    lookup: CredentialLookup,
    *,
    bucket: str,
    regions: frozenset[str],
    content_length: int | None = None,
    filename: str | None = None,
    now: datetime | None = None,
) -> tuple[Credential | None, dict[str, Any] | None]:
    """Verify a POST form; returns (credential, policy) or (None, None) for an anonymous
    form (no policy: only a public-write bucket takes it). Raises AwsError as S3 does."""
    form = {name.lower(): value for name, value in fields.items()}
    policy_b64 = form.get("policy")
    if policy_b64 is None:
        return None, None
    if form.get("x-amz-algorithm") != sigv4.ALGORITHM:
        raise AwsError("InvalidArgument", "POST requires exactly one of X-Amz-Algorithm or AWSAccessKeyId", status=400)
    for name in ("x-amz-credential", "x-amz-date", "x-amz-signature"):
        if not form.get(name):
            raise AwsError(
                "InvalidArgument",
                f"Bucket POST must contain a field named '{name}'.  If it is specified, please check the order of the fields.",
                status=400,
                extra={"ArgumentName": name, "ArgumentValue": ""},
            )
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
        raise AwsError(
            "SignatureDoesNotMatch",
            "The request signature we calculated does not match the signature you provided. "
            "Check your key and signing method.",
            status=403,
            extra={"AWSAccessKeyId": access_key_id, "StringToSign": policy_b64, "SignatureProvided": provided},
        )
    token = form.get("x-amz-security-token")
    if credential.session_token is not None:
        if token != credential.session_token:
            raise errors.invalid_token(Style.S3, token)
        if credential.expiration is not None and credential.expiration <= clock.now():
            raise errors.expired_token(Style.S3, token)
    elif token:
        raise errors.invalid_token(Style.S3, token)
    policy = _decode(policy_b64)
    _check_expiration(policy, now or clock.wall_now())
    if filename is not None and "key" in form:
        form["key"] = form["key"].replace("${filename}", filename)
    form["bucket"] = bucket
    check_conditions(policy, form, content_length)
    return credential, policy


def _decode(policy_b64: str) -> dict[str, Any]:
    try:
        policy = json.loads(base64.b64decode(policy_b64, validate=True))
    except (binascii.Error, ValueError):
        raise AwsError("InvalidPolicyDocument", "Invalid Policy: Invalid JSON.", status=400) from None
    if not isinstance(policy, dict) or not isinstance(policy.get("conditions"), list):
        raise AwsError("InvalidPolicyDocument", "Invalid Policy: Policy missing conditions.", status=400)
    return policy


def _check_expiration(policy: dict[str, Any], now: datetime) -> None:
    text = policy.get("expiration")
    if not isinstance(text, str):
        raise AwsError("InvalidPolicyDocument", "Invalid Policy: Policy missing expiration.", status=400)
    try:
        expires = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise AwsError("InvalidPolicyDocument", "Invalid Policy: Invalid 'expiration' value: '" + text + "'", status=400) from None
    if expires <= now:
        raise errors.post_policy_denied("Policy expired.")


def check_conditions(policy: dict[str, Any], form: Mapping[str, str], content_length: int | None) -> None:
    """Every condition must hold and every (non-exempt) field must be named by one."""
    covered: set[str] = set()
    for condition in policy["conditions"]:
        if isinstance(condition, dict):
            for name, value in condition.items():
                field_name = name.lower()
                covered.add(field_name)
                if form.get(field_name) != value:
                    raise errors.post_policy_denied(f'Policy Condition failed: ["eq", "${name}", "{value}"]')
        elif isinstance(condition, list) and len(condition) == 3:
            op = str(condition[0]).lower()
            if op == "content-length-range":
                low, high = int(condition[1]), int(condition[2])
                if content_length is not None and content_length > high:
                    raise AwsError("EntityTooLarge", "Your proposed upload exceeds the maximum allowed size", status=400)
                if content_length is not None and content_length < low:
                    raise AwsError("EntityTooSmall", "Your proposed upload is smaller than the minimum allowed size", status=400)
                continue
            name = str(condition[1]).lstrip("$").lower()
            covered.add(name)
            actual = form.get(name, "")
            expected = str(condition[2])
            ok = actual == expected if op == "eq" else actual.startswith(expected) if op == "starts-with" else False
            if not ok:
                raise errors.post_policy_denied(
                    f'Policy Condition failed: ["{condition[0]}", "{condition[1]}", "{condition[2]}"]'
                )
        else:
            raise AwsError("InvalidPolicyDocument", "Invalid Policy: Invalid Condition.", status=400)
    extra = sorted(
        name for name in form
        if name not in covered and name not in _EXEMPT and not name.startswith("x-ignore-")
    )
    if extra:
        raise errors.post_policy_denied("Extra input fields: " + ", ".join(extra))
