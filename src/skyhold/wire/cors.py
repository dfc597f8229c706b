"""CORS for the services other than S3, whose endpoints browsers call through the
JavaScript SDK (STS, KMS, IAM, ...). Unlike S3's per-bucket rules these have no
configuration: AWS answers any origin with `Access-Control-Allow-Origin: *` and
exposes the headers the SDK reads its answers from (recorded answers of AWS's
json services: `Access-Control-Expose-Headers: x-amzn-RequestId,x-amzn-ErrorType,
x-amzn-ErrorMessage,Date`). Which services allow CORS at all is the AWS SDK for
JavaScript's own service list (`"cors": true` in its apis/metadata.json); of those
Skyhold serves, S3 Control and Organizations do not, and answer a browser as any
other client.
"""

from __future__ import annotations

from skyhold.wire.http import HttpRequest

_NO_CORS = frozenset({"s3control", "organizations"})
_EXPOSE = "x-amzn-RequestId,x-amzn-ErrorType,x-amzn-ErrorMessage,Date"
# How long a browser may reuse a preflight's answer. AWS's value is not published;
# browsers cap it anyway (Chromium at 2 hours).
_MAX_AGE = "172800"


def allows(service: str) -> bool:
    return service not in _NO_CORS


def preflight(req: HttpRequest) -> list[tuple[str, str]]:
    """The headers of the 200 answer to a preflight: what the browser asks for is allowed
    (any method and header; the signature, not the origin, is what guards the call)."""
    headers = [("access-control-allow-origin", "*")]
    method = req.headers.get("access-control-request-method")
    if method:
        headers.append(("access-control-allow-methods", method))
    requested = req.headers.get("access-control-request-headers")
    if requested:
        headers.append(("access-control-allow-headers", requested))
    headers.append(("access-control-max-age", _MAX_AGE))
    return headers


def actual_headers() -> list[tuple[str, str]]:
    """The CORS headers of the answer to a browser's call (an error's too: a browser
    shows a script nothing of an answer without them)."""
    return [("access-control-allow-origin", "*"), ("access-control-expose-headers", _EXPOSE)]
