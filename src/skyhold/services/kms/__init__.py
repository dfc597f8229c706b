"""KMS: keys that really encrypt, governed by key policies."""

from skyhold.services.kms.authz import AUTHZ
from skyhold.services.kms import grants
from skyhold.services.kms.handlers import HANDLERS as _KEY_HANDLERS

HANDLERS = {**_KEY_HANDLERS, **grants.HANDLERS}

__all__ = ["AUTHZ", "HANDLERS"]
