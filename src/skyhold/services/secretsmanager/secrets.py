"""Secrets, their versions and staging labels (AWSCURRENT, AWSPREVIOUS, AWSPENDING).

Every secret value is stored only envelope-encrypted: sealed with a data key that KMS
generated under the secret's key (the AWS managed aws/secretsmanager key by default)
with the encryption context {"SecretARN": arn, "SecretVersionId": id}, as Secrets
Manager uses; reading it needs kms:Decrypt via secretsmanager.<region>.amazonaws.com,
writing kms:GenerateDataKey.

Kind `secretsmanager.secret`, key "<account>/<region>/<name>".
"""

from __future__ import annotations

import base64
import json
import re
import secrets as random
import string
import uuid
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from skyhold import clock, constraints, paging
from skyhold.authz import Access
from skyhold.errors import AwsError, validation_failed
from skyhold.policy import public, tagging, validate_policy
from skyhold.policy.validate import SYNTAX
from skyhold.services.iam import principals
from skyhold.services.kms import on_behalf
from skyhold.services.kms.records import parse_time
from skyhold.services.secretsmanager import conditions, rotation
from skyhold.wire.models import service_model

if TYPE_CHECKING:
    from skyhold.pipeline import Call

SECRET = "secretsmanager.secret"
SERVICE = "secretsmanager"
# Next to the resource policy: its users and roles bound to their unique ids (principals.bind).
POLICY_BINDING = "ResourcePolicyBinding"
principals.STORED.append((SECRET, "ResourcePolicy", POLICY_BINDING))
CURRENT, PREVIOUS, PENDING = "AWSCURRENT", "AWSPREVIOUS", "AWSPENDING"
# What CreateSecret's model documents for a name: ASCII letters, digits and /_+=.@-
# ("!" in AWS's message is for names of secrets that other services manage).
_NAME = re.compile(r"[A-Za-z0-9/_+=.@-]+")
# A SecretId is a name or an ARN: the name's characters, the "!" of managed secrets'
# names, and an ARN's ":". AWS refuses any other (a space, "*", "?") before looking.
_SECRET_ID = re.compile(r"[A-Za-z0-9/_+=.@!:-]+")
# What Secrets Manager's guide lists as the keys whose fixed values keep a grant to "*"
# from being broad access ("Managing a resource-based policy for a secret").
_PINNING_KEYS = frozenset({"aws:sourcearn", "aws:sourcevpc", "aws:sourcevpce", "aws:sourceaccount"})
_INVALID_NAME = ("Invalid name. Must be a valid name containing alphanumeric characters, or any of the "
                 "following: -/_+=.@!")


def _not_found() -> AwsError:
    return AwsError("ResourceNotFoundException", "Secrets Manager can't find the specified secret.")


def _deleted() -> AwsError:
    return AwsError("InvalidRequestException",
                    "You can't perform this operation on the secret because it was marked for deletion.")


def _check_lengths(operation: str, params: dict[str, Any], *members: str) -> None:
    """The model's length bounds, which AWS's request validation checks before
    Secrets Manager sees the request; it names the member without echoing its value."""
    shapes = service_model(SERVICE).operation_model(operation).input_shape.members
    problems = []
    for member in members:
        value, meta = params.get(member), shapes[member].metadata
        if value is None:
            continue
        if len(value) < meta.get("min", 0):
            rule = f"greater than or equal to {meta['min']}"
        elif "max" in meta and len(value) > meta["max"]:
            rule = f"less than or equal to {meta['max']}"
        else:
            continue
        problems.append(f"Value at '{member[0].lower()}{member[1:]}' failed to satisfy constraint: "
                        f"Member must have length {rule}")
    if problems:
        raise validation_failed(problems)


def _check_tags(tags: list[dict[str, Any]]) -> None:
    """The model leaves a tag's Key and Value optional; a tag needs both (the wording is
    AWS's for a missing member)."""
    problems = [constraints.null_member(f"tags.{i}.member.{member.lower()}") for i, tag in enumerate(tags, 1)
                for member in ("Key", "Value") if tag.get(member) is None]
    if problems:
        raise validation_failed(problems)


def _check_name(name: str) -> None:
    if not _NAME.fullmatch(name):
        raise AwsError("ValidationException", _INVALID_NAME)


def _check_secret_id(secret_id: str) -> None:
    if not _SECRET_ID.fullmatch(secret_id):
        raise AwsError("ValidationException", _INVALID_NAME)


def _need_token(params: dict[str, Any], code: str = "InvalidRequestException") -> None:
    """The SDKs always fill in ClientRequestToken; a hand-made request that creates a
    version without one is refused (RotateSecret answers with another code)."""
    if not params.get("ClientRequestToken"):
        raise AwsError(code, "You must provide a ClientRequestToken value. We recommend a UUID-type value.")


def _arn(call: Call, name: str) -> str:
    suffix = "".join(random.choice(string.ascii_letters + string.digits) for _ in range(6))
    return f"arn:aws:secretsmanager:{call.region}:{call.principal.account}:secret:{name}-{suffix}"


def _find(call: Call, secret_id: str, *, allow_deleted: bool = False) -> tuple[dict[str, Any], int]:
    """By name, full ARN, or ARN without its random suffix. An ARN may name a secret of
    another account (cross-account access: the secret's resource policy decides)."""
    _check_secret_id(secret_id)
    account, region, name = call.principal.account, call.region, secret_id
    rec = None
    if secret_id.startswith("arn:"):
        parts = secret_id.split(":", 6)
        if len(parts) != 7 or parts[5] != "secret":
            raise _not_found()
        region, account, name = parts[3], parts[4], parts[6]
        # a full ARN ends with "-" and the 6-character suffix: try the bare name first
        if len(name) > 7 and name[-7] == "-":
            found = call.store.get(SECRET, f"{account}/{region}/{name[:-7]}")
            if found is not None and found.value["ARN"] == secret_id:
                rec = found
    if rec is None:
        rec = call.store.get(SECRET, f"{account}/{region}/{name}")
    if rec is None:
        raise _not_found()
    secret = rec.value
    if secret.get("DeletedDate") and clock.now() >= parse_time(secret["PurgeDate"]):
        call.store.delete(SECRET, rec.key)  # the recovery window has passed on Skyhold's clock
        raise _not_found()
    if secret.get("DeletedDate") and not allow_deleted:
        raise _deleted()
    return secret, rec.version


def _store_key(secret: dict[str, Any]) -> str:
    """"<account>/<region>/<name>", from the secret's own ARN."""
    parts = secret["ARN"].split(":", 6)
    return f"{parts[4]}/{parts[3]}/{secret['Name']}"


def _save(call: Call, secret: dict[str, Any], version: int) -> None:
    call.store.put(SECRET, _store_key(secret), secret, expect_version=version)


def _data(params: dict[str, Any]) -> tuple[str, bytes]:
    """The request's secret value: (kind, bytes)."""
    if params.get("SecretString") is not None and params.get("SecretBinary") is not None:
        raise AwsError("InvalidParameterException", "You can't specify both a binary secret value and a string "
                       "secret value in the same secret.")
    if params.get("SecretString") is not None:
        kind, raw = "String", params["SecretString"].encode()
    elif params.get("SecretBinary") is not None:
        kind, raw = "Binary", params["SecretBinary"]
    else:
        raise AwsError("InvalidRequestException", "You must provide either SecretString or SecretBinary.")
    if len(raw) > 65536:
        raise AwsError("InvalidParameterException", "Secret value exceeds the maximum size of 65536 bytes.")
    return kind, raw


def _retried(call: Call, secret: dict[str, Any], version_id: str, params: dict[str, Any]) -> dict[str, Any] | None:
    """The version a ClientRequestToken already names, if any. A retry with the same
    secret data is a no-op that answers with that version; other data is refused, as
    an existing version can never change."""
    v = secret["Versions"].get(version_id)
    if v is None or _is_empty(v):
        return None  # rotation's empty AWSPENDING version is filled by this token's first value
    kind, raw = _data(params)
    if kind != v["Kind"] or raw != _open(call, secret, version_id, v):
        raise AwsError("ResourceExistsException", f"You can't use ClientRequestToken {version_id} because that "
                       f"value is already in use for a version of secret {secret['ARN']}.")
    return v


def _seal(call: Call, secret: dict[str, Any], version_id: str, params: dict[str, Any]) -> dict[str, Any]:
    kind, raw = _data(params)
    # Envelope encryption, as Secrets Manager does: a fresh KMS data key per version
    # (kms:GenerateDataKey via Secrets Manager) seals the value with AES-256-GCM; only
    # the KMS-encrypted data key is kept beside it.
    key = secret.get("KmsKeyId") or on_behalf.managed_key(call, SERVICE)
    context = _context(secret, version_id)
    data_key, wrapped, _ = on_behalf.generate_data_key(call, key, context, SERVICE)
    nonce = random.token_bytes(12)
    sealed = nonce + AESGCM(data_key).encrypt(nonce, raw, _aad(context))
    return {"Kind": kind, "DataKey": base64.b64encode(wrapped).decode(), "KmsKeyId": secret.get("KmsKeyId"),
            "Ciphertext": base64.b64encode(sealed).decode(), "CreatedDate": clock.now_iso8601(), "Stages": []}


def _context(secret: dict[str, Any], version_id: str) -> dict[str, str]:
    """The encryption context Secrets Manager uses for a secret version."""
    return {"SecretARN": secret["ARN"], "SecretVersionId": version_id}


def _aad(context: dict[str, str]) -> bytes:
    return json.dumps(context, sort_keys=True).encode()


def _open(call: Call, secret: dict[str, Any], version_id: str, v: dict[str, Any]) -> bytes:
    """A version's plaintext; needs kms:Decrypt on its data key via Secrets Manager."""
    context = _context(secret, version_id)
    data_key, _ = on_behalf.decrypt(call, base64.b64decode(v["DataKey"]), context, SERVICE)
    sealed = base64.b64decode(v["Ciphertext"])
    try:
        return AESGCM(data_key).decrypt(sealed[:12], sealed[12:], _aad(context))
    except InvalidTag:
        raise AwsError("DecryptionFailure", "Secrets Manager can't decrypt the protected secret text using the "
                       "provided KMS key.") from None


def _is_empty(v: dict[str, Any]) -> bool:
    """Whether a version has no value yet (rotation's AWSPENDING version before the
    function's createSecret step puts one)."""
    return "Ciphertext" not in v


def add_pending_version(secret: dict[str, Any], token: str) -> None:
    """What a rotation does before it invokes the function: "Secrets Manager creates an
    AWSPENDING version ID before creating the new secret version" (DescribeSecret's
    VersionIdsToStages). AWS's rotation templates refuse to run unless the event's
    token is there labeled AWSPENDING; GetSecretValue finds no value in it."""
    if token not in secret["Versions"]:
        _add_version(secret, token, {"CreatedDate": clock.now_iso8601(), "Stages": []}, [PENDING])


def _add_version(secret: dict[str, Any], version_id: str, sealed: dict[str, Any], stages: list[str]) -> None:
    """Put the new version in place: each of its labels leaves whichever version held
    it, and when it becomes AWSCURRENT the old current one becomes AWSPREVIOUS."""
    versions = secret["Versions"]
    old_current = next((vid for vid, v in versions.items() if CURRENT in v["Stages"]), None)
    moving = set(stages) | ({PREVIOUS} if CURRENT in stages else set())
    for v in versions.values():
        v["Stages"] = [s for s in v["Stages"] if s not in moving]
    if CURRENT in stages and old_current is not None:
        versions[old_current]["Stages"].append(PREVIOUS)
    sealed["Stages"] = list(stages)
    versions[version_id] = sealed
    # Versions with no label are deprecated; Secrets Manager keeps about 100.
    unlabeled = [vid for vid, v in versions.items() if not v["Stages"]]
    for vid in unlabeled[: max(0, len(versions) - 100)]:
        del versions[vid]


def create_secret(call: Call, params: dict[str, Any]) -> dict[str, Any]:
    _check_lengths("CreateSecret", params, "Name", "ClientRequestToken", "Description")
    name = params["Name"]
    _check_name(name)
    if params.get("SecretString") is not None or params.get("SecretBinary") is not None:
        _need_token(params)
    key = f"{call.principal.account}/{call.region}/{name}"
    if (existing := call.store.get(SECRET, key)) is not None:
        found = existing.value
        if found.get("DeletedDate"):
            raise AwsError("InvalidRequestException", "You can't create this secret because a secret with this name "
                           "is already scheduled for deletion.")
        # A retried CreateSecret (same token, same value) succeeds and changes nothing.
        token = params.get("ClientRequestToken")
        has_value = params.get("SecretString") is not None or params.get("SecretBinary") is not None
        if token and has_value and _retried(call, found, token, params) is not None:
            return {"ARN": found["ARN"], "Name": name, "VersionId": token}
        raise AwsError("ResourceExistsException", f"The operation failed because the secret {name} already exists.")
    now = clock.now_iso8601()
    secret: dict[str, Any] = {
        "Name": name, "ARN": _arn(call, name), "Description": params.get("Description", ""),
        "KmsKeyId": params.get("KmsKeyId"), "CreatedDate": now, "LastChangedDate": now, "Tags": params.get("Tags") or [],
        "Tagged": bool(params.get("Tags")), "Versions": {},
    }
    version_id = params.get("ClientRequestToken") or str(uuid.uuid4())
    result: dict[str, Any] = {"ARN": secret["ARN"], "Name": name}
    if params.get("SecretString") is not None or params.get("SecretBinary") is not None:
        _add_version(secret, version_id, _seal(call, secret, version_id, params), [CURRENT])
        result["VersionId"] = version_id
    call.store.put(SECRET, key, secret, expect_version=0)
    return result


def _pick_version(secret: dict[str, Any], params: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    wanted_id, stage = params.get("VersionId"), params.get("VersionStage")
    if wanted_id and (v := secret["Versions"].get(wanted_id)) is not None and not _is_empty(v):
        if stage and stage not in v["Stages"]:
            raise AwsError("InvalidRequestException",
                           "You provided a VersionStage that is not associated to the provided VersionId.")
        return wanted_id, v
    for vid, v in secret["Versions"].items():
        if not wanted_id and (stage or CURRENT) in v["Stages"] and not _is_empty(v):
            return vid, v
    raise AwsError("ResourceNotFoundException", "Secrets Manager can't find the specified secret value for "
                   + (f"VersionId: {wanted_id}" if wanted_id else f"staging label: {stage or CURRENT}"))


def _value(call: Call, secret: dict[str, Any], params: dict[str, Any]) -> dict[str, Any]:
    vid, v = _pick_version(secret, params)
    plaintext = _open(call, secret, vid, v)
    out: dict[str, Any] = {"ARN": secret["ARN"], "Name": secret["Name"], "VersionId": vid,
                           "VersionStages": v["Stages"], "CreatedDate": parse_time(v["CreatedDate"])}
    if v["Kind"] == "String":
        out["SecretString"] = plaintext.decode()
    else:
        out["SecretBinary"] = plaintext
    return out


def get_secret_value(call: Call, params: dict[str, Any]) -> dict[str, Any]:
    secret, version = _find(call, params["SecretId"])
    out = _value(call, secret, params)
    # Secrets Manager keeps the last access to the day, for the secret and for the version
    # read (ListSecretVersionIds shows it): one write a day, not per read.
    today = clock.iso8601(clock.now().replace(hour=0, minute=0, second=0))
    read = secret["Versions"][out["VersionId"]]
    if secret.get("LastAccessedDate") != today or read.get("LastAccessedDate") != today:
        secret["LastAccessedDate"] = read["LastAccessedDate"] = today
        _save(call, secret, version)
    return out


def get_secret_value_for(call: Call, secret_id: str, selector: str | None = None) -> dict[str, Any]:
    """GetSecretValue made by another service on the caller's behalf (Parameter Store's
    /aws/reference/secretsmanager/ names): the caller's own secretsmanager:GetSecretValue
    on the secret is checked first, then the value is read (and KMS used) as a direct call
    would. A selector is one of the secret's version ids, or else a staging label."""
    params: dict[str, Any] = {"SecretId": secret_id}
    if selector:
        try:
            versions = _find(call, secret_id, allow_deleted=True)[0]["Versions"]
        except AwsError:
            versions = {}  # the access check below still comes first
        params["VersionId" if selector in versions else "VersionStage"] = selector
    for access in AUTHZ["GetSecretValue"](call, params):
        call.pipeline.authorizer.check_access(call, access)
    return get_secret_value(call, params)


def batch_get_secret_value(call: Call, params: dict[str, Any]) -> dict[str, Any]:
    _check_lengths("BatchGetSecretValue", params, "NextToken")
    ids, filters = params.get("SecretIdList"), params.get("Filters")
    # Exactly one way to choose the secrets. moto's wording for "both" (it mimics AWS);
    # AWS's answer to "neither" is unrecorded, so the same message is assumed.
    if (ids is None) == (filters is None):
        raise AwsError("InvalidParameterException",
                       "Either 'SecretIdList' or 'Filters' must be provided, but not both.")
    result: dict[str, Any] = {}
    if filters is None:
        if "MaxResults" in params:  # paging is only for Filters
            raise AwsError("InvalidParameterException", "'Filters' not specified. 'Filters' must also be "
                           "specified when 'MaxResults' is provided.")
        wanted = list(ids or [])
    else:
        _check_filters(filters)
        limit = params.get("MaxResults", 20)
        constraints.raise_if(constraints.check_range("maxResults", limit, 1, 20))
        page, token = _matching(call, filters, False, params.get("NextToken"), limit)
        wanted = [secret["ARN"] for secret in page]
        if token is not None:
            result["NextToken"] = token
    values, errors = [], []
    for secret_id in wanted:
        # Each secret needs GetSecretValue of its own; a refusal is that secret's error, not the call's.
        try:
            call.pipeline.authorizer.check_access(call, _secret_access(call, "secretsmanager:GetSecretValue",
                                                                       secret_id))
            secret, _ = _find(call, secret_id)
            values.append(_value(call, secret, {}))
        except AwsError as err:
            errors.append({"SecretId": secret_id, "ErrorCode": err.code, "Message": err.message})
    return {"SecretValues": values, "Errors": errors, **result}


def put_secret_value(call: Call, params: dict[str, Any]) -> dict[str, Any]:
    _check_lengths("PutSecretValue", params, "ClientRequestToken")
    _need_token(params)
    secret, version = _find(call, params["SecretId"])
    version_id = params.get("ClientRequestToken") or str(uuid.uuid4())
    if (existing := _retried(call, secret, version_id, params)) is not None:
        return {"ARN": secret["ARN"], "Name": secret["Name"], "VersionId": version_id,
                "VersionStages": existing["Stages"]}
    stages = params.get("VersionStages") or [CURRENT]
    if not secret["Versions"] and CURRENT not in stages:
        stages = [*stages, CURRENT]  # a secret's first version is always AWSCURRENT
    _add_version(secret, version_id, _seal(call, secret, version_id, params), stages)
    secret["LastChangedDate"] = clock.now_iso8601()
    _save(call, secret, version)
    return {"ARN": secret["ARN"], "Name": secret["Name"], "VersionId": version_id, "VersionStages": stages}


def update_secret(call: Call, params: dict[str, Any]) -> dict[str, Any]:
    _check_lengths("UpdateSecret", params, "ClientRequestToken", "Description")
    if params.get("SecretString") is not None or params.get("SecretBinary") is not None:
        _need_token(params)
    secret, version = _find(call, params["SecretId"])
    if "Description" in params:
        secret["Description"] = params["Description"]
    if "KmsKeyId" in params:
        secret["KmsKeyId"] = params["KmsKeyId"]
    out: dict[str, Any] = {"ARN": secret["ARN"], "Name": secret["Name"]}
    if params.get("SecretString") is not None or params.get("SecretBinary") is not None:
        version_id = params.get("ClientRequestToken") or str(uuid.uuid4())
        if _retried(call, secret, version_id, params) is None:
            _add_version(secret, version_id, _seal(call, secret, version_id, params), [CURRENT])
        out["VersionId"] = version_id
    secret["LastChangedDate"] = clock.now_iso8601()
    _save(call, secret, version)
    return out


def update_secret_version_stage(call: Call, params: dict[str, Any]) -> dict[str, Any]:
    _check_lengths("UpdateSecretVersionStage", params, "VersionStage", "RemoveFromVersionId", "MoveToVersionId")
    secret, version = _find(call, params["SecretId"])
    stage, move_to, remove_from = params["VersionStage"], params.get("MoveToVersionId"), params.get("RemoveFromVersionId")
    versions = secret["Versions"]
    holder = next((vid for vid, v in versions.items() if stage in v["Stages"]), None)
    if move_to and move_to not in versions:
        raise _not_found()
    # The label leaves only the version that holds it, named explicitly; and
    # AWSCURRENT can only move, never be left on no version.
    if remove_from and remove_from != holder:
        raise AwsError("InvalidParameterException", f"When you move staging label {stage}, if you specify "
                       f"RemoveFromVersionId, it must be set to the version that currently has the staging label "
                       f"{stage}.")
    if move_to and holder and holder != move_to and not remove_from:
        raise AwsError("InvalidParameterException", f"The parameter RemoveFromVersionId can't be empty. Staging "
                       f"label {stage} is currently attached to version {holder}, so you must explicitly reference "
                       f"that version in RemoveFromVersionId.")
    if stage == CURRENT and remove_from and not move_to:
        raise AwsError("InvalidParameterException", "You can't remove AWSCURRENT from a version without moving it "
                       "to another version.")
    if move_to != holder:
        if remove_from:
            versions[remove_from]["Stages"].remove(stage)
        if move_to:
            versions[move_to]["Stages"].append(stage)
        if stage == CURRENT and remove_from:
            # AWSPREVIOUS follows to the version AWSCURRENT left.
            for v in versions.values():
                v["Stages"] = [s for s in v["Stages"] if s != PREVIOUS]
            versions[remove_from]["Stages"].append(PREVIOUS)
    _save(call, secret, version)
    return {"ARN": secret["ARN"], "Name": secret["Name"]}


def describe_secret(call: Call, params: dict[str, Any]) -> dict[str, Any]:
    secret, _ = _find(call, params["SecretId"], allow_deleted=True)
    return _describe(secret)


def _describe(secret: dict[str, Any]) -> dict[str, Any]:
    """DescribeSecret's members. AWS leaves out what was never set: an empty Description,
    Tags until the secret is first tagged (then [] once untagged), and the version map
    while no version has a staging label (unlabeled versions are deprecated, not listed)."""
    out: dict[str, Any] = {
        "ARN": secret["ARN"], "Name": secret["Name"],
        "CreatedDate": parse_time(secret["CreatedDate"]), "LastChangedDate": parse_time(secret["LastChangedDate"]),
        **rotation.rotation_fields(secret),
    }
    if secret.get("Description"):
        out["Description"] = secret["Description"]
    if secret["Tags"] or secret.get("Tagged"):
        out["Tags"] = secret["Tags"]
    if stages := _labeled(secret):
        out["VersionIdsToStages"] = stages
    if secret.get("KmsKeyId"):
        out["KmsKeyId"] = secret["KmsKeyId"]
    if secret.get("LastAccessedDate"):
        out["LastAccessedDate"] = parse_time(secret["LastAccessedDate"])
    if secret.get("DeletedDate"):
        out["DeletedDate"] = parse_time(secret["DeletedDate"])
    return out


def _labeled(secret: dict[str, Any]) -> dict[str, list[str]]:
    return {vid: v["Stages"] for vid, v in secret["Versions"].items() if v["Stages"]}


def list_secrets(call: Call, params: dict[str, Any]) -> dict[str, Any]:
    _check_lengths("ListSecrets", params, "NextToken")
    filters = params.get("Filters") or []
    _check_filters(filters)
    limit = params.get("MaxResults", 100)
    constraints.raise_if(constraints.check_range("maxResults", limit, 1, 100))
    page, token = _matching(call, filters, bool(params.get("IncludePlannedDeletion")), params.get("NextToken"),
                            limit)
    out = []
    for secret in page:
        view = _describe(secret)
        if (stages := view.pop("VersionIdsToStages", None)) is not None:
            view["SecretVersionsToStages"] = stages
        out.append(view)
    result: dict[str, Any] = {"SecretList": out}
    if token is not None:
        result["NextToken"] = token
    return result


def _matching(call: Call, filters: list[dict[str, Any]], include_deleted: bool, token: str | None,
              limit: int) -> tuple[list[dict[str, Any]], str | None]:
    """One page of the caller's secrets in this region that pass every filter, in
    ListSecrets' order (by name), and the token for the next. Reads from the token on,
    about a page's worth: listing 10,000 secrets read all 10,000 a page. The token
    names the page's last secret, so a page boundary survives secrets made or deleted
    between calls (an index into the list shifted with them)."""
    prefix = f"{call.principal.account}/{call.region}/"
    start_after = ""
    if token is not None:
        after = paging.position(token)
        if after is None or not after.startswith(prefix):  # not a token Skyhold gave
            raise AwsError("InvalidNextTokenException", "The NextToken value is invalid.")
        start_after = after
    page: list[dict[str, Any]] = []
    last = ""
    for rec in paging.scan_from(call.store, SECRET, prefix, start_after, batch=limit + 1):
        if (include_deleted or not rec.value.get("DeletedDate")) and all(_filter(rec.value, f) for f in filters):
            if len(page) == limit:
                return page, paging.token(last)
            page.append(rec.value)
            last = rec.key
    return page, None


def _page(items: list[dict[str, Any]], token: str | None, limit: int) -> tuple[list[dict[str, Any]], str | None]:
    """One page of a listing and the token for the next; the token is the next index,
    written as Skyhold writes it (no sign, no leading zero). The caller checks the
    model's length bound first (see _check_lengths)."""
    start = 0
    if token is not None:
        # A short decimal before int(): Python refuses to convert over 4,300 digits.
        issued = token.isascii() and token.isdigit() and len(token) <= 9 and token == str(int(token))
        start = int(token) if issued else 0
        if not issued or start <= 0:  # not a token Skyhold gave
            raise AwsError("InvalidNextTokenException", "The NextToken value is invalid.")
        # Past the end (secrets deleted since the last page, as a paginate-and-delete
        # loop does): an empty last page, not an error.
    return items[start:start + limit], str(start + limit) if start + limit < len(items) else None


# ListSecrets' filter keys, in the order AWS's error message lists them (the two newest
# keys, unseen in a recorded message, appended).
_FILTER_KEYS = ("all", "name", "tag-key", "description", "tag-value", "primary-region", "owning-service")


def _check_filters(filters: list[dict[str, Any]]) -> None:
    for i, f in enumerate(filters, 1):
        key = f.get("Key")
        if key is None:
            raise AwsError("InvalidParameterException", "Invalid filter key")
        if key not in _FILTER_KEYS:
            raise validation_failed([constraints.enum_problem(f"filters.{i}.member.key", key, _FILTER_KEYS)])
        if f.get("Values") is None:
            raise AwsError("InvalidParameterException", f"Invalid filter values for key: {key}")


def _filter(secret: dict[str, Any], f: dict[str, Any]) -> bool:
    values = f.get("Values") or []
    key = f["Key"]
    negate = [v[1:] for v in values if v.startswith("!")]
    plain = [v for v in values if not v.startswith("!")]
    fields = {
        "name": [secret["Name"]], "description": [secret["Description"]],
        "tag-key": [t["Key"] for t in secret["Tags"]], "tag-value": [t["Value"] for t in secret["Tags"]],
        "all": [secret["Name"], secret["Description"], *(t["Key"] for t in secret["Tags"]),
                *(t["Value"] for t in secret["Tags"])],
    }.get(key, [])
    hit = any(field.startswith(v) for v in plain for field in fields) if plain else True
    return hit and not any(field.startswith(v) for v in negate for field in fields)


def delete_secret(call: Call, params: dict[str, Any]) -> dict[str, Any]:
    force = params.get("ForceDeleteWithoutRecovery", False)
    window = params.get("RecoveryWindowInDays")
    if force and window is not None:
        raise AwsError("InvalidParameterException", "You can't use ForceDeleteWithoutRecovery in conjunction with "
                       "RecoveryWindowInDays.")
    if window is not None and not 7 <= window <= 30:
        raise AwsError("InvalidParameterException", "The RecoveryWindowInDays value must be between 7 and 30 days "
                       "(inclusive).")
    now = clock.now()
    try:
        secret, version = _find(call, params["SecretId"], allow_deleted=True)
    except AwsError as err:
        # A forced delete of a secret that does not exist answers as if it had deleted it.
        if not force or err.code != "ResourceNotFoundException":
            raise
        secret_id = params["SecretId"]
        parts = secret_id.split(":", 6)
        name = parts[6] if len(parts) == 7 else secret_id
        return {"ARN": secret_id if secret_id.startswith("arn:") else _arn(call, name), "Name": name,
                "DeletionDate": now}
    if force:
        call.store.delete(SECRET, _store_key(secret))
        return {"ARN": secret["ARN"], "Name": secret["Name"], "DeletionDate": now}
    if not secret.get("DeletedDate"):
        secret["DeletedDate"] = clock.iso8601(now)
        secret["PurgeDate"] = clock.iso8601(now + timedelta(days=window or 30))
        _save(call, secret, version)
    return {"ARN": secret["ARN"], "Name": secret["Name"], "DeletionDate": parse_time(secret["PurgeDate"])}


def restore_secret(call: Call, params: dict[str, Any]) -> dict[str, Any]:
    secret, version = _find(call, params["SecretId"], allow_deleted=True)
    secret.pop("DeletedDate", None)
    secret.pop("PurgeDate", None)
    _save(call, secret, version)
    return {"ARN": secret["ARN"], "Name": secret["Name"]}


def get_random_password(call: Call, params: dict[str, Any]) -> dict[str, Any]:
    length = params.get("PasswordLength", 32)
    if not 1 <= length <= 4096:
        raise AwsError("InvalidParameterException", "Password length must be between 1 and 4096.")
    classes = []
    if not params.get("ExcludeLowercase"):
        classes.append(string.ascii_lowercase)
    if not params.get("ExcludeUppercase"):
        classes.append(string.ascii_uppercase)
    if not params.get("ExcludeNumbers"):
        classes.append(string.digits)
    if not params.get("ExcludePunctuation"):
        classes.append("!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~")
    if params.get("IncludeSpace"):
        classes.append(" ")
    excluded = set(params.get("ExcludeCharacters") or "")
    classes = [c for c in ("".join(ch for ch in cls if ch not in excluded) for cls in classes) if c]
    if not classes:
        raise AwsError("InvalidParameterException", "The password cannot be generated with the given constraints.")
    alphabet = "".join(classes)
    while True:
        password = "".join(random.choice(alphabet) for _ in range(length))
        # RequireEachIncludedType (default true): one of each class when it fits
        if not params.get("RequireEachIncludedType", True) or length < len(classes) or all(
                any(ch in cls for ch in password) for cls in classes):
            return {"RandomPassword": password}


def _rotator(call: Call) -> rotation.Rotator:
    rotator = call.pipeline.extensions.get("secretsmanager.rotator")
    if rotator is None:
        rotator = call.pipeline.extensions["secretsmanager.rotator"] = rotation.Rotator(call.pipeline)
    return rotator


def rotate_secret(call: Call, params: dict[str, Any]) -> dict[str, Any]:
    _check_lengths("RotateSecret", params, "ClientRequestToken")
    _need_token(params, "InvalidParameterException")
    secret, version = _find(call, params["SecretId"])
    if params.get("RotationLambdaARN"):
        rotation.check_function(call, params["RotationLambdaARN"], secret["ARN"].split(":")[4])
        secret["RotationLambdaARN"] = params["RotationLambdaARN"]
    if not secret.get("RotationLambdaARN"):
        raise AwsError("InvalidRequestException", "No Lambda rotation function ARN is associated with this secret.")
    if params.get("RotationRules"):
        rotation.schedule(secret, params["RotationRules"])
    _save(call, secret, version)
    token = params.get("ClientRequestToken") or str(uuid.uuid4())
    key = _store_key(secret)
    if params.get("RotateImmediately", True):
        _rotator(call).start_now(key, token, rotation.endpoint_of(call))
    else:
        _rotator(call).endpoint = rotation.endpoint_of(call)
    return {"ARN": secret["ARN"], "Name": secret["Name"], "VersionId": token}


def cancel_rotate_secret(call: Call, params: dict[str, Any]) -> dict[str, Any]:
    secret, version = _find(call, params["SecretId"])
    for key in ("RotationLambdaARN", "RotationRules", "NextRotationDate"):
        secret.pop(key, None)
    secret["RotationCancelled"] = True  # DescribeSecret now says RotationEnabled: false
    _save(call, secret, version)
    return {"ARN": secret["ARN"], "Name": secret["Name"]}


def put_resource_policy(call: Call, params: dict[str, Any]) -> dict[str, Any]:
    secret, version = _find(call, params["SecretId"])
    text = params["ResourcePolicy"]
    try:
        validate_policy(text, "resource")
    except AwsError as err:
        # Secrets Manager's own code; for a grammar error its own sentence too.
        message = "This policy has invalid syntax." if err.message == SYNTAX else err.message
        raise AwsError("MalformedPolicyDocumentException", message) from None
    if params.get("BlockPublicPolicy") and _is_public(text):
        raise AwsError("PublicPolicyException", "This resource policy contains a statement that grants public "
                       "access, and BlockPublicPolicy is set to true.")
    if principals.unknown(call.store, text):  # IAM binds them now: they must exist
        raise AwsError("MalformedPolicyDocumentException", "This resource policy contains an unsupported principal.")
    secret["ResourcePolicy"] = text
    secret[POLICY_BINDING] = principals.bind(call.store, text)
    _save(call, secret, version)
    return {"ARN": secret["ARN"], "Name": secret["Name"]}


def _is_public(text: str) -> bool:
    return public.is_public(text, _PINNING_KEYS)


def validate_resource_policy(call: Call, params: dict[str, Any]) -> dict[str, Any]:
    """Check a policy the way PutResourcePolicy would, without attaching it."""
    if params.get("SecretId"):
        _find(call, params["SecretId"])
    errors = []
    try:
        validate_policy(params["ResourcePolicy"], "resource")
    except AwsError as err:
        errors.append({"CheckName": "SYNTAX_CHECK", "ErrorMessage": err.message})
    else:
        if _is_public(params["ResourcePolicy"]):
            errors.append({"CheckName": "PUBLIC_ACCESS_CHECK", "ErrorMessage": "The resource policy grants public "
                           "access to the secret."})
    return {"PolicyValidationPassed": not errors, "ValidationErrors": errors}


def get_resource_policy(call: Call, params: dict[str, Any]) -> dict[str, Any]:
    secret, _ = _find(call, params["SecretId"])
    out = {"ARN": secret["ARN"], "Name": secret["Name"]}
    if secret.get("ResourcePolicy"):
        out["ResourcePolicy"] = principals.displayed(call.store, secret["ResourcePolicy"],
                                                     secret.get(POLICY_BINDING))
    return out


def delete_resource_policy(call: Call, params: dict[str, Any]) -> dict[str, Any]:
    secret, version = _find(call, params["SecretId"])
    secret.pop("ResourcePolicy", None)
    secret.pop(POLICY_BINDING, None)
    _save(call, secret, version)
    return {"ARN": secret["ARN"], "Name": secret["Name"]}


def list_secret_version_ids(call: Call, params: dict[str, Any]) -> dict[str, Any]:
    _check_lengths("ListSecretVersionIds", params, "NextToken")
    limit = params.get("MaxResults", 100)
    constraints.raise_if(constraints.check_range("maxResults", limit, 1, 100))
    secret, _ = _find(call, params["SecretId"])
    versions = []
    for vid, v in secret["Versions"].items():
        if not v["Stages"] and not params.get("IncludeDeprecated"):
            continue  # a version without staging labels is deprecated: listed only on request
        # AWS names the default key "DefaultEncryptionKey", and leaves out what a version lacks.
        entry: dict[str, Any] = {"VersionId": vid, "CreatedDate": parse_time(v["CreatedDate"]),
                                 "KmsKeyIds": [v.get("KmsKeyId") or "DefaultEncryptionKey"]}
        if v["Stages"]:
            entry["VersionStages"] = v["Stages"]
        if v.get("LastAccessedDate"):
            entry["LastAccessedDate"] = parse_time(v["LastAccessedDate"])
        versions.append(entry)
    page, token = _page(versions, params.get("NextToken"), limit)
    result: dict[str, Any] = {"ARN": secret["ARN"], "Name": secret["Name"], "Versions": page}
    if token is not None:
        result["NextToken"] = token
    return result


def tag_resource(call: Call, params: dict[str, Any]) -> dict[str, Any]:
    _check_tags(params["Tags"])
    # "aws:" keys are AWS's own (e.g. CloudFormation's); a caller can't set them.
    if (system := next((t["Key"] for t in params["Tags"] if t["Key"].startswith("aws:")), None)) is not None:
        raise AwsError("InvalidParameterException", f"You can't modify system tags. Tag key: '{system}'.")
    secret, version = _find(call, params["SecretId"])
    tags = {t["Key"]: t["Value"] for t in secret["Tags"]}
    tags.update({t["Key"]: t["Value"] for t in params["Tags"]})
    secret["Tags"] = [{"Key": k, "Value": v} for k, v in tags.items()]
    secret["Tagged"] = True  # from now on DescribeSecret shows Tags, [] once all are removed
    _keeps_permission(call, params, secret)
    _save(call, secret, version)
    return {}


def untag_resource(call: Call, params: dict[str, Any]) -> dict[str, Any]:
    secret, version = _find(call, params["SecretId"])
    secret["Tags"] = [t for t in secret["Tags"] if t["Key"] not in params["TagKeys"]]
    _keeps_permission(call, params, secret)
    _save(call, secret, version)
    return {}


def _keeps_permission(call: Call, params: dict[str, Any], tagged: dict[str, Any]) -> None:
    """A tag change that would take the caller's permission for the secret away is
    refused with AccessDenied (Secrets Manager API reference, TagResource and
    UntagResource): the caller must still be allowed this same call on the secret as
    it would be tagged, so it can always undo what it did."""
    action = f"secretsmanager:{call.operation}"
    context = conditions.request_context(call, call.operation, params)
    call.pipeline.authorizer.check_access(call, _access_to(call, action, tagged, context))


HANDLERS = {
    "CreateSecret": create_secret,
    "GetSecretValue": get_secret_value,
    "BatchGetSecretValue": batch_get_secret_value,
    "PutSecretValue": put_secret_value,
    "UpdateSecret": update_secret,
    "UpdateSecretVersionStage": update_secret_version_stage,
    "DescribeSecret": describe_secret,
    "ListSecrets": list_secrets,
    "ListSecretVersionIds": list_secret_version_ids,
    "DeleteSecret": delete_secret,
    "RestoreSecret": restore_secret,
    "GetRandomPassword": get_random_password,
    "RotateSecret": rotate_secret,
    "CancelRotateSecret": cancel_rotate_secret,
    "PutResourcePolicy": put_resource_policy,
    "GetResourcePolicy": get_resource_policy,
    "ValidateResourcePolicy": validate_resource_policy,
    "DeleteResourcePolicy": delete_resource_policy,
    "TagResource": tag_resource,
    "UntagResource": untag_resource,
}


def _secret_access(call: Call, action: str, secret_id: str, context: dict[str, Any] | None = None) -> Access:
    _check_secret_id(secret_id)  # AWS validates a request before it authorizes it
    try:
        secret, _ = _find(call, secret_id, allow_deleted=True)
    except AwsError:
        # Unknown secrets are decided on their would-be ARN: a denied caller learns nothing.
        would_be = secret_id if secret_id.startswith("arn:") else \
            f"arn:aws:secretsmanager:{call.region}:{call.principal.account}:secret:{secret_id}"
        return Access(action, would_be, context or {})
    return _access_to(call, action, secret, context)


def _access_to(call: Call, action: str, secret: dict[str, Any], context: dict[str, Any] | None = None) -> Access:
    ctx: dict[str, Any] = {f"secretsmanager:ResourceTag/{t['Key']}": t["Value"] for t in secret["Tags"]}
    ctx.update({f"aws:ResourceTag/{t['Key']}": t["Value"] for t in secret["Tags"]})
    ctx["secretsmanager:SecretId"] = secret["ARN"]
    if secret.get("RotationLambdaARN"):
        ctx["secretsmanager:resource/AllowRotationLambdaArn"] = secret["RotationLambdaARN"]
    ctx.update(context or {})
    policy = secret.get("ResourcePolicy")
    return Access(action, secret["ARN"], conditions.documented(action.split(":", 1)[1], ctx),
                  resource_account=secret["ARN"].split(":")[4],
                  resource_policy=principals.evaluated(call.store, policy, secret.get(POLICY_BINDING))
                  if policy else None)


def _on_secret(action: str) -> Any:
    def authz(call: Call, params: dict[str, Any]) -> list[Access]:
        if "Tags" in params:
            _check_tags(params["Tags"])  # AWS validates a request before it authorizes it
        ctx = conditions.request_context(call, action.split(":", 1)[1], params)
        return [_secret_access(call, action, params["SecretId"], ctx)]

    return authz


def _create(call: Call, params: dict[str, Any]) -> list[Access]:
    _check_tags(params.get("Tags") or [])  # AWS validates a request before it authorizes it
    name = params["Name"]
    ctx = conditions.request_context(call, "CreateSecret", params)
    # The new secret's tags are its resource tags too (the reference lists
    # aws:ResourceTag for CreateSecret): the IAM ABAC tutorial's policy, which
    # matches aws:ResourceTag against the principal's tags, lets a correctly
    # tagged secret be created.
    for key, value in tagging.pairs(params.get("Tags")):
        ctx[f"aws:ResourceTag/{key}"] = ctx[f"secretsmanager:ResourceTag/{key}"] = value
    return [Access("secretsmanager:CreateSecret",
                   f"arn:aws:secretsmanager:{call.region}:{call.principal.account}:secret:{name}",
                   conditions.documented("CreateSecret", ctx))]


def _batch(call: Call, params: dict[str, Any]) -> list[Access]:
    # Choosing secrets by Filters lists them, so it needs ListSecrets too (per-secret
    # GetSecretValue is checked by the handler, which reports refusals in Errors).
    needs = [Access("secretsmanager:BatchGetSecretValue", "*")]
    if params.get("Filters") is not None:
        needs.append(Access("secretsmanager:ListSecrets", "*"))
    return needs


def _rotate(call: Call, params: dict[str, Any]) -> list[Access]:
    on_secret = _on_secret("secretsmanager:RotateSecret")(call, params)
    # The function is judged against the secret's account (unknown secrets: the caller's).
    secret_account = on_secret[0].resource_account or call.principal.account
    return on_secret + rotation.rotate_authz(call, params, secret_account)


AUTHZ = {
    **{op: _on_secret(f"secretsmanager:{op}") for op in HANDLERS
       if op not in ("CreateSecret", "ListSecrets", "GetRandomPassword", "BatchGetSecretValue",
                     "ValidateResourcePolicy")},
    "ValidateResourcePolicy": lambda call, params: [Access("secretsmanager:ValidateResourcePolicy", "*")],
    "CreateSecret": _create,
    "BatchGetSecretValue": _batch,
    "RotateSecret": _rotate,
}
