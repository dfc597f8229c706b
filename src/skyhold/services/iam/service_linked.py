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

# Service principal → the role name AWS gives it, after "AWSServiceRoleFor".
NAMES = {
    "accountdiscovery.ssm.amazonaws.com": "AmazonSSM_AccountDiscovery",
    "acm.amazonaws.com": "CertificateManager",
    "appmesh.amazonaws.com": "AppMesh",
    "autoscaling-plans.amazonaws.com": "AutoScalingPlans_EC2AutoScaling",
    "autoscaling.amazonaws.com": "AutoScaling",
    "backup.amazonaws.com": "Backup",
    "batch.amazonaws.com": "Batch",
    "cassandra.application-autoscaling.amazonaws.com": "ApplicationAutoScaling_CassandraTable",
    "cks.kms.amazonaws.com": "KeyManagementServiceCustomKeyStores",
    "cloudtrail.amazonaws.com": "CloudTrail",
    "codestar-notifications.amazonaws.com": "CodeStarNotifications",
    "config.amazonaws.com": "Config",
    "connect.amazonaws.com": "AmazonConnect",
    "dms-fleet-advisor.amazonaws.com": "DMSFleetAdvisor",
    "dms.amazonaws.com": "DMSServerless",
    "docdb-elastic.amazonaws.com": "DocDB-Elastic",
    "ec2-instance-connect.amazonaws.com": "Ec2InstanceConnect",
    "ec2.application-autoscaling.amazonaws.com": "ApplicationAutoScaling_EC2SpotFleetRequest",
    "ec2scheduled.amazonaws.com": "EC2Scheduled",
    "ecr.amazonaws.com": "ECRTemplate",
    "ecs.amazonaws.com": "ECS",
    "eks-connector.amazonaws.com": "AmazonEKSConnector",
    "eks-fargate.amazonaws.com": "AmazonEKSForFargate",
    "eks-nodegroup.amazonaws.com": "AmazonEKSNodegroup",
    "eks.amazonaws.com": "AmazonEKS",
    "elasticache.amazonaws.com": "ElastiCache",
    "elasticbeanstalk.amazonaws.com": "ElasticBeanstalk",
    "elasticfilesystem.amazonaws.com": "AmazonElasticFileSystem",
    "elasticloadbalancing.amazonaws.com": "ElasticLoadBalancing",
    "email.cognito-idp.amazonaws.com": "AmazonCognitoIdpEmailService",
    "emr-containers.amazonaws.com": "AmazonEMRContainers",
    "emrwal.amazonaws.com": "EMRWAL",
    "fis.amazonaws.com": "FIS",
    "grafana.amazonaws.com": "AmazonGrafana",
    "imagebuilder.amazonaws.com": "ImageBuilder",
    "iotmanagedintegrations.amazonaws.com": "IoTManagedIntegrations",
    "kafka.amazonaws.com": "Kafka",
    "kafkaconnect.amazonaws.com": "KafkaConnect",
    "lakeformation.amazonaws.com": "LakeFormationDataAccess",
    "lex.amazonaws.com": "LexBots",
    "lexv2.amazonaws.com": "LexV2Bots",
    "lightsail.amazonaws.com": "Lightsail",
    "m2.amazonaws.com": "AWSM2",
    "memorydb.amazonaws.com": "MemoryDB",
    "mq.amazonaws.com": "AmazonMQ",
    "mrk.kms.amazonaws.com": "KeyManagementServiceMultiRegionKeys",
    "notifications.amazonaws.com": "AwsUserNotifications",
    "observability.aoss.amazonaws.com": "AmazonOpenSearchServerless",
    "opensearchservice.amazonaws.com": "AmazonOpenSearchService",
    "ops.apigateway.amazonaws.com": "APIGateway",
    "ops.emr-serverless.amazonaws.com": "AmazonEMRServerless",
    "opsdatasync.ssm.amazonaws.com": "SystemsManagerOpsDataSync",
    "opsinsights.ssm.amazonaws.com": "AmazonSSM_OpsInsights",
    "organizations.amazonaws.com": "Organizations",
    "pullthroughcache.ecr.amazonaws.com": "ECRPullThroughCache",
    "ram.amazonaws.com": "ResourceAccessManager",
    "rds.amazonaws.com": "RDS",
    "redshift.amazonaws.com": "Redshift",
    "replication.cassandra.amazonaws.com": "KeyspacesReplication",
    "replication.ecr.amazonaws.com": "ECRReplication",
    "repository.sync.codeconnections.amazonaws.com": "GitSync",
    "resource-explorer-2.amazonaws.com": "ResourceExplorer",
    "rolesanywhere.amazonaws.com": "RolesAnywhere",
    "s3-outposts.amazonaws.com": "S3OnOutposts",
    "secretsmanager.amazonaws.com": "SecretsManager",
    "ses.amazonaws.com": "AmazonSES",
    "shield.amazonaws.com": "AWSShield",
    "spot.amazonaws.com": "EC2Spot",
    "spotfleet.amazonaws.com": "EC2SpotFleet",
    "ssm-incidents.amazonaws.com": "IncidentManager",
    "ssm-quicksetup.amazonaws.com": "SSMQuickSetup",
    "ssm.amazonaws.com": "AmazonSSM",
    "sso.amazonaws.com": "SSO",
    "support.amazonaws.com": "Support",
    "transitgateway.amazonaws.com": "VPCTransitGateway",
    "trustedadvisor.amazonaws.com": "TrustedAdvisor",
    "vpcorigin.cloudfront.amazonaws.com": "CloudFrontVPCOrigin",
    "waf.amazonaws.com": "WAFLogging",
    "wafv2.amazonaws.com": "WAFV2Logging",
}
# The few services that accept a CustomSuffix; every other refuses one.
CUSTOM_SUFFIX_ALLOWED = frozenset({"autoscaling.amazonaws.com", "connect.amazonaws.com", "lexv2.amazonaws.com"})


def role_name(service: str, suffix: str | None) -> str | None:
    """AWSServiceRoleFor<Name>[_<suffix>]; None for a service IAM does not know."""
    if service not in NAMES:
        return None
    return f"AWSServiceRoleFor{NAMES[service]}" + (f"_{suffix}" if suffix else "")


def path(service: str) -> str:
    return f"/aws-service-role/{service}/"


def role_arn(account: str, params: dict[str, Any]) -> str | None:
    """The ARN CreateServiceLinkedRole creates (and is authorized on)."""
    service = params.get("AWSServiceName") or ""
    name = role_name(service, params.get("CustomSuffix"))
    return records.role_arn(account, name, path(service)) if name else None


def create_service_linked_role(call: Call, params: dict[str, Any]) -> dict[str, Any]:
    service = params["AWSServiceName"]
    name = role_name(service, params.get("CustomSuffix"))
    if name is None:
        raise errors.invalid_input(f"Unrecognized service principal: {service}")
    if params.get("CustomSuffix") and service not in CUSTOM_SUFFIX_ALLOWED:
        raise errors.invalid_input(f"Custom suffix is not allowed for {service}")
    account = common.account_of(call)
    if call.store.get(records.ROLE, records.name_key(account, name)):
        raise errors.invalid_input(
            f"Service role name {name} has been taken in this account, please try a different suffix.")
    trust = json.dumps({"Version": "2012-10-17", "Statement": [
        {"Action": "sts:AssumeRole", "Effect": "Allow", "Principal": {"Service": service}}]})
    return roles.create_role(call, {
        "RoleName": name, "Path": path(service), "AssumeRolePolicyDocument": trust,
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
