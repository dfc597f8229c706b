"""What CloudTrail never writes down: secrets, passwords, tokens, plaintexts.

CloudTrail replaces some sensitive request members with the text
HIDDEN_DUE_TO_SECURITY_REASONS (EC2 with <sensitiveDataRemoved>) and leaves others
out of the record altogether; Skyhold does the same, by member name, in every
service — and, for names that are secret in one operation only, by operation.
"""

from __future__ import annotations

from functools import lru_cache

HIDDEN = "HIDDEN_DUE_TO_SECURITY_REASONS"
# EC2's own wording (its documented events: "userData": "<sensitiveDataRemoved>").
REMOVED = "<sensitiveDataRemoved>"

# Shown as HIDDEN_DUE_TO_SECURITY_REASONS (lower-camel member names, as in records).
HIDE = frozenset(
    {
        "password", "oldPassword", "newPassword", "secretString", "secretBinary", "webIdentityToken",
        "sAMLAssertion", "tokenCode", "authenticationCode1", "authenticationCode2"
    }
)

# Shown as <sensitiveDataRemoved>: EC2 user data, wherever it is sent — RunInstances,
# ModifyInstanceAttribute's UserData, a launch template's LaunchTemplateData.UserData,
# ImportInstance's and the Spot requests' LaunchSpecification.UserData.
REMOVE = frozenset({"userData"})

# Left out entirely.
DROP = frozenset(
    {
        "secretAccessKey", "sessionToken", "plaintext", "keyMaterial", "privateKeyPlaintext", "body",
        "base32StringSeed", "qRCodePNG", "sSECustomerKey", "copySourceSSECustomerKey", "encryptedKeyMaterial",
        "ciphertextBlob", "ciphertextForRecipient", "randomPassword", "privateKey", "sharedSecret",
        "servicePassword", "serviceCredentialSecret",
    }
)

DROPPED = object()  # rules: leave the member out

# Lower-camel member name → DROPPED or the text written instead; a name not here is
# kept (its contents redacted in turn).
RULES: dict[str, object] = {**{name: HIDDEN for name in HIDE}, **{name: REMOVED for name in REMOVE},
                            **{name: DROPPED for name in DROP}}

# Top-level request members secret in one operation only: `value` is ordinary data
# elsewhere (tags, filters). SSM hides every PutParameter value, whatever its type
# (the member is sensitive in SSM's model, and AWS's events of String parameters show
# it hidden; an overwrite that keeps a SecureString type need not repeat the type).
# ModifyInstanceAttribute's top-level Value carries user data when Attribute=userData
# (sensitive in EC2's model).
OPERATION_RULES: dict[tuple[str, str], dict[str, object]] = {
    ("ssm", "PutParameter"): {"value": HIDDEN},
    ("ec2", "ModifyInstanceAttribute"): {"value": REMOVED},
}


@lru_cache(maxsize=4096)
def request_rules(service: str, operation: str) -> dict[str, object]:
    """The rules for the top level of an operation's request parameters (shared:
    never mutate)."""
    extra = OPERATION_RULES.get((service, operation))
    return {**RULES, **extra} if extra else RULES
