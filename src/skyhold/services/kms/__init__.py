"""KMS: keys that really encrypt, governed by key policies."""

from skyhold.services.kms.authz import AUTHZ
from skyhold.services.kms.handlers import HANDLERS

__all__ = ["AUTHZ", "HANDLERS"]
