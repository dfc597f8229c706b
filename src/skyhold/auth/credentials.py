"""What the signature layer needs to know about an access key.

The pipeline owns where keys live (IAM users, STS sessions, IMDS roles); auth only
asks `CredentialLookup(access_key_id)` and gets back this record or None.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any


@dataclass
class Credential:
    access_key_id: str
    secret_access_key: str
    # Temporary (ASIA…) keys carry the token they were issued with; a request signed
    # with such a key must present exactly this token.
    session_token: str | None = None
    active: bool = True
    # Compared with clock.now(), Skyhold's movable clock, so labs can age sessions.
    expiration: datetime | None = None
    # Opaque to auth: the pipeline's Principal for this key.
    principal: Any = None
    # Instead of session_token, for keys whose token is kept only as a digest (Skyhold's
    # STS sessions: the token itself is never stored): its SHA-256.
    session_token_sha256: bytes | None = None

    @property
    def temporary(self) -> bool:
        """Whether requests signed with this key must present a session token."""
        return self.session_token is not None or self.session_token_sha256 is not None

    def token_matches(self, presented: str | None) -> bool:
        """Whether `presented` is this key's session token (compared in constant time)."""
        if presented is None:
            return False
        if self.session_token_sha256 is not None:
            return hmac.compare_digest(token_sha256(presented), self.session_token_sha256)
        # compare_digest takes ASCII-only str: bytes, for any token a client sends.
        return self.session_token is not None and hmac.compare_digest(
            presented.encode("utf-8", "surrogateescape"), self.session_token.encode())


def token_sha256(token: str) -> bytes:
    return hashlib.sha256(token.encode("utf-8", "surrogateescape")).digest()


CredentialLookup = Callable[[str], Credential | None]
