"""Where RunInstances puts an instance: its subnet, availability zone and security
groups. IAM (authz.py) and the handler (instances.py) both ask `target`, so the
resources a policy is checked against are the ones the instance goes into.

The subnet and groups come from the primary network interface (DeviceIndex 0) when
NetworkInterfaces is given — AWS then refuses the instance-level SubnetId and security
groups — else from SubnetId and SecurityGroupIds/SecurityGroups. Without a subnet the
instance goes to the default subnet of Placement's zone (by name or id), else of the
region's first zone.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from skyhold.errors import AwsError
from skyhold.services.ec2 import network
from skyhold.services.ec2 import records as r

if TYPE_CHECKING:
    from skyhold.pipeline import Call

# What Skyhold honours in a network interface specification; any other option is
# refused rather than silently dropped (the primary interface is the only one an
# instance here has, and it is always a new one).
_INTERFACE_OPTIONS = frozenset({"DeviceIndex", "SubnetId", "Groups", "Description", "DeleteOnTermination",
                                "AssociatePublicIpAddress"})


@dataclass(frozen=True)
class Target:
    subnet_id: str
    subnet: dict[str, Any] | None  # None: subnet_id names no subnet of the account (authz only)
    zone: str  # the zone the instance lands in (the subnet's, when it is known)
    group_ids: list[str]
    interface: dict[str, Any]  # the primary interface specification ({} when none is given)


def _unsupported(option: str) -> AwsError:
    # Skyhold's own refusal (AWS honours these): worded after AWS's Unsupported error.
    return AwsError("Unsupported", f"The requested configuration is currently not supported: {option} "
                    "(Skyhold launches every instance with one new primary network interface).")


def _primary_interface(params: dict[str, Any]) -> dict[str, Any]:
    interfaces = params.get("NetworkInterfaces") or []
    if not interfaces:
        return {}
    if len(interfaces) > 1:
        raise _unsupported("NetworkInterfaces with more than one network interface")
    interface = interfaces[0]
    if interface.get("DeviceIndex") not in (0, None) or interface.get("NetworkCardIndex") not in (0, None):
        raise _unsupported("a network interface at a DeviceIndex or NetworkCardIndex other than 0")
    if interface.get("DeviceIndex") is None:
        # AWS's message, as its users quote it (hashicorp/packer #2242, chef/knife-ec2 #601)
        raise AwsError("InvalidParameterValue", "Each network interface requires a device index.")
    if interface.get("NetworkInterfaceId"):  # Skyhold has no interfaces apart from instances' own
        # AWS's message, as its users quote it from RunInstances (a Terraform "creating EC2 Instance" error)
        raise AwsError("InvalidNetworkInterfaceID.NotFound",
                       f"The networkInterface ID '{interface['NetworkInterfaceId']}' does not exist")
    extra = sorted(k for k, v in interface.items() if k not in _INTERFACE_OPTIONS and v not in (None, [], ""))
    if extra:
        raise _unsupported(f"NetworkInterface.{extra[0]}")
    if params.get("SubnetId"):
        raise AwsError("InvalidParameterCombination", "Network interfaces and an instance-level subnet ID may not "
                       "be specified on the same request")
    if params.get("SecurityGroupIds") or params.get("SecurityGroups"):
        raise AwsError("InvalidParameterCombination", "Network interfaces and an instance-level security groups "
                       "may not be specified on the same request")
    return dict(interface)


def placement_zone(region: str, placement: dict[str, Any]) -> str | None:
    """The zone Placement names (by AvailabilityZone or AvailabilityZoneId), None if neither."""
    zones = {region + letter: r.zone_id(region, letter) for letter in r.ZONE_LETTERS}
    name, zone_id = placement.get("AvailabilityZone") or None, placement.get("AvailabilityZoneId") or None
    if name is not None and name not in zones:
        raise AwsError("InvalidParameterValue", f"Invalid availability zone: [{name}]")
    if zone_id is not None:
        by_id = next((z for z, i in zones.items() if i == zone_id), None)
        if by_id is None:
            raise AwsError("InvalidParameterValue", f"Invalid availability zone: [{zone_id}]")
        if name is not None and name != by_id:
            raise AwsError("InvalidParameterCombination", f"The Availability Zone ID '{zone_id}' does not match "
                           f"the Availability Zone '{name}'.")
        return by_id
    return name


def target(call: Call, params: dict[str, Any], *, strict: bool = True) -> Target:
    """Where the launch goes. Parameter errors are raised either way; an id that names
    nothing, or a zone the subnet is not in, only when `strict` (the handler's turn:
    IAM checks the named resources first, as they are named)."""
    interface = _primary_interface(params)
    if params.get("NetworkInterfaces"):
        subnet_id, group_ids, group_names = interface.get("SubnetId"), interface.get("Groups"), None
    else:
        subnet_id, group_ids = params.get("SubnetId"), params.get("SecurityGroupIds")
        group_names = params.get("SecurityGroups")
    zone = placement_zone(call.region, params.get("Placement") or {})
    net = network.network(call)
    subnet: dict[str, Any] | None
    if subnet_id is None:
        subnet = next(s for s in net["Subnets"] if s["Zone"] == zone) if zone else net["Subnets"][0]
    elif strict:
        subnet = network.subnet_for(call, subnet_id)
    else:
        subnet = next((s for s in net["Subnets"] if s["SubnetId"] == subnet_id), None)
    if strict and subnet is not None and zone is not None and subnet["Zone"] != zone:
        raise AwsError("InvalidParameterValue", f"Value ({zone}) for parameter availabilityZone is invalid. "
                       f"Subnet '{subnet['SubnetId']}' is in the availability zone {subnet['Zone']}")
    if strict:
        groups = network.groups_for(call, group_ids, group_names)
    else:
        groups = list(dict.fromkeys(group_ids or [net["GroupId"]]))
    return Target(subnet_id=subnet["SubnetId"] if subnet else str(subnet_id), subnet=subnet,
                  zone=subnet["Zone"] if subnet else zone or net["Subnets"][0]["Zone"], group_ids=groups,
                  interface=interface)
