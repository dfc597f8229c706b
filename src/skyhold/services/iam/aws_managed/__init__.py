"""AWS managed policies (arn:aws:iam::aws:policy/…), as AWS publishes them.

Read-only and the same in every account; loaded once from policies.json (see
refresh.py for where it comes from). Each entry has the shape of a customer managed
policy record, so handlers treat both alike.
"""

from __future__ import annotations

import base64
import hashlib
import json
from functools import cache
from pathlib import Path
from typing import Any

ARN_PREFIX = "arn:aws:iam::aws:policy/"


def _policy_id(policy_arn: str) -> str:
    # Stable across restarts and installs: AWS's ids are fixed per policy too.
    digest = base64.b32encode(hashlib.sha256(policy_arn.encode()).digest()).decode()
    return "ANPA" + digest[:17]


@cache
def _all() -> dict[str, dict[str, Any]]:
    data = json.loads(Path(__file__).with_name("policies.json").read_text())
    out: dict[str, dict[str, Any]] = {}
    for name, p in data.items():
        resource = p["Arn"][len(ARN_PREFIX) :]
        path = "/" + resource[: -len(name)] if "/" in resource else "/"
        out[p["Arn"]] = {
            "PolicyName": name,
            "PolicyId": _policy_id(p["Arn"]),
            "Arn": p["Arn"],
            "Path": path,
            "DefaultVersionId": p["DefaultVersionId"],
            "IsAttachable": True,
            "CreateDate": p["CreateDate"],
            "UpdateDate": p["UpdateDate"],
            "Tags": [],
            "Versions": {
                p["DefaultVersionId"]: {
                    "Document": json.dumps(p["Document"], indent=4),
                    "CreateDate": p["UpdateDate"],
                }
            },
            "AwsManaged": True,
        }
    return out


def get(policy_arn: str) -> dict[str, Any] | None:
    return _all().get(policy_arn)


def all_policies() -> list[dict[str, Any]]:
    return list(_all().values())


def is_aws_managed(policy_arn: str) -> bool:
    return policy_arn.startswith(ARN_PREFIX)
