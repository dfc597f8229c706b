"""A request member against its model's constraints, worded as AWS's request validation
words it for the JSON and query services: "Value '1025' at 'numberOfBytes' failed to
satisfy constraint: Member must have value less than or equal to 1024". Problems are
reported together by skyhold.errors.validation_failed ("N validation errors detected:
<a>; <b>"). Fields are the wire's lowerCamelCase paths (e.g. 'tags.1.member.key')."""

from __future__ import annotations

from collections.abc import Iterable

from skyhold.errors import validation_failed


def problem(field: str, value: object, constraint: str) -> str:
    return f"Value '{value}' at '{field}' failed to satisfy constraint: Member must {constraint}"


def null_member(field: str) -> str:
    """A required member left out."""
    return f"Value null at '{field}' failed to satisfy constraint: Member must not be null"


def enum_problem(field: str, value: str, allowed: Iterable[str]) -> str:
    return problem(field, value, f"satisfy enum value set: [{', '.join(allowed)}]")


def check_range(field: str, value: int, low: int, high: int) -> list[str]:
    if value < low:
        return [problem(field, value, f"have value greater than or equal to {low}")]
    if value > high:
        return [problem(field, value, f"have value less than or equal to {high}")]
    return []


def raise_if(problems: list[str]) -> None:
    if problems:
        raise validation_failed(problems)
