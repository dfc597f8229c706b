"""Secrets a security review found written into events: an SSM PutParameter value
whose request does not say SecureString, and EC2 user data in every request that
carries it."""

from __future__ import annotations

from skyhold.trail.events import wire_json
from skyhold.trail.redact import HIDDEN, REMOVED, request_rules


def test_an_overwrite_that_keeps_the_stored_secure_string_type_is_hidden() -> None:
    out = wire_json({"Name": "/db/pw", "Value": "HUNTER2", "Overwrite": True}, request_rules("ssm", "PutParameter"))
    assert out == {"name": "/db/pw", "value": HIDDEN, "overwrite": True}


def test_value_stays_ordinary_data_outside_put_parameter() -> None:
    tags = {"ResourceId": "/p", "ResourceType": "Parameter", "Tags": [{"Key": "k", "Value": "v"}]}
    assert wire_json(tags, request_rules("ssm", "AddTagsToResource"))["tags"] == [{"key": "k", "value": "v"}]
    filters = {"Filters": [{"Name": "tag:env", "Values": ["prod"]}], "Value": "x"}
    assert wire_json(filters, request_rules("ec2", "DescribeInstances"))["value"] == "x"


def test_ec2_user_data_is_removed_wherever_it_is_sent() -> None:
    run = wire_json({"ImageId": "ami-1", "UserData": "IyEvYmluL3No"}, request_rules("ec2", "RunInstances"))
    assert run == {"imageId": "ami-1", "userData": REMOVED}
    modify = wire_json({"InstanceId": "i-1", "UserData": {"Value": b"#!/bin/sh"}},
                       request_rules("ec2", "ModifyInstanceAttribute"))
    assert modify == {"instanceId": "i-1", "userData": REMOVED}
    by_value = wire_json({"InstanceId": "i-1", "Attribute": "userData", "Value": "IyEvYmluL3No"},
                         request_rules("ec2", "ModifyInstanceAttribute"))
    assert by_value["value"] == REMOVED and by_value["attribute"] == "userData"
    template = wire_json({"LaunchTemplateName": "t", "LaunchTemplateData": {"UserData": "eA==", "ImageId": "ami-1"}},
                         request_rules("ec2", "CreateLaunchTemplateVersion"))
    assert template["launchTemplateData"] == {"userData": REMOVED, "imageId": "ami-1"}
    imported = wire_json({"Platform": "Linux", "LaunchSpecification": {"UserData": {"Data": "eA=="}}},
                         request_rules("ec2", "ImportInstance"))
    assert imported["launchSpecification"] == {"userData": REMOVED}
