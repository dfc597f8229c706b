"""Start-up benchmark with real data: cold start (process start -> first successful
signed request, as bench_front_door's) of a data dir holding many objects.

Run:  .venv/bin/python bench/bench_startup.py  [--objects 100000] [--blobs 1000]

Fills a data dir through the API (signed PutObjects in parallel: `--objects` small
ones held in their records and `--blobs` of 70 KiB, which get blob files), plus IAM
users, roles and policies, KMS keys and the CloudTrail journal all those calls leave;
then times starts after a clean stop (SIGTERM) and after a crash (SIGKILL: the blob
store's orphan sweep runs). moto_server is timed for comparison, but it keeps nothing
on disk: its start-up never depends on data, it forgets everything when it stops.
"""

from __future__ import annotations

import argparse
import http.client
import json
import signal
import subprocess
import tempfile
import threading
import time
from pathlib import Path
from urllib.parse import urlencode

from _harness import BIN, free_port, signed, start_skyhold
from bench_front_door import cold_start, moto_cold_start

SMALL = b"x" * 100
LARGE = b"y" * (70 * 1024)  # past one sealed frame (64 KiB): a blob file


def _fill(url: str, key: str, secret: str, objects: int, blobs: int, threads: int = 8) -> None:
    host = url.removeprefix("http://")
    work = [(f"k/{i:07d}", SMALL) for i in range(objects)] + [(f"b/{i:07d}", LARGE) for i in range(blobs)]
    lock = threading.Lock()

    def call(conn: http.client.HTTPConnection, method: str, path: str, body: bytes, service: str,
             headers: dict[str, str] | None = None) -> None:
        hdrs = signed(method, url + path, body, headers or {}, key, secret, service)
        conn.request(method, path, body=body, headers=hdrs)
        resp = conn.getresponse()
        data = resp.read()
        if resp.status >= 300:
            raise RuntimeError(f"{method} {path}: {resp.status} {data[:200]!r}")

    conn = http.client.HTTPConnection(host)
    call(conn, "PUT", "/startup-bench", b"", "s3")
    form = {"Content-Type": "application/x-www-form-urlencoded; charset=utf-8"}
    trust = json.dumps({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"}, "Action": "sts:AssumeRole"}]})
    policy = json.dumps({"Version": "2012-10-17",
                         "Statement": [{"Effect": "Allow", "Action": "s3:*", "Resource": "*"}]})
    for i in range(300):
        for action in ({"Action": "CreateUser", "UserName": f"u{i}"},
                       {"Action": "CreateRole", "RoleName": f"r{i}", "AssumeRolePolicyDocument": trust},
                       {"Action": "CreatePolicy", "PolicyName": f"p{i}", "PolicyDocument": policy}):
            call(conn, "POST", "/", urlencode({**action, "Version": "2010-05-08"}).encode(), "iam", form)
    for _ in range(100):
        call(conn, "POST", "/", b"{}", "kms", {"Content-Type": "application/x-amz-json-1.1",
                                               "X-Amz-Target": "TrentService.CreateKey"})
    conn.close()

    def worker() -> None:
        c = http.client.HTTPConnection(host)
        while True:
            with lock:
                if not work:
                    break
                name, body = work.pop()
            call(c, "PUT", f"/startup-bench/{name}", body, "s3")
        c.close()

    pool = [threading.Thread(target=worker) for _ in range(threads)]
    for t in pool:
        t.start()
    for t in pool:
        t.join()


def _skyhold_start(data_dir: Path, key: str, secret: str) -> float:
    port = free_port()
    return cold_start([str(BIN / "skyhold"), "up", "--port", str(port), "--data-dir", str(data_dir)], port, key, secret)


def _crash(data_dir: Path) -> None:
    """Leave the data dir as a SIGKILL does: started, then killed without a clean stop."""
    port = free_port()
    p = subprocess.Popen([str(BIN / "skyhold"), "up", "--port", str(port), "--data-dir", str(data_dir)],
                         stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    assert p.stdout is not None
    for line in p.stdout:
        if "serving on" in line:
            break
    p.send_signal(signal.SIGKILL)
    p.wait()


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--objects", type=int, default=100_000)
    ap.add_argument("--blobs", type=int, default=1000)
    ap.add_argument("--data-dir", type=Path, help="reuse a data dir this script filled before (its log has the keys)")
    args = ap.parse_args()

    if args.data_dir and (args.data_dir / "bench-keys.json").exists():
        data_dir = args.data_dir
        key, secret = json.loads((data_dir / "bench-keys.json").read_text())
    else:
        data_dir = args.data_dir or Path(tempfile.mkdtemp(prefix="skyhold-startup-")) / "data"
        sky, key, secret = start_skyhold(data_dir)
        t0 = time.perf_counter()
        try:
            _fill(sky.url, key, secret, args.objects, args.blobs)
        finally:
            sky.stop()
        (data_dir / "bench-keys.json").write_text(json.dumps([key, secret]))
        print(f"filled {data_dir} with {args.objects} small objects and {args.blobs} blob objects "
              f"in {time.perf_counter() - t0:.0f}s")

    clean = sorted(_skyhold_start(data_dir, key, secret) for _ in range(5))
    crashed = []
    for _ in range(3):
        _crash(data_dir)
        crashed.append(_skyhold_start(data_dir, key, secret))
    crashed.sort()
    moto = sorted(moto_cold_start() for _ in range(3))
    print(f"cold start, {args.objects} + {args.blobs} objects (median): after a clean stop {clean[2]:.3f}s, "
          f"after SIGKILL {crashed[1]:.3f}s; moto {moto[1]:.3f}s (keeps nothing on disk)   (goal <= 0.4s)")
    print(f"skyhold / moto start-up time: {clean[2] / moto[1]:.2f}x after a clean stop, "
          f"{crashed[1] / moto[1]:.2f}x after SIGKILL   (lower is faster)")


if __name__ == "__main__":
    main()
