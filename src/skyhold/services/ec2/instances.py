"""EC2 instances: launch, describe, start/stop/reboot/terminate and metadata options.

State changes follow AWS's transitions (pending→running, stopping→stopped,
shutting-down→terminated). Skyhold completes each transition at once: the response
shows the in-between state (CurrentState pending/stopping/shutting-down) and the next
DescribeInstances the final one. Each running instance has its own metadata service
(services/ec2/metadata.py), started and stopped with it.
"""

from __future__ import annotations

import base64
import binascii
import ipaddress
import re
import secrets
from functools import lru_cache
from typing import TYPE_CHECKING, Any

from skyhold import clock
from skyhold.errors import AwsError
from skyhold.services.ec2 import associations, catalog, filters, launch, metadata, network, pages, tags
from skyhold.services.ec2 import records as r

if TYPE_CHECKING:
    from skyhold.pipeline import Call

MAX_USER_DATA = 16 * 1024  # bytes, before base64, as AWS limits it
# Running (and pending) instances an account may have in a region: EC2's long-standing
# default quota. Each one here also runs a metadata service; a launch of thousands
# must be refused, as on AWS, not attempted.
RUNNING_QUOTA = 20


@lru_cache(maxsize=1)
def instance_types() -> frozenset[str]:
    """Every instance type EC2 knows (botocore's model lists them)."""
    import botocore.session

    model = botocore.session.get_session().get_service_model("ec2")
    return frozenset(model.shape_for("InstanceType").enum)


# Graviton families: a "g" right after the generation digit (t4g, m7gd, c6gn, is4gen),
# the first one, a1, and Grace (p6e-gb200). Every other family in the model is x86_64.
_ARM_FAMILY = re.compile(r"a1|[a-z]+\d+g[a-z]*|[a-z0-9]+-gb\d+")


def architecture(instance_type: str) -> str:
    return "arm64" if _ARM_FAMILY.fullmatch(instance_type.split(".", 1)[0]) else "x86_64"


# Families on the Xen hypervisor (all others are built on Nitro); they boot Legacy BIOS only.
_XEN_FAMILIES = frozenset({"c1", "c3", "c4", "cc2", "cg1", "cr1", "d2", "f1", "g2", "g3", "g3s", "h1", "hi1", "hs1",
                           "i2", "i3", "m1", "m2", "m3", "m4", "p2", "p3", "r3", "r4", "t1", "t2", "x1", "x1e"})
# Nitro types that still boot Legacy BIOS only (AWS's list of UEFI exceptions).
_BIOS_ONLY_NITRO = re.compile(r"dl1|g4ad|p4[a-z]*|u-\d+tb1|vt1")


def current_boot_mode(image_boot_mode: str, instance_type: str) -> str:
    """The boot mode an instance actually starts in: Graviton always UEFI; an x86
    instance follows the AMI, and a uefi-preferred AMI gets UEFI only where the
    instance type supports it (Nitro, not bare metal or the listed exceptions)."""
    family, _, size = instance_type.partition(".")
    if architecture(instance_type) == "arm64":
        return "uefi"
    if image_boot_mode != "uefi-preferred":
        return image_boot_mode
    bios_only = family in _XEN_FAMILIES or size.startswith("metal") or _BIOS_ONLY_NITRO.fullmatch(family)
    return "legacy-bios" if bios_only else "uefi"


# Families without simultaneous multithreading (one thread per core): early Xen
# generations, and AMD's from the 7th generation on. Graviton has none either.
_ONE_THREAD = re.compile(r"t1|t2|m1|m2|c1|hpc\d*[a-z]*|[a-z]+[78]a[a-z]*")
_XLARGE = re.compile(r"(\d*)xlarge")


def cpu_options(instance_type: str) -> dict[str, int]:
    """The type's default cores and threads per core: vCPUs by size (large 2, xlarge 4,
    Nxlarge 4N; the small burstable sizes 1 on t1/t2/m1, 2 on later ones; medium 1
    outside the t families), divided over the threads each core runs."""
    family, _, size = instance_type.partition(".")
    threads = 1 if architecture(instance_type) == "arm64" or _ONE_THREAD.fullmatch(family) else 2
    xlarge = _XLARGE.fullmatch(size)
    if xlarge:
        # x86 HPC types turn SMT off and keep a core per former thread pair: 2 vCPUs per xlarge.
        vcpus = int(xlarge.group(1) or 1) * (2 if family.startswith("hpc") and threads == 1
                                              and architecture(instance_type) == "x86_64" else 4)
    elif size == "large":
        vcpus = 2
    elif size in ("nano", "micro", "small"):
        vcpus = 1 if family in ("t1", "t2", "m1") else 2
    elif size == "medium":
        vcpus = 2 if family.startswith("t") else 1
    else:  # bare metal: as many as the host has, which Skyhold does not know
        vcpus = threads
    threads = min(threads, vcpus)  # a single vCPU is a core of its own
    return {"CoreCount": vcpus // threads, "ThreadsPerCore": threads}


def state(name: str) -> dict[str, Any]:
    return {"Code": r.STATES[name], "Name": name}


def metadata_options(given: dict[str, Any], image: dict[str, Any] | None = None) -> dict[str, Any]:
    """Validated metadata options with AWS's defaults: images marked IMDSv2-only
    (ImdsSupport v2.0, as Amazon Linux 2023 is) launch with HttpTokens=required and a
    hop limit of 2; others with optional and 1."""
    v2_only = (image or {}).get("ImdsSupport") == "v2.0"
    options: dict[str, Any] = {"State": "applied",
                                "HttpTokens": given.get("HttpTokens") or ("required" if v2_only else "optional"),
                                "HttpPutResponseHopLimit": (given["HttpPutResponseHopLimit"]
                                                            if given.get("HttpPutResponseHopLimit") is not None
                                                            else 2 if v2_only else 1),
                                "HttpEndpoint": given.get("HttpEndpoint") or "enabled",
                                "HttpProtocolIpv6": given.get("HttpProtocolIpv6") or "disabled",
                                "InstanceMetadataTags": given.get("InstanceMetadataTags") or "disabled"}
    allowed = {"HttpTokens": ("optional", "required"), "HttpEndpoint": ("enabled", "disabled"),
               "HttpProtocolIpv6": ("enabled", "disabled"), "InstanceMetadataTags": ("enabled", "disabled")}
    for name, values in allowed.items():
        if options[name] not in values:
            raise AwsError("InvalidParameterValue", f"Value ({options[name]}) for parameter {name} is invalid. "
                           f"Valid values are: {', '.join(values)}.")
    hop = options["HttpPutResponseHopLimit"]
    if not 1 <= hop <= 64:
        raise AwsError("InvalidParameterValue", f"Value ({hop}) for parameter HttpPutResponseHopLimit is invalid. "
                       "Valid values are between 1 and 64.")
    return options


def view(instance: dict[str, Any]) -> dict[str, Any]:
    """The instance as DescribeInstances shows it."""
    image = r.IMAGES.get(instance["ImageId"], {})
    root = image.get("RootDeviceName", "/dev/xvda")
    groups = [{"GroupName": "default", "GroupId": gid} for gid in instance["SecurityGroupIds"]]
    launched = r.parse_time(instance["LaunchTime"])
    out: dict[str, Any] = {
        "InstanceId": instance["InstanceId"], "ImageId": instance["ImageId"], "State": state(instance["State"]),
        "PrivateDnsName": instance["PrivateDnsName"], "PublicDnsName": "",
        "StateTransitionReason": instance.get("StateTransitionReason", ""),
        "AmiLaunchIndex": instance["AmiLaunchIndex"], "ProductCodes": [], "InstanceType": instance["InstanceType"],
        "LaunchTime": launched,
        "Placement": {"AvailabilityZone": instance["AvailabilityZone"], "GroupName": "", "Tenancy": "default"},
        "Monitoring": {"State": "disabled"}, "SubnetId": instance["SubnetId"], "VpcId": instance["VpcId"],
        "PrivateIpAddress": instance["PrivateIpAddress"], "Architecture": image.get("Architecture", "x86_64"),
        "RootDeviceType": "ebs", "RootDeviceName": root,
        "BlockDeviceMappings": [] if instance["State"] == "terminated" else [{"DeviceName": root, "Ebs": {
            "AttachTime": r.parse_time(instance.get("LaunchedAt", instance["LaunchTime"])),
            "DeleteOnTermination": True, "Status": "attached", "VolumeId": instance["VolumeId"]}}],
        "ClientToken": instance.get("ClientToken") or "", "EbsOptimized": False, "EnaSupport": True,
        "Hypervisor": "xen", "SecurityGroups": groups, "SourceDestCheck": True, "VirtualizationType": "hvm",
        "CpuOptions": cpu_options(instance["InstanceType"]), "HibernationOptions": {"Configured": False},
        "MetadataOptions": instance["MetadataOptions"], "EnclaveOptions": {"Enabled": False},
        "PlatformDetails": image.get("PlatformDetails", "Linux/UNIX"), "UsageOperation": "RunInstances",
        "UsageOperationUpdateTime": launched, "BootMode": image.get("BootMode", "legacy-bios"),
        "CurrentInstanceBootMode": current_boot_mode(image.get("BootMode", "legacy-bios"), instance["InstanceType"]),
        "CapacityReservationSpecification": {"CapacityReservationPreference": "open"},
        "PrivateDnsNameOptions": {"HostnameType": "ip-name", "EnableResourceNameDnsARecord": False,
                                  "EnableResourceNameDnsAAAARecord": False},
        "MaintenanceOptions": {"AutoRecovery": "default"},
        "NetworkInterfaces": [] if instance["State"] == "terminated" else [{
            "Attachment": {"AttachTime": launched, "AttachmentId": "eni-attach-" + instance["NetworkInterfaceId"][4:],
                           "DeleteOnTermination": instance.get("InterfaceDeleteOnTermination", True),
                           "DeviceIndex": 0, "Status": "attached", "NetworkCardIndex": 0},
            "Description": instance.get("InterfaceDescription", ""), "Groups": groups, "Ipv6Addresses": [],
            "MacAddress": instance["MacAddress"],
            "NetworkInterfaceId": instance["NetworkInterfaceId"], "OwnerId": instance["Account"],
            "PrivateDnsName": instance["PrivateDnsName"], "PrivateIpAddress": instance["PrivateIpAddress"],
            "PrivateIpAddresses": [{"Primary": True, "PrivateDnsName": instance["PrivateDnsName"],
                                    "PrivateIpAddress": instance["PrivateIpAddress"]}],
            "SourceDestCheck": True, "Status": "in-use", "SubnetId": instance["SubnetId"],
            "VpcId": instance["VpcId"], "InterfaceType": "interface"}],
    }
    if instance.get("Tags"):
        out["Tags"] = instance["Tags"]
    if instance.get("StateReason"):
        out["StateReason"] = instance["StateReason"]
    if instance.get("KeyName"):
        out["KeyName"] = instance["KeyName"]
    association = instance.get("Association")
    if association:
        out["IamInstanceProfile"] = {"Arn": association["InstanceProfileArn"], "Id": association["InstanceProfileId"]}
    return out


def _user_data(text: str | None) -> str | None:
    if not text:
        return None
    try:
        raw = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise AwsError("InvalidParameterValue", "Invalid BASE64 encoding of user data.") from None
    if len(raw) > MAX_USER_DATA:
        raise AwsError("InvalidParameterValue", "User data is limited to 16384 bytes")
    return text


def _free_ip(call: Call, subnet: dict[str, Any], taken: set[str]) -> str:
    # AWS reserves the first four and the last address of every subnet.
    net = ipaddress.ip_network(subnet["CidrBlock"])
    while True:
        ip = str(net[4 + secrets.randbelow(net.num_addresses - 5)])
        if ip not in taken:
            taken.add(ip)
            return ip


def _tag_specs(params: dict[str, Any]) -> tuple[list[dict[str, str]], list[dict[str, str]]]:
    """The tags the launch gives its instances and their root volumes."""
    found: dict[str, dict[str, str]] = {"instance": {}, "volume": {}}
    for spec in params.get("TagSpecifications") or []:
        kind = spec.get("ResourceType")
        if kind not in ("instance", "volume", "network-interface"):
            raise AwsError("InvalidParameterValue", f"'{kind}' is not a valid taggable resource type for this "
                           "operation.")
        spec_tags = tags.check_spec(spec)  # network-interface tags are checked, not kept
        if kind in found:
            found[kind].update({t["Key"]: t.get("Value", "") for t in spec_tags})
    instance_tags, volume_tags = tags.as_list(found["instance"]), tags.as_list(found["volume"])
    tags.check_new(instance_tags)
    tags.check_new(volume_tags)
    return instance_tags, volume_tags


async def run_instances(call: Call, params: dict[str, Any]) -> dict[str, Any]:
    if not params.get("ImageId"):  # optional in the model (a launch template may name it)
        raise AwsError("MissingParameter", "The request must contain the parameter ImageId")
    image = catalog.image(params["ImageId"])
    low, high = params["MinCount"], params["MaxCount"]
    if low < 1 or high < 1:
        raise AwsError("InvalidParameterValue", f"Value ({min(low, high)}) for parameter "
                       f"{'minCount' if low < 1 else 'maxCount'} is invalid. Expecting a value greater than 0.")
    if low > high:
        raise AwsError("InvalidParameterValue", "MinCount must be less than or equal to MaxCount")
    existing = r.instances(call)
    room = RUNNING_QUOTA - sum(1 for i in existing if i["State"] in ("pending", "running"))
    if low > room:
        raise AwsError("InstanceLimitExceeded", f"Your quota allows for {max(room, 0)} more running instance(s). "
                       f"You requested at least {low}")
    high = min(high, room)  # as many as the quota allows, up to MaxCount
    instance_type = params.get("InstanceType") or "m1.small"
    if instance_type not in instance_types():
        raise AwsError("InvalidParameterValue", f"Invalid value '{instance_type}' for InstanceType.")
    arch, image_arch = architecture(instance_type), image.get("Architecture", "x86_64")
    if arch != image_arch:
        raise AwsError("InvalidParameterValue", f"The architecture '{arch}' of the specified instance type does not "
                       f"match the architecture '{image_arch}' of the specified AMI. Specify an instance type and an "
                       "AMI that have matching architectures, and try again. You can use 'describe-instance-types' "
                       "or 'describe-images' to discover the architecture of the instance type or AMI.")
    if params.get("KeyName") and call.store.get(
            r.KEY_PAIR, f"{call.principal.account}/{call.region}/{params['KeyName']}") is None:
        raise AwsError("InvalidKeyPair.NotFound", f"The key pair '{params['KeyName']}' does not exist")
    where = launch.target(call, params)
    subnet, groups = where.subnet, where.group_ids
    assert subnet is not None  # a strict target names a subnet that exists
    options = metadata_options(params.get("MetadataOptions") or {}, image)
    user_data = _user_data(params.get("UserData"))
    instance_tags, volume_tags = _tag_specs(params)
    profile = r.profile_by_ref(call, params["IamInstanceProfile"]) if params.get("IamInstanceProfile") else None
    vpc_id = network.network(call)["VpcId"]
    taken = {i["PrivateIpAddress"] for i in existing}
    now = clock.now_iso8601()
    reservation = r.new_id("r")
    launched = []
    for index in range(high):  # AWS launches as many as it can, up to MaxCount
        instance_id = r.new_id("i")
        ip = _free_ip(call, subnet, taken)
        instance = {
            "InstanceId": instance_id, "Account": call.principal.account, "Region": call.region,
            "ReservationId": reservation, "ImageId": params["ImageId"], "InstanceType": instance_type,
            "State": "running", "LaunchTime": now, "LaunchedAt": now, "AvailabilityZone": subnet["Zone"],
            "SubnetId": subnet["SubnetId"], "VpcId": vpc_id, "SecurityGroupIds": groups,
            "PrivateIpAddress": ip, "PrivateDnsName": r.private_dns(call.region, ip),
            "MacAddress": "0e:" + ":".join(f"{secrets.randbelow(256):02x}" for _ in range(5)),
            "NetworkInterfaceId": r.new_id("eni"), "VolumeId": r.new_id("vol"),
            "InterfaceDescription": where.interface.get("Description") or "",
            "InterfaceDeleteOnTermination": where.interface.get("DeleteOnTermination") is not False,
            "KeyName": params.get("KeyName"), "MetadataOptions": options, "UserData": user_data,
            "Tags": instance_tags, "VolumeTags": volume_tags, "AmiLaunchIndex": index, "ClientToken": params.get("ClientToken"),
            "Association": associations.new(profile) if profile else None, "ImdsPort": 0,
        }
        call.store.put(r.INSTANCE, instance_id, instance, expect_version=0)
        await metadata.start(call.pipeline, instance_id)
        launched.append(instance)
    # A reservation's groupSet is EC2-Classic's and stays empty in a VPC, as in DescribeInstances.
    return {"ReservationId": reservation, "OwnerId": call.principal.account, "Groups": [],
            "Instances": [_launching(view(i)) for i in launched]}


def _launching(shown: dict[str, Any]) -> dict[str, Any]:
    """An instance as RunInstances answers, while AWS is still setting it up: pending
    (StateReason "pending"), its root volume not yet attached (no block device
    mappings), its network interface attaching and its metadata options pending."""
    for interface in shown["NetworkInterfaces"]:
        interface["Attachment"]["Status"] = "attaching"
    return {**shown, "State": state("pending"), "StateReason": {"Code": "pending", "Message": "pending"},
            "BlockDeviceMappings": [], "MetadataOptions": {**shown["MetadataOptions"], "State": "pending"}}


_FIELDS: filters.Fields = {
    "instance-id": lambda i: [i["InstanceId"]],
    "instance-state-name": lambda i: [i["State"]],
    "instance-state-code": lambda i: [r.STATES[i["State"]]],
    "image-id": lambda i: [i["ImageId"]],
    "instance-type": lambda i: [i["InstanceType"]],
    "iam-instance-profile.arn": lambda i: [(i.get("Association") or {}).get("InstanceProfileArn")],
    "iam-instance-profile.id": lambda i: [(i.get("Association") or {}).get("InstanceProfileId")],
    "vpc-id": lambda i: [i["VpcId"]],
    "subnet-id": lambda i: [i["SubnetId"]],
    "availability-zone": lambda i: [i["AvailabilityZone"]],
    "private-ip-address": lambda i: [i["PrivateIpAddress"]],
    "private-dns-name": lambda i: [i["PrivateDnsName"]],
    "key-name": lambda i: [i.get("KeyName")],
    "reservation-id": lambda i: [i["ReservationId"]],
    "owner-id": lambda i: [i["Account"]],
    "ami-launch-index": lambda i: [i["AmiLaunchIndex"]],
    "instance.group-id": lambda i: i["SecurityGroupIds"],
    "instance.group-name": lambda i: ["default"],
    "network-interface.network-interface-id": lambda i: [i["NetworkInterfaceId"]],
    "launch-time": lambda i: [i["LaunchTime"]],
    "architecture": lambda i: [r.IMAGES.get(i["ImageId"], {}).get("Architecture", "x86_64")],
    "availability-zone-id": lambda i: [r.zone_id(i["Region"], i["AvailabilityZone"][-1])],
    "root-device-type": lambda i: ["ebs"], "tenancy": lambda i: ["default"],
    "root-device-name": lambda i: [r.IMAGES.get(i["ImageId"], {}).get("RootDeviceName")],
    # On-demand, Linux, no public address: what these name is never there, so nothing matches.
    "instance-lifecycle": lambda i: [], "platform": lambda i: [], "ip-address": lambda i: [], "dns-name": lambda i: [],
    "metadata-options.http-tokens": lambda i: [i["MetadataOptions"]["HttpTokens"]],
    "metadata-options.http-endpoint": lambda i: [i["MetadataOptions"]["HttpEndpoint"]],
    "metadata-options.http-put-response-hop-limit": lambda i: [i["MetadataOptions"]["HttpPutResponseHopLimit"]],
    "metadata-options.instance-metadata-tags": lambda i: [i["MetadataOptions"]["InstanceMetadataTags"]],
}


def _not_found(ids: list[str]) -> AwsError:
    if len(ids) == 1:
        return AwsError("InvalidInstanceID.NotFound", f"The instance ID '{ids[0]}' does not exist")
    return AwsError("InvalidInstanceID.NotFound", f"The instance IDs '{', '.join(ids)}' do not exist")


def _named(call: Call, ids: list[str]) -> list[tuple[dict[str, Any], int]]:
    """The named instances, or InvalidInstanceID.NotFound naming every missing one."""
    found, missing = [], []
    for instance_id in dict.fromkeys(ids):
        try:
            found.append(r.find(call, instance_id))
        except AwsError as e:
            if e.code != "InvalidInstanceID.NotFound":
                raise
            missing.append(instance_id)
    if missing:
        raise _not_found(missing)
    return found


def describe_instances(call: Call, params: dict[str, Any]) -> dict[str, Any]:
    ids, limit = params.get("InstanceIds"), params.get("MaxResults")
    if ids and limit is not None:
        raise AwsError("InvalidParameterCombination", "The parameter instancesSet cannot be used with the parameter "
                       "maxResults")
    pages.check_limit(limit)
    if ids:
        chosen = sorted((i for i, _ in _named(call, ids)),
                        key=lambda i: (i.get("LaunchedAt", i["LaunchTime"]), i["AmiLaunchIndex"], i["InstanceId"]))
    else:
        chosen = r.instances(call)
    found = filters.select(chosen, params.get("Filters"), _FIELDS)
    # A token names the last instance of the previous page (in launch order).
    page, token = pages.page(found, params, lambda i: i["InstanceId"])
    reservations: dict[str, list[dict[str, Any]]] = {}
    for instance in page:
        reservations.setdefault(instance["ReservationId"], []).append(instance)
    out: dict[str, Any] = {"Reservations": [
        {"ReservationId": rid, "OwnerId": call.principal.account, "Groups": [],
         "Instances": [view(i) for i in items]} for rid, items in reservations.items()]}
    if token is not None:
        out["NextToken"] = token
    return out


# operation → (from which states, final state, state shown in the response, verb in errors)
_TRANSITIONS = {
    "start": (("stopped",), "running", "pending", "started"),
    "stop": (("pending", "running"), "stopped", "stopping", "stopped"),
    "terminate": (("pending", "running", "stopping", "stopped"), "terminated", "shutting-down", "terminated"),
}


async def _transition(call: Call, params: dict[str, Any], kind: str, key: str) -> dict[str, Any]:
    allowed, final, shown, verb = _TRANSITIONS[kind]
    named = _named(call, params["InstanceIds"])
    for instance, _ in named:  # every instance is checked before any changes (AWS fails the whole call)
        if instance["State"] != final and instance["State"] not in allowed:
            raise AwsError("IncorrectInstanceState", f"The instance '{instance['InstanceId']}' is not in a state "
                           f"from which it can be {verb}.")
    changes = []
    now = clock.now()
    for instance, version in named:
        before = instance["State"]
        if before == final:  # already there: AWS reports no change
            changes.append({"InstanceId": instance["InstanceId"], "CurrentState": state(before),
                            "PreviousState": state(before)})
            continue
        instance["State"] = final
        if final == "running":
            instance.update(LaunchTime=clock.iso8601(now), StateTransitionReason="", StateReason=None)
        else:
            instance.update(StateTransitionReason=f"User initiated ({now.strftime('%Y-%m-%d %H:%M:%S')} GMT)",
                            StateReason={"Code": "Client.UserInitiatedShutdown",
                                         "Message": "Client.UserInitiatedShutdown: User initiated shutdown"})
        if final == "terminated":
            instance.update(TerminatedAt=clock.iso8601(now), Association=None)
        r.save(call, instance, version)
        if final == "running":
            await metadata.start(call.pipeline, instance["InstanceId"])
        else:
            await metadata.stop(call.pipeline, instance["InstanceId"])
        changes.append({"InstanceId": instance["InstanceId"], "CurrentState": state(shown),
                        "PreviousState": state(before)})
    return {key: changes}


async def start_instances(call: Call, params: dict[str, Any]) -> dict[str, Any]:
    return await _transition(call, params, "start", "StartingInstances")


async def stop_instances(call: Call, params: dict[str, Any]) -> dict[str, Any]:
    return await _transition(call, params, "stop", "StoppingInstances")


async def terminate_instances(call: Call, params: dict[str, Any]) -> dict[str, Any]:
    return await _transition(call, params, "terminate", "TerminatingInstances")


def reboot_instances(call: Call, params: dict[str, Any]) -> dict[str, Any]:
    for instance, _ in _named(call, params["InstanceIds"]):
        if instance["State"] == "terminated":
            raise AwsError("IncorrectInstanceState", f"The instance '{instance['InstanceId']}' is not in a state "
                           "from which it can be rebooted.")
    return {}


def modify_instance_metadata_options(call: Call, params: dict[str, Any]) -> dict[str, Any]:
    instance, version = r.find(call, params["InstanceId"])
    if instance["State"] == "terminated":
        raise AwsError("IncorrectInstanceState", f"The instance '{instance['InstanceId']}' is not in a state from "
                       "which it can be modified.")
    names = ("HttpTokens", "HttpPutResponseHopLimit", "HttpEndpoint", "HttpProtocolIpv6", "InstanceMetadataTags")
    changes = {k: params[k] for k in names if params.get(k) is not None}
    instance["MetadataOptions"] = metadata_options({**instance["MetadataOptions"], **changes})
    r.save(call, instance, version)
    # The change reaches the instance a moment later on AWS: the response says pending.
    return {"InstanceId": instance["InstanceId"],
            "InstanceMetadataOptions": {**instance["MetadataOptions"], "State": "pending"}}


HANDLERS = {
    "RunInstances": run_instances,
    "DescribeInstances": describe_instances,
    "StartInstances": start_instances,
    "StopInstances": stop_instances,
    "TerminateInstances": terminate_instances,
    "RebootInstances": reboot_instances,
    "ModifyInstanceMetadataOptions": modify_instance_metadata_options,
}
