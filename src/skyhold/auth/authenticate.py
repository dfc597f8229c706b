"""Who is calling: verify a request's SigV4 signature against the caller's secret.

Checks run in the order AWS answers them, so that a request with two faults gets the
error AWS would give:
- S3: signature shape → time (skew, or a presigned URL's validity) → credential scope
  → scope date → access key → signature → unsigned x-amz-* headers (before the
  signature for a presigned URL) → session token.
- query/JSON services: shape → scope → scope date → time → access key → signature →
  session token.
Then the body: its hash (x-amz-content-sha256), Content-MD5, or aws-chunked framing.
"""

from __future__ import annotations

import hmac
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from skyhold import clock
from skyhold.auth import checksums, errors, sigv4
from skyhold.auth.chunked import ChunkedDecoder
from skyhold.auth.credentials import Credential, CredentialLookup
from skyhold.auth.errors import MAX_SKEW, Style
from skyhold.auth.payload import PayloadVerifier
from skyhold.auth.sigv4 import SigV4Info
from skyhold.errors import AwsError
from skyhold.wire.http import HttpRequest

BodyVerifier = ChunkedDecoder | PayloadVerifier
_SKEW = MAX_SKEW.total_seconds()


@dataclass
class AuthResult:
    credential: Credential | None  # None = anonymous (S3 only)
    info: SigV4Info | None
    # Feed the streamed body through it (`feed(raw) -> verified bytes`, `finish()`);
    # None when the body was already verified (req.body was bytes) or needs no check.
    body_verifier: BodyVerifier | None = None
    # aws-chunked trailers of a body decoded here (e.g. x-amz-checksum-crc32).
    trailers: dict[str, str] = field(default_factory=dict)


def authenticate(
    req: HttpRequest,
    lookup: CredentialLookup,
    *,
    service: str,
    regions: frozenset[str],
    s3: bool,
    protocol: str | None = None,
    now: datetime | None = None,
) -> AuthResult:
    """Verify `req`; raise AwsError in the words of the service family (see errors.py).

    `service` is the signing name the request was routed to; `protocol` (the botocore
    model's, optional) picks coral JSON error names for json/rest-json services; `now`
    replaces the wall clock for the skew check (tests replaying recorded requests)."""
    style = errors.style_for(s3, protocol)
    info = sigv4.extract_sigv4(req, s3=s3, style=style)
    if info is None:
        if not s3:
            raise errors.missing_authentication(style)
        return _with_body(req, None, None, s3)  # S3's anonymous caller
    if s3:
        _check_time(info, style, now)
        fault = errors.s3_credential_fault(
            f"{info.access_key_id}/{info.scope}", info.presigned, regions, service
        )
        if fault is not None:
            raise fault
        if info.date != info.amz_date_text[:8]:
            if info.presigned:
                raise errors.s3_query_scope_date(info.date, info.amz_date_text)
            raise errors.scope_date_mismatch(style, info.date, info.amz_date_text)
        _check_payload_mode(info)
    else:
        if info.service != service or info.region not in regions or info.terminal != sigv4.TERMINATOR:
            fault = errors.coral_scope_fault(
                style, info.region, info.service, info.terminal, info.region in regions, service
            )
            if fault is not None:
                raise fault
        if info.date != info.amz_date_text[:8]:
            raise errors.scope_date_mismatch(style, info.date, info.amz_date_text)
        _check_time(info, style, now)
        if "host" not in info.signed_headers:
            # Host must be signed (SigV4 guide): else a signature replays against another endpoint.
            raise errors.host_not_signed(style)
    credential = lookup(info.access_key_id)
    if credential is None or not credential.active or (s3 and credential.temporary and not info.session_token):
        # S3 knows a temporary key only with its session token: without one it is a key
        # that "does not exist in our records" (answers quoted in databend#8069, ex_aws#37).
        raise errors.unknown_access_key(style, info.access_key_id)
    key = sigv4.signing_key(credential.secret_access_key, info.date, info.region, info.service)
    if s3 and info.presigned:
        # A presigned URL's unsigned x-amz-* headers are refused before its signature
        # is checked (S3 answers HeadersNotSigned even when the signature is also wrong).
        _check_all_amz_headers_signed(req, info)
    _check_signature(req, info, key, style, s3)
    if s3 and not info.presigned:
        _check_all_amz_headers_signed(req, info)
    _check_session(credential, info, style)
    return _with_body(req, info, key if info.payload_hash in sigv4.STREAMING_PAYLOADS else None, s3, credential)


# --- the checks -----------------------------------------------------------------------


def _check_time(info: SigV4Info, style: Style, now: datetime | None) -> None:
    """Skew against the wall clock (clients sign with real time); a presigned URL's
    life against its age on Skyhold's clock: its wall age plus how far the clock was
    moved forward since it was signed. `now`: the moment, for a test replaying a
    recorded request (Skyhold's clock is not consulted then).

    Only S3 honours X-Amz-Expires: every other service gives a presigned URL the fixed
    15 minutes of any signature, whatever it asks for (the AWS SDK for Go's Presign
    documentation, aws-sdk-go#2224; EKS tokens, presigned for 60 s, live 15 minutes)."""
    signed = info.amz_date.timestamp()
    wall = time.time() if now is None else now.timestamp()
    ahead = signed - wall  # seconds the request claims to be ahead
    if not info.presigned:
        if ahead > _SKEW or -ahead > _SKEW:
            raise errors.skewed(style, info.amz_date_text, info.amz_date, _wall(now))
        return
    moved = 0.0 if now is not None else clock.advanced_since(signed)
    expires = info.expires
    if expires is None or style is not Style.S3:  # the fixed 15 minutes, aged on Skyhold's clock too
        if ahead > _SKEW or moved - ahead > _SKEW:
            raise errors.skewed(style, info.amz_date_text, info.amz_date, _wall(now) + timedelta(seconds=moved))
        return
    if ahead > _SKEW:
        raise errors.presign_not_yet_valid(info.amz_date, expires, _wall(now))
    if moved - ahead > expires:
        # ServerTime: the URL's moment on Skyhold's clock, so it is past Expires.
        raise errors.presign_expired(str(expires), info.amz_date, expires,
                                     _wall(now) + timedelta(seconds=moved))


def _wall(now: datetime | None) -> datetime:
    return now or clock.wall_now()


def _check_payload_mode(info: SigV4Info) -> None:
    value = info.payload_hash
    if value == sigv4.UNSIGNED_PAYLOAD or value in sigv4.STREAMING_PAYLOADS or sigv4.is_sha256_hex(value):
        return
    raise errors.invalid_content_sha256(value)


def _check_signature(req: HttpRequest, info: SigV4Info, key: bytes, style: Style, s3: bool) -> None:
    signature, canonical, to_sign = sigv4.expected_signature(req, info, key, s3=s3)
    if hmac.compare_digest(signature, info.signature):
        return
    if info.presigned and info.session_token is not None:
        # Some signers (IoT's, aws-c-auth's omit_session_token) add the token to the
        # query after signing; AWS accepts either form.
        bare, _, _ = sigv4.expected_signature(req, info, key, s3=s3, include_token=False)
        if hmac.compare_digest(bare, info.signature):
            return
    raise errors.signature_mismatch(style, info.access_key_id, info.signature, to_sign, canonical)


def _check_all_amz_headers_signed(req: HttpRequest, info: SigV4Info) -> None:
    # S3 refuses x-amz-* headers that ride along unsigned (they change what S3 does:
    # encryption, ACLs, copy sources), rather than letting a proxy inject them, and an
    # unsigned Host (a virtual-hosted bucket's signature would replay on another).
    signed = info.signed_headers
    unsigned = [h for h in req.headers if (h.startswith("x-amz-") or h == "host") and h not in signed]
    if info.presigned:
        unsigned = [h for h in unsigned if h != "x-amz-content-sha256"]
    if unsigned:
        raise errors.unsigned_headers(unsigned)


def _check_session(credential: Credential, info: SigV4Info, style: Style) -> None:
    presented = info.session_token
    if not credential.temporary:
        if presented:
            raise errors.invalid_token(style, presented)
        return
    if not credential.token_matches(presented):
        raise errors.invalid_token(style, presented)
    if credential.expiration is not None and credential.expiration <= clock.now():
        raise errors.expired_token(style, presented)


# --- the body -------------------------------------------------------------------------


def _with_body(
    req: HttpRequest,
    info: SigV4Info | None,
    key: bytes | None,
    s3: bool,
    credential: Credential | None = None,
) -> AuthResult:
    if not s3:  # other services' payload hash was part of the signature itself
        return AuthResult(credential, info)
    headers = req.headers
    mode = info.payload_hash if info is not None else headers.get("x-amz-content-sha256", sigv4.UNSIGNED_PAYLOAD)
    md5 = headers.get("content-md5")
    verifier: BodyVerifier | None
    if mode in sigv4.STREAMING_PAYLOADS:
        verifier = _chunked(headers, info, key, mode, md5)
    else:
        expected = mode if info is not None and mode != sigv4.UNSIGNED_PAYLOAD else None
        if md5 is None and (expected is None or (expected == sigv4.EMPTY_SHA256 and req.body == b"")):
            return AuthResult(credential, info)  # nothing to check (GETs: no body, signed as none)
        verifier = PayloadVerifier(expected_sha256=expected, content_md5=md5)
    body = req.body
    if body is None:
        return AuthResult(credential, info, verifier)
    decoded = verifier.feed(body)
    trailers = verifier.finish()
    if isinstance(verifier, ChunkedDecoder):
        req.body = decoded
    return AuthResult(credential, info, None, trailers)


def _chunked(
    headers: dict[str, str], info: SigV4Info | None, key: bytes | None, mode: str, md5: str | None
) -> ChunkedDecoder:
    declared_text = headers.get("x-amz-decoded-content-length")
    declared: int | None = None
    if declared_text is not None:
        try:
            declared = int(declared_text)
        except ValueError:
            raise errors.missing_decoded_length() from None
    elif mode != sigv4.STREAMING_UNSIGNED_TRAILER:
        raise errors.missing_decoded_length()
    trailer_alg = None
    trailer_names = [t.strip().lower() for t in headers.get("x-amz-trailer", "").split(",") if t.strip()]
    for name in trailer_names:
        alg = _checksum_algorithm(name)
        if alg is not None:
            trailer_alg = alg
    if mode != sigv4.STREAMING_UNSIGNED_TRAILER and (info is None or key is None):
        raise errors.missing_content_sha256()  # signed chunks without a signature to chain from
    return ChunkedDecoder(
        mode,
        verifier=PayloadVerifier(content_md5=md5, trailer_algorithm=trailer_alg),
        decoded_length=declared,
        signing_key=key,
        seed_signature=info.signature if info else "",
        amz_date=info.amz_date_text if info else "",
        scope=info.scope if info else "",
        access_key_id=info.access_key_id if info else "",
    )


def _checksum_algorithm(name: str) -> str | None:
    alg = checksums.algorithm_of(name)
    if alg is None and name.startswith(checksums.PREFIX):
        raise AwsError("InvalidRequest", "The value specified in the x-amz-trailer header is not supported", status=400)
    return alg
