"""Client mistakes the operation fuzzer found answered with a 500: each now gets a
Secrets Manager error, and changes nothing."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from .conftest import AwsEnv, aws_error

NULL = "Value null at '{}' failed to satisfy constraint: Member must not be null"



@pytest.fixture
def sm(admin: AwsEnv) -> Any:
    return admin.unchecked_client("secretsmanager")  # the SDK would refuse some of these itself


@pytest.mark.parametrize(("tags", "problems"), [
    ([{"Value": "v"}], [NULL.format("tags.1.member.key")]),
    ([{"Key": "k", "Value": "v"}, {"Key": "k2"}], [NULL.format("tags.2.member.value")]),
    ([{}], [NULL.format("tags.1.member.key"), NULL.format("tags.1.member.value")]),
])
def test_tags_without_a_key_or_value(sm: Any, tags: list[dict[str, str]], problems: list[str]) -> None:
    n = len(problems)
    expected = ("ValidationException", f"{n} validation error{'s' if n > 1 else ''} detected: " + "; ".join(problems),
                400)
    name = f"fuzz-tags-{uuid.uuid4().hex[:6]}"
    assert aws_error(lambda: sm.create_secret(Name=name, SecretString="s", Tags=tags)) == expected
    assert aws_error(lambda: sm.describe_secret(SecretId=name))[0] == "ResourceNotFoundException"

    sm.create_secret(Name=name, SecretString="s", Tags=[{"Key": "team", "Value": "a"}])
    assert aws_error(lambda: sm.tag_resource(SecretId=name, Tags=tags)) == expected
    assert sm.describe_secret(SecretId=name)["Tags"] == [{"Key": "team", "Value": "a"}]


def test_list_secrets_filters_need_a_known_key_and_values(sm: Any) -> None:
    assert aws_error(lambda: sm.list_secrets(Filters=[{"Values": ["x"]}])) == (
        "InvalidParameterException", "Invalid filter key", 400)
    assert aws_error(lambda: sm.list_secrets(Filters=[{"Key": "name", "Values": ["x"]}, {"Key": "nope", "Values": ["x"]}])) == (
        "ValidationException", "1 validation error detected: Value 'nope' at 'filters.2.member.key' failed to satisfy "
        "constraint: Member must satisfy enum value set: [all, name, tag-key, description, tag-value, primary-region, "
        "owning-service]", 400)
    assert aws_error(lambda: sm.list_secrets(Filters=[{"Key": "description"}])) == (
        "InvalidParameterException", "Invalid filter values for key: description", 400)
    name = f"fuzz-filter-{uuid.uuid4().hex[:6]}"
    sm.create_secret(Name=name, SecretString="s")
    assert [s["Name"] for s in sm.list_secrets(Filters=[{"Key": "name", "Values": [name]}])["SecretList"]] == [name]


def test_list_secrets_paging_members_outside_their_range(sm: Any) -> None:
    rule = "1 validation error detected: Value '{}' at 'maxResults' failed to satisfy constraint: Member must have "
    for value, constraint in ((0, "value greater than or equal to 1"), (-1, "value greater than or equal to 1"),
                              (101, "value less than or equal to 100")):
        assert aws_error(lambda: sm.list_secrets(MaxResults=value)) == (
            "ValidationException", rule.format(value) + constraint, 400)
    for token in ("²", "not-a-token", "-1"):  # "²".isdigit(), but int("²") fails
        assert aws_error(lambda: sm.list_secrets(NextToken=token)) == (
            "InvalidNextTokenException", "The NextToken value is invalid.", 400)
    for i in range(2):
        sm.create_secret(Name=f"fuzz-page-{uuid.uuid4().hex[:6]}-{i}", SecretString="s")
    first = sm.list_secrets(MaxResults=1)
    assert len(first["SecretList"]) == 1
    assert len(sm.list_secrets(MaxResults=1, NextToken=first["NextToken"])["SecretList"]) == 1
