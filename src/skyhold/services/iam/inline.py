"""Inline policies embedded in a user, group or role (Put/Get/Delete/List…Policy)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from skyhold.services.iam import common, documents, errors, owners

if TYPE_CHECKING:
    from skyhold.pipeline import Call


def _put(owner: owners.Owner):  # type: ignore[no-untyped-def]
    def handler(call: Call, params: dict[str, Any]) -> dict[str, Any]:
        # The owner is looked up first: IAM reports a missing user before a bad document.
        value, version = owner.load(call, params[owner.param])
        name, text = params["PolicyName"], params["PolicyDocument"]
        inline = value.setdefault("Policies", {})
        documents.check_inline(text, owner.label, value[owner.param], inline, name)
        inline[name] = text
        owner.save(call, value, version)
        return {}

    return handler


def _policy(owner: owners.Owner, value: dict[str, Any], name: str) -> str:
    text = value.get("Policies", {}).get(name)
    if text is None:
        raise errors.no_such_entity(f"The {owner.label} policy with name {name} cannot be found.")
    return text


def _get(owner: owners.Owner):  # type: ignore[no-untyped-def]
    def handler(call: Call, params: dict[str, Any]) -> dict[str, Any]:
        value, _ = owner.load(call, params[owner.param])
        text = _policy(owner, value, params["PolicyName"])
        return {
            owner.param: value[owner.param],
            "PolicyName": params["PolicyName"],
            "PolicyDocument": common.encode_document(text),
        }

    return handler


def _delete(owner: owners.Owner):  # type: ignore[no-untyped-def]
    def handler(call: Call, params: dict[str, Any]) -> dict[str, Any]:
        value, version = owner.load(call, params[owner.param])
        _policy(owner, value, params["PolicyName"])
        del value["Policies"][params["PolicyName"]]
        owner.save(call, value, version)
        return {}

    return handler


def _list(owner: owners.Owner):  # type: ignore[no-untyped-def]
    def handler(call: Call, params: dict[str, Any]) -> dict[str, Any]:
        value, _ = owner.load(call, params[owner.param])
        names = sorted(value.get("Policies", {}))
        page, more = common.paginate(names, params, key=lambda n: n)
        return {"PolicyNames": page, **more}

    return handler


HANDLERS: dict[str, Any] = {}
for _label, _owner in owners.ALL.items():
    HANDLERS[f"Put{_label}Policy"] = _put(_owner)
    HANDLERS[f"Get{_label}Policy"] = _get(_owner)
    HANDLERS[f"Delete{_label}Policy"] = _delete(_owner)
    HANDLERS[f"List{_label}Policies"] = _list(_owner)
