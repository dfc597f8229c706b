"""Front-door benchmark: signed sts:GetCallerIdentity replayed with wrk.

Run:  .venv/bin/python bench/bench_front_door.py  [--seconds 5] [--rounds 3]

Measures, in one run, Skyhold (full SigV4 verification, parse, serialize, request
log), moto_server (auth off, its default) and a bare ASGI "hello" app on the same
server stack (uvicorn + httptools + uvloop with Skyhold's one-write HTTP protocol,
single process), sent the same signed request — and prints requests/s,
p50/p99 and the ratios. Also cold start (process start → first successful signed
request) and idle RSS for Skyhold and moto.
The signed request is valid for 15 minutes, so replaying it is legitimate.
The three servers run side by side and are measured in rounds, in a rotating order,
so drift in the machine's speed (a shared VM's neighbours) hits each alike; medians
are reported, with each round's ratios.
"""

from __future__ import annotations

import argparse
import compileall
import statistics
import subprocess
import tempfile
import time
import urllib.request
from pathlib import Path

import skyhold
from _harness import BIN, WrkResult, free_port, run_wrk, signed, start_hello, start_moto, start_skyhold

BODY = b"Action=GetCallerIdentity&Version=2011-06-15"
HEADERS = {"Content-Type": "application/x-www-form-urlencoded; charset=utf-8"}


def _median(results: list[WrkResult]) -> tuple[float, float, float]:
    return (statistics.median(r.rps for r in results), statistics.median(r.p50_ms for r in results),
            statistics.median(r.p99_ms for r in results))


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
    ap.add_argument("--seconds", type=int, default=5)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--connections", type=int, default=16)
    args = ap.parse_args()

    data_dir = Path(tempfile.mkdtemp(prefix="skyhold-bench-")) / "data"
    sky, key, secret = start_skyhold(data_dir)
    moto = start_moto()
    hello = start_hello()
    runs: dict[str, list[WrkResult]] = {"skyhold": [], "moto": [], "hello": []}
    try:
        time.sleep(0.5)
        idle = {"skyhold": sky.rss_mib(), "moto": moto.rss_mib()}
        tree_rss, tree_pss = sky.tree_mib()
        targets = {
            "skyhold": (sky, signed("POST", sky.url + "/", BODY, HEADERS, key, secret, "sts")),
            "moto": (moto, signed("POST", moto.url + "/", BODY, HEADERS, "AKIAIOSFODNN7EXAMPLE", "x" * 40, "sts")),
            # The same request bytes (headers included: each costs the server a parser
            # callback), so the ceiling is this request's, not a smaller one's.
            "hello": (hello, signed("POST", hello.url + "/", BODY, HEADERS, key, secret, "sts")),
        }
        for proc, headers in targets.values():  # warm-up
            run_wrk(proc.url + "/", "POST", headers, BODY, seconds=2, connections=args.connections)
        order = list(targets)
        for r in range(args.rounds):
            for name in order[r % 3:] + order[:r % 3]:
                proc, headers = targets[name]
                runs[name].append(run_wrk(proc.url + "/", "POST", headers, BODY, seconds=args.seconds,
                                          connections=args.connections))
    finally:
        for p in (sky, moto, hello):
            p.stop()
    for name, results in runs.items():
        assert all(r.non_2xx == 0 for r in results), f"{name} answered non-2xx responses"

    # An installed package starts from its bytecode; make sure it exists even where
    # PYTHONDONTWRITEBYTECODE is set, or every start would measure compiling sources.
    compileall.compile_dir(str(Path(skyhold.__file__).parent), quiet=1)
    colds = sorted(skyhold_cold_start(data_dir, key, secret) for _ in range(5))
    moto_colds = sorted(moto_cold_start() for _ in range(3))

    med = {name: _median(results) for name, results in runs.items()}
    print(f"\nsts:GetCallerIdentity, signed, {args.connections} connections, {args.rounds} rounds of {args.seconds}s"
          " (medians)")
    print(f"{'server':<10}{'req/s':>10}{'p50 ms':>9}{'p99 ms':>9}")
    for name, (rps, p50, p99) in med.items():
        print(f"{name:<10}{rps:>10.0f}{p50:>9.2f}{p99:>9.2f}")
    s, m, h = med["skyhold"][0], med["moto"][0], med["hello"][0]
    per_moto = " ".join(f"{a.rps / b.rps:.1f}x" for a, b in zip(runs["skyhold"], runs["moto"]))
    per_hello = " ".join(f"{a.rps / b.rps:.1%}" for a, b in zip(runs["skyhold"], runs["hello"]))
    print(f"skyhold / moto  throughput: {s / m:6.1f}x   (goal >= 15x)   rounds: {per_moto}")
    print(f"skyhold / hello throughput: {s / h:6.1%}   (goal >= 40%)   rounds: {per_hello}")
    print(f"cold start (median of 5): skyhold {colds[2]:.3f}s, moto {moto_colds[1]:.3f}s   (goal <= 0.4s)")
    print(f"idle RSS: skyhold {idle['skyhold']:.1f} MiB, moto {idle['moto']:.1f} MiB   (goal <= 60 MiB)")
    print(f"  skyhold with its trail writer process: RSS {tree_rss:.1f} MiB, PSS {tree_pss:.1f} MiB")


if __name__ == "__main__":
    main()
