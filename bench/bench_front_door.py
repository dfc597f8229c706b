"""Front-door benchmark: signed sts:GetCallerIdentity replayed with wrk.

Run:  .venv/bin/python bench/bench_front_door.py  [--seconds 8]

Measures, in one run, Skyhold (full SigV4 verification, parse, serialize, request
log), moto_server (auth off, its default) and a bare ASGI "hello" app on the same
server stack (uvicorn + httptools + uvloop, single process) — and prints requests/s,
p50/p99 and the ratios. Also cold start (process start → first successful signed
request) and idle RSS for Skyhold and moto.
The signed request is valid for 15 minutes, so replaying it is legitimate.
"""

from __future__ import annotations

import argparse
import compileall
import subprocess
import tempfile
import time
import urllib.request
from pathlib import Path

import skyhold
from _harness import BIN, free_port, run_wrk, signed, start_hello, start_moto, start_skyhold

BODY = b"Action=GetCallerIdentity&Version=2011-06-15"
HEADERS = {"Content-Type": "application/x-www-form-urlencoded; charset=utf-8"}


def cold_start(command: list[str], port: int, key: str, secret: str) -> float:
    """Seconds from exec to the first signed request answered 200."""
    url = f"http://127.0.0.1:{port}/"
    t0 = time.perf_counter()
    p = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        while True:
            headers = signed("POST", url, BODY, HEADERS, key, secret, "sts")
            try:
                with urllib.request.urlopen(urllib.request.Request(url, data=BODY, headers=headers), timeout=2) as r:
                    if r.status == 200:
                        return time.perf_counter() - t0
            except OSError:
                time.sleep(0.005)
            if time.perf_counter() - t0 > 30:
                raise RuntimeError("no answer within 30 s")
    finally:
        p.terminate()
        p.wait()


def skyhold_cold_start(data_dir: Path, key: str, secret: str) -> float:
    port = free_port()
    command = [str(BIN / "skyhold"), "up", "--port", str(port), "--data-dir", str(data_dir)]
    return cold_start(command, port, key, secret)


def moto_cold_start() -> float:
    port = free_port()
    return cold_start([str(BIN / "moto_server"), "-p", str(port)], port, "AKIAIOSFODNN7EXAMPLE", "x" * 40)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seconds", type=int, default=8)
    ap.add_argument("--connections", type=int, default=16)
    args = ap.parse_args()

    data_dir = Path(tempfile.mkdtemp(prefix="skyhold-bench-")) / "data"
    sky, key, secret = start_skyhold(data_dir)
    moto = start_moto()
    hello = start_hello()
    try:
        time.sleep(0.5)
        idle = {"skyhold": sky.rss_mib(), "moto": moto.rss_mib()}
        tree_rss, tree_pss = sky.tree_mib()
        results = {}
        for name, proc, creds in (("skyhold", sky, (key, secret)), ("moto", moto, ("AKIAIOSFODNN7EXAMPLE", "x" * 40))):
            headers = signed("POST", proc.url + "/", BODY, HEADERS, *creds, "sts")
            run_wrk(proc.url + "/", "POST", headers, BODY, seconds=2, connections=args.connections)  # warm-up
            results[name] = run_wrk(proc.url + "/", "POST", headers, BODY, seconds=args.seconds, connections=args.connections)
        run_wrk(hello.url + "/", "POST", HEADERS, BODY, seconds=2, connections=args.connections)
        results["hello"] = run_wrk(hello.url + "/", "POST", HEADERS, BODY, seconds=args.seconds, connections=args.connections)
    finally:
        for p in (sky, moto, hello):
            p.stop()
    for name, r in results.items():
        assert r.non_2xx == 0, f"{name} answered {r.non_2xx} non-2xx responses"

    # An installed package starts from its bytecode; make sure it exists even where
    # PYTHONDONTWRITEBYTECODE is set, or every start would measure compiling sources.
    compileall.compile_dir(str(Path(skyhold.__file__).parent), quiet=1)
    colds = sorted(skyhold_cold_start(data_dir, key, secret) for _ in range(5))
    moto_colds = sorted(moto_cold_start() for _ in range(3))

    print(f"\nsts:GetCallerIdentity, signed, {args.connections} connections, {args.seconds}s each")
    print(f"{'server':<10}{'req/s':>10}{'p50 ms':>9}{'p99 ms':>9}")
    for name, r in results.items():
        print(f"{name:<10}{r.rps:>10.0f}{r.p50_ms:>9.2f}{r.p99_ms:>9.2f}")
    s, m, h = results["skyhold"], results["moto"], results["hello"]
    print(f"skyhold / moto  throughput: {s.rps / m.rps:6.1f}x   (goal >= 15x)")
    print(f"skyhold / hello throughput: {s.rps / h.rps:6.1%}   (goal >= 40%)")
    print(f"cold start (median of 5): skyhold {colds[2]:.3f}s, moto {moto_colds[1]:.3f}s   (goal <= 0.4s)")
    print(f"idle RSS: skyhold {idle['skyhold']:.1f} MiB, moto {idle['moto']:.1f} MiB   (goal <= 60 MiB)")
    print(f"  skyhold with its trail writer process: RSS {tree_rss:.1f} MiB, PSS {tree_pss:.1f} MiB")


if __name__ == "__main__":
    main()
