"""EC2 records: instances (kind `ec2.instance`, key = instance id) and key pairs
(kind `ec2.key-pair`, key "<account>/<region>/<name>")."""

from __future__ import annotations

import secrets
from typing import TYPE_CHECKING, Any

from skyhold.errors import AwsError
from skyhold.services.iam import records as iam_records

if TYPE_CHECKING:
    from skyhold.pipeline import Call

INSTANCE = "ec2.instance"
KEY_PAIR = "ec2.key-pair"

STATES = {"pending": 0, "running": 16, "shutting-down": 32, "terminated": 48, "stopping": 64, "stopped": 80}

# A small set of built-in images (facts of our own making, shaped like AWS's).
IMAGES = {
    "ami-0a1b2c3d4e5f60001": {"Name": "al2023-ami-2023.6.20241010.0-kernel-6.1-x86_64",
                              "Description": "Amazon Linux 2023 AMI", "PlatformDetails": "Linux/UNIX",
                              "Architecture": "x86_64", "ImdsSupport": "v2.0"},
    "ami-0a1b2c3d4e5f60002": {"Name": "ubuntu/images/hvm-ssd-gp3/ubuntu-noble-24.04-amd64-server-20241004",
                              "Description": "Canonical, Ubuntu, 24.04 LTS", "PlatformDetails": "Linux/UNIX",
                              "Architecture": "x86_64"},
}


def new_id(prefix: str) -> str:
    return f"{prefix}-{secrets.token_hex(9)[:17]}"


def instance_arn(region: str, account: str, instance_id: str) -> str:
    return f"arn:aws:ec2:{region}:{account}:instance/{instance_id}"


def find(call: Call, instance_id: str) -> tuple[dict[str, Any], int]:
    rec = call.store.get(INSTANCE, instance_id)
    if rec is None or rec.value["Account"] != call.principal.account:
        raise AwsError("InvalidInstanceID.NotFound", f"The instance ID '{instance_id}' does not exist")
    return rec.value, rec.version


def save(call: Call, instance: dict[str, Any], version: int) -> None:
    call.store.put(INSTANCE, instance["InstanceId"], instance, expect_version=version)


def profile_by_ref(call: Call, ref: dict[str, str]) -> dict[str, Any]:
    """An IamInstanceProfile parameter ({Name} or {Arn}) → the profile record."""
    account = call.principal.account
    name = ref.get("Name") or (ref.get("Arn") or "").rsplit("/", 1)[-1]
    rec = call.store.get(iam_records.INSTANCE_PROFILE, iam_records.name_key(account, name)) if name else None
    if rec is None or (ref.get("Arn") and rec.value["Arn"] != ref["Arn"]):
        shown = ref.get("Arn") or ref.get("Name")
        raise AwsError("InvalidParameterValue", f"Value ({shown}) for parameter iamInstanceProfile.name is invalid. "
                       "Invalid IAM Instance Profile name" if ref.get("Name") else
                       f"Value ({shown}) for parameter iamInstanceProfile.arn is invalid. Invalid IAM Instance "
                       "Profile ARN")
    return rec.value


def role_of_profile(call: Call, profile: dict[str, Any]) -> dict[str, Any] | None:
    if not profile.get("Roles"):
        return None
    rec = call.store.get(iam_records.ROLE, iam_records.name_key(call.principal.account, profile["Roles"][0]))
    return rec.value if rec else None
