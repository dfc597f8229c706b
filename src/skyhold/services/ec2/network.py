"""The default network every account has in every region, as on AWS: a default VPC
(172.31.0.0/16), a default subnet per availability zone and the VPC's `default`
security group — enough for RunInstances with no network arguments."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from skyhold.errors import AwsError
from skyhold.services.ec2 import filters, pages
from skyhold.services.ec2 import records as r

if TYPE_CHECKING:
    from skyhold.pipeline import Call


def network(call: Call) -> dict[str, Any]:
    return r.default_network(call.store, call.principal.account, call.region)


def _tags(net: dict[str, Any], resource_id: str) -> list[dict[str, str]]:
    return [{"Key": k, "Value": v} for k, v in (net.get("Tags") or {}).get(resource_id, {}).items()]


def vpc(call: Call, net: dict[str, Any]) -> dict[str, Any]:
    return {"VpcId": net["VpcId"], "CidrBlock": "172.31.0.0/16", "State": "available", "IsDefault": True,
            "OwnerId": call.principal.account, "InstanceTenancy": "default", "DhcpOptionsId": net["DhcpOptionsId"],
            "CidrBlockAssociationSet": [{"AssociationId": "vpc-cidr-assoc-" + net["VpcId"][4:],
                                         "CidrBlock": "172.31.0.0/16", "CidrBlockState": {"State": "associated"}}],
            "Tags": _tags(net, net["VpcId"])}


def subnets(call: Call, net: dict[str, Any]) -> list[dict[str, Any]]:
    account = call.principal.account
    return [{"SubnetId": s["SubnetId"], "VpcId": net["VpcId"], "AvailabilityZone": s["Zone"],
             "AvailabilityZoneId": r.zone_id(call.region, s["Zone"][-1]), "CidrBlock": s["CidrBlock"],
             "State": "available", "DefaultForAz": True, "MapPublicIpOnLaunch": True,
             "AvailableIpAddressCount": 4091, "OwnerId": account,
             "SubnetArn": r.resource_arn(call.region, account, "subnet", s["SubnetId"]),
             "Tags": _tags(net, s["SubnetId"])} for s in net["Subnets"]]


def security_group(call: Call, net: dict[str, Any]) -> dict[str, Any]:
    account = call.principal.account
    return {"GroupId": net["GroupId"], "GroupName": "default", "VpcId": net["VpcId"],
            "Description": "default VPC security group", "OwnerId": account,
            "SecurityGroupArn": r.resource_arn(call.region, account, "security-group", net["GroupId"]),
            "IpPermissions": [{"IpProtocol": "-1", "IpRanges": [], "Ipv6Ranges": [], "PrefixListIds": [],
                               "UserIdGroupPairs": [{"GroupId": net["GroupId"], "UserId": account}]}],
            "IpPermissionsEgress": [{"IpProtocol": "-1", "IpRanges": [{"CidrIp": "0.0.0.0/0"}], "Ipv6Ranges": [],
                                     "PrefixListIds": [], "UserIdGroupPairs": []}],
            "Tags": _tags(net, net["GroupId"])}


# An id of another form is refused before any lookup, with codes whose spelling AWS
# does not keep consistent (VpcID, SubnetID, but GroupId).
_MALFORMED = {"vpc": "InvalidVpcID.Malformed", "subnet": "InvalidSubnetID.Malformed", "sg": "InvalidGroupId.Malformed",
              "rtb": "InvalidRouteTableID.Malformed"}
_HEX_ID = re.compile(r"[0-9a-f]{8}(?:[0-9a-f]{9})?")


def check_id(resource_id: str, prefix: str) -> None:
    if not resource_id.startswith(prefix + "-"):
        raise AwsError(_MALFORMED[prefix], f'Invalid id: "{resource_id}" (expecting "{prefix}-...")')
    if prefix == "sg" and not _HEX_ID.fullmatch(resource_id[3:]):
        raise AwsError(_MALFORMED[prefix], f"The security-group ID '{resource_id}' is malformed")


def subnet_for(call: Call, subnet_id: str | None) -> dict[str, Any]:
    """The subnet an instance launches into: the one named, else the first zone's."""
    net = network(call)
    if subnet_id is None:
        return net["Subnets"][0]
    check_id(subnet_id, "subnet")
    for s in net["Subnets"]:
        if s["SubnetId"] == subnet_id:
            return s
    raise AwsError("InvalidSubnetID.NotFound", f"The subnet ID '{subnet_id}' does not exist")


def groups_for(call: Call, group_ids: list[str] | None, group_names: list[str] | None = None) -> list[str]:
    """The groups an instance launches with, named by id or (in the default VPC) by name."""
    net = network(call)
    for name in group_names or []:
        if name != "default":
            raise AwsError("InvalidGroup.NotFound", f"The security group '{name}' does not exist in default VPC "
                           f"'{net['VpcId']}'")
    if group_names and not group_ids:
        group_ids = [net["GroupId"]]
    for gid in group_ids or []:
        check_id(gid, "sg")
        if gid != net["GroupId"]:
            raise AwsError("InvalidGroup.NotFound", f"The security group '{gid}' does not exist")
    return list(dict.fromkeys(group_ids or [net["GroupId"]]))


def _select(items: list[dict[str, Any]], id_field: str, ids: list[str] | None, error: str, noun: str,
            params: dict[str, Any], fields: filters.Fields, prefix: str) -> list[dict[str, Any]]:
    for i in ids or []:
        check_id(i, prefix)
    if ids:
        missing = [i for i in ids if i not in {item[id_field] for item in items}]
        if missing:
            raise AwsError(error, f"The {noun} '{missing[0]}' does not exist")
        items = [item for item in items if item[id_field] in ids]
    return filters.select(items, params.get("Filters"), fields)


def _none(resource: dict[str, Any]) -> list[Any]:
    return []


_VPC_FIELDS: filters.Fields = {
    "vpc-id": lambda v: [v["VpcId"]], "cidr": lambda v: [v["CidrBlock"]], "cidr-block": lambda v: [v["CidrBlock"]],
    "is-default": lambda v: [v["IsDefault"]], "isDefault": lambda v: [v["IsDefault"]],
    "state": lambda v: [v["State"]], "owner-id": lambda v: [v["OwnerId"]],
    "dhcp-options-id": lambda v: [v["DhcpOptionsId"]],
    "cidr-block-association.cidr-block": lambda v: [a["CidrBlock"] for a in v["CidrBlockAssociationSet"]],
    "cidr-block-association.association-id": lambda v: [a["AssociationId"] for a in v["CidrBlockAssociationSet"]],
    "cidr-block-association.state": lambda v: [a["CidrBlockState"]["State"] for a in v["CidrBlockAssociationSet"]],
    # The default VPC has no IPv6 block: these filters are valid and match nothing.
    **{f"ipv6-cidr-block-association.{name}": _none
       for name in ("ipv6-cidr-block", "ipv6-pool", "association-id", "state")},
}
_SUBNET_FIELDS: filters.Fields = {
    "subnet-id": lambda s: [s["SubnetId"]], "vpc-id": lambda s: [s["VpcId"]],
    "availability-zone": lambda s: [s["AvailabilityZone"]], "availability-zone-id": lambda s: [s["AvailabilityZoneId"]],
    "default-for-az": lambda s: [s["DefaultForAz"]], "defaultForAz": lambda s: [s["DefaultForAz"]],
    "cidr-block": lambda s: [s["CidrBlock"]], "cidr": lambda s: [s["CidrBlock"]],
    "cidrBlock": lambda s: [s["CidrBlock"]],
    "state": lambda s: [s["State"]], "owner-id": lambda s: [s["OwnerId"]],
    "map-public-ip-on-launch": lambda s: [s["MapPublicIpOnLaunch"]], "subnet-arn": lambda s: [s["SubnetArn"]],
    "available-ip-address-count": lambda s: [s["AvailableIpAddressCount"]],
    "availabilityZone": lambda s: [s["AvailabilityZone"]], "availabilityZoneId": lambda s: [s["AvailabilityZoneId"]],
    # What AWS's default subnets are: IPv4 only, no Outpost or customer-owned pool,
    # ip-name hostnames without resource-name DNS records.
    "ipv6-native": lambda s: [False], "enable-dns64": lambda s: [False],
    "map-customer-owned-ip-on-launch": lambda s: [False],
    "private-dns-name-options-on-launch.hostname-type": lambda s: ["ip-name"],
    "private-dns-name-options-on-launch.enable-resource-name-dns-a-record": lambda s: [False],
    "private-dns-name-options-on-launch.enable-resource-name-dns-aaaa-record": lambda s: [False],
    **{name: _none for name in ("customer-owned-ipv4-pool", "enable-lni-at-device-index", "outpost-arn",
                                "ipv6-cidr-block-association.ipv6-cidr-block",
                                "ipv6-cidr-block-association.association-id", "ipv6-cidr-block-association.state")},
}


def _rule_fields(prefix: str, rules: str) -> filters.Fields:
    """The filters on a group's rules (IpPermissions or IpPermissionsEgress): each
    yields its values over all the rules, so several filters may match different rules."""

    def values(pick: Callable[[dict[str, Any], dict[str, Any]], list[Any]]) -> Callable[[dict[str, Any]], list[Any]]:
        return lambda g: [v for rule in g[rules] for v in pick(g, rule)]

    def pair_names(g: dict[str, Any], rule: dict[str, Any]) -> list[Any]:
        # A pair in a VPC names its group by id: its name is the referenced group's.
        return [p.get("GroupName") or (g["GroupName"] if p.get("GroupId") == g["GroupId"] else None)
                for p in rule["UserIdGroupPairs"]]

    picks: dict[str, Callable[[dict[str, Any], dict[str, Any]], list[Any]]] = {
        "cidr": lambda g, rule: [x["CidrIp"] for x in rule["IpRanges"]],
        "ipv6-cidr": lambda g, rule: [x["CidrIpv6"] for x in rule["Ipv6Ranges"]],
        "prefix-list-id": lambda g, rule: [x["PrefixListId"] for x in rule["PrefixListIds"]],
        "from-port": lambda g, rule: [rule.get("FromPort")], "to-port": lambda g, rule: [rule.get("ToPort")],
        "protocol": lambda g, rule: [rule["IpProtocol"]],
        "group-id": lambda g, rule: [p.get("GroupId") for p in rule["UserIdGroupPairs"]],
        "group-name": pair_names,
        "user-id": lambda g, rule: [p.get("UserId") for p in rule["UserIdGroupPairs"]],
    }
    return {f"{prefix}ip-permission.{name}": values(pick) for name, pick in picks.items()}


_GROUP_FIELDS: filters.Fields = {
    "group-id": lambda g: [g["GroupId"]], "group-name": lambda g: [g["GroupName"]], "vpc-id": lambda g: [g["VpcId"]],
    "description": lambda g: [g["Description"]], "owner-id": lambda g: [g["OwnerId"]],
    **_rule_fields("", "IpPermissions"), **_rule_fields("egress.", "IpPermissionsEgress"),
}


def describe_vpcs(call: Call, params: dict[str, Any]) -> dict[str, Any]:
    found = _select([vpc(call, network(call))], "VpcId", params.get("VpcIds"), "InvalidVpcID.NotFound", "vpc ID",
                    params, _VPC_FIELDS, "vpc")
    found, token = pages.page(found, params, lambda v: v["VpcId"])
    return _paged({"Vpcs": found}, token)


def describe_subnets(call: Call, params: dict[str, Any]) -> dict[str, Any]:
    found = _select(subnets(call, network(call)), "SubnetId", params.get("SubnetIds"), "InvalidSubnetID.NotFound",
                    "subnet ID", params, _SUBNET_FIELDS, "subnet")
    found, token = pages.page(found, params, lambda v: v["SubnetId"])
    return _paged({"Subnets": found}, token)


def describe_security_groups(call: Call, params: dict[str, Any]) -> dict[str, Any]:
    groups = [security_group(call, network(call))]
    found = _select(groups, "GroupId", params.get("GroupIds"), "InvalidGroup.NotFound", "security group", params,
                    _GROUP_FIELDS, "sg")
    for name in params.get("GroupNames") or []:
        if name != "default":
            raise AwsError("InvalidGroup.NotFound", f"The security group '{name}' does not exist in default VPC "
                           f"'{groups[0]['VpcId']}'")
    found, token = pages.page(found, params, lambda g: g["GroupId"])
    return _paged({"SecurityGroups": found}, token)


# The default VPC resolves names and gives its instances public DNS names (AWS's
# defaults for a default VPC); Network Address Usage metrics start off.
_VPC_ATTRIBUTES = {"enableDnsSupport": ("EnableDnsSupport", True),
                   "enableDnsHostnames": ("EnableDnsHostnames", True),
                   "enableNetworkAddressUsageMetrics": ("EnableNetworkAddressUsageMetrics", False)}


def describe_vpc_attribute(call: Call, params: dict[str, Any]) -> dict[str, Any]:
    vpc_id, attribute = params["VpcId"], params["Attribute"]
    _select([vpc(call, network(call))], "VpcId", [vpc_id], "InvalidVpcID.NotFound", "vpc ID", {}, _VPC_FIELDS, "vpc")
    if attribute not in _VPC_ATTRIBUTES:
        raise AwsError("InvalidParameterValue", f"Value ({attribute}) for parameter attribute is invalid. "
                       "Unknown attribute.")
    member, value = _VPC_ATTRIBUTES[attribute]
    return {"VpcId": vpc_id, member: {"Value": value}}


def route_table(call: Call, net: dict[str, Any]) -> dict[str, Any]:
    """The default VPC's main route table: local traffic, and the rest to its internet gateway."""
    suffix = net["VpcId"][4:]
    table_id = "rtb-" + suffix
    return {"RouteTableId": table_id, "VpcId": net["VpcId"], "OwnerId": call.principal.account,
            "Associations": [{"Main": True, "RouteTableAssociationId": "rtbassoc-" + suffix,
                              "RouteTableId": table_id, "AssociationState": {"State": "associated"}}],
            "PropagatingVgws": [],
            "Routes": [{"DestinationCidrBlock": "172.31.0.0/16", "GatewayId": "local", "Origin": "CreateRouteTable",
                        "State": "active"},
                       {"DestinationCidrBlock": "0.0.0.0/0", "GatewayId": "igw-" + suffix, "Origin": "CreateRoute",
                        "State": "active"}],
            "Tags": _tags(net, table_id)}


_ROUTE_TABLE_FIELDS: filters.Fields = {
    "route-table-id": lambda t: [t["RouteTableId"]], "vpc-id": lambda t: [t["VpcId"]],
    "owner-id": lambda t: [t["OwnerId"]], "association.main": lambda t: [a["Main"] for a in t["Associations"]],
    "association.route-table-association-id": lambda t: [a["RouteTableAssociationId"] for a in t["Associations"]],
    "association.route-table-id": lambda t: [a["RouteTableId"] for a in t["Associations"]],
    "association.subnet-id": _none, "association.gateway-id": _none,
    "route.destination-cidr-block": lambda t: [x["DestinationCidrBlock"] for x in t["Routes"]],
    "route.gateway-id": lambda t: [x["GatewayId"] for x in t["Routes"]],
    "route.state": lambda t: [x["State"] for x in t["Routes"]],
    "route.origin": lambda t: [x["Origin"] for x in t["Routes"]],
}


def describe_route_tables(call: Call, params: dict[str, Any]) -> dict[str, Any]:
    found = _select([route_table(call, network(call))], "RouteTableId", params.get("RouteTableIds"),
                    "InvalidRouteTableID.NotFound", "routeTable ID", params, _ROUTE_TABLE_FIELDS, "rtb")
    found, token = pages.page(found, params, lambda t: t["RouteTableId"])
    return _paged({"RouteTables": found}, token)


def _paged(out: dict[str, Any], token: str | None) -> dict[str, Any]:
    return out if token is None else {**out, "NextToken": token}


HANDLERS = {
    "DescribeVpcs": describe_vpcs,
    "DescribeSubnets": describe_subnets,
    "DescribeSecurityGroups": describe_security_groups,
    "DescribeVpcAttribute": describe_vpc_attribute,
    "DescribeRouteTables": describe_route_tables,
}
