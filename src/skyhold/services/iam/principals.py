"""The principals a trust or resource policy names: whether they exist, and their
binding to unique ids.

IAM resolves a user or role named in a trust or resource policy when the policy is
written (it keeps the principal's unique id), so a policy naming a user or role that
does not exist, a group, or a malformed ARN is refused. An account (its 12-digit id
or its root ARN) is accepted as it is: AWS does not check that an account exists.

The binding (IAM User Guide, "AWS JSON policy elements: Principal", IAM role and user
principals): when the policy is saved, each user or role ARN in its Principal or
NotPrincipal becomes that principal's unique id (AIDA… / AROA…). The policy grants
that principal only: deleting it and creating another of the same name does not
bring access back — the policy must be saved again. While the principal exists the
policy shows the ARN; once it is gone it shows the bare unique id.

Each service keeps, next to the caller's text, the `Binding` that `bind` returns:
- `evaluated` gives the engine the text with those ARNs replaced by the ids (computed
  at write time, so deciding a request reads nothing more from the store, and the
  text is stable, so compiled-policy caches stay warm);
- `displayed` gives the Get operations the caller's text, with the id in place of the
  ARN of each principal that no longer exists (or exists as a different principal).
A policy stored before bindings existed has none: `bind_unbound` binds it once, at
start-up, to the principals that exist then.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from typing import Any, TypedDict

from skyhold.services.iam import records
from skyhold.store.base import Store


class Binding(TypedDict, total=False):
    Ids: dict[str, str]  # user/role ARN as the policy names it → the unique id it was bound to
    Evaluated: str  # the policy with those ARNs replaced by their ids (absent when Ids is empty)


def unknown(store: Store, document: str) -> list[str]:
    """The "AWS" principals of a (grammatically valid) policy document that name no
    principal, in the order the document names them."""
    return [who for who in _named(json.loads(document)) if not exists(store, who)]


def exists(store: Store, who: str) -> bool:
    """Whether one "AWS" principal of a policy names a principal."""
    if who == "*" or _account(who):
        return True
    parts = who.split(":", 5)
    if len(parts) != 6 or parts[0] != "arn" or parts[1] != "aws" or parts[3] or not _account(parts[4]):
        return False
    service, account, resource = parts[2], parts[4], parts[5]
    kind, _, rest = resource.partition("/")
    if service == "iam" and resource == "root":
        return True
    if service == "iam" and kind in ("user", "role") and rest:
        return unique_id(store, who) is not None
    if service == "sts" and kind == "assumed-role":
        role, _, session = rest.partition("/")
        return bool(session) and store.get(records.ROLE, records.name_key(account, role)) is not None
    return service == "sts" and kind == "federated-user" and bool(rest)


def unique_id(store: Store, who: str) -> str | None:
    """The unique id of the IAM user or role with exactly this ARN (path included);
    None for anything else, or when there is none."""
    parts = who.split(":", 5)
    if len(parts) != 6 or parts[0] != "arn" or parts[2] != "iam" or not _account(parts[4]):
        return None
    kind, _, rest = parts[5].partition("/")
    if kind not in ("user", "role") or not rest:
        return None
    found = store.get(records.USER if kind == "user" else records.ROLE,
                      records.name_key(parts[4], rest.rsplit("/", 1)[-1]))
    if found is None or found.value.get("Arn") != who:
        return None
    return str(found.value["UserId" if kind == "user" else "RoleId"])


def bind(store: Store, document: str) -> Binding:
    """Bind the users and roles a (validated) policy names to their unique ids: what
    a service stores with the policy when it is written."""
    doc = json.loads(document)
    ids = {who: uid for who in dict.fromkeys(_named(doc)) if (uid := unique_id(store, who)) is not None}
    # The engine reads the evaluated text: written from the parsed document, so that it
    # means exactly what the caller's text means, whatever escapes that text used.
    return {"Ids": ids, "Evaluated": json.dumps(_swapped(doc, ids))} if ids else {"Ids": {}}


def evaluated(store: Store, document: str, binding: Binding | None) -> str:
    """The policy as the engine should decide with it: bound principals by unique id."""
    if binding is None:  # stored before bindings and not yet bound (see bind_unbound)
        binding = bind(store, document)
    return binding.get("Evaluated", document)


def displayed(store: Store, document: str, binding: Binding | None) -> str:
    """The policy as AWS shows it: the caller's text, except that a principal that no
    longer exists (its ARN now names nobody, or someone else) shows as its unique id."""
    ids = (binding or {}).get("Ids") or {}
    gone = {who: uid for who, uid in ids.items() if unique_id(store, who) != uid}
    if not gone:
        return document
    doc = _swapped(json.loads(document), gone)
    # Keep the caller's layout when replacing the ARNs' text gives the same document
    # (not when an ARN is also written elsewhere, say in a condition, or with escapes).
    text = document
    for who, uid in gone.items():
        text = text.replace(json.dumps(who), json.dumps(uid))
    try:
        same = json.loads(text) == doc
    except ValueError:
        same = False
    return text if same else json.dumps(doc)


# Where services keep a policy next to its binding: (record kind, policy field, binding
# field). Each service adds its own when its module loads.
STORED: list[tuple[str, str, str]] = []


def bind_unbound(store: Store) -> int:
    """Bind, once, the policies stored before bindings existed, to the principals that
    exist now (at start-up): a principal created later under a name they give is then
    not the one they named. How many were bound."""
    bound = 0
    for kind, field, binding_field in STORED:
        for rec in store.scan(kind):
            text = rec.value.get(field)
            if text and binding_field not in rec.value:
                store.put(kind, rec.key, {**rec.value, binding_field: bind(store, text)}, expect_version=rec.version)
                bound += 1
    return bound


def _swapped(doc: Any, ids: dict[str, str]) -> Any:
    """A copy of `doc` whose Principal/NotPrincipal "AWS" entries in `ids` are their ids."""
    doc = copy.deepcopy(doc)
    for st in _statements(doc):
        for element in ("Principal", "NotPrincipal"):
            named_in = st.get(element)
            if isinstance(named_in, dict) and "AWS" in named_in:
                named_in["AWS"] = _swap(named_in["AWS"], ids)
    return doc


def _swap(aws: Any, ids: dict[str, str]) -> Any:
    if isinstance(aws, list):
        return [_swap(who, ids) for who in aws]
    return ids.get(aws, aws) if isinstance(aws, str) else aws


def _statements(doc: Any) -> list[dict[str, Any]]:
    statements = doc.get("Statement") if isinstance(doc, dict) else None
    return [st for st in (statements if isinstance(statements, list) else [statements]) if isinstance(st, dict)]


def _named(doc: Any) -> Iterator[str]:
    """Each "AWS" entry of each Principal and NotPrincipal, in document order."""
    for st in _statements(doc):
        for element in ("Principal", "NotPrincipal"):
            named_in = st.get(element)
            if not isinstance(named_in, dict):
                continue  # "*", or no principal (an identity policy)
            aws = named_in.get("AWS")
            for who in aws if isinstance(aws, list) else [aws] if aws is not None else []:
                yield str(who)


def _account(text: str) -> bool:
    return len(text) == 12 and text.isdigit()
