"""AWS's evaluation logic, rule by rule, each as a pair where one change flips the
decision; and the AccessDenied message for every policy type."""

from __future__ import annotations

from .conftest import ACCT, ALICE, OTHER, ROLE, SESSION, decide, doc, kind, stmt

ALLOW = doc(stmt(action="*"))
ALLOW_S3 = doc(stmt(action="s3:*"))
DENY_S3 = doc(stmt("Deny", action="s3:*"))
ALLOW_EC2 = doc(stmt(action="ec2:*"))
KEY = f"arn:aws:kms:us-east-1:{ACCT}:key/1234"


def bucket_for(principal: object) -> dict:
    return doc(stmt(resource="arn:aws:s3:::b/*", Principal=principal))


# --- deny wins, allow needed -------------------------------------------------------------


def test_no_policy_is_implicit_deny_and_an_allow_flips_it() -> None:
    assert kind(decide()) == "ImplicitlyDenied"
    assert kind(decide(identity=[ALLOW_S3])) == "Allowed"


def test_explicit_deny_in_any_policy_wins() -> None:
    assert kind(decide(identity=[ALLOW, DENY_S3])) == "ExplicitlyDenied"
    assert kind(decide(identity=[ALLOW], resource_policy=doc(stmt("Deny", Principal="*")))) == "ExplicitlyDenied"
    assert kind(decide(identity=[ALLOW], boundary=doc(stmt(action="*"), stmt("Deny")))) == "ExplicitlyDenied"
    assert kind(decide(identity=[ALLOW], scps=[[ALLOW], [ALLOW, DENY_S3]])) == "ExplicitlyDenied"
    assert kind(decide(identity=[ALLOW], scps=[[ALLOW], [ALLOW]])) == "Allowed"


# --- Organizations -----------------------------------------------------------------------


def test_scp_must_allow_at_every_level() -> None:
    assert kind(decide(identity=[ALLOW], scps=[[ALLOW], [ALLOW_EC2]])) == "ImplicitlyDenied"
    assert kind(decide(identity=[ALLOW], scps=[[ALLOW], [ALLOW_EC2, ALLOW_S3]])) == "Allowed"


def test_scp_never_grants() -> None:
    assert kind(decide(scps=[[ALLOW]])) == "ImplicitlyDenied"


def test_scps_skip_management_account_and_service_principals() -> None:
    assert kind(decide(identity=[ALLOW], scps=[[DENY_S3]])) == "ExplicitlyDenied"
    assert kind(decide(identity=[ALLOW], scps=[[DENY_S3]], flags={"is_management_account": True})) == "Allowed"
    svc_bucket = bucket_for({"Service": "cloudtrail.amazonaws.com"})
    assert kind(decide(principal="cloudtrail.amazonaws.com", resource_policy=svc_bucket, scps=[[DENY_S3]])) == "Allowed"


def test_rcps_apply_to_resource_account_and_only_supported_services() -> None:
    rcp_deny = doc(
        stmt("Deny", action="*", Principal="*", Condition={"StringNotEquals": {"aws:PrincipalOrgID": "o-1"}})
    )
    full = doc(stmt(action="*", Principal="*"))
    assert kind(decide(identity=[ALLOW], rcps=[[full, rcp_deny]])) == "ExplicitlyDenied"
    assert kind(decide(identity=[ALLOW], rcps=[[full, rcp_deny]], context={"aws:PrincipalOrgID": "o-1"})) == "Allowed"
    # ec2 does not support RCPs: they do not apply.
    assert kind(decide(action="ec2:RunInstances", resource="*", identity=[ALLOW], rcps=[[rcp_deny]])) == "Allowed"
    # Nor to resources of the management account.
    assert (
        kind(decide(identity=[ALLOW], rcps=[[rcp_deny]], flags={"resource_in_management_account": True})) == "Allowed"
    )


def test_rcp_must_allow_at_every_level() -> None:
    full = doc(stmt(action="*", Principal="*"))
    kms_only = doc(stmt(action="kms:*", Principal="*"))
    assert kind(decide(identity=[ALLOW], rcps=[[full], [kms_only]])) == "ImplicitlyDenied"
    assert kind(decide(identity=[ALLOW], rcps=[[full], [full]])) == "Allowed"


# --- boundaries and session policies -----------------------------------------------------


def test_permissions_boundary_limits_identity_policies() -> None:
    assert kind(decide(identity=[ALLOW], boundary=ALLOW_EC2)) == "ImplicitlyDenied"
    assert kind(decide(identity=[ALLOW], boundary=ALLOW_S3)) == "Allowed"
    assert kind(decide(identity=[ALLOW_EC2], boundary=ALLOW)) == "ImplicitlyDenied"


def test_session_policy_limits_the_session() -> None:
    assert kind(decide(principal=SESSION, identity=[ALLOW], session=[ALLOW_EC2])) == "ImplicitlyDenied"
    assert kind(decide(principal=SESSION, identity=[ALLOW], session=[ALLOW_EC2, ALLOW_S3])) == "Allowed"


def test_same_account_resource_policy_naming_user_bypasses_boundary() -> None:
    assert kind(decide(boundary=ALLOW_EC2, resource_policy=bucket_for({"AWS": ALICE}))) == "Allowed"
    assert kind(decide(boundary=ALLOW_EC2, resource_policy=bucket_for({"AWS": ACCT}))) == "ImplicitlyDenied"


def test_same_account_resource_policy_naming_session_bypasses_boundary_and_session_policy() -> None:
    rp = bucket_for({"AWS": SESSION})
    assert kind(decide(principal=SESSION, boundary=ALLOW_EC2, session=[ALLOW_EC2], resource_policy=rp)) == "Allowed"
    by_role = bucket_for({"AWS": ROLE})
    assert kind(decide(principal=SESSION, boundary=ALLOW_EC2, resource_policy=by_role)) == "ImplicitlyDenied"
    assert kind(decide(principal=SESSION, session=[ALLOW_EC2], resource_policy=by_role)) == "ImplicitlyDenied"
    # Naming the role grants when nothing limits the session.
    assert kind(decide(principal=SESSION, resource_policy=by_role)) == "Allowed"


def test_same_account_identity_or_resource_policy_suffices() -> None:
    assert kind(decide(identity=[ALLOW_S3])) == "Allowed"
    assert kind(decide(resource_policy=bucket_for({"AWS": ALICE}))) == "Allowed"
    # An account principal delegates to IAM: the identity policy must allow.
    assert kind(decide(resource_policy=bucket_for({"AWS": ACCT}))) == "ImplicitlyDenied"
    assert kind(decide(identity=[ALLOW_S3], resource_policy=bucket_for({"AWS": ACCT}))) == "Allowed"


def test_cross_account_needs_both() -> None:
    rp = bucket_for({"AWS": ALICE})
    assert kind(decide(resource_account=OTHER, resource_policy=rp)) == "ImplicitlyDenied"
    assert kind(decide(resource_account=OTHER, identity=[ALLOW_S3])) == "ImplicitlyDenied"
    assert kind(decide(resource_account=OTHER, identity=[ALLOW_S3], resource_policy=rp)) == "Allowed"
    assert (
        kind(decide(resource_account=OTHER, identity=[ALLOW_S3], resource_policy=bucket_for({"AWS": ACCT})))
        == "Allowed"
    )
    assert (
        kind(decide(resource_account=OTHER, identity=[ALLOW_S3], boundary=ALLOW_EC2, resource_policy=rp))
        == "ImplicitlyDenied"
    )


# --- resource policy required: KMS key policies and trust policies ------------------------


def test_kms_key_policy_account_root_enables_iam_policies() -> None:
    key_policy = doc(stmt(action="kms:*", Principal={"AWS": f"arn:aws:iam::{ACCT}:root"}))
    no_root = doc(stmt(action="kms:*", Principal={"AWS": f"arn:aws:iam::{ACCT}:user/other"}))
    flags = {"resource_policy_required": True}
    allow_kms = doc(stmt(action="kms:Decrypt"))
    args = {"action": "kms:Decrypt", "resource": KEY, "flags": flags, "identity": [allow_kms]}
    assert kind(decide(resource_policy=key_policy, **args)) == "Allowed"
    assert kind(decide(resource_policy=no_root, **args)) == "ImplicitlyDenied"
    assert kind(decide(**args)) == "ImplicitlyDenied"
    # Without the flag the same identity policy would have sufficed.
    assert kind(decide(action="kms:Decrypt", resource=KEY, identity=[allow_kms])) == "Allowed"


def test_key_policy_naming_user_grants_without_iam_policy() -> None:
    key_policy = doc(stmt(action="kms:Decrypt", Principal={"AWS": ALICE}))
    flags = {"resource_policy_required": True}
    assert kind(decide(action="kms:Decrypt", resource=KEY, flags=flags, resource_policy=key_policy)) == "Allowed"
    assert (
        kind(decide(action="kms:Encrypt", resource=KEY, flags=flags, resource_policy=key_policy)) == "ImplicitlyDenied"
    )


def test_role_trust_policy_for_assume_role() -> None:
    role = f"arn:aws:iam::{ACCT}:role/Deploy"
    trust_user = {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole", "Principal": {"AWS": ALICE}}],
    }
    trust_acct = {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole", "Principal": {"AWS": ACCT}}],
    }
    flags = {"resource_policy_required": True}
    args = {"action": "sts:AssumeRole", "resource": role, "flags": flags}
    assert kind(decide(resource_policy=trust_user, **args)) == "Allowed"
    assert kind(decide(resource_policy=trust_acct, **args)) == "ImplicitlyDenied"
    assert kind(decide(resource_policy=trust_acct, identity=[doc(stmt(action="sts:AssumeRole"))], **args)) == "Allowed"
    assert kind(decide(identity=[ALLOW], **args)) == "ImplicitlyDenied"


# --- special callers, endpoint policies ------------------------------------------------------


def test_anonymous_only_via_star_principal() -> None:
    public = bucket_for("*")
    assert kind(decide(principal="anonymous", resource_account=ACCT, resource_policy=public)) == "Allowed"
    assert (
        kind(decide(principal="anonymous", resource_account=ACCT, resource_policy=bucket_for({"AWS": ACCT})))
        == "ImplicitlyDenied"
    )


def test_root_user_has_implicit_permissions_in_own_account() -> None:
    root = f"arn:aws:iam::{ACCT}:root"
    assert kind(decide(principal=root)) == "Allowed"
    assert kind(decide(principal=root, scps=[[DENY_S3]])) == "ExplicitlyDenied"
    assert kind(decide(principal=root, resource_account=OTHER)) == "ImplicitlyDenied"


def test_vpc_endpoint_policy_must_allow() -> None:
    ep_s3 = doc(stmt(action="s3:GetObject", Principal="*"))
    ep_put = doc(stmt(action="s3:PutObject", Principal="*"))
    assert kind(decide(identity=[ALLOW], endpoint=ep_s3)) == "Allowed"
    assert kind(decide(identity=[ALLOW], endpoint=ep_put)) == "ImplicitlyDenied"


# --- explanations and messages ----------------------------------------------------------


def msg(**kw: object) -> str:
    return decide(**kw).denial_message()


HEAD = f'User: {ALICE} is not authorized to perform: s3:GetObject on resource: "arn:aws:s3:::b/k"'


def test_denial_messages_name_the_policy_type() -> None:
    assert msg() == f"{HEAD} because no identity-based policy allows the s3:GetObject action"
    assert msg(identity=[DENY_S3]) == f"{HEAD} with an explicit deny in an identity-based policy"
    assert msg(identity=[ALLOW], resource_policy=doc(stmt("Deny", Principal="*"))) == (
        f"{HEAD} with an explicit deny in a resource-based policy"
    )
    assert (
        msg(identity=[ALLOW], boundary=ALLOW_EC2)
        == f"{HEAD} because no permissions boundary allows the s3:GetObject action"
    )
    assert msg(identity=[ALLOW], scps=[[DENY_S3]]) == f"{HEAD} with an explicit deny in a service control policy"
    assert (
        msg(identity=[ALLOW], scps=[[ALLOW_EC2]])
        == f"{HEAD} because no service control policy allows the s3:GetObject action"
    )
    assert msg(identity=[ALLOW], rcps=[[doc(stmt("Deny", Principal="*"))]]) == (
        f"{HEAD} with an explicit deny in a resource control policy"
    )
    assert msg(identity=[ALLOW], endpoint=doc(stmt("Deny", Principal="*"))) == (
        f"{HEAD} with an explicit deny in a VPC endpoint policy"
    )
    assert msg(resource_account=OTHER, identity=[ALLOW]) == (
        f"{HEAD} because no resource-based policy allows the s3:GetObject action"
    )


def test_session_policy_message_and_unquoted_resource() -> None:
    d = decide(principal=SESSION, identity=[ALLOW], session=[ALLOW_EC2])
    assert d.denial_message(quote_resource=False) == (
        f"User: {SESSION} is not authorized to perform: s3:GetObject on resource: arn:aws:s3:::b/k "
        "because no session policy allows the s3:GetObject action"
    )


def test_message_without_resource_for_star() -> None:
    d = decide(action="s3:ListAllMyBuckets", resource="*")
    assert d.denial_message() == (
        f"User: {ALICE} is not authorized to perform: s3:ListAllMyBuckets "
        "because no identity-based policy allows the s3:ListAllMyBuckets action"
    )


def test_explanation_names_statement_and_failing_condition() -> None:
    p = doc(
        {
            "Sid": "Ip",
            "Effect": "Allow",
            "Action": "s3:*",
            "Resource": "*",
            "Condition": {"IpAddress": {"aws:SourceIp": "10.0.0.0/8"}},
        }
    )
    denied = decide(context={"aws:SourceIp": "203.0.113.7"}, identity=[("arn:aws:iam::111122223333:policy/P", p)])
    ex = denied.explain()
    st = ex["policies"][0]["statements"][0]
    assert ex["policies"][0]["policy"] == "arn:aws:iam::111122223333:policy/P"
    assert st["sid"] == "Ip" and st["applies"] is False
    assert st["conditions"][0]["key"] == "aws:SourceIp" and st["conditions"][0]["request_value"] == "203.0.113.7"
    assert st["conditions"][0]["passed"] is False
    assert any("Sid Ip" in r and "aws:SourceIp" in r and "203.0.113.7" in r for r in ex["reasons"])
    allowed = decide(context={"aws:SourceIp": "10.1.1.1"}, identity=[("arn:aws:iam::111122223333:policy/P", p)])
    assert [s.sid for s in allowed.statements] == ["Ip"]
    assert "Allow statement 0 (Sid Ip)" in allowed.reasons[0]


def test_explain_says_how_an_applying_statements_conditions_held() -> None:
    """A Deny on BoolIfExists aws:MultiFactorAuthPresent applies to a long-term key's
    call because the key is missing: the explanation names the key and its absence."""
    p = doc(
        {"Effect": "Allow", "Action": "s3:*", "Resource": "*"},
        {"Sid": "NoMfa", "Effect": "Deny", "Action": "s3:*", "Resource": "*",
         "Condition": {"BoolIfExists": {"aws:MultiFactorAuthPresent": "false"}}})
    ex = decide(identity=[("arn:aws:iam::111122223333:policy/P", p)]).explain()
    assert ex["decision"] == "ExplicitlyDenied"
    held = [r for r in ex["reasons"] if "held" in r]
    assert len(held) == 1 and "Sid NoMfa" in held[0] and "BoolIfExists aws:MultiFactorAuthPresent" in held[0]
    assert held[0].endswith("the request value is missing")
    present = decide(context={"aws:MultiFactorAuthPresent": "false"}, identity=[("arn:aws:iam::111122223333:policy/P", p)])
    assert any(r.endswith("the request value is 'false'") for r in present.explain()["reasons"])
