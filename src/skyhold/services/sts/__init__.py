"""STS: who am I, and temporary credentials (sessions live in `sessions`)."""

from skyhold.services.sts.authz import AUTHZ
from skyhold.services.sts.handlers import HANDLERS

__all__ = ["AUTHZ", "HANDLERS"]
