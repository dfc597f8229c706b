"""S3 ACLs as pure logic: canned ACLs, grant headers, AccessControlPolicy bodies, AWS's
errors for each, and the policy statements ACLs become (checked against the real engine)."""

from __future__ import annotations

from typing import Any

import pytest

from skyhold.errors import AwsError
from skyhold.policy import Caller, PolicySet, RequestContext, evaluate
from skyhold.services.s3 import acl
from skyhold.services.s3.buckets import canonical_id

OWNER_ACCT, OTHER_ACCT = "111122223333", "444455556666"
OWNER, OTHER = canonical_id(OWNER_ACCT), canonical_id(OTHER_ACCT)
ACCOUNTS = {OWNER: OWNER_ACCT, OTHER: OTHER_ACCT}
BUCKET, OBJECT = "arn:aws:s3:::b", "arn:aws:s3:::b/k"
MALFORMED = "The XML you provided was not well-formed or did not validate against our published schema"


def known(cid: str) -> bool:
    return cid in ACCOUNTS


def fails(fn: Any, *args: Any, **kw: Any) -> AwsError:
    with pytest.raises(AwsError) as info:
        fn(*args, **kw)
    return info.value


def fc(cid: str) -> acl.Grant:
    return acl.grant(acl.user(cid), "FULL_CONTROL")


def to_group(uri: str, permission: str) -> acl.Grant:
    return acl.grant(acl.group(uri), permission)


# --- canned ACLs -------------------------------------------------------------------------


@pytest.mark.parametrize(("name", "extra"), [
    ("private", []),
    ("public-read", [to_group(acl.ALL_USERS, "READ")]),
    ("public-read-write", [to_group(acl.ALL_USERS, "READ"), to_group(acl.ALL_USERS, "WRITE")]),
    ("authenticated-read", [to_group(acl.AUTHENTICATED_USERS, "READ")]),
    ("aws-exec-read", [acl.grant(acl.user(acl.EC2_CANONICAL_ID), "READ")]),
    ("log-delivery-write", [to_group(acl.LOG_DELIVERY, "WRITE"), to_group(acl.LOG_DELIVERY, "READ_ACP")]),
])
def test_canned_acls_give_the_owner_full_control_first(name: str, extra: list[acl.Grant]) -> None:
    assert acl.canned(name, OWNER, OWNER, for_bucket=True) == [fc(OWNER), *extra]
    assert acl.canned(name, OTHER, OWNER, for_bucket=False) == [fc(OTHER), *extra]


def test_bucket_owner_canned_acls_apply_to_objects_of_another_account() -> None:
    assert acl.canned("bucket-owner-read", OTHER, OWNER, for_bucket=False) == [
        fc(OTHER), acl.grant(acl.user(OWNER), "READ")]
    assert acl.canned("bucket-owner-full-control", OTHER, OWNER, for_bucket=False) == [fc(OTHER), fc(OWNER)]
    # Ignored on buckets, and nothing to add when the object's owner owns the bucket.
    for name in ("bucket-owner-read", "bucket-owner-full-control"):
        assert acl.canned(name, OWNER, OWNER, for_bucket=True) == [fc(OWNER)]
        assert acl.canned(name, OWNER, OWNER, for_bucket=False) == [fc(OWNER)]


def test_unknown_canned_acl_is_invalid_argument_without_message() -> None:
    err = fails(acl.canned, "fake-acl", OWNER, OWNER, for_bucket=True)
    assert (err.code, err.status, err.message) == ("InvalidArgument", 400, "")
    assert err.extra == {"ArgumentName": "x-amz-acl", "ArgumentValue": "fake-acl"}


# --- one way to set an ACL ---------------------------------------------------------------


def test_acl_source_names_the_one_way_used() -> None:
    assert acl.acl_source({"ACL": "private"}, body=False) == "canned"
    assert acl.acl_source({"GrantRead": 'id="x"'}, body=False) == "headers"
    assert acl.acl_source({}, body=True) == "body"
    assert acl.acl_source({}, body=False, required=False) is None


def test_acl_source_refuses_mixing_and_nothing() -> None:
    both = fails(acl.acl_source, {"ACL": "private", "GrantRead": f'id="{OTHER}"'}, body=False)
    assert (both.code, both.status) == ("InvalidRequest", 400)
    assert both.message == "Specifying both Canned ACLs and Header Grants is not allowed"
    for params in ({"ACL": "private"}, {"GrantWrite": f"id={OTHER}"}):
        err = fails(acl.acl_source, params, body=True)
        assert (err.code, err.status, err.message) == ("UnexpectedContent", 400, "This request does not support content")
    none = fails(acl.acl_source, {}, body=False)
    assert (none.code, none.status, none.message) == ("MissingSecurityHeader", 400,
                                                      "Your request was missing a required header")
    assert none.extra == {"MissingHeaderName": "x-amz-acl"}


# --- grant headers ----------------------------------------------------------------------


def test_grant_headers_quoted_unquoted_and_several_grantees() -> None:
    params = {
        "GrantFullControl": f'id="{OTHER}"',
        "GrantRead": f'uri="{acl.ALL_USERS}", id={OWNER} ,uri={acl.LOG_DELIVERY}',
        "GrantWriteACP": f"id={OTHER}",
    }
    # Only the grants named: S3 does not add the owner's FULL_CONTROL.
    assert acl.from_grant_headers(params, known) == [
        to_group(acl.ALL_USERS, "READ"),
        acl.grant(acl.user(OWNER), "READ"),
        to_group(acl.LOG_DELIVERY, "READ"),
        acl.grant(acl.user(OTHER), "WRITE_ACP"),
        fc(OTHER),
    ]


@pytest.mark.parametrize(("params", "message", "name", "value"), [
    ({"GrantWrite": 'fakekey="1234"'}, "Argument format not recognized", "x-amz-grant-write", 'fakekey="1234"'),
    ({"GrantRead": f"id={OTHER}, everyone"}, "Argument format not recognized", "x-amz-grant-read", "everyone"),
    ({"GrantReadACP": 'uri="http://acs.amazonaws.com/groups/s3/FakeGroup"'}, "Invalid group uri", "uri",
     "http://acs.amazonaws.com/groups/s3/FakeGroup"),
    ({"GrantWrite": 'id="wrong-id"'}, "Invalid id", "id", "wrong-id"),
    ({"GrantRead": f'id="{"a" * 64}"'}, "Invalid id", "id", "a" * 64),  # well-formed, no such account
])
def test_bad_grant_headers_are_invalid_argument(params: dict[str, str], message: str, name: str,
                                                value: str) -> None:
    err = fails(acl.from_grant_headers, params, known)
    assert (err.code, err.status, err.message) == ("InvalidArgument", 400, message)
    assert err.extra == {"ArgumentName": name, "ArgumentValue": value}


def test_email_grantees_are_no_longer_supported() -> None:
    err = fails(acl.from_grant_headers, {"GrantRead": 'emailAddress="x@example.com"'}, known)
    assert (err.code, err.status) == ("MethodNotAllowed", 405)


# --- AccessControlPolicy bodies --------------------------------------------------------


def acp(*grants: dict[str, Any], owner: str = OWNER) -> dict[str, Any]:
    return {"Owner": {"ID": owner, "DisplayName": "ignored"}, "Grants": list(grants)}


def test_valid_policy_keeps_only_what_aws_returns() -> None:
    body = acp({"Grantee": {"Type": "CanonicalUser", "ID": OWNER, "DisplayName": "me"}, "Permission": "FULL_CONTROL"},
               {"Grantee": {"Type": "Group", "URI": acl.LOG_DELIVERY}, "Permission": "WRITE"})
    assert acl.from_policy_xml(body, OWNER, known) == [fc(OWNER), to_group(acl.LOG_DELIVERY, "WRITE")]
    assert acl.from_policy_xml(acp(), OWNER, known) == []  # revoking everything is allowed


@pytest.mark.parametrize("body", [
    None,
    {},
    {"Grants": [{"Grantee": {"Type": "Group", "URI": acl.LOG_DELIVERY}, "Permission": "WRITE"}]},  # no Owner
    {"Owner": {"ID": OWNER}},  # no AccessControlList
    acp({"Grantee": {"Type": "Group", "URI": acl.LOG_DELIVERY}, "Permission": "WRONG-PERMISSION"}),
    acp({"Grantee": {"Type": "BadType", "ID": OWNER}, "Permission": "READ"}),
    acp({"Permission": "READ"}),
    acp(*[{"Grantee": {"Type": "Group", "URI": acl.ALL_USERS}, "Permission": "READ"}] * 101),
])
def test_malformed_policies(body: Any) -> None:
    err = fails(acl.from_policy_xml, body, OWNER, known)
    assert (err.code, err.status, err.message) == ("MalformedACLError", 400, MALFORMED)


def test_a_hundred_grants_are_allowed() -> None:
    many = [{"Grantee": {"Type": "Group", "URI": acl.ALL_USERS}, "Permission": "READ"}] * 100
    assert len(acl.from_policy_xml(acp(*many), OWNER, known)) == 100


@pytest.mark.parametrize(("body", "message", "name", "value"), [
    (acp(owner="wrong-id"), "Invalid id", "CanonicalUser/ID", "wrong-id"),
    (acp({"Grantee": {"Type": "Group", "URI": "http://acs.amazonaws.com/groups/s3/FakeGroup"},
          "Permission": "READ"}), "Invalid group uri", "Group/URI", "http://acs.amazonaws.com/groups/s3/FakeGroup"),
    (acp({"Grantee": {"Type": "CanonicalUser", "ID": "wrong-id"}, "Permission": "READ"}), "Invalid id",
     "CanonicalUser/ID", "wrong-id"),
    (acp({"Grantee": {"Type": "Group", "ID": OWNER}, "Permission": "READ"}), "Invalid group uri", "Group/URI", ""),
])
def test_invalid_grantees_in_policies(body: dict[str, Any], message: str, name: str, value: str) -> None:
    err = fails(acl.from_policy_xml, body, OWNER, known)
    assert (err.code, err.status, err.message) == ("InvalidArgument", 400, message)
    assert err.extra == {"ArgumentName": name, "ArgumentValue": value}


def test_naming_another_owner_is_access_denied() -> None:
    err = fails(acl.from_policy_xml, acp(fc(OTHER), owner=OTHER), OWNER, known)
    assert (err.code, err.status, err.message) == ("AccessDenied", 403, "Access Denied")


def test_email_grantee_in_policy_is_no_longer_supported() -> None:
    body = acp({"Grantee": {"Type": "AmazonCustomerByEmail", "EmailAddress": "x@example.com"}, "Permission": "READ"})
    assert fails(acl.from_policy_xml, body, OWNER, known).status == 405


# --- reading ----------------------------------------------------------------------------


def test_to_response_and_is_public() -> None:
    stored = {"Owner": {"ID": OWNER, "DisplayName": OWNER_ACCT},
              "Grants": acl.canned("public-read", OWNER, OWNER, for_bucket=True)}
    out = acl.to_response(stored)
    assert out == {"Owner": {"ID": OWNER, "DisplayName": OWNER_ACCT},
                   "Grants": [{"Grantee": {"Type": "CanonicalUser", "ID": OWNER}, "Permission": "FULL_CONTROL"},
                              {"Grantee": {"Type": "Group", "URI": acl.ALL_USERS}, "Permission": "READ"}]}
    out["Grants"][0]["Grantee"]["ID"] = "changed"
    assert stored["Grants"][0]["Grantee"]["ID"] == OWNER  # a copy, not the stored record
    assert acl.is_public(stored["Grants"])
    assert acl.is_public(acl.canned("authenticated-read", OWNER, OWNER, for_bucket=False))
    assert not acl.is_public(acl.canned("log-delivery-write", OWNER, OWNER, for_bucket=True))
    assert not acl.is_public(acl.canned("bucket-owner-full-control", OTHER, OWNER, for_bucket=False))


# --- statements ---------------------------------------------------------------------------


def stmts(grants: list[acl.Grant], object_arn: str | None = None, **kw: Any) -> list[dict[str, Any]]:
    return acl.statements(grants, OWNER_ACCT, BUCKET, object_arn, account_of=ACCOUNTS.get, **kw)


def test_bucket_permissions_map_to_aws_actions() -> None:
    read, write, read_acp, write_acp = (stmts([acl.grant(acl.user(OTHER), p)])
                                        for p in ("READ", "WRITE", "READ_ACP", "WRITE_ACP"))
    other = {"AWS": f"arn:aws:iam::{OTHER_ACCT}:root"}
    assert read == [{"Sid": f"ACL grant READ to account {OTHER_ACCT}", "Effect": "Allow", "Principal": other,
                     "Action": ["s3:ListBucket", "s3:ListBucketVersions", "s3:ListBucketMultipartUploads"],
                     "Resource": BUCKET}]
    assert [(s["Action"], s["Resource"]) for s in write] == [(["s3:PutObject", "s3:DeleteObject"], BUCKET + "/*")]
    assert [(s["Action"], s["Resource"]) for s in read_acp] == [(["s3:GetBucketAcl"], BUCKET)]
    assert [(s["Action"], s["Resource"]) for s in write_acp] == [(["s3:PutBucketAcl"], BUCKET)]


def test_bucket_full_control_is_the_union_and_owner_may_delete_versions() -> None:
    owner_fc = stmts([fc(OWNER)])
    assert [(s["Sid"], s["Resource"]) for s in owner_fc] == [
        (f"ACL grant FULL_CONTROL to account {OWNER_ACCT}", BUCKET),
        (f"ACL grant FULL_CONTROL to account {OWNER_ACCT} on objects", BUCKET + "/*")]
    assert owner_fc[0]["Action"] == ["s3:ListBucket", "s3:ListBucketVersions", "s3:ListBucketMultipartUploads",
                                     "s3:GetBucketAcl", "s3:PutBucketAcl"]
    assert owner_fc[1]["Action"] == ["s3:PutObject", "s3:DeleteObject", "s3:DeleteObjectVersion"]
    assert "s3:DeleteObjectVersion" not in stmts([fc(OTHER)])[1]["Action"]


def test_object_permissions_map_to_aws_actions() -> None:
    def actions(p: str) -> list[str]:
        return [a for s in stmts([acl.grant(acl.user(OTHER), p)], OBJECT) for a in s["Action"]]

    assert actions("READ") == ["s3:GetObject", "s3:GetObjectVersion"]
    assert actions("READ_ACP") == ["s3:GetObjectAcl", "s3:GetObjectVersionAcl"]
    assert actions("WRITE_ACP") == ["s3:PutObjectAcl", "s3:PutObjectVersionAcl"]
    assert actions("WRITE") == []
    assert actions("FULL_CONTROL") == ["s3:GetObject", "s3:GetObjectVersion", "s3:GetObjectAcl",
                                       "s3:GetObjectVersionAcl", "s3:PutObjectAcl", "s3:PutObjectVersionAcl"]
    assert {s["Resource"] for s in stmts([fc(OTHER)], OBJECT)} == {OBJECT}


def test_group_principals_and_what_grants_nothing() -> None:
    public = stmts(acl.canned("public-read", OWNER, OWNER, for_bucket=False), OBJECT)
    assert public[1]["Principal"] == "*" and public[1]["Sid"] == "ACL grant READ to AllUsers"
    assert "Condition" not in public[1]
    auth = stmts(acl.canned("authenticated-read", OWNER, OWNER, for_bucket=False), OBJECT)[1]
    assert auth["Principal"] == "*" and auth["Condition"] == {"Null": {"aws:PrincipalAccount": "false"}}
    assert auth["Sid"] == "ACL grant READ to AuthenticatedUsers"
    # LogDelivery, EC2's za-team (no account here) and, with IgnorePublicAcls, public groups grant nothing.
    for name in ("log-delivery-write", "aws-exec-read", "public-read-write"):
        kept = stmts(acl.canned(name, OWNER, OWNER, for_bucket=True), ignore_public=True)
        assert {s["Sid"] for s in kept} == {f"ACL grant FULL_CONTROL to account {OWNER_ACCT}",
                                             f"ACL grant FULL_CONTROL to account {OWNER_ACCT} on objects"}


def test_repeated_grants_give_one_statement() -> None:
    grants = [to_group(acl.ALL_USERS, "READ")] * 3
    assert len(stmts(grants, OBJECT)) == 1


# --- end to end with the policy engine --------------------------------------------------


def decide(caller: str, grants: list[acl.Grant], identity: list[dict[str, Any]] | None = None) -> bool:
    doc = {"Version": "2012-10-17", "Statement": stmts(grants, OBJECT)}
    req = RequestContext(Caller.from_arn(caller), "s3:GetObject", OBJECT, resource_account=OWNER_ACCT)
    return evaluate(req, PolicySet.build(identity=identity or [], resource=("object ACL", doc))).allowed


ALLOW_GET = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"}]}
OTHER_USER = f"arn:aws:iam::{OTHER_ACCT}:user/bob"


def test_public_read_lets_anonymous_get_and_private_does_not() -> None:
    assert decide("anonymous", acl.canned("public-read", OWNER, OWNER, for_bucket=False))
    assert not decide("anonymous", acl.canned("private", OWNER, OWNER, for_bucket=False))
    assert not decide("anonymous", acl.canned("public-read", OWNER, OWNER, for_bucket=False)[:1])


def test_authenticated_read_lets_other_accounts_in_but_not_anonymous() -> None:
    grants = acl.canned("authenticated-read", OWNER, OWNER, for_bucket=False)
    assert decide(OTHER_USER, grants, [ALLOW_GET])
    assert not decide(OTHER_USER, grants)  # across accounts the user's own policies must allow too
    assert not decide("anonymous", grants)
    assert not decide(OTHER_USER, acl.canned("private", OWNER, OWNER, for_bucket=False), [ALLOW_GET])


def test_a_grant_to_another_account_names_the_statement() -> None:
    grants = [fc(OWNER), acl.grant(acl.user(OTHER), "READ")]
    doc = {"Version": "2012-10-17", "Statement": stmts(grants, OBJECT)}
    req = RequestContext(Caller.from_arn(OTHER_USER), "s3:GetObject", OBJECT, resource_account=OWNER_ACCT)
    d = evaluate(req, PolicySet.build(identity=[ALLOW_GET], resource=("object ACL", doc)))
    assert d.allowed
    assert f"ACL grant READ to account {OTHER_ACCT}" in {s.sid for s in d.statements}
    assert not decide(f"arn:aws:iam::999988887777:user/eve", grants, [ALLOW_GET])
