"""A Skyhold without HTTP: a real store and pipeline in a temp dir, and calls that
go through the service's authz map (the real policy engine) and then its handler —
everything a request does after SigV4. Shared by the KMS, SSM and Secrets Manager
unit tests."""

from __future__ import annotations

import asyncio
import inspect
import json
import uuid
from pathlib import Path
from typing import Any

from skyhold import accounts
from skyhold import principal as P
from skyhold.errors import AwsError
from skyhold.pipeline import Call, Pipeline
from skyhold.services.iam import records as iam_records
from skyhold.store import open_store
from skyhold.wire.http import HttpRequest
from skyhold.wire.models import service_model


class Harness:
    def __init__(self, data_dir: Path) -> None:
        self.data_dir = data_dir
        store, blobs = open_store(data_dir)
        self.store = store
        self.pipeline = Pipeline(store, blobs, data_dir)
        self.account = accounts.create_account(store, "unit").account_id
        self.admin = self.user_principal("admin")

    def close(self) -> None:
        self.pipeline.close()

    def call(self, service: str, operation: str, who: P.Principal, region: str = "us-east-1") -> Call:
        request = HttpRequest("POST", "/", "", {"host": "localhost"})
        return Call(self.pipeline, request, service, operation, region, who, "req-1")

    def run(self, service: str, operation: str, as_: P.Principal | None = None, region: str = "us-east-1",
            **params: Any) -> dict[str, Any]:
        """Authorize (as the pipeline does) and handle one operation."""
        call = self.call(service, operation, as_ or self.admin, region)
        params = {**_sdk_tokens(service, operation, params), **params}
        self.pipeline.authorizer.check(call, params)
        result = self.pipeline.handlers[service][operation](call, params)
        return asyncio.run(result) if inspect.isawaitable(result) else result

    def fails(self, code: str, service: str, operation: str, as_: P.Principal | None = None,
              **params: Any) -> AwsError:
        try:
            self.run(service, operation, as_, **params)
        except AwsError as err:
            assert err.code == code, err
            return err
        raise AssertionError(f"{operation} succeeded; expected {code}")

    def user_principal(self, name: str, account: str | None = None) -> P.Principal:
        account = account or self.account
        rec = self.store.get(iam_records.USER, iam_records.user_key(account, name))
        assert rec is not None
        return P.Principal(type=P.IAM_USER, account=account, arn=rec.value["Arn"], user_id=rec.value["UserId"],
                           name=name)

    def user(self, name: str, *statements: dict[str, Any]) -> P.Principal:
        """An IAM user with one inline policy of the given statements."""
        self.run("iam", "CreateUser", UserName=name)
        if statements:
            self.run("iam", "PutUserPolicy", UserName=name, PolicyName="p",
                     PolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": list(statements)}))
        return self.user_principal(name)


def _sdk_tokens(service: str, operation: str, params: dict[str, Any]) -> dict[str, str]:
    """The idempotency tokens an SDK fills in when the caller gives none (ClientRequestToken)."""
    shape = service_model(service).operation_model(operation).input_shape
    members = shape.members if shape is not None else {}
    return {name: str(uuid.uuid4()) for name, member in members.items()
            if member.metadata.get("idempotencyToken") and name not in params}


def allow(action: str | list[str], resource: str = "*", **condition: Any) -> dict[str, Any]:
    statement: dict[str, Any] = {"Effect": "Allow", "Action": action, "Resource": resource}
    if condition:
        statement["Condition"] = condition
    return statement


def stored_bytes(data_dir: Path) -> bytes:
    """Everything Skyhold keeps on disk, as raw bytes."""
    return b"".join(p.read_bytes() for p in sorted(data_dir.rglob("*")) if p.is_file())
