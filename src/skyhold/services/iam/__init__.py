"""IAM: identities, their credentials and their policies.

Exports for the pipeline:
  HANDLERS  operation name → handler (inputs checked against the model first)
  AUTHZ     operation name → authz function (action, resource, condition keys)
and for other parts of Skyhold:
  record_key_use(store, access_key_id, service, region)   after authenticating a key
  record_role_use(store, account, role_name, region)      after authenticating a role session
  verify_totp(store, serial, code) -> bool                 MFA codes for STS / the console
  check_login(store, account, user_name, password) -> bool console sign-in
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from skyhold.services.iam import (
    access_keys,
    account,
    credential_report,
    groups,
    inline,
    instance_profiles,
    last_accessed,
    login,
    managed,
    mfa,
    oidc,
    other_credentials,
    roles,
    service_credentials,
    service_linked,
    simulate,
    users,
    validate,
)
from skyhold.services.iam.access_keys import record_key_use
from skyhold.services.iam.authz import build as _build_authz
from skyhold.services.iam.authz import pass_role
from skyhold.services.iam.login import check_login
from skyhold.services.iam.mfa import verify_totp
from skyhold.services.iam.roles import record_role_use

if TYPE_CHECKING:
    from skyhold.pipeline import Call


def _validated(operation: str, handler: Callable[..., dict[str, Any]]) -> Callable[..., dict[str, Any]]:
    def run(call: Call, params: dict[str, Any]) -> dict[str, Any]:
        validate.check(operation, params)
        return handler(call, params)

    run.__name__ = handler.__name__
    run.__doc__ = handler.__doc__
    return run


_ALL: dict[str, Callable[..., dict[str, Any]]] = {}
for _module in (users, groups, roles, managed, inline, access_keys, login, mfa, instance_profiles, oidc,
                account, credential_report, other_credentials, service_credentials, service_linked,
                simulate):
    _ALL.update(_module.HANDLERS)

HANDLERS: dict[str, Callable[..., Any]] = {op: _validated(op, fn) for op, fn in _ALL.items()}
# Async (they read the audit trail) and so not wrapped: they validate their own inputs.
HANDLERS.update(last_accessed.HANDLERS)
AUTHZ = {**_build_authz(sorted(_ALL)), **simulate.AUTHZ, **last_accessed.AUTHZ}

__all__ = ["AUTHZ", "HANDLERS", "check_login", "pass_role", "record_key_use", "record_role_use", "verify_totp"]
