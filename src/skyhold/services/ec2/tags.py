"""CreateTags / DeleteTags / DescribeTags over the resources Skyhold's EC2 has:
instances, their root volumes, key pairs, and the default VPC, its subnets and
security group."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from skyhold.errors import AwsError, invalid_parameter_value
from skyhold.services.ec2 import filters
from skyhold.services.ec2 import records as r

if TYPE_CHECKING:
    from skyhold.pipeline import Call

MAX_TAGS = 50
MAX_KEY, MAX_VALUE = 128, 256  # characters
_TYPES = {"i": "instance", "vpc": "vpc", "subnet": "subnet", "sg": "security-group", "key": "key-pair",
          "vol": "volume"}


def resource_type(resource_id: str) -> str:
    kind = _TYPES.get(resource_id.split("-", 1)[0])
    if kind is None or "-" not in resource_id:
        raise AwsError("InvalidID", f'The ID \'{resource_id}\' is not valid')
    return kind


def as_dict(tags: Any) -> dict[str, str]:
    return dict(tags) if isinstance(tags, dict) else {t["Key"]: t.get("Value", "") for t in tags or []}


def as_list(tags: dict[str, str]) -> list[dict[str, str]]:
    return [{"Key": k, "Value": v} for k, v in tags.items()]


def check_keys(tags: list[dict[str, Any]]) -> None:
    """Every tag a request names (to set, delete or launch with) has a key: EC2's model
    does not mark Key required, EC2 itself refuses a tag without one."""
    if any(not tag.get("Key") for tag in tags):
        raise invalid_parameter_value("Value ( '' ) for parameter Tag key is invalid. "
                                      "Tag key cannot be null or empty.")


def check_new(tags: list[dict[str, Any]], existing: dict[str, str] | None = None) -> None:
    """AWS's rules for tags a caller sets: keys of up to 128 characters, values of up
    to 256, `aws:` keys are reserved, at most 50."""
    for tag in tags:
        if len(tag["Key"]) > MAX_KEY:
            raise AwsError("InvalidParameterValue", f"Tag key exceeds the maximum length of {MAX_KEY} characters")
        if len(tag.get("Value") or "") > MAX_VALUE:
            raise AwsError("InvalidParameterValue", f"Tag value exceeds the maximum length of {MAX_VALUE} characters")
        if tag["Key"].lower().startswith("aws:"):
            raise AwsError("InvalidParameterValue", "Tag keys starting with 'aws:' are reserved for internal use")
    if len({**(existing or {}), **as_dict(tags)}) > MAX_TAGS:
        raise AwsError("TagLimitExceeded", f"The maximum number of Tags for a resource has been reached. "
                       f"(Maximum {MAX_TAGS})")


def check_spec(spec: dict[str, Any]) -> list[dict[str, Any]]:
    """The tags of one TagSpecification, which AWS refuses empty; each is then held to
    the rules of check_new, whatever the resource type."""
    found = spec.get("Tags") or []
    if not found:
        raise AwsError("InvalidTagKey.Malformed", "Tag specification must have at least one tag")
    check_new(found)
    return found


def check_not_reserved(tags: list[dict[str, Any]]) -> None:
    """CreateTags and DeleteTags refuse `aws:` keys (AWS's own, e.g. CloudFormation's)
    naming the first; tags given at launch are refused in check_new's shorter words."""
    reserved = next((t["Key"] for t in tags if t["Key"].lower().startswith("aws:")), None)
    if reserved is not None:
        raise invalid_parameter_value(f"Value ( {reserved} ) for parameter key is invalid. "
                                      "Tag keys starting with 'aws:' are reserved for internal use")


def _holder(call: Call, resource_id: str) -> tuple[dict[str, str], Callable[[dict[str, str]], None]]:
    """The resource's tags now, and how to store new ones."""
    kind = resource_type(resource_id)
    if kind == "instance":
        instance, version = r.find(call, resource_id)

        def save_instance(tags: dict[str, str]) -> None:
            r.save(call, {**instance, "Tags": as_list(tags)}, version)

        return as_dict(instance.get("Tags")), save_instance
    if kind == "volume":  # a root volume's tags are kept with its instance
        owner, owner_version = r.volume_owner(call, resource_id)

        def save_volume(tags: dict[str, str]) -> None:
            r.save(call, {**owner, "VolumeTags": as_list(tags)}, owner_version)

        return as_dict(owner.get("VolumeTags")), save_volume
    if kind == "key-pair":
        prefix = f"{call.principal.account}/{call.region}/"
        for rec in call.store.scan(r.KEY_PAIR, prefix):
            if rec.value["KeyPairId"] == resource_id:
                found = rec

                def save_pair(tags: dict[str, str]) -> None:
                    call.store.put(r.KEY_PAIR, found.key, {**found.value, "Tags": as_list(tags)},
                                   expect_version=found.version)

                return as_dict(found.value.get("Tags")), save_pair
        raise AwsError("InvalidKeyPair.NotFound", f"The key pair ID '{resource_id}' does not exist")
    key = f"{call.principal.account}/{call.region}"
    net = r.default_network(call.store, call.principal.account, call.region)
    ids = {net["VpcId"], net["GroupId"], *(s["SubnetId"] for s in net["Subnets"])}
    if resource_id not in ids:
        code = {"vpc": "InvalidVpcID.NotFound", "subnet": "InvalidSubnetID.NotFound",
                "security-group": "InvalidGroup.NotFound"}[kind]
        noun = {"vpc": "vpc ID", "subnet": "subnet ID", "security-group": "security group"}[kind]
        raise AwsError(code, f"The {noun} '{resource_id}' does not exist")

    def save_network(tags: dict[str, str]) -> None:
        rec = call.store.get(r.NETWORK, key)
        assert rec is not None
        call.store.put(r.NETWORK, key, {**rec.value, "Tags": {**rec.value.get("Tags", {}), resource_id: tags}},
                       expect_version=rec.version)

    return dict((net.get("Tags") or {}).get(resource_id, {})), save_network


def create_tags(call: Call, params: dict[str, Any]) -> dict[str, Any]:
    check_not_reserved(params["Tags"])
    holders = [_holder(call, resource) for resource in dict.fromkeys(params["Resources"])]  # all found before any change
    for tags, save in holders:
        check_new(params["Tags"], tags)
    for tags, save in holders:
        save({**tags, **{t["Key"]: t.get("Value", "") for t in params["Tags"]}})
    return {}


def delete_tags(call: Call, params: dict[str, Any]) -> dict[str, Any]:
    drop = params.get("Tags")
    check_not_reserved(drop or [])
    for tags, save in [_holder(call, resource) for resource in dict.fromkeys(params["Resources"])]:
        # No Tags parameter deletes every tag; a tag given without Value goes whatever its value.
        kept = {k: v for k, v in tags.items()
                if drop is not None and not any(d["Key"] == k and d.get("Value") in (None, v) for d in drop)}
        save(kept)
    return {}


_FIELDS: filters.Fields = {
    "resource-id": lambda t: [t["ResourceId"]], "resource-type": lambda t: [t["ResourceType"]],
    "key": lambda t: [t["Key"]], "value": lambda t: [t["Value"]],
}


def describe_tags(call: Call, params: dict[str, Any]) -> dict[str, Any]:
    # Each resource's tags, by id and type: `tag:<key>` keeps the tags of the resources
    # that carry that tag ("to find resources with the tag Owner=TeamA").
    tagged: list[tuple[str, str, dict[str, str]]] = []
    for instance in r.instances(call):
        tagged.append((instance["InstanceId"], "instance", as_dict(instance.get("Tags"))))
        if instance["State"] != "terminated":
            tagged.append((instance["VolumeId"], "volume", as_dict(instance.get("VolumeTags"))))
    for rec in call.store.scan(r.KEY_PAIR, f"{call.principal.account}/{call.region}/"):
        tagged.append((rec.value["KeyPairId"], "key-pair", as_dict(rec.value.get("Tags"))))
    net = call.store.get(r.NETWORK, f"{call.principal.account}/{call.region}")
    for resource_id, tags in ((net.value.get("Tags") or {}) if net else {}).items():
        tagged.append((resource_id, resource_type(resource_id), dict(tags)))
    filters.check(params.get("Filters"), _FIELDS)
    found = [{"ResourceId": resource_id, "ResourceType": kind, "Key": k, "Value": v}
             for resource_id, kind, tags in tagged for k, v in tags.items()
             if filters.matches({"ResourceId": resource_id, "ResourceType": kind, "Key": k, "Value": v,
                                 "Tags": tags}, params.get("Filters"), _FIELDS)]
    found.sort(key=lambda t: (t["ResourceId"], t["Key"]))
    return {"Tags": found}


HANDLERS = {
    "CreateTags": create_tags,
    "DeleteTags": delete_tags,
    "DescribeTags": describe_tags,
}
