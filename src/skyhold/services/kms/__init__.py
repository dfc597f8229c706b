"""KMS: keys that really encrypt, governed by key policies."""

from skyhold.errors import AwsError
from skyhold.services.dry_run import dry_runnable
from skyhold.services.kms import grants
from skyhold.services.kms.authz import AUTHZ
from skyhold.services.kms.handlers import HANDLERS as _KEY_HANDLERS
from skyhold.wire.models import service_model


def _would_succeed() -> AwsError:
    return AwsError("DryRunOperationException", "The request would have succeeded, but the DryRun option is set.", 412)


_MODEL = service_model("kms")
HANDLERS = {op: dry_runnable(handler, _would_succeed) if "DryRun" in _MODEL.operation_model(op).input_shape.members
            else handler for op, handler in {**_KEY_HANDLERS, **grants.HANDLERS}.items()}

__all__ = ["AUTHZ", "HANDLERS"]
