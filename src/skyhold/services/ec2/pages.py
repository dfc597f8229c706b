"""MaxResults/NextToken of EC2's Describe* calls: a range check and tokens naming the
last item of the previous page (so a page boundary survives items coming and going)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from skyhold import paging
from skyhold.errors import AwsError

T = TypeVar("T")


def check_limit(limit: int | None, low: int = 5, high: int = 1000) -> None:
    """AWS's refusal of a MaxResults outside the call's range (5 to 1000 for the
    Describe* calls here, as botocore's model bounds them)."""
    if limit is not None and not low <= limit <= high:
        raise AwsError("InvalidParameterValue", f"Value ( {limit} ) for parameter maxResults is invalid. Expecting a "
                       f"value greater than {low}.")


def page(items: list[T], params: dict[str, Any], key: Callable[[T], str]) -> tuple[list[T], str | None]:
    """The page of `items` MaxResults and NextToken ask for, and the next page's token
    (None on the last). An unknown token is AWS's InvalidParameterValue."""
    limit, token = params.get("MaxResults"), params.get("NextToken")
    check_limit(limit)
    start = 0
    if token:
        after = paging.position(token) or ""
        start = next((n + 1 for n, item in enumerate(items) if key(item) == after), -1)
        if start < 0:
            raise AwsError("InvalidParameterValue", f"Invalid value '{token}' for nextToken")
    chosen = items[start:start + limit] if limit is not None else items[start:]
    more = limit is not None and start + limit < len(items)
    return chosen, paging.token(key(chosen[-1])) if more and chosen else None
