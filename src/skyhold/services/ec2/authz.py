"""What each EC2 operation means to IAM: the resources it touches (one Access each, as
EC2 authorizes every resource of a request separately) and their condition keys.

RunInstances is the rich one: the new instance (instance/*) carries the launch's
settings — ec2:InstanceType, ec2:MetadataHttpTokens, ec2:InstanceProfile … — while the
image, subnet, security group, key pair, volume and network interface are checked as
their own resources, so a statement keyed on ec2:MetadataHttpTokens must name
instance/* only, exactly as on AWS. Handing over a profile needs iam:PassRole on its
role; tagging on launch needs ec2:CreateTags with ec2:CreateAction=RunInstances.
Describe* operations need their action on "*" (EC2 has no resource-level describe).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from skyhold.authz import Access
from skyhold.services.ec2 import records as r
from skyhold.services.ec2.tags import check_keys, resource_type
from skyhold.services.iam import pass_role

if TYPE_CHECKING:
    from skyhold.pipeline import Call

AuthzFn = Callable[["Call", dict[str, Any]], list[Access]]


def _arn(call: Call, kind: str, resource_id: str) -> str:
    return r.resource_arn(call.region, call.principal.account, kind, resource_id)


def _request_tags(tags: list[dict[str, Any]]) -> dict[str, Any]:
    if not tags:
        return {}
    check_keys(tags)  # a tag without a key is refused before it is authorized
    ctx: dict[str, Any] = {f"aws:RequestTag/{t['Key']}": t.get("Value", "") for t in tags}
    ctx["aws:TagKeys"] = [t["Key"] for t in tags]
    return ctx


def _resource_tags(tags: Any) -> dict[str, Any]:
    items = tags.items() if isinstance(tags, dict) else ((t["Key"], t["Value"]) for t in tags or [])
    ctx: dict[str, Any] = {}
    for key, value in items:
        ctx[f"aws:ResourceTag/{key}"] = ctx[f"ec2:ResourceTag/{key}"] = value
    return ctx


def _metadata_keys(options: dict[str, Any]) -> dict[str, Any]:
    keys = {"HttpTokens": "ec2:MetadataHttpTokens", "HttpEndpoint": "ec2:MetadataHttpEndpoint",
            "HttpPutResponseHopLimit": "ec2:MetadataHttpPutResponseHopLimit",
            "InstanceMetadataTags": "ec2:InstanceMetadataTags"}
    return {key: str(options[name]) for name, key in keys.items() if options.get(name) is not None}


def _profile_role(call: Call, ref: dict[str, str]) -> tuple[dict[str, Any], dict[str, Any] | None]:
    profile = r.profile_by_ref(call, ref)
    return profile, r.role_of_profile(call.store, call.principal.account, profile)


def _instance_context(call: Call, instance: dict[str, Any] | None) -> dict[str, Any]:
    if instance is None:
        return {"ec2:Region": call.region}
    ctx = {"ec2:Region": call.region, "ec2:InstanceType": instance["InstanceType"],
           "ec2:AvailabilityZone": instance["AvailabilityZone"], "ec2:Tenancy": "default",
           "ec2:RootDeviceType": "ebs", "ec2:Vpc": _arn(call, "vpc", instance["VpcId"]),
           **_metadata_keys(instance["MetadataOptions"]), **_resource_tags(instance.get("Tags"))}
    if instance.get("Association"):
        ctx["ec2:InstanceProfile"] = instance["Association"]["InstanceProfileArn"]
    return ctx


def _instance(call: Call, instance_id: str) -> dict[str, Any] | None:
    rec = call.store.get(r.INSTANCE, instance_id)
    if rec is None or rec.value["Account"] != call.principal.account:
        return None
    return rec.value


def run_instances(call: Call, params: dict[str, Any]) -> list[Access]:
    from skyhold.services.ec2 import instances, network

    image = r.IMAGES.get(params.get("ImageId") or "", {})
    net = network.network(call)
    subnet = next((s for s in net["Subnets"] if s["SubnetId"] == params.get("SubnetId")), net["Subnets"][0])
    tags = [t for spec in params.get("TagSpecifications") or [] for t in spec.get("Tags") or []]
    vpc = _arn(call, "vpc", net["VpcId"])
    try:
        options = instances.metadata_options(params.get("MetadataOptions") or {}, image)
    except Exception:  # invalid options are the handler's error to report
        options = {}
    launch = {"ec2:Region": call.region, "ec2:InstanceType": params.get("InstanceType") or "m1.small",
              "ec2:AvailabilityZone": subnet["Zone"], "ec2:Tenancy": "default", "ec2:RootDeviceType": "ebs",
              "ec2:Vpc": vpc, **_metadata_keys(options), **_request_tags(tags)}
    role = None
    if params.get("IamInstanceProfile"):
        profile, role = _profile_role(call, params["IamInstanceProfile"])
        launch["ec2:InstanceProfile"] = profile["Arn"]
    checks = [
        Access("ec2:RunInstances", _arn(call, "instance", "*"), launch),
        Access("ec2:RunInstances", f"arn:aws:ec2:{call.region}::image/{params.get('ImageId')}",
               {"ec2:Region": call.region, "ec2:ImageType": "machine", "ec2:Owner": image.get("ImageOwnerAlias")
                or image.get("OwnerId", ""), "ec2:Public": "true", "ec2:RootDeviceType": "ebs"}),
        Access("ec2:RunInstances", _arn(call, "subnet", subnet["SubnetId"]),
               {"ec2:Region": call.region, "ec2:Vpc": vpc, "ec2:AvailabilityZone": subnet["Zone"]}),
        *(Access("ec2:RunInstances", _arn(call, "security-group", gid), {"ec2:Region": call.region, "ec2:Vpc": vpc})
          for gid in params.get("SecurityGroupIds") or [net["GroupId"]]),
        Access("ec2:RunInstances", _arn(call, "network-interface", "*"),
               {"ec2:Region": call.region, "ec2:Vpc": vpc, "ec2:Subnet": _arn(call, "subnet", subnet["SubnetId"])}),
        Access("ec2:RunInstances", _arn(call, "volume", "*"), {"ec2:Region": call.region,
                                                               "ec2:VolumeType": "gp3"}),
    ]
    if params.get("KeyName"):
        checks.append(Access("ec2:RunInstances", _arn(call, "key-pair", params["KeyName"]),
                             {"ec2:Region": call.region}))
    if tags:
        checks.append(Access("ec2:CreateTags", _arn(call, "instance", "*"),
                             {"ec2:CreateAction": "RunInstances", **_request_tags(tags)}))
    if role is not None:
        checks.append(pass_role(role["Arn"], "ec2.amazonaws.com"))
    return checks


def _on_instances(action: str) -> AuthzFn:
    def authz(call: Call, params: dict[str, Any]) -> list[Access]:
        ids = params.get("InstanceIds") or [params["InstanceId"]]
        return [Access(action, _arn(call, "instance", i), _instance_context(call, _instance(call, i)))
                for i in dict.fromkeys(ids)]

    return authz


def modify_metadata_options(call: Call, params: dict[str, Any]) -> list[Access]:
    instance = _instance(call, params["InstanceId"])
    ctx = _instance_context(call, instance)
    ctx.update(_metadata_keys(params))  # the keys describe the requested settings
    return [Access("ec2:ModifyInstanceMetadataOptions", _arn(call, "instance", params["InstanceId"]), ctx)]


def _by_association(call: Call, association_id: str) -> dict[str, Any] | None:
    for rec in call.store.scan(r.INSTANCE):
        a = rec.value.get("Association")
        if a and a["AssociationId"] == association_id and rec.value["Account"] == call.principal.account:
            return rec.value
    return None


def _association_action(action: str, by_association: bool, passes: bool) -> AuthzFn:
    def authz(call: Call, params: dict[str, Any]) -> list[Access]:
        instance = (_by_association(call, params["AssociationId"]) if by_association
                    else _instance(call, params["InstanceId"]))
        instance_id = instance["InstanceId"] if instance else params.get("InstanceId", "*")
        checks = [Access(action, _arn(call, "instance", instance_id), _instance_context(call, instance))]
        if passes:
            _, role = _profile_role(call, params["IamInstanceProfile"])
            if role is not None:
                checks.append(pass_role(role["Arn"], "ec2.amazonaws.com"))
        return checks

    return authz


def _tagging(action: str) -> AuthzFn:
    def authz(call: Call, params: dict[str, Any]) -> list[Access]:
        ctx = _request_tags(params.get("Tags") or [])
        checks = []
        for resource in dict.fromkeys(params["Resources"]):
            kind = resource_type(resource)
            extra = _instance_context(call, _instance(call, resource)) if kind == "instance" else {}
            checks.append(Access(action, _arn(call, kind, resource), {**extra, **ctx}))
        return checks

    return authz


def _key_pair(action: str) -> AuthzFn:
    def authz(call: Call, params: dict[str, Any]) -> list[Access]:
        name = params.get("KeyName") or params.get("KeyPairId") or "*"
        return [Access(action, _arn(call, "key-pair", name), {"ec2:Region": call.region,
                                                              **_request_tags(_spec_tags(params))})]

    return authz


def _spec_tags(params: dict[str, Any]) -> list[dict[str, Any]]:
    return [t for spec in params.get("TagSpecifications") or [] for t in spec.get("Tags") or []]


AUTHZ: dict[str, AuthzFn] = {
    "RunInstances": run_instances,
    "StartInstances": _on_instances("ec2:StartInstances"),
    "StopInstances": _on_instances("ec2:StopInstances"),
    "TerminateInstances": _on_instances("ec2:TerminateInstances"),
    "RebootInstances": _on_instances("ec2:RebootInstances"),
    "ModifyInstanceMetadataOptions": modify_metadata_options,
    "AssociateIamInstanceProfile": _association_action("ec2:AssociateIamInstanceProfile", False, True),
    "ReplaceIamInstanceProfileAssociation": _association_action("ec2:ReplaceIamInstanceProfileAssociation", True,
                                                                True),
    "DisassociateIamInstanceProfile": _association_action("ec2:DisassociateIamInstanceProfile", True, False),
    "CreateTags": _tagging("ec2:CreateTags"),
    "DeleteTags": _tagging("ec2:DeleteTags"),
    "CreateKeyPair": _key_pair("ec2:CreateKeyPair"),
    "ImportKeyPair": _key_pair("ec2:ImportKeyPair"),
    "DeleteKeyPair": _key_pair("ec2:DeleteKeyPair"),
}
