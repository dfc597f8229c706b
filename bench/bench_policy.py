"""Policy decisions per second, Skyhold's engine vs @cloud-copilot/iam-simulate.

Usage:
    .venv/bin/python bench/bench_policy.py [--seconds 2] [--no-peer]

Builds realistic policy sets (1, 10 and 50 identity-policy statements with wildcard
actions, conditions and ${aws:username} variables, plus an SCP and a bucket policy),
checks both engines reach the same decision for every case, then runs each case in a
loop for --seconds and prints decisions/s for both and the ratio. Skyhold is measured
on warm caches (policies compiled once, as the server does), both with a prebuilt
request and building the RequestContext per decision. The peer is installed from npm
into a temporary folder at run time (`npm install --prefix <tmp> @cloud-copilot/iam-simulate`).
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from skyhold.policy import Caller, PolicySet, RequestContext, evaluate

ACCOUNT = "111122223333"
USER = f"arn:aws:iam::{ACCOUNT}:user/alice"
BUCKET = "arn:aws:s3:::team-bucket"
CONTEXT = {
    "aws:SourceIp": "203.0.113.7",
    "aws:SecureTransport": "true",
    "aws:RequestedRegion": "us-east-1",
    "aws:PrincipalTag/team": "blue",
}

_FILLER_SERVICES = ["ec2", "dynamodb", "sqs", "sns", "kms", "lambda", "logs", "iam", "rds", "ssm"]


def _filler(i: int) -> dict[str, Any]:
    svc = _FILLER_SERVICES[i % len(_FILLER_SERVICES)]
    st: dict[str, Any] = {
        "Sid": f"Filler{i}",
        "Effect": "Allow",
        "Action": [f"{svc}:Describe*", f"{svc}:Get*", f"{svc}:List{i}*"],
        "Resource": f"arn:aws:{svc}:*:{ACCOUNT}:*/team-${{aws:PrincipalTag/team}}-{i}",
    }
    if i % 2:
        st["Condition"] = {"StringEquals": {"aws:RequestedRegion": ["us-east-1", "eu-west-1"]}}
    return st


def identity_policy(n: int) -> dict[str, Any]:
    """n statements; the last one grants alice her home prefix under conditions."""
    grant = {
        "Sid": "OwnHome",
        "Effect": "Allow",
        "Action": ["s3:GetObject", "s3:PutObject"],
        "Resource": f"{BUCKET}/home/${{aws:username}}/*",
        "Condition": {
            "IpAddress": {"aws:SourceIp": ["203.0.113.0/24", "198.51.100.0/24"]},
            "Bool": {"aws:SecureTransport": "true"},
            "StringEquals": {"aws:PrincipalTag/team": "blue"},
        },
    }
    deny = {
        "Sid": "DenyOtherRegions",
        "Effect": "Deny",
        "Action": "*",
        "Resource": "*",
        "Condition": {"StringNotEquals": {"aws:RequestedRegion": ["us-east-1", "eu-west-1"]}},
    }
    statements = [_filler(i) for i in range(max(0, n - 2))] + ([deny] if n >= 2 else []) + [grant]
    return {"Version": "2012-10-17", "Statement": statements}


SCP = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}
BUCKET_POLICY = {
    "Version": "2012-10-17",
    "Statement": [
        {
            "Sid": "DenyInsecure",
            "Effect": "Deny",
            "Principal": "*",
            "Action": "s3:*",
            "Resource": [BUCKET, f"{BUCKET}/*"],
            "Condition": {"Bool": {"aws:SecureTransport": "false"}},
        }
    ],
}


def cases() -> list[dict[str, Any]]:
    out = []
    for n in (1, 10, 50):
        for key, expect in (("home/alice/notes.txt", "Allowed"), ("home/bob/notes.txt", "ImplicitlyDenied")):
            out.append(
                {
                    "name": f"{n} statements, {expect}",
                    "statements": n,
                    "action": "s3:GetObject",
                    "resource": f"{BUCKET}/{key}",
                    "identity": identity_policy(n),
                    "expect": expect,
                }
            )
    return out


def skyhold_rate(case: dict[str, Any], seconds: float, build_request: bool) -> tuple[str, float]:
    caller = Caller.from_arn(USER)
    ps = PolicySet.build(identity=[case["identity"]], resource=BUCKET_POLICY, scps=[[SCP], [SCP]])
    req = RequestContext(caller, case["action"], case["resource"], context=CONTEXT)
    decision = evaluate(req, ps).kind.value
    action, resource = case["action"], case["resource"]
    n = 0
    batch = 1000
    start = time.perf_counter()
    deadline = start + seconds
    if build_request:
        while time.perf_counter() < deadline:
            for _ in range(batch):
                evaluate(RequestContext(caller, action, resource, context=CONTEXT), ps)
            n += batch
    else:
        while time.perf_counter() < deadline:
            for _ in range(batch):
                evaluate(req, ps)
            n += batch
    return decision, n / (time.perf_counter() - start)


NODE_SCRIPT = r"""
const { runSimulation } = require('@cloud-copilot/iam-simulate');
const fs = require('fs');
const [casesFile, secondsArg] = process.argv.slice(2);
const cases = JSON.parse(fs.readFileSync(casesFile, 'utf8'));
const seconds = Number(secondsArg);
(async () => {
  const out = [];
  for (const c of cases) {
    const first = await runSimulation(c.simulation, {});
    const decision = first.resultType === 'single' ? first.overallResult : 'error:' + JSON.stringify(first.errors);
    let n = 0;
    const start = process.hrtime.bigint();
    const deadline = start + BigInt(Math.round(seconds * 1e9));
    while (process.hrtime.bigint() < deadline) {
      for (let i = 0; i < 100; i++) await runSimulation(c.simulation, {});
      n += 100;
    }
    const elapsed = Number(process.hrtime.bigint() - start) / 1e9;
    out.push({ name: c.name, decision, rate: n / elapsed });
  }
  console.log(JSON.stringify(out));
})();
"""


def peer_rates(all_cases: list[dict[str, Any]], seconds: float) -> dict[str, dict[str, Any]] | None:
    npm, node = shutil.which("npm"), shutil.which("node")
    if not npm or not node:
        print("npm/node not found: peer skipped", file=sys.stderr)
        return None
    with tempfile.TemporaryDirectory(prefix="iam-simulate-") as tmp:
        print("installing @cloud-copilot/iam-simulate from npm…", file=sys.stderr)
        r = subprocess.run(
            [npm, "install", "--silent", "--prefix", tmp, "@cloud-copilot/iam-simulate"], capture_output=True, text=True
        )
        if r.returncode != 0:
            print(f"npm install failed: peer skipped\n{r.stderr[-2000:]}", file=sys.stderr)
            return None
        sims = []
        for c in all_cases:
            sims.append(
                {
                    "name": c["name"],
                    "simulation": {
                        "request": {
                            "principal": USER,
                            "action": c["action"],
                            "resource": {"resource": c["resource"], "accountId": ACCOUNT},
                            "contextVariables": {**CONTEXT, "aws:username": "alice"},
                        },
                        "identityPolicies": [{"name": "p", "policy": c["identity"]}],
                        "serviceControlPolicies": [
                            {"orgIdentifier": "r-root", "policies": [{"name": "FullAWSAccess", "policy": SCP}]},
                            {"orgIdentifier": ACCOUNT, "policies": [{"name": "FullAWSAccess", "policy": SCP}]},
                        ],
                        "resourceControlPolicies": [],
                        "resourcePolicy": BUCKET_POLICY,
                    },
                }
            )
        (Path(tmp) / "cases.json").write_text(json.dumps(sims))
        (Path(tmp) / "bench.js").write_text(NODE_SCRIPT)
        r = subprocess.run(
            [node, "bench.js", "cases.json", str(seconds)], cwd=tmp, capture_output=True, text=True, timeout=600
        )
        if r.returncode != 0:
            print(f"node run failed: peer skipped\n{r.stderr[-2000:]}", file=sys.stderr)
            return None
        return {row["name"]: row for row in json.loads(r.stdout.strip().splitlines()[-1])}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seconds", type=float, default=2.0, help="seconds per case and engine")
    ap.add_argument("--no-peer", action="store_true", help="skip iam-simulate")
    args = ap.parse_args()
    all_cases = cases()
    peer = None if args.no_peer else peer_rates(all_cases, args.seconds)
    print(f"{'case':34} {'decision':17} {'skyhold/s':>11} {'+build req/s':>13} {'iam-simulate/s':>15} {'ratio':>7}")
    ok = True
    for c in all_cases:
        decision, rate = skyhold_rate(c, args.seconds, build_request=False)
        _, rate_build = skyhold_rate(c, args.seconds / 2, build_request=True)
        if decision != c["expect"]:
            ok = False
        p = (peer or {}).get(c["name"])
        peer_col, ratio_col = "-", "-"
        if p:
            peer_col = f"{p['rate']:,.0f}"
            ratio_col = f"{rate / p['rate']:.1f}x"
            if p["decision"] != decision:
                ok = False
                decision += f" (peer: {p['decision']})"
        print(f"{c['name']:34} {decision:17} {rate:>11,.0f} {rate_build:>13,.0f} {peer_col:>15} {ratio_col:>7}")
    if not ok:
        print("DECISIONS DISAGREE with the expected outcome or the peer", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
