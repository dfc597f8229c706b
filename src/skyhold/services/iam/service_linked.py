"""Service-linked roles: roles a service creates for itself, at
/aws-service-role/<service principal>/AWSServiceRoleFor<Name>[_<suffix>], trusted
by that service only. Deletion is a task in AWS; here it finishes at once."""

from __future__ import annotations

import json
import uuid
from typing import TYPE_CHECKING, Any

from skyhold.services.iam import common, errors, records, roles

if TYPE_CHECKING:
    from skyhold.pipeline import Call

# Service principal → the role name suffix AWS uses for it.
NAMES = {
    "autoscaling.amazonaws.com": "AutoScaling",
    "elasticloadbalancing.amazonaws.com": "ElasticLoadBalancing",
    "spot.amazonaws.com": "EC2Spot",
    "spotfleet.amazonaws.com": "EC2SpotFleet",
    "ec2scheduled.amazonaws.com": "EC2Scheduled",
    "transitgateway.amazonaws.com": "VPCTransitGateway",
    "organizations.amazonaws.com": "Organizations",
    "ssm.amazonaws.com": "AmazonSSM",
    "cloudtrail.amazonaws.com": "CloudTrail",
    "ecs.amazonaws.com": "ECS",
    "rds.amazonaws.com": "RDS",
    "support.amazonaws.com": "Support",
    "trustedadvisor.amazonaws.com": "TrustedAdvisor",
    "secretsmanager.amazonaws.com": "SecretsManager",
    "ecr.amazonaws.com": "ECRReplication",
}


def create_service_linked_role(call: Call, params: dict[str, Any]) -> dict[str, Any]:
    service = params["AWSServiceName"]
    if service not in NAMES:
        raise errors.invalid_input(f"Unrecognized service principal: {service}")
    name = f"AWSServiceRoleFor{NAMES[service]}"
    if params.get("CustomSuffix"):
        name += f"_{params['CustomSuffix']}"
    account = common.account_of(call)
    if call.store.get(records.ROLE, records.name_key(account, name)):
        raise errors.invalid_input(
            f"Service role name {name} has been taken in this account, please try a different suffix.")
    trust = json.dumps({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Principal": {"Service": [service]}, "Action": ["sts:AssumeRole"]}]})
    return roles.create_role(call, {
        "RoleName": name, "Path": f"/aws-service-role/{service}/", "AssumeRolePolicyDocument": trust,
        "Description": params.get("Description")})


def delete_service_linked_role(call: Call, params: dict[str, Any]) -> dict[str, Any]:
    account = common.account_of(call)
    role, version = common.require_role(call.store, account, params["RoleName"])
    if not role["Path"].startswith("/aws-service-role/"):
        raise errors.invalid_input(f"Role {role['RoleName']} is not a service-linked role.")
    service = role["Path"].split("/")[2]
    task = f"task/aws-service-role/{service}/{role['RoleName']}/{uuid.uuid4()}"
    with call.store.transaction():
        call.store.delete(records.ROLE, records.name_key(account, role["RoleName"]), expect_version=version)
        call.store.put(records.SLR_DELETION_TASK, task, {"Account": account, "Status": "SUCCEEDED"})
    return {"DeletionTaskId": task}


def get_service_linked_role_deletion_status(call: Call, params: dict[str, Any]) -> dict[str, Any]:
    rec = call.store.get(records.SLR_DELETION_TASK, params["DeletionTaskId"])
    if rec is None or rec.value["Account"] != common.account_of(call):
        raise errors.no_such_entity(f"Deletion task {params['DeletionTaskId']} cannot be found.")
    return {"Status": rec.value["Status"]}


HANDLERS = {
    "CreateServiceLinkedRole": create_service_linked_role,
    "DeleteServiceLinkedRole": delete_service_linked_role,
    "GetServiceLinkedRoleDeletionStatus": get_service_linked_role_deletion_status,
}
