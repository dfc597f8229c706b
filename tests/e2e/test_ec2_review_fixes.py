"""EC2 tag-based authorization holes a security review reproduced: the stored tags of
subnets, security groups and key pairs reach the policy (ec2:ResourceTag/<key>,
aws:ResourceTag/<key>), and each TagSpecification's tags are request tags of the
resource type it names only, each tagged type needing its own ec2:CreateTags grant
with ec2:CreateAction (EC2 User Guide, "Grant permission to tag Amazon EC2 resources
during creation"; Service Authorization Reference for EC2)."""

from __future__ import annotations

import json
import re
import uuid
from typing import Any

import pytest

from .conftest import AwsEnv, aws_error

# Each test's instances count against the shared account's quota till the module is done.
pytestmark = pytest.mark.usefixtures("instances_terminated")

UBUNTU = "ami-0e2c8caa4b6378d8c"


def _user_client(admin: AwsEnv, service: str, statements: list[dict[str, Any]]) -> Any:
    return admin.client_for(admin.new_user({"Version": "2012-10-17", "Statement": statements}), service)


def _user_ec2(admin: AwsEnv, statements: list[dict[str, Any]]) -> Any:
    return _user_client(admin, "ec2", statements)


def _launch(ec2: Any, launched: list[str], **params: Any) -> dict[str, Any]:
    instance = ec2.run_instances(ImageId=UBUNTU, MinCount=1, MaxCount=1, **params)["Instances"][0]
    launched.append(instance["InstanceId"])
    return instance


def _denied(call: Any) -> tuple[str, str, str]:
    """(code, the resource the denial names, how it was denied) of an EC2 refusal."""
    code, message, status = aws_error(call)
    assert (code, status) == ("UnauthorizedOperation", 403), message
    found = re.search(r"is not authorized to perform: (\S+) on resource: (\S+) (with an explicit deny|because no)",
                      message)
    assert found and "Encoded authorization failure message: " in message, message
    return found.group(1), found.group(2), found.group(3)


def _decoded_conditions(admin: AwsEnv, call: Any) -> dict[str, list[str]]:
    """The condition keys the encoded message of an EC2 refusal shows, decoded by STS."""
    encoded = aws_error(call)[1].split("Encoded authorization failure message: ", 1)[1]
    # STS refuses session credentials (admin's): a user of its own decodes it.
    decoder = _user_client(admin, "sts", [{"Effect": "Allow", "Action": "sts:DecodeAuthorizationMessage",
                                             "Resource": "*"}])
    text = decoder.decode_authorization_message(EncodedMessage=encoded)["DecodedMessage"]
    items = json.loads(text)["context"]["conditions"]["items"]
    return {item["key"]: [v["value"] for v in item["values"]["items"]] for item in items}


def _tags(ec2: Any, resource: str) -> dict[str, str]:
    found = ec2.describe_tags(Filters=[{"Name": "resource-id", "Values": [resource]}])["Tags"]
    return {t["Key"]: t["Value"] for t in found}


def test_resource_tags_of_subnets_and_security_groups_reach_the_policy(admin: AwsEnv, ec2: Any,
                                                                      launched: list[str]) -> None:
    key = f"restricted-{uuid.uuid4().hex[:6]}"  # the default network is shared by the session
    account = admin.client("sts").get_caller_identity()["Account"]
    group = ec2.describe_security_groups()["SecurityGroups"][0]["GroupId"]
    restricted, free = [s["SubnetId"] for s in ec2.describe_subnets()["Subnets"]][:2]
    user = _user_ec2(admin, [
        {"Effect": "Allow", "Action": ["ec2:RunInstances", "ec2:CreateTags", "ec2:DeleteTags", "ec2:Describe*",
                                       "ec2:TerminateInstances"], "Resource": "*"},
        {"Effect": "Deny", "Action": ["ec2:RunInstances", "ec2:CreateTags", "ec2:DeleteTags"],
         "Resource": ["arn:aws:ec2:*:*:security-group/*", "arn:aws:ec2:*:*:subnet/*"],
         "Condition": {"StringEquals": {f"ec2:ResourceTag/{key}": "true"}}}])
    ec2.create_tags(Resources=[restricted], Tags=[{"Key": key, "Value": "true"}])
    try:
        # Into the restricted subnet: refused on the subnet; into another, allowed.
        assert _denied(lambda: user.run_instances(ImageId=UBUNTU, MinCount=1, MaxCount=1, SubnetId=restricted)) == (
            "ec2:RunInstances", f"arn:aws:ec2:us-east-1:{account}:subnet/{restricted}", "with an explicit deny")
        conditions = _decoded_conditions(admin, lambda: user.run_instances(
            ImageId=UBUNTU, MinCount=1, MaxCount=1, SubnetId=restricted))
        assert conditions[f"ec2:ResourceTag/{key}"] == conditions[f"aws:ResourceTag/{key}"] == ["true"]
        assert _launch(user, launched, SubnetId=free)["SubnetId"] == free
        # Untagging or retagging the restricted subnet is refused; the tag stays.
        assert _denied(lambda: user.delete_tags(Resources=[restricted], Tags=[{"Key": key}]))[1:] == (
            f"arn:aws:ec2:us-east-1:{account}:subnet/{restricted}", "with an explicit deny")
        assert _denied(lambda: user.create_tags(Resources=[restricted], Tags=[{"Key": key, "Value": "no"}]))[0] == \
            "ec2:CreateTags"
        assert _tags(ec2, restricted)[key] == "true"

        # A restricted security group: no launch with it, even into a free subnet.
        ec2.create_tags(Resources=[group], Tags=[{"Key": key, "Value": "true"}])
        assert _denied(lambda: user.run_instances(ImageId=UBUNTU, MinCount=1, MaxCount=1, SubnetId=free,
                                                  SecurityGroupIds=[group])) == (
            "ec2:RunInstances", f"arn:aws:ec2:us-east-1:{account}:security-group/{group}", "with an explicit deny")
        assert _denied(lambda: user.delete_tags(Resources=[group], Tags=[{"Key": key}]))[1] == \
            f"arn:aws:ec2:us-east-1:{account}:security-group/{group}"
        assert _tags(ec2, group)[key] == "true"
    finally:
        ec2.delete_tags(Resources=[restricted, group], Tags=[{"Key": key}])
    # Untagged, both are usable again.
    assert _launch(user, launched, SubnetId=restricted, SecurityGroupIds=[group])["SubnetId"] == restricted


def test_key_pair_tags_reach_the_policy(admin: AwsEnv, ec2: Any, launched: list[str]) -> None:
    account = admin.client("sts").get_caller_identity()["Account"]
    locked, unlocked = (f"review-key-{uuid.uuid4().hex[:6]}" for _ in range(2))
    locked_id = ec2.create_key_pair(KeyName=locked, TagSpecifications=[
        {"ResourceType": "key-pair", "Tags": [{"Key": "locked", "Value": "yes"}]}])["KeyPairId"]
    ec2.create_key_pair(KeyName=unlocked)
    user = _user_ec2(admin, [
        {"Effect": "Allow", "Action": ["ec2:RunInstances", "ec2:DeleteKeyPair", "ec2:DeleteTags",
                                       "ec2:TerminateInstances"], "Resource": "*"},
        {"Effect": "Deny", "Action": ["ec2:RunInstances", "ec2:DeleteKeyPair", "ec2:DeleteTags"],
         "Resource": "arn:aws:ec2:*:*:key-pair/*", "Condition": {"StringEquals": {"aws:ResourceTag/locked": "yes"}}}])
    try:
        arn = f"arn:aws:ec2:us-east-1:{account}:key-pair/{locked}"  # key pairs' ARNs name them by name
        assert _denied(lambda: user.run_instances(ImageId=UBUNTU, MinCount=1, MaxCount=1, KeyName=locked)) == (
            "ec2:RunInstances", arn, "with an explicit deny")
        assert _denied(lambda: user.delete_key_pair(KeyName=locked))[1] == arn
        assert _denied(lambda: user.delete_key_pair(KeyPairId=locked_id))[1] == arn
        assert _denied(lambda: user.delete_tags(Resources=[locked_id], Tags=[{"Key": "locked"}]))[1] == arn
        assert [p["KeyName"] for p in ec2.describe_key_pairs(KeyNames=[locked])["KeyPairs"]] == [locked]
        assert _tags(ec2, locked_id) == {"locked": "yes"}
        assert _launch(user, launched, KeyName=unlocked)["KeyName"] == unlocked
        assert user.delete_key_pair(KeyName=unlocked)["Return"] is True
    finally:
        ec2.delete_key_pair(KeyName=locked)
        ec2.delete_key_pair(KeyName=unlocked)


def test_launch_tags_need_create_tags_on_each_tagged_type(admin: AwsEnv, ec2: Any, launched: list[str]) -> None:
    account = admin.client("sts").get_caller_identity()["Account"]
    run = {"Effect": "Allow", "Action": ["ec2:RunInstances", "ec2:TerminateInstances"], "Resource": "*"}
    on_launch = {"StringEquals": {"ec2:CreateAction": "RunInstances"}}
    user = _user_ec2(admin, [run, {"Effect": "Allow", "Action": "ec2:CreateTags",
                                   "Resource": "arn:aws:ec2:*:*:instance/*", "Condition": on_launch}])
    volume_tags = [{"ResourceType": "volume", "Tags": [{"Key": "cost", "Value": "x"}]}]
    assert _denied(lambda: user.run_instances(ImageId=UBUNTU, MinCount=1, MaxCount=1,
                                              TagSpecifications=volume_tags)) == (
        "ec2:CreateTags", f"arn:aws:ec2:us-east-1:{account}:volume/*", "because no")
    # Tagging the instance alone is what this user may do.
    instance = _launch(user, launched, TagSpecifications=[{"ResourceType": "instance",
                                                           "Tags": [{"Key": "cost", "Value": "y"}]}])
    assert instance["Tags"] == [{"Key": "cost", "Value": "y"}]

    # The grant on volume/* makes the volume-tagged launch pass; the volume's tags stay off the instance.
    both = _user_ec2(admin, [run, {"Effect": "Allow", "Action": "ec2:CreateTags", "Condition": on_launch,
                                   "Resource": ["arn:aws:ec2:*:*:instance/*", "arn:aws:ec2:*:*:volume/*"]}])
    assert "Tags" not in _launch(both, launched, TagSpecifications=volume_tags)
    # ec2:CreateAction names the creating action: a grant for another one does not do.
    other = _user_ec2(admin, [run, {"Effect": "Allow", "Action": "ec2:CreateTags", "Resource": "*",
                                    "Condition": {"StringEquals": {"ec2:CreateAction": "CreateVolume"}}}])
    assert _denied(lambda: other.run_instances(ImageId=UBUNTU, MinCount=1, MaxCount=1,
                                               TagSpecifications=volume_tags))[0] == "ec2:CreateTags"


def test_request_tags_of_a_launch_belong_to_the_type_they_name(admin: AwsEnv, ec2: Any,
                                                               launched: list[str]) -> None:
    account = admin.client("sts").get_caller_identity()["Account"]
    user = _user_ec2(admin, [
        {"Effect": "Allow", "Action": "ec2:RunInstances", "Resource": "arn:aws:ec2:*:*:instance/*",
         "Condition": {"StringEquals": {"aws:RequestTag/Owner": "alice"}}},
        {"Effect": "Allow", "Action": "ec2:RunInstances", "NotResource": "arn:aws:ec2:*:*:instance/*"},
        {"Effect": "Allow", "Action": "ec2:TerminateInstances", "Resource": "*"},
        {"Effect": "Allow", "Action": "ec2:CreateTags", "Resource": "*",
         "Condition": {"StringEquals": {"ec2:CreateAction": "RunInstances"}}}])
    owner = [{"Key": "Owner", "Value": "alice"}]
    # Only the volume is tagged Owner=alice: the instance's condition is not met.
    assert _denied(lambda: user.run_instances(ImageId=UBUNTU, MinCount=1, MaxCount=1, TagSpecifications=[
        {"ResourceType": "volume", "Tags": owner}])) == (
        "ec2:RunInstances", f"arn:aws:ec2:us-east-1:{account}:instance/*", "because no")
    assert _denied(lambda: user.run_instances(ImageId=UBUNTU, MinCount=1, MaxCount=1, TagSpecifications=[
        {"ResourceType": "instance", "Tags": [{"Key": "Owner", "Value": "bob"}]},
        {"ResourceType": "network-interface", "Tags": owner}]))[1] == f"arn:aws:ec2:us-east-1:{account}:instance/*"
    # Tagged on the instance itself, it launches with that tag.
    instance = _launch(user, launched, TagSpecifications=[{"ResourceType": "instance", "Tags": owner},
                                                          {"ResourceType": "volume",
                                                           "Tags": [{"Key": "Owner", "Value": "bob"}]}])
    assert instance["Tags"] == owner
    assert _tags(ec2, instance["InstanceId"]) == {"Owner": "alice"}


def test_key_pair_tags_on_creation_need_create_tags(admin: AwsEnv, ec2: Any) -> None:
    account = admin.client("sts").get_caller_identity()["Account"]
    names = [f"review-tagged-{uuid.uuid4().hex[:6]}" for _ in range(3)]
    tagged = [{"ResourceType": "key-pair", "Tags": [{"Key": "team", "Value": "blue"}]}]
    create = {"Effect": "Allow", "Action": "ec2:CreateKeyPair", "Resource": "*"}
    user = _user_ec2(admin, [create])
    try:
        assert _denied(lambda: user.create_key_pair(KeyName=names[0], TagSpecifications=tagged)) == (
            "ec2:CreateTags", f"arn:aws:ec2:us-east-1:{account}:key-pair/{names[0]}", "because no")
        assert aws_error(lambda: ec2.describe_key_pairs(KeyNames=[names[0]]))[0] == "InvalidKeyPair.NotFound"
        user.create_key_pair(KeyName=names[1])  # without tags, CreateKeyPair alone does
        allowed = _user_ec2(admin, [create, {"Effect": "Allow", "Action": "ec2:CreateTags", "Resource": "*",
                                             "Condition": {"StringEquals": {"ec2:CreateAction": "CreateKeyPair",
                                                                            "aws:RequestTag/team": "blue"}}}])
        pair_id = allowed.create_key_pair(KeyName=names[2], TagSpecifications=tagged)["KeyPairId"]
        assert _tags(ec2, pair_id) == {"team": "blue"}
    finally:
        for name in names:
            ec2.delete_key_pair(KeyName=name)
