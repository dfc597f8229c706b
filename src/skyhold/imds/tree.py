"""The metadata tree an instance sees, computed from its record.

`lookup` answers a path: a directory listing (text), a value (text), a JSON document
(dict), or None for 404. Role credentials are temporary credentials of a session of
the instance profile's role named after the instance (so CloudTrail and
get-caller-identity show assumed-role/<role>/i-…), re-issued five minutes before
they expire. EC2 obtains them by assuming the role as ec2.amazonaws.com, so the
role's trust policy is evaluated before each issue; a role EC2 may not assume gets
AWS's AssumeRoleUnauthorizedAccess document instead of credentials.
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
from skyhold.policy import Caller, PolicySet, RequestContext, evaluate
from skyhold.services.ec2.records import NETWORK, instance_arn, private_dns, zone_id
from skyhold.services.iam import records as iam_records
from skyhold.services.iam.roles import evaluated_trust
from skyhold.services.sts import sessions

if TYPE_CHECKING:
    from skyhold.pipeline import Pipeline

REFRESH_BEFORE = timedelta(minutes=5)
CREDENTIAL_LIFETIME = 6 * 3600  # seconds; AWS's instance credentials last about six hours
_CACHE = "imds.credentials"
# ec2:RoleDelivery of role credentials fetched without / with an IMDSv2 session token.
IMDS_V1, IMDS_V2 = "1.0", "2.0"
EC2_SERVICE = "ec2.amazonaws.com"
# AWS's message, as real instances serve it (the IAM User Guide's "Troubleshoot Amazon
# EC2 and IAM" page documents the code and links this anchor).
_UNAUTHORIZED = ("EC2 cannot assume the role {}.  Please see documentation at "
                 "https://docs.aws.amazon.com/IAM/latest/UserGuide/troubleshoot_iam-ec2.html"
                 "#troubleshoot_iam-ec2_errors-info-doc.")

# The metadata versions IMDS lists at its root; each serves the same tree here.
VERSIONS = ("1.0", "2007-01-19", "2007-03-01", "2007-08-29", "2007-10-10", "2007-12-15", "2008-02-01",
            "2008-09-01", "2009-04-04", "2011-01-01", "2011-05-01", "2012-01-12", "2014-02-25", "2014-11-05",
            "2015-10-20", "2016-04-19", "2016-06-30", "2016-09-02", "2018-03-28", "2018-08-17", "2018-09-24",
            "2019-10-01", "2020-10-27", "2021-01-03", "2021-03-23", "2021-07-15", "2022-09-24", "2024-04-11",
            "latest")


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


def _ec2_may_assume(pipeline: Pipeline, role: dict[str, Any]) -> bool:
    """Whether the role's trust policy lets ec2.amazonaws.com call sts:AssumeRole, decided
    as STS decides AssumeRole (the trust policy must allow, even in the same account)."""
    request = RequestContext(Caller.from_arn(EC2_SERVICE), "sts:AssumeRole", role["Arn"],
                             resource_account=arns.parse(role["Arn"]).account, resource_policy_required=True)
    return evaluate(request, PolicySet.build(resource=evaluated_trust(pipeline.store, role))).allowed


def unauthorized(role: dict[str, Any]) -> dict[str, Any]:
    """What IMDS serves in place of credentials when EC2 cannot assume the role."""
    return {"Code": "AssumeRoleUnauthorizedAccess", "Message": _UNAUTHORIZED.format(role["RoleName"]),
            "LastUpdated": _iso(clock.now())}


def credentials(pipeline: Pipeline, instance: dict[str, Any], role: dict[str, Any],
                delivery: str = IMDS_V2) -> dict[str, Any] | None:
    """The role's temporary credentials for this instance: a session named after the
    instance, served from cache until five minutes before it expires; None when the
    trust policy refuses EC2 at issue (a refused role is asked again at every request,
    so a fixed trust policy takes effect at once). `delivery`: "1.0" for a request
    without a session token, "2.0" with one. "If you retrieve IAM role credentials
    without a session token, you receive the IMDSv1 role credentials" (EC2 API
    reference, HttpTokens): distinct credentials whose calls carry ec2:RoleDelivery,
    so a policy can deny those fetched through IMDSv1."""
    cache: dict[tuple[str, str, str], dict[str, Any]] = pipeline.extensions.setdefault(_CACHE, {})
    key = (instance["InstanceId"], role["Arn"], delivery)
    cached = cache.get(key)
    now = clock.now()
    if cached is None or cached["Expiration"] - now < REFRESH_BEFORE:
        if not _ec2_may_assume(pipeline, role):
            cache.pop(key, None)
            return None
        account, instance_id = instance["Account"], instance["InstanceId"]
        creds = sessions.issue(pipeline.store, sessions.NewSession(
            type=p.ASSUMED_ROLE, account=account, arn=arns.assumed_role(account, role["RoleName"], instance_id),
            user_id=f"{role['RoleId']}:{instance_id}", name=instance_id, duration=CREDENTIAL_LIFETIME,
            role_name=role["RoleName"], role_arn=role["Arn"],
            tags={t["Key"]: t["Value"] for t in role.get("Tags") or []},
            context={"ec2:SourceInstanceARN": instance_arn(instance["Region"], account, instance_id),
                     "aws:Ec2InstanceSourceVpc": instance["VpcId"], "ec2:RoleDelivery": delivery,
                     "aws:Ec2InstanceSourcePrivateIPv4": instance["PrivateIpAddress"]}))
        cached = cache[key] = {**creds, "LastUpdated": now}
    return cached


def _iso(dt: datetime) -> str:
    return dt.strftime("%Y-%m-%dT%H:%M:%SZ")


def _subnet_cidr(pipeline: Pipeline, instance: dict[str, Any]) -> str:
    rec = pipeline.store.get(NETWORK, f"{instance['Account']}/{instance['Region']}")
    for subnet in rec.value["Subnets"] if rec else []:
        if subnet["SubnetId"] == instance["SubnetId"]:
            return str(subnet["CidrBlock"])
    return "172.31.0.0/20"


def _meta_data(pipeline: Pipeline, instance: dict[str, Any], delivery: str) -> dict[str, Any]:
    az, mac, region = instance["AvailabilityZone"], instance["MacAddress"], instance["Region"]
    groups = instance.get("SecurityGroupIds") or []
    hostname = private_dns(region, instance["PrivateIpAddress"])
    meta: dict[str, Any] = {
        "ami-id": instance["ImageId"],
        "ami-launch-index": str(instance.get("AmiLaunchIndex", 0)),
        "ami-manifest-path": "(unknown)",
        "block-device-mapping": {"ami": "/dev/xvda", "root": "/dev/xvda"},
        "events": {"maintenance": {"history": "[]", "scheduled": "[]"}},
        "hostname": hostname,
        "identity-credentials": {"ec2": {
            "info": lambda: {"Code": "Success", "LastUpdated": _iso(clock.now()), "AccountId": instance["Account"]},
        }},
        "instance-action": "none",
        "instance-id": instance["InstanceId"],
        "instance-life-cycle": "on-demand",
        "instance-type": instance["InstanceType"],
        "local-hostname": hostname,
        "local-ipv4": instance["PrivateIpAddress"],
        "mac": mac,
        "metrics": {"vhostmd": '<?xml version="1.0" encoding="UTF-8"?>'},
        "network": {"interfaces": {"macs": {mac: {
            "device-number": "0", "interface-id": instance.get("NetworkInterfaceId", ""),
            "local-hostname": hostname, "local-ipv4s": instance["PrivateIpAddress"], "mac": mac,
            "network-card-index": "0", "owner-id": instance["Account"],
            "security-group-ids": "\n".join(groups), "security-groups": "\n".join("default" for _ in groups),
            "subnet-id": instance["SubnetId"], "subnet-ipv4-cidr-block": _subnet_cidr(pipeline, instance),
            "vpc-id": instance["VpcId"], "vpc-ipv4-cidr-block": "172.31.0.0/16",
            "vpc-ipv4-cidr-blocks": "172.31.0.0/16"}}}},
        "placement": {"availability-zone": az, "availability-zone-id": zone_id(region, az[-1]),
                      "region": region},
        "profile": "default-hvm",
        "reservation-id": instance["ReservationId"],
        "security-groups": "\n".join("default" for _ in groups),
        "services": {"domain": "amazonaws.com", "partition": "aws"},
        "system": "nitro",
    }
    if instance.get("KeyName"):
        pair = pipeline.store.get("ec2.key-pair", f"{instance['Account']}/{region}/{instance['KeyName']}")
        if pair is not None:
            key = pair.value["PublicKey"].split()
            meta["public-keys"] = {f"0={instance['KeyName']}": {
                "openssh-key": f"{key[0]} {key[1]} {instance['KeyName']}"}}
    attached = _role(pipeline, instance)
    if attached is not None:
        profile, role = attached

        def info() -> dict[str, Any]:
            c = credentials(pipeline, instance, role, delivery)
            if c is None:
                return unauthorized(role)
            return {"Code": "Success", "LastUpdated": _iso(c["LastUpdated"]),
                    "InstanceProfileArn": profile["Arn"], "InstanceProfileId": profile["InstanceProfileId"]}

        def creds() -> dict[str, Any]:
            c = credentials(pipeline, instance, role, delivery)
            if c is None:
                return unauthorized(role)
            return {"Code": "Success", "LastUpdated": _iso(c["LastUpdated"]), "Type": "AWS-HMAC",
                    "AccessKeyId": c["AccessKeyId"], "SecretAccessKey": c["SecretAccessKey"],
                    "Token": c["SessionToken"], "Expiration": _iso(c["Expiration"])}

        meta["iam"] = {"info": info, "security-credentials": {role["RoleName"]: creds}}
    if instance.get("MetadataOptions", {}).get("InstanceMetadataTags") == "enabled":
        meta["tags"] = {"instance": {t["Key"]: t["Value"] for t in instance.get("Tags") or []}}
    return meta


def _version(pipeline: Pipeline, instance: dict[str, Any], delivery: str) -> dict[str, Any]:
    def signed(form: Callable[..., str]) -> Callable[[], str]:
        return lambda: form(pipeline.store, pipeline.data_dir, _identity_text(instance).encode())

    node: dict[str, Any] = {
        "dynamic": {"instance-identity": {
            "document": lambda: _identity_text(instance),
            "pkcs7": signed(identity.pkcs7_signature),
            "rsa2048": signed(identity.pkcs7_signature),
            "signature": signed(identity.sign),
        }},
        "meta-data": _meta_data(pipeline, instance, delivery),
    }
    if instance.get("UserData"):
        node["user-data"] = base64.b64decode(instance["UserData"]).decode("utf-8", "replace")
    return node


def _identity_text(instance: dict[str, Any]) -> str:
    return json.dumps(_identity(instance), indent=2)


def _identity(instance: dict[str, Any]) -> dict[str, Any]:
    return {
        "accountId": instance["Account"], "architecture": "x86_64",
        "availabilityZone": instance["AvailabilityZone"], "billingProducts": None, "devpayProductCodes": None,
        "marketplaceProductCodes": None, "imageId": instance["ImageId"], "instanceId": instance["InstanceId"],
        "instanceType": instance["InstanceType"], "kernelId": None, "pendingTime": instance["LaunchTime"],
        "privateIp": instance["PrivateIpAddress"], "ramdiskId": None, "region": instance["Region"],
        "version": "2017-09-30",
    }


def lookup(pipeline: Pipeline, instance: dict[str, Any], path: str,
           with_token: bool = True) -> str | dict[str, Any] | None:
    """What IMDS answers for a path: a listing or value (text), a JSON document
    (dict), or None (404). Costly leaves (credentials, signatures) are computed only
    when a path reaches them. `with_token`: the request carried an IMDSv2 session
    token (its role credentials are then IMDSv2's)."""
    parts = [part for part in path.split("/") if part]
    if not parts:
        return "\n".join(VERSIONS)
    if parts[0] not in VERSIONS:
        return None
    node: Any = _version(pipeline, instance, IMDS_V2 if with_token else IMDS_V1)
    for part in parts[1:]:
        if not isinstance(node, dict):
            return None
        # public-keys/ lists "0=<key name>" but its path is public-keys/0/
        name = part if part in node else next((k for k in node if k.split("=", 1)[0] == part and "=" in k), None)
        if name is None:
            return None
        node = node[name]
    if isinstance(node, dict):
        # IMDS lists a category's entries in alphabetical order (iam/ after hostname).
        return "\n".join(k + ("/" if isinstance(v, dict) and "=" not in k else "") for k, v in sorted(node.items()))
    if callable(node):
        return node()  # type: ignore[no-any-return]
    return node  # type: ignore[no-any-return]
