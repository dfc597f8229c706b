"""Pagination tokens: opaque to clients, each names where the next page starts.

A token is the URL-safe base64 of a position (a sort key), so a page boundary
survives items being added or removed between calls. A token Skyhold did not issue
reads as None, and the caller answers its service's error for it.
"""

from __future__ import annotations

import base64


def token(position: str) -> str:
    return base64.urlsafe_b64encode(position.encode()).decode()


def position(token: str) -> str | None:
    try:
        return base64.urlsafe_b64decode(token.encode("ascii")).decode()
    except (ValueError, UnicodeError):  # not base64 (binascii.Error), not ASCII, not UTF-8
        return None
