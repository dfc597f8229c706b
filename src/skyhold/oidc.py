"""Skyhold's local OpenID Connect issuer, for offline web identity federation.

Kubernetes' "IAM roles for service accounts" flow, done offline: `skyhold oidc token`
mints an RS256 JWT whose `iss` is ISSUER; a user registers the issuer with
`aws iam create-open-id-connect-provider --url <ISSUER>`; STS's
AssumeRoleWithWebIdentity checks the signature against this issuer's key. Skyhold
serves the discovery document and JWKS under /_skyhold/oidc/. The signing key lives
in the data dir (0600) and never leaves it.
"""

from __future__ import annotations

import base64
import hashlib
import math
import os
import secrets
from pathlib import Path
from types import ModuleType
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

# IAM accepts only https issuer URLs; this one is Skyhold's, whatever its port.
ISSUER = "https://oidc.skyhold.local"
ISSUER_HOST = ISSUER.removeprefix("https://")
KEY_FILE = "oidc-signing-key.pem"


def _key_path(data_dir: Path) -> Path:
    return Path(data_dir) / KEY_FILE


def signing_key(data_dir: Path) -> rsa.RSAPrivateKey:
    path = _key_path(data_dir)
    if not path.exists():
        fresh = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        pem = fresh.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                  serialization.NoEncryption())
        tmp = path.with_name(path.name + f".{secrets.token_hex(4)}.tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as fh:
            fh.write(pem)
        try:
            os.link(tmp, path)  # first writer wins if two processes race
        except FileExistsError:
            pass
        os.unlink(tmp)
    key = serialization.load_pem_private_key(path.read_bytes(), password=None)
    assert isinstance(key, rsa.RSAPrivateKey)
    return key


class InvalidToken(Exception):
    """The token is not one Skyhold's issuer signed (or not a JWT at all)."""


class TokenExpired(InvalidToken):
    """Signed by Skyhold's issuer, but past its exp (the message is the exp value)."""


class TokenNotYetValid(InvalidToken):
    """Signed by Skyhold's issuer, but before its nbf (the message is the nbf value): a
    token minted while Skyhold's clock was advanced, presented after a reset."""


class MissingClaim(InvalidToken):
    """Signed by Skyhold's issuer, but without a claim STS requires (the message is its name)."""


class MalformedClaim(InvalidToken):
    """Signed by Skyhold's issuer, but a registered claim has the wrong JSON type."""


# Claims STS cannot do without: the issuer and subject name the caller, the audience
# is matched against the provider's client ids, and exp bounds the token's life.
REQUIRED_CLAIMS = ("iss", "sub", "aud", "exp")


def _jwt() -> ModuleType:
    # Imported on first use: PyJWT costs a noticeable part of every start, and most
    # runs never see a web identity token.
    import jwt

    return jwt


def key_id(key: rsa.RSAPrivateKey) -> str:
    der = key.public_key().public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    return hashlib.sha256(der).hexdigest()[:16]


def mint(data_dir: Path, *, sub: str, aud: str, now: float, ttl: int = 3600, claims: dict[str, Any] | None = None) -> str:
    key = signing_key(data_dir)
    payload = {"iss": ISSUER, "sub": sub, "aud": aud, "iat": int(now), "nbf": int(now), "exp": int(now) + ttl,
               **(claims or {})}
    return _jwt().encode(payload, key, algorithm="RS256", headers={"kid": key_id(key)})


def jwks(data_dir: Path) -> dict[str, Any]:
    key = signing_key(data_dir)
    numbers = key.public_key().public_numbers()

    def b64(n: int) -> str:
        return base64.urlsafe_b64encode(n.to_bytes((n.bit_length() + 7) // 8, "big")).rstrip(b"=").decode()

    return {"keys": [{"kty": "RSA", "use": "sig", "alg": "RS256", "kid": key_id(key), "n": b64(numbers.n),
                      "e": b64(numbers.e)}]}


def discovery(base_url: str) -> dict[str, Any]:
    return {
        "issuer": ISSUER,
        "jwks_uri": f"{base_url}/_skyhold/oidc/jwks.json",
        "response_types_supported": ["id_token"],
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": ["RS256"],
        "claims_supported": ["sub", "iss", "aud", "exp", "iat"],
    }


def unverified_issuer(token: str) -> str | None:
    """The token's iss claim before any check; None when the token is no JWT or its iss
    is not a string."""
    jwt = _jwt()
    try:
        issuer = jwt.decode(token, options={"verify_signature": False}).get("iss")
    except jwt.PyJWTError:
        return None
    return issuer if isinstance(issuer, str) else None


def _is_number(value: Any) -> bool:
    """A JWT NumericDate: a finite JSON number (bool is an int to Python, not to JSON)."""
    if isinstance(value, bool):
        return False
    # ints are exact (math.isfinite would overflow on a huge one); floats may be NaN or inf
    return isinstance(value, int) or (isinstance(value, float) and math.isfinite(value))


def _check_claims(claims: dict[str, Any]) -> None:
    """Presence and JSON types of the registered claims STS reads (RFC 7519 §4.1)."""
    for name in REQUIRED_CLAIMS:
        if name not in claims:
            raise MissingClaim(name)
    aud = claims["aud"]
    if not (isinstance(claims["iss"], str) and isinstance(claims["sub"], str)
            and (isinstance(aud, str) or (isinstance(aud, list) and all(isinstance(a, str) for a in aud)))
            and all(_is_number(claims[n]) for n in ("exp", "iat", "nbf") if n in claims)):
        raise MalformedClaim("claim types")


def verify(data_dir: Path, token: str, *, now: float) -> dict[str, Any]:
    """Signature, claim and time checks; audience is checked by the caller against the
    provider's client ids. Raises InvalidToken (TokenExpired past its exp, MissingClaim
    and MalformedClaim for a signed token STS cannot read, TokenNotYetValid before its nbf)."""
    jwt = _jwt()
    key = signing_key(data_dir).public_key()
    # Only the signature here: PyJWT's own claim checks would report a bad claim as
    # a bad token, and STS tells them apart.
    checks = {"verify_exp": False, "verify_nbf": False, "verify_iat": False, "verify_aud": False,
              "verify_iss": False, "verify_sub": False, "verify_jti": False}
    try:
        claims = jwt.decode(token, key, algorithms=["RS256"], options=checks)
    except jwt.PyJWTError as err:
        raise InvalidToken(str(err)) from None
    _check_claims(claims)
    if claims["iss"] != ISSUER:
        raise InvalidToken("issuer")
    if claims["exp"] <= now:
        raise TokenExpired(str(claims["exp"]))
    if claims.get("nbf", now) > now:
        raise TokenNotYetValid(str(claims["nbf"]))
    return claims
