"""EC2 holes a review reproduced: RunInstances' NetworkInterfaces and Placement decide
where an instance goes, for IAM and for the launch alike; the instance resource's
condition keys are the Service Authorization Reference's (ec2:InstanceID, no ec2:Vpc);
the documented Describe* filters work; DescribeTags' tag:<key> matches; MaxResults and
NextToken are checked on DescribeVpcs/Subnets/SecurityGroups."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from .conftest import AwsEnv, aws_error

# Each test's instances count against the shared account's quota till the module is done.
pytestmark = pytest.mark.usefixtures("instances_terminated")

UBUNTU = "ami-0e2c8caa4b6378d8c"
WOULD_SUCCEED = ("DryRunOperation", "Request would have succeeded, but DryRun flag is set.", 412)


def _user_ec2(admin: AwsEnv, statements: list[dict[str, Any]]) -> Any:
    return admin.client_for(admin.new_user({"Version": "2012-10-17", "Statement": statements}), "ec2")


def _launch(ec2: Any, launched: list[str], **params: Any) -> dict[str, Any]:
    instance = ec2.run_instances(ImageId=UBUNTU, MinCount=1, MaxCount=1, **params)["Instances"][0]
    launched.append(instance["InstanceId"])
    return instance


def _run(ec2: Any, **params: Any) -> Any:
    return lambda: ec2.run_instances(ImageId=UBUNTU, MinCount=1, MaxCount=1, **params)


def _subnets(ec2: Any) -> dict[str, str]:
    """zone → its default subnet."""
    return {s["AvailabilityZone"]: s["SubnetId"] for s in ec2.describe_subnets()["Subnets"]}


def _denied_on(call: Any) -> str:
    code, message, status = aws_error(call)
    assert (code, status) == ("UnauthorizedOperation", 403), message
    return message.split(" on resource: ", 1)[1].split(" ", 1)[0]


def test_network_interface_subnet_is_the_one_iam_checks_and_the_instance_gets(admin: AwsEnv, ec2: Any,
                                                                           launched: list[str]) -> None:
    account = admin.client("sts").get_caller_identity()["Account"]
    allowed, other = _subnets(ec2)["us-east-1a"], _subnets(ec2)["us-east-1c"]
    user = _user_ec2(admin, [
        {"Effect": "Allow", "Action": ["ec2:RunInstances", "ec2:TerminateInstances"],
         "NotResource": "arn:aws:ec2:*:*:subnet/*"},
        {"Effect": "Allow", "Action": "ec2:RunInstances",
         "Resource": f"arn:aws:ec2:us-east-1:{account}:subnet/{allowed}"}])
    assert _denied_on(_run(user, NetworkInterfaces=[{"DeviceIndex": 0, "SubnetId": other,
                                                     "AssociatePublicIpAddress": True}])) == \
        f"arn:aws:ec2:us-east-1:{account}:subnet/{other}"
    instance = _launch(user, launched, NetworkInterfaces=[{"DeviceIndex": 0, "SubnetId": allowed,
                                                          "AssociatePublicIpAddress": True}])
    assert instance["SubnetId"] == allowed and instance["Placement"]["AvailabilityZone"] == "us-east-1a"

    # The admin's launch lands where the interface says, with the interface's options.
    group = ec2.describe_security_groups()["SecurityGroups"][0]["GroupId"]
    instance = _launch(ec2, launched, NetworkInterfaces=[{"DeviceIndex": 0, "SubnetId": other, "Groups": [group],
                                                          "Description": "primary", "DeleteOnTermination": False}])
    assert (instance["SubnetId"], instance["Placement"]["AvailabilityZone"]) == (other, "us-east-1c")
    interface = instance["NetworkInterfaces"][0]
    assert (interface["SubnetId"], interface["Description"], interface["Attachment"]["DeleteOnTermination"]) == (
        other, "primary", False)
    assert [g["GroupId"] for g in instance["SecurityGroups"]] == [group]


def test_network_interface_ids_are_checked_and_not_mixed_with_instance_level_ones(ec2: Any) -> None:
    subnet = _subnets(ec2)["us-east-1b"]
    code, message, _ = aws_error(_run(ec2, NetworkInterfaces=[{"DeviceIndex": 0,
                                                               "SubnetId": "subnet-0000000000deadbee"}]))
    assert (code, message) == ("InvalidSubnetID.NotFound", "The subnet ID 'subnet-0000000000deadbee' does not exist")
    code, message, _ = aws_error(_run(ec2, NetworkInterfaces=[{"DeviceIndex": 0, "SubnetId": subnet,
                                                                 "Groups": ["sg-0000000000deadbee"]}]))
    assert (code, message) == ("InvalidGroup.NotFound", "The security group 'sg-0000000000deadbee' does not exist")
    # AWS's words, as its users quote them
    assert aws_error(_run(ec2, NetworkInterfaces=[{"NetworkInterfaceId": "eni-0000000000deadbee", "DeviceIndex": 0}])
                     ) == ("InvalidNetworkInterfaceID.NotFound",
                           "The networkInterface ID 'eni-0000000000deadbee' does not exist", 400)
    assert aws_error(_run(ec2, NetworkInterfaces=[{"SubnetId": subnet}])) == (
        "InvalidParameterValue", "Each network interface requires a device index.", 400)
    assert aws_error(_run(ec2, SubnetId=subnet, NetworkInterfaces=[{"DeviceIndex": 0, "SubnetId": subnet}])) == (
        "InvalidParameterCombination",
        "Network interfaces and an instance-level subnet ID may not be specified on the same request", 400)
    group = ec2.describe_security_groups()["SecurityGroups"][0]["GroupId"]
    assert aws_error(_run(ec2, SecurityGroupIds=[group], NetworkInterfaces=[{"DeviceIndex": 0, "SubnetId": subnet}])
                     ) == ("InvalidParameterCombination", "Network interfaces and an instance-level security groups "
                           "may not be specified on the same request", 400)
    # An option Skyhold cannot honour is refused, not dropped.
    code, message, _ = aws_error(_run(ec2, NetworkInterfaces=[{"DeviceIndex": 0, "SubnetId": subnet,
                                                               "PrivateIpAddress": "172.31.16.10"}]))
    assert code == "Unsupported" and "PrivateIpAddress" in message
    code, _, _ = aws_error(_run(ec2, NetworkInterfaces=[{"DeviceIndex": 0, "SubnetId": subnet},
                                                        {"DeviceIndex": 1, "SubnetId": subnet}]))
    assert code == "Unsupported"


def test_cli_associate_public_ip_address_launches_into_the_named_subnet(admin: AwsEnv, ec2: Any,
                                                                       launched: list[str]) -> None:
    # The CLI moves --subnet-id into the network interface it builds for the public address.
    subnet = _subnets(ec2)["us-east-1b"]
    out = admin.aws_json("ec2", "run-instances", "--region", "us-east-1", "--image-id", UBUNTU,
                         "--instance-type", "t3.micro", "--subnet-id", subnet, "--associate-public-ip-address")
    instance = out["Instances"][0]
    launched.append(instance["InstanceId"])
    assert (instance["SubnetId"], instance["Placement"]["AvailabilityZone"]) == (subnet, "us-east-1b")


def test_placement_zone_decides_the_subnet_and_what_iam_sees(admin: AwsEnv, ec2: Any, launched: list[str]) -> None:
    user = _user_ec2(admin, [
        {"Effect": "Allow", "Action": "ec2:RunInstances", "Resource": "*",
         "Condition": {"StringEquals": {"ec2:AvailabilityZone": "us-east-1a"}}},
        {"Effect": "Allow", "Action": "ec2:RunInstances",
         "Resource": ["arn:aws:ec2:*::image/*", "arn:aws:ec2:*:*:security-group/*"]},
        {"Effect": "Allow", "Action": "ec2:TerminateInstances", "Resource": "*"}])
    assert aws_error(_run(user, Placement={"AvailabilityZone": "us-east-1c"}))[0] == "UnauthorizedOperation"
    assert _launch(user, launched, Placement={"AvailabilityZone": "us-east-1a"})["Placement"]["AvailabilityZone"] == \
        "us-east-1a"

    subnets = _subnets(ec2)
    instance = _launch(ec2, launched, Placement={"AvailabilityZone": "us-east-1c"})
    assert (instance["Placement"]["AvailabilityZone"], instance["SubnetId"]) == ("us-east-1c", subnets["us-east-1c"])
    zone_b = ec2.describe_availability_zones(ZoneNames=["us-east-1b"])["AvailabilityZones"][0]["ZoneId"]
    instance = _launch(ec2, launched, Placement={"AvailabilityZoneId": zone_b})
    assert (instance["Placement"]["AvailabilityZone"], instance["SubnetId"]) == ("us-east-1b", subnets["us-east-1b"])


def test_placement_zone_must_exist_and_agree_with_the_subnet(ec2: Any) -> None:
    assert aws_error(_run(ec2, Placement={"AvailabilityZone": "us-east-1z"})) == (
        "InvalidParameterValue", "Invalid availability zone: [us-east-1z]", 400)
    subnet = _subnets(ec2)["us-east-1a"]
    assert aws_error(_run(ec2, SubnetId=subnet, Placement={"AvailabilityZone": "us-east-1b"})) == (
        "InvalidParameterValue", f"Value (us-east-1b) for parameter availabilityZone is invalid. Subnet '{subnet}' is "
        "in the availability zone us-east-1a", 400)


def test_ec2_vpc_is_no_key_of_the_instance_resource(admin: AwsEnv, ec2: Any, launched: list[str]) -> None:
    account = admin.client("sts").get_caller_identity()["Account"]
    vpc = ec2.describe_vpcs()["Vpcs"][0]["VpcId"]
    instance_id = _launch(ec2, launched)["InstanceId"]
    user = _user_ec2(admin, [
        {"Effect": "Allow", "Action": "ec2:RunInstances", "NotResource": f"arn:aws:ec2:us-east-1:{account}:instance/*"},
        {"Effect": "Allow", "Action": ["ec2:RunInstances", "ec2:StopInstances"],
         "Resource": f"arn:aws:ec2:us-east-1:{account}:instance/*",
         "Condition": {"ArnEquals": {"ec2:Vpc": f"arn:aws:ec2:us-east-1:{account}:vpc/{vpc}"}}}])
    # The condition never matches an instance, as on AWS.
    assert _denied_on(_run(user, DryRun=True)) == f"arn:aws:ec2:us-east-1:{account}:instance/*"
    assert _denied_on(lambda: user.stop_instances(InstanceIds=[instance_id], DryRun=True)) == \
        f"arn:aws:ec2:us-east-1:{account}:instance/{instance_id}"
    # On the subnet (one of its resources), ec2:Vpc is there.
    vpc_scoped = _user_ec2(admin, [
        {"Effect": "Allow", "Action": "ec2:RunInstances", "NotResource": f"arn:aws:ec2:us-east-1:{account}:subnet/*"},
        {"Effect": "Allow", "Action": "ec2:RunInstances", "Resource": f"arn:aws:ec2:us-east-1:{account}:subnet/*",
         "Condition": {"ArnEquals": {"ec2:Vpc": f"arn:aws:ec2:us-east-1:{account}:vpc/{vpc}"}}}])
    assert aws_error(_run(vpc_scoped, DryRun=True)) == WOULD_SUCCEED


def test_ec2_instance_id_is_a_key_of_existing_instances(admin: AwsEnv, ec2: Any, launched: list[str]) -> None:
    mine, other = _launch(ec2, launched)["InstanceId"], _launch(ec2, launched)["InstanceId"]
    user = _user_ec2(admin, [{"Effect": "Allow", "Action": "ec2:StopInstances", "Resource": "*",
                              "Condition": {"StringEquals": {"ec2:InstanceID": mine}}}])
    assert aws_error(lambda: user.stop_instances(InstanceIds=[mine], DryRun=True)) == WOULD_SUCCEED
    assert aws_error(lambda: user.stop_instances(InstanceIds=[other], DryRun=True))[0] == "UnauthorizedOperation"


def _group_ids(ec2: Any, name: str, *values: str) -> list[str]:
    found = ec2.describe_security_groups(Filters=[{"Name": name, "Values": list(values)}])["SecurityGroups"]
    return [g["GroupId"] for g in found]


def test_security_group_rule_filters(admin: AwsEnv, ec2: Any) -> None:
    group = ec2.describe_security_groups()["SecurityGroups"][0]
    gid, account = group["GroupId"], group["OwnerId"]
    # The default group: inbound from itself (all protocols), outbound to 0.0.0.0/0.
    assert _group_ids(ec2, "ip-permission.cidr", "0.0.0.0/0") == []
    assert _group_ids(ec2, "egress.ip-permission.cidr", "0.0.0.0/0") == [gid]
    assert _group_ids(ec2, "ip-permission.group-id", gid) == [gid]
    assert _group_ids(ec2, "egress.ip-permission.group-id", gid) == []
    assert _group_ids(ec2, "ip-permission.group-name", "default") == [gid]
    assert _group_ids(ec2, "ip-permission.user-id", account) == [gid]
    assert _group_ids(ec2, "ip-permission.protocol", "-1") == [gid]
    assert _group_ids(ec2, "ip-permission.protocol", "tcp") == []
    for name in ("from-port", "to-port", "ipv6-cidr", "prefix-list-id"):
        assert _group_ids(ec2, f"ip-permission.{name}", "*") == []
        assert _group_ids(ec2, f"egress.ip-permission.{name}", "*") == []
    # The lab's audit command, with the real CLI.
    out = admin.aws_json("ec2", "describe-security-groups", "--region", "us-east-1", "--filters",
                         "Name=egress.ip-permission.cidr,Values=0.0.0.0/0")
    assert [g["GroupId"] for g in out["SecurityGroups"]] == [gid]
    out = admin.aws_json("ec2", "describe-security-groups", "--region", "us-east-1", "--filters",
                         "Name=ip-permission.cidr,Values=0.0.0.0/0")
    assert out["SecurityGroups"] == []


def test_subnet_and_vpc_filters(ec2: Any) -> None:
    subnets = _subnets(ec2)

    def subnet_ids(name: str, value: str) -> list[str]:
        return [s["SubnetId"] for s in ec2.describe_subnets(Filters=[{"Name": name, "Values": [value]}])["Subnets"]]

    zone_a = ec2.describe_availability_zones(ZoneNames=["us-east-1a"])["AvailabilityZones"][0]["ZoneId"]
    assert subnet_ids("availabilityZone", "us-east-1a") == [subnets["us-east-1a"]]
    assert subnet_ids("availabilityZoneId", zone_a) == [subnets["us-east-1a"]]
    assert sorted(subnet_ids("ipv6-native", "false")) == sorted(subnets.values())
    assert subnet_ids("ipv6-native", "true") == []
    assert sorted(subnet_ids("enable-dns64", "false")) == sorted(subnets.values())
    assert sorted(subnet_ids("private-dns-name-options-on-launch.hostname-type", "ip-name")) == \
        sorted(subnets.values())
    assert subnet_ids("outpost-arn", "*") == subnet_ids("ipv6-cidr-block-association.ipv6-cidr-block", "*") == []
    for name in ("ipv6-cidr-block", "ipv6-pool", "association-id", "state"):
        assert ec2.describe_vpcs(Filters=[{"Name": f"ipv6-cidr-block-association.{name}", "Values": ["*"]}])[
            "Vpcs"] == []


def test_describe_tags_tag_filter(ec2: Any) -> None:
    group = ec2.describe_security_groups()["SecurityGroups"][0]["GroupId"]
    key, other = f"owner-{uuid.uuid4().hex[:6]}", f"cost-{uuid.uuid4().hex[:6]}"
    ec2.create_tags(Resources=[group], Tags=[{"Key": key, "Value": "TeamA"}, {"Key": other, "Value": "1"}])
    try:
        found = ec2.describe_tags(Filters=[{"Name": f"tag:{key}", "Values": ["TeamA"]}])["Tags"]
        assert {(t["ResourceId"], t["Key"]) for t in found} >= {(group, key), (group, other)}
        assert {t["ResourceId"] for t in found} == {group}
        assert ec2.describe_tags(Filters=[{"Name": f"tag:{key}", "Values": ["TeamB"]}])["Tags"] == []
    finally:
        ec2.delete_tags(Resources=[group], Tags=[{"Key": key}, {"Key": other}])


def test_max_results_and_next_token_are_checked(admin: AwsEnv, ec2: Any) -> None:
    raw = admin.unchecked_client("ec2", region_name="us-east-1")
    calls = {"describe_vpcs": "Vpcs", "describe_subnets": "Subnets", "describe_security_groups": "SecurityGroups"}
    for op, key in calls.items():
        for limit in (1, 1001):
            assert aws_error(lambda: getattr(raw, op)(MaxResults=limit)) == (
                "InvalidParameterValue", f"Value ( {limit} ) for parameter maxResults is invalid. Expecting a value "
                "greater than 5.", 400), op
        assert aws_error(lambda: getattr(raw, op)(NextToken="junk")) == (
            "InvalidParameterValue", "Invalid value 'junk' for nextToken", 400), op
        everything = getattr(ec2, op)()[key]
        first = getattr(ec2, op)(MaxResults=5)
        assert first[key] == everything[:5] and ("NextToken" in first) == (len(everything) > 5), op
