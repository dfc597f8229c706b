"""What S3 does with a bucket's CORS rules: answer preflights, decorate responses.

The first rule whose AllowedOrigins, AllowedMethods and (for a preflight)
AllowedHeaders all match wins. An origin or header pattern holds at most one `*`,
which matches any run of characters, the empty one too; header names match without
regard to case, origins exactly.

- A preflight (`OPTIONS` with `Origin` and `Access-Control-Request-Method`) is answered
  from the rules alone: unauthenticated, and recorded in no trail, as on AWS.
- An actual request carrying `Origin` gets the matched rule's headers, on an error as
  well (a browser cannot read an AccessDenied without them); with no match it is served
  as usual, without them: S3 refuses only preflights.
"""

from __future__ import annotations

from typing import Any

from skyhold.services.s3 import addressing, errors, records
from skyhold.store.base import Store
from skyhold.wire.http import HttpRequest

METHODS = ("GET", "PUT", "POST", "DELETE", "HEAD")
MAX_RULES = 100
# S3 sends "evalution" with this spelling.
_NOT_ALLOWED = ("This CORS request is not allowed. This is usually because the evalution of Origin, request "
                "method / Access-Control-Request-Method or Access-Control-Request-Headers are not whitelisted by "
                "the resource's CORS spec.")
_VARY = "Origin, Access-Control-Request-Headers, Access-Control-Request-Method"

Rule = dict[str, Any]


# --- PutBucketCors ---------------------------------------------------------------------

def validate(rules: list[Rule]) -> None:
    """S3's checks of a CORS configuration: its shape first (MalformedXML), then values."""
    if not rules or len(rules) > MAX_RULES:
        raise errors.malformed_xml()
    for rule in rules:
        if not rule.get("AllowedMethods") or not rule.get("AllowedOrigins"):
            raise errors.malformed_xml()
    for rule in rules:
        for method in rule["AllowedMethods"]:
            if method not in METHODS:
                raise errors.invalid_request(
                    f"Found unsupported HTTP method in CORS config. Unsupported method is {method}")
        for origin in rule["AllowedOrigins"]:
            if origin.count("*") > 1:
                raise errors.invalid_request(f'AllowedOrigin "{origin}" can not have more than one wildcard.')
        for header in rule.get("AllowedHeaders") or ():
            if header.count("*") > 1:
                raise errors.invalid_request(f'AllowedHeader "{header}" can not have more than one wildcard.')
        for header in rule.get("ExposeHeaders") or ():
            if "*" in header:
                raise errors.invalid_request(f'ExposeHeader "{header}" contains wildcard. We currently do not '
                                             "support wildcard for ExposeHeader.")


# --- matching --------------------------------------------------------------------------

def _matches(pattern: str, value: str) -> bool:
    head, star, tail = pattern.partition("*")
    if not star:
        return pattern == value
    return len(value) >= len(head) + len(tail) and value.startswith(head) and value.endswith(tail)


def match(rules: list[Rule], origin: str, method: str, requested: list[str] | None = None) -> Rule | None:
    """The first rule allowing `origin` to use `method` and send the `requested` headers
    (lower-cased, from Access-Control-Request-Headers; None when not asked)."""
    for rule in rules:
        if method not in rule["AllowedMethods"]:
            continue
        if not any(_matches(pattern, origin) for pattern in rule["AllowedOrigins"]):
            continue
        if requested:
            allowed = [h.lower() for h in rule.get("AllowedHeaders") or ()]
            if not all(any(_matches(pattern, name) for pattern in allowed) for name in requested):
                continue
        return rule
    return None


def requested_headers(req: HttpRequest) -> list[str] | None:
    """Access-Control-Request-Headers as lower-cased names; None when absent or empty."""
    names = [n.strip().lower() for n in req.headers.get("access-control-request-headers", "").split(",")]
    return [n for n in names if n] or None


def headers_for(rule: Rule, origin: str, requested: list[str] | None) -> list[tuple[str, str]]:
    """The response headers a matched rule grants (AWS's order)."""
    wildcard = "*" in rule["AllowedOrigins"]
    out = [("access-control-allow-origin", "*" if wildcard else origin),
           ("access-control-allow-methods", ", ".join(rule["AllowedMethods"]))]
    if requested:
        out.append(("access-control-allow-headers", ", ".join(requested)))
    if rule.get("ExposeHeaders"):
        out.append(("access-control-expose-headers", ", ".join(rule["ExposeHeaders"])))
    if rule.get("MaxAgeSeconds") is not None:
        out.append(("access-control-max-age", str(rule["MaxAgeSeconds"])))
    if not wildcard:
        out.append(("access-control-allow-credentials", "true"))
    out.append(("vary", _VARY))
    return out


def _rules(store: Store, bucket: str | None) -> list[Rule] | None:
    rec = records.find_bucket(store, bucket) if bucket else None
    return rec.value.get("Cors") if rec is not None else None


# --- the two entry points ----------------------------------------------------------------

def preflight(store: Store, req: HttpRequest) -> list[tuple[str, str]]:
    """The headers of a 200 answer to an OPTIONS request, or S3's error for it."""
    origin = req.headers.get("origin")
    if not origin:
        raise errors.bad_request("Insufficient information. Origin request header needed.")
    method = req.headers.get("access-control-request-method")
    bucket, key = addressing.target(req)
    rec = records.find_bucket(store, bucket) if bucket else None
    if rec is None:
        raise errors.cors_forbidden("Bucket not found", method or "OPTIONS", "BUCKET")
    rules = rec.value.get("Cors")
    if not rules:
        raise errors.cors_forbidden("CORS is not enabled for this bucket.", method or "OPTIONS", "BUCKET")
    if method not in METHODS:
        raise errors.bad_request(f"Invalid Access-Control-Request-Method: {method or 'null'}")
    requested = requested_headers(req)
    rule = match(rules, origin, method, requested)
    if rule is None:
        raise errors.cors_forbidden(_NOT_ALLOWED, method, "OBJECT" if key else "BUCKET")
    return headers_for(rule, origin, requested)


def actual_headers(store: Store, req: HttpRequest) -> list[tuple[str, str]]:
    """The CORS headers of the answer to a (non-OPTIONS) request; [] when none apply.
    As on AWS, Access-Control-Request-* headers, when sent, decide the match."""
    origin = req.headers.get("origin")
    if not origin:
        return []
    rules = _rules(store, addressing.target(req)[0])
    if not rules:
        return []
    requested = requested_headers(req)
    method = req.headers.get("access-control-request-method") or req.method
    rule = match(rules, origin, method, requested)
    return headers_for(rule, origin, requested) if rule is not None else []
