"""OpenID Connect identity providers (for sts:AssumeRoleWithWebIdentity)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from skyhold.services.iam import common, errors, records, tags

if TYPE_CHECKING:
    from skyhold.pipeline import Call

MAX_THUMBPRINTS = 5
MAX_CLIENT_IDS = 100


def _host_path(url: str) -> str:
    return url.split("://", 1)[1].rstrip("/") if "://" in url else url.rstrip("/")


def _require(call: Call, provider_arn: str) -> tuple[dict[str, Any], int]:
    rec = call.store.get(records.OIDC_PROVIDER, provider_arn)
    if rec is None or rec.value["Account"] != common.account_of(call):
        raise errors.no_such_entity(f"OpenIDConnect Provider not found for arn {provider_arn}")
    return rec.value, rec.version


def _save(call: Call, provider: dict[str, Any], version: int) -> None:
    call.store.put(records.OIDC_PROVIDER, provider["Arn"], provider, expect_version=version)


def create_open_id_connect_provider(call: Call, params: dict[str, Any]) -> dict[str, Any]:
    store, account = call.store, common.account_of(call)
    url = params["Url"]
    if not url.startswith("https://"):
        raise errors.invalid_input(f"Invalid Url: {url}. The URL must begin with https://")
    new_tags = tags.initial(params.get("Tags"))
    thumbprints = params.get("ThumbprintList") or []
    if len(thumbprints) > MAX_THUMBPRINTS:
        raise errors.quota("ThumbprintsPerIdentityProvider", MAX_THUMBPRINTS)
    provider_arn = records.oidc_provider_arn(account, _host_path(url))
    if store.get(records.OIDC_PROVIDER, provider_arn):
        raise errors.already_exists(f"Provider with url {url} already exists.")
    provider = {
        "Arn": provider_arn,
        "Account": account,
        "Url": _host_path(url),
        "ClientIDList": list(dict.fromkeys(params.get("ClientIDList") or [])),
        "ThumbprintList": thumbprints,
        "CreateDate": common.now_text(),
        "Tags": new_tags,
    }
    store.put(records.OIDC_PROVIDER, provider_arn, provider, expect_version=0)
    out: dict[str, Any] = {"OpenIDConnectProviderArn": provider_arn}
    if new_tags:
        out["Tags"] = new_tags
    return out


def get_open_id_connect_provider(call: Call, params: dict[str, Any]) -> dict[str, Any]:
    provider, _ = _require(call, params["OpenIDConnectProviderArn"])
    out = {k: provider[k] for k in ("Url", "ClientIDList", "ThumbprintList")}
    out["CreateDate"] = common.dt(provider["CreateDate"])
    if provider.get("Tags"):
        out["Tags"] = provider["Tags"]
    return out


def list_open_id_connect_providers(call: Call, params: dict[str, Any]) -> dict[str, Any]:
    prefix = f"arn:aws:iam::{common.account_of(call)}:oidc-provider/"
    return {"OpenIDConnectProviderList": [{"Arn": r.key} for r in call.store.scan(records.OIDC_PROVIDER, prefix)]}


def delete_open_id_connect_provider(call: Call, params: dict[str, Any]) -> dict[str, Any]:
    provider, version = _require(call, params["OpenIDConnectProviderArn"])
    call.store.delete(records.OIDC_PROVIDER, provider["Arn"], expect_version=version)
    return {}


def add_client_id(call: Call, params: dict[str, Any]) -> dict[str, Any]:
    provider, version = _require(call, params["OpenIDConnectProviderArn"])
    if params["ClientID"] not in provider["ClientIDList"]:
        if len(provider["ClientIDList"]) >= MAX_CLIENT_IDS:
            raise errors.quota("ClientIdsPerOpenIdConnectProvider", MAX_CLIENT_IDS)
        provider["ClientIDList"].append(params["ClientID"])
        _save(call, provider, version)
    return {}


def remove_client_id(call: Call, params: dict[str, Any]) -> dict[str, Any]:
    provider, version = _require(call, params["OpenIDConnectProviderArn"])
    if params["ClientID"] in provider["ClientIDList"]:
        provider["ClientIDList"].remove(params["ClientID"])
        _save(call, provider, version)
    return {}


def update_thumbprint(call: Call, params: dict[str, Any]) -> dict[str, Any]:
    provider, version = _require(call, params["OpenIDConnectProviderArn"])
    if len(params["ThumbprintList"]) > MAX_THUMBPRINTS:
        raise errors.quota("ThumbprintsPerIdentityProvider", MAX_THUMBPRINTS)
    provider["ThumbprintList"] = params["ThumbprintList"]
    _save(call, provider, version)
    return {}


def _locate(call: Call, params: dict[str, Any]):  # type: ignore[no-untyped-def]
    provider, version = _require(call, params["OpenIDConnectProviderArn"])
    return provider, lambda value: _save(call, value, version)


_tag, _untag, _list_tags = tags.handlers(_locate)

HANDLERS = {
    "CreateOpenIDConnectProvider": create_open_id_connect_provider,
    "GetOpenIDConnectProvider": get_open_id_connect_provider,
    "ListOpenIDConnectProviders": list_open_id_connect_providers,
    "DeleteOpenIDConnectProvider": delete_open_id_connect_provider,
    "AddClientIDToOpenIDConnectProvider": add_client_id,
    "RemoveClientIDFromOpenIDConnectProvider": remove_client_id,
    "UpdateOpenIDConnectProviderThumbprint": update_thumbprint,
    "TagOpenIDConnectProvider": _tag,
    "UntagOpenIDConnectProvider": _untag,
    "ListOpenIDConnectProviderTags": _list_tags,
}
