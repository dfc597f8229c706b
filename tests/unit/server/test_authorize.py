"""The authorizer remembers a verdict only where no policy in play reads the request's
context, and forgets it when the store changes."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from skyhold.authorize import Authorizer
from skyhold.authz import Access
from skyhold.errors import AwsError
from skyhold.pipeline import Call
from skyhold.principal import ROOT, Principal
from skyhold.store import open_store
from skyhold.store.sqlite import SqliteStore
from skyhold.wire.http import HttpRequest

CALLER = Principal(type=ROOT, account="111111111111", arn="arn:aws:iam::111111111111:root", user_id="111111111111")
OWNER = "222222222222"  # the bucket's account: the caller needs its policy's grant
RESOURCE = "arn:aws:s3:::shared/report.csv"


def _bucket_policy(condition: dict[str, Any] | None = None) -> str:
    statement: dict[str, Any] = {
        "Effect": "Allow", "Principal": {"AWS": CALLER.arn}, "Action": "s3:GetObject", "Resource": RESOURCE,
    }
    if condition:
        statement["Condition"] = condition
    return json.dumps({"Version": "2012-10-17", "Statement": [statement]})


@pytest.fixture
def store(tmp_path: Path) -> Iterator[SqliteStore]:
    store, _ = open_store(tmp_path)
    yield store
    store.close()


@pytest.fixture
def decided(store: SqliteStore, monkeypatch: pytest.MonkeyPatch) -> tuple[Authorizer, list[str]]:
    """An authorizer, and the source IPs of the requests it really evaluated."""
    authorizer = Authorizer(store, {})
    seen: list[str] = []
    decide = authorizer.decide

    def counting(call: Call, access: Access) -> Any:
        seen.append(call.request.source_ip)
        return decide(call, access)

    monkeypatch.setattr(authorizer, "decide", counting)
    return authorizer, seen


def _check(authorizer: Authorizer, source_ip: str, policy: str) -> None:
    request = HttpRequest("GET", "/shared/report.csv", "", {}, b"", source_ip=source_ip)
    call = Call(None, request, "s3", "GetObject", "us-east-1", CALLER, "req")  # type: ignore[arg-type]
    authorizer.check_access(call, Access("s3:GetObject", RESOURCE, resource_account=OWNER, resource_policy=policy))


def test_a_context_free_verdict_is_decided_once(decided: tuple[Authorizer, list[str]]) -> None:
    authorizer, seen = decided
    policy = _bucket_policy()
    _check(authorizer, "10.1.2.3", policy)
    _check(authorizer, "192.168.7.7", policy)
    assert seen == ["10.1.2.3"]


def test_a_conditional_policy_is_evaluated_for_every_request(decided: tuple[Authorizer, list[str]]) -> None:
    authorizer, seen = decided
    policy = _bucket_policy({"IpAddress": {"aws:SourceIp": "10.0.0.0/8"}})
    _check(authorizer, "10.1.2.3", policy)
    with pytest.raises(AwsError) as denied:
        _check(authorizer, "192.168.7.7", policy)
    assert denied.value.code == "AccessDenied"
    _check(authorizer, "10.1.2.3", policy)
    assert seen == ["10.1.2.3", "192.168.7.7", "10.1.2.3"]


def test_a_remembered_denial_still_explains_itself(decided: tuple[Authorizer, list[str]]) -> None:
    authorizer, seen = decided
    other = _bucket_policy().replace(CALLER.arn, "arn:aws:iam::333333333333:root")
    for _ in range(2):
        with pytest.raises(AwsError) as denied:
            _check(authorizer, "10.1.2.3", other)
        assert denied.value.explanation is not None  # S3 tells another account only "Access Denied"
        assert "no resource-based policy allows the s3:GetObject action" in denied.value.explanation["message"]
    assert len(seen) == 3  # once remembered as a denial, and once per denial for its explanation


def test_a_store_change_forgets_verdicts(store: SqliteStore, decided: tuple[Authorizer, list[str]]) -> None:
    authorizer, seen = decided
    policy = _bucket_policy()
    _check(authorizer, "10.1.2.3", policy)
    store.put("iam-user", "111111111111/someone", {"UserName": "someone"})
    _check(authorizer, "10.1.2.3", policy)
    assert seen == ["10.1.2.3", "10.1.2.3"]
