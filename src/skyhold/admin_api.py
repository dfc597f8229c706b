"""Skyhold's own administrative API, under /_skyhold/ (health aside).

Every call is SigV4-signed (signing service `skyhold`) and authorized by the policy
engine like any AWS call: the caller's identity policies must allow the
`skyhold:*` action, which an account's `admin` (AdministratorAccess) has. There is
no unauthenticated administrative endpoint.

  GET  /_skyhold/clock                    → {"now": ..., "offset_seconds": ...}
  POST /_skyhold/clock {"advance_seconds": N} | {"reset": true}
       (jobs that run by the clock, e.g. S3 lifecycle, catch up before it answers)

Public, read-only documents (no signature): the local OIDC issuer's
  GET  /_skyhold/oidc/.well-known/openid-configuration, GET /_skyhold/oidc/jwks.json
"""

from __future__ import annotations

import json
import logging
from typing import TYPE_CHECKING, Any

from skyhold import clock, oidc
from skyhold.auth.authenticate import authenticate
from skyhold.authz import Access
from skyhold.errors import AwsError
from skyhold.principal import Principal
from skyhold.regions import REGIONS
from skyhold.store.base import Store
from skyhold.wire.http import HttpRequest, HttpResponse

if TYPE_CHECKING:
    from skyhold.pipeline import Pipeline

SIGNING_SERVICE = "skyhold"
log = logging.getLogger("skyhold.admin")
META = "skyhold.meta"


def load_clock(store: Store) -> None:
    """Restore the persisted offset of Skyhold's clock (called at start-up)."""
    rec = store.get(META, "clock")
    clock.set_offset(rec.value["offset_seconds"] if rec else 0.0)


async def handle(pipeline: Pipeline, req: HttpRequest, body: bytes) -> HttpResponse:
    from skyhold.pipeline import Call  # the pipeline imports this module's callers

    req.body = body
    public = _public_document(pipeline, req)
    if public is not None:
        return _json(200, public)
    try:
        result = authenticate(req, pipeline.lookup, service=SIGNING_SERVICE, regions=REGIONS, s3=False,
                              protocol="query")
        if result.credential is None:
            raise AwsError("MissingAuthenticationToken", "Request is missing Authentication Token", 403)
        who: Principal = result.credential.principal
        call = Call(pipeline, req, "skyhold", req.path, "us-east-1", who, "")
        if req.path == "/_skyhold/clock":
            shown = _clock(pipeline, call, req)
            if req.method == "POST":
                await _after_clock_moved(pipeline)
            return _json(200, shown)
        raise AwsError("NotFound", f"No Skyhold endpoint {req.path}", 404)
    except AwsError as err:
        return error_response(err)


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


def _clock(pipeline: Pipeline, call: Any, req: HttpRequest) -> dict[str, Any]:
    if req.method == "GET":
        pipeline.authorizer.check_access(call, Access("skyhold:GetClock", "*"))
    elif req.method == "POST":
        pipeline.authorizer.check_access(call, Access("skyhold:SetClock", "*"))
        try:
            ask = json.loads(req.body or b"{}")
            if ask.get("reset"):
                offset = 0.0
            else:
                step = float(ask["advance_seconds"])
                if step < 0:
                    raise ValueError
                offset = clock.offset().total_seconds() + step
        except (ValueError, KeyError, TypeError, AttributeError):
            raise AwsError("ValidationException", 'Expected {"advance_seconds": N >= 0} or {"reset": true}') from None
        pipeline.store.put(META, "clock", {"offset_seconds": offset})
        clock.set_offset(offset)
    else:
        raise AwsError("MethodNotAllowed", "Use GET or POST", 405)
    return {"now": clock.now_iso8601(), "offset_seconds": clock.offset().total_seconds()}


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
