"""Secrets Manager and Parameter Store differences a review reproduced: paging tokens
and MaxResults on every listing, label rules, the labelled oldest version, name rules
and parameter tiers, each now answered as AWS answers."""

from __future__ import annotations

import base64
import uuid
from typing import Any

import pytest

from .conftest import AwsEnv, aws_error


@pytest.fixture
def sm(admin: AwsEnv) -> Any:
    return admin.unchecked_client("secretsmanager")  # the SDK would refuse some of these itself


@pytest.fixture
def ssm(admin: AwsEnv) -> Any:
    return admin.unchecked_client("ssm")


def _uid() -> str:
    return uuid.uuid4().hex[:8]


# --- Secrets Manager: NextToken -----------------------------------------------------

TOO_LONG = ("1 validation error detected: Value at 'nextToken' failed to satisfy constraint: "
            "Member must have length less than or equal to 4096")
BAD_TOKEN = ("InvalidNextTokenException", "The NextToken value is invalid.", 400)


def test_a_next_token_over_the_models_length_is_a_validation_error(sm: Any) -> None:
    token = "9" * 5000  # more digits than Python converts to int: was a 500
    assert aws_error(lambda: sm.list_secrets(NextToken=token)) == ("ValidationException", TOO_LONG, 400)
    assert aws_error(lambda: sm.batch_get_secret_value(
        Filters=[{"Key": "name", "Values": ["s"]}], NextToken=token)) == ("ValidationException", TOO_LONG, 400)
    assert aws_error(lambda: sm.list_secret_version_ids(SecretId="any", NextToken=token)) == (
        "ValidationException", TOO_LONG, 400)


@pytest.mark.parametrize("token", ["9" * 4096, "0", "007", "-1", "+1", "1234567890"])
def test_a_next_token_skyhold_did_not_issue_is_refused(sm: Any, token: str) -> None:
    assert aws_error(lambda: sm.list_secrets(NextToken=token)) == BAD_TOKEN
    assert aws_error(lambda: sm.batch_get_secret_value(
        Filters=[{"Key": "name", "Values": ["s"]}], NextToken=token)) == BAD_TOKEN


def test_list_secrets_still_pages_with_its_own_tokens(sm: Any) -> None:
    prefix = f"pg12-{_uid()}"
    for i in range(3):
        sm.create_secret(Name=f"{prefix}-{i}", SecretString="v")
    names, token = [], None
    while True:
        page = sm.list_secrets(MaxResults=1, Filters=[{"Key": "name", "Values": [prefix]}],
                               **({"NextToken": token} if token else {}))
        names += [s["Name"] for s in page["SecretList"]]
        token = page.get("NextToken")
        if not token:
            break
    assert sorted(names) == [f"{prefix}-{i}" for i in range(3)]


def test_a_token_past_the_end_after_deletions_is_an_empty_last_page(sm: Any) -> None:
    """A paginate-and-delete loop: the first page's secrets are deleted before the
    next page is asked for, so the token now points past the end."""
    prefix = f"pd12-{_uid()}"
    for i in range(2):
        sm.create_secret(Name=f"{prefix}-{i}", SecretString="v")
    first = sm.list_secrets(MaxResults=1, Filters=[{"Key": "name", "Values": [prefix]}])
    assert first.get("NextToken")
    for secret in sm.list_secrets(Filters=[{"Key": "name", "Values": [prefix]}])["SecretList"]:
        sm.delete_secret(SecretId=secret["ARN"], ForceDeleteWithoutRecovery=True)
    last = sm.list_secrets(MaxResults=1, Filters=[{"Key": "name", "Values": [prefix]}], NextToken=first["NextToken"])
    assert last["SecretList"] == [] and "NextToken" not in last


# --- Secrets Manager: ListSecretVersionIds paging -----------------------------------

def _secret_with_versions(sm: Any, count: int) -> str:
    name = f"lv12-{_uid()}"
    sm.create_secret(Name=name, SecretString="a", ClientRequestToken=str(uuid.uuid4()))
    for i in range(count - 1):
        sm.put_secret_value(SecretId=name, SecretString=f"b{i}", ClientRequestToken=str(uuid.uuid4()))
    return name


def test_list_secret_version_ids_pages_by_max_results(sm: Any) -> None:
    name = _secret_with_versions(sm, 4)
    every = sm.list_secret_version_ids(SecretId=name, IncludeDeprecated=True)
    assert len(every["Versions"]) == 4 and "NextToken" not in every
    seen, token = [], None
    while True:
        page = sm.list_secret_version_ids(SecretId=name, IncludeDeprecated=True, MaxResults=1,
                                          **({"NextToken": token} if token else {}))
        assert len(page["Versions"]) == 1 and page["Name"] == name
        seen += [v["VersionId"] for v in page["Versions"]]
        token = page.get("NextToken")
        if not token:
            break
    assert seen == [v["VersionId"] for v in every["Versions"]]


def test_list_secret_version_ids_refuses_max_results_outside_1_to_100(sm: Any) -> None:
    name = _secret_with_versions(sm, 1)
    rule = ("1 validation error detected: Value '{}' at 'maxResults' failed to satisfy constraint: "
            "Member must have value {}")
    assert aws_error(lambda: sm.list_secret_version_ids(SecretId=name, MaxResults=0)) == (
        "ValidationException", rule.format(0, "greater than or equal to 1"), 400)
    assert aws_error(lambda: sm.list_secret_version_ids(SecretId=name, MaxResults=101)) == (
        "ValidationException", rule.format(101, "less than or equal to 100"), 400)
    assert aws_error(lambda: sm.list_secret_version_ids(SecretId=name, NextToken="garbage")) == BAD_TOKEN


# --- SSM: LabelParameterVersion -----------------------------------------------------

def _param(ssm: Any, prefix: str, versions: int = 1) -> str:
    name = f"/{prefix}/{_uid()}"
    for i in range(versions):
        ssm.put_parameter(Name=name, Value=f"v{i + 1}", Type="String", Overwrite=i > 0)
    return name


def _labels(ssm: Any, name: str) -> dict[int, list[str]]:
    return {p["Version"]: p["Labels"] for p in ssm.get_parameter_history(Name=name)["Parameters"]}


def test_labels_outside_the_character_rules_are_returned_as_invalid(ssm: Any) -> None:
    name = _param(ssm, "lbl12")
    bad = ["a b", "x/y", "c:d", "1st", "AWSy", "ssm-x", "é"]
    out = ssm.label_parameter_version(Name=name, ParameterVersion=1, Labels=bad + ["ok.label-1_"])
    assert out["InvalidLabels"] == bad and out["ParameterVersion"] == 1
    assert _labels(ssm, name)[1] == ["ok.label-1_"]
    assert aws_error(lambda: ssm.get_parameter(Name=f"{name}:c:d"))[0] == "ParameterVersionNotFound"


def test_a_label_over_100_characters_is_a_validation_error(ssm: Any) -> None:
    name = _param(ssm, "lbl12")
    assert aws_error(lambda: ssm.label_parameter_version(Name=name, ParameterVersion=1, Labels=["ok", "a" * 101])) == (
        "ValidationException", f"1 validation error detected: Value '[ok, {'a' * 101}]' at 'labels' failed to satisfy "
        "constraint: Member must satisfy constraint: [Member must have length less than or equal to 100, Member must "
        "have length greater than or equal to 1]", 400)
    assert _labels(ssm, name)[1] == []


def test_a_version_holds_at_most_ten_labels(ssm: Any) -> None:
    name = _param(ssm, "lbl12")
    ssm.label_parameter_version(Name=name, ParameterVersion=1, Labels=[f"l{j}" for j in range(6)])
    assert aws_error(lambda: ssm.label_parameter_version(
        Name=name, ParameterVersion=1, Labels=[f"m{j}" for j in range(5)])) == (
        "ParameterVersionLabelLimitExceeded", "A parameter version can have maximum 10 labels.Move one or more "
        "labels to another version and try again.", 400)
    assert len(_labels(ssm, name)[1]) == 6  # nothing attached
    ssm.label_parameter_version(Name=name, ParameterVersion=1, Labels=["l0", "l1", "m0", "m1", "m2", "m3"])
    assert len(_labels(ssm, name)[1]) == 10  # labels it already holds do not count twice


def test_labelling_a_version_that_does_not_exist(ssm: Any) -> None:
    name = _param(ssm, "lbl12", versions=2)
    assert aws_error(lambda: ssm.label_parameter_version(Name=name, ParameterVersion=99, Labels=["ghost"])) == (
        "ParameterVersionNotFound", f"Systems Manager could not find version 99 of {name}.", 400)
    assert aws_error(lambda: ssm.get_parameter(Name=f"{name}:ghost"))[0] == "ParameterVersionNotFound"


# --- SSM: the 101st version and a labelled oldest one -------------------------------

def test_a_labelled_oldest_version_is_not_pushed_out(ssm: Any) -> None:
    name = _param(ssm, "mv12", versions=100)
    ssm.label_parameter_version(Name=name, ParameterVersion=1, Labels=["prod"])
    assert aws_error(lambda: ssm.put_parameter(Name=name, Value="v101", Type="String", Overwrite=True)) == (
        "ParameterMaxVersionLimitExceeded", f"You attempted to create a new version of {name} by calling the "
        "PutParameter API with the overwrite flag. Version 1, the oldest version, can't be deleted because it has a "
        "label associated with it. Move the label to another version of the parameter, and try again.", 400)
    assert ssm.get_parameter(Name=f"{name}:prod")["Parameter"]["Value"] == "v1"
    assert ssm.get_parameter(Name=name)["Parameter"]["Version"] == 100
    ssm.label_parameter_version(Name=name, ParameterVersion=2, Labels=["prod"])  # moved off the oldest
    assert ssm.put_parameter(Name=name, Value="v101", Type="String", Overwrite=True)["Version"] == 101
    assert aws_error(lambda: ssm.get_parameter(Name=f"{name}:1"))[0] == "ParameterVersionNotFound"
    assert ssm.get_parameter(Name=f"{name}:prod")["Parameter"]["Value"] == "v2"


# --- SSM: name rules ----------------------------------------------------------------

def test_surrounding_spaces_are_removed_from_a_new_name(ssm: Any) -> None:
    name = f"/sp12/{_uid()}"
    assert ssm.put_parameter(Name=f"  {name} ", Value="x", Type="String")["Version"] == 1
    assert ssm.get_parameter(Name=name)["Parameter"]["Name"] == name
    inner = aws_error(lambda: ssm.put_parameter(Name=f"{name}/a b", Value="x", Type="String"))
    assert inner[0] == "ValidationException"


def test_a_hierarchy_has_at_most_15_levels(ssm: Any) -> None:
    base = f"/hl12{_uid()}"
    fifteen = base + "".join(f"/l{i}" for i in range(14))
    assert ssm.put_parameter(Name=fifteen, Value="x", Type="String")["Version"] == 1
    assert aws_error(lambda: ssm.put_parameter(Name=f"{fifteen}/l15", Value="x", Type="String")) == (
        "HierarchyLevelLimitExceededException", "A hierarchy can have a maximum of 15 levels.", 400)
    assert aws_error(lambda: ssm.get_parameter(Name=f"{fifteen}/l15"))[0] == "ParameterNotFound"


def test_a_name_is_at_most_1011_characters_with_its_arn_prefix(admin: AwsEnv, ssm: Any) -> None:
    account = admin.client("sts").get_caller_identity()["Account"]
    prefix = f"arn:aws:ssm:us-east-1:{account}:parameter/"
    base = f"/nl12{_uid()}/"
    longest = base + "a" * (1011 - len(prefix) - len(base) + 1)  # the ARN drops the name's leading "/"
    assert len(prefix) + len(longest) - 1 == 1011
    assert ssm.put_parameter(Name=longest, Value="x", Type="String")["Version"] == 1
    code, _, status = aws_error(lambda: ssm.put_parameter(Name=longest + "b", Value="x", Type="String"))
    assert (code, status) == ("ValidationException", 400)
    assert aws_error(lambda: ssm.get_parameter(Name=longest + "b"))[0] == "ParameterNotFound"


# --- SSM: tiers ---------------------------------------------------------------------

# AWS's words, as a CloudFormation status reason quotes them
DOWNGRADE = ("This parameter uses the advanced-parameter tier. You can't downgrade a parameter from the "
             "advanced-parameter tier to the standard-parameter tier. If necessary, you can delete the advanced "
             "parameter and recreate it as a standard parameter. Be aware that standard parameters have a value "
             "limit of 4096 characters.")


def _tier(ssm: Any, name: str) -> str:
    return ssm.describe_parameters(ParameterFilters=[{"Key": "Name", "Values": [name]}])["Parameters"][0]["Tier"]


def test_an_advanced_parameter_is_not_downgraded(ssm: Any) -> None:
    name = f"/tier12/{_uid()}"
    ssm.put_parameter(Name=name, Value="x" * 5000, Type="String", Tier="Advanced")
    code, message, status = aws_error(lambda: ssm.put_parameter(
        Name=name, Value="small", Type="String", Overwrite=True, Tier="Standard"))
    assert (code, message, status) == ("ValidationException", DOWNGRADE, 400)
    assert ssm.get_parameter(Name=name)["Parameter"]["Version"] == 1


def test_an_overwrite_without_tier_keeps_the_parameters_tier(ssm: Any) -> None:
    name = f"/tier12/{_uid()}"
    ssm.put_parameter(Name=name, Value="x", Type="String", Tier="Advanced")
    assert ssm.put_parameter(Name=name, Value="x" * 5000, Type="String", Overwrite=True)["Tier"] == "Advanced"
    assert ssm.put_parameter(Name=name, Value="y", Type="String", Overwrite=True)["Tier"] == "Advanced"
    assert _tier(ssm, name) == "Advanced"
    history = ssm.get_parameter_history(Name=name)["Parameters"]
    assert [p["Tier"] for p in history] == ["Advanced"] * 3


def test_intelligent_tiering_stores_the_tier_it_chose(ssm: Any) -> None:
    small, large = f"/tier12/{_uid()}", f"/tier12/{_uid()}"
    assert ssm.put_parameter(Name=small, Value="x", Type="String", Tier="Intelligent-Tiering")["Tier"] == "Standard"
    assert ssm.put_parameter(Name=large, Value="x" * 5000, Type="String",
                             Tier="Intelligent-Tiering")["Tier"] == "Advanced"
    assert (_tier(ssm, small), _tier(ssm, large)) == ("Standard", "Advanced")


def test_the_size_message_names_the_tier_used(ssm: Any) -> None:
    name = f"/tier12/{_uid()}"
    code, message, status = aws_error(lambda: ssm.put_parameter(
        Name=name, Value="x" * 8193, Type="String", Tier="Advanced"))
    assert (code, status) == ("ValidationException", 400)
    assert message == ("The specified parameter value is too large. Advanced-tier parameters support a maximum "
                       "parameter value of 8192 characters.")  # AWS's words, as a failed apply quoted them
    assert aws_error(lambda: ssm.put_parameter(Name=name, Value="x" * 4097, Type="String"))[1].startswith(
        "Standard tier parameters support a maximum parameter value of 4096 characters.")


# --- SSM: GetParameterHistory paging and NextToken ----------------------------------

def test_get_parameter_history_pages_by_max_results(ssm: Any) -> None:
    name = _param(ssm, "hist12", versions=12)
    default = ssm.get_parameter_history(Name=name)
    assert len(default["Parameters"]) == 12 and "NextToken" not in default
    seen, token, pages = [], None, 0
    while True:
        page = ssm.get_parameter_history(Name=name, MaxResults=5, **({"NextToken": token} if token else {}))
        seen += [p["Version"] for p in page["Parameters"]]
        pages += 1
        token = page.get("NextToken")
        if not token:
            break
    assert seen == list(range(1, 13)) and pages == 3


def test_get_parameter_history_defaults_to_50_a_page(ssm: Any) -> None:
    name = _param(ssm, "hist12", versions=52)
    first = ssm.get_parameter_history(Name=name)
    assert len(first["Parameters"]) == 50 and first.get("NextToken")
    rest = ssm.get_parameter_history(Name=name, NextToken=first["NextToken"])
    assert [p["Version"] for p in rest["Parameters"]] == [51, 52] and "NextToken" not in rest


def _foreign_tokens() -> list[str]:
    """Not base64, base64 of nothing, and base64 of a position outside the listing."""
    return ["!!!", "=", base64.urlsafe_b64encode(b"another-account/us-east-1/zz").decode(),
            base64.urlsafe_b64encode(b"\xff\xfe").decode()]


@pytest.mark.parametrize("token", _foreign_tokens())
def test_a_foreign_next_token_is_refused(ssm: Any, token: str) -> None:
    name = _param(ssm, "tok12", versions=2)
    refused = ("InvalidNextToken", "The specified token isn't valid.", 400)
    assert aws_error(lambda: ssm.describe_parameters(NextToken=token, MaxResults=1)) == refused
    assert aws_error(lambda: ssm.get_parameters_by_path(Path="/tok12", NextToken=token)) == refused
    assert aws_error(lambda: ssm.get_parameter_history(Name=name, NextToken=token)) == refused


def test_a_token_of_one_parameters_history_does_not_page_another(ssm: Any) -> None:
    first, other = _param(ssm, "tok12", versions=3), _param(ssm, "tok12", versions=3)
    token = ssm.get_parameter_history(Name=first, MaxResults=1)["NextToken"]
    assert aws_error(lambda: ssm.get_parameter_history(Name=other, NextToken=token))[0] == "InvalidNextToken"
    assert [p["Version"] for p in ssm.get_parameter_history(Name=first, NextToken=token)["Parameters"]] == [2, 3]
