"""Skyhold's own administrative API, under /_skyhold/ (health aside).

Every call is SigV4-signed (signing service `skyhold`), and only Skyhold's
administrator may make it: the API is Skyhold's, not AWS's, and what it moves (the
clock) is every account's, so IAM policies do not grant it ("Action": "*" would let
any role session or another account's admin in). The administrator is the first
account's (the one `skyhold up` creates on first start) IAM user `admin`, pinned by
its unique id (a user created later under that name is someone else), and that
account's root user; their sessions (GetSessionToken) too, not role sessions. There
is no unauthenticated administrative endpoint. Every call, allowed or not, writes one
request-log line (service `skyhold`).

  GET  /_skyhold/clock                    → {"now": ..., "offset_seconds": ...}
  POST /_skyhold/clock {"advance_seconds": N} | {"reset": true}
       (on the next whole second; jobs that run by the clock, e.g. S3 lifecycle,
       catch up before it answers)

Public, read-only documents (no signature): the local OIDC issuer's
  GET  /_skyhold/oidc/.well-known/openid-configuration, GET /_skyhold/oidc/jwks.json
"""

from __future__ import annotations

import asyncio
import json
import logging
import math
import time
from typing import TYPE_CHECKING, Any

from skyhold import accounts, clock, ids, oidc, request_log
from skyhold import principal as p
from skyhold.auth.authenticate import authenticate
from skyhold.errors import AwsError, internal_failure
from skyhold.principal import ANONYMOUS_PRINCIPAL, Principal
from skyhold.regions import REGIONS
from skyhold.services.iam import records as iam
from skyhold.store.base import Store
from skyhold.wire.http import HttpRequest, HttpResponse

if TYPE_CHECKING:
    from skyhold.pipeline import Body, Pipeline

SIGNING_SERVICE = "skyhold"
log = logging.getLogger("skyhold.admin")
META = "skyhold.meta"
MAX_BODY = 64 * 1024
CLOCK_PATH = "/_skyhold/clock"
_OPERATIONS = {("GET", CLOCK_PATH): "GetClock", ("POST", CLOCK_PATH): "SetClock"}
_PUBLIC = {
    "/_skyhold/oidc/.well-known/openid-configuration": "GetOpenIdConfiguration",
    "/_skyhold/oidc/jwks.json": "GetJwks",
}


def load_clock(store: Store) -> None:
    """Restore the persisted offset of Skyhold's clock (at start-up, and in CLI
    commands that date things). An offset the clock cannot take (a data dir written
    before offsets were checked: NaN, infinite, past year 9999) is dropped, so the
    data dir recovers instead of failing every request."""
    rec = store.get(META, "clock")
    stored = rec.value.get("offset_seconds", 0.0) if rec else 0.0
    try:
        clock.restore(float(stored), _history(rec.value.get("changes") if rec else None))
    except (TypeError, ValueError, OverflowError) as err:
        log.warning("ignoring the stored offset of Skyhold's clock (%r: %s): back to real time", stored, err)
        clock.restore(0.0, [])
        _save_clock(store)


def _history(stored: Any) -> list[tuple[float, float]]:
    """The offset's persisted changes (see clock.advanced_since); none if malformed
    (a data dir from before they were kept)."""
    try:
        return [(float(at), float(offset)) for at, offset in stored or []]
    except (TypeError, ValueError, OverflowError):
        return []


def _save_clock(store: Store) -> None:
    store.put(META, "clock", {"offset_seconds": clock.offset().total_seconds(), "changes": clock.history()})


def pin_administrator(store: Store) -> None:
    """Record, once (`skyhold up` calls this at start-up), who Skyhold's administrator
    is: the first account's `admin` by unique id, or, when that user is gone (a data
    dir from before pinning), nobody but the account's root. Pinned once, never again:
    a user created later under the name `admin` is someone else."""
    if store.get(META, "administrator") is not None:
        return
    first = accounts.default_account(store)
    if first is None:
        return
    user = iam.get_user(store, first["Id"], accounts.ADMIN_USER)
    store.put(META, "administrator", {"Account": first["Id"], "UserId": user["UserId"] if user else ""})


def administrator(store: Store) -> dict[str, str] | None:
    """{"Account", "UserId"} of Skyhold's administrator (see pin_administrator)."""
    rec = store.get(META, "administrator")
    return dict(rec.value) if rec is not None else None


def is_administrator(store: Store, who: Principal) -> bool:
    admin = administrator(store)
    if admin is None or who.account != admin["Account"]:
        return False
    if who.type == p.ROOT:
        return True
    return who.type == p.IAM_USER and bool(admin["UserId"]) and who.user_id == admin["UserId"]


async def handle(pipeline: Pipeline, req: HttpRequest, body: Body) -> HttpResponse:
    """Answer one admin call and log it as the pipeline logs AWS calls."""
    started = time.perf_counter()
    request_id = ids.request_id()
    operation = _PUBLIC.get(req.path) if req.method == "GET" else None
    operation = operation or _OPERATIONS.get((req.method, req.path), "-")
    who = ANONYMOUS_PRINCIPAL
    try:
        req.body = await body.read(MAX_BODY)
        public = _public_document(pipeline, req)
        if public is not None:
            response = _json(200, public)
        else:
            who = _caller(pipeline, req)
            response = _json(200, await _serve(pipeline, req, who, operation))
    except AwsError as err:
        response = error_response(err)
    except Exception:  # a bug: still a JSON answer and this call's log line, not a bare 500
        log.exception("admin call %s %s failed", req.method, req.path)
        response = error_response(internal_failure())
    response.headers.append(("x-amzn-requestid", request_id))
    elapsed_ms = (time.perf_counter() - started) * 1000
    request_log.write(f"{SIGNING_SERVICE} {operation} {who.arn} {response.status} {elapsed_ms:.2f}ms {request_id}")
    return response


def _caller(pipeline: Pipeline, req: HttpRequest) -> Principal:
    result = authenticate(req, pipeline.lookup, service=SIGNING_SERVICE, regions=REGIONS, s3=False,
                          protocol="query")
    if result.credential is None:
        raise AwsError("MissingAuthenticationToken", "Request is missing Authentication Token", 403)
    return result.credential.principal


async def _serve(pipeline: Pipeline, req: HttpRequest, who: Principal, operation: str) -> dict[str, Any]:
    if req.path != CLOCK_PATH:
        raise AwsError("NotFound", f"No Skyhold endpoint {req.path}", 404)
    if operation == "-":
        raise AwsError("MethodNotAllowed", "Use GET or POST", 405)
    if not is_administrator(pipeline.store, who):
        raise AwsError("AccessDeniedException",
                       f"User: {who.arn} is not authorized to perform: skyhold:{operation} because Skyhold's "
                       "admin API answers only Skyhold's administrator (the first account's IAM user admin)", 403)
    if operation == "SetClock":
        _new_offset(req.body or b"{}")  # refuse a bad request at once
        # Move on the next second's boundary: X-Amz-Date holds whole seconds, so every
        # URL signed before the move is dated before it, every one signed after, not.
        boundary = math.floor(time.time()) + 1
        await asyncio.sleep(max(0.0, boundary - time.time()))
        clock.set_offset(_new_offset(req.body or b"{}"), at=boundary)
        _save_clock(pipeline.store)  # with its history: presigned URLs age by it after a restart
        await _after_clock_moved(pipeline)
    return {"now": clock.now_iso8601(), "offset_seconds": clock.offset().total_seconds()}


def _new_offset(body: bytes) -> float:
    """The offset a SetClock body asks for; ValidationException (nothing changes) for
    a malformed one or one the clock cannot take (JSON's NaN and Infinity included)."""
    usage = 'Expected {"advance_seconds": N >= 0} or {"reset": true}'
    try:
        ask = json.loads(body)
    except (ValueError, RecursionError):  # RecursionError: arrays nested thousands deep
        raise AwsError("ValidationException", usage) from None
    if not isinstance(ask, dict):
        raise AwsError("ValidationException", usage)
    if ask.get("reset") is True:
        return 0.0
    # A JSON number only: not "1h" nor "false" nor true (Python's bool is an int).
    given = ask.get("advance_seconds")
    if isinstance(given, bool) or not isinstance(given, (int, float)):
        raise AwsError("ValidationException", usage)
    try:
        step = float(given)
    except OverflowError:  # an integer no float holds
        raise AwsError("ValidationException", usage) from None
    if step != step or step < 0:  # NaN, or backwards
        raise AwsError("ValidationException", usage)
    try:
        return clock.check_offset(clock.offset().total_seconds() + step)
    except ValueError as err:
        raise AwsError("ValidationException", f"advance_seconds {step:g} refused: {err}") from None


def error_response(err: AwsError) -> HttpResponse:
    return _json(err.status, {"__type": err.code, "message": err.message})


def _public_document(pipeline: Pipeline, req: HttpRequest) -> dict[str, Any] | None:
    """The OIDC issuer's discovery document and JWKS: public by nature, read-only."""
    if req.method != "GET":
        return None
    if req.path == "/_skyhold/oidc/.well-known/openid-configuration":
        host = req.headers.get("host", "127.0.0.1:4566")
        return oidc.discovery(f"{req.scheme}://{host}")
    if req.path == "/_skyhold/oidc/jwks.json":
        return oidc.jwks(pipeline.data_dir)
    return None


async def _after_clock_moved(pipeline: Pipeline) -> None:
    """Let jobs that run by the clock catch up before the caller sees the new time
    (e.g. S3 lifecycle expirations a lab then looks for)."""
    for catch_up in pipeline.on_clock_moved:
        try:
            await catch_up()
        except Exception:  # the clock has moved either way; the job retries on its own
            log.exception("catching up after the clock moved failed")


def _json(status: int, payload: dict[str, Any]) -> HttpResponse:
    return HttpResponse(status, [("content-type", "application/json")], json.dumps(payload).encode())
