"""End-to-end fixtures: a real `skyhold up` on a free port, and real clients."""

from __future__ import annotations

import base64
import fcntl
import hashlib
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3
import botocore.awsrequest
import botocore.credentials
import botocore.session
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

VENV_BIN = Path(sys.executable).parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class Server:
    data_dir: Path
    port: int
    proc: subprocess.Popen | None = None
    log_path: Path | None = None
    first_output: str = ""
    env: dict[str, str] = field(default_factory=dict)
    https_port: int | None = None  # also serve HTTPS there (`skyhold up --https-port`)

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def https_endpoint(self) -> str:
        return f"https://127.0.0.1:{self.https_port}"

    def start(self, timeout: float = 20.0) -> None:
        self.log_path = self.data_dir.parent / f"server-{self.port}-{time.monotonic_ns()}.log"
        log = open(self.log_path, "w")
        self.proc = subprocess.Popen(
            [str(VENV_BIN / "skyhold"), "up", "--port", str(self.port), "--data-dir", str(self.data_dir),
             *(["--https-port", str(self.https_port)] if self.https_port else [])],
            stdout=log,
            stderr=subprocess.STDOUT,
            env={**os.environ, **self.env},
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"skyhold up exited: {self.log_path.read_text()}")
            try:
                with urllib.request.urlopen(f"{self.endpoint}/_skyhold/health", timeout=1) as r:
                    if r.status == 200:
                        self.first_output = self.log_path.read_text()
                        return
            except OSError:
                time.sleep(0.05)
        raise RuntimeError(f"skyhold up did not become ready: {self.log_path.read_text()}")

    def stop(self, sig: int = signal.SIGTERM) -> int:
        assert self.proc is not None
        self.proc.send_signal(sig)
        try:
            return self.proc.wait(timeout=15)
        finally:
            self.proc = None

    def log(self) -> str:
        return self.log_path.read_text() if self.log_path else ""

    def cli(self, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(VENV_BIN / "skyhold"), *args, "--data-dir", str(self.data_dir)],
            capture_output=True,
            text=True,
            env={**os.environ, **(env or {})},
            timeout=60,
        )


@pytest.fixture(scope="session")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    srv = Server(tmp_path_factory.mktemp("skyhold") / "data", free_port())
    srv.start()
    yield srv
    if srv.proc is not None:
        srv.stop()


@dataclass
class AwsEnv:
    """A profile written by `skyhold configure`, in private AWS config files."""

    env: dict[str, str]
    profile: str
    endpoint: str

    def aws(self, *args: str, extra_env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(VENV_BIN / "aws"), "--profile", self.profile, *args],
            capture_output=True,
            text=True,
            env={**self.env, **(extra_env or {})},
            timeout=120,
        )

    def aws_json(self, *args: str) -> dict:
        out = self.aws(*args, "--output", "json")
        assert out.returncode == 0, out.stderr
        return json.loads(out.stdout)

    def session(self) -> boto3.Session:
        # Point botocore at this profile's files explicitly, not via os.environ.
        core = botocore.session.Session()
        core.set_config_variable("config_file", self.env["AWS_CONFIG_FILE"])
        core.set_config_variable("credentials_file", self.env["AWS_SHARED_CREDENTIALS_FILE"])
        core.set_config_variable("profile", self.profile)
        return boto3.Session(botocore_session=core)

    def credentials(self) -> "botocore.credentials.ReadOnlyCredentials":
        """The profile's (short-lived) credentials, fetched once per test session."""
        if not hasattr(self, "_frozen"):
            self._frozen = self.session().get_credentials().get_frozen_credentials()
        return self._frozen

    def client(self, service: str, **kw: object) -> object:
        return self.session().client(service, config=Config(retries={"max_attempts": 1}), **kw)

    def unchecked_client(self, service: str, **kw: object) -> Any:
        """A client without the SDK's own parameter checks: it sends what a client
        without them (or a hand-made request) would, so the server must refuse it."""
        return self.session().client(service, config=Config(parameter_validation=False,
                                                            retries={"max_attempts": 1}), **kw)

    def new_user(self, policy: dict | None = None) -> dict:
        """A new IAM user of this profile's account, with an inline policy if given: its access key."""
        iam = self.client("iam")
        name = f"user-{uuid.uuid4().hex[:8]}"
        iam.create_user(UserName=name)
        if policy is not None:
            iam.put_user_policy(UserName=name, PolicyName="inline", PolicyDocument=json.dumps(policy))
        return iam.create_access_key(UserName=name)["AccessKey"]

    def client_for(self, key: dict, service: str) -> Any:
        """A client signing with an access key (as from new_user) or temporary
        credentials (as from STS: with their SessionToken)."""
        return boto3.client(service, aws_access_key_id=key["AccessKeyId"], aws_secret_access_key=key["SecretAccessKey"],
                            aws_session_token=key.get("SessionToken"), endpoint_url=self.endpoint,
                            region_name="us-east-1", config=Config(retries={"max_attempts": 1}))


def web_identity_role(server: Server, admin: AwsEnv, sub: str, prefix: str = "wi") -> str:
    """A new role trusting tokens of Skyhold's OIDC issuer (registered as an IAM OIDC
    provider of admin's account, once) for subject `sub` and audience sts.amazonaws.com."""
    issuer = server.cli("oidc", "issuer").stdout.strip()
    iam: Any = admin.client("iam")
    try:
        iam.create_open_id_connect_provider(Url=issuer, ClientIDList=["sts.amazonaws.com"], ThumbprintList=["0" * 40])
    except iam.exceptions.EntityAlreadyExistsException:
        pass
    account = admin.client("sts").get_caller_identity()["Account"]  # type: ignore[attr-defined]
    host = issuer.removeprefix("https://")
    trust = {"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow", "Principal": {"Federated": f"arn:aws:iam::{account}:oidc-provider/{host}"},
        "Action": "sts:AssumeRoleWithWebIdentity",
        "Condition": {"StringEquals": {f"{host}:sub": sub, f"{host}:aud": "sts.amazonaws.com"}}}]}
    name = f"{prefix}-{uuid.uuid4().hex[:6]}"
    return str(iam.create_role(RoleName=name, AssumeRolePolicyDocument=json.dumps(trust))["Role"]["Arn"])


def new_bucket(s3: Any, prefix: str, versioning: str | None = None) -> str:
    """A bucket of one test's own (the server is shared by the session), with
    versioning Enabled or Suspended if asked."""
    name = f"{prefix}-{uuid.uuid4().hex[:12]}"
    s3.create_bucket(Bucket=name)
    if versioning:
        s3.put_bucket_versioning(Bucket=name, VersioningConfiguration={"Status": versioning})
    return name


def cloudtrail_bucket_policy(bucket: str, objects: str = "*", *, acl_check: bool = True) -> str:
    """AWS's documented bucket policy for CloudTrail delivery (AWSCloudTrailAclCheck and
    AWSCloudTrailWrite) on `bucket`, writing to keys matching `objects`; `acl_check`
    False leaves the GetBucketAcl statement out."""
    statements = [
        {"Sid": "AWSCloudTrailAclCheck", "Effect": "Allow", "Principal": {"Service": "cloudtrail.amazonaws.com"},
         "Action": "s3:GetBucketAcl", "Resource": f"arn:aws:s3:::{bucket}"},
        {"Sid": "AWSCloudTrailWrite", "Effect": "Allow", "Principal": {"Service": "cloudtrail.amazonaws.com"},
         "Action": "s3:PutObject", "Resource": f"arn:aws:s3:::{bucket}/{objects}",
         "Condition": {"StringEquals": {"s3:x-amz-acl": "bucket-owner-full-control"}}}]
    return json.dumps({"Version": "2012-10-17", "Statement": statements if acl_check else statements[1:]})


def validate_logs(env: AwsEnv, trail_arn: str, start: str, region: str | None = None) -> str:
    """The report of `aws cloudtrail validate-logs` (the real CLI) for a trail, from
    `start` until three hours from now (past a clock moved to deliver a digest)."""
    end = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() + 3 * 3600))
    out = env.aws("cloudtrail", "validate-logs", "--trail-arn", trail_arn, "--start-time", start, "--end-time", end,
                  *(("--region", region) if region else ()), "--verbose")
    return out.stdout + out.stderr


def assert_all_logs_valid(report: str) -> None:
    """One valid digest, and every log file it names (at least one) valid."""
    assert "1/1 digest files valid" in report, report
    valid = re.search(r"(\d+)/(\d+) log files valid", report)
    assert valid and valid.group(1) == valid.group(2) and int(valid.group(1)) >= 1, report
    assert "INVALID" not in report, report


def wait_for(predicate: Callable[[], Any], timeout: float = 30.0) -> Any:
    """The first truthy value `predicate` returns, polled every half second (background
    work such as CloudTrail delivery); AssertionError after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = predicate()
        if found:
            return found
        time.sleep(0.5)
    raise AssertionError("timed out")


def aws_error(call: Callable[[], Any]) -> tuple[str, str, int]:
    """(code, message, HTTP status) of the error `call` must end in."""
    try:
        call()
    except ClientError as err:
        return (err.response["Error"]["Code"], err.response["Error"]["Message"],
                err.response["ResponseMetadata"]["HTTPStatusCode"])
    raise AssertionError("no error")


def error_and_status(call: Callable[[], Any]) -> tuple[dict[str, Any], int]:
    """The whole Error document (its extra fields included) and the HTTP status of the
    error `call` must end in."""
    try:
        call()
    except ClientError as err:
        return err.response["Error"], err.response["ResponseMetadata"]["HTTPStatusCode"]
    raise AssertionError("no error")


def clean_env(home: Path) -> dict[str, str]:
    """The process environment minus any AWS settings of the machine running tests."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update(
        {
            "HOME": str(home),
            "AWS_CONFIG_FILE": str(home / "aws-config"),
            "AWS_SHARED_CREDENTIALS_FILE": str(home / "aws-credentials"),
            "AWS_EC2_METADATA_DISABLED": "true",
            "PATH": f"{VENV_BIN}{os.pathsep}{os.environ.get('PATH', '')}",
        }
    )
    return env


def static_admin(srv: Server, home: Path) -> AwsEnv:
    """The admin's profile, in private AWS config files under `home`, holding its
    long-lived key: tests that move Skyhold's clock outlive a session's credentials."""
    env = clean_env(home)
    out = srv.cli("configure", "--static-keys", "--endpoint", srv.endpoint, env=env)
    assert out.returncode == 0, out.stderr
    return AwsEnv(env=env, profile="skyhold", endpoint=srv.endpoint)


@contextmanager
def own_server(home: Path) -> Iterator[tuple[Server, AwsEnv]]:
    """A server of one test's own (so moving its clock touches no other test) and its admin."""
    srv = Server(home / "data", free_port())
    srv.start()
    try:
        yield srv, static_admin(srv, home)
    finally:
        srv.stop()


def new_account(server: Server, home: Path, prefix: str) -> tuple[AwsEnv, str]:
    """A new account's admin profile (in private config files under `home`), and its id."""
    name = f"{prefix}-{uuid.uuid4().hex[:6]}"
    out = server.cli("account", "create", name)
    assert out.returncode == 0, out.stderr
    found = re.search(r"Created account (\d{12})", out.stdout)
    assert found, out.stdout
    env = clean_env(home)
    out = server.cli("configure", "--profile", name, "--account", name, "--endpoint", server.endpoint, env=env)
    assert out.returncode == 0, out.stderr
    return AwsEnv(env=env, profile=name, endpoint=server.endpoint), found.group(1)


@pytest.fixture(scope="session")
def admin(server: Server, tmp_path_factory: pytest.TempPathFactory) -> AwsEnv:
    home = tmp_path_factory.mktemp("home")
    env = clean_env(home)
    out = server.cli("configure", "--endpoint", server.endpoint, env=env)
    assert out.returncode == 0, out.stderr
    return AwsEnv(env=env, profile="skyhold", endpoint=server.endpoint)


@pytest.fixture(scope="session")
def account(admin: AwsEnv) -> str:
    """The admin's (the shared server's first) account id."""
    return admin.client("sts").get_caller_identity()["Account"]


@pytest.fixture
def ec2(admin: AwsEnv) -> Any:
    return admin.client("ec2", region_name="us-east-1")


@pytest.fixture
def launched(ec2: Any) -> Iterator[list[str]]:
    """Instance ids a test launches, terminated after it (the running quota is shared)."""
    ids: list[str] = []
    yield ids
    if ids:
        ec2.terminate_instances(InstanceIds=ids)


def tool_unavailable(reason: str) -> None:
    """A tool some tests need (Node.js, a browser) is missing: a broken setup in CI, so
    the run fails there; elsewhere those tests skip."""
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(reason, pytrace=False)
    pytest.skip(reason)


def debian_package(program: str, package: str) -> None:
    """`program` (a path), installed from Debian's `package` with apt-get when missing (as
    root only), once for all pytest-xdist workers: they take a file lock and look again."""
    with open(f"/tmp/skyhold-tests-{package}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if Path(program).exists():
            return
        if os.geteuid() != 0 or not shutil.which("apt-get"):
            tool_unavailable(f"{program} is missing: apt-get install {package} (as root)")
        env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        install = ["apt-get", "install", "-y", "-q", "--no-install-recommends", package]
        out = subprocess.run(install, capture_output=True, text=True, env=env, timeout=900)
        if out.returncode != 0:  # a machine whose package lists were never fetched
            subprocess.run(["apt-get", "update", "-q"], capture_output=True, env=env, timeout=600)
            out = subprocess.run(install, capture_output=True, text=True, env=env, timeout=900)
        if out.returncode != 0 or not Path(program).exists():
            tool_unavailable(f"apt-get install {package} failed:\n{out.stdout[-2000:]}{out.stderr[-2000:]}")


@pytest.fixture(scope="session")
def node_sdk() -> Path:
    """tests/e2e/js with its node_modules (the AWS SDK for JavaScript v3, esbuild)
    installed by `npm ci` from package-lock.json when missing or older than it; under
    a file lock, as pytest-xdist's workers all reach this at once."""
    js = Path(__file__).parent / "js"
    npm = shutil.which("npm")
    if not shutil.which("node") or not npm:
        tool_unavailable("Node.js and npm are needed for the JavaScript SDK and browser tests "
                         "(apt-get install nodejs npm)")
    installed = js / "node_modules" / ".package-lock.json"
    with open(js / ".install.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not installed.exists() or installed.stat().st_mtime < (js / "package-lock.json").stat().st_mtime:
            out = subprocess.run([npm, "ci", "--no-audit", "--no-fund", "--loglevel=error"], cwd=js,
                                 capture_output=True, text=True, timeout=600)
            if out.returncode != 0:
                tool_unavailable(f"npm ci failed in {js}:\n{out.stdout}{out.stderr}")
    return js


def signing_credentials(env: AwsEnv) -> botocore.credentials.Credentials:
    """The profile's credentials, for botocore's signers (tests that hand-make requests)."""
    c = env.credentials()
    return botocore.credentials.Credentials(c.access_key, c.secret_key, c.token)


def send_signed(req: botocore.awsrequest.AWSRequest) -> tuple[int, bytes]:
    """Send a request a botocore signer signed, exactly as signed: (status, body)."""
    prepared = req.prepare()
    request = urllib.request.Request(prepared.url, data=prepared.body, method=prepared.method,
                                     headers=dict(prepared.headers))
    try:
        with urllib.request.urlopen(request) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()


@pytest.fixture(scope="module")
def instances_terminated(admin: AwsEnv) -> Iterator[None]:
    """Terminates, once the module is done, the instances its tests left in admin's
    account: the session's server is shared, and over a few EC2 modules the account's
    quota of running instances (AWS's default, which Skyhold keeps) would run out."""
    yield
    ec2: Any = admin.client("ec2", region_name="us-east-1")
    ids = [i["InstanceId"] for page in ec2.get_paginator("describe_instances").paginate(Filters=[
        {"Name": "instance-state-name", "Values": ["pending", "running", "stopping", "stopped"]}])
        for r in page["Reservations"] for i in r["Instances"]]
    if ids:
        ec2.terminate_instances(InstanceIds=ids)


@pytest.fixture(scope="module")
def https_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """A server of the module's own that also listens for HTTPS (`--https-port`)."""
    srv = Server(tmp_path_factory.mktemp("https") / "data", free_port(), https_port=free_port())
    srv.start()
    yield srv
    srv.stop()


@pytest.fixture(scope="module")
def https_admin(https_server: Server, tmp_path_factory: pytest.TempPathFactory) -> AwsEnv:
    """The admin's profile written by `skyhold configure --https` (credential_process, over TLS too)."""
    env = clean_env(tmp_path_factory.mktemp("https-home"))
    out = https_server.cli("configure", "--https", "--https-port", str(https_server.https_port), env=env)
    assert out.returncode == 0, out.stderr
    return AwsEnv(env=env, profile="skyhold", endpoint=https_server.https_endpoint)


@pytest.fixture
def profile_ca_bundle(monkeypatch: pytest.MonkeyPatch) -> None:
    """In-process clients read the profile's ca_bundle: AWS_CA_BUNDLE, which outranks it
    (as on AWS), is dropped whatever the machine running the tests sets."""
    monkeypatch.delenv("AWS_CA_BUNDLE", raising=False)


@pytest.fixture
def s3_tls(https_admin: AwsEnv, profile_ca_bundle: None) -> Any:
    """An S3 client of the admin over HTTPS (SSE-C keys travel over TLS only)."""
    return https_admin.client("s3", region_name="us-east-1")


def sse_c_headers(key: bytes) -> dict[str, str]:
    """boto3's SSE-C parameters for a customer key (given in base64, with its MD5)."""
    return {"SSECustomerAlgorithm": "AES256", "SSECustomerKey": base64.b64encode(key).decode(),
            "SSECustomerKeyMD5": base64.b64encode(hashlib.md5(key).digest()).decode()}


def allow_sse_c(s3: Any, bucket: str) -> None:
    """New buckets refuse SSE-C writes (as on S3 since April 2026): block no encryption type."""
    s3.put_bucket_encryption(Bucket=bucket, ServerSideEncryptionConfiguration={"Rules": [{
        "ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"},
        "BlockedEncryptionTypes": {"EncryptionType": ["NONE"]}}]})
