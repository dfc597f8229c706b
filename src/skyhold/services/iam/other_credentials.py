"""Credentials Skyhold does not issue — signing certificates, SSH public keys,
service-specific credentials, server certificates, SAML providers. Their list
operations answer truthfully that there are none, so tools that inventory or clean
up a user (Terraform's force_destroy, audit scripts) work."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from skyhold import principal as p
from skyhold.services.iam import common, errors

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


# The services IAM issues service-specific credentials for.
SSC_SERVICES = frozenset({"codecommit.amazonaws.com", "cassandra.amazonaws.com", "bedrock.amazonaws.com"})


def list_service_specific_credentials(call: Call, params: dict[str, Any]) -> dict[str, Any]:
    result = _for_user("ServiceSpecificCredentials")(call, params)  # the user is checked first
    service = params.get("ServiceName")
    if service is not None and service not in SSC_SERVICES:
        raise errors.no_such_entity(f"No such service {service} is supported for Service Specific Credentials")
    return result


HANDLERS = {
    "ListSigningCertificates": _for_user("Certificates"),
    "ListSSHPublicKeys": _for_user("SSHPublicKeys"),
    "ListServiceSpecificCredentials": list_service_specific_credentials,
    "ListServerCertificates": _for_account("ServerCertificateMetadataList"),
    "ListSAMLProviders": _for_account("SAMLProviderList", paged=False),
}
