"""The metadata tree an instance sees, computed from its record.

`lookup` answers a path: a directory listing (text), a value (text), a JSON document
(dict), or None for 404. Role credentials are temporary credentials of a session of
the instance profile's role named after the instance (so CloudTrail and
get-caller-identity show assumed-role/<role>/i-…), re-issued five minutes before
they expire.
"""

from __future__ import annotations

import base64
from datetime import datetime, timedelta
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from skyhold import arn as arns
from skyhold import clock
from skyhold import principal as p
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
            tags={t["Key"]: t["Value"] for t in role.get("Tags") or []}))
        cached = _credentials[key] = {**creds, "LastUpdated": now}
    return cached


def _iso(dt: datetime) -> str:
    return dt.strftime("%Y-%m-%dT%H:%M:%SZ")


def _tree(pipeline: Pipeline, instance: dict[str, Any]) -> dict[str, Any]:
    az = instance["AvailabilityZone"]
    meta: dict[str, Any] = {
        "ami-id": instance["ImageId"],
        "ami-launch-index": str(instance.get("AmiLaunchIndex", 0)),
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
        meta["public-keys"] = {f"0={instance['KeyName']}": ""}
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
        "dynamic": {"instance-identity": {"document": lambda: _identity(instance)}},
    }
    if instance.get("UserData"):
        latest["user-data"] = base64.b64decode(instance["UserData"]).decode("utf-8", "replace")
    return {"latest": latest}


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
