"""Console passwords: salted scrypt hashes (the password itself is never stored) and
the account password policy's rules."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from typing import Any

from skyhold.services.iam import errors

# scrypt cost: ~16 MiB and tens of milliseconds per hash — slow for guessing, fine for
# an occasional sign-in or password change.
_N, _R, _P = 2**14, 8, 1
SYMBOLS = set("!@#$%^&*()_+-=[]{}|'")


def hash_password(password: str) -> str:
    salt = secrets.token_bytes(16)
    digest = hashlib.scrypt(password.encode(), salt=salt, n=_N, r=_R, p=_P, dklen=32)
    return f"scrypt${_N}${_R}${_P}${salt.hex()}${digest.hex()}"


def verify_password(password: str, stored: str) -> bool:
    _, n, r, p, salt, digest = stored.split("$")
    got = hashlib.scrypt(password.encode(), salt=bytes.fromhex(salt), n=int(n), r=int(r), p=int(p),
                         dklen=len(digest) // 2)
    return hmac.compare_digest(got.hex(), digest)


# UpdateAccountPasswordPolicy resets omitted settings to these (IAM API reference).
POLICY_DEFAULTS: dict[str, Any] = {
    "MinimumPasswordLength": 6,
    "RequireSymbols": False,
    "RequireNumbers": False,
    "RequireUppercaseCharacters": False,
    "RequireLowercaseCharacters": False,
    "AllowUsersToChangePassword": False,
    "MaxPasswordAge": 0,
    "PasswordReusePrevention": 0,
    "HardExpiry": False,
}


def check_against_policy(password: str, policy: dict[str, Any] | None, previous_hashes: list[str]) -> None:
    """Raise PasswordPolicyViolation when `password` breaks the account's policy.

    Without a custom policy IAM applies its default one: at least 8 characters and
    three of the four kinds (upper case, lower case, digits, symbols).
    """
    kinds = {
        "upper": any(c.isupper() for c in password),
        "lower": any(c.islower() for c in password),
        "number": any(c.isdigit() for c in password),
        "symbol": any(c in SYMBOLS or not c.isalnum() for c in password),
    }
    if policy is None:
        if len(password) < 8 or sum(kinds.values()) < 3:
            raise errors.password_policy("Password does not conform to the account password policy.")
        return
    minimum = policy["MinimumPasswordLength"]
    if len(password) < minimum:
        raise errors.password_policy(f"Password should have a minimum length of {minimum}")
    for setting, kind, words in (
        ("RequireUppercaseCharacters", "upper", "at least one uppercase letter"),
        ("RequireLowercaseCharacters", "lower", "at least one lowercase letter"),
        ("RequireNumbers", "number", "at least one number"),
        ("RequireSymbols", "symbol", "at least one symbol"),
    ):
        if policy[setting] and not kinds[kind]:
            raise errors.password_policy(f"Password should have {words}")
    reuse = policy.get("PasswordReusePrevention") or 0
    if reuse and any(verify_password(password, h) for h in previous_hashes[-reuse:]):
        raise errors.password_policy(f"Password should not be one of your previous {reuse} passwords")
