"""KMS keys and aliases in the store, and how a KeyId parameter names a key.

Kinds: `kms.key` keyed by key id (a UUID, unique across accounts) and `kms.alias`
keyed "<account>/<region>/<alias name>"; a key's grants are records of their own
(skyhold.services.kms.grants). Key material is stored only sealed with
the data dir's root key (skyhold.crypto.root), bound to the key id and version.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
import uuid
from datetime import datetime, timedelta
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from skyhold import clock
from skyhold.crypto import root
from skyhold.errors import AwsError
from skyhold.services.iam import principals
from skyhold.services.kms import keyspecs

if TYPE_CHECKING:
    from skyhold.pipeline import Call

KEY = "kms.key"
# Next to the key policy: its users and roles bound to their unique ids (principals.bind).
POLICY_BINDING = "PolicyBinding"
principals.STORED.append((KEY, "Policy", POLICY_BINDING))
ALIAS = "kms.alias"

# A key id is a UUID, or "mrk-" and 32 hex digits for a multi-Region key (which Skyhold
# never creates, but KMS answers "does not exist" for one, not "Invalid keyId").
_KEY_ID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}|mrk-[0-9a-f]{32}")


def key_arn(region: str, account: str, key_id: str) -> str:
    return f"arn:aws:kms:{region}:{account}:key/{key_id}"


def alias_arn(region: str, account: str, name: str) -> str:
    return f"arn:aws:kms:{region}:{account}:{name}"


def default_policy(account: str) -> str:
    """The default key policy (AWS KMS developer guide): the account's root principal
    may do everything, which is what lets IAM policies grant use of the key."""
    return json.dumps({
        "Version": "2012-10-17",
        "Id": "key-default-1",
        "Statement": [{
            "Sid": "Enable IAM User Permissions",
            "Effect": "Allow",
            "Principal": {"AWS": f"arn:aws:iam::{account}:root"},
            "Action": "kms:*",
            "Resource": "*",
        }],
    }, indent=2)


def new_key_id() -> str:
    return str(uuid.uuid4())


def new_key(
    call: Call,
    *,
    description: str,
    policy: str,
    tags: list[dict[str, str]],
    spec: str = "SYMMETRIC_DEFAULT",
    usage: str = "ENCRYPT_DECRYPT",
    key_id: str | None = None,
    manager: str = "CUSTOMER",
    origin: str = "AWS_KMS",
) -> dict[str, Any]:
    """A new key; with Origin EXTERNAL it has no material and waits for an import."""
    key_id = key_id or new_key_id()
    account, region = call.principal.account, call.region
    external = origin == "EXTERNAL"
    record = {
        "KeyId": key_id,
        "Arn": key_arn(region, account, key_id),
        "AWSAccountId": account,
        "Region": region,
        "CreationDate": clock.now_iso8601(),
        "Description": description,
        "KeyUsage": usage,
        "KeySpec": spec,
        "KeyState": "PendingImport" if external else "Enabled",
        "Origin": origin,
        "KeyManager": manager,
        "Policy": policy,
        POLICY_BINDING: principals.bind(call.store, policy),
        "Tags": tags,
        "Aliases": [],
        "Material": [] if external else [seal(call, key_id, 0, keyspecs.new_material(keyspecs.SPECS[spec]))],
    }
    if external:
        record["KeyMaterials"] = []  # see skyhold.services.kms.imports
    call.store.put(KEY, key_id, record, expect_version=0)
    return record


def material_id(key: dict[str, Any], version: int) -> str:
    """The id of a key's material slot (DescribeKey's CurrentKeyMaterialId, Decrypt's
    KeyMaterialId): imported material has its own; KMS-made material gets 64 hex digits
    from the key id and the slot, stable across re-sealing and revealing nothing."""
    if "KeyMaterials" in key:  # Origin EXTERNAL
        return str(key["KeyMaterials"][version]["Id"])
    return hashlib.sha256(f"kms-key-material-id/{key['KeyId']}/{version}".encode()).hexdigest()


def seal(call: Call, key_id: str, version: int, material: bytes) -> str:
    aad = f"kms-key-material/{key_id}/{version}".encode()
    return base64.b64encode(root.seal(call.pipeline.data_dir, material, aad)).decode()


def material(call: Call, key: dict[str, Any], version: int) -> bytes:
    return _unseal(call.pipeline.data_dir, key["KeyId"], version, key["Material"][version])


@lru_cache(maxsize=1024)
def _unseal(data_dir: Path, key_id: str, version: int, sealed: str) -> bytes:
    """Opened material, kept in memory only (the sealed text is the cache key, so a
    re-sealed or rotated key never hits a stale entry)."""
    aad = f"kms-key-material/{key_id}/{version}".encode()
    return root.unseal(data_dir, base64.b64decode(sealed), aad)


def save(call: Call, key: dict[str, Any], version: int) -> int:
    new_version = call.store.put(KEY, key["KeyId"], key, expect_version=version).version
    _forget(call)
    return new_version


def _forget(call: Call) -> None:
    """Drop this call's cached key lookups (the record just changed)."""
    extras = getattr(call, "extras", None)
    if extras is not None:
        extras.pop(_CACHE, None)


_CACHE = "kms.keys"


def find(call: Call, key_ref: str, *, any_account: bool = False) -> tuple[dict[str, Any], int]:
    """(key, store version) for a key id, key ARN, alias name or alias ARN. A bare id
    names a key of the caller's account, unless it comes from a ciphertext header
    (any_account): a ciphertext names its key wherever it lives.

    Authorization and the handler both look the key up: the second lookup of a call
    is served from the call's own cache."""
    extras = getattr(call, "extras", None)
    cache = extras.setdefault(_CACHE, {}) if extras is not None else {}
    found = cache.get((key_ref, any_account))
    if found is None:
        found = cache[(key_ref, any_account)] = _find(call, key_ref, any_account)
    return found


def _find(call: Call, key_ref: str, any_account: bool) -> tuple[dict[str, Any], int]:
    account, region = call.principal.account, call.region
    key_id = key_ref
    if key_ref.startswith("arn:"):
        parts = key_ref.split(":", 5)
        if len(parts) != 6:
            raise AwsError("NotFoundException", f"Invalid arn {key_ref}", 400)
        region, account, resource = parts[3], parts[4], parts[5]
        if region != call.region:  # a key is used only in its own Region
            raise AwsError("NotFoundException", f"Invalid arn {region}", 400)
        if resource.startswith("alias/"):
            key_id = _alias_target(call, account, region, resource)
        else:
            key_id = resource.removeprefix("key/")
    elif key_ref.startswith("alias/"):
        key_id = _alias_target(call, account, region, key_ref)
    if not _KEY_ID.fullmatch(key_id):
        raise AwsError("NotFoundException", f"Invalid keyId '{key_ref}'", 400)
    rec = call.store.get(KEY, key_id)
    if rec is not None and any_account:
        account, region = rec.value["AWSAccountId"], rec.value["Region"]
    if rec is None or rec.value["AWSAccountId"] != account or rec.value["Region"] != region:
        raise AwsError("NotFoundException", f"Key '{key_arn(region, account, key_id)}' does not exist", 400)
    key = _expire_deletion(call, rec.value, rec.version)
    if key is None:
        raise AwsError("NotFoundException", f"Key '{key_arn(region, account, key_id)}' does not exist", 400)
    if POLICY_BINDING not in key:  # stored before bindings: bound to today's principals
        key[POLICY_BINDING] = principals.bind(call.store, key["Policy"])
    version = _rotate_if_due(call, key, rec.version)
    if key.get("Origin") == "EXTERNAL":
        from skyhold.services.kms import imports  # imported material is built on these records

        version = imports.expire(call, key, version)
    return key, version


def rotate(call: Call, key: dict[str, Any], kind: str) -> None:
    """A new version of the key material; older versions stay to decrypt old data."""
    material = keyspecs.new_material(keyspecs.SPECS[key["KeySpec"]])
    key["Material"].append(seal(call, key["KeyId"], len(key["Material"]), material))
    key.setdefault("Rotations", []).append({"RotationDate": clock.now_iso8601(), "RotationType": kind})


def _rotate_if_due(call: Call, key: dict[str, Any], version: int) -> int:
    """Automatic rotation happens when Skyhold's clock passes the next rotation date
    (so `skyhold clock advance 365d` rotates a key, as a year would)."""
    due = key.get("NextRotationDate")
    if not due or key["KeyState"] != "Enabled" or clock.now() < parse_time(due):
        return version
    while clock.now() >= parse_time(key["NextRotationDate"]):
        rotate(call, key, "AUTOMATIC")
        key["NextRotationDate"] = clock.iso8601(parse_time(key["NextRotationDate"])
                                                + timedelta(days=key["RotationPeriodInDays"]))
    return save(call, key, version)


def _alias_target(call: Call, account: str, region: str, name: str) -> str:
    rec = call.store.get(ALIAS, f"{account}/{region}/{name}")
    if rec is not None:
        return rec.value["TargetKeyId"]
    if account == call.principal.account and region == call.region:
        from skyhold.services.kms import managed  # managed keys are built on these records

        if (service := managed.service_of(name)) is not None:
            return managed.managed_key(call, service)  # AWS creates it on first reference
    raise AwsError("NotFoundException", f"Alias {alias_arn(region, account, name)} is not found.", 400)


def alias_key(account: str, region: str, name: str) -> str:
    return f"{account}/{region}/{name}"


def put_alias(call: Call, name: str, key: dict[str, Any], key_version: int, *, alias_version: int = 0) -> None:
    """Point an alias at a key; the key record lists its aliases (kms:ResourceAliases)."""
    account, region = key["AWSAccountId"], key["Region"]
    with call.store.transaction():
        call.store.put(ALIAS, alias_key(account, region, name), {
            "AliasName": name, "TargetKeyId": key["KeyId"], "AliasArn": alias_arn(region, account, name),
            "CreationDate": clock.now_iso8601(), "LastUpdatedDate": clock.now_iso8601(),
        }, expect_version=alias_version)
        key["Aliases"] = sorted({*key.get("Aliases", []), name})
        save(call, key, key_version)


def drop_alias_from_key(call: Call, key_id: str, name: str) -> None:
    rec = call.store.get(KEY, key_id)
    if rec is not None and name in rec.value.get("Aliases", []):
        rec.value["Aliases"].remove(name)
        save(call, rec.value, rec.version)


def _expire_deletion(call: Call, key: dict[str, Any], version: int) -> dict[str, Any] | None:
    """A key whose deletion date has passed on Skyhold's clock is gone."""
    if key["KeyState"] == "PendingDeletion" and clock.now() >= parse_time(key["DeletionDate"]):
        from skyhold.services.kms import grants  # grants are built on these records

        call.store.delete(KEY, key["KeyId"])
        grants.delete_all(call.store, key["KeyId"])
        for alias in call.store.scan(ALIAS, f"{key['AWSAccountId']}/{key['Region']}/"):
            if alias.value["TargetKeyId"] == key["KeyId"]:
                call.store.delete(ALIAS, alias.key)
        return None
    return key


def parse_time(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def deletion_date(days: int) -> str:
    return clock.iso8601(clock.now() + timedelta(days=days))
