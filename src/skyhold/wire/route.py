"""Which service a request is for.

In order of trust: the SigV4 credential scope (the client said so and signed it),
the X-Amz-Target header (json protocol), the Host header (endpoint prefix, S3
virtual hosts), and finally S3 — an anonymous browser GET of /bucket/key names
nothing else. All tables are derived from the models, not written by hand.

The tables are filled lazily, one answer at a time, loading models only until the
answer is found: parsing every served model up front (ec2's alone is 60 ms) would
triple Skyhold's start-up time, and a request only ever needs one or two of them.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import lru_cache

from botocore.model import ServiceModel

from skyhold.errors import AwsError
from skyhold.services.registry import SERVED
from skyhold.wire.http import HttpRequest
from skyhold.wire.models import service_model

_S3CONTROL_PATH = "/v20180820/"


def _first_served(key: Callable[[ServiceModel], str | None], wanted: str, *, last: bool = False) -> str | None:
    """The first (or last) served service whose model's `key` is `wanted`."""
    for name in reversed(SERVED) if last else SERVED:
        if key(service_model(name)) == wanted:
            return name
    return None


# Bounded: the keys come from requests.
@lru_cache(maxsize=256)
def _by_signing(signing_name: str) -> str | None:
    # The first served service with that signing name (s3control shares "s3").
    return _first_served(lambda m: m.signing_name or m.endpoint_prefix, signing_name)


@lru_cache(maxsize=256)
def _by_target(target_prefix: str) -> str | None:
    return _first_served(lambda m: m.metadata.get("targetPrefix"), target_prefix, last=True)


@lru_cache(maxsize=256)
def _by_prefix(endpoint_prefix: str) -> str | None:
    return _first_served(lambda m: m.endpoint_prefix, endpoint_prefix, last=True)


def _unknown(what: str) -> AwsError:
    return AwsError("NotImplemented", f"Skyhold does not serve {what}", status=501, sender_fault=False)


def _host(req: HttpRequest) -> str:
    host = req.headers.get("host", "")
    if host.startswith("["):  # IPv6 literal
        return host[: host.find("]") + 1].lower()
    return host.rsplit(":", 1)[0].lower() if ":" in host else host.lower()


def _is_s3control(req: HttpRequest, host: str) -> bool:
    return req.path.startswith(_S3CONTROL_PATH) or ".s3-control." in f".{host}"


def route_service(req: HttpRequest, scope_service: str | None) -> str:
    host = _host(req)
    if scope_service:
        if scope_service == "s3":
            return "s3control" if _is_s3control(req, host) else "s3"
        name = _by_signing(scope_service)
        if name is None:
            raise _unknown(f"the service '{scope_service}'")
        return name
    target = req.headers.get("x-amz-target")
    if target:
        prefix = target.rpartition(".")[0]
        name = _by_target(prefix)
        if name is not None:
            return name
    if s3_bucket_from_host(host) is not None:
        return "s3"
    labels = host.split(".")
    for n in (2, 1):  # "api.ecr.<region>..." before "sts.amazonaws.com"
        if len(labels) > n:
            name = _by_prefix(".".join(labels[:n]))
            if name is not None:
                return "s3control" if name == "s3" and _is_s3control(req, host) else name
    if ".s3-control." in f".{host}" or req.path.startswith(_S3CONTROL_PATH):
        return "s3control"
    if target:
        # A json-protocol call to a service we do not serve (or a garbled target).
        raise _unknown(f"the target '{target}'")
    return "s3"


@lru_cache(maxsize=1024)
def s3_bucket_from_host(host: str) -> str | None:
    """The bucket of a virtual-hosted-style S3 request (`<bucket>.s3.<anything>`,
    or the legacy `<bucket>.s3-<region>.amazonaws.com`). Cached: a client sends the
    same few Host values, and routing and parsing both ask."""
    if ":" in host and not host.startswith("["):
        host = host.rsplit(":", 1)[0]
    labels = host.lower().split(".")
    for i in range(1, len(labels)):
        label = labels[i]
        if label == "s3" or (label.startswith("s3-") and not label.startswith(_NOT_BUCKET_HOSTS)):
            return ".".join(labels[:i])
    return None


# s3-<x> labels that are other endpoints, not a legacy regional S3 endpoint.
_NOT_BUCKET_HOSTS = ("s3-control", "s3-accesspoint", "s3-object-lambda", "s3-website", "s3-outposts")
