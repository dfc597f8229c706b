"""SSM Parameter Store: String, StringList and KMS-encrypted SecureString parameters, and
Secrets Manager secrets read through /aws/reference/secretsmanager/ names."""

from skyhold.services.ssm.parameters import AUTHZ, HANDLERS

__all__ = ["AUTHZ", "HANDLERS"]
