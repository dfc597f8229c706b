"""The one place ARNs are built and parsed."""

from __future__ import annotations

from dataclasses import dataclass

PARTITION = "aws"


@dataclass(frozen=True, slots=True)
class Arn:
    partition: str
    service: str
    region: str
    account: str
    resource: str

    def __str__(self) -> str:
        return f"arn:{self.partition}:{self.service}:{self.region}:{self.account}:{self.resource}"


def parse(text: str) -> Arn:
    parts = text.split(":", 5)
    if len(parts) != 6 or parts[0] != "arn":
        raise ValueError(f"not an ARN: {text!r}")
    return Arn(parts[1], parts[2], parts[3], parts[4], parts[5])


def iam(account: str, resource: str) -> str:
    return f"arn:{PARTITION}:iam::{account}:{resource}"


def root(account: str) -> str:
    return iam(account, "root")


def user(account: str, name: str, path: str = "/") -> str:
    return iam(account, f"user{path}{name}")


def assumed_role(account: str, role_name: str, session_name: str) -> str:
    return f"arn:{PARTITION}:sts::{account}:assumed-role/{role_name}/{session_name}"
