"""EC2 records and the facts they are built from.

Kinds: `ec2.instance` (key = instance id, globally unique, so the metadata service
and `skyhold instance exec` find an instance by id alone), `ec2.key-pair` (key
"<account>/<region>/<name>") and `ec2.default-network` (key "<account>/<region>":
the default VPC, its subnets and security group, made on first use as AWS makes
them when an account is opened).
"""

from __future__ import annotations

import secrets
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from skyhold import clock
from skyhold.errors import AwsError
from skyhold.services.iam import records as iam_records
from skyhold.store.base import ConflictError, Store

if TYPE_CHECKING:
    from skyhold.pipeline import Call

INSTANCE = "ec2.instance"
KEY_PAIR = "ec2.key-pair"
NETWORK = "ec2.default-network"

STATES = {"pending": 0, "running": 16, "shutting-down": 32, "terminated": 48, "stopping": 64, "stopped": 80}

# Terminated instances stay visible in DescribeInstances for about an hour on AWS.
TERMINATED_VISIBLE = timedelta(hours=1)

AMAZON_OWNER = "137112412989"
CANONICAL_OWNER = "099720109477"

# The built-in images, as AWS lists them in us-east-1 (Skyhold offers them in every
# region). ImdsSupport v2.0 makes instances default to HttpTokens=required.
IMAGES: dict[str, dict[str, Any]] = {
    "ami-0453ec754f44f9a4a": {
        "Name": "al2023-ami-2023.6.20241121.0-kernel-6.1-x86_64", "Description": "Amazon Linux 2023 AMI "
        "2023.6.20241121.0 x86_64 HVM kernel-6.1", "OwnerId": AMAZON_OWNER, "ImageOwnerAlias": "amazon",
        "PlatformDetails": "Linux/UNIX", "Architecture": "x86_64", "ImdsSupport": "v2.0",
        "CreationDate": "2024-11-20T19:30:52.000Z", "RootDeviceName": "/dev/xvda", "BootMode": "uefi-preferred"},
    "ami-0e2c8caa4b6378d8c": {
        "Name": "ubuntu/images/hvm-ssd-gp3/ubuntu-noble-24.04-amd64-server-20241109",
        "Description": "Canonical, Ubuntu, 24.04, amd64 noble image", "OwnerId": CANONICAL_OWNER,
        "PlatformDetails": "Linux/UNIX", "Architecture": "x86_64", "CreationDate": "2024-11-09T07:23:42.000Z",
        "RootDeviceName": "/dev/sda1", "BootMode": "legacy-bios"},
}
AL2023, UBUNTU_2404 = list(IMAGES)

ZONE_LETTERS = ("a", "b", "c")
_DIRECTIONS = {"east": "e", "west": "w", "north": "n", "south": "s", "central": "c", "northeast": "ne",
               "southeast": "se", "northwest": "nw", "southwest": "sw"}


def new_id(prefix: str) -> str:
    """An EC2 resource id: prefix and 17 hex digits (i-0123456789abcdef0)."""
    return f"{prefix}-{secrets.token_hex(9)[:17]}"


def instance_arn(region: str, account: str, instance_id: str) -> str:
    return f"arn:aws:ec2:{region}:{account}:instance/{instance_id}"


def resource_arn(region: str, account: str, kind: str, resource_id: str) -> str:
    return f"arn:aws:ec2:{region}:{account}:{kind}/{resource_id}"


def zone_id(region: str, letter: str) -> str:
    """AWS's zone ids abbreviate the region: us-east-1 → use1-az1, ap-southeast-2 → apse2-az1."""
    geo, direction, number = region.split("-")
    return f"{geo}{_DIRECTIONS.get(direction, direction[:1])}{number}-az{ZONE_LETTERS.index(letter) + 1}"


def private_dns(region: str, ip: str) -> str:
    # us-east-1 kept its original internal domain; every other region has its own.
    domain = "ec2.internal" if region == "us-east-1" else f"{region}.compute.internal"
    return f"ip-{ip.replace('.', '-')}.{domain}"


def parse_time(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def visible(instance: dict[str, Any]) -> bool:
    """False once a terminated instance has aged out of DescribeInstances."""
    if instance["State"] != "terminated" or not instance.get("TerminatedAt"):
        return True
    return clock.now() - parse_time(instance["TerminatedAt"]) < TERMINATED_VISIBLE


def find(call: Call, instance_id: str) -> tuple[dict[str, Any], int]:
    if not instance_id.startswith("i-") or len(instance_id) not in (10, 19):
        raise AwsError("InvalidInstanceID.Malformed", f'Invalid id: "{instance_id}"')
    rec = call.store.get(INSTANCE, instance_id)
    if (rec is None or rec.value["Account"] != call.principal.account or rec.value["Region"] != call.region
            or not visible(rec.value)):
        raise AwsError("InvalidInstanceID.NotFound", f"The instance ID '{instance_id}' does not exist")
    return rec.value, rec.version


def volume_owner(call: Call, volume_id: str) -> tuple[dict[str, Any], int]:
    """The live instance whose root volume this is (each instance has one, gone with it)."""
    for rec in call.store.scan(INSTANCE):
        found = rec.value
        if (found.get("VolumeId") == volume_id and found["Account"] == call.principal.account
                and found["Region"] == call.region and visible(found) and found["State"] != "terminated"):
            return found, rec.version
    raise AwsError("InvalidVolume.NotFound", f"The volume '{volume_id}' does not exist.")


def save(call: Call, instance: dict[str, Any], version: int) -> None:
    call.store.put(INSTANCE, instance["InstanceId"], instance, expect_version=version)


def instances(call: Call) -> list[dict[str, Any]]:
    """The caller's visible instances in the call's region, in launch order."""
    found = [rec.value for rec in call.store.scan(INSTANCE)
             if rec.value["Account"] == call.principal.account and rec.value["Region"] == call.region
             and visible(rec.value)]
    found.sort(key=lambda i: (i.get("LaunchedAt", i["LaunchTime"]), i.get("AmiLaunchIndex", 0), i["InstanceId"]))
    return found


def default_network(store: Store, account: str, region: str) -> dict[str, Any]:
    """The account's default VPC in a region (made on first use): 172.31.0.0/16, one
    /20 subnet per zone, and the VPC's `default` security group."""
    key = f"{account}/{region}"
    rec = store.get(NETWORK, key)
    if rec is not None:
        return rec.value
    network = {
        "VpcId": new_id("vpc"), "DhcpOptionsId": new_id("dopt"), "GroupId": new_id("sg"),
        "Subnets": [{"SubnetId": new_id("subnet"), "Zone": region + letter, "CidrBlock": f"172.31.{16 * n}.0/20"}
                    for n, letter in enumerate(ZONE_LETTERS)],
        "Tags": {},
    }
    try:
        store.put(NETWORK, key, network, expect_version=0)
    except ConflictError:  # another call made it first: use theirs
        found = store.get(NETWORK, key)
        assert found is not None
        return found.value
    return network


def profile_by_ref(call: Call, ref: dict[str, str]) -> dict[str, Any]:
    """An IamInstanceProfile parameter ({Name} or {Arn}) → the profile record."""
    account = call.principal.account
    name = ref.get("Name") or (ref.get("Arn") or "").rsplit("/", 1)[-1]
    rec = call.store.get(iam_records.INSTANCE_PROFILE, iam_records.name_key(account, name)) if name else None
    if rec is None or (ref.get("Arn") and rec.value["Arn"] != ref["Arn"]):
        if ref.get("Arn"):
            raise AwsError("InvalidParameterValue", f"Value ({ref['Arn']}) for parameter iamInstanceProfile.arn is "
                           "invalid. Invalid IAM Instance Profile ARN")
        raise AwsError("InvalidParameterValue", f"Value ({ref.get('Name')}) for parameter iamInstanceProfile.name "
                       "is invalid. Invalid IAM Instance Profile name")
    return rec.value


def role_of_profile(store: Store, account: str, profile: dict[str, Any]) -> dict[str, Any] | None:
    if not profile.get("Roles"):
        return None
    rec = store.get(iam_records.ROLE, iam_records.name_key(account, profile["Roles"][0]))
    return rec.value if rec else None
