"""`DryRun`: the call is authorized as usual (the pipeline does that before any
handler runs, so a caller who may not gets the service's denial), then it stops
before it changes or reads anything, with the service's "would have succeeded"."""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from skyhold.errors import AwsError

if TYPE_CHECKING:
    from skyhold.pipeline import Call

Handler = Callable[["Call", dict[str, Any]], Any]


def dry_runnable(handler: Handler, would_succeed: Callable[[], AwsError]) -> Handler:
    def check(params: dict[str, Any]) -> None:
        if params.get("DryRun"):
            raise would_succeed()

    if inspect.iscoroutinefunction(handler):
        async def run_async(call: Call, params: dict[str, Any]) -> Any:
            check(params)
            return await handler(call, params)
        return run_async

    def run(call: Call, params: dict[str, Any]) -> Any:
        check(params)
        return handler(call, params)
    return run
