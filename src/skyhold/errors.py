"""The one home for AWS-shaped errors.

Every layer (wire, auth, policy, services) raises `AwsError`; the wire serializer
turns it into the protocol's error shape (query `<ErrorResponse>`, json `__type`,
rest-xml `<Error>`, ec2 `<Response><Errors>`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass
class AwsError(Exception):
    code: str
    message: str
    status: int = 400
    # Sender (client) fault unless the server is at fault; query protocols print it.
    sender_fault: bool = True
    # Extra members some errors carry (S3 adds e.g. <Key>, <BucketName>,
    # <CanonicalRequest>; they are serialized as sibling elements/fields).
    extra: dict[str, str] = field(default_factory=dict)
    # Extra HTTP response headers (e.g. S3's x-amz-bucket-region).
    headers: dict[str, str] = field(default_factory=dict)
    # For denials: the policy engine's decision trace (kept in the audit trail for
    # `skyhold explain`; never sent to the caller).
    explanation: dict[str, Any] | None = None

    def __post_init__(self) -> None:
        Exception.__init__(self, f"{self.code}: {self.message}")

    def __hash__(self) -> int:  # dataclass eq=True would make it unhashable
        return id(self)


def internal_failure(service: str = "") -> AwsError:
    """A failure of Skyhold's own (a bug, a full disk), in AWS's words: S3's InternalError,
    every other service's InternalFailure."""
    if service == "s3":
        return AwsError("InternalError", "We encountered an internal error. Please try again.", status=500,
                        sender_fault=False)
    return AwsError("InternalFailure", "The request processing has failed because of an unknown error, exception "
                    "or failure.", status=500, sender_fault=False)


def validation_failed(problems: list[str], code: str = "ValidationException") -> AwsError:
    """AWS's request validation error, as every service words it: "1 validation error
    detected: <problem>", or "N validation errors detected: <a>; <b>". Query services
    (IAM, STS) name the code ValidationError."""
    n = len(problems)
    return AwsError(code, f"{n} validation error{'s' if n > 1 else ''} detected: " + "; ".join(problems))


def not_implemented(service: str, operation: str) -> AwsError:
    """An operation that exists in AWS but Skyhold does not serve yet."""
    return AwsError(
        "NotImplemented",
        f"Skyhold does not implement {service}:{operation} yet",
        status=501,
        sender_fault=False,
    )


def missing_parameter(name: str) -> AwsError:
    return AwsError("MissingParameter", f"The request must contain the parameter {name}")


def invalid_parameter_value(message: str) -> AwsError:
    return AwsError("InvalidParameterValue", message)
