"""Whether the principals a policy names exist.

IAM resolves a user or role named in a trust or resource policy when the policy is
written (it keeps the principal's unique id), so a policy naming a user or role that
does not exist, a group, or a malformed ARN is refused. An account (its 12-digit id
or its root ARN) is accepted as it is: AWS does not check that an account exists.
"""

from __future__ import annotations

import json

from skyhold.services.iam import records
from skyhold.store.base import Store


def unknown(store: Store, document: str) -> list[str]:
    """The "AWS" principals of a (grammatically valid) policy document that name no
    principal, in the order the document names them."""
    doc = json.loads(document)
    statements = doc.get("Statement")
    out: list[str] = []
    for st in statements if isinstance(statements, list) else [statements]:
        named = st.get("Principal", st.get("NotPrincipal")) if isinstance(st, dict) else None
        if not isinstance(named, dict):
            continue  # "*", or no principal (an identity policy)
        aws = named.get("AWS")
        for who in aws if isinstance(aws, list) else [aws] if aws is not None else []:
            if not exists(store, str(who)):
                out.append(str(who))
    return out


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
        found = store.get(records.USER if kind == "user" else records.ROLE,
                          records.name_key(account, rest.rsplit("/", 1)[-1]))
        return found is not None and found.value.get("Arn") == who
    if service == "sts" and kind == "assumed-role":
        role, _, session = rest.partition("/")
        return bool(session) and store.get(records.ROLE, records.name_key(account, role)) is not None
    return service == "sts" and kind == "federated-user" and bool(rest)


def _account(text: str) -> bool:
    return len(text) == 12 and text.isdigit()
