"""The AWS SigV4 test suites (../shared/conformance/sigv4), run against our verifier.

aws4_testsuite (botocore's copy, 34 cases) and aws-signing-test-suite/v4 (aws-c-auth's,
38 cases, header and presigned variants). For each case: our canonical request and
string to sign equal AWS's, `authenticate` accepts the signed request at the case's
time, and tampering with the signature, a signed header or the body is refused.
"""

from __future__ import annotations

import copy
import hashlib
import json
from datetime import datetime, timezone
from pathlib import Path

import pytest

from skyhold.auth import sigv4
from skyhold.auth.authenticate import authenticate
from skyhold.auth.credentials import Credential
from skyhold.errors import AwsError
from skyhold.wire.http import HttpRequest

SIGV4 = Path(__file__).parents[2] / ".." / "shared" / "conformance" / "sigv4"
OLD = SIGV4 / "aws4_testsuite"
NEW = SIGV4 / "aws-signing-test-suite" / "v4"
OLD_TIME = datetime(2015, 8, 30, 12, 36, tzinfo=timezone.utc)
OLD_SECRET = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"
REGIONS = frozenset({"us-east-1"})


def parse_raw(text: str) -> HttpRequest:
    """A raw HTTP/1.1 request as the suites write it (LF line ends, obs-fold allowed)."""
    head, _, body = text.partition("\n\n")
    lines = head.split("\n")
    method, _, rest = lines[0].partition(" ")
    target = rest.rsplit(" ", 1)[0]
    path, _, query = target.partition("?")
    headers: dict[str, str] = {}
    last = None
    for line in lines[1:]:
        if not line:
            continue
        if line[0] in " \t" and last is not None:  # folded continuation line
            headers[last] += " " + line.strip()
            continue
        name, _, value = line.partition(":")
        last = name.strip().lower()
        value = value.strip()
        headers[last] = f"{headers[last]},{value}" if last in headers else value
    return HttpRequest(method=method, path=path, query=query, headers=headers, body=body.encode("utf-8"))


def _cases(root: Path, marker: str) -> list[Path]:
    return sorted(p.parent if marker == "context.json" else p for p in root.rglob(marker))


def _lookup(token: str | None):
    def lookup(akid: str) -> Credential | None:
        if akid != "AKIDEXAMPLE":
            return None
        return Credential(akid, OLD_SECRET, session_token=token)

    return lookup


def _expect_refusal(req: HttpRequest, lookup, now: datetime, codes: set[str]) -> None:
    with pytest.raises(AwsError) as caught:
        authenticate(req, lookup, service="service", regions=REGIONS, s3=False, now=now)
    assert caught.value.code in codes, caught.value


def _tamper_header(req: HttpRequest, signed: list[str]) -> HttpRequest:
    bad = copy.deepcopy(req)
    name = next((h for h in signed if h not in ("host", "x-amz-date")), "host")
    bad.headers[name] = bad.headers[name] + "x"
    return bad


def _flip(sig: str) -> str:
    return sig[:-1] + ("0" if sig[-1] != "0" else "1")


# --- aws4_testsuite ---------------------------------------------------------------------

OLD_CASES = _cases(OLD, "*.req")


def test_old_suite_is_complete():
    assert len(OLD_CASES) == 34


@pytest.mark.parametrize("req_file", OLD_CASES, ids=lambda p: p.stem)
def test_old_suite_canonical_request_and_string_to_sign(req_file: Path):
    stem = req_file.with_suffix("")
    req = parse_raw(req_file.read_text("utf-8"))
    authz = stem.with_suffix(".authz").read_text("utf-8")
    signed = authz.split("SignedHeaders=")[1].split(",")[0].split(";")
    # Signing adds headers (the session token) that the unsigned .req lacks.
    signed_req = parse_raw(stem.with_suffix(".sreq").read_text("utf-8"))
    for name in signed:
        req.headers.setdefault(name, signed_req.headers[name])
    payload = hashlib.sha256(req.body or b"").hexdigest()
    creq = sigv4.canonical_request(req.method, req.path, req.query, req.headers, signed, payload, s3=False)
    assert creq == stem.with_suffix(".creq").read_text("utf-8")
    amz = req.headers["x-amz-date"]
    sts = sigv4.string_to_sign(amz, f"{amz[:8]}/us-east-1/service/aws4_request", creq)
    assert sts == stem.with_suffix(".sts").read_text("utf-8")


def _old_token(req: HttpRequest) -> str | None:
    return req.headers.get("x-amz-security-token")


def _old_signed(req_file: Path) -> HttpRequest:
    """The .sreq, authorized by the case's .authz (the value its .creq/.sts produce).

    In get-vanilla-with-session-token the two disagree: the .sreq carries get-vanilla's
    signature under a SignedHeaders list that includes the token, which no verifier can
    accept (test_old_suite_inconsistent_sreq_refused checks that we refuse it)."""
    req = parse_raw(req_file.with_suffix(".sreq").read_text("utf-8"))
    req.headers["authorization"] = req_file.with_suffix(".authz").read_text("utf-8").strip()
    return req


@pytest.mark.parametrize("req_file", OLD_CASES, ids=lambda p: p.stem)
def test_old_suite_inconsistent_sreq_refused(req_file: Path):
    raw = parse_raw(req_file.with_suffix(".sreq").read_text("utf-8"))
    if raw.headers["authorization"] == _old_signed(req_file).headers["authorization"]:
        return  # consistent case: accepted by test_old_suite_signed_request_accepted
    _expect_refusal(raw, _lookup(_old_token(raw)), OLD_TIME, {"SignatureDoesNotMatch"})


@pytest.mark.parametrize("req_file", OLD_CASES, ids=lambda p: p.stem)
def test_old_suite_signed_request_accepted(req_file: Path):
    req = _old_signed(req_file)
    lookup = _lookup(_old_token(req))
    result = authenticate(req, lookup, service="service", regions=REGIONS, s3=False, now=OLD_TIME)
    assert result.credential is not None and result.credential.access_key_id == "AKIDEXAMPLE"
    assert result.info is not None and result.info.signature in req.headers["authorization"]


@pytest.mark.parametrize("req_file", OLD_CASES, ids=lambda p: p.stem)
def test_old_suite_tampering_refused(req_file: Path):
    req = _old_signed(req_file)
    lookup = _lookup(_old_token(req))
    info = sigv4.extract_sigv4(req, s3=False)
    assert info is not None
    bad_sig = copy.deepcopy(req)
    bad_sig.headers["authorization"] = req.headers["authorization"].replace(info.signature, _flip(info.signature))
    _expect_refusal(bad_sig, lookup, OLD_TIME, {"SignatureDoesNotMatch"})
    _expect_refusal(_tamper_header(req, info.signed_headers), lookup, OLD_TIME, {"SignatureDoesNotMatch"})
    bad_body = copy.deepcopy(req)
    bad_body.body = (req.body or b"") + b"x"
    _expect_refusal(bad_body, lookup, OLD_TIME, {"SignatureDoesNotMatch"})
    # Same request, an hour later: outside the 15-minute window.
    later = OLD_TIME.replace(hour=13, minute=37)
    _expect_refusal(req, lookup, later, {"SignatureDoesNotMatch"})
    _expect_refusal(req, _lookup("not-the-token") if _old_token(req) else lambda _: None, OLD_TIME,
                    {"InvalidClientTokenId"})


# --- aws-signing-test-suite/v4 ----------------------------------------------------------

NEW_CASES = _cases(NEW, "context.json")


def test_new_suite_is_complete():
    assert len(NEW_CASES) == 38


def _context(case: Path) -> tuple[dict, datetime]:
    ctx = json.loads((case / "context.json").read_text("utf-8"))
    when = datetime.fromisoformat(ctx["timestamp"].replace("Z", "+00:00"))
    return ctx, when


def _new_lookup(ctx: dict):
    creds = ctx["credentials"]

    def lookup(akid: str) -> Credential | None:
        if akid != creds["access_key_id"]:
            return None
        return Credential(akid, creds["secret_access_key"], session_token=creds.get("token"))

    return lookup


def _verify_new(case: Path, variant: str) -> None:
    ctx, when = _context(case)
    s3_paths = not ctx["normalize"]  # normalize=false is S3's path rule
    req = parse_raw((case / f"{variant}-signed-request.txt").read_text("utf-8"))
    info = sigv4.extract_sigv4(req, s3=False)
    assert info is not None and info.presigned == (variant == "query")
    creds = ctx["credentials"]
    key = sigv4.signing_key(creds["secret_access_key"], info.date, info.region, info.service)
    include_token = not ctx.get("omit_session_token", False)
    signature, creq, sts = sigv4.expected_signature(req, info, key, s3=s3_paths, include_token=include_token)
    assert creq == (case / f"{variant}-canonical-request.txt").read_text("utf-8")
    assert sts == (case / f"{variant}-string-to-sign.txt").read_text("utf-8")
    assert signature == (case / f"{variant}-signature.txt").read_text("utf-8").strip()
    assert signature == info.signature
    if not s3_paths:
        # The full verifier accepts it, token rules and all.
        result = authenticate(req, _new_lookup(ctx), service="service", regions=REGIONS, s3=False, now=when)
        assert result.credential is not None


@pytest.mark.parametrize("case", NEW_CASES, ids=lambda p: p.name)
@pytest.mark.parametrize("variant", ["header", "query"])
def test_new_suite_accepted(case: Path, variant: str):
    _verify_new(case, variant)


@pytest.mark.parametrize("case", NEW_CASES, ids=lambda p: p.name)
@pytest.mark.parametrize("variant", ["header", "query"])
def test_new_suite_tampering_refused(case: Path, variant: str):
    ctx, when = _context(case)
    req = parse_raw((case / f"{variant}-signed-request.txt").read_text("utf-8"))
    lookup = _new_lookup(ctx)
    info = sigv4.extract_sigv4(req, s3=False)
    assert info is not None
    if not ctx["normalize"]:
        # S3-path variant (service "service" is no S3): check the signature math directly.
        creds = ctx["credentials"]
        key = sigv4.signing_key(creds["secret_access_key"], info.date, info.region, info.service)
        bad = _tamper_header(req, info.signed_headers)
        assert sigv4.expected_signature(bad, info, key, s3=True)[0] != info.signature
        moved = copy.deepcopy(req)
        moved.path = req.path + "x"
        assert sigv4.expected_signature(moved, info, key, s3=True)[0] != info.signature
        return
    bad_sig = copy.deepcopy(req)
    if variant == "header":
        bad_sig.headers["authorization"] = req.headers["authorization"].replace(info.signature, _flip(info.signature))
    else:
        bad_sig.query = req.query.replace(info.signature, _flip(info.signature))
    _expect_refusal(bad_sig, lookup, when, {"SignatureDoesNotMatch"})
    _expect_refusal(_tamper_header(req, info.signed_headers), lookup, when, {"SignatureDoesNotMatch"})
    bad_body = copy.deepcopy(req)
    bad_body.body = (req.body or b"") + b"x"
    _expect_refusal(bad_body, lookup, when, {"SignatureDoesNotMatch"})
    if variant == "query":
        # Past X-Amz-Expires (3600 s): expired.
        late = when.replace(hour=when.hour + 2)
        _expect_refusal(req, lookup, late, {"SignatureDoesNotMatch"})
