"""EC2 instances: launch, describe, start/stop/terminate, metadata options, and the
instance profile associations that hand an instance its role."""

from __future__ import annotations

import secrets
from typing import TYPE_CHECKING, Any

from skyhold import clock
from skyhold.authz import Access
from skyhold.errors import AwsError
from skyhold.services.ec2 import metadata
from skyhold.services.ec2 import records as r
from skyhold.services.iam import pass_role

if TYPE_CHECKING:
    from skyhold.pipeline import Call

DEFAULT_VPC = "vpc-0d3fa017c0ffee001"
SUBNETS = {"a": "subnet-0d3fa017c0ffee0a1", "b": "subnet-0d3fa017c0ffee0b1", "c": "subnet-0d3fa017c0ffee0c1"}


def _state(name: str) -> dict[str, Any]:
    return {"Code": r.STATES[name], "Name": name}


def _options(given: dict[str, Any] | None, image: dict[str, Any] | None = None) -> dict[str, Any]:
    """Metadata options; HttpTokens defaults to required for images marked IMDSv2-only
    (ImdsSupport v2.0, as Amazon Linux 2023 is), else optional — AWS's rule."""
    given = dict(given or {})
    if "HttpTokens" not in given:
        given["HttpTokens"] = "required" if (image or {}).get("ImdsSupport") == "v2.0" else "optional"
    hop = given.get("HttpPutResponseHopLimit", 2)
    if not 1 <= hop <= 64:
        raise AwsError("InvalidParameterValue", f"The HttpPutResponseHopLimit value {hop} is out of range. "
                       "Specify a value between 1 and 64.")
    return {"State": "applied", "HttpTokens": given.get("HttpTokens", "required"), "HttpPutResponseHopLimit": hop,
            "HttpEndpoint": given.get("HttpEndpoint", "enabled"), "HttpProtocolIpv6": "disabled",
            "InstanceMetadataTags": given.get("InstanceMetadataTags", "disabled")}


def view(instance: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {
        "InstanceId": instance["InstanceId"], "ImageId": instance["ImageId"], "State": _state(instance["State"]),
        "PrivateDnsName": instance["PrivateDnsName"], "PrivateIpAddress": instance["PrivateIpAddress"],
        "InstanceType": instance["InstanceType"], "LaunchTime": clock_parse(instance["LaunchTime"]),
        "Placement": {"AvailabilityZone": instance["AvailabilityZone"], "Tenancy": "default"},
        "SubnetId": instance["SubnetId"], "VpcId": instance["VpcId"], "Architecture": "x86_64",
        "MetadataOptions": instance["MetadataOptions"], "Tags": instance.get("Tags") or [],
        "AmiLaunchIndex": instance.get("AmiLaunchIndex", 0),
        "SecurityGroups": [{"GroupName": "default", "GroupId": instance["SecurityGroupId"]}],
    }
    if instance.get("KeyName"):
        out["KeyName"] = instance["KeyName"]
    association = instance.get("Association")
    if association and association["State"] == "associated":
        out["IamInstanceProfile"] = {"Arn": association["InstanceProfileArn"], "Id": association["InstanceProfileId"]}
    return out


def clock_parse(text: str) -> Any:
    from datetime import datetime

    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def _association(profile: dict[str, Any]) -> dict[str, Any]:
    return {"AssociationId": r.new_id("iip-assoc"), "InstanceProfileArn": profile["Arn"],
            "InstanceProfileId": profile["InstanceProfileId"], "State": "associated"}


async def run_instances(call: Call, params: dict[str, Any]) -> dict[str, Any]:
    image = params.get("ImageId")
    if image not in r.IMAGES:
        raise AwsError("InvalidAMIID.NotFound", f"The image id '[{image}]' does not exist")
    count = params.get("MinCount", 1)
    if count < 1 or params.get("MaxCount", count) < count:
        raise AwsError("InvalidParameterValue", "MinCount must be at least 1 and at most MaxCount")
    profile = r.profile_by_ref(call, params["IamInstanceProfile"]) if params.get("IamInstanceProfile") else None
    tags = [t for spec in params.get("TagSpecifications") or [] if spec.get("ResourceType") == "instance"
            for t in spec.get("Tags") or []]
    reservation = r.new_id("r")
    instances = []
    for index in range(count):
        instance_id = r.new_id("i")
        az = call.region + "a"
        ip = f"172.31.{secrets.randbelow(250) + 2}.{secrets.randbelow(250) + 2}"
        instance = {
            "InstanceId": instance_id, "Account": call.principal.account, "Region": call.region,
            "ReservationId": reservation, "ImageId": image, "InstanceType": params.get("InstanceType") or "m1.small",
            "State": "running", "LaunchTime": clock.iso8601(clock.now()), "AvailabilityZone": az,
            "SubnetId": params.get("SubnetId") or SUBNETS["a"], "VpcId": DEFAULT_VPC,
            "SecurityGroupId": (params.get("SecurityGroupIds") or ["sg-0d3fa017c0ffee001"])[0],
            "PrivateIpAddress": ip, "PrivateDnsName": f"ip-{ip.replace('.', '-')}.ec2.internal",
            "MacAddress": "0e:" + ":".join(f"{secrets.randbelow(256):02x}" for _ in range(5)),
            "KeyName": params.get("KeyName"), "MetadataOptions": _options(params.get("MetadataOptions"), r.IMAGES[image]),
            "UserData": params.get("UserData") or None, "Tags": tags, "AmiLaunchIndex": index,
            "Association": _association(profile) if profile else None, "ImdsPort": 0,
        }
        call.store.put(r.INSTANCE, instance_id, instance, expect_version=0)
        await metadata.start(call.pipeline, instance_id)
        instances.append(r.find(call, instance_id)[0])
    pending = [{**view(i), "State": _state("pending")} for i in instances]
    return {"ReservationId": reservation, "OwnerId": call.principal.account, "Groups": [], "Instances": pending}


def _matches(instance: dict[str, Any], filters: list[dict[str, Any]]) -> bool:
    for f in filters:
        name, values = f["Name"], f.get("Values") or []
        if name == "instance-state-name":
            got = [instance["State"]]
        elif name == "instance-id":
            got = [instance["InstanceId"]]
        elif name == "image-id":
            got = [instance["ImageId"]]
        elif name == "instance-type":
            got = [instance["InstanceType"]]
        elif name.startswith("tag:"):
            got = [t["Value"] for t in instance.get("Tags") or [] if t["Key"] == name[4:]]
        elif name == "tag-key":
            got = [t["Key"] for t in instance.get("Tags") or []]
        elif name == "iam-instance-profile.arn":
            got = [(instance.get("Association") or {}).get("InstanceProfileArn")]
        else:
            raise AwsError("InvalidParameterValue", f"The filter '{name}' is invalid")
        if not set(got) & set(values):
            return False
    return True


def describe_instances(call: Call, params: dict[str, Any]) -> dict[str, Any]:
    if params.get("InstanceIds") and params.get("MaxResults"):
        raise AwsError("InvalidParameterCombination", "The parameter instancesSet cannot be used with the parameter "
                       "maxResults")
    ids = params.get("InstanceIds") or []
    found = [r.find(call, i)[0] for i in ids] if ids else [
        rec.value for rec in call.store.scan(r.INSTANCE)
        if rec.value["Account"] == call.principal.account and rec.value["Region"] == call.region]
    found = [i for i in found if _matches(i, params.get("Filters") or [])]
    found.sort(key=lambda i: (i["LaunchTime"], i["InstanceId"]))
    start = 0
    if params.get("NextToken"):
        # The token names the last instance of the previous page (in launch order).
        start = next((n + 1 for n, i in enumerate(found) if i["InstanceId"] == params["NextToken"]), None)
        if start is None:
            raise AwsError("InvalidParameterValue", f"Invalid value '{params['NextToken']}' for nextToken")
    limit = params.get("MaxResults") or len(found) or 1
    if params.get("MaxResults") is not None and not 5 <= limit <= 1000:
        raise AwsError("InvalidParameterValue", f"Value ( {limit} ) for parameter maxResults is invalid. Expecting a "
                       "value greater than 5.")
    page = found[start:start + limit]
    reservations: dict[str, list[dict[str, Any]]] = {}
    for instance in page:
        reservations.setdefault(instance["ReservationId"], []).append(view(instance))
    out: dict[str, Any] = {"Reservations": [{"ReservationId": rid, "OwnerId": call.principal.account, "Groups": [],
                                             "Instances": items} for rid, items in reservations.items()]}
    if start + limit < len(found):
        out["NextToken"] = page[-1]["InstanceId"]
    return out


async def _transition(call: Call, params: dict[str, Any], key: str, allowed: tuple[str, ...], to: str,
                      shown: str) -> dict[str, Any]:
    changes = []
    for instance_id in params["InstanceIds"]:
        instance, version = r.find(call, instance_id)
        before = instance["State"]
        if before == to or (to != "terminated" and before == "terminated"):
            if before == "terminated" and to != "terminated":
                raise AwsError("IncorrectInstanceState", f"The instance '{instance_id}' is not in a state from which "
                               f"it can be {'started' if to == 'running' else 'stopped'}.")
            changes.append({"InstanceId": instance_id, "CurrentState": _state(before), "PreviousState": _state(before)})
            continue
        if before not in allowed:
            raise AwsError("IncorrectInstanceState", f"The instance '{instance_id}' is not in a state from which it "
                           f"can be {'started' if to == 'running' else 'stopped'}.")
        instance["State"] = to
        if to == "terminated":
            instance["Association"] = None
        r.save(call, instance, version)
        if to == "running":
            await metadata.start(call.pipeline, instance_id)
        else:
            await metadata.stop(call.pipeline, instance_id)
        changes.append({"InstanceId": instance_id, "CurrentState": _state(shown), "PreviousState": _state(before)})
    return {key: changes}


async def start_instances(call: Call, params: dict[str, Any]) -> dict[str, Any]:
    return await _transition(call, params, "StartingInstances", ("stopped",), "running", "pending")


async def stop_instances(call: Call, params: dict[str, Any]) -> dict[str, Any]:
    return await _transition(call, params, "StoppingInstances", ("running", "pending"), "stopped", "stopping")


async def terminate_instances(call: Call, params: dict[str, Any]) -> dict[str, Any]:
    return await _transition(call, params, "TerminatingInstances", ("running", "stopped", "pending", "stopping"),
                             "terminated", "shutting-down")


def reboot_instances(call: Call, params: dict[str, Any]) -> dict[str, Any]:
    for instance_id in params["InstanceIds"]:
        instance, _ = r.find(call, instance_id)
        if instance["State"] == "terminated":
            raise AwsError("IncorrectInstanceState", f"The instance '{instance_id}' is not in a state from which it "
                           "can be rebooted.")
    return {}


def modify_instance_metadata_options(call: Call, params: dict[str, Any]) -> dict[str, Any]:
    instance, version = r.find(call, params["InstanceId"])
    current = instance["MetadataOptions"]
    changes = {k: params[k] for k in ("HttpTokens", "HttpPutResponseHopLimit", "HttpEndpoint", "InstanceMetadataTags")
               if params.get(k) is not None}
    instance["MetadataOptions"] = _options({**current, **changes})
    r.save(call, instance, version)
    return {"InstanceId": instance["InstanceId"], "InstanceMetadataOptions": instance["MetadataOptions"]}


def _association_view(instance: dict[str, Any]) -> dict[str, Any]:
    a = instance["Association"]
    return {"AssociationId": a["AssociationId"], "InstanceId": instance["InstanceId"],
            "IamInstanceProfile": {"Arn": a["InstanceProfileArn"], "Id": a["InstanceProfileId"]},
            "State": a["State"]}


def associate_iam_instance_profile(call: Call, params: dict[str, Any]) -> dict[str, Any]:
    instance, version = r.find(call, params["InstanceId"])
    if instance.get("Association"):
        raise AwsError("IncorrectState", f"There is an existing association for instance {instance['InstanceId']}")
    instance["Association"] = _association(r.profile_by_ref(call, params["IamInstanceProfile"]))
    r.save(call, instance, version)
    return {"IamInstanceProfileAssociation": {**_association_view(instance), "State": "associating"}}


def _by_association(call: Call, association_id: str) -> tuple[dict[str, Any], int]:
    for rec in call.store.scan(r.INSTANCE):
        a = rec.value.get("Association")
        if a and a["AssociationId"] == association_id and rec.value["Account"] == call.principal.account:
            return rec.value, rec.version
    raise AwsError("InvalidAssociationID.NotFound", f"An association with ID {association_id} does not exist.")


def replace_iam_instance_profile_association(call: Call, params: dict[str, Any]) -> dict[str, Any]:
    instance, version = _by_association(call, params["AssociationId"])
    instance["Association"] = _association(r.profile_by_ref(call, params["IamInstanceProfile"]))
    r.save(call, instance, version)
    return {"IamInstanceProfileAssociation": _association_view(instance)}


def disassociate_iam_instance_profile(call: Call, params: dict[str, Any]) -> dict[str, Any]:
    instance, version = _by_association(call, params["AssociationId"])
    out = {**_association_view(instance), "State": "disassociating"}
    instance["Association"] = None
    r.save(call, instance, version)
    return {"IamInstanceProfileAssociation": out}


def describe_iam_instance_profile_associations(call: Call, params: dict[str, Any]) -> dict[str, Any]:
    out = []
    for rec in call.store.scan(r.INSTANCE):
        instance = rec.value
        if instance["Account"] != call.principal.account or not instance.get("Association"):
            continue
        if params.get("AssociationIds") and instance["Association"]["AssociationId"] not in params["AssociationIds"]:
            continue
        view_ = _association_view(instance)
        if all(f["Name"] != "instance-id" or instance["InstanceId"] in f.get("Values", [])
               for f in params.get("Filters") or []):
            out.append(view_)
    return {"IamInstanceProfileAssociations": out}


def describe_images(call: Call, params: dict[str, Any]) -> dict[str, Any]:
    wanted = params.get("ImageIds") or list(r.IMAGES)
    missing = [i for i in wanted if i not in r.IMAGES]
    if missing:
        raise AwsError("InvalidAMIID.NotFound", f"The image id '[{missing[0]}]' does not exist")
    return {"Images": [{"ImageId": i, **r.IMAGES[i], "State": "available", "ImageType": "machine",
                        "Public": True, "OwnerId": "137112412989", "RootDeviceType": "ebs",
                        "VirtualizationType": "hvm"} for i in wanted]}


def describe_regions(call: Call, params: dict[str, Any]) -> dict[str, Any]:
    from skyhold.regions import REGIONS

    return {"Regions": [{"RegionName": name, "Endpoint": f"ec2.{name}.amazonaws.com",
                         "OptInStatus": "opt-in-not-required"} for name in sorted(REGIONS)]}


def describe_availability_zones(call: Call, params: dict[str, Any]) -> dict[str, Any]:
    return {"AvailabilityZones": [{"ZoneName": call.region + s, "State": "available", "RegionName": call.region,
                                   "ZoneId": f"use1-az{i + 1}", "ZoneType": "availability-zone"}
                                  for i, s in enumerate(SUBNETS)]}


HANDLERS = {
    "RunInstances": run_instances,
    "DescribeInstances": describe_instances,
    "StartInstances": start_instances,
    "StopInstances": stop_instances,
    "TerminateInstances": terminate_instances,
    "RebootInstances": reboot_instances,
    "ModifyInstanceMetadataOptions": modify_instance_metadata_options,
    "AssociateIamInstanceProfile": associate_iam_instance_profile,
    "ReplaceIamInstanceProfileAssociation": replace_iam_instance_profile_association,
    "DisassociateIamInstanceProfile": disassociate_iam_instance_profile,
    "DescribeIamInstanceProfileAssociations": describe_iam_instance_profile_associations,
    "DescribeImages": describe_images,
    "DescribeRegions": describe_regions,
    "DescribeAvailabilityZones": describe_availability_zones,
}


def _passes_role(action: str) -> Any:
    """Handing an instance a profile needs iam:PassRole on its role, as on AWS."""

    def authz(call: Call, params: dict[str, Any]) -> list[Access]:
        checks = [Access(action, "*")]
        if params.get("IamInstanceProfile"):
            profile = r.profile_by_ref(call, params["IamInstanceProfile"])
            role = r.role_of_profile(call, profile)
            if role is not None:
                checks.append(pass_role(role["Arn"], "ec2.amazonaws.com"))
        return checks

    return authz


def _on_instance(action: str) -> Any:
    def authz(call: Call, params: dict[str, Any]) -> list[Access]:
        ids = params.get("InstanceIds") or [params["InstanceId"]]
        return [Access(action, r.instance_arn(call.region, call.principal.account, i)) for i in ids]

    return authz


AUTHZ = {
    "RunInstances": _passes_role("ec2:RunInstances"),
    "AssociateIamInstanceProfile": _passes_role("ec2:AssociateIamInstanceProfile"),
    "ReplaceIamInstanceProfileAssociation": _passes_role("ec2:ReplaceIamInstanceProfileAssociation"),
    "StartInstances": _on_instance("ec2:StartInstances"),
    "StopInstances": _on_instance("ec2:StopInstances"),
    "TerminateInstances": _on_instance("ec2:TerminateInstances"),
    "RebootInstances": _on_instance("ec2:RebootInstances"),
    "ModifyInstanceMetadataOptions": _on_instance("ec2:ModifyInstanceMetadataOptions"),
}
