"""SSM Parameter Store: String, StringList and KMS-encrypted SecureString parameters."""

from skyhold.services.ssm.parameters import AUTHZ, HANDLERS

__all__ = ["AUTHZ", "HANDLERS"]
