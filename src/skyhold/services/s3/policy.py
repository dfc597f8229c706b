"""Bucket policies: Put (validated as S3 validates), Get, Delete, and policy status."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from skyhold.errors import AwsError
from skyhold.policy import reference
from skyhold.policy import validate as v
from skyhold.policy.validate import validate_policy
from skyhold.policy.wildcard import has_wildcard
from skyhold.services.iam import principals
from skyhold.services.s3 import errors, public_access, records

if TYPE_CHECKING:
    from skyhold.pipeline import Call
    from skyhold.store.base import Store

# IAM's MalformedPolicyDocument messages → S3's MalformedPolicy wording.
_S3_WORDS = {
    v.SYNTAX: "Invalid policy syntax.",
    v.LEGACY: "Invalid policy syntax.",
    v.VERSION: "Invalid policy syntax.",
    v.PRINCIPAL_MISSING: "Missing required field Principal",
    v.SID_UNIQUE: "Statement IDs (SID) in a single policy must be unique.",
    v.NO_ACTIONS: "Missing required field Action",
    v.NO_RESOURCES: "Missing required field Resource",
    v.NO_VENDOR: "Policy has invalid action",
    v.ONE_COLON: "Policy has invalid action",
    v.RESOURCE_VENDOR: "Policy has invalid resource",
}
_NOT_JSON = "Policies must be valid JSON and the first byte must be '{'"
_BLOCKED = "because public policies are blocked by the BlockPublicPolicy block public access setting."
# AWS's documented limit ("The maximum size of a policy is 20 KB"), counted without
# the whitespace between tokens: S3 normalizes a policy before it measures it, so
# indentation does not count. The error's wording is not in AWS's documentation:
# S3's MalformedPolicy, worded as S3-compatible servers word it.
MAX_POLICY_BYTES = 20 * 1024
_TOO_LARGE = "Policy exceeds the maximum allowed document size."
# The bucket record keeps the policy's principals bound to their unique ids beside it.
BINDING = "PolicyBinding"
principals.STORED.append((records.BUCKET, "Policy", BINDING))


def _as_list(x: Any) -> list[Any]:
    return x if isinstance(x, list) else [] if x is None else [x]


def check_policy(store: Store, bucket: str, text: str) -> dict[str, Any]:
    """Validate a bucket policy like S3: JSON, IAM grammar, then S3's own rules (its
    resources are this bucket and its objects, its actions are S3's)."""
    if not text.lstrip().startswith("{"):
        raise errors.malformed_policy(_NOT_JSON)
    try:
        parsed = json.loads(text)
    except (ValueError, RecursionError):  # RecursionError: nesting deeper than the parser goes
        raise errors.malformed_policy(_NOT_JSON) from None
    if _size(parsed) > MAX_POLICY_BYTES:
        raise errors.malformed_policy(_TOO_LARGE)
    if isinstance(parsed, dict) and "Statement" not in parsed:
        raise errors.malformed_policy("Missing required field Statement")
    try:
        doc = validate_policy(text, "resource")
    except AwsError as err:
        raise errors.malformed_policy(_S3_WORDS.get(err.message, "Invalid policy syntax.")) from None
    statements = doc["Statement"] if isinstance(doc["Statement"], list) else [doc["Statement"]]
    own = records.bucket_arn(bucket)
    for st in statements:
        for action in _as_list(st.get("Action")) + _as_list(st.get("NotAction")):
            if action != "*" and not str(action).lower().startswith("s3:"):
                raise errors.malformed_policy("Policy has invalid action")
        for res in _as_list(st.get("Resource")) + _as_list(st.get("NotResource")):
            if res != "*" and res != own and not str(res).startswith(own + "/"):
                raise errors.malformed_policy("Policy has invalid resource")
        if not _actions_apply(st, own):
            raise errors.malformed_policy("Action does not apply to any resource(s) in statement")
        for who in _principals(st):
            if not principals.exists(store, who):
                raise errors.malformed_policy("Invalid principal in policy")
    return doc


def _actions_apply(st: dict[str, Any], own: str) -> bool:
    """Whether each action the statement names applies to one of its resources: S3
    refuses s3:GetObject on the bucket's ARN or s3:ListBucket on its objects (the
    S3 User Guide's bucket and object ARNs). Actions with a wildcard or none of the
    reference's resource types, NotAction, NotResource and "*" are left alone."""
    resources = _as_list(st.get("Resource"))
    if "Action" not in st or "*" in resources:
        return True
    kinds = {"bucket" if res == own else "object" for res in resources}
    for action in _as_list(st["Action"]):
        service, _, name = str(action).partition(":")
        if service.lower() != "s3" or has_wildcard(name):
            continue
        types = reference.resource_types("s3", name)
        if types and not types & kinds:
            return False
    return True


def _size(parsed: Any) -> int:
    """Bytes of the document with the whitespace between its tokens taken out."""
    return len(json.dumps(parsed, separators=(",", ":"), ensure_ascii=False).encode("utf-8"))


def _principals(st: dict[str, Any]) -> list[str]:
    p = st.get("Principal", st.get("NotPrincipal"))
    if p == "*":
        return []
    if isinstance(p, dict):
        return [str(x) for x in _as_list(p.get("AWS"))]
    return []


def put_bucket_policy(call: Call, params: dict[str, Any]) -> dict[str, Any]:
    name = params["Bucket"]
    bucket = records.get_bucket(call.store, name).value
    text = params.get("Policy") or ""
    if isinstance(text, bytes):
        text = text.decode("utf-8", "replace")
    check_policy(call.store, name, text)
    if public_access.is_public_policy(text) and public_access.effective(call.store, bucket)["BlockPublicPolicy"]:
        who = call.principal.arn
        raise errors.access_denied(f'User: {who} is not authorized to perform: s3:PutBucketPolicy on resource: '
                                   f'"{records.bucket_arn(name)}" {_BLOCKED}')
    records.update_bucket(call.store, name, Policy=text, **{BINDING: principals.bind(call.store, text)})
    call.extras["http_status"] = 204
    return {}


def get_bucket_policy(call: Call, params: dict[str, Any]) -> dict[str, Any]:
    bucket = records.get_bucket(call.store, params["Bucket"]).value
    if not bucket.get("Policy"):
        raise errors.no_such_bucket_policy(params["Bucket"])
    return {"Policy": principals.displayed(call.store, bucket["Policy"], bucket.get(BINDING))}


def delete_bucket_policy(call: Call, params: dict[str, Any]) -> dict[str, Any]:
    records.get_bucket(call.store, params["Bucket"])
    records.update_bucket(call.store, params["Bucket"], Policy=None, **{BINDING: None})
    call.extras["http_status"] = 204
    return {}


def get_bucket_policy_status(call: Call, params: dict[str, Any]) -> dict[str, Any]:
    bucket = records.get_bucket(call.store, params["Bucket"]).value
    if not bucket.get("Policy"):
        raise errors.no_such_bucket_policy(params["Bucket"])
    return {"PolicyStatus": {"IsPublic": public_access.is_public_policy(bucket["Policy"])}}


def put_public_access_block(call: Call, params: dict[str, Any]) -> dict[str, Any]:
    config = params.get("PublicAccessBlockConfiguration") or {}
    records.get_bucket(call.store, params["Bucket"])
    records.update_bucket(call.store, params["Bucket"],
                          PublicAccessBlock={k: bool(config.get(k, False)) for k in public_access.SETTINGS})
    return {}


def get_public_access_block(call: Call, params: dict[str, Any]) -> dict[str, Any]:
    bucket = records.get_bucket(call.store, params["Bucket"]).value
    if bucket.get("PublicAccessBlock") is None:
        raise errors.no_such_public_access_block(params["Bucket"])
    return {"PublicAccessBlockConfiguration": dict(bucket["PublicAccessBlock"])}


def delete_public_access_block(call: Call, params: dict[str, Any]) -> dict[str, Any]:
    records.get_bucket(call.store, params["Bucket"])
    records.update_bucket(call.store, params["Bucket"], PublicAccessBlock=None)
    call.extras["http_status"] = 204
    return {}


HANDLERS = {
    "PutBucketPolicy": put_bucket_policy,
    "GetBucketPolicy": get_bucket_policy,
    "DeleteBucketPolicy": delete_bucket_policy,
    "GetBucketPolicyStatus": get_bucket_policy_status,
    "PutPublicAccessBlock": put_public_access_block,
    "GetPublicAccessBlock": get_public_access_block,
    "DeletePublicAccessBlock": delete_public_access_block,
}
