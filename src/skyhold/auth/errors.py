"""The errors the signature layer raises, in the words each family of AWS services uses.

AWS answers the same fault four ways:
- S3 (rest-xml with its own codes, messages and extra XML members),
- query services (STS, IAM, SQS…: `SignatureDoesNotMatch`, `InvalidClientTokenId`),
- EC2, which says only `AuthFailure` (401) for a key, signature or scope it cannot
  validate and `RequestExpired` for expired credentials,
- coral JSON services (DynamoDB, Lambda, KMS…: `InvalidSignatureException`,
  `UnrecognizedClientException`; their common-errors tables give 400 for most).
`Style` picks the wording; every auth error is built here, nowhere else.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from enum import Enum
from functools import lru_cache

from skyhold.errors import AwsError


class Style(Enum):
    S3 = "s3"
    QUERY = "query"
    EC2 = "ec2"
    JSON = "json"


def style_for(s3: bool, protocol: str | None = None) -> Style:
    if s3:
        return Style.S3
    if protocol in ("json", "rest-json"):
        return Style.JSON
    if protocol == "ec2":
        return Style.EC2
    return Style.QUERY


# --- shared texts -------------------------------------------------------------------

_MISMATCH = (
    "The request signature we calculated does not match the signature you provided. "
    "Check your AWS Secret Access Key and signing method. "
    "Consult the service documentation for details."
)
_S3_MISMATCH = (
    "The request signature we calculated does not match the signature you provided. "
    "Check your key and signing method."
)
_INVALID_TOKEN = "The security token included in the request is invalid."
_EXPIRED_TOKEN = "The security token included in the request is expired"
_S3_HEADER_MALFORMED = "The authorization header is malformed; "
_S3_QUERY_CREDENTIAL = "Error parsing the X-Amz-Credential parameter; "
_S3_CREDENTIAL_FORMAT = (
    'the Credential is mal-formed; expecting "<YOUR-AKID>/YYYYMMDD/REGION/SERVICE/aws4_request".'
)
_SERVER_TIME = "%Y-%m-%dT%H:%M:%SZ"
_AMZ = "%Y%m%dT%H%M%SZ"
MAX_SKEW = timedelta(minutes=15)
# A region AWS would recognise; the coral message names the region only when it is not one.
_REGION_SHAPE = re.compile(r"[a-z]{2}(-[a-z]+)+-\d+\Z")


def _hex_bytes(text: str) -> str:
    # surrogateescape: the bytes of a header value that was not UTF-8 (sigv4._signed_text)
    return " ".join(f"{b:02x}" for b in text.encode("utf-8", "surrogateescape"))


def _json(style: Style, query_code: str) -> str:
    return {
        "InvalidClientTokenId": "UnrecognizedClientException",
        "SignatureDoesNotMatch": "InvalidSignatureException",
        "IncompleteSignature": "IncompleteSignatureException",
        "MissingAuthenticationToken": "MissingAuthenticationTokenException",
        "ExpiredToken": "ExpiredTokenException",
    }[query_code] if style is Style.JSON else query_code


def _status(style: Style, query_status: int) -> int:
    return 400 if style is Style.JSON else query_status


# EC2's words for what the query services call by name: whatever it cannot validate
# (unknown key, wrong signature, a scope it does not take) is one AuthFailure, 401
# (answers quoted in aws-sdk-java#2508, aws-sdk-java-v2#2981, ansible#5647; moto does
# the same), and expired credentials are RequestExpired, 400 (aws-sdk-java#1443,
# aws-sdk-go-v2#1674).
_EC2_AUTH_FAILURE = ("AuthFailure", "AWS was not able to validate the provided access credentials", 401)
_EC2 = {
    "InvalidClientTokenId": _EC2_AUTH_FAILURE,
    "SignatureDoesNotMatch": _EC2_AUTH_FAILURE,
    "ExpiredToken": ("RequestExpired", "Request has expired.", 400),
}


def _coral(style: Style, code: str, message: str, status: int) -> AwsError:
    if style is Style.EC2 and code in _EC2:
        code, message, status = _EC2[code]
    return AwsError(_json(style, code), message, status=_status(style, status))


# --- who is calling -----------------------------------------------------------------


def missing_authentication(style: Style) -> AwsError:
    status = 403  # 403 even for JSON services: API front doors answer it before coral
    return AwsError(_json(style, "MissingAuthenticationToken"), "Request is missing Authentication Token", status=status)


def unknown_access_key(style: Style, access_key_id: str) -> AwsError:
    if style is Style.S3:
        return AwsError(
            "InvalidAccessKeyId",
            "The AWS Access Key Id you provided does not exist in our records.",
            status=403,
            extra={"AWSAccessKeyId": access_key_id},
        )
    return _coral(style, "InvalidClientTokenId", _INVALID_TOKEN, 403)


def invalid_token(style: Style, token: str | None) -> AwsError:
    if style is Style.S3:
        extra = {"Token-0": token} if token else {}
        return AwsError("InvalidToken", "The provided token is malformed or otherwise invalid.", status=400, extra=extra)
    return _coral(style, "InvalidClientTokenId", _INVALID_TOKEN, 403)


def expired_token(style: Style, token: str | None) -> AwsError:
    if style is Style.S3:
        extra = {"Token-0": token} if token else {}
        return AwsError("ExpiredToken", "The provided token has expired.", status=400, extra=extra)
    return _coral(style, "ExpiredToken", _EXPIRED_TOKEN, 403)


# --- the signature ------------------------------------------------------------------


def signature_mismatch(
    style: Style, access_key_id: str, provided: str, string_to_sign: str, canonical_request: str
) -> AwsError:
    if style is Style.S3:
        return AwsError(
            "SignatureDoesNotMatch",
            _S3_MISMATCH,
            status=403,
            extra={
                "AWSAccessKeyId": access_key_id,
                "StringToSign": string_to_sign,
                "SignatureProvided": provided,
                "StringToSignBytes": _hex_bytes(string_to_sign),
                "CanonicalRequest": canonical_request,
                "CanonicalRequestBytes": _hex_bytes(canonical_request),
            },
        )
    # Query and coral services tell the caller what they computed, in the message.
    message = (
        f"{_MISMATCH}\n\nThe Canonical String for this request should have been\n"
        f"'{canonical_request}'\n\nThe String-to-Sign should have been\n'{string_to_sign}'\n"
    )
    return _coral(style, "SignatureDoesNotMatch", message, 403)


def chunk_signature_mismatch(access_key_id: str, provided: str, string_to_sign: str) -> AwsError:
    """A chunk (or trailer) of an aws-chunked upload whose signature is wrong (S3 only)."""
    return AwsError(
        "SignatureDoesNotMatch",
        _S3_MISMATCH,
        status=403,
        extra={
            "AWSAccessKeyId": access_key_id,
            "StringToSign": string_to_sign,
            "SignatureProvided": provided,
            "StringToSignBytes": _hex_bytes(string_to_sign),
        },
    )


# --- time ---------------------------------------------------------------------------


def skewed(style: Style, amz_date: str, request_time: datetime, now: datetime) -> AwsError:
    if style is Style.S3:
        return AwsError(
            "RequestTimeTooSkewed",
            "The difference between the request time and the current time is too large.",
            status=403,
            extra={
                "RequestTime": amz_date,
                "ServerTime": now.strftime(_SERVER_TIME),
                "MaxAllowedSkewMilliseconds": "900000",
            },
        )
    if request_time < now:
        message = (
            f"Signature expired: {request_time.strftime(_AMZ)} is now earlier than "
            f"{(now - MAX_SKEW).strftime(_AMZ)} ({now.strftime(_AMZ)} - 15 min.)"
        )
    else:
        message = (
            f"Signature not yet current: {request_time.strftime(_AMZ)} is still later than "
            f"{(now + MAX_SKEW).strftime(_AMZ)} ({now.strftime(_AMZ)} + 15 min.)"
        )
    return _coral(style, "SignatureDoesNotMatch", message, 403)


def presign_expired(expires_text: str, request_time: datetime, expires: int, now: datetime) -> AwsError:
    """An S3 presigned URL past its X-Amz-Expires (other services never honour it)."""
    return AwsError(
        "AccessDenied",
        "Request has expired",
        status=403,
        extra={
            "X-Amz-Expires": expires_text,
            "Expires": (request_time + timedelta(seconds=expires)).strftime(_SERVER_TIME),
            "ServerTime": now.strftime(_SERVER_TIME),
        },
    )


def presign_not_yet_valid(request_time: datetime, expires: int, now: datetime) -> AwsError:
    """An S3 presigned URL dated more than 15 minutes ahead."""
    try:
        expires_at = request_time + timedelta(seconds=expires)
    except OverflowError:  # dated in the last week of year 9999
        expires_at = datetime.max.replace(tzinfo=request_time.tzinfo)
    return AwsError(
        "AccessDenied",
        "Request is not yet valid",
        status=403,
        extra={
            "X-Amz-Date": str(int(request_time.timestamp() * 1000)),
            "Expires": expires_at.strftime(_SERVER_TIME),
            "ServerTime": now.strftime(_SERVER_TIME),
        },
    )


# --- malformed signatures -----------------------------------------------------------


def s3_no_date() -> AwsError:
    return AwsError("AccessDenied", "AWS authentication requires a valid Date or x-amz-date header", status=403)


def s3_header_malformed(detail: str, extra: dict[str, str] | None = None) -> AwsError:
    return AwsError("AuthorizationHeaderMalformed", _S3_HEADER_MALFORMED + detail, status=400, extra=extra or {})


def s3_query_error(message: str, extra: dict[str, str] | None = None) -> AwsError:
    return AwsError("AuthorizationQueryParametersError", message, status=400, extra=extra or {})


def s3_three_components() -> AwsError:
    return s3_header_malformed(
        "the authorization header requires three components: Credential, SignedHeaders, and Signature."
    )


def s3_authorization_without_space(header: str) -> AwsError:
    """An Authorization header with no space between its scheme and its fields (S3's
    words as versitygw's s3err/invalid-argument.go mirrors them)."""
    return AwsError(
        "InvalidArgument",
        "Authorization header is invalid -- one and only one ' ' (space) required.",
        status=400,
        extra={"ArgumentName": "Authorization", "ArgumentValue": header},
    )


def s3_unsupported_authorization(header: str) -> AwsError:
    return AwsError(
        "InvalidArgument",
        "Unsupported Authorization Type",
        status=400,
        extra={"ArgumentName": "Authorization", "ArgumentValue": header},
    )


def s3_sigv2_refused() -> AwsError:
    return AwsError(
        "InvalidRequest",
        "The authorization mechanism you have provided is not supported. Please use AWS4-HMAC-SHA256.",
        status=400,
    )


def s3_one_mechanism(header: str | None) -> AwsError:
    extra = {"ArgumentName": "Authorization"}
    if header:
        extra["ArgumentValue"] = header
    return AwsError(
        "InvalidArgument",
        "Only one auth mechanism allowed; only the X-Amz-Algorithm query parameter, "
        "Signature query string parameter or the Authorization header should be specified",
        status=400,
        extra=extra,
    )


def s3_credential_fault(
    credential: str, presigned: bool, regions: frozenset[str], service: str = "s3"
) -> AwsError | None:
    """What S3 says about a credential scope that is not `AKID/date/region/s3/aws4_request`."""
    parts = credential.split("/")
    if len(parts) != 5:
        detail, extra = _S3_CREDENTIAL_FORMAT, None
    elif not parts[2]:
        detail, extra = "a non-empty region must be provided in the credential.", None
    elif parts[2] not in regions:
        expected = expected_region(regions)
        detail, extra = f"the region '{parts[2]}' is wrong; expecting '{expected}'", {"Region": expected}
    elif parts[3] != service:
        detail, extra = f'incorrect service "{parts[3]}". This endpoint belongs to "{service}".', None
    elif parts[4] != "aws4_request":
        detail, extra = f'incorrect terminal "{parts[4]}". This endpoint uses "aws4_request".', None
    elif not _is_yyyymmdd(parts[1]):
        detail = f'incorrect date format "{parts[1]}". This date in the credential must be in the format "yyyyMMdd".'
        extra = None
    else:
        return None
    if presigned:
        return s3_query_error(_S3_QUERY_CREDENTIAL + detail, extra)
    return s3_header_malformed(detail, extra)


@lru_cache(maxsize=64)  # every request of a day names the same date: once, not per request
def _is_yyyymmdd(text: str) -> bool:
    if len(text) != 8 or not (text.isascii() and text.isdigit()):
        return False
    try:
        datetime(int(text[:4]), int(text[4:6]), int(text[6:]))
    except ValueError:
        return False
    return True


def s3_malformed_component(component: str) -> AwsError:
    """A part of S3's Authorization header that is not `name=value`."""
    return s3_header_malformed(f'the authorization component "{component}" is malformed.')


def s3_missing_component(name: str) -> AwsError:
    """Three parts, but not the one named `name` (Credential, SignedHeaders, Signature)."""
    return s3_header_malformed(f"missing {name}.")


def expected_region(regions: frozenset[str]) -> str:
    return "us-east-1" if "us-east-1" in regions else min(regions)


def incomplete_header(style: Style, header: str, missing: list[str], has_date: bool) -> AwsError:
    """Coral's word for an Authorization header lacking parts (any scheme but SigV4's)."""
    parts = [f"Authorization header requires '{name}' parameter. " for name in missing]
    if not has_date:
        parts.append("Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header. ")
    message = "".join(parts) + f"Authorization={header}"
    return _coral(style, "IncompleteSignature", message, 400)


def incomplete_pair(style: Style, pair: str, header: str) -> AwsError:
    message = f"'{pair}' not a valid key=value pair (missing equal-sign) in Authorization header: '{header}'."
    return _coral(style, "IncompleteSignature", message, 400)


def incomplete_query(style: Style, missing: list[str]) -> AwsError:
    names = ", ".join(f"'{name}'" for name in missing)
    message = f"AWS query-string parameters must include {names}. Re-examine the query-string parameters."
    return _coral(style, "IncompleteSignature", message, 400)


def presign_too_long(style: Style) -> AwsError:
    message = ("X-Amz-Expires must be less than a week (in seconds); that is, the given X-Amz-Expires must be "
               "less than 604800 seconds")
    if style is Style.S3:
        return s3_query_error(message)
    # S3's wording in the service's own error document (other services' is not recorded).
    return _coral(style, "IncompleteSignature", message, 400)


def incomplete_credential(style: Style, credential: str) -> AwsError:
    message = (
        "Credential must have exactly 5 slash-delimited elements, "
        f"e.g. keyid/date/region/service/term, got '{credential}'"
    )
    return _coral(style, "IncompleteSignature", message, 400)


def coral_scope_fault(style: Style, region: str, service: str, terminal: str, region_ok: bool, expected_service: str) -> AwsError | None:
    """Coral lists every wrong part of the scope in one message."""
    parts = []
    if not region_ok:
        if _REGION_SHAPE.match(region):
            parts.append("Credential should be scoped to a valid region. ")
        else:
            parts.append(f"Credential should be scoped to a valid region, not '{region}'. ")
    if service != expected_service:
        parts.append(f"Credential should be scoped to correct service: '{expected_service}'. ")
    if terminal != "aws4_request":
        parts.append(f"Credential should be scoped with a valid terminator: 'aws4_request', not '{terminal}'. ")
    if not parts:
        return None
    return _coral(style, "SignatureDoesNotMatch", "".join(parts), 403)


def scope_date_mismatch(style: Style, scope_date: str, amz_date: str) -> AwsError:
    if style is Style.S3:
        return s3_header_malformed("Invalid credential date. Date is not the same as X-Amz-Date.")
    message = (
        "Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from HTTP: "
        f"'{scope_date}' != '{amz_date[:8]}', from '{amz_date}'."
    )
    return _coral(style, "SignatureDoesNotMatch", message, 403)


def s3_query_scope_date(scope_date: str, amz_date: str) -> AwsError:
    return s3_query_error(
        f'Invalid credential date "{scope_date}". This date is not the same as X-Amz-Date: "{amz_date[:8]}".'
    )


def host_not_signed(style: Style) -> AwsError:
    """A coral service's answer when SignedHeaders leaves out Host (S3 answers with
    `unsigned_headers`)."""
    return _coral(style, "SignatureDoesNotMatch",
                  "'Host' or ':authority' must be a 'SignedHeader' in the AWS Authorization.", 403)


def unsigned_headers(names: list[str]) -> AwsError:
    return AwsError(
        "AccessDenied",
        "There were headers present in the request which were not signed",
        status=403,
        extra={"HeadersNotSigned": ", ".join(names)},
    )


# --- payloads (S3) ------------------------------------------------------------------


def missing_content_sha256() -> AwsError:
    return AwsError("InvalidRequest", "Missing required header for this request: x-amz-content-sha256", status=400)


def invalid_content_sha256(value: str) -> AwsError:
    return AwsError(
        "InvalidArgument",
        "x-amz-content-sha256 must be UNSIGNED-PAYLOAD, STREAMING-UNSIGNED-PAYLOAD-TRAILER, "
        "STREAMING-AWS4-HMAC-SHA256-PAYLOAD, STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER, "
        "STREAMING-AWS4-ECDSA-P256-SHA256-PAYLOAD, STREAMING-AWS4-ECDSA-P256-SHA256-PAYLOAD-TRAILER "
        "or a valid sha256 value.",
        status=400,
        extra={"ArgumentName": "x-amz-content-sha256", "ArgumentValue": value},
    )


def content_sha256_mismatch(client: str, computed: str) -> AwsError:
    return AwsError(
        "XAmzContentSHA256Mismatch",
        "The provided 'x-amz-content-sha256' header does not match what was computed.",
        status=400,
        extra={"ClientComputedContentSHA256": client, "S3ComputedContentSHA256": computed},
    )


def invalid_digest(value: str) -> AwsError:
    return AwsError("InvalidDigest", "The Content-MD5 you specified was invalid.", status=400, extra={"Content-MD5": value})


def bad_digest(expected: str, calculated: str) -> AwsError:
    return AwsError(
        "BadDigest",
        "The Content-MD5 you specified did not match what we received.",
        status=400,
        extra={"ExpectedDigest": expected, "CalculatedDigest": calculated},
    )


def bad_checksum(algorithm: str) -> AwsError:
    return AwsError("BadDigest", f"The {algorithm.upper()} you specified did not match the calculated checksum.", status=400)


def invalid_checksum_value(name: str, trailer: bool) -> AwsError:
    where = "trailing header" if trailer else "header"
    return AwsError("InvalidRequest", f"Value for {name} {where} is invalid.", status=400)


def missing_decoded_length() -> AwsError:
    return AwsError("MissingContentLength", "You must provide the Content-Length HTTP header.", status=411)


def incomplete_body() -> AwsError:
    return AwsError(
        "IncompleteBody",
        "You did not provide the number of bytes specified by the Content-Length HTTP header.",
        status=400,
    )


def request_timeout() -> AwsError:
    # S3 answers this when an upload's body stops arriving for 20 seconds.
    return AwsError(
        "RequestTimeout",
        "Your socket connection to the server was not read from or written to within the timeout period. "
        "Idle connections will be closed.",
        status=400,
    )


def malformed_chunk() -> AwsError:
    # S3 has no dedicated code for broken aws-chunked framing; it answers IncompleteBody.
    return incomplete_body()


def missing_trailer(name: str) -> AwsError:
    return AwsError("InvalidRequest", f"The trailing header {name} was declared but not sent.", status=400)


# --- browser POST -------------------------------------------------------------------


def post_policy_denied(detail: str) -> AwsError:
    return AwsError("AccessDenied", f"Invalid according to Policy: {detail}", status=403)
