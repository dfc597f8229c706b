"""The condition keys a Secrets Manager request carries.

Each key is filled from the request member it names, when the request supplies it,
in the type the Service Authorization Reference gives it (Bool as "true"/"false",
Numeric as the number's text, ArrayOfString as a list). Only the keys the reference
lists for the action are kept: e.g. secretsmanager:KmsKeyId is CreateSecret's and
UpdateSecret's, so a condition on it sees it missing on GetSecretValue, as in AWS.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from skyhold.errors import AwsError
from skyhold.policy import reference, tagging
from skyhold.services.kms import records as kms_records

if TYPE_CHECKING:
    from skyhold.pipeline import Call

SERVICE = "secretsmanager"


def _flag(value: Any) -> str | None:
    return None if value is None else ("true" if value else "false")


def _member(name: str) -> Callable[[dict[str, Any]], Any]:
    return lambda params: params.get(name)


def _flag_of(name: str) -> Callable[[dict[str, Any]], Any]:
    return lambda params: _flag(params.get(name))


# condition key → its value in a request (None: the request does not supply it)
_FROM_REQUEST: dict[str, Callable[[dict[str, Any]], Any]] = {
    "secretsmanager:Name": _member("Name"),
    "secretsmanager:Description": _member("Description"),
    "secretsmanager:KmsKeyId": _member("KmsKeyId"),
    "secretsmanager:Type": _member("Type"),
    "secretsmanager:VersionId": _member("VersionId"),
    "secretsmanager:VersionStage": _member("VersionStage"),
    "secretsmanager:RotationLambdaARN": _member("RotationLambdaARN"),
    "secretsmanager:ExternalSecretRotationRoleArn": _member("ExternalSecretRotationRoleArn"),
    "secretsmanager:ForceDeleteWithoutRecovery": _flag_of("ForceDeleteWithoutRecovery"),
    "secretsmanager:ForceOverwriteReplicaSecret": _flag_of("ForceOverwriteReplicaSecret"),
    "secretsmanager:BlockPublicPolicy": _flag_of("BlockPublicPolicy"),
    "secretsmanager:RotateImmediately": _flag_of("RotateImmediately"),
    # whether this request changes the rotation schedule: it does exactly when it brings rules
    "secretsmanager:ModifyRotationRules": lambda params: _flag("RotationRules" in params),
    "secretsmanager:RecoveryWindowInDays": lambda params: (None if params.get("RecoveryWindowInDays") is None
                                                           else str(params["RecoveryWindowInDays"])),
    "secretsmanager:AddReplicaRegions": lambda params: ([r.get("Region") for r in params["AddReplicaRegions"]]
                                                        if params.get("AddReplicaRegions") else None),
}


def request_context(call: Call, operation: str, params: dict[str, Any]) -> dict[str, Any]:
    """The keys `operation`'s request supplies (its tags as aws:RequestTag/… and
    aws:TagKeys; UntagResource's TagKeys as aws:TagKeys)."""
    ctx = tagging.request_tags(tagging.pairs(params.get("Tags")), params.get("TagKeys") or ())
    for key, pick in _FROM_REQUEST.items():
        if (value := pick(params)) is not None:
            ctx[key] = value
    if params.get("KmsKeyId") and "secretsmanager:KmsKeyArn" in reference.condition_keys(SERVICE, operation):
        try:
            ctx["secretsmanager:KmsKeyArn"] = kms_records.find(call, params["KmsKeyId"])[0]["Arn"]
        except AwsError:
            pass  # no such key: the handler refuses the request after authorization
    return documented(operation, ctx)


def documented(operation: str, ctx: dict[str, Any]) -> dict[str, Any]:
    return reference.keep_documented(ctx, SERVICE, operation)
