"""The root key: 256 bits in the data dir (mode 0600) that seal every other secret
Skyhold keeps at rest (KMS key material first). Sealing is AES-256-GCM with a fresh
96-bit nonce and the caller's associated data, so a sealed value cannot be moved to
another record unnoticed.
"""

from __future__ import annotations

import os
import secrets
from functools import cache
from pathlib import Path

from cryptography.hazmat.primitives.ciphers.aead import AESGCM

ROOT_KEY_FILE = "root.key"
_NONCE = 12


@cache  # keyed by the data dir as given (str or Path): no path parsing per call
def _root(data_dir: Path | str) -> AESGCM:
    path = Path(data_dir) / ROOT_KEY_FILE
    if not path.exists():
        tmp = path.with_name(f"{path.name}.{secrets.token_hex(4)}.tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as fh:
            fh.write(AESGCM.generate_key(bit_length=256))
            fh.flush()
            os.fsync(fh.fileno())
        try:
            os.link(tmp, path)  # the first process to get here wins
        except FileExistsError:
            pass
        os.unlink(tmp)
    return AESGCM(path.read_bytes())


def seal(data_dir: Path | str, plaintext: bytes, aad: bytes) -> bytes:
    nonce = os.urandom(_NONCE)  # secrets.token_bytes, without its layers of Python (every S3 PUT seals a key)
    return nonce + _root(data_dir).encrypt(nonce, plaintext, aad)


def unseal(data_dir: Path | str, sealed: bytes, aad: bytes) -> bytes:
    return _root(data_dir).decrypt(sealed[:_NONCE], sealed[_NONCE:], aad)
