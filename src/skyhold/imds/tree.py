"""The metadata tree an instance sees, computed from its record.

`lookup` answers a path: a directory listing (text), a value (text), a JSON document
(dict), or None for 404. Role credentials are temporary credentials of a session of
the instance profile's role named after the instance (so CloudTrail and
get-caller-identity show assumed-role/<role>/i-…), re-issued five minutes before
they expire.
"""

from __future__ import annotations

import base64
import json
from datetime import datetime, timedelta
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from skyhold import arn as arns
from skyhold import clock
from skyhold import principal as p
from skyhold.imds import identity
from skyhold.services.iam import records as iam_records
from skyhold.services.sts import sessions

if TYPE_CHECKING:
    from skyhold.pipeline import Pipeline

REFRESH_BEFORE = timedelta(minutes=5)
_credentials: dict[tuple[str, str], dict[str, Any]] = {}


def _role(pipeline: Pipeline, instance: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]] | None:
    """(profile, role) attached to the instance now, if any."""
    association = instance.get("Association")
    if not association or association.get("State") != "associated":
        return None
    name = association["InstanceProfileArn"].rsplit("/", 1)[-1]
    rec = pipeline.store.get(iam_records.INSTANCE_PROFILE, iam_records.name_key(instance["Account"], name))
    if rec is None or not rec.value.get("Roles"):
        return None
    role = pipeline.store.get(iam_records.ROLE, iam_records.name_key(instance["Account"], rec.value["Roles"][0]))
    return (rec.value, role.value) if role else None


def credentials(pipeline: Pipeline, instance: dict[str, Any], role: dict[str, Any]) -> dict[str, Any]:
    key = (instance["InstanceId"], role["Arn"])
    cached = _credentials.get(key)
    now = clock.now()
    if cached is None or cached["Expiration"] - now < REFRESH_BEFORE:
        account, instance_id = instance["Account"], instance["InstanceId"]
        creds = sessions.issue(pipeline.store, sessions.NewSession(
            type=p.ASSUMED_ROLE, account=account, arn=arns.assumed_role(account, role["RoleName"], instance_id),
            user_id=f"{role['RoleId']}:{instance_id}", name=instance_id, duration=21600,
            role_name=role["RoleName"], role_arn=role["Arn"],
            tags={t["Key"]: t["Value"] for t in role.get("Tags") or []},
            context={"ec2:SourceInstanceARN": f"arn:aws:ec2:{instance['Region']}:{account}:instance/{instance_id}",
                     "aws:Ec2InstanceSourceVpc": instance["VpcId"],
                     "aws:Ec2InstanceSourcePrivateIPv4": instance["PrivateIpAddress"]}))
        cached = _credentials[key] = {**creds, "LastUpdated": now}
    return cached


def _iso(dt: datetime) -> str:
    return dt.strftime("%Y-%m-%dT%H:%M:%SZ")


def _tree(pipeline: Pipeline, instance: dict[str, Any]) -> dict[str, Any]:
    az = instance["AvailabilityZone"]
    mac = instance["MacAddress"]
    meta: dict[str, Any] = {
        "ami-id": instance["ImageId"],
        "ami-launch-index": str(instance.get("AmiLaunchIndex", 0)),
        "ami-manifest-path": "(unknown)",
        "block-device-mapping": {"ami": "/dev/xvda", "root": "/dev/xvda"},
        "events": {"maintenance": {"scheduled": "[]", "history": "[]"}},
        "instance-life-cycle": "on-demand",
        "network": {"interfaces": {"macs": {mac: {
            "device-number": "0", "interface-id": "eni-" + instance["InstanceId"][2:19],
            "local-hostname": instance["PrivateDnsName"], "local-ipv4s": instance["PrivateIpAddress"], "mac": mac,
            "network-card-index": "0", "owner-id": instance["Account"], "security-group-ids":
                instance["SecurityGroupId"], "security-groups": "default", "subnet-id": instance["SubnetId"],
            "subnet-ipv4-cidr-block": "172.31.0.0/20", "vpc-id": instance["VpcId"],
            "vpc-ipv4-cidr-block": "172.31.0.0/16", "vpc-ipv4-cidr-blocks": "172.31.0.0/16"}}}},
        "hostname": instance["PrivateDnsName"],
        "instance-action": "none",
        "instance-id": instance["InstanceId"],
        "instance-type": instance["InstanceType"],
        "local-hostname": instance["PrivateDnsName"],
        "local-ipv4": instance["PrivateIpAddress"],
        "mac": instance["MacAddress"],
        "placement": {"availability-zone": az, "availability-zone-id": "use1-az" + az[-1:], "region": az[:-1]},
        "reservation-id": instance["ReservationId"],
        "security-groups": "default",
        "services": {"domain": "amazonaws.com", "partition": "aws"},
    }
    if instance.get("KeyName"):
        pair = pipeline.store.get("ec2.key-pair", f"{instance['Account']}/{instance['Region']}/{instance['KeyName']}")
        if pair is not None:
            meta["public-keys"] = {"0": {"openssh-key": pair.value["PublicKey"] + " " + instance["KeyName"]}}
    attached = _role(pipeline, instance)
    if attached is not None:
        profile, role = attached

        def info() -> dict[str, Any]:
            return {"Code": "Success", "LastUpdated": _iso(clock.now()), "InstanceProfileArn": profile["Arn"],
                    "InstanceProfileId": profile["InstanceProfileId"]}

        def creds() -> dict[str, Any]:
            c = credentials(pipeline, instance, role)
            return {"Code": "Success", "LastUpdated": _iso(c["LastUpdated"]), "Type": "AWS-HMAC",
                    "AccessKeyId": c["AccessKeyId"], "SecretAccessKey": c["SecretAccessKey"],
                    "Token": c["SessionToken"], "Expiration": _iso(c["Expiration"])}

        meta["iam"] = {"info": info, "security-credentials": {role["RoleName"]: creds}}
    if instance.get("MetadataOptions", {}).get("InstanceMetadataTags") == "enabled":
        meta["tags"] = {"instance": {t["Key"]: t["Value"] for t in instance.get("Tags") or []}}
    latest: dict[str, Any] = {
        "meta-data": meta,
        "dynamic": {"instance-identity": {
            "document": lambda: _identity_text(instance),
            "signature": lambda: identity.sign(pipeline.store, pipeline.data_dir, _identity_text(instance).encode()),
        }},
    }
    if instance.get("UserData"):
        latest["user-data"] = base64.b64decode(instance["UserData"]).decode("utf-8", "replace")
    return {"latest": latest}


def _identity_text(instance: dict[str, Any]) -> str:
    return json.dumps(_identity(instance), indent=2)


def _identity(instance: dict[str, Any]) -> dict[str, Any]:
    return {
        "accountId": instance["Account"], "architecture": "x86_64",
        "availabilityZone": instance["AvailabilityZone"], "billingProducts": None, "devpayProductCodes": None,
        "marketplaceProductCodes": None, "imageId": instance["ImageId"], "instanceId": instance["InstanceId"],
        "instanceType": instance["InstanceType"], "kernelId": None, "pendingTime": instance["LaunchTime"],
        "privateIp": instance["PrivateIpAddress"], "ramdiskId": None, "region": instance["AvailabilityZone"][:-1],
        "version": "2017-09-30",
    }


def lookup(pipeline: Pipeline, instance: dict[str, Any], path: str) -> str | dict[str, Any] | None:
    node: Any = _tree(pipeline, instance)
    parts = [part for part in path.split("/") if part]
    for part in parts:
        if not isinstance(node, dict) or part not in node:
            return None
        node = node[part]
    if isinstance(node, dict):
        return "\n".join(k + ("/" if isinstance(v, dict) else "") for k, v in node.items())
    if isinstance(node, Callable):  # type: ignore[arg-type]
        return node()
    return node
