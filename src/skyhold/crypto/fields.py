"""Secret fields of stored records, sealed with the data dir's root key (root.py).

A record keeps the secret field `Name` as `SealedName`: base64 of `root.seal`, with
associated data naming what and whose the secret is, so a sealed value copied into
another record does not open. Records written before sealing hold the plaintext
`Name`: `reveal` still reads it, and `seal_plaintext` (run at start-up) seals it.

Secrets Skyhold only ever compares (session tokens) are not sealed but digested:
see auth/credentials.py `token_sha256`.
"""

from __future__ import annotations

import base64
from pathlib import Path
from typing import Any

from skyhold.crypto import root
from skyhold.store.base import Store

SEALED_PREFIX = "Sealed"


def data_dir_of(store: Store) -> Path:
    """The data dir a store's database lives in: its root key seals the store's secrets
    (the server and the CLI open the same `<data dir>/skyhold.db`)."""
    path = getattr(store, "path", None)
    if not isinstance(path, Path):
        raise TypeError(f"{type(store).__name__} has no database file, hence no root key to seal with")
    return path.parent


def sealed_name(name: str) -> str:
    return SEALED_PREFIX + name


def seal(data_dir: Path, record: dict[str, Any], name: str, plaintext: str, aad: bytes) -> None:
    """Store `plaintext` in `record` as the sealed field of `name` (and no plaintext)."""
    record[sealed_name(name)] = base64.b64encode(root.seal(data_dir, plaintext.encode(), aad)).decode()
    record.pop(name, None)


def reveal(data_dir: Path, record: dict[str, Any], name: str, aad: bytes) -> str:
    """The plaintext of field `name`: unsealed, or as a record from before sealing holds it.

    Raises cryptography's InvalidTag when the sealed value belongs to another record
    (or another root key)."""
    sealed = record.get(sealed_name(name))
    if sealed is None:
        return str(record[name])
    return root.unseal(data_dir, base64.b64decode(sealed), aad).decode()


def seal_plaintext(data_dir: Path, record: dict[str, Any], name: str, aad: bytes) -> dict[str, Any] | None:
    """A copy of a record from before sealing with field `name` sealed; None when the
    record holds no plaintext `name` (sealed already, or never had one)."""
    if name not in record:
        return None
    copy = dict(record)
    seal(data_dir, copy, name, str(record[name]), aad)
    return copy
