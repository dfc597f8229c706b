"""`skyhold up` and the data dir as a CLI must treat them: one server per data dir, no
store made where none was asked for, one-line errors instead of tracebacks, signals
during start-up, ports, the credential process's errors and account names."""

from __future__ import annotations

import json
import os
import re
import shlex
import signal
import socket
import subprocess
import time
import uuid
from pathlib import Path

import pytest

from .conftest import VENV_BIN, AwsEnv, Server, clean_env, free_port, own_server, wait_for

SKYHOLD = str(VENV_BIN / "skyhold")


def _run(*args: str, env: dict[str, str] | None = None, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run([SKYHOLD, *args], capture_output=True, text=True, timeout=timeout,
                          env={**os.environ, **(env or {})})


def _one_line(err: str) -> str:
    assert "Traceback" not in err, err
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    return lines[0]


# --- 1. one server per data dir -------------------------------------------------------


def test_a_second_up_on_a_served_data_dir_is_refused_and_the_trail_survives(server: Server, admin: AwsEnv) -> None:
    iam = admin.client("iam")
    before = f"before-{uuid.uuid4().hex[:6]}"
    iam.create_user(UserName=before)
    for port in (server.port, free_port()):  # its busy port, and a free one
        out = _run("up", "--port", str(port), "--data-dir", str(server.data_dir), timeout=30)
        assert out.returncode == 2, out
        assert _one_line(out.stderr) == f"skyhold: another skyhold up is serving data dir {server.data_dir}"
        assert "serving on" not in out.stdout
    after = f"after-{uuid.uuid4().hex[:6]}"
    iam.create_user(UserName=after)
    trail = admin.client("cloudtrail", region_name="us-east-1")

    def recorded() -> bool:
        events = trail.lookup_events(LookupAttributes=[{"AttributeKey": "EventName",
                                                        "AttributeValue": "CreateUser"}], MaxResults=50)["Events"]
        text = json.dumps([e.get("CloudTrailEvent", "") for e in events])
        return before in text and after in text

    wait_for(recorded)


def test_reading_commands_work_while_the_server_runs(server: Server) -> None:
    out = server.cli("account", "list")
    assert out.returncode == 0, out.stderr
    assert re.match(r"\d{12}  ", out.stdout)


# --- 2. only `up` makes a data dir ------------------------------------------------------


_READERS = (("account", "list"), ("oidc", "token", "--sub", "app"), ("instance", "identity-key"),
            ("configure",), ("explain", "some-request-id"), ("credentials",), ("account", "root-key"),
            ("account", "create", "lab"))


@pytest.mark.parametrize("command", _READERS, ids=lambda c: " ".join(c[:2]))
def test_commands_but_up_refuse_a_data_dir_without_a_store(tmp_path: Path, command: tuple[str, ...]) -> None:
    missing = tmp_path / "typo" / "data"
    out = _run(*command, "--data-dir", str(missing), env=clean_env(tmp_path))
    assert out.returncode == 2, out
    assert _one_line(out.stderr) == f"skyhold: no Skyhold data in {missing} (start it with skyhold up --data-dir {missing})"
    assert not (tmp_path / "typo").exists()


def test_a_foreign_folder_keeps_its_mode_and_contents(tmp_path: Path) -> None:
    project = tmp_path / "project"
    project.mkdir()
    project.chmod(0o755)
    (project / "README").write_text("hi")
    for command in _READERS:
        out = _run(*command, "--data-dir", str(project), env=clean_env(tmp_path))
        assert out.returncode == 2, (command, out)
    assert project.stat().st_mode & 0o777 == 0o755
    assert [p.name for p in project.iterdir()] == ["README"]


def test_up_creates_its_data_dir_owner_only_but_leaves_a_foreign_folders_mode(tmp_path: Path) -> None:
    for data_dir, pre_made in ((tmp_path / "data", False), (tmp_path / "shared", True)):
        if pre_made:
            data_dir.mkdir()
            data_dir.chmod(0o755)
        srv = Server(data_dir, free_port())
        srv.start()
        try:
            assert data_dir.stat().st_mode & 0o777 == (0o755 if pre_made else 0o700)
            assert (data_dir / "skyhold.db").stat().st_mode & 0o077 == 0
        finally:
            assert srv.stop() == 0


# --- 3. unusable data dirs -------------------------------------------------------------


def test_an_unusable_data_dir_is_one_line_from_every_command(tmp_path: Path) -> None:
    a_file = tmp_path / "afile"
    a_file.write_text("x")
    for data_dir in (a_file, a_file / "sub"):
        for command in (("up", "--port", str(free_port())), *_READERS):
            out = _run(*command, "--data-dir", str(data_dir), env=clean_env(tmp_path), timeout=30)
            assert out.returncode == 2, (command, out)
            assert _one_line(out.stderr) == f"skyhold: cannot use data dir {data_dir}: Not a directory", command


def test_an_immutable_data_dir_is_one_line(tmp_path: Path) -> None:
    frozen = tmp_path / "frozen"
    frozen.mkdir()
    if subprocess.run(["chattr", "+i", str(frozen)], capture_output=True).returncode != 0:
        pytest.skip("chattr +i is not available here")
    try:
        out = _run("up", "--port", str(free_port()), "--data-dir", str(frozen), timeout=30)
    finally:
        subprocess.run(["chattr", "-i", str(frozen)], check=True)
    assert out.returncode == 2, out
    assert _one_line(out.stderr).startswith(f"skyhold: cannot use data dir {frozen}: ")


# --- 4. signals during start-up --------------------------------------------------------


def _start_up(data_dir: Path, port: int) -> subprocess.Popen[str]:
    # The test runner may ignore SIGINT in children; a user's shell does not.
    return subprocess.Popen([SKYHOLD, "up", "--port", str(port), "--data-dir", str(data_dir)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))


def _signal_while_starting(data_dir: Path, sig: int) -> subprocess.CompletedProcess[str]:
    """Signal `up` once it holds its data dir's lock: well before it serves."""
    proc = _start_up(data_dir, free_port())
    deadline = time.monotonic() + 20
    while not (data_dir / "skyhold.lock").exists() and time.monotonic() < deadline:
        time.sleep(0.002)
    proc.send_signal(sig)
    out, err = proc.communicate(timeout=30)
    return subprocess.CompletedProcess(proc.args, proc.returncode, out, err)


def _wait_for_startup_handlers(proc: subprocess.Popen[str]) -> None:
    """Until `up` catches SIGTERM (its start-up handlers; Python itself catches only
    SIGINT), read from the kernel's mask of caught signals. Before that, a signal meets
    Python's own start-up, as it would in any Python program."""
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        status = Path(f"/proc/{proc.pid}/status").read_text()
        caught = int(next(line.split()[1] for line in status.splitlines() if line.startswith("SigCgt:")), 16)
        if caught & (1 << (signal.SIGTERM - 1)):
            return
        time.sleep(0.001)
    raise AssertionError("skyhold up never installed its start-up signal handlers")


@pytest.mark.parametrize("moment", ("loading", "starting"))
def test_ctrl_c_before_serving_is_one_line_and_exit_130(tmp_path: Path, moment: str) -> None:
    if moment == "loading":  # the modules still load: no lock taken yet
        proc = _start_up(tmp_path / "data", free_port())
        _wait_for_startup_handlers(proc)
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=30)
        done = subprocess.CompletedProcess(proc.args, proc.returncode, out, err)
    else:
        done = _signal_while_starting(tmp_path / "data", signal.SIGINT)
    assert done.returncode == 130, done
    assert _one_line(done.stderr) == "skyhold: interrupted before serving"
    assert "serving on" not in done.stdout


def test_sigterm_before_serving_exits_143_quietly_and_the_data_dir_starts_again(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    done = _signal_while_starting(data_dir, signal.SIGTERM)
    assert done.returncode == 143, done
    assert done.stderr == "" and "serving on" not in done.stdout
    srv = Server(data_dir, free_port())
    srv.start()  # the lock went with the process
    try:
        out = srv.cli("account", "list")
        assert out.returncode == 0 and re.match(r"\d{12}  ", out.stdout), out
    finally:
        assert srv.stop(signal.SIGINT) == 0
    assert "Skyhold stopped" in srv.log()


# --- 5. ports --------------------------------------------------------------------------


@pytest.mark.parametrize("flags, env, needle", [
    (("--port", "99999"), {}, "argument --port: invalid port 99999: a port is 0-65535"),
    (("--port", "-1"), {}, "argument --port: invalid port -1: a port is 0-65535"),
    (("--https-port", "65536"), {}, "argument --https-port: invalid port 65536: a port is 0-65535"),
    ((), {"SKYHOLD_PORT": "abc"}, "skyhold: SKYHOLD_PORT: invalid port 'abc': not a number"),
    ((), {"SKYHOLD_HTTPS_PORT": "x"}, "skyhold: SKYHOLD_HTTPS_PORT: invalid port 'x': not a number"),
    ((), {"SKYHOLD_PORT": "70000"}, "skyhold: SKYHOLD_PORT: invalid port 70000: a port is 0-65535"),
])
def test_ports_out_of_range_are_usage_errors(tmp_path: Path, flags: tuple[str, ...], env: dict[str, str],
                                             needle: str) -> None:
    out = _run("up", *flags, "--data-dir", str(tmp_path / "data"), env=env, timeout=30)
    assert out.returncode == 2, out
    assert "Traceback" not in out.stderr and out.stderr.strip().splitlines()[-1].endswith(needle), out.stderr
    assert "serving on" not in out.stdout


def test_port_0_prints_the_port_it_bound(tmp_path: Path) -> None:
    proc = subprocess.Popen([SKYHOLD, "up", "--port", "0", "--data-dir", str(tmp_path / "data")],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        line = next(line for line in proc.stdout if "serving on" in line)
        found = re.fullmatch(rf"Skyhold is serving on http://127\.0\.0\.1:(\d+) \(data: {tmp_path / 'data'}\)\n", line)
        assert found, line
        port = int(found.group(1))
        assert port != 0
        with socket.create_connection(("127.0.0.1", port), timeout=5):  # it listens there, already
            pass
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=30) == 0


def test_a_busy_port_or_bad_host_is_one_line_and_prints_no_serving(tmp_path: Path) -> None:
    with socket.create_server(("127.0.0.1", 0)) as taken:
        port = taken.getsockname()[1]
        out = _run("up", "--port", str(port), "--data-dir", str(tmp_path / "data"), timeout=30)
    assert out.returncode != 0 and "serving on" not in out.stdout, out
    assert _one_line(out.stderr).startswith(f"skyhold: cannot listen on 127.0.0.1:{port}: "), out.stderr
    out = _run("up", "--host", "no-such-host.invalid", "--port", str(free_port()),
               "--data-dir", str(tmp_path / "data"), timeout=60)
    assert out.returncode != 0 and "serving on" not in out.stdout, out
    assert _one_line(out.stderr).startswith("skyhold: cannot listen on no-such-host.invalid:"), out.stderr


# --- 6. the credential process --------------------------------------------------------


def test_credentials_errors_are_one_line_and_duration_is_checked(tmp_path: Path) -> None:
    with own_server(tmp_path) as (srv, _):
        down = f"http://127.0.0.1:{free_port()}"
        out = srv.cli("credentials", "--endpoint", down)
        assert out.returncode == 1, out
        assert _one_line(out.stderr).startswith(f"skyhold: cannot reach Skyhold at {down}: ")
        for bad in ("899", "129601", "ten"):
            out = srv.cli("credentials", "--endpoint", srv.endpoint, "--duration", bad)
            assert out.returncode == 2 and "argument --duration: invalid duration" in out.stderr, out
        # The aws CLI shows the process's stderr: one line, not a traceback.
        env = clean_env(tmp_path / "home")
        (tmp_path / "home").mkdir()
        assert srv.cli("configure", "--endpoint", down, env=env).returncode == 0
        aws = subprocess.run([str(VENV_BIN / "aws"), "--profile", "skyhold", "sts", "get-caller-identity"],
                             capture_output=True, text=True, env=env, timeout=60)
        assert aws.returncode != 0 and "Traceback" not in aws.stderr, aws.stderr
        assert f"skyhold: cannot reach Skyhold at {down}: " in aws.stderr

        first = json.loads(srv.cli("credentials", "--endpoint", srv.endpoint).stdout)
        again = json.loads(srv.cli("credentials", "--endpoint", srv.endpoint).stdout)
        assert again == first  # kept
        longer = srv.cli("credentials", "--endpoint", srv.endpoint, "--duration", "7200")
        assert longer.returncode == 0, longer.stderr
        renewed = json.loads(longer.stdout)
        assert renewed["AccessKeyId"] != first["AccessKeyId"]
        assert renewed["Expiration"] > first["Expiration"]
        assert set(renewed) == set(first)  # the kept file's bookkeeping stays out of the output


def test_credentials_print_skyholds_error_as_one_line(tmp_path: Path, server: Server) -> None:
    """The admin's key of one Skyhold is unknown to another: STS's own error, one line."""
    with own_server(tmp_path) as (srv, _):
        out = srv.cli("credentials", "--endpoint", server.endpoint)
    assert out.returncode == 1, out
    assert re.fullmatch(r"skyhold: InvalidClientTokenId: .+", _one_line(out.stderr)), out.stderr


# --- 7. account create ------------------------------------------------------------------


def test_account_names_follow_organizations(server: Server, tmp_path: Path) -> None:
    for bad in ("", "x" * 129):
        out = server.cli("account", "create", bad)
        assert out.returncode == 2, out
        assert _one_line(out.stderr) == "skyhold: an account name is 1-128 characters"
    longest = uuid.uuid4().hex + "y" * 96
    out = server.cli("account", "create", longest)
    assert out.returncode == 0, out.stderr
    for name in (f"my lab {uuid.uuid4().hex[:6]}", f"it's $HOME; [x] {uuid.uuid4().hex[:6]}"):
        out = server.cli("account", "create", name)
        assert out.returncode == 0, out.stderr
        account_id = re.search(r"Created account (\d{12})", out.stdout)
        assert account_id, out.stdout
        hint = out.stdout.strip().splitlines()[-1].removeprefix("Configure it: ")
        words = shlex.split(hint)  # as a shell runs it
        assert words[:3] == ["skyhold", "configure", "--profile"] and words[4:] == ["--account", account_id.group(1)]
        env = clean_env(tmp_path)
        done = server.cli(*words[1:], "--static-keys", "--endpoint", server.endpoint, env=env)
        assert done.returncode == 0, (hint, done.stderr)
        who = subprocess.run([str(VENV_BIN / "aws"), "--profile", words[3], "sts", "get-caller-identity"],
                             capture_output=True, text=True, env=env, timeout=60)
        assert who.returncode == 0 and json.loads(who.stdout)["Account"] == account_id.group(1), who.stderr


def test_account_create_before_the_first_up_is_refused(tmp_path: Path) -> None:
    from skyhold.store import open_store

    data_dir = tmp_path / "data"
    store, _ = open_store(data_dir)  # a store, as an interrupted first start leaves it: no account yet
    store.close()
    out = _run("account", "create", "lab", "--data-dir", str(data_dir))
    assert out.returncode == 2, out
    assert _one_line(out.stderr) == (f"skyhold: no accounts in {data_dir} yet: run skyhold up --data-dir {data_dir} "
                                     "first (it creates the first, administrator account)")
    assert _run("account", "list", "--data-dir", str(data_dir)).stdout == ""
