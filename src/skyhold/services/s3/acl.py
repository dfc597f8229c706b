"""S3 access control lists as pure logic: canned ACLs, x-amz-grant-* headers and
AccessControlPolicy bodies turned into grants, and grants turned into IAM policy
statements the policy engine evaluates (S3 User Guide, "Access control list (ACL)
overview" and "Mapping of ACL permissions and access policy permissions").

An ACL is stored in the botocore model's shape:
    {"Owner": {"ID": canonical_id, ...}, "Grants": [{"Grantee": {...}, "Permission": ...}]}
Grantees are kept as AWS returns them: {"Type": "CanonicalUser", "ID": ...} or
{"Type": "Group", "URI": ...} (S3 no longer returns DisplayName since November 2025).

Error codes and messages follow AWS's recorded answers (LocalStack's AWS-validated
snapshots, ceph s3-tests); see the notes beside each.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any

from skyhold.errors import AwsError
from skyhold.services.s3 import errors

Grant = dict[str, Any]

ALL_USERS = "http://acs.amazonaws.com/groups/global/AllUsers"
AUTHENTICATED_USERS = "http://acs.amazonaws.com/groups/global/AuthenticatedUsers"
LOG_DELIVERY = "http://acs.amazonaws.com/groups/s3/LogDelivery"
GROUPS = {ALL_USERS: "AllUsers", AUTHENTICATED_USERS: "AuthenticatedUsers", LOG_DELIVERY: "LogDelivery"}
PUBLIC_GROUPS = frozenset({ALL_USERS, AUTHENTICATED_USERS})
PERMISSIONS = ("FULL_CONTROL", "WRITE", "WRITE_ACP", "READ", "READ_ACP")
MAX_GRANTS = 100
# The canonical user aws-exec-read grants READ to (Amazon EC2, "za-team").
EC2_CANONICAL_ID = "6aa5a366c34c1cbe25dc49211496e913e0351eb0e8c37aa3477e40942ec6b97c"

# botocore member → (header it came in, permission it grants), in the order grants are listed.
GRANT_HEADERS = {
    "GrantRead": ("x-amz-grant-read", "READ"),
    "GrantWrite": ("x-amz-grant-write", "WRITE"),
    "GrantReadACP": ("x-amz-grant-read-acp", "READ_ACP"),
    "GrantWriteACP": ("x-amz-grant-write-acp", "WRITE_ACP"),
    "GrantFullControl": ("x-amz-grant-full-control", "FULL_CONTROL"),
}


# --- errors S3 returns for ACLs that errors.py has no helper for --------------------------


def malformed_acl() -> AwsError:
    return AwsError("MalformedACLError", "The XML you provided was not well-formed or did not validate "
                    "against our published schema", 400)


# Where S3 ended email grantees on 2025-10-01: "the request will receive an HTTP 405
# (Method Not Allowed) error" (PutBucketAcl/PutObjectAcl API reference, which lists them).
_EMAIL_GRANTS_ENDED = frozenset({"us-east-1", "us-west-1", "us-west-2", "ap-southeast-1", "ap-southeast-2",
                                 "ap-northeast-1", "eu-west-1", "sa-east-1"})


def email_grantee_unsupported(region: str = "us-east-1") -> AwsError:
    if region in _EMAIL_GRANTS_ENDED:
        return AwsError("MethodNotAllowed", "The specified method is not allowed against this resource.", 405)
    # Elsewhere S3 still resolves an address to its account: Skyhold's accounts have none.
    return AwsError("UnresolvableGrantByEmailAddress",
                    "The email address you provided does not match any account on record.", 400)


def _invalid_id(name: str, value: str) -> AwsError:
    return errors.invalid_argument("Invalid id", name, value)


def _invalid_group(name: str, value: str) -> AwsError:
    return errors.invalid_argument("Invalid group uri", name, value)


# --- building grants ----------------------------------------------------------------------


def user(canonical_id: str) -> dict[str, str]:
    return {"Type": "CanonicalUser", "ID": canonical_id}


def group(uri: str) -> dict[str, str]:
    return {"Type": "Group", "URI": uri}


def grant(grantee: dict[str, str], permission: str) -> Grant:
    return {"Grantee": grantee, "Permission": permission}


def canned(name: str, owner_id: str, bucket_owner_id: str, *, for_bucket: bool) -> list[Grant]:
    """The grants of a canned ACL (x-amz-acl); the owner always gets FULL_CONTROL first."""
    grants = [grant(user(owner_id), "FULL_CONTROL")]
    if name == "private":
        pass
    elif name == "public-read":
        grants.append(grant(group(ALL_USERS), "READ"))
    elif name == "public-read-write":
        grants += [grant(group(ALL_USERS), "READ"), grant(group(ALL_USERS), "WRITE")]
    elif name == "authenticated-read":
        grants.append(grant(group(AUTHENTICATED_USERS), "READ"))
    elif name == "aws-exec-read":
        grants.append(grant(user(EC2_CANONICAL_ID), "READ"))
    elif name in ("bucket-owner-read", "bucket-owner-full-control"):
        # "If you specify this canned ACL when creating a bucket, Amazon S3 ignores it."
        if not for_bucket and bucket_owner_id != owner_id:
            grants.append(grant(user(bucket_owner_id), "READ" if name.endswith("read") else "FULL_CONTROL"))
    elif name == "log-delivery-write":
        grants += [grant(group(LOG_DELIVERY), "WRITE"), grant(group(LOG_DELIVERY), "READ_ACP")]
    else:
        # AWS: InvalidArgument with no message, naming the header and the value.
        raise errors.invalid_argument("", "x-amz-acl", name)
    return grants


def acl_source(params: Mapping[str, Any], *, body: bool, required: bool = True) -> str | None:
    """Which one way a request sets an ACL: "canned", "headers" or "body" (None: none
    given and not required, as on PutObject/CreateBucket). AWS's errors for mixing them."""
    canned_acl = bool(params.get("ACL"))
    headers = any(params.get(m) for m in GRANT_HEADERS)
    if canned_acl and headers:
        raise errors.invalid_request("Specifying both Canned ACLs and Header Grants is not allowed")
    if (canned_acl or headers) and body:
        raise AwsError("UnexpectedContent", "This request does not support content", 400)
    if canned_acl:
        return "canned"
    if headers:
        return "headers"
    if body:
        return "body"
    if required:
        raise AwsError("MissingSecurityHeader", "Your request was missing a required header", 400,
                       extra={"MissingHeaderName": "x-amz-acl"})
    return None


# One grantee of a header value: commas inside double quotes do not split.
_GRANTEE = re.compile(r'(?:[^,"]|"[^"]*")+')


def from_grant_headers(params: Mapping[str, Any], resolve_id: Callable[[str], bool],
                       region: str = "us-east-1") -> list[Grant]:
    """Grants from x-amz-grant-* headers (`id="…", uri="…"`, quotes optional). Only the
    grants named are kept: S3 does not add the owner's FULL_CONTROL."""
    grants: list[Grant] = []
    for member, (header, permission) in GRANT_HEADERS.items():
        value = params.get(member)
        if not value:
            continue
        for item in _GRANTEE.findall(value) or [value]:
            written = item.strip()
            key, sep, raw = written.partition("=")
            key, val = key.strip(), raw.strip()
            if len(val) >= 2 and val[0] == val[-1] == '"':
                val = val[1:-1]
            if not sep or key not in ("id", "uri", "emailAddress"):
                raise errors.invalid_argument("Argument format not recognized", header, written)
            if key == "emailAddress":
                raise email_grantee_unsupported(region)
            if key == "uri":
                if val not in GROUPS:
                    raise _invalid_group("uri", val)
                grants.append(grant(group(val), permission))
            else:
                if not resolve_id(val):
                    raise _invalid_id("id", val)
                grants.append(grant(user(val), permission))
    return grants


def from_policy_xml(acp: Mapping[str, Any] | None, owner_id: str,
                    resolve_id: Callable[[str], bool], region: str = "us-east-1") -> list[Grant]:
    """Validate an AccessControlPolicy body (botocore-parsed) and return its grants.
    The Owner is required and must be the resource's owner: naming another account
    would give the resource away (AWS: AccessDenied, ceph s3-tests test_object_giveaway)."""
    if not acp or "Owner" not in acp or "Grants" not in acp:
        raise malformed_acl()
    given_owner = (acp["Owner"] or {}).get("ID")
    if not given_owner:
        raise malformed_acl()  # the schema requires the owner's <ID> (versitygw's AWS-checked tests)
    if given_owner != owner_id:
        raise errors.access_denied() if resolve_id(given_owner) else _invalid_id("CanonicalUser/ID", given_owner)
    raw = acp["Grants"] or []
    if len(raw) > MAX_GRANTS:
        raise malformed_acl()  # the schema allows at most 100 <Grant> elements
    grants: list[Grant] = []
    for g in raw:
        grantee = g.get("Grantee") or {}
        kind = grantee.get("Type")
        if g.get("Permission") not in PERMISSIONS or kind not in ("CanonicalUser", "Group", "AmazonCustomerByEmail"):
            raise malformed_acl()
        if kind == "Group":
            uri = grantee.get("URI", "")
            if uri not in GROUPS:
                raise _invalid_group("Group/URI", uri)
            grants.append(grant(group(uri), g["Permission"]))
        elif kind == "CanonicalUser":
            cid = grantee.get("ID")
            if not cid:
                raise malformed_acl()  # a CanonicalUser grantee without its <ID>: not the schema
            if not resolve_id(cid):
                raise _invalid_id("CanonicalUser/ID", cid)
            grants.append(grant(user(cid), g["Permission"]))
        else:
            raise email_grantee_unsupported(region)
    return grants


# --- reading ACLs ---------------------------------------------------------------------------


def to_response(acl: Mapping[str, Any]) -> dict[str, Any]:
    """GetBucketAcl / GetObjectAcl output."""
    return {"Owner": dict(acl["Owner"]),
            "Grants": [{"Grantee": dict(g["Grantee"]), "Permission": g["Permission"]} for g in acl["Grants"]]}


def is_public(grants: list[Grant]) -> bool:
    """Block Public Access: an ACL is public if it grants anything to AllUsers or AuthenticatedUsers."""
    return any(g["Grantee"].get("URI") in PUBLIC_GROUPS for g in grants)


# --- grants as policy statements ----------------------------------------------------------

# (actions, resource suffix) per permission, from the User Guide's mapping table.
_BUCKET: dict[str, list[tuple[tuple[str, ...], str]]] = {
    "READ": [(("s3:ListBucket", "s3:ListBucketVersions", "s3:ListBucketMultipartUploads"), "")],
    "WRITE": [(("s3:PutObject", "s3:DeleteObject"), "/*")],
    "READ_ACP": [(("s3:GetBucketAcl",), "")],
    "WRITE_ACP": [(("s3:PutBucketAcl",), "")],
}
_OBJECT: dict[str, list[tuple[tuple[str, ...], str]]] = {
    "READ": [(("s3:GetObject", "s3:GetObjectVersion"), "")],
    "WRITE": [],  # not applicable to objects
    "READ_ACP": [(("s3:GetObjectAcl", "s3:GetObjectVersionAcl"), "")],
    "WRITE_ACP": [(("s3:PutObjectAcl", "s3:PutObjectVersionAcl"), "")],
}
# Anonymous callers have no aws:PrincipalAccount; every authenticated caller has one.
_AUTHENTICATED = {"Null": {"aws:PrincipalAccount": "false"}}


def _actions(table: dict[str, list[tuple[tuple[str, ...], str]]], permission: str) -> dict[str, list[str]]:
    """Actions per resource suffix; FULL_CONTROL is the union of the others."""
    perms = ("READ", "WRITE", "READ_ACP", "WRITE_ACP") if permission == "FULL_CONTROL" else (permission,)
    out: dict[str, list[str]] = {}
    for p in perms:
        for actions, suffix in table.get(p, []):
            out.setdefault(suffix, []).extend(actions)
    return out


def statements(grants: list[Grant], resource_owner_account: str, bucket_arn: str, object_arn: str | None = None,
               *, account_of: Callable[[str], str | None], ignore_public: bool = False) -> list[dict[str, Any]]:
    """Allow statements equivalent to an ACL: a bucket's ACL when object_arn is None,
    else the object's. Grantees no account answers for (Amazon EC2's za-team) and the
    LogDelivery group (no log delivery here) grant nothing; ignore_public
    (IgnorePublicAcls) drops grants to AllUsers and AuthenticatedUsers."""
    out: list[dict[str, Any]] = []
    seen: set[str] = set()
    for g in grants:
        grantee, permission = g["Grantee"], g["Permission"]
        condition: dict[str, Any] | None = None
        if grantee.get("Type") == "Group":
            uri = grantee.get("URI")
            if uri not in PUBLIC_GROUPS or ignore_public:
                continue
            principal: Any = "*"
            who = GROUPS[uri]
            condition = _AUTHENTICATED if uri == AUTHENTICATED_USERS else None
        else:
            account = account_of(grantee.get("ID", ""))
            if account is None:
                continue
            principal, who = {"AWS": f"arn:aws:iam::{account}:root"}, f"account {account}"
        per_resource = _actions(_OBJECT, permission) if object_arn else _actions(_BUCKET, permission)
        if not object_arn and "/*" in per_resource and who == f"account {resource_owner_account}":
            # Bucket WRITE granted to the bucket owner also allows deleting any version.
            per_resource["/*"].append("s3:DeleteObjectVersion")
        for suffix, actions in per_resource.items():
            sid = f"ACL grant {permission} to {who}" + (" on objects" if object_arn is None and suffix else "")
            if sid in seen:
                continue
            seen.add(sid)
            st: dict[str, Any] = {"Sid": sid, "Effect": "Allow", "Principal": principal, "Action": actions,
                                  "Resource": (object_arn or bucket_arn) + suffix}
            if condition:
                st["Condition"] = condition
            out.append(st)
    return out
