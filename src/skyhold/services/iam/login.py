"""Console credentials: login profiles, the account password policy, ChangePassword."""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING, Any

from skyhold import principal as p
from skyhold.errors import AwsError
from skyhold.services.iam import common, errors, passwords, records

if TYPE_CHECKING:
    from skyhold.pipeline import Call
    from skyhold.store.base import Store

PREVIOUS_KEPT = 24  # the largest PasswordReusePrevention IAM allows


def password_policy(store: Store, account: str) -> dict[str, Any] | None:
    rec = store.get(records.PASSWORD_POLICY, account)
    return rec.value if rec else None


def _profile_key(account: str, user_name: str) -> str:
    return records.name_key(account, user_name)


def _require_profile(store: Store, account: str, user_name: str) -> tuple[dict[str, Any], int]:
    rec = store.get(records.LOGIN_PROFILE, _profile_key(account, user_name))
    if rec is None:
        raise errors.no_such_entity(f"Login Profile for User {user_name} cannot be found.")
    return rec.value, rec.version


def _view(profile: dict[str, Any]) -> dict[str, Any]:
    return {
        "UserName": profile["UserName"],
        "CreateDate": common.dt(profile["CreateDate"]),
        "PasswordResetRequired": profile.get("PasswordResetRequired", False),
    }


def _set_password(profile: dict[str, Any], password: str) -> None:
    if profile.get("PasswordHash"):
        profile["PreviousHashes"] = (profile.get("PreviousHashes", []) + [profile["PasswordHash"]])[-PREVIOUS_KEPT:]
    profile["PasswordHash"] = passwords.hash_password(password)
    profile["PasswordLastChanged"] = common.now_text()


def create_login_profile(call: Call, params: dict[str, Any]) -> dict[str, Any]:
    store, account = call.store, common.account_of(call)
    user, _ = common.require_user(store, account, common.caller_user_name(call, params))
    name = user["UserName"]
    if store.get(records.LOGIN_PROFILE, _profile_key(account, name)):
        raise errors.already_exists(f"Login Profile for user {name} already exists.")
    password = params.get("Password")
    if password is None:
        raise errors.validation("1 validation error detected: Value at 'password' failed to satisfy "
                                "constraint: Member must not be null")
    passwords.check_against_policy(password, password_policy(store, account), [])
    profile = {"UserName": name, "CreateDate": common.now_text(),
               "PasswordResetRequired": bool(params.get("PasswordResetRequired"))}
    _set_password(profile, password)
    store.put(records.LOGIN_PROFILE, _profile_key(account, name), profile, expect_version=0)
    return {"LoginProfile": _view(profile)}


def get_login_profile(call: Call, params: dict[str, Any]) -> dict[str, Any]:
    account = common.account_of(call)
    user, _ = common.require_user(call.store, account, common.caller_user_name(call, params))
    profile, _ = _require_profile(call.store, account, user["UserName"])
    return {"LoginProfile": _view(profile)}


def update_login_profile(call: Call, params: dict[str, Any]) -> dict[str, Any]:
    store, account = call.store, common.account_of(call)
    user, _ = common.require_user(store, account, params["UserName"])
    profile, version = _require_profile(store, account, user["UserName"])
    if params.get("Password") is not None:
        passwords.check_against_policy(params["Password"], password_policy(store, account),
                                       profile.get("PreviousHashes", []) + [profile["PasswordHash"]])
        _set_password(profile, params["Password"])
    if params.get("PasswordResetRequired") is not None:
        profile["PasswordResetRequired"] = params["PasswordResetRequired"]
    store.put(records.LOGIN_PROFILE, _profile_key(account, user["UserName"]), profile, expect_version=version)
    return {}


def delete_login_profile(call: Call, params: dict[str, Any]) -> dict[str, Any]:
    store, account = call.store, common.account_of(call)
    user, _ = common.require_user(store, account, common.caller_user_name(call, params))
    _, version = _require_profile(store, account, user["UserName"])
    store.delete(records.LOGIN_PROFILE, _profile_key(account, user["UserName"]), expect_version=version)
    return {}


def change_password(call: Call, params: dict[str, Any]) -> dict[str, Any]:
    who = call.principal
    if who.type != p.IAM_USER:
        raise AwsError("InvalidUserType", "Only IAM users can change their own password.", 400)
    store, account = call.store, who.account
    profile, version = _require_profile(store, account, who.name)
    if not passwords.verify_password(params["OldPassword"], profile["PasswordHash"]):
        raise AwsError("AccessDenied", "The old password is incorrect.", 403)
    new = params["NewPassword"]
    passwords.check_against_policy(new, password_policy(store, account),
                                   profile.get("PreviousHashes", []) + [profile["PasswordHash"]])
    _set_password(profile, new)
    profile["PasswordResetRequired"] = False
    store.put(records.LOGIN_PROFILE, _profile_key(account, who.name), profile, expect_version=version)
    return {}


def check_login(store: Store, account: str, user_name: str, password: str) -> bool:
    """True when `password` is the user's console password (for a console sign-in)."""
    rec = store.get(records.LOGIN_PROFILE, _profile_key(account, user_name))
    return rec is not None and passwords.verify_password(password, rec.value["PasswordHash"])


def password_next_rotation(store: Store, account: str, profile: dict[str, Any]) -> str | None:
    policy = password_policy(store, account)
    age = (policy or {}).get("MaxPasswordAge") or 0
    changed = common.dt(profile.get("PasswordLastChanged"))
    if not age or changed is None:
        return None
    return (changed + timedelta(days=age)).isoformat()


# ---- account password policy ------------------------------------------------------

def _no_policy(account: str) -> Exception:
    return errors.no_such_entity(f"The Password Policy with domain name {account} cannot be found.")


def update_account_password_policy(call: Call, params: dict[str, Any]) -> dict[str, Any]:
    policy = {k: params.get(k, default) for k, default in passwords.POLICY_DEFAULTS.items()}
    policy = {k: (passwords.POLICY_DEFAULTS[k] if v is None else v) for k, v in policy.items()}
    call.store.put(records.PASSWORD_POLICY, common.account_of(call), policy)
    return {}


def get_account_password_policy(call: Call, params: dict[str, Any]) -> dict[str, Any]:
    account = common.account_of(call)
    policy = password_policy(call.store, account)
    if policy is None:
        raise _no_policy(account)
    out = {k: policy[k] for k in ("MinimumPasswordLength", "RequireSymbols", "RequireNumbers",
                                  "RequireUppercaseCharacters", "RequireLowercaseCharacters",
                                  "AllowUsersToChangePassword")}
    out["ExpirePasswords"] = bool(policy["MaxPasswordAge"])
    if policy["MaxPasswordAge"]:
        out["MaxPasswordAge"] = policy["MaxPasswordAge"]
        out["HardExpiry"] = policy["HardExpiry"]
    if policy["PasswordReusePrevention"]:
        out["PasswordReusePrevention"] = policy["PasswordReusePrevention"]
    return {"PasswordPolicy": out}


def delete_account_password_policy(call: Call, params: dict[str, Any]) -> dict[str, Any]:
    account = common.account_of(call)
    if not call.store.delete(records.PASSWORD_POLICY, account):
        raise _no_policy(account)
    return {}


HANDLERS = {
    "CreateLoginProfile": create_login_profile,
    "GetLoginProfile": get_login_profile,
    "UpdateLoginProfile": update_login_profile,
    "DeleteLoginProfile": delete_login_profile,
    "ChangePassword": change_password,
    "UpdateAccountPasswordPolicy": update_account_password_policy,
    "GetAccountPasswordPolicy": get_account_password_policy,
    "DeleteAccountPasswordPolicy": delete_account_password_policy,
}
