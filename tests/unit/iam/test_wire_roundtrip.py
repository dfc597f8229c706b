"""Handler results go out through the wire layer and botocore reads back the same
values (timestamps, blobs, percent-encoded policy documents, nested lists)."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import unquote

from botocore import handlers
from botocore.parsers import QueryParser

from skyhold.wire import protocol
from skyhold.wire.models import service_model

from .conftest import POLICY, TRUST

SCENARIO: list[tuple[str, dict[str, Any]]] = [
    ("CreateUser", {"UserName": "alice", "Tags": [{"Key": "a", "Value": "b"}]}),
    ("GetUser", {"UserName": "alice"}),
    ("CreateAccessKey", {"UserName": "alice"}),
    ("ListAccessKeys", {"UserName": "alice"}),
    ("CreateGroup", {"GroupName": "g"}),
    ("AddUserToGroup", {"GroupName": "g", "UserName": "alice"}),
    ("GetGroup", {"GroupName": "g"}),
    ("PutUserPolicy", {"UserName": "alice", "PolicyName": "p", "PolicyDocument": POLICY}),
    ("GetUserPolicy", {"UserName": "alice", "PolicyName": "p"}),
    ("CreateRole", {"RoleName": "r", "AssumeRolePolicyDocument": TRUST}),
    ("GetRole", {"RoleName": "r"}),
    ("ListRoles", {}),
    ("CreatePolicy", {"PolicyName": "mp", "PolicyDocument": POLICY}),
    ("AttachRolePolicy", {"RoleName": "r", "PolicyArn": "arn:aws:iam::aws:policy/AWSDenyAll"}),
    ("ListAttachedRolePolicies", {"RoleName": "r"}),
    ("GetPolicyVersion", {"PolicyArn": "arn:aws:iam::aws:policy/AWSDenyAll", "VersionId": "v2"}),
    ("ListPolicies", {"Scope": "AWS", "MaxItems": 2}),
    ("CreateInstanceProfile", {"InstanceProfileName": "ip"}),
    ("AddRoleToInstanceProfile", {"InstanceProfileName": "ip", "RoleName": "r"}),
    ("GetInstanceProfile", {"InstanceProfileName": "ip"}),
    ("CreateVirtualMFADevice", {"VirtualMFADeviceName": "m"}),
    ("ListVirtualMFADevices", {}),
    ("GetAccountSummary", {}),
    ("GetAccountAuthorizationDetails", {}),
    ("GenerateCredentialReport", {}),
    ("GetCredentialReport", {}),
]


def same(ours: Any, theirs: Any) -> bool:
    if isinstance(ours, dict):
        return (isinstance(theirs, dict) and set(ours) == set(theirs)
                and all(same(v, theirs[k]) for k, v in ours.items()))
    if isinstance(ours, list):
        return isinstance(theirs, list) and len(ours) == len(theirs) and all(map(same, ours, theirs))
    if isinstance(ours, str) and isinstance(theirs, dict):  # a policy document, decoded by botocore
        return json.loads(unquote(ours)) == theirs
    return ours == theirs


def test_results_round_trip_through_botocore(iam):
    model = service_model("iam")
    parser = QueryParser()
    for operation, params in SCENARIO:
        result = iam(operation, **params)
        op = model.operation_model(operation)
        response = protocol.serialize_response(op, result, "req-1")
        parsed = parser.parse({"body": response.body, "headers": dict(response.headers),
                               "status_code": response.status}, op.output_shape)
        handlers.json_decode_policies(parsed, op)
        parsed.pop("ResponseMetadata")
        assert same(result, parsed), operation
