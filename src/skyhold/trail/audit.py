"""The pipeline's last step: turn a finished call into CloudTrail events and record them.

An event goes to the caller's account and, for a cross-account call, to the account
that owns the resource too (recipientAccountId differs), as CloudTrail does.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from skyhold.errors import AwsError
from pathlib import Path

from skyhold.store.sqlite import SqliteStore
from skyhold.trail import events
from skyhold.trail.recorder import EVENT, REQUEST, Recorder, Row

if TYPE_CHECKING:
    from skyhold.pipeline import Call


class Audit:
    def __init__(self, store: SqliteStore, journal_folder: Path, sync: SqliteStore | None = None) -> None:
        """`sync`: the server's store, when its commits are made durable with the events."""
        self.recorder = Recorder(store, journal_folder, sync)

    async def record(
        self, call: Call, params: dict[str, Any] | None, result: dict[str, Any] | None, failure: AwsError | None
    ) -> bool:
        """Whether anything was recorded (and is now durable)."""
        who = call.principal
        accesses = call.accesses
        owners = [a.resource_account for a in accesses if a.resource_account]
        accounts = list(dict.fromkeys([who.account, *owners] if who.account else owners))
        if not accounts:
            return False  # an anonymous call on nothing anyone owns: no trail to write to
        resources = [r for a in accesses if (r := events.resource_of(a.resource, a.resource_account or who.account))]
        request = call.request
        explain = failure.explanation if failure is not None else None
        rows: list[Row] = []
        keys = []
        for account in accounts:
            event = events.build(
                who=who,
                service=call.service,
                operation=call.operation,
                region=call.region,
                source_ip=request.source_ip,
                user_agent=request.headers.get("user-agent", ""),
                request_id=call.request_id,
                params=params,
                result=result,
                error_code=failure.code if failure else None,
                error_message=failure.message if failure else None,
                recipient_account=account,
                resources=resources,
            )
            key = self.recorder.key(account)
            keys.append(key)
            rows.append((EVENT, key, {"event": event, "explain": explain}))
        rows.append((REQUEST, call.request_id, {"events": keys}))
        await self.recorder.record(rows)
        return True

    def start(self) -> None:
        self.recorder.start()

    def close(self) -> None:
        self.recorder.close()
