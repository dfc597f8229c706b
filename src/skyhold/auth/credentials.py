"""What the signature layer needs to know about an access key.

The pipeline owns where keys live (IAM users, STS sessions, IMDS roles); auth only
asks `CredentialLookup(access_key_id)` and gets back this record or None.
"""

from __future__ import annotations

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


CredentialLookup = Callable[[str], Credential | None]
