"""Client mistakes the operation fuzzer found answered with a 500 (or let through):
each now gets SSM's own error, and changes nothing."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from .conftest import AwsEnv, aws_error



@pytest.fixture
def ssm(admin: AwsEnv) -> Any:
    return admin.unchecked_client("ssm")  # the SDK would refuse some of these itself


@pytest.mark.parametrize("pattern", ["[", "(?P<a>x)(?P<a>y)", "a{1,99999999999}", "(" * 500 + ")" * 500])
def test_put_parameter_with_an_allowed_pattern_that_is_no_regular_expression(ssm: Any, pattern: str) -> None:
    name = f"/fuzz/pattern-{uuid.uuid4().hex[:6]}"
    assert aws_error(lambda: ssm.put_parameter(Name=name, Value="v", Type="String", AllowedPattern=pattern)) == (
        "InvalidAllowedPatternException", "The request doesn't meet the regular expression requirement.", 400)
    assert aws_error(lambda: ssm.get_parameter(Name=name))[0] == "ParameterNotFound"
    assert ssm.put_parameter(Name=name, Value="42", Type="String", AllowedPattern=r"^\d+$")["Version"] == 1


@pytest.mark.parametrize(("operation", "most"), [
    ("describe_parameters", 50), ("get_parameters_by_path", 10), ("get_parameter_history", 50)])
def test_max_results_outside_the_models_range(ssm: Any, operation: str, most: int) -> None:
    name = f"/fuzz/max-{uuid.uuid4().hex[:6]}"
    ssm.put_parameter(Name=f"{name}/p", Value="v", Type="String")
    args = {"describe_parameters": {}, "get_parameters_by_path": {"Path": name},
            "get_parameter_history": {"Name": f"{name}/p"}}[operation]
    call = getattr(ssm, operation)
    rule = "1 validation error detected: Value '{}' at 'maxResults' failed to satisfy constraint: Member must have "
    for value, constraint in ((0, "value greater than or equal to 1"), (-1, "value greater than or equal to 1"),
                              (most + 1, f"value less than or equal to {most}")):
        assert aws_error(lambda: call(MaxResults=value, **args)) == (
            "ValidationException", rule.format(value) + constraint, 400)
    assert len(call(MaxResults=most, **args)["Parameters"]) >= 1


def test_put_parameter_of_a_type_ssm_does_not_have(ssm: Any) -> None:
    name = f"/fuzz/type-{uuid.uuid4().hex[:6]}"
    rule = ("1 validation error detected: Value '{}' at 'type' failed to satisfy constraint: Member must satisfy enum "
            "value set: [SecureString, StringList, String]")
    for kind in ("", "Integer"):
        assert aws_error(lambda: ssm.put_parameter(Name=name, Value="v", Type=kind)) == (
            "ValidationException", rule.format(kind), 400)
    ssm.put_parameter(Name=name, Value="v", Type="String")
    assert aws_error(lambda: ssm.put_parameter(Name=name, Value="w", Type="", Overwrite=True)) == (
        "ValidationException", rule.format(""), 400)
    assert ssm.get_parameter(Name=name)["Parameter"]["Value"] == "v"


def test_put_parameter_of_a_tier_ssm_does_not_have(ssm: Any) -> None:
    name = f"/fuzz/tier-{uuid.uuid4().hex[:6]}"
    rule = ("1 validation error detected: Value '{}' at 'tier' failed to satisfy constraint: Member must satisfy enum "
            "value set: [Intelligent-Tiering, Advanced, Standard]")
    for tier in ("", "standard", "Premium"):
        assert aws_error(lambda: ssm.put_parameter(Name=name, Value="v", Type="String", Tier=tier)) == (
            "ValidationException", rule.format(tier), 400)
    assert aws_error(lambda: ssm.get_parameter(Name=name))[0] == "ParameterNotFound"
    both = aws_error(lambda: ssm.put_parameter(Name=name, Value="v", Type="Integer", Tier="Premium"))
    assert both[0] == "ValidationException" and both[1].startswith("2 validation errors detected: Value 'Integer' at "
                                                                   "'type'")
    for tier in ("Standard", "Advanced", "Intelligent-Tiering"):  # the model's tiers are all taken
        assert ssm.put_parameter(Name=name, Value="v", Type="String", Tier=tier, Overwrite=True)["Version"] >= 1


def test_put_parameter_of_a_data_type_ssm_does_not_have(ssm: Any) -> None:
    name = f"/fuzz/data-type-{uuid.uuid4().hex[:6]}"
    for data_type in ("Text", "aws:ec2:Image", "x"):
        assert aws_error(lambda: ssm.put_parameter(Name=name, Value="v", Type="String", DataType=data_type)) == (
            "ValidationException", f"The following data type is not supported: {data_type} "
            "(Data type names are all lowercase.)", 400)
    long = "x" * 129
    assert aws_error(lambda: ssm.put_parameter(Name=name, Value="v", Type="String", DataType=long)) == (
        "ValidationException", f"1 validation error detected: Value '{long}' at 'dataType' failed to satisfy "
        "constraint: Member must have length less than or equal to 128", 400)
    assert aws_error(lambda: ssm.get_parameter(Name=name))[0] == "ParameterNotFound"
    ssm.put_parameter(Name=name, Value="v", Type="String", DataType="text")
    assert aws_error(lambda: ssm.put_parameter(Name=name, Value="w", DataType="bogus", Overwrite=True))[0] == (
        "ValidationException")
    parameter = ssm.get_parameter(Name=name)["Parameter"]
    assert (parameter["Value"], parameter["DataType"], parameter["Version"]) == ("v", "text", 1)
