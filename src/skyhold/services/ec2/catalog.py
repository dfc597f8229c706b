"""What an account can launch into and from: regions, availability zones and the
built-in images."""

from __future__ import annotations

from functools import lru_cache
from typing import TYPE_CHECKING, Any

from skyhold.errors import AwsError
from skyhold.regions import REGIONS
from skyhold.services.ec2 import filters
from skyhold.services.ec2 import records as r

if TYPE_CHECKING:
    from skyhold.pipeline import Call


def image(image_id: str) -> dict[str, Any]:
    if image_id not in r.IMAGES:
        if not image_id.startswith("ami-"):
            raise AwsError("InvalidAMIID.Malformed", f'Invalid id: "{image_id}" (expecting "ami-...")')
        raise AwsError("InvalidAMIID.NotFound", f"The image id '[{image_id}]' does not exist")
    return r.IMAGES[image_id]


def _image_view(image_id: str) -> dict[str, Any]:
    facts = r.IMAGES[image_id]
    root = facts["RootDeviceName"]
    return {"ImageId": image_id, **facts, "ImageLocation": f"{facts['OwnerId']}/{facts['Name']}",
            "State": "available", "ImageType": "machine", "Public": True, "RootDeviceType": "ebs",
            "VirtualizationType": "hvm", "Hypervisor": "xen", "EnaSupport": True, "SriovNetSupport": "simple",
            "UsageOperation": "RunInstances",
            "BlockDeviceMappings": [{"DeviceName": root, "Ebs": {
                "DeleteOnTermination": True, "SnapshotId": "snap-" + image_id[4:], "VolumeSize": 8,
                "VolumeType": "gp3", "Encrypted": False}}]}


_FIELDS: filters.Fields = {
    "image-id": lambda i: [i["ImageId"]], "name": lambda i: [i["Name"]], "owner-id": lambda i: [i["OwnerId"]],
    "owner-alias": lambda i: [i.get("ImageOwnerAlias")], "architecture": lambda i: [i["Architecture"]],
    "state": lambda i: [i["State"]], "image-type": lambda i: [i["ImageType"]], "is-public": lambda i: [i["Public"]],
    "platform-details": lambda i: [i["PlatformDetails"]], "root-device-type": lambda i: [i["RootDeviceType"]],
    "virtualization-type": lambda i: [i["VirtualizationType"]], "description": lambda i: [i["Description"]],
    "creation-date": lambda i: [i.get("CreationDate")], "root-device-name": lambda i: [i.get("RootDeviceName")],
    "platform": lambda i: [i.get("Platform")],  # "windows" only: Linux images have none
    "boot-mode": lambda i: [i.get("BootMode")],
}


def describe_images(call: Call, params: dict[str, Any]) -> dict[str, Any]:
    wanted = params.get("ImageIds") or list(r.IMAGES)
    for image_id in wanted:
        image(image_id)
    found = [_image_view(i) for i in dict.fromkeys(wanted)]
    owners = params.get("Owners")
    if owners:
        # "amazon" names AWS's own images; "self" the caller's (Skyhold has none yet).
        found = [i for i in found if i["OwnerId"] in owners or (i.get("ImageOwnerAlias") or "-") in owners]
    return {"Images": filters.select(found, params.get("Filters"), _FIELDS)}


def describe_regions(call: Call, params: dict[str, Any]) -> dict[str, Any]:
    names = params.get("RegionNames")
    for name in names or []:
        if name not in REGIONS:
            raise AwsError("InvalidParameterValue", f"Invalid region: {name}")
    found = [{"RegionName": name, "Endpoint": f"ec2.{name}.amazonaws.com", "OptInStatus": "opt-in-not-required"}
             for name in sorted(names or REGIONS)]
    fields: filters.Fields = {"region-name": lambda g: [g["RegionName"]], "endpoint": lambda g: [g["Endpoint"]],
                              "opt-in-status": lambda g: [g["OptInStatus"]]}
    return {"Regions": filters.select(found, params.get("Filters"), fields)}


@lru_cache(maxsize=1)
def _region_names() -> dict[str, str]:
    """Region → its long name ("US East (N. Virginia)"), from botocore's endpoint data."""
    import botocore.loaders

    partition = botocore.loaders.Loader().load_data("endpoints")["partitions"][0]
    return {name: facts.get("description", name) for name, facts in partition["regions"].items()}


def zones(region: str) -> list[dict[str, Any]]:
    # A region's Availability Zones form its zone group 1: "us-east-1-zg-1", long name
    # "US East (N. Virginia) 1" (as AWS answers since zone groups came to regions).
    return [{"ZoneName": region + letter, "State": "available", "RegionName": region,
             "ZoneId": r.zone_id(region, letter), "ZoneType": "availability-zone", "GroupName": f"{region}-zg-1",
             "GroupLongName": f"{_region_names().get(region, region)} 1", "NetworkBorderGroup": region,
             "OptInStatus": "opt-in-not-required", "Messages": []}
            for letter in r.ZONE_LETTERS]


def describe_availability_zones(call: Call, params: dict[str, Any]) -> dict[str, Any]:
    found = zones(call.region)
    names, ids = params.get("ZoneNames"), params.get("ZoneIds")
    for given, field in ((names, "ZoneName"), (ids, "ZoneId")):
        for value in given or []:
            if value not in {z[field] for z in found}:
                raise AwsError("InvalidParameterValue", f"The zone '{value}' does not exist.")
        if given:
            found = [z for z in found if z[field] in given]
    fields: filters.Fields = {"zone-name": lambda z: [z["ZoneName"]], "zone-id": lambda z: [z["ZoneId"]],
                              "region-name": lambda z: [z["RegionName"]], "state": lambda z: [z["State"]],
                              "zone-type": lambda z: [z["ZoneType"]], "group-name": lambda z: [z["GroupName"]],
                              "group-long-name": lambda z: [z["GroupLongName"]],
                              "opt-in-status": lambda z: [z["OptInStatus"]]}
    return {"AvailabilityZones": filters.select(found, params.get("Filters"), fields)}


HANDLERS = {
    "DescribeImages": describe_images,
    "DescribeRegions": describe_regions,
    "DescribeAvailabilityZones": describe_availability_zones,
}
