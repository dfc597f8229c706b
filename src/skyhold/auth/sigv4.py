"""AWS Signature Version 4: canonicalization, signing math and reading a request's signature.

Pure functions, no credential lookup: `authenticate.py` decides who is calling; this
module says what a request's signature claims and what it should have been. Tests use
the same functions to SIGN requests (`sign_headers`, `presign_query`).

Two path rules (AWS's "canonical URI"):
- S3 signs the path as sent, each segment URI-encoded once and never normalized
  (`/a//b/../c` stays so: object keys may contain any of that).
- Every other service removes dot segments and empty segments, then URI-encodes the
  already-encoded path again ("double encoding": `%3A` on the wire signs as `%253A`).
"""

from __future__ import annotations

import hashlib
import hmac
import re
from dataclasses import dataclass, field
from datetime import datetime, timezone
from email.utils import parsedate_to_datetime
from functools import lru_cache
from urllib.parse import quote, unquote, unquote_to_bytes

from skyhold.auth import errors
from skyhold.auth.errors import Style
from skyhold.wire.http import HttpRequest

ALGORITHM = "AWS4-HMAC-SHA256"
TERMINATOR = "aws4_request"
EMPTY_SHA256 = hashlib.sha256(b"").hexdigest()
UNSIGNED_PAYLOAD = "UNSIGNED-PAYLOAD"
STREAMING_SIGNED = "STREAMING-AWS4-HMAC-SHA256-PAYLOAD"
STREAMING_SIGNED_TRAILER = "STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER"
STREAMING_UNSIGNED_TRAILER = "STREAMING-UNSIGNED-PAYLOAD-TRAILER"
STREAMING_PAYLOADS = frozenset({STREAMING_SIGNED, STREAMING_SIGNED_TRAILER, STREAMING_UNSIGNED_TRAILER})
MAX_PRESIGN_EXPIRES = 604800  # seven days: a signing key is valid for no longer

_PRESIGN_PARAMS = ("X-Amz-Algorithm", "X-Amz-Credential", "X-Amz-Signature", "X-Amz-Date", "X-Amz-SignedHeaders")
_PLAIN = re.compile(r"[A-Za-z0-9\-._~/]*\Z")
_HEX64 = re.compile(r"[0-9a-f]{64}\Z")


@dataclass(slots=True)
class SigV4Info:
    """What a request's signature claims (not yet verified)."""

    access_key_id: str
    date: str  # YYYYMMDD of the credential scope
    region: str
    service: str
    signed_headers: list[str]
    signature: str
    amz_date: datetime
    presigned: bool
    expires: int | None
    session_token: str | None
    # x-amz-content-sha256 as sent, or the body's hash, or "UNSIGNED-PAYLOAD".
    payload_hash: str
    amz_date_text: str = ""
    terminal: str = TERMINATOR
    # Decoded query pairs, kept so canonicalization does not parse the query twice.
    query_pairs: list[tuple[str, str]] = field(default_factory=list, repr=False)
    # "date/region/service/terminal": the credential after the access key id.
    scope: str = ""


# --- signing math -------------------------------------------------------------------


@lru_cache(maxsize=4096)
def signing_key(secret: str, date: str, region: str, service: str) -> bytes:
    """kSigning = HMAC(HMAC(HMAC(HMAC("AWS4"+secret, date), region), service), "aws4_request").

    Cached: it is the same for every request of a key on a day, and it is four HMACs."""
    k = hmac_sha256(("AWS4" + secret).encode("utf-8"), date.encode("utf-8"))
    k = hmac_sha256(k, region.encode("utf-8"))
    k = hmac_sha256(k, service.encode("utf-8"))
    return hmac_sha256(k, TERMINATOR.encode("utf-8"))


def hmac_sha256(key: bytes, message: bytes) -> bytes:
    # The one-shot form: no HMAC object. (It releases the GIL; the server's other
    # threads wait on events or the disk, so taking it back costs nothing.)
    return hmac.digest(key, message, "sha256")


def sign(key: bytes, string_to_sign: str) -> str:
    """HMAC-SHA256 as hex, from the key's padded hash states: a signing key signs every
    request of its day, and hashing its two pads once saves half of each HMAC's work
    (hmac.digest sets up a fresh OpenSSL HMAC context on every call)."""
    inner, outer = _pads(key)
    digest = inner.copy()
    digest.update(string_to_sign.encode("utf-8"))
    final = outer.copy()
    final.update(digest.digest())
    return final.hexdigest()


@lru_cache(maxsize=4096)
def _pads(key: bytes) -> tuple[hashlib._Hash, hashlib._Hash]:
    if len(key) > 64:  # HMAC's rule for keys longer than a block (SigV4's are 32 bytes)
        key = hashlib.sha256(key).digest()
    block = key.ljust(64, b"\0")
    return (hashlib.sha256(bytes(b ^ 0x36 for b in block)), hashlib.sha256(bytes(b ^ 0x5C for b in block)))


def string_to_sign(amz_date: str, scope: str, canonical_request: str) -> str:
    digest = hashlib.sha256(canonical_request.encode("utf-8", "surrogateescape")).hexdigest()
    return f"{ALGORITHM}\n{amz_date}\n{scope}\n{digest}"


# --- canonicalization ---------------------------------------------------------------


def canonical_uri(path: str, *, s3: bool) -> str:
    if not path or path == "/":
        return "/"
    if s3:
        if _PLAIN.match(path):
            return path
        # Decode each segment to bytes and encode it once, AWS's way; a %2F inside a
        # segment stays encoded because we split on the literal slashes only.
        return "/".join(quote(unquote_to_bytes(seg), safe="") for seg in path.split("/"))
    normalized = normalize_path(path)
    if _PLAIN.match(normalized):
        return normalized
    return quote(normalized, safe="/", errors="surrogateescape")  # encodes '%' too: the second encoding


def normalize_path(path: str) -> str:
    """RFC 3986 dot-segment removal, plus dropping empty segments as AWS does."""
    if "/." not in path and "//" not in path:
        return path or "/"
    out: list[str] = []
    for seg in path.split("/"):
        if seg == "..":
            if out:
                out.pop()
        elif seg and seg != ".":
            out.append(seg)
    trailing = "/" if path.endswith("/") and out else ""
    return "/" + "/".join(out) + trailing


def parse_query(query: str) -> list[tuple[str, str]]:
    """Decoded (name, value) pairs in wire order; '+' is a literal plus, as SigV4 reads it."""
    if not query:
        return []
    pairs = []
    for part in query.split("&"):
        if not part:
            continue
        name, _, value = part.partition("=")
        pairs.append((_decode(name), _decode(value)))
    return pairs


def _decode(text: str) -> str:
    # surrogateescape keeps bytes that are not UTF-8 so that re-encoding restores them.
    return unquote(text, errors="surrogateescape") if "%" in text else text


def _encode(text: str) -> str:
    return quote(text, safe="-_.~", errors="surrogateescape")


def canonical_query(pairs: list[tuple[str, str]], *, exclude: str | None = None) -> str:
    if not pairs:
        return ""
    encoded = sorted((_encode(name), _encode(value)) for name, value in pairs if name != exclude)
    return "&".join(f"{n}={v}" for n, v in encoded)


def _signed_text(value: str) -> str:
    """A header value read off the wire (its bytes as Latin-1) as the text a client signed:
    those bytes in UTF-8 (botocore signs a str header, sent UTF-8-encoded). Invalid UTF-8
    stays distinct, as surrogates, so no two byte strings sign alike."""
    try:
        raw = value.encode("latin-1")
    except UnicodeEncodeError:  # not from the wire: already text
        return value
    return raw.decode("utf-8", "surrogateescape")


def canonical_headers(headers: dict[str, str], signed: list[str]) -> str:
    # Trimall: outer whitespace removed, inner runs (folded lines too) become one space.
    lines = []
    for name in signed:
        value = headers.get(name, "")
        if not value.isascii():
            value = _signed_text(value)
        lines.append(f"{name}:{' '.join(value.split())}\n")
    return "".join(lines)


def canonical_request(
    method: str,
    path: str,
    query: str,
    headers: dict[str, str],
    signed_headers: list[str],
    payload_hash: str,
    *,
    s3: bool,
    pairs: list[tuple[str, str]] | None = None,
    exclude_param: str | None = None,
) -> str:
    if pairs is None:
        pairs = parse_query(query)
    return "\n".join(
        (
            method.upper(),
            canonical_uri(path, s3=s3),
            canonical_query(pairs, exclude=exclude_param),
            canonical_headers(headers, signed_headers),
            ";".join(signed_headers),
            payload_hash,
        )
    )


# --- reading the signature off a request --------------------------------------------


def scope_service(req: HttpRequest) -> str | None:
    """The service named by the credential scope, without validating anything (routing)."""
    auth = req.headers.get("authorization")
    if auth:
        if (usual := _usual_authorization(auth)) is not None:
            parts = usual[1].split("/")
            return parts[3] if len(parts) == 5 else None
        at = auth.find("Credential=")
        if at < 0:
            return None
        end = auth.find(",", at)
        cred = auth[at + 11 : end if end >= 0 else len(auth)].strip()
    else:
        q = req.query
        at = q.find("X-Amz-Credential=")
        if at < 0:
            return None
        end = q.find("&", at)
        cred = unquote(q[at + 17 : end if end >= 0 else len(q)])
    parts = cred.split("/")
    return parts[3] if len(parts) == 5 else None


@lru_cache(maxsize=256)
def parse_amz_date(text: str) -> datetime | None:
    """`YYYYMMDDTHHMMSSZ`, parsed by hand: strptime costs more than the whole HMAC.

    Cached: every request signed in the same second carries the same text."""
    if len(text) != 16 or text[8] != "T" or text[15] != "Z":
        return None
    digits = text[:8] + text[9:15]
    if not digits.isdigit():
        return None
    try:
        return datetime(
            int(text[0:4]), int(text[4:6]), int(text[6:8]),
            int(text[9:11]), int(text[11:13]), int(text[13:15]), tzinfo=timezone.utc,
        )
    except ValueError:
        return None


def _request_date(headers: dict[str, str]) -> tuple[str, datetime] | None:
    """(ISO basic text, time) from X-Amz-Date, else from an RFC 1123 Date header."""
    text = headers.get("x-amz-date")
    if text is not None:
        when = parse_amz_date(text)
        return (text, when) if when else None
    date = headers.get("date")
    if not date:
        return None
    try:
        when = parsedate_to_datetime(date).astimezone(timezone.utc)
    except (TypeError, ValueError, OverflowError):  # OverflowError: a zone past year 9999 or before 1
        return None
    return when.strftime("%Y%m%dT%H%M%SZ"), when


# The Authorization header as every SDK writes it; anything else takes the general
# parser below, which also words the errors. Its parts hold no whitespace (`\s`).
_USUAL_AUTHORIZATION = re.compile(
    r"AWS4-HMAC-SHA256 Credential=([^\s,=]+), ?SignedHeaders=([^\s,=]+), ?Signature=([^\s,=]+)\Z")
# The same for an ASCII header (as good as every one), with `\s` spelled out as it is
# in ASCII: a class of ASCII characters only matches twice as fast.
_NOT_SPACE = r"[^\t\n\x0b\x0c\r\x1c-\x1f ,=]+"
_USUAL_ASCII_AUTHORIZATION = re.compile(
    rf"AWS4-HMAC-SHA256 Credential=({_NOT_SPACE}), ?SignedHeaders=({_NOT_SPACE}), ?Signature=({_NOT_SPACE})\Z")


_last_usual: tuple[str, re.Match[str] | None] = ("", None)


def _usual_authorization(header: str) -> re.Match[str] | None:
    """The usual header's parts; routing and verification both read them, so the last
    header's are kept (the same header object, the same answer)."""
    global _last_usual
    text, match = _last_usual
    if text is not header:
        usual = _USUAL_ASCII_AUTHORIZATION if header.isascii() else _USUAL_AUTHORIZATION
        match = usual.match(header)
        _last_usual = (header, match)
    return match


def _split_authorization(header: str, style: Style) -> tuple[str, dict[str, str]]:
    """Any other header's scheme and fields (the usual one is matched whole)."""
    scheme, _, rest = header.strip().partition(" ")
    fields: dict[str, str] = {}
    if scheme != ALGORITHM:
        return scheme, fields  # another scheme (Bearer, SigV2): reported as all parts missing
    parts = [part.strip() for part in rest.split(",") if part.strip()]
    s3 = style is Style.S3
    if s3 and len(parts) != 3:
        raise errors.s3_three_components()
    for part in parts:
        name, eq, value = part.partition("=")
        if not eq:
            if s3:
                raise errors.s3_malformed_component(part)
            raise errors.incomplete_pair(style, part, header)
        fields[name.strip()] = value.strip()
    if s3:
        # Three parts, one of them misnamed: S3 names the one it misses.
        for name in ("Credential", "SignedHeaders", "Signature"):
            if name not in fields:
                raise errors.s3_missing_component(name)
    return scheme, fields


def extract_sigv4(req: HttpRequest, *, s3: bool, style: Style | None = None) -> SigV4Info | None:
    """What the request's SigV4 signature claims; None when it carries no signature at all.

    Raises AwsError (in S3's or coral's words; `style`, else S3's or the query
    services') when a signature is present but malformed. Time, scope region/service
    and the key itself are checked by `authenticate`."""
    if style is None:
        style = errors.style_for(s3)
    header = req.headers.get("authorization")
    query = req.query
    pairs = parse_query(query) if query else []
    params = dict(pairs) if pairs else {}
    if header is not None:
        if s3 and ("X-Amz-Algorithm" in params or "Signature" in params):
            raise errors.s3_one_mechanism(header)
        return _from_header(req, header, style, pairs)
    if "X-Amz-Algorithm" in params or (not s3 and "X-Amz-Credential" in params):
        if s3 and "Signature" in params:
            raise errors.s3_one_mechanism(None)
        return _from_query(req, params, style, pairs)
    if s3 and "Signature" in params and "AWSAccessKeyId" in params:
        raise errors.s3_sigv2_refused()
    return None


def _from_header(req: HttpRequest, header: str, style: Style, pairs: list[tuple[str, str]]) -> SigV4Info:
    s3 = style is Style.S3
    if s3:
        scheme, space, _ = header.partition(" ")
        if not space:
            raise errors.s3_authorization_without_space(header)
        if scheme == "AWS":
            raise errors.s3_sigv2_refused()
        if scheme.upper() != ALGORITHM:
            raise errors.s3_unsupported_authorization(header)
    usual = _usual_authorization(header)
    if usual is not None:  # as every SDK writes it
        scheme = ALGORITHM
        credential, signed, signature = usual.groups()
    else:
        scheme, fields = _split_authorization(header, style)
        credential = fields.get("Credential")
        signed = fields.get("SignedHeaders")
        signature = fields.get("Signature")
    dated = _request_date(req.headers)
    if s3 and dated is None:
        raise errors.s3_no_date()
    if scheme != ALGORITHM or not credential or not signed or not signature or dated is None:
        if s3:
            raise errors.s3_three_components()
        missing = [n for n, v in (("Credential", credential), ("Signature", signature), ("SignedHeaders", signed)) if not v]
        if scheme != ALGORITHM:
            missing = ["Credential", "Signature", "SignedHeaders"]
        raise errors.incomplete_header(style, header, missing, dated is not None)
    parts = credential.split("/")
    if len(parts) != 5:
        if s3:
            raise errors.s3_header_malformed(
                'the Credential is mal-formed; expecting "<YOUR-AKID>/YYYYMMDD/REGION/SERVICE/aws4_request".'
            )
        raise errors.incomplete_credential(style, credential)
    amz_text, amz_date = dated
    headers = req.headers
    if s3:
        payload = headers.get("x-amz-content-sha256")
        if payload is None:
            raise errors.missing_content_sha256()
    else:
        payload = _body_hash(req)
    return SigV4Info(
        access_key_id=parts[0],
        date=parts[1],
        region=parts[2],
        service=parts[3],
        signed_headers=signed.split(";"),
        signature=signature,
        amz_date=amz_date,
        presigned=False,
        expires=None,
        session_token=headers.get("x-amz-security-token"),
        payload_hash=payload,
        amz_date_text=amz_text,
        terminal=parts[4],
        query_pairs=pairs,
        scope=credential.partition("/")[2],
    )


def _from_query(req: HttpRequest, params: dict[str, str], style: Style, pairs: list[tuple[str, str]]) -> SigV4Info:
    s3 = style is Style.S3
    if s3:
        if params.get("X-Amz-Algorithm") != ALGORITHM:
            raise errors.s3_query_error('X-Amz-Algorithm only supports "AWS4-HMAC-SHA256 and AWS4-ECDSA-P256-SHA256"')
        if any(name not in params for name in _PRESIGN_PARAMS) or "X-Amz-Expires" not in params:
            raise errors.s3_query_error(
                "Query-string authentication version 4 requires the X-Amz-Algorithm, X-Amz-Credential, "
                "X-Amz-Signature, X-Amz-Date, X-Amz-SignedHeaders, and X-Amz-Expires parameters."
            )
    else:
        missing = [name for name in _PRESIGN_PARAMS if not params.get(name)]
        if missing:
            raise errors.incomplete_query(style, missing)
    amz_text = params["X-Amz-Date"]
    amz_date = parse_amz_date(amz_text)
    if amz_date is None:
        if s3:
            raise errors.s3_query_error("X-Amz-Date must be in the ISO8601 Long Format \"yyyyMMdd'T'HHmmss'Z'\"")
        raise errors.incomplete_query(style, ["X-Amz-Date"])
    expires: int | None = None
    expires_text = params.get("X-Amz-Expires")
    if expires_text is not None:
        # ASCII digits only: int() would also take "1_0", "+5", " 7" and other scripts' digits.
        digits = expires_text[1:] if expires_text[:1] == "-" else expires_text
        if not (digits.isascii() and digits.isdigit()):
            raise errors.s3_query_error("X-Amz-Expires should be a number") if s3 else errors.incomplete_query(
                style, ["X-Amz-Expires"]
            )
        if len(digits) > len(str(MAX_PRESIGN_EXPIRES)):  # past a week either way (and int() refuses 4,300 digits)
            expires = -1 if expires_text[0] == "-" else MAX_PRESIGN_EXPIRES + 1
        else:
            expires = int(expires_text)
        if expires < 0:
            raise errors.s3_query_error("X-Amz-Expires must be non-negative") if s3 else errors.incomplete_query(
                style, ["X-Amz-Expires"]
            )
        if expires > MAX_PRESIGN_EXPIRES:
            raise errors.presign_too_long(style)
    credential = params["X-Amz-Credential"]
    parts = credential.split("/")
    if len(parts) != 5:
        if s3:
            raise errors.s3_query_error(
                'Error parsing the X-Amz-Credential parameter; the Credential is mal-formed; expecting '
                '"<YOUR-AKID>/YYYYMMDD/REGION/SERVICE/aws4_request".'
            )
        raise errors.incomplete_credential(style, credential)
    if s3:
        # A presigned URL cannot know its body; a client may still sign a hash in.
        payload = params.get("X-Amz-Content-Sha256") or UNSIGNED_PAYLOAD
    else:
        payload = _body_hash(req)
    return SigV4Info(
        access_key_id=parts[0],
        date=parts[1],
        region=parts[2],
        service=parts[3],
        signed_headers=params["X-Amz-SignedHeaders"].split(";"),
        signature=params["X-Amz-Signature"],
        amz_date=amz_date,
        presigned=True,
        expires=expires,
        session_token=params.get("X-Amz-Security-Token"),
        payload_hash=payload,
        amz_date_text=amz_text,
        terminal=parts[4],
        query_pairs=pairs,
        scope=credential.partition("/")[2],
    )


def _body_hash(req: HttpRequest) -> str:
    # Non-S3 services hash the body they received, whatever x-amz-content-sha256 says:
    # a lying header then shows up as a signature mismatch.
    body = req.body
    if not body:
        return EMPTY_SHA256
    return hashlib.sha256(body).hexdigest()


def is_sha256_hex(value: str) -> bool:
    return bool(_HEX64.match(value))


def request_canonical(req: HttpRequest, info: SigV4Info, *, s3: bool, include_token: bool = True) -> str:
    """The canonical request the server computes for `req` as `info` describes it."""
    exclude = "X-Amz-Signature" if info.presigned else None
    pairs = info.query_pairs
    if info.presigned and not include_token:
        pairs = [p for p in pairs if p[0] != "X-Amz-Security-Token"]
    return canonical_request(
        req.method, req.path, req.query, req.headers, info.signed_headers, info.payload_hash,
        s3=s3, pairs=pairs, exclude_param=exclude,
    )


def expected_signature(
    req: HttpRequest, info: SigV4Info, key: bytes, *, s3: bool, include_token: bool = True
) -> tuple[str, str, str]:
    """(signature, canonical request, string to sign) the server computes for `req`."""
    canonical = request_canonical(req, info, s3=s3, include_token=include_token)
    to_sign = string_to_sign(info.amz_date_text, info.scope, canonical)
    return sign(key, to_sign), canonical, to_sign


# --- signing (clients and tests) ----------------------------------------------------


def sign_headers(
    req: HttpRequest,
    access_key_id: str,
    secret: str,
    region: str,
    service: str,
    when: datetime,
    *,
    s3: bool,
    session_token: str | None = None,
    payload_hash: str | None = None,
) -> str:
    """Sign `req` in place with an Authorization header (every header present is signed);
    returns the signature."""
    amz = when.astimezone(timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    req.headers["x-amz-date"] = amz
    if session_token:
        req.headers["x-amz-security-token"] = session_token
    if payload_hash is None:
        payload_hash = hashlib.sha256(req.body or b"").hexdigest()
    if s3:
        req.headers.setdefault("x-amz-content-sha256", payload_hash)
        payload_hash = req.headers["x-amz-content-sha256"]
    signed = sorted(h for h in req.headers if h != "authorization")
    scope = f"{amz[:8]}/{region}/{service}/{TERMINATOR}"
    creq = canonical_request(req.method, req.path, req.query, req.headers, signed, payload_hash, s3=s3)
    signature = sign(signing_key(secret, amz[:8], region, service), string_to_sign(amz, scope, creq))
    req.headers["authorization"] = (
        f"{ALGORITHM} Credential={access_key_id}/{scope}, SignedHeaders={';'.join(signed)}, Signature={signature}"
    )
    return signature


def presign_query(
    req: HttpRequest,
    access_key_id: str,
    secret: str,
    region: str,
    service: str,
    when: datetime,
    expires: int,
    *,
    s3: bool,
    session_token: str | None = None,
) -> str:
    """Add X-Amz-* query parameters that presign `req` (host signed); returns the signature."""
    amz = when.astimezone(timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    scope = f"{amz[:8]}/{region}/{service}/{TERMINATOR}"
    signed = sorted(h for h in req.headers if h in ("host",) or h.startswith("x-amz-"))
    params = [
        ("X-Amz-Algorithm", ALGORITHM),
        ("X-Amz-Credential", f"{access_key_id}/{scope}"),
        ("X-Amz-Date", amz),
        ("X-Amz-Expires", str(expires)),
        ("X-Amz-SignedHeaders", ";".join(signed)),
    ]
    if session_token:
        params.append(("X-Amz-Security-Token", session_token))
    extra = "&".join(f"{quote(n, safe='-_.~')}={quote(v, safe='-_.~')}" for n, v in params)
    req.query = f"{req.query}&{extra}" if req.query else extra
    payload = UNSIGNED_PAYLOAD if s3 else hashlib.sha256(req.body or b"").hexdigest()
    creq = canonical_request(req.method, req.path, req.query, req.headers, signed, payload, s3=s3)
    signature = sign(signing_key(secret, amz[:8], region, service), string_to_sign(amz, scope, creq))
    req.query += f"&X-Amz-Signature={signature}"
    return signature
