"""clock.advanced_since: how far Skyhold's clock moved forward since a wall time, the
part of a presigned URL's age that wall time does not show; and the ages it gives
presigned URLs (S3's and other services') and POST policies."""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone

import pytest

from skyhold import clock
from skyhold.auth import sigv4
from skyhold.auth.authenticate import authenticate
from skyhold.auth.credentials import Credential
from skyhold.auth.post_policy import verify_post_policy
from skyhold.errors import AwsError
from skyhold.wire.http import HttpRequest


@pytest.fixture
def fake_wall(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[float]]:
    """A wall clock the test moves (`wall[0] = ...`), and a clock with no history."""
    wall = [1_800_000_000.0]
    monkeypatch.setattr(time, "time", lambda: wall[0])
    monkeypatch.setattr(clock, "_offset_seconds", 0.0)
    monkeypatch.setattr(clock, "_changes", [])
    yield wall


def test_no_move_is_no_advance(fake_wall: list[float]) -> None:
    assert clock.advanced_since(fake_wall[0] - 3600) == 0.0
    clock.set_offset(0.0)  # not a change
    assert clock.history() == []


def test_an_advance_ages_what_was_signed_before_it_only(fake_wall: list[float]) -> None:
    signed = fake_wall[0]
    fake_wall[0] += 10
    clock.set_offset(600)
    fake_wall[0] += 10
    assert clock.advanced_since(signed) == 600
    assert clock.advanced_since(fake_wall[0] - 5) == 0.0  # signed after the move
    clock.set_offset(900)
    assert clock.advanced_since(signed) == 900
    assert clock.advanced_since(signed + 15) == 300  # between the two moves
    assert clock.advanced_since(0.0) == 900  # before any recorded move: the baseline's


def test_the_second_of_a_move_counts_as_after_it(fake_wall: list[float]) -> None:
    fake_wall[0] += 0.7
    clock.set_offset(600)
    # X-Amz-Date holds whole seconds: a URL signed in this second is not aged by it.
    assert clock.advanced_since(float(int(fake_wall[0]))) == 0.0


def test_a_reset_never_lengthens_a_life(fake_wall: list[float]) -> None:
    clock.set_offset(3600)
    fake_wall[0] += 10
    signed_while_advanced = fake_wall[0]
    fake_wall[0] += 10
    clock.set_offset(0.0)
    assert clock.advanced_since(signed_while_advanced) == 0.0  # wall age alone, not less
    fake_wall[0] += 10
    clock.set_offset(120)
    assert clock.advanced_since(signed_while_advanced) == 0.0  # still below where it was signed
    assert clock.advanced_since(fake_wall[0] - 5) == 120


def test_a_reset_does_not_revive_what_an_advance_expired(fake_wall: list[float]) -> None:
    signed = fake_wall[0]
    fake_wall[0] += 10
    clock.set_offset(600)
    fake_wall[0] += 10
    clock.set_offset(0.0)
    assert clock.advanced_since(signed) == 600  # the age it reached stays reached
    fake_wall[0] += 10
    clock.set_offset(300)
    assert clock.advanced_since(signed) == 600
    assert clock.advanced_since(fake_wall[0] - 5) == 300  # signed after the reset


def test_history_keeps_a_week_and_a_baseline(fake_wall: list[float]) -> None:
    start = fake_wall[0]
    for step in range(1, 11):
        fake_wall[0] = start + step * 86400  # a move a day
        clock.set_offset(step * 60.0)
    history = clock.history()
    assert len(history) <= 9  # a week of changes plus the baseline before them
    assert history[0][0] <= fake_wall[0] - clock.HISTORY_SECONDS < history[1][0]
    week_ago = fake_wall[0] - clock.HISTORY_SECONDS
    assert clock.advanced_since(week_ago) == 600 - 180  # the offset then: day 3's


def test_restore_takes_a_history_and_drops_a_malformed_one(fake_wall: list[float]) -> None:
    clock.restore(600, [(0.0, 0.0), (fake_wall[0] - 30, 600)])
    assert clock.advanced_since(fake_wall[0] - 60) == 600
    assert clock.advanced_since(fake_wall[0]) == 0.0
    clock.restore(600, [(fake_wall[0], 600), (fake_wall[0] - 30, 0.0)])  # out of order
    assert clock.history() == []
    with pytest.raises(ValueError):
        clock.restore(float("nan"), [])


# --- the ages it gives authenticate() ---------------------------------------------------

def _presigned(service: str, signed: datetime, expires: int) -> HttpRequest:
    req = HttpRequest("GET", "/" if service != "s3" else "/bucket/key", "Action=ListUsers" if service != "s3" else "",
                      {"host": "example.com"}, b"")
    sigv4.presign_query(req, "AKIDLONGTERM00000000", "secret", "us-east-1", service, signed, expires,
                        s3=service == "s3")
    return req


def _check(req: HttpRequest, service: str) -> AwsError | None:
    try:
        authenticate(req, lambda _: CREDENTIAL, service=service, regions=frozenset({"us-east-1"}),
                     s3=service == "s3", protocol="query")
    except AwsError as err:
        return err
    return None


CREDENTIAL = Credential("AKIDLONGTERM00000000", "secret")


@pytest.fixture
def fresh_clock(monkeypatch: pytest.MonkeyPatch) -> None:
    """The real wall clock (authenticate reads it), and a clock with no history."""
    monkeypatch.setattr(clock, "_offset_seconds", 0.0)
    monkeypatch.setattr(clock, "_changes", [])


def _ago(seconds: float) -> datetime:
    return datetime.fromtimestamp(int(time.time() - seconds), timezone.utc)


def test_presigned_urls_age_by_the_moves_since_they_were_signed(fresh_clock: None) -> None:
    signed = _ago(30)
    s3_url, iam_url = _presigned("s3", signed, 300), _presigned("iam", signed, 300)
    assert _check(s3_url, "s3") is None and _check(iam_url, "iam") is None
    clock.set_offset(200)  # 230s old on Skyhold's clock: still within 300
    assert _check(s3_url, "s3") is None and _check(iam_url, "iam") is None
    clock.set_offset(600)
    err = _check(s3_url, "s3")
    assert err is not None and (err.code, err.message, err.status) == ("AccessDenied", "Request has expired", 403)
    # ServerTime: the URL's moment on Skyhold's clock (wall time + 600s), past Expires.
    server_time = datetime.fromisoformat(err.extra["ServerTime"])
    assert abs((server_time - clock.wall_now()).total_seconds() - 600) < 5
    # Only S3 honours X-Amz-Expires: IAM's URL lives the fixed 15 minutes, on Skyhold's clock too.
    assert _check(iam_url, "iam") is None
    clock.set_offset(900)
    err = _check(iam_url, "iam")
    assert err is not None and err.code == "SignatureDoesNotMatch" and err.message.startswith("Signature expired")
    # Signed after the move (in the next second, as the admin API moves it): a full life.
    assert _check(_presigned("s3", _ago(-1), 60), "s3") is None
    assert _check(_presigned("iam", _ago(-1), 60), "iam") is None


def test_a_post_policys_expiration_runs_on_skyholds_clock(fresh_clock: None) -> None:
    signed = _ago(5)
    fields = post_form(clock.iso8601(signed + timedelta(seconds=300)), signed)
    assert verify_post_policy(fields, lambda _: CREDENTIAL, bucket="b", regions=frozenset({"us-east-1"}))[0]
    clock.set_offset(600)
    with pytest.raises(AwsError) as err:
        verify_post_policy(fields, lambda _: CREDENTIAL, bucket="b", regions=frozenset({"us-east-1"}))
    assert err.value.message == "Invalid according to Policy: Policy expired."
    later = _ago(-1)  # signed after the move: its expiration is wall time + 300s
    fields = post_form(clock.iso8601(later + timedelta(seconds=300)), later)
    assert verify_post_policy(fields, lambda _: CREDENTIAL, bucket="b", regions=frozenset({"us-east-1"}))[0]


def post_form(expiration: str, signed: datetime) -> dict[str, str]:
    amz = signed.strftime("%Y%m%dT%H%M%SZ")
    policy = base64.b64encode(json.dumps({"expiration": expiration, "conditions": [
        {"bucket": "b"}, {"key": "k"}, {"x-amz-algorithm": sigv4.ALGORITHM},
        {"x-amz-credential": f"AKIDLONGTERM00000000/{amz[:8]}/us-east-1/s3/aws4_request"}, {"x-amz-date": amz},
    ]}).encode()).decode()
    key = sigv4.signing_key("secret", amz[:8], "us-east-1", "s3")
    return {"key": "k", "x-amz-algorithm": sigv4.ALGORITHM, "x-amz-date": amz, "policy": policy,
            "x-amz-credential": f"AKIDLONGTERM00000000/{amz[:8]}/us-east-1/s3/aws4_request",
            "x-amz-signature": sigv4.sign(key, policy)}
