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
# (tags, filters) is ordinary data.
_VALUE_IS_SECRET_WHEN = {"type": "SecureString"}


def redact(data: object) -> object:
    if isinstance(data, dict):
        secret_value = all(data.get(k) == v for k, v in _VALUE_IS_SECRET_WHEN.items())
        out = {}
        for key, value in data.items():
            if key in DROP:
                continue
            if key in HIDE and (key != "value" or secret_value):
                out[key] = HIDDEN
            else:
                out[key] = redact(value)
        return out
    if isinstance(data, list):
        return [redact(v) for v in data]
    return data
