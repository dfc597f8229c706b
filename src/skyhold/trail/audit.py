"""The pipeline's last step: hand a finished call to the trail.

An event goes to the caller's account and, for a cross-account call, to the account
that owns the resource too (recipientAccountId differs), as CloudTrail does.

How long a response waits for its event:
- a call that changed something, or failed (denials above all), answers only once
  its event is on disk, together with its changes (recorder.py);
- a call that succeeded and only read answers once its event is in the writer
  process's pipe: a crash of the server loses nothing, and the event is on disk
  within milliseconds. (AWS's own CloudTrail makes no call wait for its record at all.)
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from skyhold import ids
from skyhold.errors import AwsError
from skyhold.services.kms import on_behalf
from skyhold.store.sqlite import SqliteStore
from skyhold.trail import events
from skyhold.trail.recorder import Recorder

if TYPE_CHECKING:
    from skyhold.pipeline import Call


class Audit:
    def __init__(self, store: SqliteStore, journal_folder: Path, sync: SqliteStore | None = None) -> None:
        """`sync`: the server's store, when its commits are made durable with the events."""
        self.recorder = Recorder(store, journal_folder, sync)

    async def record(
        self,
        call: Call,
        params: dict[str, Any] | None,
        result: dict[str, Any] | None,
        failure: AwsError | None,
        *,
        committed: bool,
    ) -> bool:
        """Whether anything was recorded. `committed`: the call changed the store (its
        changes are then made durable with its event)."""
        who = call.principal
        accesses = call.accesses
        owners = [a.resource_account for a in accesses if a.resource_account]
        accounts = list(dict.fromkeys([who.account, *owners] if who.account else owners))
        if not accounts:
            return False  # an anonymous call on nothing anyone owns: no trail to write to
        # IAM's records name no resources (AWS's IAM examples); other services name what was checked.
        resources = [] if call.service == "iam" else [
            r for a in accesses if (r := events.resource_of(a.resource, a.resource_account or who.account))]
        request = call.request
        s3 = call.service == "s3"
        line = events.call_line(
            who=who,
            service=call.service,
            operation=call.operation,
            region=call.region,
            source_ip=request.source_ip,
            user_agent=request.headers.get("user-agent", ""),
            request_id=call.request_id,
            params=params,
            result=result,
            failure=failure,
            keys=[self.recorder.key(account) for account in accounts],
            resources=resources,
            host=request.headers.get("host", "") if s3 else "",
            additional=events.s3_additional(call.operation, request.headers, request.query, result) if s3 else None,
            tls=events.tls_details(request.tls, request.headers.get("host", "")) if request.tls else None,
        )
        durable = committed or failure is not None or not events.is_read_only(call.operation)
        await self.recorder.record(line, durable=durable)
        for kms in call.extras.get(on_behalf.EXTRA) or ():  # KMS calls the service made for the caller
            host = f"{kms.service}.amazonaws.com"
            # a cross-account call KMS refused is logged in the caller's account only (KMS guide)
            denied = kms.failure is not None and kms.failure.code == "AccessDeniedException"
            recipients = (who.account,) if denied else (who.account, kms.key_account)
            await self.recorder.record(events.call_line(
                who=who, service="kms", operation=kms.operation, region=call.region, source_ip=host, user_agent=host,
                request_id=ids.request_id(), params=kms.params, failure=kms.failure,
                result={"KeyMaterialId": kms.material} if kms.material else None,
                keys=[self.recorder.key(a) for a in dict.fromkeys(a for a in recipients if a)],
                resources=[r for r in [events.resource_of(kms.key_arn, kms.key_account)] if r]), durable=durable)
        return True

    def start(self) -> None:
        self.recorder.start()

    def close(self) -> None:
        self.recorder.close()
