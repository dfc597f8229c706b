"""What CloudTrail never writes down: secrets, passwords, tokens, plaintexts.

CloudTrail replaces some sensitive request members with the text
HIDDEN_DUE_TO_SECURITY_REASONS and leaves others out of the record altogether;
Skyhold does the same, by member name, in every service.
"""

from __future__ import annotations

HIDDEN = "HIDDEN_DUE_TO_SECURITY_REASONS"

# Shown as HIDDEN_DUE_TO_SECURITY_REASONS (lower-camel member names, as in records).
HIDE = frozenset(
    {
        "password", "oldPassword", "newPassword", "secretString", "secretBinary", "value", "webIdentityToken",
        "sAMLAssertion", "tokenCode", "authenticationCode1", "authenticationCode2"
    }
)

# Left out entirely.
DROP = frozenset(
    {
        "secretAccessKey", "sessionToken", "plaintext", "keyMaterial", "privateKeyPlaintext", "body",
        "base32StringSeed", "qRCodePNG", "sSECustomerKey", "copySourceSSECustomerKey", "encryptedKeyMaterial",
        "ciphertextBlob", "ciphertextForRecipient", "randomPassword", "privateKey",
    }
)

# SSM parameter values are hidden only for SecureStrings; everywhere else `value`
# (tags, filters) is ordinary data. Checked on the handler's own member names.
_VALUE_IS_SECRET_WHEN = {"Type": "SecureString"}

DROPPED = object()  # rule(): leave the member out


def value_is_secret(members: dict[str, object]) -> bool:
    return all(members.get(k) == v for k, v in _VALUE_IS_SECRET_WHEN.items())


def rule(name: str, secret_value: bool) -> object:
    """What a member (lower-camel name, as in records) becomes: DROPPED, HIDDEN, or
    None for "keep, with its contents redacted in turn"."""
    if name in DROP:
        return DROPPED
    if name in HIDE and (name != "value" or secret_value):
        return HIDDEN
    return None
