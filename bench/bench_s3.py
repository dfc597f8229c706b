"""S3 benchmark: 1 KiB GetObject/PutObject replayed with wrk, and a 1 GiB put/get.

Run:  .venv/bin/python bench/bench_s3.py [--seconds 4] [--rounds 3] [--big-mib 1024]

Skyhold runs with everything on (SigV4 verification, authorization, encryption at
rest, audit trail with durable group commit); moto_server runs as it ships (no
auth). Both are measured in the same run, side by side in alternating rounds (drift
in a shared machine's speed hits both alike; medians are reported): requests/s,
p50/p99 at 4 and 16 connections, and the ratios; then a streamed put and get of a
large object with the server's peak RSS (VmHWM) and MB/s.
"""

from __future__ import annotations

import argparse
import hashlib
import statistics
import http.client
import time
from pathlib import Path

import botocore.auth
import botocore.awsrequest
import botocore.credentials
from _harness import Proc, WrkResult, run_wrk, signed, start_moto, start_skyhold, status_kib
from botocore.config import Config

MOTO_KEY = ("AKIAIOSFODNN7EXAMPLE", "x" * 40)
BODY = b"x" * 1024


def _request(proc: Proc, method: str, path: str, headers: dict[str, str], body=b"") -> tuple[int, bytes]:
    conn = http.client.HTTPConnection("127.0.0.1", proc.port, timeout=600)
    try:
        conn.request(method, path, body=body, headers=headers)
        resp = conn.getresponse()
        data = b""
        while chunk := resp.read(1 << 20):
            if len(data) < 4096:
                data += chunk[:4096]
        return resp.status, data
    finally:
        conn.close()


def _signed(proc: Proc, creds: tuple[str, str], method: str, path: str, body: bytes = b"",
            extra: dict[str, str] | None = None) -> dict[str, str]:
    headers = {"x-amz-content-sha256": hashlib.sha256(body).hexdigest(), **(extra or {})}
    return signed(method, proc.url + path, body, headers, *creds, "s3")


def prepare(proc: Proc, creds: tuple[str, str]) -> None:
    status, data = _request(proc, "PUT", "/bench", _signed(proc, creds, "PUT", "/bench"))
    assert status == 200, (status, data)
    status, data = _request(proc, "PUT", "/bench/small", _signed(proc, creds, "PUT", "/bench/small", BODY), BODY)
    assert status == 200, (status, data)


def _unsigned_payload_headers(url: str, size: int, creds: tuple[str, str]) -> dict[str, str]:
    """Signed headers for a streamed PUT whose body is not hashed (UNSIGNED-PAYLOAD)."""
    req = botocore.awsrequest.AWSRequest(method="PUT", url=url, data=b"", headers={"Content-Length": str(size)})
    req.context["client_config"] = Config(s3={"payload_signing_enabled": False})
    botocore.auth.S3SigV4Auth(botocore.credentials.Credentials(*creds), "s3", "us-east-1").add_auth(req)
    headers = dict(req.headers)
    headers["Content-Length"] = str(size)
    return headers


def hwm_mib(proc: Proc) -> float:
    return status_kib(proc.popen.pid, "VmHWM:") / 1024


def big_object(proc: Proc, creds: tuple[str, str], mib: int) -> tuple[float, float, float]:
    """(put MB/s, get MB/s, peak RSS MiB) for one streamed object of `mib` MiB."""
    size = mib << 20
    chunk = b"\xa5" * (1 << 20)
    headers = _unsigned_payload_headers(proc.url + "/bench/big", size, creds)

    def body():
        for _ in range(mib):
            yield chunk

    t0 = time.perf_counter()
    status, data = _request(proc, "PUT", "/bench/big", headers, body())
    put_s = time.perf_counter() - t0
    assert status == 200, (status, data)
    t0 = time.perf_counter()
    status, _ = _request(proc, "GET", "/bench/big", _signed(proc, creds, "GET", "/bench/big"))
    get_s = time.perf_counter() - t0
    assert status == 200
    return size / put_s / 1e6, size / get_s / 1e6, hwm_mib(proc)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seconds", type=int, default=4)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--big-mib", type=int, default=1024)
    args = ap.parse_args()
    sky, key, secret = start_skyhold()
    moto = start_moto()
    runs: dict[tuple[str, str, int], list[WrkResult]] = {}
    big: dict[str, tuple[float, float, float]] = {}
    try:
        targets = {}
        for name, proc, creds in (("skyhold", sky, (key, secret)), ("moto", moto, MOTO_KEY)):
            prepare(proc, creds)
            targets[name] = (proc, _signed(proc, creds, "GET", "/bench/small"),
                             _signed(proc, creds, "PUT", "/bench/small", BODY))
            run_wrk(proc.url + "/bench/small", "GET", targets[name][1], seconds=2, connections=4)  # warm-up
        for r in range(args.rounds):
            for op in ("GET", "PUT"):
                for conns in (4, 16):
                    for name in (("skyhold", "moto") if r % 2 == 0 else ("moto", "skyhold")):
                        proc, get_headers, put_headers = targets[name]
                        headers, body = (get_headers, b"") if op == "GET" else (put_headers, BODY)
                        runs.setdefault((name, op, conns), []).append(
                            run_wrk(proc.url + "/bench/small", op, headers, body, seconds=args.seconds,
                                    connections=conns))
        for name, (proc, _, _) in targets.items():
            big[name] = big_object(proc, (key, secret) if name == "skyhold" else MOTO_KEY, args.big_mib)
    finally:
        sky.stop()
        moto.stop()
    med = {k: (statistics.median(r.rps for r in v), statistics.median(r.p50_ms for r in v),
               statistics.median(r.p99_ms for r in v), sum(r.non_2xx for r in v)) for k, v in runs.items()}
    print(f"\n1 KiB objects, {args.rounds} rounds of {args.seconds}s per run (medians)")
    print(f"{'server':<9}{'op':<5}{'conns':>6}{'req/s':>10}{'p50 ms':>9}{'p99 ms':>9}{'non-2xx':>9}")
    for (name, op, conns), (rps, p50, p99, bad) in sorted(med.items()):
        print(f"{name:<9}{op:<5}{conns:>6}{rps:>10.0f}{p50:>9.2f}{p99:>9.2f}{bad:>9}")
    for op in ("GET", "PUT"):
        for conns in (4, 16):
            s, m = med[("skyhold", op, conns)], med[("moto", op, conns)]
            rounds = " ".join(f"{a.rps / b.rps:.1f}x" for a, b in zip(runs[("skyhold", op, conns)],
                                                                      runs[("moto", op, conns)]))
            print(f"{op} at {conns:>2} connections: skyhold/moto = {s[0] / m[0]:5.1f}x   (goal >= 15x; "
                  f"p99 {s[2]:.2f} ms, goal <= 5 ms at 4)   rounds: {rounds}")
    print(f"\n{args.big_mib} MiB object, streamed")
    for name, (put_mbs, get_mbs, rss) in big.items():
        print(f"{name:<9} put {put_mbs:7.1f} MB/s   get {get_mbs:7.1f} MB/s   peak RSS {rss:7.1f} MiB")
    print("goal: >= 300 MB/s with peak RSS under 150 MiB")


if __name__ == "__main__":
    main()
