"""Fixtures: IAM handlers called directly, against a real store in a temp dir."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from skyhold import clock
from skyhold import principal as P
from skyhold.errors import AwsError
from skyhold.store import open_store

ACCOUNT = "123456789012"
SHARED = Path(__file__).resolve().parents[3] / ".." / "shared"


@dataclass
class FakeCall:
    """The part of pipeline.Call that IAM handlers use."""

    store: Any
    principal: P.Principal
    operation: str
    region: str = "us-east-1"
    request_id: str = "00000000-0000-0000-0000-000000000000"


ROOT = P.Principal(type=P.ROOT, account=ACCOUNT, arn=f"arn:aws:iam::{ACCOUNT}:root", user_id=ACCOUNT)


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Any]:
    s, _blobs = open_store(tmp_path / "data")
    s.put("account", ACCOUNT, {"Id": ACCOUNT, "Name": "default", "CreatedAt": "2026-01-01T00:00:00Z"})
    yield s
    close = getattr(s, "close", None)
    if close:
        close()


Run = Callable[..., dict[str, Any]]


@pytest.fixture
def iam(store: Any) -> Run:
    """iam("CreateUser", UserName="bob") as the account's root user; as_=Principal to change."""
    from skyhold.services.iam import HANDLERS

    def run(operation: str, as_: P.Principal = ROOT, **params: Any) -> dict[str, Any]:
        return HANDLERS[operation](FakeCall(store, as_, operation), params)

    return run


def user_principal(store: Any, name: str) -> P.Principal:
    from skyhold.services.iam import records

    user = records.get_user(store, ACCOUNT, name)
    assert user is not None
    return P.Principal(type=P.IAM_USER, account=ACCOUNT, arn=user["Arn"], user_id=user["UserId"], name=name)


def fails(run: Run, operation: str, code: str, message: str | None = None, status: int | None = None,
          **params: Any) -> AwsError:
    with pytest.raises(AwsError) as info:
        run(operation, **params)
    err = info.value
    assert err.code == code, err
    if message is not None:
        assert err.message == message
    if status is not None:
        assert err.status == status
    return err


@pytest.fixture
def frozen_clock(monkeypatch: pytest.MonkeyPatch) -> Callable[[float], None]:
    """Pin Skyhold's clock to an epoch second (TOTP tests need exact steps)."""
    import datetime as _dt

    state = {"t": 1_800_000_000.0}

    def now() -> _dt.datetime:
        return _dt.datetime.fromtimestamp(state["t"], _dt.timezone.utc)

    monkeypatch.setattr(clock, "now", now)
    monkeypatch.setattr(clock, "now_epoch", lambda: state["t"])

    def set_time(t: float) -> None:
        state["t"] = t

    return set_time


POLICY = '{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"}]}'
TRUST = ('{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", '
         '"Principal": {"Service": "ec2.amazonaws.com"}, "Action": "sts:AssumeRole"}]}')
