"""Shared benchmark plumbing: start servers, sign requests, drive `wrk`, read RSS."""

from __future__ import annotations

import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import botocore.auth
import botocore.awsrequest
import botocore.credentials

BIN = Path(sys.executable).parent


def ensure_wrk() -> str:
    wrk = shutil.which("wrk")
    if wrk:
        return wrk
    print("installing wrk (Debian package)…", file=sys.stderr)
    subprocess.run(["apt-get", "update", "-qq"], check=False, capture_output=True)
    subprocess.run(["apt-get", "install", "-y", "-qq", "wrk"], check=True, capture_output=True)
    return shutil.which("wrk") or "wrk"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_http(url: str, timeout: float = 30.0, ok: Callable[[int], bool] = lambda s: s < 500) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=1) as r:
                if ok(r.status):
                    return
        except urllib.error.HTTPError as e:
            if ok(e.code):
                return
        except OSError:
            pass
        time.sleep(0.02)
    raise RuntimeError(f"{url} did not come up")


@dataclass
class Proc:
    popen: subprocess.Popen
    port: int

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def rss_mib(self) -> float:
        """The server process alone."""
        return status_kib(self.popen.pid, "VmRSS:") / 1024

    def tree_mib(self) -> tuple[float, float]:
        """(RSS, PSS) of the server with its child processes (Skyhold's trail writer):
        RSS counts shared pages in each process, PSS shares them out."""
        pids = [self.popen.pid, *_children(self.popen.pid)]
        rss = sum(status_kib(pid, "VmRSS:") for pid in pids)
        pss = sum(status_kib(pid, "Pss:", "smaps_rollup") for pid in pids)
        return rss / 1024, pss / 1024

    def stop(self) -> None:
        self.popen.send_signal(signal.SIGTERM)
        try:
            self.popen.wait(10)
        except subprocess.TimeoutExpired:
            self.popen.kill()


def status_kib(pid: int, field: str, name: str = "status") -> int:
    for line in Path(f"/proc/{pid}/{name}").read_text().splitlines():
        if line.startswith(field):
            return int(line.split()[1])
    return 0


def _children(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
                found.append(int(entry.name))
    return found


def start_skyhold(data_dir: Path | None = None, *extra: str) -> tuple[Proc, str, str]:
    """Start `skyhold up`; returns it with the admin's key id and secret."""
    data_dir = data_dir or Path(tempfile.mkdtemp(prefix="skyhold-bench-"))
    port = free_port()
    log = open(data_dir.parent / f"{data_dir.name}.log", "w")
    p = subprocess.Popen([str(BIN / "skyhold"), "up", "--port", str(port), "--data-dir", str(data_dir), *extra],
                         stdout=subprocess.PIPE, stderr=log, text=True)
    key = secret = ""
    assert p.stdout is not None
    for line in p.stdout:
        if m := re.search(r"admin access key id:\s+(\S+)", line):
            key = m.group(1)
        if m := re.search(r"admin secret access key:\s+(\S+)", line):
            secret = m.group(1)
        if "serving on" in line:
            break
    proc = Proc(p, port)
    wait_http(f"{proc.url}/_skyhold/health", ok=lambda s: s == 200)
    return proc, key, secret


def start_moto() -> Proc:
    port = free_port()
    p = subprocess.Popen([str(BIN / "moto_server"), "-p", str(port)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    proc = Proc(p, port)
    wait_http(f"{proc.url}/moto-api/")
    return proc


def start_hello() -> Proc:
    """A bare ASGI app on the same server stack Skyhold uses (uvicorn, uvloop,
    httptools, Skyhold's HTTP protocol): the ceiling."""
    port = free_port()
    code = (
        "import uvicorn\n"
        "from skyhold.http_protocol import HttpProtocol\n"
        "async def app(scope, receive, send):\n"
        "    if scope['type'] != 'http': return\n"
        "    while (await receive()).get('more_body'): pass\n"
        "    await send({'type':'http.response.start','status':200,'headers':[(b'content-type',b'text/plain'),(b'content-length',b'5')]})\n"
        "    await send({'type':'http.response.body','body':b'hello'})\n"
        f"uvicorn.run(app, host='127.0.0.1', port={port}, loop='uvloop', http=HttpProtocol, access_log=False, log_level='warning', lifespan='off')\n"
    )
    p = subprocess.Popen([sys.executable, "-c", code])
    proc = Proc(p, port)
    wait_http(proc.url)
    return proc


def signed(method: str, url: str, body: bytes, headers: dict[str, str], key: str, secret: str,
           service: str, region: str = "us-east-1") -> dict[str, str]:
    req = botocore.awsrequest.AWSRequest(method=method, url=url, data=body, headers=headers)
    signer = botocore.auth.S3SigV4Auth if service == "s3" else botocore.auth.SigV4Auth
    signer(botocore.credentials.Credentials(key, secret), service, region).add_auth(req)
    return dict(req.prepare().headers)


@dataclass
class WrkResult:
    rps: float
    p50_ms: float
    p99_ms: float
    non_2xx: int


def _ms(text: str) -> float:
    m = re.match(r"([\d.]+)(us|ms|s)", text)
    if not m:
        return float("nan")
    value, unit = float(m.group(1)), m.group(2)
    return value / 1000 if unit == "us" else value * 1000 if unit == "s" else value


def run_wrk(url: str, method: str, headers: dict[str, str], body: bytes = b"", seconds: int = 8,
            connections: int = 16, threads: int = 1) -> WrkResult:
    wrk = ensure_wrk()
    lua = "wrk.method = %s\nwrk.body = %s\n" % (_lua_str(method), _lua_str(body.decode("latin-1")))
    for k, v in headers.items():
        if k.lower() in ("content-length", "host"):
            continue
        lua += f"wrk.headers[{_lua_str(k)}] = {_lua_str(v)}\n"
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as fh:
        fh.write(lua)
    out = subprocess.run([wrk, f"-t{threads}", f"-c{connections}", f"-d{seconds}s", "--latency", "-s", fh.name, url],
                         capture_output=True, text=True, check=True).stdout
    os.unlink(fh.name)
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    # anchored: the thread-stats lines also hold numbers ending in "50%"
    p50 = _ms(re.search(r"^\s*50%\s+(\S+)", out, re.M).group(1))
    p99 = _ms(re.search(r"^\s*99%\s+(\S+)", out, re.M).group(1))
    m = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)
    return WrkResult(rps, p50, p99, int(m.group(1)) if m else 0)


def _lua_str(s: str) -> str:
    return '"' + "".join(c if c.isalnum() or c in " -_./:=;,+*()%&" else "\\%d" % ord(c) for c in s) + '"'
