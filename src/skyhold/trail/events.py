"""CloudTrail records (eventVersion 1.11) of Skyhold's calls, built in two halves.

The server, on every call, writes down what happened as one compact line (`call_line`):
the caller's userIdentity, the redacted request parameters and response elements,
the error, the trail keys. The trail's writer process turns that line into the
CloudTrail events themselves and their index rows (`journal_lines`), off the event
loop and on another core.

Layout of the trail database (store.open_trail_store): kind `cloudtrail.event`, key
"<account>/<time-ordered id>" (newest last; LookupEvents scans an account's prefix
backwards), value {"event": record, "explain": decision trace or None}. Kind
`cloudtrail.request`, key request id → the event keys, for `skyhold explain`.
"""

from __future__ import annotations

import base64
from datetime import datetime
from functools import lru_cache
from typing import TYPE_CHECKING, Any

from skyhold import arn as arns
from skyhold import clock, ids
from skyhold import principal as p
from skyhold.store import jsontext
from skyhold.trail import journal, redact

if TYPE_CHECKING:
    from skyhold.errors import AwsError

EVENT = "cloudtrail.event"
REQUEST = "cloudtrail.request"
CALL = b"\x02"  # starts a call line on the writer's pipe; JSON escapes every control character

EVENT_VERSION = "1.11"

_SOURCE = {"s3control": "s3"}

# S3 object-level operations are data events; everything else is a management event.
_S3_DATA = frozenset(
    {
        "GetObject", "PutObject", "HeadObject", "DeleteObject", "DeleteObjects", "CopyObject", "GetObjectAcl",
        "PutObjectAcl", "GetObjectTagging", "PutObjectTagging", "DeleteObjectTagging", "CreateMultipartUpload",
        "UploadPart", "UploadPartCopy", "CompleteMultipartUpload", "AbortMultipartUpload", "ListParts",
        "GetObjectAttributes", "RestoreObject", "SelectObjectContent", "GetObjectRetention", "PutObjectRetention",
        "GetObjectLegalHold", "PutObjectLegalHold", "ListObjects", "ListObjectsV2", "ListObjectVersions",
        "ListMultipartUploads", "PostObject",
    }
)
_READ_PREFIXES = ("Get", "List", "Describe", "Lookup", "Head", "Search", "BatchGet", "Simulate", "Decrypt",
                  "Verify", "Validate", "Generate")
_WRITE_EXCEPTIONS = frozenset({"GenerateCredentialReport", "GenerateDataKeyPair", "GenerateDataKeyPairWithoutPlaintext",
                               "GenerateMac", "GenerateRandom"})
# STS changes nothing: AWS records its credential calls as reads ("readOnly": true in
# the AssumeRole* events of the IAM User Guide's "Example AWS STS API events in
# CloudTrail log"), with their answers written down all the same.
_STS_READS = frozenset({"AssumeRole", "AssumeRoleWithSAML", "AssumeRoleWithWebIdentity", "AssumeRoot",
                        "GetSessionToken", "GetFederationToken"})
# KMS records these as reads, their answers left out (AWS's KMS CloudTrail examples).
_READ_EXCEPTIONS = frozenset({"Encrypt"}) | _STS_READS
# KMS writes the algorithm of these even when the request left it to its default.
_KMS_ALGORITHM = frozenset({"Encrypt", "Decrypt"})


def event_source(service: str) -> str:
    return f"{_SOURCE.get(service, service)}.amazonaws.com"


def is_read_only(operation: str) -> bool:
    if operation in _WRITE_EXCEPTIONS:
        return False
    return operation in _READ_EXCEPTIONS or operation.startswith(_READ_PREFIXES)


def category(service: str, operation: str) -> str:
    return "Data" if service == "s3" and operation in _S3_DATA else "Management"


# Principal object → its userIdentity: credentials are cached on the request path, so
# one caller's calls share one Principal and its record is built once. Keyed by id()
# (a Principal holds a dict, so it is unhashable) with the object kept alive beside it.
_IDENTITIES: dict[int, tuple[p.Principal, dict[str, Any]]] = {}
_IDENTITIES_MAX = 4096


def user_identity(who: p.Principal) -> dict[str, Any]:
    """The event's userIdentity (shared between events: never mutate it)."""
    hit = _IDENTITIES.get(id(who))
    if hit is not None and hit[0] is who:
        return hit[1]
    ident = _user_identity(who)
    if len(_IDENTITIES) >= _IDENTITIES_MAX:
        _IDENTITIES.clear()
    _IDENTITIES[id(who)] = (who, ident)
    return ident


def _user_identity(who: p.Principal) -> dict[str, Any]:
    if who.is_anonymous:
        return {"type": "AWSAccount", "principalId": "", "accountId": "anonymous"}
    if who.type == p.WEB_IDENTITY_USER:
        claims = who.session.get("claims", {})
        host = who.session.get("issuer_host", "")
        return {"type": "WebIdentityUser", "principalId": f"{host}:{claims.get('aud', '')}:{claims.get('sub', '')}",
                "userName": claims.get("sub", ""), "identityProvider": host}
    ident: dict[str, Any] = {"type": who.type, "principalId": who.user_id, "arn": who.arn, "accountId": who.account}
    if who.access_key_id:
        ident["accessKeyId"] = who.access_key_id
    if who.type == p.IAM_USER:
        ident["userName"] = who.name
    session = who.session
    if session.get("temporary"):
        # AWS's order: sessionIssuer, webIdFederationData, attributes, sourceIdentity; the
        # source identity is written in the session context only.
        context: dict[str, Any] = {}
        if who.type == p.ASSUMED_ROLE:
            role_id = who.user_id.split(":", 1)[0]
            context["sessionIssuer"] = {"type": "Role", "principalId": role_id, "arn": session.get("role_arn", ""),
                                        "accountId": who.account, "userName": session.get("role_name", "")}
            context["webIdFederationData"] = {}
        elif who.type == p.IAM_USER:
            # GetSessionToken's session of a user: AWS writes both, empty (the IAMUser
            # example of the CloudTrail userIdentity element).
            context.update(sessionIssuer={}, webIdFederationData={})
        elif who.type == p.FEDERATED_USER and session.get("source_user"):
            issuer = arns.user(who.account, session["source_user"])
            context["sessionIssuer"] = {"type": "IAMUser", "arn": issuer, "accountId": who.account,
                                        "userName": session["source_user"]}
        context["attributes"] = {"creationDate": session.get("issued_at", ""),
                                 "mfaAuthenticated": "true" if session.get("mfa") else "false"}
        if session.get("source_identity"):
            context["sourceIdentity"] = session["source_identity"]
        ident["sessionContext"] = context
    return ident


def wire_json(data: Any, rules: dict[str, object] | None = None) -> Any:
    """Handler params/results → CloudTrail's JSON: lower-camel member names, ISO
    timestamps, streams dropped, and what CloudTrail never writes down hidden or left
    out (redact.py) — in one pass, as every call's event needs it. `rules`: those of
    the top level (redact.request_rules of the operation); deeper levels use the
    rules of every member name."""
    if isinstance(data, dict):
        out: dict[str, Any] = {}
        rules = _RULES if rules is None else rules
        for k, v in data.items():
            if v is not None and not isinstance(v, _KEPT):
                continue  # bodies and other streams
            name = _CAMEL.get(k) or _camel(k)
            hidden = rules.get(name)
            if hidden is None:
                if type(v) in _PLAIN:
                    out[name] = v
                elif k in _MAPS and isinstance(v, dict):  # the keys are the caller's: written as given
                    out[name] = {mk: mv if type(mv) in _PLAIN else wire_json(mv) for mk, mv in v.items()}
                else:
                    out[name] = wire_json(v)
            elif hidden is not redact.DROPPED:
                out[name] = hidden
        return out
    if isinstance(data, list):
        return [wire_json(v) for v in data]
    if isinstance(data, datetime):
        # CloudTrail writes member timestamps in Java's medium format: "Jan 13, 2023, 6:20:12 PM".
        return data.strftime("%b %-d, %Y, %-I:%M:%S %p")
    if isinstance(data, bytes):
        return base64.b64encode(data).decode() if len(data) <= 1024 else None
    return data


_RULES = redact.RULES
_KEPT = (str, int, float, bool, dict, list, datetime, bytes)
_PLAIN = frozenset({str, int, float, bool, type(None)})  # written as they are
# Member names AWS writes otherwise than by lowering the first letter: KMS keeps
# "AWSAccountId"; Secrets Manager writes "arn" (since February 2024, AWS's note).
_CAMEL: dict[str, str] = {"AWSAccountId": "AWSAccountId", "ARN": "arn"}
# Map members (in the models of the services Skyhold serves) whose keys are the
# caller's data, e.g. KMS's encryption context {"Department": "Finance"}.
_MAPS = frozenset({"EncryptionContext", "EncryptionContextEquals", "EncryptionContextSubset",
                   "SourceEncryptionContext", "DestinationEncryptionContext", "VersionIdsToStages",
                   "SecretVersionsToStages", "Metadata", "UserMetadata"})


def _camel(name: str) -> str:
    camel = name[:1].lower() + name[1:]
    if len(_CAMEL) < 4096:  # names come from the models, but bounded all the same
        _CAMEL[name] = camel
    return camel


@lru_cache(maxsize=4096)
def _facts(service: str, operation: str) -> tuple[bool, str, str]:
    """(readOnly, eventCategory, eventSource) of an operation."""
    return is_read_only(operation), category(service, operation), event_source(service)


def call_line(
    *,
    who: p.Principal,
    service: str,
    operation: str,
    region: str,
    source_ip: str,
    user_agent: str,
    request_id: str,
    params: dict[str, Any] | None,
    result: dict[str, Any] | None,
    failure: AwsError | None,
    keys: list[str],
    resources: list[dict[str, str]],
    host: str = "",
    additional: dict[str, Any] | None = None,
    tls: dict[str, str] | None = None,
) -> bytes:
    """One call, as the server hands it to the writer: one event per key (an account
    that receives it, "<account>/<id>"). Redacted here: secrets never leave the server.
    `host`: the request's Host (S3 records it); `additional`: additionalEventData;
    `tls`: tlsDetails (calls over HTTPS)."""
    read_only = _facts(service, operation)[0]
    parameters = wire_json(params, redact.request_rules(service, operation)) if params else None
    if service == "s3":
        parameters = _s3_parameters(parameters or {}, host)
    elif service == "kms":
        if operation in _KMS_ALGORITHM and parameters is not None:
            parameters.setdefault("encryptionAlgorithm", "SYMMETRIC_DEFAULT")
        if result and (material := result.get("KeyMaterialId")):
            additional = {"keyMaterialId": material}  # the key material the call used
    record = (
        clock.now_iso8601(),
        user_identity(who),
        service,
        operation,
        region,
        source_ip,
        user_agent,
        request_id,
        parameters,
        wire_json(result) if result and (not read_only or operation in _STS_READS) and failure is None else None,
        _error_code(service, failure) if failure is not None else None,
        (failure.message or "") if failure is not None else None,
        keys,
        resources,
        failure.explanation if failure is not None else None,
        additional,
        tls,
    )
    return CALL + jsontext.dumps(record) + b"\n"


def tls_details(tls: dict[str, str], host: str) -> dict[str, str]:
    """CloudTrail's tlsDetails of a call over HTTPS: the connection's TLS version and
    cipher suite, and the Host header the client sent."""
    return {**tls, "clientProvidedHostHeader": host}


def _error_code(service: str, failure: AwsError) -> str:
    """EC2's errorCode carries the fault's side, as its events show
    ("Client.UnauthorizedOperation", "Server.InternalError")."""
    if service != "ec2" or failure.code.startswith(("Client.", "Server.")):
        return failure.code
    return f"{'Server' if failure.status >= 500 else 'Client'}.{failure.code}"


def _s3_parameters(parameters: dict[str, Any], host: str) -> dict[str, Any]:
    """S3 names the bucket `bucketName` and writes the Host the request was sent to."""
    out: dict[str, Any] = {}
    if "bucket" in parameters:
        out["bucketName"] = parameters.pop("bucket")
    out["Host"] = host
    out.update(parameters)
    return out


def s3_additional(operation: str, headers: dict[str, str], query: str,
                  result: dict[str, Any] | None) -> dict[str, Any] | None:
    """S3's additionalEventData: how the request was signed and, for object reads
    and writes, the bytes it moved. None for an anonymous request."""
    if "authorization" in headers:
        method = "AuthHeader"
    elif "X-Amz-Signature=" in query:
        method = "QueryString"
    else:
        return None
    data: dict[str, Any] = {"SignatureVersion": "SigV4", "AuthenticationMethod": method}
    if operation == "GetObject":
        data["bytesTransferredIn"] = 0
        data["bytesTransferredOut"] = (result or {}).get("ContentLength") or 0
    elif operation in ("PutObject", "UploadPart"):
        sent = headers.get("x-amz-decoded-content-length") or headers.get("content-length") or "0"
        data["bytesTransferredIn"] = int(sent) if sent.isdigit() else 0
        data["bytesTransferredOut"] = 0
    return data


def journal_lines(line: bytes) -> bytes:
    """A call line (without its CALL mark) → its events and its request row, as journal
    lines (in the writer)."""
    fields = jsontext.loads(line)
    fields += [None] * (17 - len(fields))  # lines from before additionalEventData (15) and tlsDetails (16)
    (time, identity, service, operation, region, source_ip, user_agent, request_id, parameters, elements,
     error_code, error_message, keys, resources, explain, additional, tls) = fields
    read_only, kind, source = _facts(service, operation)
    if service == "s3":
        user_agent = f"[{user_agent}]"  # S3's records bracket the user agent
    # A call recorded in several accounts: the events share an id, and an account other
    # than the caller's sees the caller only as an account (AWS's cross-account example).
    shared = ids.request_id() if len(keys) > 1 else None
    caller = identity.get("accountId")
    out = []
    for key in keys:
        recipient = key.partition("/")[0]
        event: dict[str, Any] = {
            "eventVersion": EVENT_VERSION,
            "userIdentity": identity if recipient == caller or caller is None else _as_account(identity),
            "eventTime": time,
            "eventSource": source,
            "eventName": operation,
            "awsRegion": region,
            "sourceIPAddress": source_ip,
            "userAgent": user_agent,
        }
        if error_code:
            event["errorCode"] = error_code
            event["errorMessage"] = error_message
        event["requestParameters"] = parameters
        event["responseElements"] = elements
        if additional:
            event["additionalEventData"] = additional
        event["requestID"] = request_id
        event["eventID"] = ids.request_id()
        event["readOnly"] = read_only
        if resources:
            event["resources"] = resources
        event["eventType"] = "AwsApiCall"
        event["managementEvent"] = kind == "Management"
        event["recipientAccountId"] = recipient
        if shared:
            event["sharedEventID"] = shared
        event["eventCategory"] = kind
        if tls:
            event["tlsDetails"] = tls
        out.append(journal.encode(EVENT, key, {"event": event, "explain": explain}))
    out.append(journal.encode(REQUEST, request_id, {"events": keys}))
    return b"".join(out)


def _as_account(identity: dict[str, Any]) -> dict[str, Any]:
    return {"type": "AWSAccount", "principalId": identity.get("principalId", ""), "accountId": identity["accountId"]}


_RESOURCE_TYPES = {
    ("iam", "user"): "AWS::IAM::User", ("iam", "role"): "AWS::IAM::Role", ("iam", "group"): "AWS::IAM::Group",
    ("iam", "policy"): "AWS::IAM::Policy", ("iam", "instance-profile"): "AWS::IAM::InstanceProfile",
    ("iam", "mfa"): "AWS::IAM::MFADevice", ("iam", "oidc-provider"): "AWS::IAM::OIDCProvider",
    ("kms", "key"): "AWS::KMS::Key", ("kms", "alias"): "AWS::KMS::Alias",
    ("secretsmanager", "secret"): "AWS::SecretsManager::Secret", ("ssm", "parameter"): "AWS::SSM::Parameter",
    ("ec2", "instance"): "AWS::EC2::Instance", ("sts", "assumed-role"): "AWS::STS::AssumedRole",
}


@lru_cache(maxsize=4096)
def resource_of(resource_arn: str, account: str) -> dict[str, str] | None:
    """CloudTrail's `resources` entry for an ARN the call touched (shared between
    events: never mutate it)."""
    if resource_arn in ("*", ""):
        return None
    try:
        parsed = arns.parse(resource_arn)
    except ValueError:
        return None
    if parsed.service == "s3":
        kind = "AWS::S3::Object" if "/" in parsed.resource else "AWS::S3::Bucket"
        return {"accountId": account, "type": kind, "ARN": resource_arn}
    head = parsed.resource.split("/", 1)[0].split(":", 1)[0]
    known = _RESOURCE_TYPES.get((parsed.service, head))
    if known is None:
        return None
    return {"accountId": parsed.account or account, "type": known, "ARN": resource_arn}
