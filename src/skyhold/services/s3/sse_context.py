"""SSE-KMS encryption context: x-amz-server-side-encryption-context.

A caller may name extra KMS encryption context pairs for an SSE-KMS (or DSSE-KMS)
object: a base64-encoded UTF-8 JSON object of string pairs. S3 keeps them with the
object (the object's "sse" record, as "ctx") and sends them to KMS, together with its
own default pair aws:s3:arn -- the object's ARN, or the bucket's with an S3 Bucket
Key -- on the write and on every read, so key policies can test them with
kms:EncryptionContext:<key> conditions. Objects stored without extra pairs use the
default pair alone, as before.
"""

from __future__ import annotations

import base64
import binascii
import json
from typing import Any

from skyhold.services.s3 import errors, records

HEADER = "x-amz-server-side-encryption-context"
DEFAULT_KEY = "aws:s3:arn"


def _malformed(text: str) -> Exception:
    # AWS's message, as an S3 response quoted in HADOOP-19197 ("... (Service: S3, Status Code: 400, ...)").
    return errors.invalid_argument(f"The header '{HEADER}' shall be Base64-encoded UTF-8 string holding JSON which "
                                   "represents a string-string map", HEADER, text)


def parse(text: str) -> dict[str, str]:
    """The pairs a header value names; InvalidArgument unless it is base64 of a JSON
    object whose values are all strings."""
    try:
        value = json.loads(base64.b64decode(text, validate=True).decode("utf-8"))
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raise _malformed(text) from None
    if not isinstance(value, dict) or not all(isinstance(v, str) for v in value.values()):
        raise _malformed(text)
    return value


def requested(params: dict[str, Any], sse: dict[str, Any], default_arn: str) -> dict[str, str] | None:
    """The caller's extra pairs for a new object (None when the request names none).
    They need SSE-KMS or DSSE-KMS named on the request itself, as a KMS key id does;
    an aws:s3:arn pair of the caller's must be the one S3 would add anyway."""
    text = params.get("SSEKMSEncryptionContext")
    if text is None:
        return None
    require_kms(params)
    pairs = parse(text)
    given = pairs.pop(DEFAULT_KEY, None)
    if given is not None and given != default_arn:
        if not sse.get("bk"):
            # AWS's message, as S3 answered a bucket ARN given for an object (thanos-io/thanos #4138).
            raise errors.invalid_argument(f"The context value for '{DEFAULT_KEY}' shall be equal to object's ARN",
                                          HEADER, text)
        # With an S3 Bucket Key (the pair is the bucket's ARN): AWS's wording unknown, guessed.
        raise errors.invalid_argument(f"The encryption context key '{DEFAULT_KEY}' must name the bucket ARN",
                                      HEADER, text)
    return pairs


def require_kms(params: dict[str, Any]) -> None:
    """An encryption context only with SSE-KMS or DSSE-KMS named on the request itself."""
    if "SSEKMSEncryptionContext" in params and params.get("ServerSideEncryption") not in ("aws:kms", "aws:kms:dsse"):
        raise errors.invalid_argument("Server Side Encryption with AWS KMS managed key requires HTTP header "
                                      "x-amz-server-side-encryption : aws:kms", "x-amz-server-side-encryption")


def default_arn(bucket: str, key: str, sse: dict[str, Any]) -> str:
    """The value S3 gives aws:s3:arn: the object's ARN, or the bucket's with a bucket key."""
    return records.bucket_arn(bucket) if sse.get("bk") else records.object_arn(bucket, key)


def extra(sse: dict[str, Any]) -> dict[str, str]:
    """The caller's pairs an object (or upload) was stored with ({} for none)."""
    return dict(sse.get("ctx") or {})


def echo(sse: dict[str, Any], bucket: str, key: str) -> dict[str, str]:
    """SSEKMSEncryptionContext on the responses that carry it: the whole context S3
    uses (the caller's pairs and aws:s3:arn), when the caller named one."""
    if "ctx" not in sse:
        return {}
    whole = {**sse["ctx"], DEFAULT_KEY: default_arn(bucket, key, sse)}
    return {"SSEKMSEncryptionContext": base64.b64encode(json.dumps(whole).encode()).decode()}
