"""Routing tables are filled lazily; every answer must be what a table built from
all served models at once would give (first signing name wins, last prefix wins)."""

from __future__ import annotations

import pytest

from skyhold.services.registry import SERVED
from skyhold.wire.http import HttpRequest
from skyhold.wire.models import service_model
from skyhold.wire.route import route_service


def _eager_tables() -> tuple[dict[str, str], dict[str, str], dict[str, str]]:
    by_signing: dict[str, str] = {}
    by_target: dict[str, str] = {}
    by_prefix: dict[str, str] = {}
    for name in SERVED:
        model = service_model(name)
        by_signing.setdefault(model.signing_name or model.endpoint_prefix, name)
        if "targetPrefix" in model.metadata:
            by_target[model.metadata["targetPrefix"]] = name
        by_prefix[model.endpoint_prefix] = name
    return by_signing, by_target, by_prefix


SIGNING, TARGETS, PREFIXES = _eager_tables()


@pytest.mark.parametrize("signing_name", sorted(set(SIGNING) - {"s3"}))  # s3 is decided by path/host
def test_scope_matches_eager_table(signing_name: str) -> None:
    req = HttpRequest("POST", "/", "", {"host": "localhost:4566"}, b"")
    assert route_service(req, signing_name) == SIGNING[signing_name]


@pytest.mark.parametrize("target", sorted(TARGETS))
def test_target_matches_eager_table(target: str) -> None:
    req = HttpRequest("POST", "/", "", {"host": "localhost:4566", "x-amz-target": f"{target}.Op"}, b"")
    assert route_service(req, None) == TARGETS[target]


@pytest.mark.parametrize("prefix", sorted(p for p in PREFIXES if not p.startswith("s3")))
def test_host_prefix_matches_eager_table(prefix: str) -> None:
    req = HttpRequest("GET", "/", "", {"host": f"{prefix}.us-east-1.amazonaws.com"}, b"")
    assert route_service(req, None) == PREFIXES[prefix]
