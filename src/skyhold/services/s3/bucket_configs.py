"""Bucket settings that infrastructure tools read on every refresh (Terraform's
aws_s3_bucket, CDK, Pulumi): website, Transfer Acceleration, Requester Pays, server
access logging, replication and event notifications, and the empty analytics,
inventory, metrics and Intelligent-Tiering listings (no such configuration can be
created in Skyhold, so a metrics configuration asked for by Id never exists).

Each is stored with the bucket and validated as S3 validates it, nothing more:
Skyhold serves no website endpoint, has no accelerated endpoint, replicates nothing,
delivers no access logs and sends no event notifications. Requester Pays is recorded
(GetBucketRequestPayment answers it) but no request is billed.

Notification destinations: S3 checks that an SNS topic, SQS queue or Lambda function
exists and lets S3 publish to it. Skyhold has none of these services, so such a
destination can never be validated: it is refused with S3's "Unable to validate the
following destination configurations", unless the request asks S3 to skip that check
(x-amz-skip-destination-validation), as S3 then stores it unchecked. EventBridge needs
no destination and is always accepted.
"""

from __future__ import annotations

import secrets
from typing import TYPE_CHECKING, Any

from skyhold.errors import AwsError
from skyhold.services.s3 import errors, records

if TYPE_CHECKING:
    from skyhold.pipeline import Call

Config = dict[str, Any]


def _stored(call: Call, params: dict[str, Any]) -> dict[str, Any]:
    # authz.py put the bucket in call.extras; read it again only when it did not.
    bucket: dict[str, Any] | None = call.extras.get("bucket")
    return bucket if bucket is not None else records.get_bucket(call.store, params["Bucket"]).value


def _no_content(call: Call) -> dict[str, Any]:
    call.extras["http_status"] = 204
    return {}


def _generated_id() -> str:
    """The ID S3 gives a replication rule or a notification configuration sent without one."""
    return secrets.token_urlsafe(36)[:48]


# --- website ----------------------------------------------------------------------------

_MAX_ROUTING_RULES = 50  # "You can have up to 50 routing rules" (S3 User Guide)


def _website_error(message: str, name: str, value: str | None) -> AwsError:
    # S3 sends ArgumentValue even when it is empty (an empty Suffix).
    return AwsError("InvalidArgument", message, 400, extra={"ArgumentName": name, "ArgumentValue": value or ""})


def validate_website(config: Config) -> None:
    """S3's checks of a WebsiteConfiguration, in S3's order and words."""
    redirect_all = config.get("RedirectAllRequestsTo")
    if redirect_all is not None:
        if not redirect_all.get("HostName"):
            raise errors.malformed_xml()
        if any(config.get(k) is not None for k in ("IndexDocument", "ErrorDocument", "RoutingRules")):
            raise _website_error("RedirectAllRequestsTo cannot be provided in conjunction with other Routing Rules.",
                                 "RedirectAllRequestsTo", "not null")
        _check_protocol(redirect_all)
        return
    index = config.get("IndexDocument")
    if index is None:
        raise _website_error("A value for IndexDocument Suffix must be provided if RedirectAllRequestsTo is empty",
                             "IndexDocument", "null")
    suffix = index.get("Suffix")
    if not suffix or "/" in suffix:
        raise _website_error("The IndexDocument Suffix is not well formed", "IndexDocument", suffix)
    error_doc = config.get("ErrorDocument")
    if error_doc is not None and not error_doc.get("Key"):
        raise errors.malformed_xml()
    rules = config.get("RoutingRules")
    if rules is None:
        return
    if not rules:
        raise errors.malformed_xml()
    if len(rules) > _MAX_ROUTING_RULES:  # AWS's answer as quoted in ceph's PR #23429
        raise errors.invalid_request(f"{len(rules)} routing rules provided, the number of routing rules in a "
                                     f"website configuration is limited to {_MAX_ROUTING_RULES}.")
    for rule in rules:
        redirect = rule.get("Redirect")
        if redirect is None:
            raise errors.malformed_xml()
        _check_protocol(redirect)
        if redirect.get("ReplaceKeyPrefixWith") is not None and redirect.get("ReplaceKeyWith") is not None:
            raise errors.invalid_request("You can only define ReplaceKeyPrefix or ReplaceKey but not both.")
        condition = rule.get("Condition")
        if condition is not None and not any(v is not None for v in condition.values()):
            raise errors.invalid_request("Condition cannot be empty. To redirect all requests without a condition, "
                                         "the condition element shouldn't be present.")


def _check_protocol(redirect: Config) -> None:
    if redirect.get("Protocol") not in (None, "http", "https"):
        raise errors.invalid_request("Invalid protocol, protocol can be http or https. If not defined the protocol "
                                     "will be selected automatically.")


def put_bucket_website(call: Call, params: dict[str, Any]) -> dict[str, Any]:
    config = params.get("WebsiteConfiguration")
    if config is None:
        raise errors.malformed_xml()
    validate_website(config)
    records.update_bucket(call.store, params["Bucket"], Website=config)
    return {}


def get_bucket_website(call: Call, params: dict[str, Any]) -> dict[str, Any]:
    config = _stored(call, params).get("Website")
    if not config:
        raise AwsError("NoSuchWebsiteConfiguration", "The specified bucket does not have a website configuration",
                       404, extra={"BucketName": params["Bucket"]})
    return dict(config)


def delete_bucket_website(call: Call, params: dict[str, Any]) -> dict[str, Any]:
    records.update_bucket(call.store, params["Bucket"], Website=None)  # 204 with or without one, as on S3
    return _no_content(call)


# --- Transfer Acceleration and Requester Pays ---------------------------------------------

def put_bucket_accelerate_configuration(call: Call, params: dict[str, Any]) -> dict[str, Any]:
    if "." in params["Bucket"]:  # checked before the body: S3 answers it whatever the Status
        raise errors.invalid_request("S3 Transfer Acceleration is not supported for buckets with periods (.) in "
                                     "their names")
    status = (params.get("AccelerateConfiguration") or {}).get("Status")
    if status not in ("Enabled", "Suspended"):
        raise errors.malformed_xml()
    records.update_bucket(call.store, params["Bucket"], Accelerate=status)
    return {}


def get_bucket_accelerate_configuration(call: Call, params: dict[str, Any]) -> dict[str, Any]:
    status = _stored(call, params).get("Accelerate")
    return {"Status": status} if status else {}  # never configured: an empty document


def put_bucket_request_payment(call: Call, params: dict[str, Any]) -> dict[str, Any]:
    payer = (params.get("RequestPaymentConfiguration") or {}).get("Payer")
    if payer not in ("BucketOwner", "Requester"):
        raise errors.malformed_xml()
    records.update_bucket(call.store, params["Bucket"], Payer=payer)
    return {}


def get_bucket_request_payment(call: Call, params: dict[str, Any]) -> dict[str, Any]:
    return {"Payer": _stored(call, params).get("Payer") or "BucketOwner"}


# --- server access logging ------------------------------------------------------------------

def _invalid_target(message: str, target: str) -> AwsError:
    return AwsError("InvalidTargetBucketForLogging", message, 400, extra={"TargetBucket": target})


def _check_logging(call: Call, source: dict[str, Any], enabled: Config) -> None:
    target_name = enabled.get("TargetBucket")
    if not target_name:
        raise errors.malformed_xml()
    found = records.find_bucket(call.store, target_name)
    if found is None:
        raise _invalid_target("The target bucket for logging does not exist", target_name)
    target = found.value
    if target["Owner"] != source["Owner"]:
        raise _invalid_target("The owner for the bucket to be logged and the target bucket must be the same.",
                              target_name)
    if target["Region"] != source["Region"]:
        # From us-east-1 S3 names only the target's location; from elsewhere both.
        extra = {} if source["Region"] == "us-east-1" else {"SourceBucketLocation": source["Region"]}
        extra["TargetBucketLocation"] = target["Region"]
        raise AwsError("CrossLocationLoggingProhibitted", "Cross S3 location logging not allowed. ", 403, extra=extra)
    if enabled.get("TargetGrants") and target.get("Ownership", "BucketOwnerEnforced") == "BucketOwnerEnforced":
        # With ACLs disabled on the target, log readers can only be granted by its policy.
        raise AwsError("AccessControlListNotSupported", "Target grants not allowed for bucket owner enforced buckets",
                       400)
    key_format = enabled.get("TargetObjectKeyFormat")
    if key_format is not None and len(key_format) > 1:  # SimplePrefix or PartitionedPrefix, not both
        raise errors.malformed_xml()
    partitioned = (key_format or {}).get("PartitionedPrefix")
    if partitioned is not None and partitioned.get("PartitionDateSource") not in (None, "EventTime", "DeliveryTime"):
        raise errors.malformed_xml()


def put_bucket_logging(call: Call, params: dict[str, Any]) -> dict[str, Any]:
    status = params.get("BucketLoggingStatus")
    if status is None:
        raise errors.malformed_xml()
    enabled = status.get("LoggingEnabled")
    if enabled is not None:
        _check_logging(call, _stored(call, params), enabled)
        enabled = {"TargetPrefix": "", **enabled}  # logs at the bucket's top when no prefix is given
    records.update_bucket(call.store, params["Bucket"], Logging=enabled)  # an empty status turns logging off
    return {}


def get_bucket_logging(call: Call, params: dict[str, Any]) -> dict[str, Any]:
    enabled = _stored(call, params).get("Logging")
    return {"LoggingEnabled": enabled} if enabled else {}


# --- replication -----------------------------------------------------------------------------

_ARN_PREFIX = "arn:aws:s3:::"


def _check_replication(call: Call, source: dict[str, Any], config: Config) -> None:
    rules = config.get("Rules") or []
    if not config.get("Role") or not rules or len(rules) > 1000:
        raise errors.malformed_xml()
    if source.get("Versioning") != "Enabled":
        raise errors.invalid_request("Versioning must be 'Enabled' on the bucket to apply a replication "
                                     "configuration")
    for rule in rules:
        if rule.get("Status") not in ("Enabled", "Disabled"):
            raise errors.malformed_xml()
        bucket_arn = (rule.get("Destination") or {}).get("Bucket") or ""
        name = bucket_arn[len(_ARN_PREFIX):] if bucket_arn.startswith(_ARN_PREFIX) else None
        found = records.find_bucket(call.store, name) if name else None
        if found is None or found.value.get("Versioning") != "Enabled":
            # S3 says the same of a destination that does not exist.
            raise errors.invalid_request("Destination bucket must have versioning enabled.")


def put_bucket_replication(call: Call, params: dict[str, Any]) -> dict[str, Any]:
    config = params.get("ReplicationConfiguration")
    if config is None:
        raise errors.malformed_xml()
    _check_replication(call, _stored(call, params), config)
    # S3 names a rule given no ID itself (its AWS-validated GetBucketReplication answers show one).
    rules = [{**rule, "ID": rule.get("ID") or _generated_id()} for rule in config["Rules"]]
    records.update_bucket(call.store, params["Bucket"], Replication={**config, "Rules": rules})
    return {}


def get_bucket_replication(call: Call, params: dict[str, Any]) -> dict[str, Any]:
    config = _stored(call, params).get("Replication")
    if not config:
        raise AwsError("ReplicationConfigurationNotFoundError", "The replication configuration was not found", 404,
                       extra={"BucketName": params["Bucket"]})
    return {"ReplicationConfiguration": config}


def delete_bucket_replication(call: Call, params: dict[str, Any]) -> dict[str, Any]:
    records.update_bucket(call.store, params["Bucket"], Replication=None)
    return _no_content(call)


# --- event notifications -----------------------------------------------------------------------

# (configuration list, its ARN member, the name S3 gives it in errors, the destination's
# service, and what S3 says when it cannot validate one).
_DESTINATIONS = (
    ("TopicConfigurations", "TopicArn", "Topic", "sns", "The destination topic does not exist"),
    ("QueueConfigurations", "QueueArn", "Queue", "sqs", "The destination queue does not exist"),
    ("LambdaFunctionConfigurations", "LambdaFunctionArn", "CloudFunction", "lambda", None),
)


def _unvalidated(arn: str, reason: str | None) -> tuple[str, str]:
    """The (ArgumentNameN, ArgumentValueN) S3 reports for a destination it cannot validate;
    for a Lambda function it words it as a permission to invoke."""
    if reason is None:
        return f"{arn}, null", f"Not authorized to invoke function [{arn}]"
    return arn, reason


def _check_notifications(config: Config, skip_validation: bool) -> Config:
    """The configuration as S3 stores it (each destination given an Id), or S3's error."""
    stored: Config = {}
    failures: list[tuple[str, str]] = []
    for member, arn_member, name, service, reason in _DESTINATIONS:
        entries = config.get(member) or []
        for entry in entries:
            arn = entry.get(arn_member) or ""
            if not arn.startswith(f"arn:aws:{service}:"):
                raise errors.invalid_argument("The ARN could not be parsed", name, arn)
            if not entry.get("Events"):
                raise errors.malformed_xml()
            for rule in ((entry.get("Filter") or {}).get("Key") or {}).get("FilterRules") or []:
                if rule.get("Name") is None or rule.get("Value") is None:
                    raise errors.malformed_xml()
                if rule["Name"].lower() not in ("prefix", "suffix"):
                    raise errors.invalid_argument("filter rule name must be either prefix or suffix",
                                                  "FilterRule.Name", rule["Name"])
            if not skip_validation:
                failures.append(_unvalidated(arn, reason))  # Skyhold has no such destination
        if entries:
            stored[member] = [_as_stored(e) for e in entries]
    if failures:
        extra: dict[str, str] = {}
        for n, (arg, why) in enumerate(failures, 1):
            extra[f"ArgumentName{n}"] = arg
            extra[f"ArgumentValue{n}"] = why
        raise AwsError("InvalidArgument", "Unable to validate the following destination configurations", 400,
                       extra=extra)
    if config.get("EventBridgeConfiguration") is not None:
        stored["EventBridgeConfiguration"] = {}
    return stored




def _as_stored(entry: Config) -> Config:
    """A destination as S3 keeps it: with an Id, its filter rules named Prefix or Suffix."""
    out = {**entry, "Id": entry.get("Id") or _generated_id()}
    rules = ((entry.get("Filter") or {}).get("Key") or {}).get("FilterRules")
    if rules:
        named = [{**r, "Name": r["Name"].capitalize()} for r in rules]
        out["Filter"] = {**entry["Filter"], "Key": {**entry["Filter"]["Key"], "FilterRules": named}}
    return out


def put_bucket_notification_configuration(call: Call, params: dict[str, Any]) -> dict[str, Any]:
    config = params.get("NotificationConfiguration")
    if config is None:
        raise errors.malformed_xml()
    stored = _check_notifications(config, bool(params.get("SkipDestinationValidation")))
    records.update_bucket(call.store, params["Bucket"], Notifications=stored or None)
    return {}


def get_bucket_notification_configuration(call: Call, params: dict[str, Any]) -> dict[str, Any]:
    return dict(_stored(call, params).get("Notifications") or {})


# --- listings of features Skyhold does not configure ---------------------------------------------

def _empty_listing(member: str) -> Any:
    """Analytics, inventory, metrics and Intelligent-Tiering configurations cannot be
    created in Skyhold: a bucket's list of them is always empty."""
    def handler(call: Call, params: dict[str, Any]) -> dict[str, Any]:
        _stored(call, params)
        return {"IsTruncated": False, member: []}
    return handler


def _no_such_metrics_configuration(call: Call, params: dict[str, Any]) -> dict[str, Any]:
    """Get/DeleteBucketMetricsConfiguration: none can exist (S3's AWS-recorded answer for an Id it lacks)."""
    _stored(call, params)
    raise AwsError("NoSuchConfiguration", "The specified configuration does not exist.", 404)


HANDLERS = {
    "PutBucketWebsite": put_bucket_website,
    "GetBucketWebsite": get_bucket_website,
    "DeleteBucketWebsite": delete_bucket_website,
    "PutBucketAccelerateConfiguration": put_bucket_accelerate_configuration,
    "GetBucketAccelerateConfiguration": get_bucket_accelerate_configuration,
    "PutBucketRequestPayment": put_bucket_request_payment,
    "GetBucketRequestPayment": get_bucket_request_payment,
    "PutBucketLogging": put_bucket_logging,
    "GetBucketLogging": get_bucket_logging,
    "PutBucketReplication": put_bucket_replication,
    "GetBucketReplication": get_bucket_replication,
    "DeleteBucketReplication": delete_bucket_replication,
    "PutBucketNotificationConfiguration": put_bucket_notification_configuration,
    "GetBucketNotificationConfiguration": get_bucket_notification_configuration,
    "ListBucketAnalyticsConfigurations": _empty_listing("AnalyticsConfigurationList"),
    "ListBucketInventoryConfigurations": _empty_listing("InventoryConfigurationList"),
    "ListBucketMetricsConfigurations": _empty_listing("MetricsConfigurationList"),
    "GetBucketMetricsConfiguration": _no_such_metrics_configuration,
    "DeleteBucketMetricsConfiguration": _no_such_metrics_configuration,
    "ListBucketIntelligentTieringConfigurations": _empty_listing("IntelligentTieringConfigurationList"),
}
