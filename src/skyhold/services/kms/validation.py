"""KMS request members that break the API model's constraints, worded as KMS words them:
"1 validation error detected: Value '1025' at 'numberOfBytes' failed to satisfy
constraint: Member must have value less than or equal to 1024" (several problems are
joined with "; " under "N validation errors detected")."""

from __future__ import annotations

from collections.abc import Iterable

from skyhold.errors import validation_failed


def problem(field: str, value: object, constraint: str) -> str:
    return f"Value '{value}' at '{field}' failed to satisfy constraint: Member must {constraint}"


def enum_problem(field: str, value: str, allowed: Iterable[str]) -> str:
    return problem(field, value, f"satisfy enum value set: [{', '.join(allowed)}]")


def raise_if(problems: list[str]) -> None:
    if problems:
        raise validation_failed(problems)


def check_range(field: str, value: int, low: int, high: int) -> list[str]:
    if value < low:
        return [problem(field, value, f"have value greater than or equal to {low}")]
    if value > high:
        return [problem(field, value, f"have value less than or equal to {high}")]
    return []
