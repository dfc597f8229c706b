"""PutParameter's AllowedPattern: Java-regex syntax SSM accepts, and patterns that
backtrack without end, which must neither stall the server nor let the value in."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from botocore.config import Config

from .conftest import AwsEnv, aws_error


@pytest.fixture
def ssm(admin: AwsEnv) -> Any:
    # A read timeout well under botocore's 60 s: a stalled server fails the test, not the session.
    return admin.session().client("ssm", region_name="us-east-1",
                                  config=Config(read_timeout=20, retries={"max_attempts": 1}))


def _name() -> str:
    return f"/regex/p-{uuid.uuid4().hex[:8]}"


def _mismatch(pattern: str) -> tuple[str, str, int]:
    return ("ParameterPatternMismatchException",
            f"Parameter value, cannot be validated against allowedPattern: {pattern}", 400)


@pytest.mark.parametrize(("pattern", "value"), [
    ("(a|aa)+$", "a" * 80 + "!"),               # exponential in the value's length
    ("(.*){1,32000}[bc]", "a" * 200),          # nested unbounded repetition
])
def test_a_catastrophic_pattern_is_answered_as_a_mismatch(ssm: Any, pattern: str, value: str) -> None:
    name = _name()
    assert aws_error(lambda: ssm.put_parameter(Name=name, Value=value, Type="String",
                                               AllowedPattern=pattern)) == _mismatch(pattern)
    assert aws_error(lambda: ssm.get_parameter(Name=name))[0] == "ParameterNotFound"
    # the server still answers, and the same pattern still admits what it quickly matches
    assert ssm.put_parameter(Name=name, Value="aaaa" if pattern.startswith("(a") else "aab", Type="String",
                             AllowedPattern=pattern)["Version"] == 1
    assert ssm.get_parameter(Name=name)["Parameter"]["Version"] == 1


def test_unicode_properties_of_java_regex(ssm: Any) -> None:
    name = _name()
    pattern = r"^\p{L}+$"
    assert ssm.put_parameter(Name=name, Value="héllo", Type="String", AllowedPattern=pattern)["Version"] == 1
    assert aws_error(lambda: ssm.put_parameter(Name=name, Value="h3llo", Type="String", AllowedPattern=pattern,
                                               Overwrite=True)) == _mismatch(pattern)
    assert ssm.get_parameter(Name=name)["Parameter"]["Value"] == "héllo"
    assert ssm.put_parameter(Name=name, Value="ÉTÉ", Type="String", AllowedPattern=r"[\p{Lu}\p{N}]+",
                             Overwrite=True)["Version"] == 2


@pytest.mark.parametrize("pattern", [r"\(?P", r"\\(?:P)"])
def test_a_literal_parenthesis_before_p_is_no_python_group(ssm: Any, pattern: str) -> None:
    # only an unescaped "(?P" is Python's named-group syntax, which Java refuses
    value = "P" if pattern.startswith(r"\(") else "\\P"
    assert ssm.put_parameter(Name=_name(), Value=value, Type="String", AllowedPattern=pattern)["Version"] == 1


@pytest.mark.parametrize("pattern", [
    "(?:(?:a{1000}){1000}){10}",   # ten million copies: seconds of compiling
    "(?:(?:a{1000}){1000}){100}",  # a hundred million: out of memory
])
def test_a_pattern_whose_repeats_multiply_past_reason_is_refused(ssm: Any, pattern: str) -> None:
    """`regex` expands nested counted repeats while compiling (Java does not): such a
    pattern is refused before compiling, and the server goes on answering."""
    name = _name()
    assert aws_error(lambda: ssm.put_parameter(Name=name, Value="a", Type="String", AllowedPattern=pattern)) == (
        "InvalidAllowedPatternException", "The request doesn't meet the regular expression requirement.", 400)
    ssm.put_parameter(Name=name, Value="aaaa", Type="String", AllowedPattern="(?:(?:a{2}){2}){1}")
    assert ssm.get_parameter(Name=name)["Parameter"]["Value"] == "aaaa"
