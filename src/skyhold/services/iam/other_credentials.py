"""Credentials Skyhold does not issue — signing certificates, SSH public keys,
server certificates, SAML providers. Their list operations answer truthfully that
there are none, so tools that inventory or clean up a user (Terraform's
force_destroy, audit scripts) work."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from skyhold import principal as p
from skyhold.services.iam import common

if TYPE_CHECKING:
    from skyhold.pipeline import Call


def _for_user(result_key: str, paged: bool = True):  # type: ignore[no-untyped-def]
    def handler(call: Call, params: dict[str, Any]) -> dict[str, Any]:
        if params.get("UserName") is not None or call.principal.type == p.IAM_USER:
            common.require_user(call.store, common.account_of(call), common.caller_user_name(call, params))
        return {result_key: [], "IsTruncated": False} if paged else {result_key: []}

    return handler


def _for_account(result_key: str, paged: bool = True):  # type: ignore[no-untyped-def]
    def handler(call: Call, params: dict[str, Any]) -> dict[str, Any]:
        return {result_key: [], "IsTruncated": False} if paged else {result_key: []}

    return handler


HANDLERS = {
    "ListSigningCertificates": _for_user("Certificates"),
    "ListSSHPublicKeys": _for_user("SSHPublicKeys"),
    "ListServerCertificates": _for_account("ServerCertificateMetadataList"),
    "ListSAMLProviders": _for_account("SAMLProviderList", paged=False),
}
