"""IAM's own error codes, statuses and message texts (one home for them)."""

from __future__ import annotations

from skyhold.errors import AwsError


def no_such_entity(message: str) -> AwsError:
    return AwsError("NoSuchEntity", message, 404)


def already_exists(message: str) -> AwsError:
    return AwsError("EntityAlreadyExists", message, 409)


def delete_conflict(message: str) -> AwsError:
    return AwsError("DeleteConflict", message, 409)


def limit_exceeded(message: str) -> AwsError:
    return AwsError("LimitExceeded", message, 409)


def quota(name: str, value: int) -> AwsError:
    return limit_exceeded(f"Cannot exceed quota for {name}: {value}")


def invalid_input(message: str) -> AwsError:
    return AwsError("InvalidInput", message, 400)


def validation(message: str) -> AwsError:
    return AwsError("ValidationError", message, 400)


def malformed_policy(message: str) -> AwsError:
    return AwsError("MalformedPolicyDocument", message, 400)


def password_policy(message: str) -> AwsError:
    return AwsError("PasswordPolicyViolation", message, 400)


def invalid_authentication_code(message: str = "Authentication code for device is not valid.") -> AwsError:
    return AwsError("InvalidAuthenticationCode", message, 403)


def entity_temporarily_unmodifiable(message: str) -> AwsError:
    return AwsError("EntityTemporarilyUnmodifiable", message, 409)


def not_user_credentials() -> AwsError:
    # What IAM says when an operation defaults UserName to the caller and the caller
    # is not an IAM user (a role session, a federated user).
    return validation("Must specify userName when calling with non-User credentials")
