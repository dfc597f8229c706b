"""Skyhold's administrative surface, as a security review found it: who may move the
clock every account shares (only Skyhold's administrator, whatever IAM policies say),
a request-log line for every admin call, clock steps the clock cannot take (refused,
and a data dir holding one recovers), and an owner-only data dir.

Every test that could move a clock does it on a server of its own.
"""

from __future__ import annotations

import http.server
import json
import re
import stat
import threading
import time
import urllib.error
import urllib.request
import uuid
from pathlib import Path
from typing import Any

import pytest

from skyhold.admin_client import call
from skyhold.errors import AwsError

from .conftest import AwsEnv, Server, clean_env, free_port, new_account, own_server

CLOCK = "/_skyhold/clock"
ADMIN_ARN = re.compile(r"arn:aws:iam::\d{12}:user/admin")


def _key(env: AwsEnv) -> dict[str, str]:
    """An AwsEnv's credentials in the shape admin_client.call takes."""
    creds = env.credentials()
    return {"key": creds.access_key, "secret": creds.secret_key, **({"token": creds.token} if creds.token else {})}


def _clock_call(srv: Server, who: dict[str, str], method: str = "GET", payload: dict[str, Any] | None = None
                ) -> dict[str, Any]:
    return call(srv.endpoint, who["key"], who["secret"], method, CLOCK, payload, token=who.get("token"))


def _refused(fn: Any) -> AwsError:
    with pytest.raises(AwsError) as err:
        fn()
    return err.value


def _offset(srv: Server, admin: dict[str, str]) -> float:
    return float(_clock_call(srv, admin)["offset_seconds"])


def _log_lines(srv: Server, pattern: str, timeout: float = 5.0) -> list[str]:
    """The server log's lines matching `pattern` (lines are written a loop round late)."""
    deadline = time.monotonic() + timeout
    while True:
        found = [line for line in srv.log().splitlines() if re.search(pattern, line)]
        if found or time.monotonic() > deadline:
            return found
        time.sleep(0.05)


def _root_key(srv: Server, *account: str) -> dict[str, str]:
    """A new access key of an account's root user (`skyhold account root-key`)."""
    out = srv.cli("account", "root-key", *(("--account", account[0]) if account else ()))
    assert out.returncode == 0, out.stderr
    found = re.search(r"access key id:\s+(\S+)\s+secret access key:\s+(\S+)", out.stdout)
    assert found, out.stdout
    return {"key": found.group(1), "secret": found.group(2)}


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


# --- who may move the clock ---------------------------------------------------------


def test_only_skyholds_administrator_moves_the_clock(tmp_path: Path) -> None:
    with own_server(tmp_path) as (srv, adm):
        admin = _key(adm)
        account = adm.client("sts").get_caller_identity()["Account"]
        iam = adm.client("iam")

        # A role session with AdministratorAccess (a lab's CI or instance role)
        role = f"lab-admin-{uuid.uuid4().hex[:6]}"
        role_arn = iam.create_role(RoleName=role, AssumeRolePolicyDocument=json.dumps({
            "Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{account}:root"},
                                                    "Action": "sts:AssumeRole"}]}))["Role"]["Arn"]
        iam.attach_role_policy(RoleName=role, PolicyArn="arn:aws:iam::aws:policy/AdministratorAccess")
        session = adm.client("sts").assume_role(RoleArn=role_arn, RoleSessionName="ci")["Credentials"]
        role_session = {"key": session["AccessKeyId"], "secret": session["SecretAccessKey"],
                        "token": session["SessionToken"]}
        # A user with PowerUserAccess: everything but IAM and Organizations ("NotAction")
        power = adm.new_user()
        iam.attach_user_policy(UserName=power["UserName"], PolicyArn="arn:aws:iam::aws:policy/PowerUserAccess")
        power_user = {"key": power["AccessKeyId"], "secret": power["SecretAccessKey"]}
        # Another account's admin (AdministratorAccess in its own account), by its
        # MFA session and by its root user's key
        other_env, other_id = new_account(srv, tmp_path / "other", "clockers")
        other_admin = _key(other_env)
        other_root = _root_key(srv, other_id)

        before = _offset(srv, admin)
        for label, who in (("role session", role_session), ("PowerUserAccess", power_user),
                           ("other account's admin", other_admin), ("other account's root", other_root)):
            err = _refused(lambda: _clock_call(srv, who, "POST", {"advance_seconds": 86400}))
            assert (err.code, err.status) == ("AccessDeniedException", 403), label
            assert "is not authorized to perform: skyhold:SetClock" in err.message, label
            err = _refused(lambda: _clock_call(srv, who))
            assert (err.code, err.status) == ("AccessDeniedException", 403), label
            assert "skyhold:GetClock" in err.message, label
        assert _offset(srv, admin) == before  # nobody moved it

        # The administrator still does, with the CLI, and its own account's root may
        out = srv.cli("clock", "advance", "1h", "--endpoint", srv.endpoint)
        assert out.returncode == 0, out.stderr
        assert f"real time + {before + 3600:.0f}s" in out.stdout
        root = _root_key(srv)
        assert _clock_call(srv, root, "POST", {"advance_seconds": 60})["offset_seconds"] == before + 3660
        out = srv.cli("clock", "reset", "--endpoint", srv.endpoint)
        assert out.returncode == 0, out.stderr
        assert _offset(srv, admin) == 0


def test_a_session_of_the_administrator_is_the_administrator(tmp_path: Path) -> None:
    """`skyhold configure`'s profile: the admin's GetSessionToken session (with MFA)."""
    with own_server(tmp_path) as (srv, _):
        home = tmp_path / "session-home"
        home.mkdir()
        environ = clean_env(home)
        out = srv.cli("configure", "--endpoint", srv.endpoint, env=environ)
        assert out.returncode == 0, out.stderr
        session = _key(AwsEnv(env=environ, profile="skyhold", endpoint=srv.endpoint))
        assert "token" in session
        moved = _clock_call(srv, session, "POST", {"advance_seconds": 120})
        assert moved["offset_seconds"] >= 120


def test_every_admin_call_leaves_one_log_line(tmp_path: Path) -> None:
    with own_server(tmp_path) as (srv, adm):
        admin = _key(adm)
        power = adm.new_user({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*",
                                                                      "Resource": "*"}]})
        user_arn = adm.client("iam").get_user(UserName=power["UserName"])["User"]["Arn"]
        _refused(lambda: _clock_call(srv, {"key": power["AccessKeyId"], "secret": power["SecretAccessKey"]},
                                     "POST", {"advance_seconds": 5}))
        refused = _log_lines(srv, rf"^\S+ skyhold SetClock {re.escape(user_arn)} 403 ")
        assert len(refused) == 1, srv.log()[-2000:]

        _clock_call(srv, admin, "POST", {"advance_seconds": 5})
        allowed = _log_lines(srv, r"^\S+ skyhold SetClock arn:aws:iam::\d{12}:user/admin 200 ")
        assert len(allowed) == 1, srv.log()[-2000:]

        # unsigned: refused, and logged as anonymous
        with pytest.raises(urllib.error.HTTPError) as unsigned:
            urllib.request.urlopen(urllib.request.Request(srv.endpoint + CLOCK, data=b'{"advance_seconds": 5}',
                                                          method="POST"), timeout=10)
        assert unsigned.value.code == 403
        assert len(_log_lines(srv, r"^\S+ skyhold SetClock anonymous 403 ")) == 1


# --- clock steps the clock cannot take ------------------------------------------------


def test_a_step_the_clock_cannot_take_is_refused_and_changes_nothing(tmp_path: Path) -> None:
    with own_server(tmp_path) as (srv, adm):
        admin = _key(adm)
        _clock_call(srv, admin, "POST", {"advance_seconds": 30})
        before = _clock_call(srv, admin)["offset_seconds"]
        # JSON's NaN and Infinity (Python's json reads them), a step past year 9999, an
        # integer no float holds, a step backwards
        for step in (float("nan"), float("inf"), float("-inf"), 1e300, 10**400, -60, "1h", None, []):
            err = _refused(lambda: _clock_call(srv, admin, "POST", {"advance_seconds": step}))
            assert (err.code, err.status) == ("ValidationException", 400), step
            assert _clock_call(srv, admin)["offset_seconds"] == before, step
        assert ADMIN_ARN.fullmatch(adm.client("sts").get_caller_identity()["Arn"])  # the server still answers
        # ... and so it does after a restart, its clock where it was
        assert srv.stop() == 0
        srv.start()
        assert _clock_call(srv, admin)["offset_seconds"] == before
        adm.client("sts").get_caller_identity()


def test_the_clock_stops_short_of_its_limit(tmp_path: Path) -> None:
    """The CLI's typo (2000000w for 2w, some 38,000 years) is refused; so is a step
    landing a day past the clock's limit; the clock does not move. Up to the limit,
    dates a century ahead (Object Lock retention) and long rotation periods still work."""
    from skyhold.clock import LATEST

    with own_server(tmp_path) as (srv, adm):
        admin = _key(adm)
        out = srv.cli("clock", "advance", "2000000w", "--endpoint", srv.endpoint)
        assert out.returncode == 1
        assert "ValidationException" in out.stderr and str(LATEST.year) in out.stderr
        past = LATEST.timestamp() - time.time() + 86400
        err = _refused(lambda: _clock_call(srv, admin, "POST", {"advance_seconds": past}))
        assert (err.code, err.status) == ("ValidationException", 400)
        assert _clock_call(srv, admin)["offset_seconds"] == 0
        # a month short of it is a time the clock can take, and the server still works
        short = LATEST.timestamp() - time.time() - 30 * 86400
        assert _clock_call(srv, admin, "POST", {"advance_seconds": short})["now"].startswith(f"{LATEST.year - 1}-12-")
        adm.client("sts").get_caller_identity()
        key = adm.client("kms").create_key()["KeyMetadata"]["KeyId"]
        adm.client("kms").enable_key_rotation(KeyId=key, RotationPeriodInDays=2560)
        s3: Any = adm.client("s3", region_name="us-east-1")
        s3.create_bucket(Bucket="century-lock", ObjectLockEnabledForBucket=True)
        s3.put_object_lock_configuration(Bucket="century-lock", ObjectLockConfiguration={
            "ObjectLockEnabled": "Enabled", "Rule": {"DefaultRetention": {"Mode": "GOVERNANCE", "Years": 100}}})
        s3.put_object(Bucket="century-lock", Key="k", Body=b"x")
        out = srv.cli("clock", "reset", "--endpoint", srv.endpoint)
        assert out.returncode == 0, out.stderr


def test_a_data_dir_holding_a_bad_offset_recovers_at_start(tmp_path: Path) -> None:
    """Offsets a data dir could hold before they were checked: each is dropped at start."""
    from skyhold.store import open_store

    with own_server(tmp_path) as (srv, adm):
        admin = _key(adm)
        for stored in (float("nan"), float("inf"), 1e12, -5.0, "soon"):
            assert srv.stop() == 0
            store, _ = open_store(srv.data_dir)
            try:
                store.put("skyhold.meta", "clock", {"offset_seconds": stored})
            finally:
                store.close()
            srv.start()
            assert ADMIN_ARN.fullmatch(adm.client("sts").get_caller_identity()["Arn"]), stored
            assert _clock_call(srv, admin)["offset_seconds"] == 0, stored
            assert "stored offset of Skyhold's clock" in srv.log(), stored
        out = srv.cli("clock", "advance", "1m", "--endpoint", srv.endpoint)
        assert out.returncode == 0, out.stderr
        assert "real time + 60s" in out.stdout


def test_the_admin_client_reports_an_answer_that_is_not_json() -> None:
    class Proxy(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 (http.server's name)
            body = b"<html>502 Bad Gateway</html>"
            self.send_response(502)
            self.send_header("content-length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *_: Any) -> None:
            pass

    proxy = http.server.HTTPServer(("127.0.0.1", free_port()), Proxy)
    threading.Thread(target=proxy.serve_forever, daemon=True).start()
    try:
        err = _refused(lambda: call(f"http://127.0.0.1:{proxy.server_port}", "AKIAEXAMPLE", "x" * 40, "GET", CLOCK))
    finally:
        proxy.shutdown()
        proxy.server_close()
    assert err.status == 502
    assert "502 Bad Gateway" in err.message


# --- an owner-only data dir -------------------------------------------------------------


def _assert_private(data_dir: Path) -> None:
    assert _mode(data_dir) == 0o700
    files = [data_dir / n for n in ("skyhold.db", "skyhold.db-wal", "skyhold.db-shm", "trail.db", "trail.db-wal",
                                    "trail.db-shm")]
    assert (data_dir / "skyhold.db").exists() and (data_dir / "trail.db").exists()
    for path in files:
        if path.exists():
            assert _mode(path) == 0o600, path
    for name in ("blobs", "trail-journal"):
        assert _mode(data_dir / name) == 0o700, name
    for path in data_dir.rglob("*"):  # whatever else the server wrote: no one else's to read
        assert not _mode(path) & 0o077, path


def test_the_data_dir_is_owner_only(tmp_path: Path) -> None:
    with own_server(tmp_path) as (srv, adm):
        s3 = adm.client("s3", region_name="us-east-1")
        bucket = f"private-{uuid.uuid4().hex[:10]}"
        s3.create_bucket(Bucket=bucket)
        s3.put_object(Bucket=bucket, Key="k", Body=b"secret")  # a blob
        adm.client("iam").create_user(UserName="someone")
        _assert_private(srv.data_dir)


def test_a_data_dir_made_world_readable_before_is_tightened(tmp_path: Path) -> None:
    with own_server(tmp_path) as (srv, _):
        assert srv.stop() == 0
        srv.data_dir.chmod(0o755)
        for path in srv.data_dir.iterdir():
            path.chmod(0o755 if path.is_dir() else 0o644)
        srv.start()
        _assert_private(srv.data_dir)


def test_the_cli_creates_no_data_dir(tmp_path: Path) -> None:
    """Only `skyhold up` makes a data dir (owner-only: test_cli_robustness.py)."""
    srv = Server(tmp_path / "fresh" / "data", free_port())
    out = srv.cli("account", "create", f"first-{uuid.uuid4().hex[:6]}")
    assert out.returncode == 2, out.stderr
    assert not (tmp_path / "fresh").exists()
