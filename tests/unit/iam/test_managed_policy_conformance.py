"""Every AWS managed policy Skyhold ships, compared with the reference copy AWS
published (../shared/conformance/managed-policies/), semantically: string-or-list
values, element order and statement order do not matter."""

from __future__ import annotations

import json
from typing import Any

import pytest

from skyhold.services.iam import aws_managed

from .conftest import SHARED

REFERENCE = SHARED / "conformance" / "managed-policies"
SHIPPED = {p["PolicyName"]: p for p in aws_managed.all_policies()}
REQUIRED = [
    "AdministratorAccess", "PowerUserAccess", "ReadOnlyAccess", "ViewOnlyAccess", "SecurityAudit", "IAMFullAccess",
    "IAMReadOnlyAccess", "IAMUserChangePassword", "AmazonS3FullAccess", "AmazonS3ReadOnlyAccess",
    "AmazonEC2FullAccess", "AmazonEC2ReadOnlyAccess", "AmazonVPCFullAccess", "AmazonVPCReadOnlyAccess",
    "SecretsManagerReadWrite", "AWSKeyManagementServicePowerUser", "AmazonSSMManagedInstanceCore",
    "AmazonSSMReadOnlyAccess", "AmazonEC2ContainerRegistryReadOnly", "AmazonEC2ContainerRegistryPowerUser",
    "AWSCloudTrail_ReadOnlyAccess", "AWSDenyAll", "AWSCompromisedKeyQuarantineV3",
]


def normalize(value: Any) -> Any:
    """A canonical form: a string and a one-string list are the same; lists are unordered."""
    if isinstance(value, dict):
        return tuple(sorted((k, normalize(v)) for k, v in value.items()))
    if isinstance(value, list):
        return tuple(sorted((v if isinstance(v, str) else normalize(v) for v in value), key=repr))
    if isinstance(value, str):
        return (value,)
    return value


def canonical(document: dict[str, Any]) -> Any:
    statements = document["Statement"]
    if isinstance(statements, dict):
        statements = [statements]
    return (document.get("Version"), tuple(sorted((normalize(s) for s in statements), key=repr)))


def test_required_policies_are_shipped():
    assert set(REQUIRED) <= set(SHIPPED)


@pytest.mark.parametrize("name", sorted(n for n in SHIPPED if (REFERENCE / f"{n}.json").exists()))
def test_matches_reference(name: str) -> None:
    ref = json.loads((REFERENCE / f"{name}.json").read_text())
    ours = SHIPPED[name]
    assert ours["Arn"] == ref["Arn"]
    if ours["DefaultVersionId"] != ref["DefaultVersionId"]:
        pytest.skip(f"reference copy is {ref['DefaultVersionId']}, Skyhold ships AWS's {ours['DefaultVersionId']}")
    document = json.loads(ours["Versions"][ours["DefaultVersionId"]]["Document"])
    assert canonical(document) == canonical(ref["Document"])
