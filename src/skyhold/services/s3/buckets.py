"""Buckets and their settings: create/head/list/delete, location, tagging,
versioning, default encryption, object ownership, CORS rules and lifecycle rules."""

from __future__ import annotations

import asyncio
import hashlib
from typing import TYPE_CHECKING, Any

from skyhold import paging
from skyhold.errors import AwsError
from skyhold.regions import DEFAULT_REGION, REGIONS
from skyhold.services.s3 import (
    acl_ops, bodies, bucket_keys, cors, errors, lifecycle_rules, object_lock, public_access, records, sse_c,
    versions,
)
from skyhold.services.s3.names import valid_bucket_name
from skyhold.store.base import ConflictError

if TYPE_CHECKING:
    from skyhold.pipeline import Call

DEFAULT_ENCRYPTION: dict[str, Any] = {"Rules": [{"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"},
                                                  "BucketKeyEnabled": False}]}
_OWNERSHIPS = ("BucketOwnerEnforced", "BucketOwnerPreferred", "ObjectWriter")
# A bucket's Ownership once its controls are deleted: ACLs enabled, writers own objects
# (acl_ops reads a record without the field as BucketOwnerEnforced).
NO_OWNERSHIP_CONTROLS = ""
_MAX_BUCKETS = 10000  # the most one ListBuckets page may ask for
_SCAN_BATCH = 1000  # records read at a time by scans that may stop early or cover a bucket


def canonical_id(account: str) -> str:
    """A stable 64-hex canonical user id for an account (S3's Owner ID)."""
    return hashlib.sha256(f"skyhold canonical {account}".encode()).hexdigest()


def owner_of(account: str) -> dict[str, str]:
    # S3 has returned no DisplayName since November 2025.
    return {"ID": canonical_id(account)}


def create_bucket(call: Call, params: dict[str, Any]) -> dict[str, Any]:
    name = params["Bucket"]
    if not valid_bucket_name(name):
        raise errors.invalid_bucket_name(name)
    config = params.get("CreateBucketConfiguration") or {}
    region = _bucket_region(call.region, config.get("LocationConstraint"))
    tags = _creation_tags(config.get("Tags"))
    ownership = params.get("ObjectOwnership")
    if ownership is None:
        ownership = "BucketOwnerEnforced"
    elif ownership not in _OWNERSHIPS:  # an empty header too; S3 names the header but echoes no ArgumentValue
        raise AwsError("InvalidArgument", f"Invalid x-amz-object-ownership header: {ownership}", 400,
                       extra={"ArgumentName": "x-amz-object-ownership"})
    grants = acl_ops.for_new_bucket(call, params, ownership)
    account = call.principal.account
    value = {
        "Name": name, "Owner": account, "Region": region, "Created": records.now_text(),
        "Ownership": ownership, "PublicAccessBlock": dict(public_access.ALL_ON),
    }
    if grants:
        value["Acl"] = grants
    if params.get("ObjectLockEnabledForBucket"):  # Object Lock needs versioning: it comes on with it
        value.update(Versioning="Enabled", ObjectLock=dict(object_lock.ENABLED_CONFIGURATION))
    if tags:
        value["Tags"] = tags
    if config.get("LocationConstraint") in _LEGACY_CONSTRAINTS:  # GetBucketLocation answers it as given
        value["Constraint"] = config["LocationConstraint"]
    try:
        call.store.put(records.BUCKET, name, value, expect_version=0)
    except ConflictError:
        existing = records.get_bucket(call.store, name).value
        if existing["Owner"] != account:
            raise errors.bucket_already_exists(name) from None
        # Tags are set only by a create: a re-create that brings some is refused, even the same ones.
        if tags or call.region != DEFAULT_REGION or existing["Region"] != DEFAULT_REGION or region != DEFAULT_REGION:
            raise errors.bucket_already_owned(name, existing["Region"]) from None
        # us-east-1 answers the owner's re-create of a us-east-1 bucket with 200, for legacy clients.
    location = f"/{name}" if region == DEFAULT_REGION else f"http://{name}.s3.amazonaws.com/"
    return {"Location": location, "BucketArn": records.bucket_arn(name)}


def _creation_tags(tag_set: list[dict[str, str]] | None) -> dict[str, str]:
    """CreateBucketConfiguration's Tags: a TagSet's checks, but S3 words the aws: prefix its own way."""
    if any((tag.get("Key") or "").lower().startswith("aws:") for tag in tag_set or []):
        raise errors.invalid_tag('User-defined tag keys can\'t start with "aws:". This prefix is reserved for system '
                                 'tags. Remove "aws:" from your tag keys and try again.')
    return validate_tags(tag_set or [], 50)


_LEGACY_CONSTRAINTS = {"EU": "eu-west-1"}  # still in the model's enum, and still accepted by S3


def _bucket_region(signing_region: str, given: str | None) -> str:
    constraint = _LEGACY_CONSTRAINTS.get(given, given) if given is not None else None
    if signing_region == DEFAULT_REGION:
        if constraint == DEFAULT_REGION or (constraint is not None and constraint not in REGIONS):
            raise errors.invalid_location(given or "")
        return constraint or DEFAULT_REGION  # the global endpoint creates anywhere
    if constraint != signing_region:
        raise errors.illegal_location(given)  # in the client's words: "The EU location constraint ..."
    return signing_region


def head_bucket(call: Call, params: dict[str, Any]) -> dict[str, Any]:
    bucket = records.get_bucket(call.store, params["Bucket"]).value
    return {"BucketRegion": bucket["Region"], "AccessPointAlias": False,
            "BucketArn": records.bucket_arn(bucket["Name"])}


def list_buckets(call: Call, params: dict[str, Any]) -> dict[str, Any]:
    account = call.principal.account
    prefix = params.get("Prefix") or ""
    region = _listing_region(params.get("BucketRegion"))
    token = params.get("ContinuationToken")
    after = continuation_after(token) if token else ""
    limit = _max_buckets(params.get("MaxBuckets"))
    found = []
    for rec in paging.scan_from(call.store, records.BUCKET, prefix, after,
                                batch=min((limit or _SCAN_BATCH) + 1, _SCAN_BATCH), most=_SCAN_BATCH):
        b = rec.value
        if b["Owner"] != account or (region and b["Region"] != region):
            continue
        found.append({"Name": b["Name"], "CreationDate": records.parse_time(b["Created"]),
                      "BucketRegion": b["Region"], "BucketArn": records.bucket_arn(b["Name"])})
        if limit and len(found) > limit:
            break
    out: dict[str, Any] = {"Owner": owner_of(account)}
    if limit and len(found) > limit:
        found = found[:limit]
        out["ContinuationToken"] = paging.token(found[-1]["Name"])
    out["Buckets"] = found
    if prefix:
        out["Prefix"] = prefix
    return out


def _max_buckets(value: int | None) -> int | None:
    """S3 reads max-buckets as a 32-bit integer, then wants it within 1..10000."""
    if value is None:
        return None
    if not -2**31 <= value < 2**31:
        raise errors.invalid_argument("Provided max-buckets not an integer or within integer range", "max-buckets",
                                      str(value))
    if not 1 <= value <= _MAX_BUCKETS:
        raise errors.invalid_argument(f"Argument max-buckets must be an integer between 1 and {_MAX_BUCKETS}.",
                                      "max-buckets", str(value))
    return value


def _listing_region(region: str | None) -> str | None:
    """S3 refuses a bucket-region that names no region rather than listing nothing; its
    error carries ArgumentName but no ArgumentValue."""
    if region and region not in REGIONS:
        raise AwsError("InvalidArgument", f"Argument value {region} is not a valid AWS Region", 400,
                       extra={"ArgumentName": "bucket-region"})
    return region


def continuation_after(token: str) -> str:
    """Where a ContinuationToken (ListBuckets', ListObjectsV2's) says to go on from."""
    after = paging.position(token)
    if after is None:
        raise errors.invalid_argument("The continuation token provided is incorrect", "continuation-token", token)
    return after


def delete_bucket(call: Call, params: dict[str, Any]) -> dict[str, Any]:
    name = params["Bucket"]
    bucket = records.get_bucket(call.store, name).value
    prefix = f"{name}/"
    # One record is enough to refuse (a count would read every key of a big bucket).
    if call.store.scan(records.OBJECT, prefix, limit=1) or call.store.scan(records.VERSION, prefix, limit=1):
        raise errors.bucket_not_empty(name, versioned=bool(bucket.get("Versioning")))
    # Uploads in progress do not keep a bucket alive: they go with it.
    for up in call.store.scan(records.UPLOAD, prefix):
        for part in call.store.scan(records.PART, up.value["UploadId"] + "/"):
            call.store.delete(records.PART, part.key)
            bodies.delete(call, [part.value["seg"]])
        call.store.delete(records.UPLOAD, up.key)
    for ref in call.store.scan(records.NULL_REF, prefix):  # none, while the index is right
        call.store.delete(records.NULL_REF, ref.key)
    bucket_keys.delete_all(call, name)
    call.store.delete(records.BUCKET, name)
    call.extras["http_status"] = 204
    return {}


def get_bucket_location(call: Call, params: dict[str, Any]) -> dict[str, Any]:
    bucket = records.get_bucket(call.store, params["Bucket"]).value
    region = bucket["Region"]
    return {"LocationConstraint": bucket.get("Constraint") or (None if region == DEFAULT_REGION else region)}


# --- tagging ------------------------------------------------------------------------

_OBJECT_TAG_LIMIT = 10
_TAG_PUNCTUATION = frozenset(" _.:/=+-@")  # with letters and digits, all a tag may hold


def tag_text_ok(text: str) -> bool:
    return all(c.isalnum() or c.isspace() or c in _TAG_PUNCTUATION for c in text)


def validate_tags(tag_set: list[dict[str, str]], limit: int) -> dict[str, str]:
    """S3's checks of a TagSet (an object's when `limit` is 10, else a bucket's)."""
    tags: dict[str, str] = {}
    for tag in tag_set:
        key, value = tag.get("Key"), tag.get("Value")
        if key is None or value is None:  # both elements are required by S3's schema
            raise errors.malformed_xml()
        if key in tags:
            raise errors.invalid_tag("Cannot provide multiple Tags with the same key", key)
        if key.lower().startswith("aws:"):
            raise errors.invalid_tag("Your TagKey cannot be prefixed with aws:" if limit == _OBJECT_TAG_LIMIT
                                     else "System tags cannot be added/updated by requester", key)
        if not key or len(key) > 128 or not tag_text_ok(key):
            raise errors.invalid_tag("The TagKey you have provided is invalid", key)
        if len(value) > 256 or not tag_text_ok(value):
            raise errors.invalid_tag("The TagValue you have provided is invalid", key, value)
        tags[key] = value
    if len(tags) > limit:
        raise errors.invalid_tag(f"Object tags cannot be greater than {limit}" if limit == _OBJECT_TAG_LIMIT
                                 else "Bucket tag count cannot be greater than 50")
    return tags


def put_bucket_tagging(call: Call, params: dict[str, Any]) -> dict[str, Any]:
    tags = validate_tags((params.get("Tagging") or {}).get("TagSet") or [], 50)
    records.update_bucket(call.store, params["Bucket"], Tags=tags)
    call.extras["http_status"] = 204
    return {}


def get_bucket_tagging(call: Call, params: dict[str, Any]) -> dict[str, Any]:
    tags = records.get_bucket(call.store, params["Bucket"]).value.get("Tags")
    if not tags:
        raise errors.no_such_tag_set(params["Bucket"])
    return {"TagSet": [{"Key": k, "Value": v} for k, v in tags.items()]}


def delete_bucket_tagging(call: Call, params: dict[str, Any]) -> dict[str, Any]:
    records.update_bucket(call.store, params["Bucket"], Tags=None)
    call.extras["http_status"] = 204
    return {}


# --- versioning -----------------------------------------------------------------------

async def put_bucket_versioning(call: Call, params: dict[str, Any]) -> dict[str, Any]:
    name = params["Bucket"]
    config = params.get("VersioningConfiguration") or {}
    status = config.get("Status")
    if status is None and config.get("MFADelete") is None:
        raise AwsError("IllegalVersioningConfigurationException", "The Versioning element must be specified", 400)
    if status not in ("Enabled", "Suspended") or config.get("MFADelete") not in (None, "Enabled", "Disabled"):
        raise errors.malformed_xml()
    if config.get("MFADelete") == "Enabled":
        # Said to be on, MFA Delete would have to guard every version's deletion: a
        # learner must not believe a bucket protected that is not.
        raise AwsError("NotImplemented", "Skyhold does not implement MFA Delete (MFADelete=Enabled in "
                       "s3:PutBucketVersioning) yet", status=501, sender_fault=False)
    bucket = records.get_bucket(call.store, name).value
    object_lock.check_versioning_change(bucket, status)
    if bucket.get("Versioning"):
        records.update_bucket(call.store, name, Versioning=status)
        return {}
    await _copy_current_versions(call, name)
    # No await since the last batch: no write came between it and the switch.
    records.update_bucket(call.store, name, Versioning=status,
                          **{records.NULLS_INDEXED: True, records.VERSIONS_COPYING: None})
    return {}


async def _copy_current_versions(call: Call, name: str) -> None:
    """From versioning's first turn-on every version lives in s3.version: the current
    objects go in as their keys' null versions. A transaction per batch, other requests
    going on in between (one transaction for 100,000 objects held the store's write lock
    ~2.5 s): readers see a bucket never versioned until the switch, and writes keep the
    copies of the keys they touch right meanwhile (records.VERSIONS_COPYING)."""
    records.update_bucket(call.store, name, **{records.VERSIONS_COPYING: True})
    after = ""
    while True:
        with call.store.transaction():
            batch = call.store.scan(records.OBJECT, f"{name}/", start_after=after, limit=_SCAN_BATCH)
            for rec in batch:
                key = rec.key[len(name) + 1:]
                call.store.put(records.VERSION, records.version_key(name, key, rec.value["sort"]), rec.value)
                if rec.value.get("vid") == records.NULL_VERSION:
                    versions.index_null(call, name, key, rec.value["sort"])
        if len(batch) < _SCAN_BATCH:
            return
        after = batch[-1].key
        await asyncio.sleep(0)
        records.get_bucket(call.store, name)  # NoSuchBucket once it is gone


def get_bucket_versioning(call: Call, params: dict[str, Any]) -> dict[str, Any]:
    status = records.get_bucket(call.store, params["Bucket"]).value.get("Versioning")
    return {"Status": status} if status else {}


# --- default encryption -------------------------------------------------------------------

def put_bucket_encryption(call: Call, params: dict[str, Any]) -> dict[str, Any]:
    config = params.get("ServerSideEncryptionConfiguration") or {}
    rules = config.get("Rules") or []
    if len(rules) != 1:  # S3 takes exactly one rule
        raise errors.malformed_xml()
    blocked = None
    for rule in rules:
        if "BlockedEncryptionTypes" in rule:
            types = (rule.get("BlockedEncryptionTypes") or {}).get("EncryptionType") or []
            if types not in (sse_c.BLOCKED, sse_c.UNBLOCKED):
                raise errors.malformed_xml()
            blocked = types
        default = rule.get("ApplyServerSideEncryptionByDefault") or {}
        alg = default.get("SSEAlgorithm")
        if alg not in ("AES256", "aws:kms", "aws:kms:dsse"):
            raise errors.malformed_xml()
        if alg == "AES256" and default.get("KMSMasterKeyID"):
            raise AwsError("InvalidArgument", "a KMSMasterKeyID is not applicable if the default sse algorithm "
                           "is not aws:kms or aws:kms:dsse", 400,
                           extra={"ArgumentName": "ApplyServerSideEncryptionByDefault"})  # and no ArgumentValue
    # The SSE-C block is its own setting: a configuration that does not name it keeps it.
    rules = [{k: v for k, v in rule.items() if k != "BlockedEncryptionTypes"} for rule in rules]
    changes: dict[str, Any] = {"Encryption": {**config, "Rules": rules}}
    if blocked is not None:
        changes["BlockedEncryptionTypes"] = blocked
    records.update_bucket(call.store, params["Bucket"], **changes)
    return {}


def get_bucket_encryption(call: Call, params: dict[str, Any]) -> dict[str, Any]:
    bucket = records.get_bucket(call.store, params["Bucket"]).value
    config = bucket.get("Encryption") or DEFAULT_ENCRYPTION
    blocked = {"EncryptionType": sse_c.BLOCKED if sse_c.is_blocked(bucket) else sse_c.UNBLOCKED}
    rules = [{**rule, "BlockedEncryptionTypes": blocked} for rule in config["Rules"]]
    return {"ServerSideEncryptionConfiguration": {**config, "Rules": rules}}


def delete_bucket_encryption(call: Call, params: dict[str, Any]) -> dict[str, Any]:
    records.update_bucket(call.store, params["Bucket"], Encryption=None)  # back to SSE-S3, as on AWS
    call.extras["http_status"] = 204
    return {}


def _default_rule(bucket: dict[str, Any]) -> dict[str, Any]:
    rules: list[dict[str, Any]] = (bucket.get("Encryption") or DEFAULT_ENCRYPTION)["Rules"] or [{}]
    return rules[0]


def bucket_key_default(bucket: dict[str, Any]) -> bool:
    """The rule's BucketKeyEnabled: whether new SSE-KMS objects use an S3 Bucket Key."""
    return bool(_default_rule(bucket).get("BucketKeyEnabled"))


def default_sse(bucket: dict[str, Any]) -> dict[str, str]:
    """{"alg": …, "kms": key id?} a new object gets when the request asks for none."""
    default = _default_rule(bucket).get("ApplyServerSideEncryptionByDefault") or {}
    out = {"alg": default.get("SSEAlgorithm", "AES256")}
    if default.get("KMSMasterKeyID"):
        out["kms"] = default["KMSMasterKeyID"]
    return out


# --- object ownership -----------------------------------------------------------------------

def put_ownership_controls(call: Call, params: dict[str, Any]) -> dict[str, Any]:
    rules = (params.get("OwnershipControls") or {}).get("Rules") or []
    ownership = rules[0].get("ObjectOwnership") if len(rules) == 1 else None  # exactly one rule
    if ownership not in _OWNERSHIPS:
        raise errors.malformed_xml()
    bucket = records.get_bucket(call.store, params["Bucket"]).value
    if ownership == "BucketOwnerEnforced" and not _acl_is_owners_only(bucket):
        # S3 will not disable ACLs that still grant someone access: they must be moved
        # to the bucket policy and the ACL reset first (the grants would come back with
        # the ACLs otherwise).
        raise errors.acl_with_enforced_ownership()
    records.update_bucket(call.store, params["Bucket"], Ownership=ownership)
    return {}


def _acl_is_owners_only(bucket: dict[str, Any]) -> bool:
    owner = canonical_id(bucket["Owner"])
    return all(g["Grantee"].get("ID") == owner and g["Permission"] == "FULL_CONTROL"
               for g in acl_ops.bucket_grants(bucket))


def get_ownership_controls(call: Call, params: dict[str, Any]) -> dict[str, Any]:
    bucket = records.get_bucket(call.store, params["Bucket"]).value
    if not bucket.get("Ownership"):
        raise AwsError("OwnershipControlsNotFoundError", "The bucket ownership controls were not found", 404,
                       extra={"BucketName": params["Bucket"]})
    return {"OwnershipControls": {"Rules": [{"ObjectOwnership": bucket["Ownership"]}]}}


def delete_ownership_controls(call: Call, params: dict[str, Any]) -> dict[str, Any]:
    # A bucket without ownership controls is not BucketOwnerEnforced: as on S3 its ACLs
    # count again and each writer owns what it writes (ObjectWriter), while
    # GetBucketOwnershipControls answers OwnershipControlsNotFoundError.
    records.update_bucket(call.store, params["Bucket"], Ownership=NO_OWNERSHIP_CONTROLS)
    call.extras["http_status"] = 204
    return {}


# --- CORS (applied by cors.py) and lifecycle (applied by lifecycle.py) ----------------------

def put_bucket_cors(call: Call, params: dict[str, Any]) -> dict[str, Any]:
    rules = (params.get("CORSConfiguration") or {}).get("CORSRules") or []
    cors.validate(rules)
    records.update_bucket(call.store, params["Bucket"], Cors=rules)
    return {}


def get_bucket_cors(call: Call, params: dict[str, Any]) -> dict[str, Any]:
    rules = records.get_bucket(call.store, params["Bucket"]).value.get("Cors")
    if not rules:
        raise errors.no_such_cors(params["Bucket"])
    return {"CORSRules": rules}


def delete_bucket_cors(call: Call, params: dict[str, Any]) -> dict[str, Any]:
    records.update_bucket(call.store, params["Bucket"], Cors=None)
    call.extras["http_status"] = 204
    return {}


def put_bucket_lifecycle_configuration(call: Call, params: dict[str, Any]) -> dict[str, Any]:
    config = params.get("LifecycleConfiguration")
    if config is None:
        raise errors.malformed_xml()
    checked = lifecycle_rules.check(config.get("Rules") or [], params.get("TransitionDefaultMinimumObjectSize"))
    records.update_bucket(call.store, params["Bucket"], Lifecycle=checked.rules, LifecycleMinimumSize=checked.minimum)
    return {"TransitionDefaultMinimumObjectSize": checked.minimum}


def get_bucket_lifecycle_configuration(call: Call, params: dict[str, Any]) -> dict[str, Any]:
    bucket = records.get_bucket(call.store, params["Bucket"]).value
    if not bucket.get("Lifecycle"):
        raise errors.no_such_lifecycle(params["Bucket"])
    return {"Rules": bucket["Lifecycle"],
            "TransitionDefaultMinimumObjectSize": bucket.get("LifecycleMinimumSize", lifecycle_rules.ALL_CLASSES_128K)}


def delete_bucket_lifecycle(call: Call, params: dict[str, Any]) -> dict[str, Any]:
    records.update_bucket(call.store, params["Bucket"], Lifecycle=None, LifecycleMinimumSize=None)
    call.extras["http_status"] = 204
    return {}


HANDLERS = {
    "CreateBucket": create_bucket,
    "HeadBucket": head_bucket,
    "ListBuckets": list_buckets,
    "DeleteBucket": delete_bucket,
    "GetBucketLocation": get_bucket_location,
    "PutBucketTagging": put_bucket_tagging,
    "GetBucketTagging": get_bucket_tagging,
    "DeleteBucketTagging": delete_bucket_tagging,
    "PutBucketVersioning": put_bucket_versioning,
    "GetBucketVersioning": get_bucket_versioning,
    "PutBucketEncryption": put_bucket_encryption,
    "GetBucketEncryption": get_bucket_encryption,
    "DeleteBucketEncryption": delete_bucket_encryption,
    "PutBucketOwnershipControls": put_ownership_controls,
    "GetBucketOwnershipControls": get_ownership_controls,
    "DeleteBucketOwnershipControls": delete_ownership_controls,
    "PutBucketCors": put_bucket_cors,
    "GetBucketCors": get_bucket_cors,
    "DeleteBucketCors": delete_bucket_cors,
    "PutBucketLifecycleConfiguration": put_bucket_lifecycle_configuration,
    "GetBucketLifecycleConfiguration": get_bucket_lifecycle_configuration,
    "DeleteBucketLifecycle": delete_bucket_lifecycle,
}
