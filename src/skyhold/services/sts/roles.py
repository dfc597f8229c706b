"""Finding the role an STS call names, in whichever account owns it."""

from __future__ import annotations

from typing import Any

from skyhold import arn as arns
from skyhold.services.iam import records
from skyhold.store.base import Store


def find_role(store: Store, role_arn: str) -> dict[str, Any] | None:
    try:
        parsed = arns.parse(role_arn)
    except ValueError:
        return None
    if parsed.service != "iam" or not parsed.resource.startswith("role/"):
        return None
    name = parsed.resource.rsplit("/", 1)[-1]
    rec = store.get(records.ROLE, records.name_key(parsed.account, name))
    # The ARN must match exactly (path included), as IAM resolves it.
    return rec.value if rec is not None and rec.value["Arn"] == role_arn else None
