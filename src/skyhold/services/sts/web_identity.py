"""AssumeRoleWithWebIdentity: a JWT from an OIDC provider registered in IAM, checked
against the role's trust policy (principal `Federated: <provider ARN>`, conditions on
`<issuer>:sub` / `<issuer>:aud`). The call is unsigned: the token is the credential.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any


from skyhold import arn as arns
from skyhold import clock, oidc
from skyhold import principal as p
from skyhold.authz import Access
from skyhold.errors import AwsError
from skyhold.services.iam import records as iam_records
from skyhold.services.iam.roles import evaluated_trust
from skyhold.services.sts.roles import find_role
from skyhold.services.sts.validation import SESSION_NAME, check_pattern, check_role_arn

if TYPE_CHECKING:
    from skyhold.pipeline import Call


_NOT_A_JWT = "The ID Token provided is not a valid JWT. (You may see this error if you sent an Access Token)"


def _invalid(message: str) -> AwsError:
    return AwsError("InvalidIdentityToken", message, 400)


def _provider_for(call: Call, account: str, issuer: str) -> dict[str, Any]:
    host_path = issuer.removeprefix("https://").rstrip("/")
    arn_ = iam_records.oidc_provider_arn(account, host_path)
    rec = call.store.get(iam_records.OIDC_PROVIDER, arn_)
    if rec is not None:
        return rec.value
    raise _invalid(f"No OpenIDConnect provider found in your account for {issuer}")


def authz(call: Call, params: dict[str, Any]) -> list[Access]:
    """Verify the token, make its subject the caller, and ask the trust policy. Malformed
    input is refused first, as for AssumeRole."""
    check_pattern("roleSessionName", params["RoleSessionName"], SESSION_NAME, 2, 64)
    role_arn = params["RoleArn"]
    check_role_arn(role_arn)
    account = arns.parse(role_arn).account
    # A token file written by `echo` or `jq -r` ends in a newline, and the SDKs send the
    # file as read (botocore's FileWebIdentityTokenLoader, the Go and JS SDKs' token-file
    # providers); AWS takes such a token (the Go SDK, which does not trim, works with
    # newline-ended token files: mongo-go-driver#1965), so the line end is not the token's.
    token = params["WebIdentityToken"].rstrip("\r\n")
    issuer = oidc.unverified_issuer(token)
    if issuer is None:
        raise _invalid(_NOT_A_JWT)
    provider = _provider_for(call, account, issuer)
    if issuer != oidc.ISSUER:
        # Offline, the only issuer whose keys Skyhold can know is its own.
        raise AwsError("IDPCommunicationError", f"Skyhold cannot reach the identity provider {issuer} (offline)", 400)
    now = clock.now_epoch()
    try:
        claims = oidc.verify(call.pipeline.data_dir, token, now=now)
    except oidc.TokenExpired as err:
        raise AwsError("ExpiredTokenException", f"Token expired: current date/time {int(now)} must be before "
                       f"the expiration date/time {err}", 400) from None
    except oidc.TokenNotYetValid as err:
        # AWS's wording is not published; this follows its expired-token message.
        raise _invalid(f"Token not yet valid: current date/time {int(now)} must be after "
                       f"the not-before date/time {err}") from None
    except oidc.MissingClaim as err:
        raise _invalid(f"Missing a required claim: {err}") from None
    except oidc.MalformedClaim:
        raise _invalid(_NOT_A_JWT) from None
    except oidc.InvalidToken:
        raise _invalid("The web identity token's signature could not be verified.") from None
    audiences = claims["aud"]  # a string or a list of strings (oidc.verify checked)
    audiences = [audiences] if isinstance(audiences, str) else audiences
    matching = [a for a in audiences if a in provider.get("ClientIDList", [])]
    if not matching:
        raise _invalid("Incorrect token audience")
    provider_arn = provider["Arn"]
    host = provider["Url"]
    call.principal = p.Principal(
        type=p.WEB_IDENTITY_USER,
        account="",
        arn=provider_arn,
        user_id=claims["sub"],
        name=claims["sub"],
        session={"federated_provider": provider_arn, "claims": {"sub": claims["sub"], "aud": matching[0]},
                 "issuer_host": host},
    )
    role = find_role(call.store, role_arn)
    context = {
        f"{host}:sub": claims["sub"],
        f"{host}:aud": matching[0],
        "aws:FederatedProvider": provider_arn,
        "sts:RoleSessionName": params["RoleSessionName"],
    }
    return [Access("sts:AssumeRoleWithWebIdentity", role_arn, context, resource_account=account,
                   resource_policy=evaluated_trust(call.store, role) if role else None,
                   resource_policy_required=True)]


