"""S3 Control: the account-level Block Public Access settings (x-amz-account-id).

The settings live with S3's (skyhold.services.s3.public_access reads them when
deciding on a bucket of the account).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from skyhold.authz import Access
from skyhold.services.s3 import errors
from skyhold.services.s3.authz import request_context
from skyhold.services.s3.public_access import ACCOUNT_KIND, SETTINGS

if TYPE_CHECKING:
    from skyhold.pipeline import Call


def _account(call: Call, params: dict[str, Any]) -> str:
    return params["AccountId"]


def put_public_access_block(call: Call, params: dict[str, Any]) -> dict[str, Any]:
    config = params.get("PublicAccessBlockConfiguration") or {}
    call.store.put(ACCOUNT_KIND, _account(call, params), {k: bool(config.get(k, False)) for k in SETTINGS})
    return {}


def get_public_access_block(call: Call, params: dict[str, Any]) -> dict[str, Any]:
    rec = call.store.get(ACCOUNT_KIND, _account(call, params))
    if rec is None:
        raise errors.no_such_public_access_block()
    return {"PublicAccessBlockConfiguration": dict(rec.value)}


def delete_public_access_block(call: Call, params: dict[str, Any]) -> dict[str, Any]:
    call.store.delete(ACCOUNT_KIND, _account(call, params))
    return {}


def _account_access(action: str) -> Any:
    def fn(call: Call, params: dict[str, Any]) -> list[Access]:
        # The account is the resource owner: naming another account is a cross-account
        # request (which no bucket-like resource policy can allow).
        return [Access(action, "*", request_context(call), resource_account=params["AccountId"])]
    return fn


HANDLERS = {
    "PutPublicAccessBlock": put_public_access_block,
    "GetPublicAccessBlock": get_public_access_block,
    "DeletePublicAccessBlock": delete_public_access_block,
}
AUTHZ = {
    "PutPublicAccessBlock": _account_access("s3:PutAccountPublicAccessBlock"),
    "GetPublicAccessBlock": _account_access("s3:GetAccountPublicAccessBlock"),
    "DeletePublicAccessBlock": _account_access("s3:PutAccountPublicAccessBlock"),
}
