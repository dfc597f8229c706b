"""Secrets Manager: versioned secrets with staging labels, encrypted with KMS."""

from skyhold.services.secretsmanager.secrets import AUTHZ, HANDLERS

__all__ = ["AUTHZ", "HANDLERS"]
