"""What infrastructure tools read back about an instance beyond DescribeInstances (as
Terraform's aws_instance does on every refresh): its type's facts
(DescribeInstanceTypes), its single attributes (DescribeInstanceAttribute), its CPU
credit option (DescribeInstanceCreditSpecifications) and its root volume (DescribeVolumes)."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from skyhold.errors import AwsError
from skyhold.services.ec2 import filters, instances, pages
from skyhold.services.ec2 import records as r

if TYPE_CHECKING:
    from skyhold.pipeline import Call

# The burstable families (CPU credits); T2 launches "standard", the later ones "unlimited".
_BURSTABLE = re.compile(r"t2|t3a?|t4g")
# Previous-generation families, as AWS's instance type pages list them.
_PREVIOUS = re.compile(r"t1|m1|m2|m3|c1|c3|cc2|cg1|cr1|g2|hi1|hs1|i2|r3")


def instance_type_info(name: str) -> dict[str, Any]:
    """The facts about a type that Skyhold derives from its name (its memory, network
    and storage figures are AWS's catalogue, which Skyhold does not carry)."""
    family, _, size = name.partition(".")
    cpu = instances.cpu_options(name)
    arch = instances.architecture(name)
    nitro = family not in instances._XEN_FAMILIES
    bare = size.startswith("metal")
    return {
        "InstanceType": name, "CurrentGeneration": not _PREVIOUS.fullmatch(family),
        "FreeTierEligible": name in ("t2.micro", "t3.micro"), "SupportedUsageClasses": ["on-demand", "spot"],
        "SupportedRootDeviceTypes": ["ebs"], "SupportedVirtualizationTypes": ["hvm"], "BareMetal": bare,
        **({} if bare else {"Hypervisor": "nitro" if nitro else "xen"}),
        "ProcessorInfo": {"SupportedArchitectures": [arch]},
        "VCpuInfo": {"DefaultVCpus": cpu["CoreCount"] * cpu["ThreadsPerCore"], "DefaultCores": cpu["CoreCount"],
                     "DefaultThreadsPerCore": cpu["ThreadsPerCore"]},
        "InstanceStorageSupported": False, "HibernationSupported": False,
        "BurstablePerformanceSupported": bool(_BURSTABLE.fullmatch(family)),
        "DedicatedHostsSupported": not _BURSTABLE.fullmatch(family), "AutoRecoverySupported": True,
        "SupportedBootModes": ["uefi"] if arch == "arm64" else ["legacy-bios", "uefi"] if nitro else ["legacy-bios"],
    }


_TYPE_FIELDS: filters.Fields = {
    "instance-type": lambda t: [t["InstanceType"]], "current-generation": lambda t: [t["CurrentGeneration"]],
    "free-tier-eligible": lambda t: [t["FreeTierEligible"]], "bare-metal": lambda t: [t["BareMetal"]],
    "hypervisor": lambda t: [t.get("Hypervisor")],
    "processor-info.supported-architecture": lambda t: t["ProcessorInfo"]["SupportedArchitectures"],
    "vcpu-info.default-vcpus": lambda t: [t["VCpuInfo"]["DefaultVCpus"]],
    "burstable-performance-supported": lambda t: [t["BurstablePerformanceSupported"]],
}


def describe_instance_types(call: Call, params: dict[str, Any]) -> dict[str, Any]:
    wanted = params.get("InstanceTypes")
    known = instances.instance_types()
    missing = [t for t in wanted or [] if t not in known]
    if missing:
        raise AwsError("InvalidInstanceType",
                       f"The following supplied instance types do not exist: [{', '.join(missing)}]")
    names = sorted(dict.fromkeys(wanted) if wanted else known)
    found = filters.select([instance_type_info(n) for n in names], params.get("Filters"), _TYPE_FIELDS)
    page, token = pages.page(found, params, lambda t: t["InstanceType"])
    return {"InstanceTypes": page, **({"NextToken": token} if token else {})}


def _live(call: Call, instance_id: str) -> dict[str, Any]:
    instance, _ = r.find(call, instance_id)
    return instance


def _value(value: Any) -> dict[str, Any]:
    return {"Value": value}


def _attribute(instance: dict[str, Any], attribute: str) -> dict[str, Any]:
    """One attribute as DescribeInstanceAttribute answers it (its response member)."""
    shown = instances.view(instance)
    if attribute == "userData":  # none given: an empty element
        return {"UserData": _value(instance["UserData"]) if instance.get("UserData") else {}}
    if attribute in ("kernel", "ramdisk"):  # HVM images have neither: an empty element
        return {"KernelId" if attribute == "kernel" else "RamdiskId": {}}
    simple = {
        "instanceType": ("InstanceType", _value(instance["InstanceType"])),
        "disableApiTermination": ("DisableApiTermination", _value(False)),
        "disableApiStop": ("DisableApiStop", _value(False)),
        "instanceInitiatedShutdownBehavior": ("InstanceInitiatedShutdownBehavior", _value("stop")),
        "rootDeviceName": ("RootDeviceName", _value(shown["RootDeviceName"])),
        "blockDeviceMapping": ("BlockDeviceMappings", shown["BlockDeviceMappings"]),
        "productCodes": ("ProductCodes", []),
        "sourceDestCheck": ("SourceDestCheck", _value(True)),
        "groupSet": ("Groups", [{"GroupId": g["GroupId"]} for g in shown["SecurityGroups"]]),
        "ebsOptimized": ("EbsOptimized", _value(False)),
        "sriovNetSupport": ("SriovNetSupport", {}),
        "enaSupport": ("EnaSupport", _value(True)),
        "enclaveOptions": ("EnclaveOptions", {"Enabled": False}),
    }
    if attribute not in simple:
        raise AwsError("InvalidParameterValue", f"Value ({attribute}) for parameter attribute is invalid. "
                       "Unknown attribute.")
    member, value = simple[attribute]
    return {member: value}


def describe_instance_attribute(call: Call, params: dict[str, Any]) -> dict[str, Any]:
    instance = _live(call, params["InstanceId"])
    return {"InstanceId": instance["InstanceId"], **_attribute(instance, params["Attribute"])}


def describe_instance_credit_specifications(call: Call, params: dict[str, Any]) -> dict[str, Any]:
    ids = params.get("InstanceIds")
    chosen = [_live(call, i) for i in dict.fromkeys(ids)] if ids else r.instances(call)
    found = []
    for instance in chosen:
        family = instance["InstanceType"].split(".", 1)[0]
        if not _BURSTABLE.fullmatch(family) or instance["State"] == "terminated":
            continue  # only burstable instances have a credit option
        credits = "standard" if family == "t2" else "unlimited"
        found.append({"InstanceId": instance["InstanceId"], "CpuCredits": credits})
    return {"InstanceCreditSpecifications": found}


def _volume(instance: dict[str, Any]) -> dict[str, Any]:
    """An instance's root volume: the image's root snapshot as 8 GiB of gp3 (3000 IOPS
    and 125 MiB/s, gp3's baseline), attached while the instance lives."""
    shown = instances.view(instance)
    return {"VolumeId": instance["VolumeId"], "Size": 8, "VolumeType": "gp3", "Iops": 3000, "Throughput": 125,
            "Encrypted": False, "SnapshotId": "snap-" + instance["ImageId"][4:],
            "AvailabilityZone": instance["AvailabilityZone"], "CreateTime": r.parse_time(instance.get("LaunchedAt", instance["LaunchTime"])),
            "State": "in-use", "MultiAttachEnabled": False,
            "Attachments": [{"AttachTime": r.parse_time(instance.get("LaunchedAt", instance["LaunchTime"])), "Device": shown["RootDeviceName"],
                             "InstanceId": instance["InstanceId"], "State": "attached", "VolumeId": instance["VolumeId"],
                             "DeleteOnTermination": True}],
            **({"Tags": instance["VolumeTags"]} if instance.get("VolumeTags") else {})}


_VOLUME_FIELDS: filters.Fields = {
    "volume-id": lambda v: [v["VolumeId"]], "attachment.instance-id": lambda v: [v["Attachments"][0]["InstanceId"]],
    "attachment.device": lambda v: [v["Attachments"][0]["Device"]], "volume-type": lambda v: [v["VolumeType"]],
    "availability-zone": lambda v: [v["AvailabilityZone"]], "status": lambda v: [v["State"]],
    "encrypted": lambda v: [v["Encrypted"]], "size": lambda v: [v["Size"]],
}


def describe_volumes(call: Call, params: dict[str, Any]) -> dict[str, Any]:
    volumes = {i["VolumeId"]: _volume(i) for i in r.instances(call) if i["State"] != "terminated"}
    ids = params.get("VolumeIds")
    missing = [v for v in ids or [] if v not in volumes]
    if missing:
        raise AwsError("InvalidVolume.NotFound", f"The volume '{missing[0]}' does not exist.")
    chosen = [volumes[v] for v in dict.fromkeys(ids)] if ids else list(volumes.values())
    found = filters.select(chosen, params.get("Filters"), _VOLUME_FIELDS)
    page, token = pages.page(found, params, lambda v: v["VolumeId"])
    return {"Volumes": page, **({"NextToken": token} if token else {})}


HANDLERS = {
    "DescribeInstanceTypes": describe_instance_types,
    "DescribeInstanceAttribute": describe_instance_attribute,
    "DescribeInstanceCreditSpecifications": describe_instance_credit_specifications,
    "DescribeVolumes": describe_volumes,
}
