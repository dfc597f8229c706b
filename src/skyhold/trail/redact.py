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
        "servicePassword", "serviceCredentialSecret",
    }
)

# SSM parameter values are hidden only for SecureStrings; everywhere else `value`
# (tags, filters) is ordinary data. Checked on the handler's own member names.
SECRET_VALUE_WHEN = ("Type", "SecureString")

DROPPED = object()  # rules: leave the member out

# Lower-camel member name → DROPPED or HIDDEN; a name not here is kept (its contents
# redacted in turn). `value` is HIDDEN only in a structure whose values are secret.
RULES: dict[str, object] = {**{name: HIDDEN for name in HIDE}, **{name: DROPPED for name in DROP}}
