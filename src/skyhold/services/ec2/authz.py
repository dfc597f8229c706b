"""What each EC2 operation means to IAM: the resources it touches (one Access each, as
EC2 authorizes every resource of a request separately) and their condition keys.

RunInstances is the rich one: the new instance (instance/*) carries the launch's
settings — ec2:InstanceType, ec2:MetadataHttpTokens, ec2:InstanceProfile … — while the
image, subnet, security group, key pair, volume and network interface are checked as
their own resources, so a statement keyed on ec2:MetadataHttpTokens must name
instance/* only, exactly as on AWS. Handing over a profile needs iam:PassRole on its
role. Every existing resource a check names carries its stored tags (ec2:ResourceTag/<key>
and aws:ResourceTag/<key>); each TagSpecification's tags are request tags of the resource
type it names only, and tagging on creation needs ec2:CreateTags on each tagged type
with ec2:CreateAction naming the creating action.
Describe* operations need their action on "*" (EC2 has no resource-level describe).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from skyhold.authz import Access
from skyhold.errors import AwsError
from skyhold.policy import tagging
from skyhold.services.ec2 import records as r
from skyhold.services.ec2.tags import check_keys, resource_type
from skyhold.services.iam import pass_role

if TYPE_CHECKING:
    from skyhold.pipeline import Call
    from skyhold.services.ec2.launch import Target

AuthzFn = Callable[["Call", dict[str, Any]], list[Access]]


def _arn(call: Call, kind: str, resource_id: str) -> str:
    return r.resource_arn(call.region, call.principal.account, kind, resource_id)


def _request_tags(tags: list[dict[str, Any]]) -> dict[str, Any]:
    check_keys(tags)  # a tag without a key is refused before it is authorized
    return tagging.request_tags(tagging.pairs(tags))


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
    # The reference's keys of the instance resource: ec2:InstanceID among them, ec2:Vpc not.
    ctx = {"ec2:Region": call.region, "ec2:InstanceID": instance["InstanceId"],
           "ec2:InstanceType": instance["InstanceType"], "ec2:AvailabilityZone": instance["AvailabilityZone"],
           "ec2:AvailabilityZoneId": r.zone_id(instance["Region"], instance["AvailabilityZone"][-1]),
           "ec2:Tenancy": "default", "ec2:RootDeviceType": "ebs",
           **_metadata_keys(instance["MetadataOptions"]), **_resource_tags(instance.get("Tags"))}
    if instance.get("Association"):
        ctx["ec2:InstanceProfile"] = instance["Association"]["InstanceProfileArn"]
    return ctx


def _instance(call: Call, instance_id: str) -> dict[str, Any] | None:
    rec = call.store.get(r.INSTANCE, instance_id)
    if rec is None or rec.value["Account"] != call.principal.account:
        return None
    return rec.value


# The resource types RunInstances tags through TagSpecifications (others are the handler's to refuse).
_LAUNCH_TAGGED = ("instance", "volume", "network-interface")


def _spec_tags(params: dict[str, Any], kind: str) -> list[dict[str, Any]]:
    """The tags of the TagSpecifications naming `kind`: AWS holds each specification's
    tags to the resource type it names, never to the others created alongside."""
    return [t for spec in params.get("TagSpecifications") or [] if spec.get("ResourceType") == kind
            for t in spec.get("Tags") or []]


def _create_tags(call: Call, action: str, arn: str, tags: list[dict[str, Any]]) -> list[Access]:
    """The extra ec2:CreateTags check AWS makes when a creating action tags what it creates."""
    if not tags:
        return []
    return [Access("ec2:CreateTags", arn, {"ec2:Region": call.region, "ec2:CreateAction": action,
                                           **_request_tags(tags)})]


def _key_pair_record(call: Call, *, name: str | None = None, pair_id: str | None = None) -> dict[str, Any] | None:
    """The caller's key pair in the call's region, by name or by id; None if there is none."""
    prefix = f"{call.principal.account}/{call.region}/"
    if name is not None:
        rec = call.store.get(r.KEY_PAIR, prefix + name)
        return rec.value if rec else None
    return next((rec.value for rec in call.store.scan(r.KEY_PAIR, prefix) if rec.value["KeyPairId"] == pair_id),
                None)


def _key_pair_context(call: Call, pair: dict[str, Any] | None) -> dict[str, Any]:
    if pair is None:
        return {"ec2:Region": call.region}
    return {"ec2:Region": call.region, "ec2:KeyPairName": pair["KeyName"], "ec2:KeyPairType": pair["KeyType"],
            **_resource_tags(pair.get("Tags"))}


def _network_context(call: Call, kind: str, resource_id: str) -> dict[str, Any]:
    """The condition keys of the default VPC, one of its subnets or its security group
    (just ec2:Region for an id the account does not have)."""
    net = r.default_network(call.store, call.principal.account, call.region)
    vpc = _arn(call, "vpc", net["VpcId"])
    ctx: dict[str, Any] = {"ec2:Region": call.region}
    if kind == "vpc" and resource_id == net["VpcId"]:
        ctx.update({"ec2:VpcID": resource_id, "ec2:Tenancy": "default"})
    elif kind == "subnet":
        subnet = next((s for s in net["Subnets"] if s["SubnetId"] == resource_id), None)
        if subnet is None:
            return ctx
        ctx.update({"ec2:SubnetID": resource_id, "ec2:Vpc": vpc, "ec2:AvailabilityZone": subnet["Zone"],
                    "ec2:AvailabilityZoneId": r.zone_id(call.region, subnet["Zone"][-1])})
    elif kind == "security-group" and resource_id == net["GroupId"]:
        ctx.update({"ec2:SecurityGroupID": resource_id, "ec2:Vpc": vpc})
    else:
        return ctx
    return {**ctx, **_resource_tags((net.get("Tags") or {}).get(resource_id, {}))}


def _existing(call: Call, resource_id: str) -> tuple[str, dict[str, Any]]:
    """The ARN and condition keys (its stored tags among them) of an existing resource
    named by id, as CreateTags and DeleteTags name them."""
    kind = resource_type(resource_id)
    if kind == "instance":
        return _arn(call, kind, resource_id), _instance_context(call, _instance(call, resource_id))
    if kind == "key-pair":
        # A key pair's ARN names it by name, though CreateTags names it by id.
        pair = _key_pair_record(call, pair_id=resource_id)
        return _arn(call, kind, pair["KeyName"] if pair else resource_id), _key_pair_context(call, pair)
    if kind == "volume":
        try:
            owner, _ = r.volume_owner(call, resource_id)
        except AwsError:
            return _arn(call, kind, resource_id), {"ec2:Region": call.region}
        return _arn(call, kind, resource_id), {"ec2:Region": call.region, "ec2:VolumeType": "gp3",
                                               "ec2:AvailabilityZone": owner["AvailabilityZone"],
                                               **_resource_tags(owner.get("VolumeTags"))}
    return _arn(call, kind, resource_id), _network_context(call, kind, resource_id)


def run_instances(call: Call, params: dict[str, Any]) -> list[Access]:
    from skyhold.services.ec2 import instances, launch

    image = r.IMAGES.get(params.get("ImageId") or "", {})
    where = launch.target(call, params, strict=False)  # the subnet, zone and groups the instance goes into
    vpc = _arn(call, "vpc", r.default_network(call.store, call.principal.account, call.region)["VpcId"])
    subnet = _network_context(call, "subnet", where.subnet_id)
    tagged = {kind: _spec_tags(params, kind) for kind in _LAUNCH_TAGGED}
    try:
        options = instances.metadata_options(params.get("MetadataOptions") or {}, image)
    except Exception:  # invalid options are the handler's error to report
        options = {}
    zone = {"ec2:AvailabilityZone": where.zone, "ec2:AvailabilityZoneId": r.zone_id(call.region, where.zone[-1])}
    # ec2:Vpc is no key of the instance resource (the reference lists it for subnets,
    # security groups and network interfaces): a policy scopes the VPC there.
    launch_ctx = {"ec2:Region": call.region, "ec2:InstanceType": params.get("InstanceType") or "m1.small",
                  **zone, "ec2:Tenancy": "default", "ec2:RootDeviceType": "ebs", **_metadata_keys(options),
                  **_request_tags(tagged["instance"])}
    role = None
    if params.get("IamInstanceProfile"):
        profile, role = _profile_role(call, params["IamInstanceProfile"])
        launch_ctx["ec2:InstanceProfile"] = profile["Arn"]
    checks = [
        Access("ec2:RunInstances", _arn(call, "instance", "*"), launch_ctx),
        Access("ec2:RunInstances", f"arn:aws:ec2:{call.region}::image/{params.get('ImageId')}",
               {"ec2:Region": call.region, "ec2:ImageType": "machine", "ec2:Owner": image.get("ImageOwnerAlias")
                or image.get("OwnerId", ""), "ec2:Public": "true", "ec2:RootDeviceType": "ebs"}),
        Access("ec2:RunInstances", _arn(call, "subnet", where.subnet_id), subnet),
        *(Access("ec2:RunInstances", _arn(call, "security-group", gid), _network_context(call, "security-group", gid))
          for gid in where.group_ids),
        Access("ec2:RunInstances", _arn(call, "network-interface", "*"), _new_interface(call, where, vpc, tagged)),
        Access("ec2:RunInstances", _arn(call, "volume", "*"),
               {"ec2:Region": call.region, "ec2:VolumeType": "gp3", **zone, **_request_tags(tagged["volume"])}),
    ]
    if params.get("KeyName"):
        checks.append(Access("ec2:RunInstances", _arn(call, "key-pair", params["KeyName"]),
                             _key_pair_context(call, _key_pair_record(call, name=params["KeyName"]))))
    for kind, tags in tagged.items():
        checks += _create_tags(call, "RunInstances", _arn(call, kind, "*"), tags)
    if role is not None:
        # The instance has no id yet: EC2 supplies instance/* as iam:AssociatedResourceArn.
        checks.append(pass_role(role, "ec2.amazonaws.com", _arn(call, "instance", "*")))
    return checks


def _new_interface(call: Call, where: Target, vpc: str, tagged: dict[str, list[dict[str, Any]]]) -> dict[str, Any]:
    """The new primary network interface's keys: its VPC, subnet and zone, and whether
    the launch asks it for a public address."""
    ctx = {"ec2:Region": call.region, "ec2:Vpc": vpc, "ec2:Subnet": _arn(call, "subnet", where.subnet_id),
           "ec2:AvailabilityZone": where.zone, **_request_tags(tagged["network-interface"])}
    if where.interface.get("AssociatePublicIpAddress") is not None:
        ctx["ec2:AssociatePublicIpAddress"] = str(where.interface["AssociatePublicIpAddress"]).lower()
    return ctx


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
                checks.append(pass_role(role, "ec2.amazonaws.com", _arn(call, "instance", instance_id)))
        return checks

    return authz


def _tagging(action: str) -> AuthzFn:
    def authz(call: Call, params: dict[str, Any]) -> list[Access]:
        ctx = _request_tags(params.get("Tags") or [])
        checks = []
        for resource in dict.fromkeys(params["Resources"]):
            arn, existing = _existing(call, resource)
            checks.append(Access(action, arn, {**existing, **ctx}))
        return checks

    return authz


def _new_key_pair(action: str) -> AuthzFn:
    def authz(call: Call, params: dict[str, Any]) -> list[Access]:
        arn, tags = _arn(call, "key-pair", params["KeyName"]), _spec_tags(params, "key-pair")
        ctx = {"ec2:Region": call.region, **_request_tags(tags)}
        if action == "ec2:CreateKeyPair":
            ctx["ec2:KeyPairType"] = params.get("KeyType") or "rsa"
        return [Access(action, arn, ctx), *_create_tags(call, action.split(":", 1)[1], arn, tags)]

    return authz


def delete_key_pair(call: Call, params: dict[str, Any]) -> list[Access]:
    pair = (_key_pair_record(call, name=params["KeyName"]) if params.get("KeyName")
            else _key_pair_record(call, pair_id=params.get("KeyPairId")))
    name = pair["KeyName"] if pair else params.get("KeyName") or params.get("KeyPairId") or "*"
    return [Access("ec2:DeleteKeyPair", _arn(call, "key-pair", name), _key_pair_context(call, pair))]


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
    "CreateKeyPair": _new_key_pair("ec2:CreateKeyPair"),
    "ImportKeyPair": _new_key_pair("ec2:ImportKeyPair"),
    "DeleteKeyPair": delete_key_pair,
}
