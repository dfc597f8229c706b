"""Instance profile associations: how an instance gets (and loses) its role.

An instance has at most one association. Its metadata service reads the instance
record on every request, so associating, replacing or removing a profile changes the
credentials IMDS hands out at once; credentials already handed out keep working until
they expire, as on AWS.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from skyhold.errors import AwsError
from skyhold.services.ec2 import filters
from skyhold.services.ec2 import records as r

if TYPE_CHECKING:
    from skyhold.pipeline import Call


def new(profile: dict[str, Any]) -> dict[str, Any]:
    return {"AssociationId": r.new_id("iip-assoc"), "InstanceProfileArn": profile["Arn"],
            "InstanceProfileId": profile["InstanceProfileId"], "State": "associated"}


def view(instance: dict[str, Any], state: str | None = None) -> dict[str, Any]:
    a = instance["Association"]
    return {"AssociationId": a["AssociationId"], "InstanceId": instance["InstanceId"],
            "IamInstanceProfile": {"Arn": a["InstanceProfileArn"], "Id": a["InstanceProfileId"]},
            "State": state or a["State"]}


def by_id(call: Call, association_id: str) -> tuple[dict[str, Any], int]:
    """The instance holding an association (in the caller's account and region)."""
    for instance in r.instances(call):
        a = instance.get("Association")
        if a and a["AssociationId"] == association_id:
            return r.find(call, instance["InstanceId"])
    raise AwsError("InvalidAssociationID.NotFound", f"An association with ID {association_id} does not exist.")


def associate_iam_instance_profile(call: Call, params: dict[str, Any]) -> dict[str, Any]:
    instance, version = r.find(call, params["InstanceId"])
    if instance["State"] not in ("pending", "running", "stopping", "stopped"):
        raise AwsError("IncorrectInstanceState", f"The instance '{instance['InstanceId']}' is not in a valid state "
                       "for this operation.")
    if instance.get("Association"):
        raise AwsError("IncorrectState", f"There is an existing association for instance {instance['InstanceId']}")
    instance["Association"] = new(r.profile_by_ref(call, params["IamInstanceProfile"]))
    r.save(call, instance, version)
    return {"IamInstanceProfileAssociation": view(instance, "associating")}


def replace_iam_instance_profile_association(call: Call, params: dict[str, Any]) -> dict[str, Any]:
    instance, version = by_id(call, params["AssociationId"])
    instance["Association"] = new(r.profile_by_ref(call, params["IamInstanceProfile"]))
    r.save(call, instance, version)
    return {"IamInstanceProfileAssociation": view(instance, "associating")}


def disassociate_iam_instance_profile(call: Call, params: dict[str, Any]) -> dict[str, Any]:
    instance, version = by_id(call, params["AssociationId"])
    out = view(instance, "disassociating")
    instance["Association"] = None
    r.save(call, instance, version)
    return {"IamInstanceProfileAssociation": out}


_FIELDS: filters.Fields = {"instance-id": lambda a: [a["InstanceId"]], "state": lambda a: [a["State"]]}


def describe_iam_instance_profile_associations(call: Call, params: dict[str, Any]) -> dict[str, Any]:
    found = [view(i) for i in r.instances(call) if i.get("Association")]
    wanted = params.get("AssociationIds")
    if wanted:
        missing = [a for a in wanted if a not in {f["AssociationId"] for f in found}]
        if missing:
            raise AwsError("InvalidAssociationID.NotFound", f"An association with ID {missing[0]} does not exist.")
        found = [f for f in found if f["AssociationId"] in wanted]
    found = filters.select(found, params.get("Filters"), _FIELDS)
    start = int(params["NextToken"]) if (params.get("NextToken") or "").isdigit() else 0
    limit = params.get("MaxResults") or len(found) or 1
    out: dict[str, Any] = {"IamInstanceProfileAssociations": found[start:start + limit]}
    if start + limit < len(found):
        out["NextToken"] = str(start + limit)
    return out


HANDLERS = {
    "AssociateIamInstanceProfile": associate_iam_instance_profile,
    "ReplaceIamInstanceProfileAssociation": replace_iam_instance_profile_association,
    "DisassociateIamInstanceProfile": disassociate_iam_instance_profile,
    "DescribeIamInstanceProfileAssociations": describe_iam_instance_profile_associations,
}
