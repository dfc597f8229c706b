"""EC2 tag errors as real AWS answers them (AWS's error output quoted in users' reports:
CreateTags/DeleteTags of reserved "aws:" keys, launch tags, empty lists)."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from .conftest import aws_error

# Each test's instances count against the shared account's quota till the module is done.
pytestmark = pytest.mark.usefixtures("instances_terminated")

UBUNTU = "ami-0e2c8caa4b6378d8c"
LAUNCH_RESERVED = ("InvalidParameterValue", "Tag keys starting with 'aws:' are reserved for internal use", 400)


def _reserved(key: str) -> tuple[str, str, int]:
    return ("InvalidParameterValue", f"Value ( {key} ) for parameter key is invalid. Tag keys starting with 'aws:' "
            "are reserved for internal use", 400)


@pytest.fixture
def pair(ec2: Any) -> Any:
    name = f"tags-parity-{uuid.uuid4().hex[:6]}"
    pair_id = ec2.create_key_pair(KeyName=name)["KeyPairId"]
    ec2.create_tags(Resources=[pair_id], Tags=[{"Key": "team", "Value": "blue"}])
    yield pair_id
    ec2.delete_key_pair(KeyName=name)


def _tags(ec2: Any, resource: str) -> list[tuple[str, str]]:
    return [(t["Key"], t["Value"]) for t in
            ec2.describe_tags(Filters=[{"Name": "resource-id", "Values": [resource]}])["Tags"]]


def test_create_and_delete_tags_refuse_reserved_keys_naming_them(ec2: Any, pair: str) -> None:
    tags = [{"Key": "ok", "Value": "1"}, {"Key": "aws:autoscaling:groupName", "Value": "asg"}]
    assert aws_error(lambda: ec2.create_tags(Resources=[pair], Tags=tags)) == _reserved("aws:autoscaling:groupName")
    assert aws_error(lambda: ec2.delete_tags(Resources=[pair], Tags=[{"Key": "aws:cloudformation:stack-name"}])) == (
        _reserved("aws:cloudformation:stack-name"))
    assert _tags(ec2, pair) == [("team", "blue")]


def test_launch_tags_with_reserved_keys(ec2: Any) -> None:
    reserved = [{"Key": "aws:cloudformation:stack-name", "Value": "s"}]
    assert aws_error(lambda: ec2.run_instances(ImageId=UBUNTU, MinCount=1, MaxCount=1, TagSpecifications=[
        {"ResourceType": "instance", "Tags": reserved}])) == LAUNCH_RESERVED
    name = f"tags-parity-{uuid.uuid4().hex[:6]}"
    assert aws_error(lambda: ec2.create_key_pair(KeyName=name, TagSpecifications=[
        {"ResourceType": "key-pair", "Tags": reserved}])) == LAUNCH_RESERVED
    assert aws_error(lambda: ec2.describe_key_pairs(KeyNames=[name]))[0] == "InvalidKeyPair.NotFound"


def test_create_tags_without_tags_or_resources(ec2: Any, pair: str) -> None:
    # An empty list is sent as no parameter at all.
    assert aws_error(lambda: ec2.create_tags(Resources=[pair], Tags=[])) == (
        "InvalidParameterValue", "You must specify one or more tags to create", 400)
    missing = ("MissingParameter", "The request must contain the parameter resourceIdSet", 400)
    assert aws_error(lambda: ec2.create_tags(Resources=[], Tags=[{"Key": "a", "Value": "b"}])) == missing
    assert aws_error(lambda: ec2.delete_tags(Resources=[], Tags=[{"Key": "team"}])) == missing
    assert _tags(ec2, pair) == [("team", "blue")]
