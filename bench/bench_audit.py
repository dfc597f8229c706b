"""What the audit trail costs: 1 KiB GetObject and signed GetCallerIdentity replayed
with wrk against Skyhold with recording on (every event durable before the response)
and off (`skyhold up --no-audit`), in the same run. Goal: <= 10% on GetObject.

Run:  .venv/bin/python bench/bench_audit.py [--seconds 6]
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

from _harness import run_wrk, signed, start_skyhold
from bench_s3 import _signed, prepare

STS_BODY = b"Action=GetCallerIdentity&Version=2011-06-15"


def measure(no_audit: bool, seconds: int) -> dict[str, float]:
    extra = ("--no-audit",) if no_audit else ()
    sky, key, secret = start_skyhold(Path(tempfile.mkdtemp(prefix="skyhold-audit-")) / "data", *extra)
    try:
        creds = (key, secret)
        prepare(sky, creds)
        get = _signed(sky, creds, "GET", "/bench/small")
        sts = signed("POST", sky.url + "/", STS_BODY, {"Content-Type": "application/x-www-form-urlencoded"},
                     key, secret, "sts")
        run_wrk(sky.url + "/bench/small", "GET", get, seconds=2, connections=16)
        return {
            "GetObject": run_wrk(sky.url + "/bench/small", "GET", get, seconds=seconds, connections=16).rps,
            "GetCallerIdentity": run_wrk(sky.url + "/", "POST", sts, STS_BODY, seconds=seconds, connections=16).rps,
        }
    finally:
        sky.stop()


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seconds", type=int, default=6)
    args = ap.parse_args()
    on, off = measure(False, args.seconds), measure(True, args.seconds)
    print(f"\n{'call':<20}{'audit on':>10}{'audit off':>11}{'overhead':>10}")
    for name in on:
        print(f"{name:<20}{on[name]:>10.0f}{off[name]:>11.0f}{1 - on[name] / off[name]:>10.1%}")
    print("goal: <= 10% on GetObject")


if __name__ == "__main__":
    main()
