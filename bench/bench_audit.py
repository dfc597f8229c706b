"""What the audit trail costs: 1 KiB GetObject and signed GetCallerIdentity replayed
with wrk against Skyhold with recording on (every event handed to the trail's writer
before the response; on disk before it for calls that change something) and off
(`skyhold up --no-audit`), in the same run. Goal: <= 10% on GetObject.

Run:  .venv/bin/python bench/bench_audit.py [--seconds 4] [--rounds 5]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
from pathlib import Path

from _harness import run_wrk, signed, start_skyhold
from bench_s3 import _signed, prepare

STS_BODY = b"Action=GetCallerIdentity&Version=2011-06-15"


class Target:
    """A running Skyhold, audit on or off, with its signed requests."""

    def __init__(self, no_audit: bool) -> None:
        extra = ("--no-audit",) if no_audit else ()
        self.sky, key, secret = start_skyhold(Path(tempfile.mkdtemp(prefix="skyhold-audit-")) / "data", *extra)
        creds = (key, secret)
        prepare(self.sky, creds)
        self.get = _signed(self.sky, creds, "GET", "/bench/small")
        self.sts = signed("POST", self.sky.url + "/", STS_BODY, {"Content-Type": "application/x-www-form-urlencoded"},
                          key, secret, "sts")
        run_wrk(self.sky.url + "/bench/small", "GET", self.get, seconds=2, connections=16)  # warm up

    def measure(self, seconds: int) -> dict[str, float]:
        return {
            "GetObject": run_wrk(self.sky.url + "/bench/small", "GET", self.get, seconds=seconds, connections=16).rps,
            "GetCallerIdentity": run_wrk(self.sky.url + "/", "POST", self.sts, STS_BODY, seconds=seconds,
                                         connections=16).rps,
        }


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seconds", type=int, default=4)
    ap.add_argument("--rounds", type=int, default=5)
    args = ap.parse_args()
    # Both servers run side by side and are measured in alternating rounds, so drift
    # in the machine's speed (other load, CPU frequency) hits both alike; the median
    # round is reported.
    on, off = Target(False), Target(True)
    try:
        rounds: dict[str, list[tuple[float, float]]] = {}
        for r in range(args.rounds):
            first, second = (on, off) if r % 2 == 0 else (off, on)
            a, b = first.measure(args.seconds), second.measure(args.seconds)
            got_on, got_off = (a, b) if first is on else (b, a)
            for name in got_on:
                rounds.setdefault(name, []).append((got_on[name], got_off[name]))
    finally:
        on.sky.stop()
        off.sky.stop()
    print(f"\n{'call':<20}{'audit on':>10}{'audit off':>11}{'overhead':>10}   per round")
    for name, pairs in rounds.items():
        on_rps = statistics.median(p[0] for p in pairs)
        off_rps = statistics.median(p[1] for p in pairs)
        each = " ".join(f"{1 - p[0] / p[1]:.0%}" for p in pairs)
        print(f"{name:<20}{on_rps:>10.0f}{off_rps:>11.0f}{1 - on_rps / off_rps:>10.1%}   {each}")
    print("goal: <= 10% on GetObject (overhead of the medians)")


if __name__ == "__main__":
    main()
