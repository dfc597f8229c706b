"""AWS managed keys (alias/aws/<service>): created on first use — by the service
that encrypts with it, or by the first reference to the alias (DescribeKey
alias/aws/ssm creates it, as on AWS) — with KeyManager AWS and AWS's managed key
policy: any principal of the account may use the key through that service only;
the account may read its metadata. Nobody may change the policy, disable or delete it.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

from skyhold.services.kms import records as r

if TYPE_CHECKING:
    from skyhold.pipeline import Call

# Services whose managed key `alias/aws/<name>` a reference may create.
SERVICES = frozenset({"s3", "ssm", "secretsmanager", "ebs", "rds", "lambda", "sqs", "sns", "dynamodb",
                      "redshift", "elasticfilesystem", "backup", "kinesis", "logs", "acm", "glue"})


def service_of(alias: str) -> str | None:
    name = alias.removeprefix("alias/aws/")
    return name if alias.startswith("alias/aws/") and name in SERVICES else None


def via(region: str, service: str) -> str:
    return f"{service}.{region}.amazonaws.com"


def policy(account: str, via_service: str, service: str) -> str:
    return json.dumps({
        "Version": "2012-10-17",
        "Id": f"auto-{service}-2",
        "Statement": [
            {
                "Sid": f"Allow access through {service} for all principals in the account that are "
                       f"authorized to use {service}",
                "Effect": "Allow",
                "Principal": {"AWS": "*"},
                "Action": ["kms:Encrypt", "kms:Decrypt", "kms:ReEncrypt*", "kms:GenerateDataKey*",
                           "kms:CreateGrant", "kms:DescribeKey"],
                "Resource": "*",
                "Condition": {"StringEquals": {"kms:ViaService": via_service, "kms:CallerAccount": account}},
            },
            {
                "Sid": "Allow direct access to key metadata to the account",
                "Effect": "Allow",
                "Principal": {"AWS": f"arn:aws:iam::{account}:root"},
                "Action": ["kms:Describe*", "kms:Get*", "kms:List*", "kms:RevokeGrant"],
                "Resource": "*",
            },
        ],
    }, indent=2)


def managed_key(call: Call, service: str) -> str:
    """The key id of alias/aws/<service> in the caller's account and region."""
    account, region = call.principal.account, call.region
    alias = f"alias/aws/{service}"
    rec = call.store.get(r.ALIAS, r.alias_key(account, region, alias))
    if rec is not None:
        return rec.value["TargetKeyId"]
    with call.store.transaction():
        key = r.new_key(call, description=f"Default key that protects my {service} data when no other key is defined",
                        policy=policy(account, via(region, service), service), tags=[], manager="AWS")
        r.put_alias(call, alias, key, 1)
    return key["KeyId"]
