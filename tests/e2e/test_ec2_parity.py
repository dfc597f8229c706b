"""EC2 answers as AWS gives them: Availability Zones as AWS recorded them (LocalStack's
AWS-validated snapshots), RunInstances/DescribeInstances members as AWS's CLI reference
shows them, and TagSpecifications refused as AWS refuses them."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from .conftest import aws_error

# Each test's instances count against the shared account's quota till the module is done.
pytestmark = pytest.mark.usefixtures("instances_terminated")

AL2023 = "ami-0453ec754f44f9a4a"  # BootMode uefi-preferred
UBUNTU = "ami-0e2c8caa4b6378d8c"  # BootMode legacy-bios
EMPTY_SPEC = ("InvalidTagKey.Malformed", "Tag specification must have at least one tag", 400)
LAUNCH_RESERVED = ("InvalidParameterValue", "Tag keys starting with 'aws:' are reserved for internal use", 400)


def _launch(ec2: Any, launched: list[str], **kw: Any) -> dict[str, Any]:
    out = ec2.run_instances(MinCount=1, MaxCount=1, **{"ImageId": AL2023, **kw})
    launched += [i["InstanceId"] for i in out["Instances"]]
    return out


def _instance(ec2: Any, instance_id: str) -> dict[str, Any]:
    return ec2.describe_instances(InstanceIds=[instance_id])["Reservations"][0]["Instances"][0]


# test_describe_availability_zones_filter_with_zone_names / _with_zone_ids / _filters
def test_availability_zones_belong_to_the_regions_zone_group(ec2: Any) -> None:
    by_name = ec2.describe_availability_zones(ZoneNames=["us-east-1a"])["AvailabilityZones"]
    by_filter = ec2.describe_availability_zones(
        Filters=[{"Name": "zone-name", "Values": ["us-east-1a"]}])["AvailabilityZones"]
    assert by_name == by_filter
    zone = by_name[0]
    assert set(zone) == {"GroupLongName", "GroupName", "Messages", "NetworkBorderGroup", "OptInStatus", "RegionName",
                         "State", "ZoneId", "ZoneName", "ZoneType"}
    assert (zone["GroupName"], zone["GroupLongName"], zone["NetworkBorderGroup"]) == (
        "us-east-1-zg-1", "US East (N. Virginia) 1", "us-east-1")
    assert (zone["ZoneName"], zone["ZoneType"], zone["State"], zone["OptInStatus"], zone["Messages"]) == (
        "us-east-1a", "availability-zone", "available", "opt-in-not-required", [])
    by_id = ec2.describe_availability_zones(ZoneIds=["use1-az1"])["AvailabilityZones"]
    assert [(z["ZoneId"], z["GroupName"]) for z in by_id] == [("use1-az1", "us-east-1-zg-1")]
    grouped = ec2.describe_availability_zones(Filters=[{"Name": "group-name", "Values": ["us-east-1-zg-1"]}])
    assert len(grouped["AvailabilityZones"]) == len(ec2.describe_availability_zones()["AvailabilityZones"])


def test_run_instances_answers_while_the_instance_is_set_up(ec2: Any, launched: list[str]) -> None:
    out = _launch(ec2, launched, InstanceType="t3.micro")
    out.pop("ResponseMetadata")
    assert set(out) == {"ReservationId", "OwnerId", "Groups", "Instances"}
    assert out["Groups"] == []  # a reservation's groupSet is EC2-Classic's
    instance = out["Instances"][0]
    assert instance["State"] == {"Code": 0, "Name": "pending"}
    assert instance["StateReason"] == {"Code": "pending", "Message": "pending"}
    assert instance["StateTransitionReason"] == ""
    assert instance["BlockDeviceMappings"] == []
    assert instance["NetworkInterfaces"][0]["Attachment"]["Status"] == "attaching"
    assert instance["MetadataOptions"]["State"] == "pending"
    assert instance["CapacityReservationSpecification"] == {"CapacityReservationPreference": "open"}
    assert [g["GroupName"] for g in instance["SecurityGroups"]] == ["default"]

    described = _instance(ec2, instance["InstanceId"])
    assert described["State"] == {"Code": 16, "Name": "running"}
    assert "StateReason" not in described
    assert [(m["DeviceName"], m["Ebs"]["Status"]) for m in described["BlockDeviceMappings"]] == [
        ("/dev/xvda", "attached")]
    assert described["NetworkInterfaces"][0]["Attachment"]["Status"] == "attached"
    assert described["MetadataOptions"]["State"] == "applied"
    assert described["CapacityReservationSpecification"] == {"CapacityReservationPreference": "open"}
    assert {"PlatformDetails", "UsageOperation", "UsageOperationUpdateTime", "CpuOptions", "EnclaveOptions",
            "HibernationOptions", "MaintenanceOptions", "PrivateDnsNameOptions", "BootMode",
            "CurrentInstanceBootMode"} <= set(described)


def test_current_instance_boot_mode_follows_ami_and_instance_type(ec2: Any, launched: list[str]) -> None:
    # uefi-preferred boots UEFI where the type supports it (Nitro), Legacy BIOS on Xen.
    cases = [(AL2023, "t3.micro", "uefi"), (AL2023, "t2.micro", "legacy-bios"),
             (UBUNTU, "t3.micro", "legacy-bios")]
    for image, instance_type, mode in cases:
        instance = _launch(ec2, launched, ImageId=image, InstanceType=instance_type)["Instances"][0]
        assert instance["CurrentInstanceBootMode"] == mode, (image, instance_type)
        assert _instance(ec2, instance["InstanceId"])["CurrentInstanceBootMode"] == mode


def test_a_tag_specification_without_tags_is_refused(ec2: Any, launched: list[str]) -> None:
    for kind in ("instance", "volume", "network-interface"):
        assert aws_error(lambda: _launch(ec2, launched, TagSpecifications=[
            {"ResourceType": kind, "Tags": []}])) == EMPTY_SPEC, kind
    assert aws_error(lambda: _launch(ec2, launched, TagSpecifications=[
        {"ResourceType": "instance", "Tags": [{"Key": "team", "Value": "blue"}]},
        {"ResourceType": "volume"}])) == EMPTY_SPEC
    assert launched == []
    name = f"parity-{uuid.uuid4().hex[:8]}"
    assert aws_error(lambda: ec2.create_key_pair(KeyName=name, TagSpecifications=[
        {"ResourceType": "key-pair", "Tags": []}])) == EMPTY_SPEC
    assert aws_error(lambda: ec2.describe_key_pairs(KeyNames=[name]))[0] == "InvalidKeyPair.NotFound"


def test_volume_and_interface_launch_tags_refuse_reserved_keys(ec2: Any, launched: list[str]) -> None:
    for kind in ("volume", "network-interface"):
        assert aws_error(lambda: _launch(ec2, launched, TagSpecifications=[
            {"ResourceType": "instance", "Tags": [{"Key": "team", "Value": "blue"}]},
            {"ResourceType": kind, "Tags": [{"Key": "aws:cloudformation:stack-name", "Value": "s"}]}])) == (
            LAUNCH_RESERVED), kind
    assert launched == []
    ok = _launch(ec2, launched, TagSpecifications=[{"ResourceType": "volume", "Tags": [{"Key": "cost", "Value": "1"}]}])
    assert "Tags" not in ok["Instances"][0]  # volume tags are not the instance's


def test_cpu_options_follow_the_instance_type(ec2: Any, launched: list[str]) -> None:
    # AWS's CLI reference: a t2.micro has one core of one thread, a t3.nano one core of two.
    cases = [("t2.micro", 1, 1), ("t3.nano", 1, 2), ("m5.xlarge", 2, 2), (None, 1, 1)]  # None: m1.small
    for instance_type, cores, threads in cases:
        kw = {"InstanceType": instance_type} if instance_type else {}
        instance = _launch(ec2, launched, **kw)["Instances"][0]
        expected = {"CoreCount": cores, "ThreadsPerCore": threads}
        assert instance["CpuOptions"] == expected, instance_type
        assert _instance(ec2, instance["InstanceId"])["CpuOptions"] == expected
