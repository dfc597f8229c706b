"""STS: who am I, and (later) temporary credentials."""

from skyhold.services.sts.handlers import AUTHZ, HANDLERS

__all__ = ["AUTHZ", "HANDLERS"]
