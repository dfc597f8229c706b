"""ACLs as S3 applies them: Get/Put Bucket/Object Acl, the ACL a write sets, who owns
a new object, and the grants authorization adds to the bucket policy.

Object Ownership decides whether ACLs count at all. With BucketOwnerEnforced (the
default since 2023) ACLs are disabled: the bucket owner owns every object, only ACLs
that give the owner full control are accepted (AccessControlListNotSupported
otherwise) and none grants anything. With ObjectWriter or BucketOwnerPreferred, grants
act like extra statements of the bucket policy (acl.statements), Block Public Access
refuses public ACLs (BlockPublicAcls) and ignores them (IgnorePublicAcls).
"""

from __future__ import annotations

import weakref

from typing import TYPE_CHECKING, Any

from skyhold.accounts import list_accounts
from skyhold.errors import AwsError
from skyhold.services.s3 import acl, buckets, errors, objects, public_access, records, versions
from skyhold.store.base import Store
from skyhold.store.cache import GenerationCache

if TYPE_CHECKING:
    from skyhold.pipeline import Call

ENFORCED = "BucketOwnerEnforced"

# By the store object itself (weakly): an id() could be reused by a later store.
_caches: weakref.WeakKeyDictionary[Store, GenerationCache] = weakref.WeakKeyDictionary()


def enabled(bucket: dict[str, Any]) -> bool:
    return bucket.get("Ownership", ENFORCED) != ENFORCED


def _accounts(store: Store) -> dict[str, str]:
    """Canonical user id → account id, for every account Skyhold serves."""
    cache = _caches.get(store)
    if cache is None:
        cache = _caches[store] = GenerationCache(store, ignore_bulk=True)
    return cache.get("canonical ids", lambda: {buckets.canonical_id(a["Id"]): a["Id"] for a in list_accounts(store)})


def _owner_grant(account: str) -> acl.Grant:
    return acl.grant(acl.user(buckets.canonical_id(account)), "FULL_CONTROL")


def bucket_grants(bucket: dict[str, Any]) -> list[acl.Grant]:
    return (enabled(bucket) and bucket.get("Acl")) or [_owner_grant(bucket["Owner"])]


def object_grants(bucket: dict[str, Any], value: dict[str, Any]) -> list[acl.Grant]:
    return (enabled(bucket) and value.get("acl")) or [_owner_grant(object_owner_of(bucket, value))]


def object_owner_of(bucket: dict[str, Any], value: dict[str, Any]) -> str:
    return bucket["Owner"] if not enabled(bucket) else value.get("owner") or bucket["Owner"]


def new_object_owner(call: Call, bucket: dict[str, Any], params: dict[str, Any]) -> str:
    """Who owns an object a write creates (Object Ownership)."""
    ownership = bucket.get("Ownership", ENFORCED)
    if ownership == ENFORCED or call.principal.is_anonymous:
        return bucket["Owner"]
    if ownership == "BucketOwnerPreferred" and params.get("ACL") == "bucket-owner-full-control":
        return bucket["Owner"]
    return call.principal.account


def new_object(call: Call, bucket: dict[str, Any], params: dict[str, Any]) -> dict[str, Any]:
    """A new object's record fields for who owns it and its ACL (if not the default)."""
    owner = new_object_owner(call, bucket, params)
    grants = for_new_object(call, bucket, params, owner)
    return {"owner": owner, "acl": grants} if grants else {"owner": owner}


def _owner_only(grants: list[acl.Grant], owner_id: str) -> bool:
    return all(g["Grantee"].get("ID") == owner_id and g["Permission"] == "FULL_CONTROL" for g in grants)


def _checked(call: Call, bucket: dict[str, Any], grants: list[acl.Grant], owner_id: str) -> list[acl.Grant] | None:
    """The grants to keep (None: the default, owner only) after Object Ownership and
    BlockPublicAcls have had their say."""
    if not enabled(bucket):
        if not _owner_only(grants, owner_id):
            raise errors.acl_not_supported()
        return None
    if acl.is_public(grants) and public_access.effective(call.store, bucket)["BlockPublicAcls"]:
        raise errors.access_denied()
    return grants


def _parse(call: Call, params: dict[str, Any], source: str, owner_id: str, bucket_owner_id: str,
           *, for_bucket: bool) -> list[acl.Grant]:
    known = _accounts(call.store)
    if source == "canned":
        return acl.canned(params["ACL"], owner_id, bucket_owner_id, for_bucket=for_bucket)
    if source == "headers":
        return acl.from_grant_headers(params, known.__contains__, call.region)
    return acl.from_policy_xml(params.get("AccessControlPolicy"), owner_id, known.__contains__, call.region)


def for_new_object(call: Call, bucket: dict[str, Any], params: dict[str, Any], owner: str) -> list[acl.Grant] | None:
    """The ACL a PutObject/CopyObject/CreateMultipartUpload asks for (None: default)."""
    source = acl.acl_source(params, body=False, required=False)
    if source is None:
        return None
    owner_id = buckets.canonical_id(owner)
    grants = _parse(call, params, source, owner_id, buckets.canonical_id(bucket["Owner"]), for_bucket=False)
    return _checked(call, bucket, grants, owner_id)


def for_new_bucket(call: Call, params: dict[str, Any], ownership: str) -> list[acl.Grant] | None:
    """The ACL a CreateBucket asks for. New buckets have Block Public Access on, so a
    public one cannot be set at creation."""
    source = acl.acl_source(params, body=False, required=False)
    if source is None:
        return None
    owner_id = buckets.canonical_id(call.principal.account)
    grants = _parse(call, params, source, owner_id, owner_id, for_bucket=True)
    if ownership == ENFORCED:
        if not _owner_only(grants, owner_id):
            raise AwsError("InvalidBucketAclWithObjectOwnership",
                           "Bucket cannot have ACLs set with ObjectOwnership's BucketOwnerEnforced setting", 400)
        return None
    if acl.is_public(grants):
        raise AwsError("InvalidBucketAclWithBlockPublicAccessError",
                       "Bucket cannot have public ACLs set with BlockPublicAccess enabled", 400)
    return grants


# --- the four operations -------------------------------------------------------------------

def get_bucket_acl(call: Call, params: dict[str, Any]) -> dict[str, Any]:
    bucket = objects.bucket_of(call, params)
    return acl.to_response({"Owner": buckets.owner_of(bucket["Owner"]), "Grants": bucket_grants(bucket)})


def put_bucket_acl(call: Call, params: dict[str, Any]) -> dict[str, Any]:
    bucket = objects.bucket_of(call, params)
    source = acl.acl_source(params, body=params.get("AccessControlPolicy") is not None)
    assert source is not None
    owner_id = buckets.canonical_id(bucket["Owner"])
    grants = _checked(call, bucket, _parse(call, params, source, owner_id, owner_id, for_bucket=True), owner_id)
    if enabled(bucket):
        records.update_bucket(call.store, bucket["Name"], Acl=grants)
    return {}


def _version(call: Call, bucket: dict[str, Any], params: dict[str, Any], method: str = "GET") -> dict[str, Any]:
    # A PUT refuses a current delete marker (MethodNotAllowed); a GET says NoSuchKey.
    return objects.lookup(call, bucket, params["Key"], params.get("VersionId"), method, marker_refused=method == "PUT")


def get_object_acl(call: Call, params: dict[str, Any]) -> dict[str, Any]:
    bucket = objects.bucket_of(call, params)
    value = _version(call, bucket, params)
    owner = buckets.owner_of(object_owner_of(bucket, value))
    return acl.to_response({"Owner": owner, "Grants": object_grants(bucket, value)})


def put_object_acl(call: Call, params: dict[str, Any]) -> dict[str, Any]:
    bucket = objects.bucket_of(call, params)
    value = _version(call, bucket, params, "PUT")
    source = acl.acl_source(params, body=params.get("AccessControlPolicy") is not None)
    assert source is not None
    owner_id = buckets.canonical_id(object_owner_of(bucket, value))
    grants = _parse(call, params, source, owner_id, buckets.canonical_id(bucket["Owner"]), for_bucket=False)
    kept = _checked(call, bucket, grants, owner_id)
    if enabled(bucket):
        versions.update(call, bucket, params["Key"], params.get("VersionId"), lambda v: v.update(acl=kept))
    return {"VersionId": value["vid"]} if versions.is_versioned(bucket) and params.get("VersionId") else {}


HANDLERS = {
    "GetBucketAcl": get_bucket_acl,
    "PutBucketAcl": put_bucket_acl,
    "GetObjectAcl": get_object_acl,
    "PutObjectAcl": put_object_acl,
}


# --- authorization ------------------------------------------------------------------------

def statements(call: Call, bucket: dict[str, Any], value: dict[str, Any] | None = None,
               key: str | None = None) -> list[dict[str, Any]]:
    """The policy statements the bucket's ACL (and the object's, given its record and
    key) adds to the bucket policy; [] while ACLs are disabled. Grants to the bucket
    owner's own account add nothing (same account: the identity policy decides)."""
    if not enabled(bucket):
        return []
    name, owner = bucket["Name"], bucket["Owner"]
    ignore = public_access.effective(call.store, bucket)["IgnorePublicAcls"]
    found = acl.statements(bucket_grants(bucket), owner, records.bucket_arn(name), None,
                           account_of=_accounts(call.store).get, ignore_public=ignore)
    if value is not None and key is not None:
        found += _object_acl(call, bucket, value, key, owner, ignore)
    return _without(found, owner)


def object_statements(call: Call, bucket: dict[str, Any], value: dict[str, Any], key: str) -> list[dict[str, Any]]:
    """The statements of the object's ACL alone, for an object another account owns:
    its owner decides who reads it (grants to the owner's own account add nothing)."""
    owner = object_owner_of(bucket, value)
    ignore = public_access.effective(call.store, bucket)["IgnorePublicAcls"]
    return _without(_object_acl(call, bucket, value, key, owner, ignore), owner)


def _object_acl(call: Call, bucket: dict[str, Any], value: dict[str, Any], key: str, owner: str,
                ignore: bool) -> list[dict[str, Any]]:
    name = bucket["Name"]
    return acl.statements(object_grants(bucket, value), owner, records.bucket_arn(name),
                          records.object_arn(name, key), account_of=_accounts(call.store).get, ignore_public=ignore)


def _without(found: list[dict[str, Any]], account: str) -> list[dict[str, Any]]:
    own = {"AWS": f"arn:aws:iam::{account}:root"}
    return [st for st in found if st["Principal"] != own]
