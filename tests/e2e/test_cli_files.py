"""The command line with the user's own files and programs: `skyhold configure` edits
~/.aws files in place, `instance exec` exits like a shell, `policy` reads only UTF-8,
and `rotation register` refuses what could never run."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest

from ..aws_files import USER_CONFIG, USER_CREDENTIALS
from .conftest import VENV_BIN, AwsEnv, Server, clean_env

# Each test's instances count against the shared account's quota till the module is done.
pytestmark = pytest.mark.usefixtures("instances_terminated")

SKYHOLD = str(VENV_BIN / "skyhold")
AL2023 = "ami-0453ec754f44f9a4a"


def _run(*args: str, env: dict[str, str] | None = None, stdin: bytes | None = None) -> subprocess.CompletedProcess[str]:
    out = subprocess.run([SKYHOLD, *args], input=stdin, capture_output=True, env=env or dict(os.environ), timeout=120)
    return subprocess.CompletedProcess(out.args, out.returncode, out.stdout.decode(), out.stderr.decode())


def _one_line_error(out: subprocess.CompletedProcess[str]) -> str:
    assert out.returncode == 2, (out.stdout, out.stderr)
    assert "Traceback" not in out.stderr and out.stderr.count("\n") == 1, out.stderr
    return out.stderr


# --- skyhold configure ------------------------------------------------------------


def test_configure_edits_only_its_profile_and_keeps_modes(server: Server, tmp_path: Path) -> None:
    env = clean_env(tmp_path)
    config, creds = tmp_path / "aws-config", tmp_path / "aws-credentials"
    config.write_text(USER_CONFIG)
    creds.write_text(USER_CREDENTIALS)
    config.chmod(0o600)
    creds.chmod(0o640)
    out = server.cli("configure", "--endpoint", server.endpoint, env=env)
    assert out.returncode == 0, out.stderr
    text = config.read_text()
    # All but [profile skyhold] is as it was, comments and nested blocks included.
    head, tail = USER_CONFIG.split("[profile skyhold]")
    assert text.startswith(head + "[profile skyhold]\n")
    assert text.endswith(tail[tail.index("\n[sso-session"):])
    assert "; old settings\ncli_pager =\n" in text and "credential_process" in text
    # Only the old static key of the profile went from the credentials file.
    assert creds.read_text() == USER_CREDENTIALS[: USER_CREDENTIALS.index("[skyhold]")]
    assert stat.S_IMODE(config.stat().st_mode) == 0o600 and stat.S_IMODE(creds.stat().st_mode) == 0o640
    # and the edited profile works with the real CLI
    ident = AwsEnv(env=env, profile="skyhold", endpoint=server.endpoint).aws_json("sts", "get-caller-identity")
    assert ident["Arn"].endswith(":user/admin")


def test_configure_writes_through_symlinks_and_new_files_are_private(server: Server, tmp_path: Path) -> None:
    env = clean_env(tmp_path)
    dotfiles = tmp_path / "dotfiles"
    dotfiles.mkdir()
    real = dotfiles / "aws-config"
    real.write_text("[profile work]\nregion = eu-west-1\n")
    real.chmod(0o640)
    (tmp_path / "aws-config").symlink_to(real)
    out = server.cli("configure", "--static-keys", "--profile", "linked", "--endpoint", server.endpoint, env=env)
    assert out.returncode == 0, out.stderr
    assert (tmp_path / "aws-config").is_symlink()
    assert real.read_text().startswith("[profile work]\nregion = eu-west-1\n\n[profile linked]\n")
    assert stat.S_IMODE(real.stat().st_mode) == 0o640
    # a credentials file that did not exist holds a secret: owner-only, whatever the umask
    assert stat.S_IMODE((tmp_path / "aws-credentials").stat().st_mode) == 0o600
    assert not [p for p in dotfiles.iterdir() if p.name != "aws-config"]  # no temporary file left behind
    fresh = tmp_path / "fresh"
    fresh.mkdir()
    env2 = clean_env(fresh)
    assert server.cli("configure", "--endpoint", server.endpoint, env=env2).returncode == 0
    assert stat.S_IMODE((fresh / "aws-config").stat().st_mode) == 0o600


@pytest.mark.parametrize("config_text,creds_text", [
    ("[default]\nregion = a\n[default]\noutput = json\n", None),
    ("region = us-east-1\n[default]\n", None),
    ("[default]\nregion = a\n", "[skyhold]\naws_access_key_id = A\naws_access_key_id = B\n"),
])
def test_configure_refuses_files_it_cannot_parse(server: Server, tmp_path: Path, config_text: str,
                                                 creds_text: str | None) -> None:
    env = clean_env(tmp_path)
    config, creds = tmp_path / "aws-config", tmp_path / "aws-credentials"
    config.write_text(config_text)
    if creds_text is not None:
        creds.write_text(creds_text)
    before = {p: (p.read_bytes(), p.stat().st_mtime_ns) for p in (config, creds) if p.exists()}
    out = server.cli("configure", "--static-keys", "--endpoint", server.endpoint, env=env)
    err = _one_line_error(out)
    assert str(creds if creds_text else config) in err
    # neither file touched (a bad credentials file leaves config as it was too)
    assert {p: (p.read_bytes(), p.stat().st_mtime_ns) for p in before} == before
    assert creds.exists() == (creds_text is not None)


@pytest.mark.parametrize("name", ["my profile", "a\nb", "dev]", "[dev", 'a"b'])
def test_configure_refuses_profile_names_the_cli_cannot_use(server: Server, tmp_path: Path, name: str) -> None:
    env = clean_env(tmp_path)
    err = _one_line_error(server.cli("configure", "--profile", name, "--endpoint", server.endpoint, env=env))
    assert "profile name" in err
    assert not (tmp_path / "aws-config").exists()


# --- skyhold instance exec ----------------------------------------------------------


def test_instance_exec_exits_like_a_shell(server: Server, admin: AwsEnv, tmp_path: Path) -> None:
    instance_id = admin.client("ec2").run_instances(ImageId=AL2023, MinCount=1, MaxCount=1)["Instances"][0][
        "InstanceId"]

    def on_instance(*command: str) -> subprocess.CompletedProcess[str]:
        return _run("instance", "exec", "--data-dir", str(server.data_dir), "--endpoint", server.endpoint,
                    instance_id, "--", *command)

    missing = on_instance("no-such-program-skyhold")
    assert missing.returncode == 127
    assert missing.stderr == "skyhold: cannot run no-such-program-skyhold: No such file or directory\n"
    plain = tmp_path / "not-executable"
    plain.write_text("echo hi\n")
    plain.chmod(0o644)
    denied = on_instance(str(plain))
    assert denied.returncode == 126
    assert denied.stderr == f"skyhold: cannot run {plain}: Permission denied\n"
    assert on_instance("sh", "-c", "kill -TERM $$").returncode == 128 + 15
    assert on_instance("sh", "-c", "kill -KILL $$").returncode == 128 + 9
    assert on_instance("sh", "-c", "exit 3").returncode == 3


# --- skyhold policy -------------------------------------------------------------------

POLICY = '{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:GetObject","Resource":"*"}]}'


def test_policy_files_must_be_utf8(tmp_path: Path) -> None:
    utf16 = tmp_path / "policy-utf16.json"
    utf16.write_bytes(POLICY.encode("utf-16"))
    utf8 = tmp_path / "policy.json"
    utf8.write_text(POLICY)
    assert _run("policy", "validate", str(utf8)).returncode == 0
    # validate: like text that is not JSON, a document IAM refuses (exit 1)
    for args, stdin in (((str(utf16),), None), (("-",), utf16.read_bytes())):
        out = _run("policy", "validate", *args, stdin=stdin)
        assert out.returncode == 1 and "Traceback" not in out.stderr, out.stderr
        assert json.loads(out.stdout) == {"valid": False, "error": {
            "code": "MalformedPolicyDocument", "message": "Syntax errors in policy."}}
    # evaluate: invalid input, like a case that is not JSON (exit 2)
    case = json.dumps({"principal": "arn:aws:iam::111122223333:user/u", "action": "s3:GetObject",
                       "identity_policies": [json.loads(POLICY)]})
    (tmp_path / "case.json").write_bytes(case.encode("utf-16"))
    for args, stdin in (((str(tmp_path / "case.json"),), None), (("-",), case.encode("utf-16"))):
        err = _one_line_error(_run("policy", "evaluate", *args, stdin=stdin))
        assert err.startswith("skyhold policy evaluate: invalid input: not UTF-8 text")
    assert _run("policy", "evaluate", "-", stdin=case.encode()).returncode == 0


# --- skyhold rotation register --------------------------------------------------------


def _lambda_role(admin: AwsEnv) -> str:
    iam = admin.client("iam")
    name = f"rot-{uuid.uuid4().hex[:6]}"
    arn = iam.create_role(RoleName=name, AssumeRolePolicyDocument=json.dumps({
        "Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"},
                                                "Action": "sts:AssumeRole"}]}))["Role"]["Arn"]
    iam.put_role_policy(RoleName=name, PolicyName="rotate", PolicyDocument=json.dumps({
        "Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "secretsmanager:*", "Resource": "*"}]}))
    return str(arn)


def _register(server: Server, name: str, role: str, *command: str) -> subprocess.CompletedProcess[str]:
    return _run("rotation", "register", "--data-dir", str(server.data_dir), "--role-arn", role, name, "--", *command)


def _program(path: Path) -> Path:
    path.write_text(f"#!{sys.executable}\nimport sys; sys.exit(0)\n")
    path.chmod(0o755)
    return path


def test_rotation_register_refuses_what_cannot_run(server: Server, admin: AwsEnv, tmp_path: Path) -> None:
    role = _lambda_role(admin)
    program = str(_program(tmp_path / "rotate"))
    tag = uuid.uuid4().hex[:6]
    assert "no such program" in _one_line_error(_register(server, f"gone-{tag}", role, "/no/such/program"))
    assert "no such program" in _one_line_error(_register(server, f"gone-{tag}", role, "no-such-program-skyhold"))
    (tmp_path / "plain").write_text("x")
    assert "not an executable" in _one_line_error(_register(server, f"plain-{tag}", role, str(tmp_path / "plain")))
    user_arn = role.replace(":role/", ":user/")
    for bad_role in (user_arn, "rotator", "arn:aws:iam::12345:role/x", "arn:aws:sts::111122223333:role/x"):
        assert "--role-arn" in _one_line_error(_register(server, f"badrole-{tag}", bad_role, program))
    for bad_name in (f"dotted.{tag}", f"sp ace{tag}", "x" * 65, ""):
        assert "function name" in _one_line_error(_register(server, bad_name, role, program))
    longest = f"{tag}-" + "x" * (64 - len(tag) - 1)
    out = _register(server, longest, role, program)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip().endswith(f":function:{longest}")


def test_a_rotation_program_gone_fails_the_rotation_cleanly(server: Server, admin: AwsEnv, tmp_path: Path) -> None:
    role = _lambda_role(admin)
    program = _program(tmp_path / "rotate-then-gone")
    name = f"vanish-{uuid.uuid4().hex[:6]}"
    out = _register(server, name, role, str(program))
    assert out.returncode == 0, out.stderr
    program.unlink()
    sm = admin.client("secretsmanager")
    secret = sm.create_secret(Name=f"gone-{name}", SecretString="initial")["ARN"]
    log_start = len(server.log())
    sm.rotate_secret(SecretId=secret, RotationLambdaARN=out.stdout.strip(), RotationRules={"AutomaticallyAfterDays": 7})
    deadline = time.monotonic() + 20
    while f"rotation of {secret} failed" not in server.log()[log_start:]:
        assert time.monotonic() < deadline, server.log()[log_start:]
        time.sleep(0.1)
    logged = server.log()[log_start:]
    assert f"failed at createSecret: cannot run {program}: No such file or directory" in logged
    assert "Traceback" not in logged
    assert "LastRotatedDate" not in sm.describe_secret(SecretId=secret)
    assert sm.get_secret_value(SecretId=secret)["SecretString"] == "initial"
