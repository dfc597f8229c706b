"""KMS: keys that really encrypt, governed by key policies."""

from skyhold.errors import AwsError
from skyhold.services.dry_run import dry_runnable
from skyhold.services.kms import grants, imports
from skyhold.services.kms.authz import AUTHZ
from skyhold.services.kms.handlers import HANDLERS as _KEY_HANDLERS


def _would_succeed() -> AwsError:
    # HTTP 400, as KMS answers (its API reference says 412).
    return AwsError("DryRunOperationException", "The request would have succeeded, but the DryRun option is set.", 400)


# Every handler is wrapped: parameters hold only modelled members, so DryRun appears only
# for the operations that have it (and no model need be loaded at start-up to know them).
HANDLERS = {op: dry_runnable(handler, _would_succeed) for op, handler in {**_KEY_HANDLERS, **grants.HANDLERS,
                                                                     **imports.HANDLERS}.items()}

__all__ = ["AUTHZ", "HANDLERS"]
