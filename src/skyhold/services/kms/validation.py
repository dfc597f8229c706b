"""KMS request members that break the API model's constraints (worded by
skyhold.constraints, as AWS words them)."""

from __future__ import annotations

from typing import Any

from skyhold.constraints import null_member
from skyhold.errors import validation_failed


def ciphertext(params: dict[str, Any]) -> bytes | None:
    """Decrypt's and ReEncrypt's CiphertextBlob, optional in the model only for a dry run
    with DryRunModifiers IGNORE_CIPHERTEXT (then None: the key is named instead)."""
    blob: bytes | None = params.get("CiphertextBlob")
    if blob is None:
        if params.get("DryRun") and "IGNORE_CIPHERTEXT" in (params.get("DryRunModifiers") or ()):
            return None
        raise validation_failed([null_member("ciphertextBlob")])
    if not blob:
        raise validation_failed(["Value at 'ciphertextBlob' failed to satisfy constraint: Member must have length "
                                 "greater than or equal to 1"])
    return blob
