"""Parameters with versions and labels. A SecureString's value is stored only as a
KMS ciphertext (encryption context {"PARAMETER_ARN": arn}, as SSM uses), and reading
it back decrypted needs kms:Decrypt on its key via SSM.

Kinds: `ssm.parameter` key "<account>/<region>/<name>" (current version and
metadata); `ssm.parameter-version` key "<account>/<region>/<name>#<version>".
"""

from __future__ import annotations

import base64
import re
from typing import TYPE_CHECKING, Any

from skyhold import clock, constraints, paging
from skyhold.authz import Access
from skyhold.errors import AwsError
from skyhold.policy import tagging
from skyhold.services.kms import on_behalf
from skyhold.services.kms.records import parse_time
from skyhold.services.ssm import allowed_pattern, secret_reference

if TYPE_CHECKING:
    from skyhold.pipeline import Call

PARAM = "ssm.parameter"
VERSION = "ssm.parameter-version"
_LIMITS = {"Standard": 4096, "Advanced": 8192, "Intelligent-Tiering": 8192}
_TYPES = ("SecureString", "StringList", "String")  # in the order SSM's validation message lists them
# Unseen in a recorded message: listed in reverse model order, as SSM's message lists _TYPES.
_TIERS = ("Intelligent-Tiering", "Advanced", "Standard")
_DATA_TYPES = ("text", "aws:ec2:image", "aws:ssm:integration")  # no model enum: SSM checks these itself
MAX_VERSIONS = 100
MAX_LEVELS = 15  # a hierarchy's depth (HierarchyLevelLimitExceededException's doc)
MAX_NAME = 1011  # a name's length with the ARN before it (PutParameter's Name doc)
MAX_LABELS = 10  # on one version (ParameterVersionLabelLimitExceeded's doc)
_LABEL = re.compile(r"[a-zA-Z0-9_.\-]+")
DEFAULT_KEY = "alias/aws/ssm"
_SEGMENT = re.compile(r"[a-zA-Z0-9_.\-]+")  # a name, or each level of a hierarchical one
_RESERVED = ("aws", "ssm")  # prefixes of AWS's own parameters, in any case
# What SSM answers for a name outside its rules (not only for the "ssm" prefix it names).
_NAME_RULES = ("Parameter name: can't be prefixed with \"ssm\" (case-insensitive). If formed as a path, it can "
               "consist of sub-paths divided by slash symbol; each sub-path can be formed as a mix of letters, "
               "numbers and the following 3 symbols .-_")


def _check_name(name: str, arn: str) -> None:
    """A new parameter's name, refused with SSM's own errors: a hierarchy starts with
    "/", "/aws/..." is AWS's, no name starts with "aws" or "ssm", at most 15 levels, and
    at most 1011 characters counted with its ARN's prefix."""
    if "/" in name and not name.startswith("/"):
        raise AwsError("ValidationException", "Parameter name must be a fully qualified name.", 400)
    hierarchical = name.count("/") > 1
    if name.lower().lstrip("/").startswith(_RESERVED):
        if hierarchical and name.lower().startswith("/aws"):
            raise AwsError("AccessDeniedException", f"No access to reserved parameter name: {name}.", 400)
        if not hierarchical:
            raise AwsError("ValidationException",
                           "Parameter name: can't be prefixed with \"aws\" or \"ssm\" (case-insensitive).", 400)
        raise AwsError("ValidationException", _NAME_RULES, 400)
    levels = name.removeprefix("/").split("/")
    if not all(_SEGMENT.fullmatch(level) for level in levels):
        raise AwsError("ValidationException", _NAME_RULES, 400)
    if len(levels) > MAX_LEVELS:
        raise AwsError("HierarchyLevelLimitExceededException",
                       f"A hierarchy can have a maximum of {MAX_LEVELS} levels.")
    if len(arn) > MAX_NAME:  # unseen in a recorded answer: worded as the Name doc states the rule
        raise AwsError("ValidationException", f"Parameter name must be {MAX_NAME} characters or fewer, including "
                       "the ARN prefix that precedes it.", 400)


def _key(call: Call, name: str) -> str:
    return f"{call.principal.account}/{call.region}/{name}"


def arn_of(call: Call, name: str) -> str:
    return f"arn:aws:ssm:{call.region}:{call.principal.account}:parameter/{name.lstrip('/')}"


def _split_selector(ref: str) -> tuple[str, str | None]:
    """(name, selector) of "name", "name:3", "name:label" or the parameter's ARN (with
    an optional ":selector"). An ARN drops the name's leading slash; a hierarchical
    name always has one, and `_record` tries both for a one-level name."""
    if ref.startswith("arn:"):
        resource = ref.split(":", 5)[-1] if ref.count(":") >= 5 else ""
        rest, sep, selector = resource.removeprefix("parameter/").partition(":")
        return ("/" + rest if "/" in rest else rest), (selector if sep else None)
    name, sep, selector = ref.partition(":")
    return name, selector if sep else None


_CACHE = "ssm.parameters"


def _record(call: Call, name: str) -> Any:
    """The parameter's record (or None); authorization and the handler share one read."""
    extras = getattr(call, "extras", None)
    cache = extras.setdefault(_CACHE, {}) if extras is not None else {}
    if name not in cache:
        rec = call.store.get(PARAM, _key(call, name))
        if rec is None and not name.startswith("/"):
            rec = call.store.get(PARAM, _key(call, "/" + name))
        cache[name] = rec
    return cache[name]


def _not_found(name: str) -> AwsError:
    return AwsError("ParameterNotFound", "", 400)


def _load(call: Call, ref: str) -> dict[str, Any]:
    """The version a name, name:version or name:label refers to."""
    name, selector = _split_selector(ref)
    rec = _record(call, name)
    if rec is None:
        raise _not_found(name)
    name = rec.value["Name"]
    if selector is None:
        version = rec.value["Version"]
    elif selector.isdigit():
        version = int(selector)
    else:
        version = next((int(v) for v, labels in rec.value.get("Labels", {}).items() if selector in labels), None)
        if version is None:
            raise AwsError("ParameterVersionNotFound", f"Systems Manager could not find version {selector} of {name}.")
    ver = call.store.get(VERSION, f"{_key(call, name)}#{version:08d}")
    if ver is None:
        raise AwsError("ParameterVersionNotFound", f"Systems Manager could not find version {version} of {name}.")
    return {**ver.value, "Labels": rec.value.get("Labels", {}).get(str(version), []), "Selector": selector}


def _value(call: Call, p: dict[str, Any], decrypt: bool) -> str:
    if p["Type"] != "SecureString":
        return p["Value"]
    if not decrypt:
        return p["Ciphertext"]  # SSM shows SecureStrings as their ciphertext without decryption
    plaintext, _ = on_behalf.decrypt(call, base64.b64decode(p["Ciphertext"]), {"PARAMETER_ARN": p["ARN"]}, "ssm")
    return plaintext.decode()


def _view(call: Call, p: dict[str, Any], decrypt: bool) -> dict[str, Any]:
    out = {
        "Name": p["Name"], "Type": p["Type"], "Value": _value(call, p, decrypt), "Version": p["Version"],
        "LastModifiedDate": parse_time(p["LastModifiedDate"]), "ARN": p["ARN"], "DataType": p["DataType"],
    }
    if p.get("Selector"):
        out["Selector"] = ":" + p["Selector"]
    return out


def _put_name(params: dict[str, Any]) -> str:
    """SSM removes spaces around a new name (PutParameter's Name doc); inner ones stay
    and are refused by the name rules."""
    return str(params["Name"]).strip(" ")


def _tier(asked: str | None, current: str | None, size: int) -> str:
    """The tier a version is stored in: the one asked for; else the parameter's own
    (inferred: an overwrite without Tier keeps it, as the tier doc implies, since SSM
    never downgrades); else Standard. Intelligent-Tiering picks Advanced only when the
    value needs it or the parameter already is. Advanced never goes back to Standard."""
    tier = asked or current or "Standard"
    if tier == "Intelligent-Tiering":
        tier = "Advanced" if size > _LIMITS["Standard"] or current == "Advanced" else "Standard"
    if tier == "Standard" and current == "Advanced":
        # AWS's message, as a CloudFormation status reason quotes it in full (terraform-provider-aws
        # quotes its first three sentences).
        raise AwsError("ValidationException", "This parameter uses the advanced-parameter tier. You can't downgrade a "
                       "parameter from the advanced-parameter tier to the standard-parameter tier. If necessary, you "
                       "can delete the advanced parameter and recreate it as a standard parameter. Be aware that "
                       "standard parameters have a value limit of 4096 characters.", 400)
    if tier == "Standard" and size > _LIMITS["Standard"]:
        raise AwsError("ValidationException", "Standard tier parameters support a maximum parameter value of 4096 "
                       "characters. To create a larger parameter value, upgrade the parameter to use the "
                       "advanced-parameter tier.", 400)
    if size > _LIMITS["Advanced"]:
        # AWS's message, as a failed Terraform apply quoted it (ejc3/fcvm's infrastructure code).
        raise AwsError("ValidationException", "The specified parameter value is too large. Advanced-tier parameters "
                       "support a maximum parameter value of 8192 characters.", 400)
    return tier


def put_parameter(call: Call, params: dict[str, Any]) -> dict[str, Any]:
    name, value = _put_name(params), params["Value"]
    kind, tier, data_type = params.get("Type"), params.get("Tier"), params.get("DataType")
    problems: list[str] = []  # request validation reports every member at fault at once, in model order
    if kind is not None and kind not in _TYPES:
        problems.append(constraints.enum_problem("type", kind, _TYPES))
    if tier is not None and tier not in _TIERS:
        problems.append(constraints.enum_problem("tier", tier, _TIERS))
    if data_type is not None and len(data_type) > 128:
        problems.append(constraints.problem("dataType", data_type, "have length less than or equal to 128"))
    constraints.raise_if(problems)
    _check_name(name, arn_of(call, name))
    if data_type and data_type not in _DATA_TYPES:  # the model allows any string; SSM's own check
        raise AwsError("ValidationException", f"The following data type is not supported: {data_type} "
                       "(Data type names are all lowercase.)", 400)
    key = _key(call, name)
    rec = call.store.get(PARAM, key)
    current = rec.value if rec else {}
    # Only an overwrite meets the parameter's tier; otherwise ParameterAlreadyExists answers below.
    tier = _tier(tier, current.get("Tier") if params.get("Overwrite") else None, len(value.encode()))
    if params.get("AllowedPattern") and not allowed_pattern.fits(allowed_pattern.compile(params["AllowedPattern"]), value):
        raise AwsError("ParameterPatternMismatchException",
                       f"Parameter value, cannot be validated against allowedPattern: {params['AllowedPattern']}")
    if rec is not None and not params.get("Overwrite"):
        raise AwsError("ParameterAlreadyExists", "The parameter already exists. To overwrite this value, set the "
                       "overwrite option in the request to true.")
    if rec is None and kind is None:
        raise AwsError("ValidationException", "A parameter type is required when you create a parameter.", 400)
    if rec is not None and params.get("Tags"):
        raise AwsError("ValidationException", "Invalid request: tags and overwrite can't be used together. To create "
                       "a parameter with tags, please remove overwrite flag. To update tags for an existing "
                       "parameter, please use AddTagsToResource or RemoveTagsFromResource.", 400)
    kind = kind or current["Type"]
    version = current.get("Version", 0) + 1
    labels = current.get("Labels", {})
    oldest = version - MAX_VERSIONS  # the version the new one pushes out, if any
    if oldest > 0 and labels.get(str(oldest)):
        raise AwsError("ParameterMaxVersionLimitExceeded", f"You attempted to create a new version of {name} by "
                       f"calling the PutParameter API with the overwrite flag. Version {oldest}, the oldest version, "
                       "can't be deleted because it has a label associated with it. Move the label to another version "
                       "of the parameter, and try again.")
    arn = arn_of(call, name)
    record: dict[str, Any] = {
        "Name": name, "Type": kind, "Version": version, "ARN": arn, "DataType": data_type or "text",
        "LastModifiedDate": clock.now_iso8601(), "LastModifiedUser": call.principal.arn,
        "Description": params.get("Description", current.get("Description", "")), "Tier": tier,
        "AllowedPattern": params.get("AllowedPattern", current.get("AllowedPattern")),
    }
    if kind == "SecureString":
        key_ref = params.get("KeyId") or current.get("KeyId") or DEFAULT_KEY
        if key_ref == DEFAULT_KEY:
            on_behalf.managed_key(call, "ssm")  # created on first use
        blob, _ = on_behalf.encrypt(call, key_ref, value.encode(), {"PARAMETER_ARN": arn}, "ssm")
        record.update(Ciphertext=base64.b64encode(blob).decode(), KeyId=key_ref)
    else:
        record["Value"] = value
    with call.store.transaction():
        call.store.put(VERSION, f"{key}#{version:08d}", record, expect_version=0)
        if oldest > 0:
            call.store.delete(VERSION, f"{key}#{oldest:08d}")
            labels = {v: held for v, held in labels.items() if v != str(oldest)}
        call.store.put(PARAM, key, {**record, "Labels": labels,
                                    "Tags": params.get("Tags") or current.get("Tags", [])},
                       expect_version=rec.version if rec else 0)
    return {"Version": version, "Tier": tier}


def _max_results(params: dict[str, Any], most: int, default: int) -> int:
    """MaxResults, refused outside the model's range as AWS's request validation does."""
    limit = params.get("MaxResults")
    if limit is None:
        return default
    constraints.raise_if(constraints.check_range("maxResults", limit, 1, most))
    return int(limit)


def get_parameter(call: Call, params: dict[str, Any]) -> dict[str, Any]:
    ref, decrypt = params["Name"], params.get("WithDecryption", False)
    if secret_reference.is_reference(ref):
        return {"Parameter": secret_reference.read(call, *secret_reference.parse(ref, decrypt))}
    return {"Parameter": _view(call, _load(call, ref), decrypt)}


def get_parameters(call: Call, params: dict[str, Any]) -> dict[str, Any]:
    found, invalid = [], []
    decrypt = params.get("WithDecryption", False)
    for ref in params["Names"]:
        try:
            if secret_reference.is_reference(ref):
                try:
                    name, selector = secret_reference.parse(ref, decrypt)
                except AwsError:
                    invalid.append(ref)  # a malformed reference, or one without decryption, fails alone
                    continue
                found.append(secret_reference.read(call, name, selector))
            else:
                found.append(_view(call, _load(call, ref), decrypt))
        except AwsError as err:
            if err.code not in ("ParameterNotFound", "ParameterVersionNotFound"):
                raise
            invalid.append(ref)
    return {"Parameters": found, "InvalidParameters": invalid}


def get_parameters_by_path(call: Call, params: dict[str, Any]) -> dict[str, Any]:
    path = params["Path"]
    if not path.startswith("/"):
        raise AwsError("ValidationException", "The parameter doesn't meet the parameter name requirements. The "
                       "parameter name must begin with a forward slash \"/\".", 400)
    prefix = path if path.endswith("/") else path + "/"
    limit = _max_results(params, 10, 10)
    start_after = _after_token(params.get("NextToken"), _key(call, prefix))
    filters = params.get("ParameterFilters") or []
    for f in filters:
        if f["Key"] not in ("Type", "KeyId", "Label") and not f["Key"].startswith("tag:"):
            raise AwsError("InvalidFilterKey", f"The following filter key is not valid: {f['Key']}. Valid filter "
                           "keys include: [Type, KeyId, Label, tag:*].")
    found, last = [], ""
    for rec in paging.scan_from(call.store, PARAM, _key(call, prefix), start_after, batch=limit + 1):
        rest = rec.value["Name"][len(prefix):]
        if not params.get("Recursive") and "/" in rest:
            continue
        if not all(_matches(rec.value, f) for f in filters):
            continue
        found.append(_view(call, {**rec.value, "Selector": None}, params.get("WithDecryption", False)))
        last = rec.key
        if len(found) == limit:
            break
    out: dict[str, Any] = {"Parameters": found}
    if len(found) == limit and last:
        out["NextToken"] = paging.token(last)
    return out


def get_parameter_history(call: Call, params: dict[str, Any]) -> dict[str, Any]:
    limit = _max_results(params, 50, 50)
    name = params["Name"]
    rec = call.store.get(PARAM, _key(call, name))
    if rec is None:
        raise _not_found(name)
    prefix = f"{rec.key}#"
    start_after = _after_token(params.get("NextToken"), prefix)
    labels = rec.value.get("Labels", {})
    history = []
    # One more than a page: whether there is a next one.
    versions = call.store.scan(VERSION, prefix, start_after=start_after, limit=limit + 1)
    for ver in versions[:limit]:
        p = ver.value
        # As AWS answers: Labels and Policies always (possibly []), Description only if set.
        entry = {**{k: v for k, v in _view(call, p, params.get("WithDecryption", False)).items()
                    if k not in ("ARN", "Selector")},
                 "LastModifiedUser": p["LastModifiedUser"], "Labels": labels.get(str(p["Version"]), []),
                 "Tier": p["Tier"], "Policies": []}
        if p.get("Description"):
            entry["Description"] = p["Description"]
        for member in ("KeyId", "AllowedPattern"):
            if p.get(member):
                entry[member] = p[member]
        history.append(entry)
    out: dict[str, Any] = {"Parameters": history}
    if len(versions) > limit:
        out["NextToken"] = paging.token(versions[limit - 1].key)
    return out


def delete_parameter(call: Call, params: dict[str, Any]) -> dict[str, Any]:
    _delete(call, params["Name"])
    return {}


def _delete(call: Call, name: str) -> None:
    key = _key(call, name)
    with call.store.transaction():
        if not call.store.delete(PARAM, key):
            raise _not_found(name)
        for ver in call.store.scan(VERSION, f"{key}#"):
            call.store.delete(VERSION, ver.key)


def delete_parameters(call: Call, params: dict[str, Any]) -> dict[str, Any]:
    deleted, invalid = [], []
    for name in params["Names"]:
        try:
            _delete(call, name)
            deleted.append(name)
        except AwsError:
            invalid.append(name)
    return {"DeletedParameters": deleted, "InvalidParameters": invalid}


def _check_labels(labels: list[str]) -> None:
    """The model's bounds on Labels (1-10 of them, each 1-100 characters), which AWS's
    request validation checks first, worded as it words a list's members."""
    problems = []
    if not 1 <= len(labels) <= MAX_LABELS:
        bound = "greater than or equal to 1" if not labels else f"less than or equal to {MAX_LABELS}"
        problems.append(constraints.problem("labels", f"[{', '.join(labels)}]", f"have length {bound}"))
    if any(not 1 <= len(label) <= 100 for label in labels):
        problems.append(constraints.problem("labels", f"[{', '.join(labels)}]", "satisfy constraint: [Member must "
                                            "have length less than or equal to 100, Member must have length greater "
                                            "than or equal to 1]"))
    constraints.raise_if(problems)


def _valid_label(label: str) -> bool:
    """LabelParameterVersion's rules: letters, digits, "." "-" "_", and no leading digit,
    "aws" or "ssm" (in any case). A label outside them is answered in InvalidLabels."""
    return bool(_LABEL.fullmatch(label)) and not label[0].isdigit() and not label.lower().startswith(_RESERVED)


def label_parameter_version(call: Call, params: dict[str, Any]) -> dict[str, Any]:
    _check_labels(params["Labels"])
    name = params["Name"]
    rec = call.store.get(PARAM, _key(call, name))
    if rec is None:
        raise _not_found(name)
    version = params.get("ParameterVersion") or rec.value["Version"]
    if call.store.get(VERSION, f"{rec.key}#{version:08d}") is None:  # never made, or pushed out
        raise AwsError("ParameterVersionNotFound", f"Systems Manager could not find version {version} of {name}.")
    labels = rec.value.get("Labels", {})
    invalid = [label for label in params["Labels"] if not _valid_label(label)]
    wanted = [label for label in dict.fromkeys(params["Labels"]) if label not in invalid]
    on_version = labels.get(str(version), [])
    if len(set(on_version) | set(wanted)) > MAX_LABELS:
        raise AwsError("ParameterVersionLabelLimitExceeded", f"A parameter version can have maximum {MAX_LABELS} "
                       "labels.Move one or more labels to another version and try again.")
    for label in wanted:
        for held in labels.values():  # a label names one version at a time
            if label in held:
                held.remove(label)
        labels.setdefault(str(version), []).append(label)
    call.store.put(PARAM, rec.key, {**rec.value, "Labels": labels}, expect_version=rec.version)
    return {"InvalidLabels": invalid, "ParameterVersion": version}


def _matches(p: dict[str, Any], f: dict[str, Any]) -> bool:
    """One ParameterStringFilter (or a DescribeParameters Filters entry)."""
    key, option, values = f["Key"], f.get("Option") or "Equals", f.get("Values") or []
    if key.startswith("tag:"):
        tags = {t["Key"]: t["Value"] for t in p.get("Tags", [])}
        return key[4:] in tags and (not values or tags[key[4:]] in values)
    if key == "Path":
        path = values[0] if values else "/"
        prefix = path if path.endswith("/") else path + "/"
        name = p["Name"] if p["Name"].startswith("/") else "/" + p["Name"]
        if not name.startswith(prefix):
            return False
        return option == "Recursive" or "/" not in name[len(prefix):]
    if key == "Label":
        held = {label for labels in p.get("Labels", {}).values() for label in labels}
        return bool(held & set(values))
    field = {"Name": p["Name"], "Type": p["Type"], "KeyId": p.get("KeyId", ""), "Tier": p.get("Tier", "Standard"),
             "DataType": p.get("DataType", "text")}.get(key)
    if field is None:
        raise AwsError("InvalidFilterKey", f"The following filter key is not valid: {key}.")
    if key == "Name":
        field = field.lstrip("/")
        values = [v.lstrip("/") for v in values]
    if option == "BeginsWith":
        return any(field.startswith(v) for v in values)
    if option == "Contains":
        return any(v in field for v in values)
    return field in values


def describe_parameters(call: Call, params: dict[str, Any]) -> dict[str, Any]:
    filters = [{"Key": f["Key"], "Values": f["Values"]} for f in params.get("Filters") or []]
    filters += params.get("ParameterFilters") or []
    limit = _max_results(params, 50, 10)
    start_after = _after_token(params.get("NextToken"), f"{call.principal.account}/{call.region}/")
    out, last = [], ""
    for rec in paging.scan_from(call.store, PARAM, f"{call.principal.account}/{call.region}/", start_after,
                                batch=limit + 1):
        p = rec.value
        if not all(_matches(p, f) for f in filters):
            continue
        item = {"Name": p["Name"], "Type": p["Type"], "Version": p["Version"], "ARN": p["ARN"],
                "LastModifiedDate": parse_time(p["LastModifiedDate"]), "LastModifiedUser": p["LastModifiedUser"],
                "Tier": p["Tier"], "DataType": p["DataType"], "Policies": []}
        if p.get("KeyId"):
            item["KeyId"] = p["KeyId"]
        if p.get("Description"):
            item["Description"] = p["Description"]
        if p.get("AllowedPattern"):
            item["AllowedPattern"] = p["AllowedPattern"]
        out.append(item)
        last = rec.key
        if len(out) == limit:
            break
    result: dict[str, Any] = {"Parameters": out}
    if len(out) == limit and call.store.scan(PARAM, f"{call.principal.account}/{call.region}/", start_after=last,
                                             limit=1):
        result["NextToken"] = paging.token(last)
    return result


def unlabel_parameter_version(call: Call, params: dict[str, Any]) -> dict[str, Any]:
    name, version = params["Name"], params["ParameterVersion"]
    rec = call.store.get(PARAM, _key(call, name))
    if rec is None:
        raise _not_found(name)
    labels = rec.value.get("Labels", {})
    if version > rec.value["Version"] or call.store.get(VERSION, f"{rec.key}#{version:08d}") is None:
        raise AwsError("ParameterVersionNotFound", f"Systems Manager could not find version {version} of {name}.")
    held = labels.get(str(version), [])
    removed = [label for label in params["Labels"] if label in held]
    invalid = [label for label in params["Labels"] if label not in held]
    labels[str(version)] = [label for label in held if label not in removed]
    call.store.put(PARAM, rec.key, {**rec.value, "Labels": labels}, expect_version=rec.version)
    return {"RemovedLabels": removed, "InvalidLabels": invalid}


def _tagged(call: Call, params: dict[str, Any]) -> tuple[str, Any]:
    if params["ResourceType"] != "Parameter":
        raise AwsError("InvalidResourceType", "The resource type is not valid.")
    rec = call.store.get(PARAM, _key(call, params["ResourceId"]))
    if rec is None:
        raise AwsError("InvalidResourceId", "The resource ID is not valid. Verify the ID and try again.")
    return rec.key, rec


def add_tags_to_resource(call: Call, params: dict[str, Any]) -> dict[str, Any]:
    key, rec = _tagged(call, params)
    tags = {t["Key"]: t["Value"] for t in rec.value.get("Tags", [])}
    tags.update({t["Key"]: t["Value"] for t in params["Tags"]})
    if len(tags) > 50:
        raise AwsError("TooManyTagsError", "The Targets parameter includes too many tags. Remove one or more tags "
                       "and try the command again.")
    call.store.put(PARAM, key, {**rec.value, "Tags": [{"Key": k, "Value": v} for k, v in tags.items()]},
                   expect_version=rec.version)
    return {}


def remove_tags_from_resource(call: Call, params: dict[str, Any]) -> dict[str, Any]:
    key, rec = _tagged(call, params)
    tags = [t for t in rec.value.get("Tags", []) if t["Key"] not in params["TagKeys"]]
    call.store.put(PARAM, key, {**rec.value, "Tags": tags}, expect_version=rec.version)
    return {}


def list_tags_for_resource(call: Call, params: dict[str, Any]) -> dict[str, Any]:
    _, rec = _tagged(call, params)
    return {"TagList": rec.value.get("Tags", [])}


HANDLERS = {
    "AddTagsToResource": add_tags_to_resource,
    "RemoveTagsFromResource": remove_tags_from_resource,
    "ListTagsForResource": list_tags_for_resource,
    "PutParameter": put_parameter,
    "GetParameter": get_parameter,
    "GetParameters": get_parameters,
    "GetParametersByPath": get_parameters_by_path,
    "GetParameterHistory": get_parameter_history,
    "DeleteParameter": delete_parameter,
    "DeleteParameters": delete_parameters,
    "LabelParameterVersion": label_parameter_version,
    "UnlabelParameterVersion": unlabel_parameter_version,
    "DescribeParameters": describe_parameters,
}


def _access(call: Call, action: str, ref: str, request: dict[str, Any] | None = None) -> Access:
    """An Access on the parameter's ARN, with its tags as aws:ResourceTag/… and
    ssm:resourceTag/…, plus the keys `request` supplies (see _request_context)."""
    name, _ = _split_selector(ref)
    rec = _record(call, name)
    ctx: dict[str, Any] = {}
    if rec is not None:
        for t in rec.value.get("Tags", []):
            ctx[f"aws:ResourceTag/{t['Key']}"] = ctx[f"ssm:resourceTag/{t['Key']}"] = t["Value"]
    ctx.update(_request_context(action, request or {}))
    return Access(action, arn_of(call, name), ctx)


def _request_context(action: str, params: dict[str, Any]) -> dict[str, Any]:
    """The request keys the Service Authorization Reference lists for these actions:
    tags being set as aws:RequestTag/… and aws:TagKeys, the keys being removed as
    aws:TagKeys, PutParameter's Overwrite and GetParametersByPath's Recursive."""
    sets = action in ("ssm:PutParameter", "ssm:AddTagsToResource")
    removes = action == "ssm:RemoveTagsFromResource"
    ctx = tagging.request_tags(tagging.pairs(params.get("Tags") if sets else None),
                               params.get("TagKeys") or () if removes else ())
    flag = {"ssm:PutParameter": ("Overwrite", "ssm:Overwrite"),
            "ssm:GetParametersByPath": ("Recursive", "ssm:Recursive")}.get(action)
    if flag and params.get(flag[0]) is not None:
        ctx[flag[1]] = "true" if params[flag[0]] else "false"
    return ctx


def _on_name(action: str, param: str = "Name") -> Any:
    def authz(call: Call, params: dict[str, Any]) -> list[Access]:
        return [_access(call, action, params[param], params)]

    return authz


def _on_names(action: str) -> Any:
    def authz(call: Call, params: dict[str, Any]) -> list[Access]:
        return [_access(call, action, n) for n in params["Names"]]

    return authz


def _on_path(call: Call, params: dict[str, Any]) -> list[Access]:
    return [Access("ssm:GetParametersByPath", arn_of(call, params["Path"]),
                   _request_context("ssm:GetParametersByPath", params))]


def _on_account(call: Call, params: dict[str, Any]) -> list[Access]:
    # SSM checks DescribeParameters on the account's whole ARN space in the region (its
    # denials say "on resource: arn:aws:ssm:us-east-1:111122223333:*"), so Resource "*"
    # or "arn:aws:ssm:REGION:ACCOUNT:*" allows it and ".../parameter/*" does not.
    return [Access("ssm:DescribeParameters", f"arn:aws:ssm:{call.region}:{call.principal.account}:*")]


AUTHZ = {
    "AddTagsToResource": _on_name("ssm:AddTagsToResource", "ResourceId"),
    "RemoveTagsFromResource": _on_name("ssm:RemoveTagsFromResource", "ResourceId"),
    "ListTagsForResource": _on_name("ssm:ListTagsForResource", "ResourceId"),
    "PutParameter": lambda call, params: [_access(call, "ssm:PutParameter", _put_name(params), params)],
    "GetParameter": _on_name("ssm:GetParameter"),
    "GetParameters": _on_names("ssm:GetParameters"),
    "GetParametersByPath": _on_path,
    "DescribeParameters": _on_account,
    "GetParameterHistory": _on_name("ssm:GetParameterHistory"),
    "DeleteParameter": _on_name("ssm:DeleteParameter"),
    "DeleteParameters": _on_names("ssm:DeleteParameters"),
    "LabelParameterVersion": _on_name("ssm:LabelParameterVersion"),
    "UnlabelParameterVersion": _on_name("ssm:UnlabelParameterVersion"),
}


def _after_token(token: str | None, prefix: str) -> str:
    """Where a NextToken resumes a scan of `prefix`. The token is decoded strictly
    (paging.position skips characters that are not base64), and must name a position
    inside the listing it continues: any other is refused as SSM refuses a bad token."""
    if not token:  # an empty NextToken reads as none, as before
        return ""
    try:
        after = base64.b64decode(token.encode("ascii"), altchars=b"-_", validate=True).decode()
    except (ValueError, UnicodeError):  # not base64 (binascii.Error), not ASCII, not UTF-8
        after = ""
    if not after.startswith(prefix) or after == prefix:
        raise AwsError("InvalidNextToken", "The specified token isn't valid.")
    return after
