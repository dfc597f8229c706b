"""The policy simulator (SimulateCustomPolicy / SimulatePrincipalPolicy / GetContextKeysFor*)
called through IAM's handlers against a real store."""

from __future__ import annotations

import json

import pytest

from skyhold.services.iam.simulate import statement_spans

from .conftest import ACCOUNT, fails


def _policy(*statements: dict, indent: int | None = None) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements)}, indent=indent)


def allow(action: str, resource: str = "*", **extra: object) -> dict:
    return {"Effect": "Allow", "Action": action, "Resource": resource, **extra}


def deny(action: str, resource: str = "*", **extra: object) -> dict:
    return {"Effect": "Deny", "Action": action, "Resource": resource, **extra}


def _one(out: dict) -> dict:
    [result] = out["EvaluationResults"]
    return result


# ---- statement positions ----------------------------------------------------------------

def test_positions_of_a_lone_statement_match_iams_documented_example():
    # The AWS CLI's own simulate-custom-policy example reports (1,38)-(1,167) for this text.
    text = ('{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"dynamodb:*","Resource":"*",'
            '"Condition":{"DateGreaterThan":{"aws:CurrentTime":"2018-08-16T12:00:00Z"}}}}')
    assert statement_spans(text) == (((1, 38), (1, 167)),)


def test_positions_in_an_array_start_where_the_previous_statement_ended():
    text = '{"Version":"2012-10-17","Statement":[{"Effect":"Deny","Action":"a:b","Resource":"*"},{"Effect":"Allow","Action":"a:c","Resource":"*"}]}'
    first_open = text.index("[{") + 1
    second_close = text.rindex("}]")
    (s1, e1), (s2, e2) = statement_spans(text)
    assert s1 == (1, first_open + 1)  # just after the "["
    assert s2 == e1  # the next statement starts just after the previous "}"
    assert e2 == (1, second_close + 2)  # just after its own "}"


def test_positions_count_lines_in_indented_documents():
    text = '{\n  "Version": "2012-10-17",\n  "Statement": [\n    {\n      "Effect": "Allow",\n      "Action": "*",\n      "Resource": "*"\n    }\n  ]\n}'
    # Observed from IAM for AdministratorAccess in this layout: (3,17)-(8,6).
    assert statement_spans(text) == (((3, 17), (8, 6)),)


# ---- SimulateCustomPolicy ---------------------------------------------------------------

POLICY = _policy(
    allow(["s3:GetObject", "s3:ListBucket"], Sid="Read"),
    deny("s3:GetObject", "arn:aws:s3:::vault/*", Sid="NoVault"),
    allow("s3:PutObject", Sid="Office", Condition={"IpAddress": {"aws:SourceIp": "203.0.113.0/24"}}),
    allow("s3:DeleteObject", Sid="Tagged", Condition={"ForAllValues:StringEquals": {"aws:TagKeys": ["a", "b"]}}),
    indent=2,
)


def test_allow_with_matched_statement_and_position(iam):
    r = _one(iam("SimulateCustomPolicy", PolicyInputList=[POLICY], ActionNames=["s3:ListBucket"]))
    assert r["EvalDecision"] == "allowed" and r["EvalResourceName"] == "*"
    [m] = r["MatchedStatements"]
    assert m["SourcePolicyId"] == "PolicyInputList.1" and m["SourcePolicyType"] == "IAM Policy"
    lines = POLICY.splitlines()
    start, end = m["StartPosition"], m["EndPosition"]
    # IAM's positions sit just after the "[" before the first statement and just after its "}"
    assert lines[start["Line"] - 1][start["Column"] - 2] == "["
    assert lines[end["Line"] - 1][end["Column"] - 2] == "}"
    assert '"Read"' in "\n".join(lines[start["Line"] - 1:end["Line"]])
    # "*" resources: no per-resource results, no decision details
    assert "ResourceSpecificResults" not in r and "EvalDecisionDetails" not in r


def test_explicit_deny_lists_the_deny_and_the_allow_it_overrides(iam):
    out = iam("SimulateCustomPolicy", PolicyInputList=[POLICY], ActionNames=["s3:GetObject"],
              ResourceArns=["arn:aws:s3:::vault/k", "arn:aws:s3:::open/k"])
    vault, open_ = out["EvaluationResults"]
    assert (vault["EvalResourceName"], vault["EvalDecision"]) == ("arn:aws:s3:::vault/k", "explicitDeny")
    assert (open_["EvalResourceName"], open_["EvalDecision"]) == ("arn:aws:s3:::open/k", "allowed")
    assert len(vault["MatchedStatements"]) == 2 and len(open_["MatchedStatements"]) == 1
    [specific] = vault["ResourceSpecificResults"]
    assert specific["EvalResourceName"] == "arn:aws:s3:::vault/k" and specific["EvalResourceDecision"] == "explicitDeny"
    assert vault["EvalDecisionDetails"] == {}  # same account, named resource


def test_implicit_deny_and_missing_context(iam):
    r = _one(iam("SimulateCustomPolicy", PolicyInputList=[POLICY], ActionNames=["s3:PutObject"]))
    assert r["EvalDecision"] == "implicitDeny" and r["MatchedStatements"] == []
    assert r["MissingContextValues"] == ["aws:SourceIp"]
    r = _one(iam("SimulateCustomPolicy", PolicyInputList=[POLICY], ActionNames=["s3:DeleteBucket"]))
    assert r["EvalDecision"] == "implicitDeny" and r["MissingContextValues"] == []


@pytest.mark.parametrize("ip,decision", [("203.0.113.9", "allowed"), ("198.51.100.1", "implicitDeny")])
def test_context_entries_feed_conditions(iam, ip, decision):
    r = _one(iam("SimulateCustomPolicy", PolicyInputList=[POLICY], ActionNames=["s3:PutObject"],
                 ContextEntries=[{"ContextKeyName": "aws:SourceIp", "ContextKeyValues": [ip], "ContextKeyType": "ip"}]))
    assert r["EvalDecision"] == decision and r["MissingContextValues"] == []


@pytest.mark.parametrize("keys,decision", [(["a"], "allowed"), (["a", "b"], "allowed"), (["a", "c"], "implicitDeny")])
def test_list_typed_context_entries_are_multivalued(iam, keys, decision):
    r = _one(iam("SimulateCustomPolicy", PolicyInputList=[POLICY], ActionNames=["s3:DeleteObject"],
                 ContextEntries=[{"ContextKeyName": "aws:TagKeys", "ContextKeyValues": keys,
                                  "ContextKeyType": "stringList"}]))
    assert r["EvalDecision"] == decision


def test_permissions_boundary_input_caps_the_policies(iam):
    boundary = _policy(allow("s3:List*"))
    out = iam("SimulateCustomPolicy", PolicyInputList=[POLICY], PermissionsBoundaryPolicyInputList=[boundary],
              ActionNames=["s3:ListBucket", "s3:GetObject"])
    listing, getting = out["EvaluationResults"]
    assert listing["EvalDecision"] == "allowed"
    assert listing["PermissionsBoundaryDecisionDetail"] == {"AllowedByPermissionsBoundary": True}
    # the boundary's Allow is reported in the detail, not among the matched statements
    assert [m["SourcePolicyId"] for m in listing["MatchedStatements"]] == ["PolicyInputList.1"]
    assert getting["EvalDecision"] == "implicitDeny"
    assert getting["PermissionsBoundaryDecisionDetail"] == {"AllowedByPermissionsBoundary": False}


def test_a_boundary_deny_is_a_matched_statement(iam):
    boundary = _policy(allow("s3:*"), deny("s3:ListBucket"))
    r = _one(iam("SimulateCustomPolicy", PolicyInputList=[POLICY], PermissionsBoundaryPolicyInputList=[boundary],
                 ActionNames=["s3:ListBucket"]))
    assert r["EvalDecision"] == "explicitDeny"
    assert "PermissionsBoundaryPolicyInputList.1" in [m["SourcePolicyId"] for m in r["MatchedStatements"]]


def test_resource_policy_needs_a_caller_and_grants_across_accounts_only_with_identity(iam):
    other = "111122223333"
    bucket_policy = _policy(allow("s3:GetObject", "arn:aws:s3:::shared/*",
                                  Principal={"AWS": f"arn:aws:iam::{ACCOUNT}:user/alice"}))
    fails(iam, "SimulateCustomPolicy", "InvalidInput", PolicyInputList=[_policy(allow("s3:Nothing"))],
          ActionNames=["s3:GetObject"], ResourcePolicy=bucket_policy)
    base = dict(ActionNames=["s3:GetObject"], ResourceArns=["arn:aws:s3:::shared/k"], ResourcePolicy=bucket_policy,
                CallerArn=f"arn:aws:iam::{ACCOUNT}:user/alice")
    # same account: the bucket policy alone grants, listed as the resource policy
    r = _one(iam("SimulateCustomPolicy", PolicyInputList=[_policy(allow("s3:Nothing"))], **base))
    assert r["EvalDecision"] == "allowed"
    assert [(m["SourcePolicyId"], m["SourcePolicyType"]) for m in r["MatchedStatements"]] == [
        ("ResourcePolicy", "Resource Policy")]
    # another account owns the bucket: identity must allow too, and the details say who did what
    r = _one(iam("SimulateCustomPolicy", PolicyInputList=[_policy(allow("s3:Nothing"))], ResourceOwner=other, **base))
    assert r["EvalDecision"] == "implicitDeny"
    assert r["EvalDecisionDetails"] == {"IAM Policy": "implicitDeny", "Resource Policy": "allowed"}
    r = _one(iam("SimulateCustomPolicy", PolicyInputList=[_policy(allow("s3:*"))],
                 ResourceOwner=f"arn:aws:iam::{other}:root", **base))
    assert r["EvalDecision"] == "allowed"
    assert [m["SourcePolicyType"] for m in r["MatchedStatements"]] == ["Resource Policy", "IAM Policy"]
    fails(iam, "SimulateCustomPolicy", "InvalidInput", "'bogus' is not a valid as a Resource Owner.",
          PolicyInputList=[POLICY], ResourceOwner="bogus", **base)


def test_a_denys_not_principal_never_exempts_a_caller_with_a_boundary(iam):
    """The per-policy details follow the engine: a Deny with NotPrincipal listing the
    caller still applies to it once it has a permissions boundary."""
    other = "111122223333"
    me = f"arn:aws:iam::{ACCOUNT}:user/alice"
    bucket_policy = json.dumps({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Principal": {"AWS": me}, "Action": "s3:GetObject", "Resource": "arn:aws:s3:::shared/*"},
        {"Effect": "Deny", "NotPrincipal": {"AWS": [me, f"arn:aws:iam::{ACCOUNT}:root"]}, "Action": "s3:*",
         "Resource": "arn:aws:s3:::shared/*"}]})
    base = dict(PolicyInputList=[_policy(allow("s3:*"))], ActionNames=["s3:GetObject"],
                ResourceArns=["arn:aws:s3:::shared/k"], ResourcePolicy=bucket_policy, CallerArn=me,
                ResourceOwner=f"arn:aws:iam::{other}:root")
    r = _one(iam("SimulateCustomPolicy", **base))
    assert r["EvalDecision"] == "allowed" and r["EvalDecisionDetails"]["Resource Policy"] == "allowed"
    r = _one(iam("SimulateCustomPolicy", PermissionsBoundaryPolicyInputList=[_policy(allow("s3:*"))], **base))
    assert r["EvalDecision"] == "explicitDeny"
    assert r["EvalDecisionDetails"]["Resource Policy"] == "explicitDeny"


def test_bad_inputs_are_invalid_input(iam):
    fails(iam, "SimulateCustomPolicy", "InvalidInput", "ResourceNames are not in a valid ARN format: my-key.",
          PolicyInputList=[POLICY], ActionNames=["kms:Decrypt"], ResourceArns=["my-key"])
    fails(iam, "SimulateCustomPolicy", "InvalidInput", PolicyInputList=["{not json"], ActionNames=["s3:GetObject"])


def test_pagination_walks_every_result(iam):
    actions = [f"s3:Get{i}" for i in range(5)]
    seen, marker = [], None
    while True:
        page = iam("SimulateCustomPolicy", PolicyInputList=[POLICY], ActionNames=actions, MaxItems=2,
                   **({"Marker": marker} if marker else {}))
        seen += [r["EvalActionName"] for r in page["EvaluationResults"]]
        if not page["IsTruncated"]:
            break
        marker = page["Marker"]
    assert seen == actions


def test_context_keys_for_custom_policy(iam):
    text = _policy(allow("dynamodb:*", "arn:aws:dynamodb:us-west-2:123456789012:table/${aws:username}",
                         Condition={"DateGreaterThan": {"aws:CurrentTime": "2015-08-16T12:00:00Z"}}))
    assert iam("GetContextKeysForCustomPolicy", PolicyInputList=[text, POLICY])["ContextKeyNames"] == [
        "aws:username", "aws:CurrentTime", "aws:SourceIp", "aws:TagKeys"]


# ---- SimulatePrincipalPolicy ------------------------------------------------------------

@pytest.fixture
def carol(iam):
    """A user with an inline policy, a group with inline + managed policies, and a boundary."""
    boundary = iam("CreatePolicy", PolicyName="cap", PolicyDocument=_policy(allow(["s3:*", "iam:List*"])))
    managed = iam("CreatePolicy", PolicyName="s3-writer", PolicyDocument=_policy(allow("s3:PutObject")))
    user = iam("CreateUser", UserName="carol", PermissionsBoundary=boundary["Policy"]["Arn"])["User"]
    iam("PutUserPolicy", UserName="carol", PolicyName="own", PolicyDocument=_policy(deny("s3:DeleteBucket")))
    iam("CreateGroup", GroupName="devs")
    iam("PutGroupPolicy", GroupName="devs", PolicyName="everything", PolicyDocument=_policy(allow("*")))
    iam("AttachGroupPolicy", GroupName="devs", PolicyArn=managed["Policy"]["Arn"])
    iam("AddUserToGroup", GroupName="devs", UserName="carol")
    return user


def test_principal_policies_come_from_user_groups_and_boundary(iam, carol):
    out = iam("SimulatePrincipalPolicy", PolicySourceArn=carol["Arn"],
              ActionNames=["s3:PutObject", "s3:DeleteBucket", "ec2:RunInstances", "iam:ListUsers"])
    put, delete, run, list_ = out["EvaluationResults"]
    assert put["EvalDecision"] == "allowed"
    assert {m["SourcePolicyId"] for m in put["MatchedStatements"]} >= {"group_devs_everything", "s3-writer"}
    assert delete["EvalDecision"] == "explicitDeny"
    assert "user_carol_own" in [m["SourcePolicyId"] for m in delete["MatchedStatements"]]
    assert run["EvalDecision"] == "implicitDeny"  # the group allows *, the boundary does not
    assert run["PermissionsBoundaryDecisionDetail"] == {"AllowedByPermissionsBoundary": False}
    assert list_["EvalDecision"] == "allowed"


def test_boundary_input_replaces_the_entitys_boundary(iam, carol):
    r = _one(iam("SimulatePrincipalPolicy", PolicySourceArn=carol["Arn"], ActionNames=["ec2:RunInstances"],
                 PermissionsBoundaryPolicyInputList=[_policy(allow("ec2:*"))]))
    assert r["EvalDecision"] == "allowed"


def test_caller_arn_simulates_someone_else_with_these_policies(iam, carol):
    text = _policy(allow("s3:GetObject", "arn:aws:s3:::home/${aws:username}/*"))
    iam("PutUserPolicy", UserName="carol", PolicyName="home", PolicyDocument=text)
    own = _one(iam("SimulatePrincipalPolicy", PolicySourceArn=carol["Arn"], ActionNames=["s3:GetObject"],
                   ResourceArns=["arn:aws:s3:::home/carol/x"], PermissionsBoundaryPolicyInputList=[text]))
    bob = _one(iam("SimulatePrincipalPolicy", PolicySourceArn=carol["Arn"], ActionNames=["s3:GetObject"],
                   ResourceArns=["arn:aws:s3:::home/carol/x"], PermissionsBoundaryPolicyInputList=[text],
                   CallerArn=f"arn:aws:iam::{ACCOUNT}:user/bob"))
    assert own["EvalDecision"] == "allowed" and bob["EvalDecision"] == "implicitDeny"


def test_roles_and_groups_can_be_simulated(iam):
    trust = _policy({"Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"}, "Action": "sts:AssumeRole"})
    role = iam("CreateRole", RoleName="app", AssumeRolePolicyDocument=trust)["Role"]
    iam("PutRolePolicy", RoleName="app", PolicyName="q", PolicyDocument=_policy(allow("sqs:SendMessage")))
    r = _one(iam("SimulatePrincipalPolicy", PolicySourceArn=role["Arn"], ActionNames=["sqs:SendMessage"]))
    assert r["EvalDecision"] == "allowed" and r["MatchedStatements"][0]["SourcePolicyId"] == "role_app_q"
    group = iam("CreateGroup", GroupName="ops")["Group"]
    r = _one(iam("SimulatePrincipalPolicy", PolicySourceArn=group["Arn"], ActionNames=["sqs:SendMessage"]))
    assert r["EvalDecision"] == "implicitDeny"


def test_unknown_principal_is_no_such_entity(iam):
    fails(iam, "SimulatePrincipalPolicy", "NoSuchEntity", "The user with name ghost cannot be found.", status=404,
          PolicySourceArn=f"arn:aws:iam::{ACCOUNT}:user/ghost", ActionNames=["s3:GetObject"])
    fails(iam, "GetContextKeysForPrincipalPolicy", "NoSuchEntity",
          PolicySourceArn=f"arn:aws:iam::{ACCOUNT}:role/ghost")


def test_context_keys_for_principal_policy(iam, carol):
    iam("PutUserPolicy", UserName="carol", PolicyName="mfa", PolicyDocument=_policy(
        allow("*", Condition={"Bool": {"aws:MultiFactorAuthPresent": "true"}})))
    keys = iam("GetContextKeysForPrincipalPolicy", PolicySourceArn=carol["Arn"],
               PolicyInputList=[POLICY])["ContextKeyNames"]
    assert keys == ["aws:MultiFactorAuthPresent", "aws:SourceIp", "aws:TagKeys"]


# ---- authorization of the simulator itself ----------------------------------------------

def test_simulate_principal_policy_is_authorized_on_the_principal(iam, carol):
    from skyhold.services.iam import AUTHZ

    [access] = AUTHZ["SimulatePrincipalPolicy"](None, {"PolicySourceArn": carol["Arn"]})
    assert (access.action, access.resource) == ("iam:SimulatePrincipalPolicy", carol["Arn"])
    [access] = AUTHZ["SimulateCustomPolicy"](None, {})
    assert (access.action, access.resource) == ("iam:SimulateCustomPolicy", "*")
