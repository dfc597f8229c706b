"""The default network every account and region has, as on AWS: a default VPC
(172.31.0.0/16), a default subnet per availability zone and a default security
group — enough for RunInstances with no network arguments. And instance tags."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from skyhold.errors import AwsError
from skyhold.services.ec2 import records as r
from skyhold.services.ec2.instances import DEFAULT_VPC, SUBNETS

if TYPE_CHECKING:
    from skyhold.pipeline import Call

DEFAULT_GROUP = "sg-0d3fa017c0ffee001"


def describe_vpcs(call: Call, params: dict[str, Any]) -> dict[str, Any]:
    return {"Vpcs": [{"VpcId": DEFAULT_VPC, "CidrBlock": "172.31.0.0/16", "State": "available", "IsDefault": True,
                      "OwnerId": call.principal.account, "InstanceTenancy": "default",
                      "DhcpOptionsId": "dopt-0d3fa017c0ffee001"}]}


def describe_subnets(call: Call, params: dict[str, Any]) -> dict[str, Any]:
    return {"Subnets": [{"SubnetId": sid, "VpcId": DEFAULT_VPC, "AvailabilityZone": call.region + zone,
                         "CidrBlock": f"172.31.{16 * i}.0/20", "State": "available", "DefaultForAz": True,
                         "MapPublicIpOnLaunch": True, "AvailableIpAddressCount": 4091,
                         "OwnerId": call.principal.account}
                        for i, (zone, sid) in enumerate(SUBNETS.items())]}


def describe_security_groups(call: Call, params: dict[str, Any]) -> dict[str, Any]:
    return {"SecurityGroups": [{"GroupId": DEFAULT_GROUP, "GroupName": "default", "VpcId": DEFAULT_VPC,
                                "Description": "default VPC security group", "OwnerId": call.principal.account,
                                "IpPermissions": [{"IpProtocol": "-1", "UserIdGroupPairs": [
                                    {"GroupId": DEFAULT_GROUP, "UserId": call.principal.account}]}],
                                "IpPermissionsEgress": [{"IpProtocol": "-1",
                                                         "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}]}]}


def _instances(call: Call, ids: list[str]) -> list[tuple[dict[str, Any], int]]:
    found = []
    for resource in ids:
        if not resource.startswith("i-"):
            raise AwsError("InvalidID", f"The ID '{resource}' is not valid")
        found.append(r.find(call, resource))
    return found


def create_tags(call: Call, params: dict[str, Any]) -> dict[str, Any]:
    for instance, version in _instances(call, params["Resources"]):
        tags = {t["Key"]: t["Value"] for t in instance.get("Tags") or []}
        tags.update({t["Key"]: t.get("Value", "") for t in params["Tags"]})
        instance["Tags"] = [{"Key": k, "Value": v} for k, v in tags.items()]
        r.save(call, instance, version)
    return {}


def delete_tags(call: Call, params: dict[str, Any]) -> dict[str, Any]:
    drop = params.get("Tags") or []
    for instance, version in _instances(call, params["Resources"]):
        # No Tags parameter deletes every tag; a tag without Value matches any value.
        instance["Tags"] = [t for t in instance.get("Tags") or []
                            if drop and not any(d["Key"] == t["Key"] and d.get("Value") in (None, t["Value"])
                                                for d in drop)]
        r.save(call, instance, version)
    return {}


def describe_tags(call: Call, params: dict[str, Any]) -> dict[str, Any]:
    out = []
    for rec in call.store.scan(r.INSTANCE):
        instance = rec.value
        if instance["Account"] != call.principal.account or instance["Region"] != call.region:
            continue
        for tag in instance.get("Tags") or []:
            item = {"ResourceId": instance["InstanceId"], "ResourceType": "instance", "Key": tag["Key"],
                    "Value": tag["Value"]}
            if all(_tag_filter(item, f) for f in params.get("Filters") or []):
                out.append(item)
    return {"Tags": out}


def _tag_filter(item: dict[str, Any], f: dict[str, Any]) -> bool:
    field = {"resource-id": "ResourceId", "resource-type": "ResourceType", "key": "Key", "value": "Value"}.get(f["Name"])
    if field is None:
        raise AwsError("InvalidParameterValue", f"The filter '{f['Name']}' is invalid")
    return item[field] in (f.get("Values") or [])


HANDLERS = {
    "DescribeVpcs": describe_vpcs,
    "DescribeSubnets": describe_subnets,
    "DescribeSecurityGroups": describe_security_groups,
    "CreateTags": create_tags,
    "DeleteTags": delete_tags,
    "DescribeTags": describe_tags,
}
