"""Review 14: the bucket configurations infrastructure tools read on every refresh
(Terraform's aws_s3_bucket): website, Transfer Acceleration, Requester Pays, access
logging, replication, notifications and the analytics/inventory/metrics listings,
with the codes and texts AWS answers (LocalStack's AWS-validated snapshots, S3's API
reference) and the IAM actions S3 checks for them."""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Any

import requests
from botocore.config import Config

from .conftest import AwsEnv, Server, error_and_status, new_account, new_bucket, wait_for
from .terraform import Terraform


def _s3(admin: AwsEnv) -> Any:
    return admin.client("s3", region_name="us-east-1")


def _refused(call: Any) -> tuple[str, str, int]:
    error, status = error_and_status(call)
    return error["Code"], error["Message"], status


# --- website --------------------------------------------------------------------------------

def test_website_crud_as_on_aws(admin: AwsEnv) -> None:
    s3 = _s3(admin)
    name = new_bucket(s3, "r14-web")
    error, status = error_and_status(lambda: s3.get_bucket_website(Bucket=name))
    assert (error["Code"], error["Message"], error["BucketName"], status) == (
        "NoSuchWebsiteConfiguration", "The specified bucket does not have a website configuration", name, 404)
    assert s3.delete_bucket_website(Bucket=name)["ResponseMetadata"]["HTTPStatusCode"] == 204
    config = {"IndexDocument": {"Suffix": "index.html"}, "ErrorDocument": {"Key": "error.html"},
              "RoutingRules": [{"Condition": {"KeyPrefixEquals": "docs/"},
                                "Redirect": {"ReplaceKeyPrefixWith": "documents/", "Protocol": "https"}}]}
    s3.put_bucket_website(Bucket=name, WebsiteConfiguration=config)
    got = s3.get_bucket_website(Bucket=name)
    assert {k: got[k] for k in config} == config
    s3.delete_bucket_website(Bucket=name)
    assert error_and_status(lambda: s3.get_bucket_website(Bucket=name))[1] == 404


def test_website_validation_in_aws_words(admin: AwsEnv) -> None:
    s3 = _s3(admin)
    name = new_bucket(s3, "r14-webv")
    not_formed = "The IndexDocument Suffix is not well formed"
    cases: list[tuple[dict[str, Any], tuple[str, str, str | None, str | None]]] = [
        ({"IndexDocument": {"Suffix": "/index.html"}}, ("InvalidArgument", not_formed, "IndexDocument", "/index.html")),
        ({"IndexDocument": {"Suffix": ""}}, ("InvalidArgument", not_formed, "IndexDocument", None)),
        ({"RedirectAllRequestsTo": {"HostName": "example.com"}, "IndexDocument": {"Suffix": "index.html"}},
         ("InvalidArgument", "RedirectAllRequestsTo cannot be provided in conjunction with other Routing Rules.",
          "RedirectAllRequestsTo", "not null")),
        ({"ErrorDocument": {"Key": "e.html"}},
         ("InvalidArgument", "A value for IndexDocument Suffix must be provided if RedirectAllRequestsTo is empty",
          "IndexDocument", "null")),
        ({"IndexDocument": {"Suffix": "i.html"}, "RoutingRules": [{"Redirect": {"Protocol": "ftp"}}]},
         ("InvalidRequest", "Invalid protocol, protocol can be http or https. If not defined the protocol will be "
          "selected automatically.", None, None)),
        ({"IndexDocument": {"Suffix": "i.html"},
          "RoutingRules": [{"Redirect": {"ReplaceKeyPrefixWith": "a", "ReplaceKeyWith": "b"}}]},
         ("InvalidRequest", "You can only define ReplaceKeyPrefix or ReplaceKey but not both.", None, None)),
        ({"IndexDocument": {"Suffix": "i.html"}, "RoutingRules": [{"Redirect": {"HostName": "h"}, "Condition": {}}]},
         ("InvalidRequest", "Condition cannot be empty. To redirect all requests without a condition, the condition "
          "element shouldn't be present.", None, None)),
        ({"IndexDocument": {"Suffix": "i.html"}, "RoutingRules": []},
         ("MalformedXML", "The XML you provided was not well-formed or did not validate against our published "
          "schema", None, None)),
    ]
    for config, expected in cases:
        error, status = error_and_status(lambda: s3.put_bucket_website(Bucket=name, WebsiteConfiguration=config))
        assert (error["Code"], error["Message"], error.get("ArgumentName"), error.get("ArgumentValue")) == expected
        assert status == 400
    many = [{"Condition": {"KeyPrefixEquals": f"v1/{i}/"}, "Redirect": {"ReplaceKeyPrefixWith": f"v2/{i}/"}}
            for i in range(51)]
    assert _refused(lambda: s3.put_bucket_website(Bucket=name, WebsiteConfiguration={
        "IndexDocument": {"Suffix": "index.html"}, "RoutingRules": many})) == (
        "InvalidRequest", "51 routing rules provided, the number of routing rules in a website configuration is "
        "limited to 50.", 400)
    assert error_and_status(lambda: s3.get_bucket_website(Bucket=name))[1] == 404  # nothing was stored
    s3.put_bucket_website(Bucket=name, WebsiteConfiguration={"IndexDocument": {"Suffix": "index.html"},
                                                             "RoutingRules": many[:50]})


def test_website_with_the_aws_cli(admin: AwsEnv) -> None:
    s3 = _s3(admin)
    name = new_bucket(s3, "r14-webcli")
    out = admin.aws("s3api", "put-bucket-website", "--bucket", name, "--website-configuration",
                    json.dumps({"RedirectAllRequestsTo": {"HostName": "example.com", "Protocol": "https"}}))
    assert out.returncode == 0, out.stderr
    got = admin.aws_json("s3api", "get-bucket-website", "--bucket", name)
    assert got["RedirectAllRequestsTo"] == {"HostName": "example.com", "Protocol": "https"}


# --- Transfer Acceleration, Requester Pays ------------------------------------------------------

def test_accelerate_configuration(admin: AwsEnv) -> None:
    s3 = _s3(admin)
    name = new_bucket(s3, "r14-acc")
    assert "Status" not in s3.get_bucket_accelerate_configuration(Bucket=name)  # never set: empty
    for bad in ("enabled", "random"):
        assert _refused(lambda: s3.put_bucket_accelerate_configuration(
            Bucket=name, AccelerateConfiguration={"Status": bad}))[0::2] == ("MalformedXML", 400)
    for status in ("Enabled", "Suspended"):
        s3.put_bucket_accelerate_configuration(Bucket=name, AccelerateConfiguration={"Status": status})
        assert s3.get_bucket_accelerate_configuration(Bucket=name)["Status"] == status
    dotted = f"r14.acc.{uuid.uuid4().hex[:10]}"
    s3.create_bucket(Bucket=dotted)
    # Refused for the name before the Status is even looked at.
    assert _refused(lambda: s3.put_bucket_accelerate_configuration(
        Bucket=dotted, AccelerateConfiguration={"Status": "random"})) == (
        "InvalidRequest", "S3 Transfer Acceleration is not supported for buckets with periods (.) in their names", 400)


def test_request_payment_and_requester_pays_access(admin: AwsEnv, server: Server, tmp_path: Path) -> None:
    s3 = _s3(admin)
    name = new_bucket(s3, "r14-pay")
    assert s3.get_bucket_request_payment(Bucket=name)["Payer"] == "BucketOwner"
    assert _refused(lambda: s3.put_bucket_request_payment(
        Bucket=name, RequestPaymentConfiguration={"Payer": "Nobody"}))[0::2] == ("MalformedXML", 400)
    s3.put_object(Bucket=name, Key="data", Body=b"paid")
    other, other_account = new_account(server, tmp_path, "r14pay")
    s3.put_bucket_policy(Bucket=name, Policy=json.dumps({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{other_account}:root"},
         "Action": "s3:GetObject", "Resource": f"arn:aws:s3:::{name}/*"}]}))
    theirs = other.client("s3", region_name="us-east-1")
    assert theirs.get_object(Bucket=name, Key="data")["Body"].read() == b"paid"
    s3.put_bucket_request_payment(Bucket=name, RequestPaymentConfiguration={"Payer": "Requester"})
    assert s3.get_bucket_request_payment(Bucket=name)["Payer"] == "Requester"
    # Another account must say it pays; the owner need not.
    assert _refused(lambda: theirs.get_object(Bucket=name, Key="data"))[0::2] == ("AccessDenied", 403)
    assert theirs.get_object(Bucket=name, Key="data", RequestPayer="requester")["Body"].read() == b"paid"
    signer = other.session().client("s3", region_name="us-east-1", config=Config(signature_version="s3v4"))
    url = signer.generate_presigned_url("get_object", Params={"Bucket": name, "Key": "data",
                                                              "RequestPayer": "requester"})
    # SigV4 signs the header: the URL's user must send it.
    assert requests.get(url, headers={"x-amz-request-payer": "requester"}, timeout=10).content == b"paid"
    url = signer.generate_presigned_url("get_object", Params={"Bucket": name, "Key": "data"})
    assert requests.get(url, timeout=10).status_code == 403
    assert s3.get_object(Bucket=name, Key="data")["Body"].read() == b"paid"
    # Nobody can pay for an anonymous request: a public object is not served to it.
    s3.delete_public_access_block(Bucket=name)
    s3.put_bucket_policy(Bucket=name, Policy=json.dumps({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Principal": "*", "Action": "s3:GetObject", "Resource": f"arn:aws:s3:::{name}/*"}]}))
    public_url = f"{admin.endpoint}/{name}/data"
    assert requests.get(public_url, headers={"x-amz-request-payer": "requester"}, timeout=10).status_code == 403
    s3.put_bucket_request_payment(Bucket=name, RequestPaymentConfiguration={"Payer": "BucketOwner"})
    assert requests.get(public_url, timeout=10).content == b"paid"
    s3.put_bucket_request_payment(Bucket=name, RequestPaymentConfiguration={"Payer": "Requester"})
    # Copying out of it is reading it: the copier says it pays too.
    their_bucket = new_bucket(theirs, "r14-payc")
    assert _refused(lambda: theirs.copy_object(Bucket=their_bucket, Key="copy", CopySource=f"{name}/data"))[
        0::2] == ("AccessDenied", 403)
    theirs.copy_object(Bucket=their_bucket, Key="copy", CopySource=f"{name}/data", RequestPayer="requester")
    assert theirs.get_object(Bucket=their_bucket, Key="copy")["Body"].read() == b"paid"


# --- server access logging ----------------------------------------------------------------------

def test_logging_configuration_and_its_target_checks(admin: AwsEnv, server: Server, tmp_path: Path) -> None:
    s3 = _s3(admin)
    name = new_bucket(s3, "r14-log")
    target = new_bucket(s3, "r14-logt")
    assert "LoggingEnabled" not in s3.get_bucket_logging(Bucket=name)
    enabled = {"TargetBucket": target, "TargetPrefix": "logs/",
               "TargetObjectKeyFormat": {"PartitionedPrefix": {"PartitionDateSource": "EventTime"}}}
    s3.put_bucket_logging(Bucket=name, BucketLoggingStatus={"LoggingEnabled": enabled})
    assert s3.get_bucket_logging(Bucket=name)["LoggingEnabled"] == enabled
    s3.put_bucket_logging(Bucket=name, BucketLoggingStatus={})  # an empty status turns it off
    assert "LoggingEnabled" not in s3.get_bucket_logging(Bucket=name)

    missing = f"r14-nolog-{uuid.uuid4().hex[:10]}"
    error, status = error_and_status(lambda: s3.put_bucket_logging(Bucket=name, BucketLoggingStatus={
        "LoggingEnabled": {"TargetBucket": missing, "TargetPrefix": "log"}}))
    assert (error["Code"], error["Message"], error["TargetBucket"], status) == (
        "InvalidTargetBucketForLogging", "The target bucket for logging does not exist", missing, 400)

    west = f"r14-logw-{uuid.uuid4().hex[:10]}"
    s3.create_bucket(Bucket=west, CreateBucketConfiguration={"LocationConstraint": "us-west-2"})
    error, status = error_and_status(lambda: s3.put_bucket_logging(Bucket=name, BucketLoggingStatus={
        "LoggingEnabled": {"TargetBucket": west, "TargetPrefix": "log"}}))
    assert (error["Code"], error["Message"], error["TargetBucketLocation"], status) == (
        "CrossLocationLoggingProhibitted", "Cross S3 location logging not allowed. ", "us-west-2", 403)
    assert "SourceBucketLocation" not in error  # a us-east-1 source is not named

    grants = [{"Grantee": {"Type": "Group", "URI": "http://acs.amazonaws.com/groups/s3/LogDelivery"},
               "Permission": "WRITE"}]
    assert _refused(lambda: s3.put_bucket_logging(Bucket=name, BucketLoggingStatus={
        "LoggingEnabled": {"TargetBucket": target, "TargetPrefix": "log", "TargetGrants": grants}})) == (
        "AccessControlListNotSupported", "Target grants not allowed for bucket owner enforced buckets", 400)
    s3.delete_bucket_ownership_controls(Bucket=target)  # ACLs on: grants are taken, even READ_ACP
    grants.append({"Grantee": grants[0]["Grantee"], "Permission": "READ_ACP"})
    s3.put_bucket_logging(Bucket=name, BucketLoggingStatus={
        "LoggingEnabled": {"TargetBucket": target, "TargetPrefix": "log", "TargetGrants": grants}})
    assert s3.get_bucket_logging(Bucket=name)["LoggingEnabled"]["TargetGrants"] == grants
    s3.put_bucket_logging(Bucket=name, BucketLoggingStatus={})

    other, _ = new_account(server, tmp_path, "r14log")
    theirs = new_bucket(other.client("s3", region_name="us-east-1"), "r14-logo")
    error, status = error_and_status(lambda: s3.put_bucket_logging(Bucket=name, BucketLoggingStatus={
        "LoggingEnabled": {"TargetBucket": theirs, "TargetPrefix": "log"}}))
    assert (error["Code"], error["Message"], error["TargetBucket"], status) == (
        "InvalidTargetBucketForLogging", "The owner for the bucket to be logged and the target bucket must be the "
        "same.", theirs, 400)
    assert "LoggingEnabled" not in s3.get_bucket_logging(Bucket=name)


# --- replication ----------------------------------------------------------------------------------

def test_replication_configuration(admin: AwsEnv) -> None:
    s3 = _s3(admin)
    source = new_bucket(s3, "r14-repl")
    dest = new_bucket(s3, "r14-repd")
    error, status = error_and_status(lambda: s3.get_bucket_replication(Bucket=source))
    assert (error["Code"], error["Message"], error["BucketName"], status) == (
        "ReplicationConfigurationNotFoundError", "The replication configuration was not found", source, 404)
    config = {"Role": "arn:aws:iam::123456789012:role/replication", "Rules": [{
        "ID": "tax", "Status": "Enabled", "Priority": 1, "DeleteMarkerReplication": {"Status": "Disabled"},
        "Filter": {"Prefix": "Tax"}, "Destination": {"Bucket": f"arn:aws:s3:::{dest}"}}]}
    assert _refused(lambda: s3.put_bucket_replication(Bucket=source, ReplicationConfiguration=config)) == (
        "InvalidRequest", "Versioning must be 'Enabled' on the bucket to apply a replication configuration", 400)
    s3.put_bucket_versioning(Bucket=source, VersioningConfiguration={"Status": "Enabled"})
    assert _refused(lambda: s3.put_bucket_replication(Bucket=source, ReplicationConfiguration=config)) == (
        "InvalidRequest", "Destination bucket must have versioning enabled.", 400)
    s3.put_bucket_versioning(Bucket=dest, VersioningConfiguration={"Status": "Enabled"})
    s3.put_bucket_replication(Bucket=source, ReplicationConfiguration=config)
    assert s3.get_bucket_replication(Bucket=source)["ReplicationConfiguration"] == config
    assert _refused(lambda: s3.put_bucket_replication(Bucket=source, ReplicationConfiguration={
        "Role": config["Role"], "Rules": []}))[0::2] == ("MalformedXML", 400)
    unnamed = {"Role": config["Role"], "Rules": [{k: v for k, v in config["Rules"][0].items() if k != "ID"}]}
    s3.put_bucket_replication(Bucket=source, ReplicationConfiguration=unnamed)
    assert s3.get_bucket_replication(Bucket=source)["ReplicationConfiguration"]["Rules"][0]["ID"]  # S3 names it
    for _ in range(2):  # idempotent
        assert s3.delete_bucket_replication(Bucket=source)["ResponseMetadata"]["HTTPStatusCode"] == 204
    assert error_and_status(lambda: s3.get_bucket_replication(Bucket=source))[1] == 404


def test_put_replication_needs_pass_role_on_its_role(admin: AwsEnv) -> None:
    """PutBucketReplication hands S3 a role: the caller needs iam:PassRole on it as well
    as s3:PutReplicationConfiguration (PutBucketReplication API reference)."""
    s3 = _s3(admin)
    source = new_bucket(s3, "r14-rpr", versioning="Enabled")
    dest = new_bucket(s3, "r14-rpd", versioning="Enabled")
    role = "arn:aws:iam::123456789012:role/replication"
    config = {"Role": role, "Rules": [{"Status": "Enabled", "Priority": 1, "Filter": {},
                                       "DeleteMarkerReplication": {"Status": "Disabled"},
                                       "Destination": {"Bucket": f"arn:aws:s3:::{dest}"}}]}
    s3_only = admin.client_for(admin.new_user({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": ["s3:PutReplicationConfiguration", "s3:GetReplicationConfiguration"],
         "Resource": "*"}]}), "s3")
    assert _refused(lambda: s3_only.put_bucket_replication(Bucket=source, ReplicationConfiguration=config))[
        0::2] == ("AccessDenied", 403)
    with_pass = admin.client_for(admin.new_user({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": "s3:PutReplicationConfiguration", "Resource": "*"},
        {"Effect": "Allow", "Action": "iam:PassRole", "Resource": role,
         "Condition": {"StringEquals": {"iam:PassedToService": "s3.amazonaws.com"}}}]}), "s3")
    with_pass.put_bucket_replication(Bucket=source, ReplicationConfiguration=config)
    assert s3_only.get_bucket_replication(Bucket=source)["ReplicationConfiguration"]["Role"] == role


# --- notifications --------------------------------------------------------------------------------

def test_notification_configuration(admin: AwsEnv) -> None:
    s3 = _s3(admin)
    name = new_bucket(s3, "r14-ntf")
    got = s3.get_bucket_notification_configuration(Bucket=name)
    assert not {"TopicConfigurations", "QueueConfigurations", "LambdaFunctionConfigurations",
                "EventBridgeConfiguration"} & got.keys()
    queue = "arn:aws:sqs:us-east-1:111111111111:my-queue"
    error, status = error_and_status(lambda: s3.put_bucket_notification_configuration(
        Bucket=name, NotificationConfiguration={"QueueConfigurations": [
            {"QueueArn": "invalid-queue", "Events": ["s3:ObjectCreated:*"]}]}))
    assert (error["Code"], error["Message"], error["ArgumentName"], error["ArgumentValue"], status) == (
        "InvalidArgument", "The ARN could not be parsed", "Queue", "invalid-queue", 400)
    # Skyhold has no SQS, SNS or Lambda: such a destination cannot be validated.
    error, status = error_and_status(lambda: s3.put_bucket_notification_configuration(
        Bucket=name, NotificationConfiguration={"QueueConfigurations": [
            {"QueueArn": queue, "Events": ["s3:ObjectCreated:*"]}]}))
    assert (error["Code"], error["Message"], error["ArgumentName1"], error["ArgumentValue1"], status) == (
        "InvalidArgument", "Unable to validate the following destination configurations", queue,
        "The destination queue does not exist", 400)
    # An ARN that does not parse is reported first, wherever it stands.
    error, _ = error_and_status(lambda: s3.put_bucket_notification_configuration(
        Bucket=name, NotificationConfiguration={"QueueConfigurations": [
            {"QueueArn": queue, "Events": ["s3:ObjectCreated:*"]},
            {"QueueArn": "invalid_arn_2", "Events": ["s3:ObjectRemoved:*"]}]}))
    assert (error["Message"], error["ArgumentValue"]) == ("The ARN could not be parsed", "invalid_arn_2")
    function = "arn:aws:lambda:us-east-1:111111111111:function:my-lambda"
    error, _ = error_and_status(lambda: s3.put_bucket_notification_configuration(
        Bucket=name, NotificationConfiguration={"LambdaFunctionConfigurations": [
            {"LambdaFunctionArn": function, "Events": ["s3:ObjectCreated:*"]}]}))
    assert (error["ArgumentName1"], error["ArgumentValue1"]) == (
        f"{function}, null", f"Not authorized to invoke function [{function}]")
    error, _ = error_and_status(lambda: s3.put_bucket_notification_configuration(
        Bucket=name, NotificationConfiguration={"QueueConfigurations": [{
            "QueueArn": queue, "Events": ["s3:ObjectCreated:*"],
            "Filter": {"Key": {"FilterRules": [{"Name": "INVALID", "Value": "x"}]}}}]}, SkipDestinationValidation=True))
    assert (error["Message"], error["ArgumentName"], error["ArgumentValue"]) == (
        "filter rule name must be either prefix or suffix", "FilterRule.Name", "INVALID")
    # Asked not to validate, S3 stores the destination as given.
    s3.put_bucket_notification_configuration(Bucket=name, SkipDestinationValidation=True, NotificationConfiguration={
        "QueueConfigurations": [{"Id": "id123", "QueueArn": queue, "Events": ["s3:ObjectCreated:*"]}]})
    assert s3.get_bucket_notification_configuration(Bucket=name)["QueueConfigurations"] == [
        {"Id": "id123", "QueueArn": queue, "Events": ["s3:ObjectCreated:*"]}]
    s3.put_bucket_notification_configuration(Bucket=name, SkipDestinationValidation=True, NotificationConfiguration={
        "TopicConfigurations": [{"TopicArn": "arn:aws:sns:us-east-1:111111111111:t", "Events": ["s3:ObjectCreated:*"],
                                 "Filter": {"Key": {"FilterRules": [{"Name": "suffix", "Value": ".jpg"}]}}}]})
    topic = s3.get_bucket_notification_configuration(Bucket=name)["TopicConfigurations"][0]
    assert topic["Id"]  # S3 names it
    assert topic["Filter"]["Key"]["FilterRules"] == [{"Name": "Suffix", "Value": ".jpg"}]
    s3.put_bucket_notification_configuration(Bucket=name, NotificationConfiguration={"EventBridgeConfiguration": {}})
    got = s3.get_bucket_notification_configuration(Bucket=name)
    assert got["EventBridgeConfiguration"] == {} and "QueueConfigurations" not in got
    s3.put_bucket_notification_configuration(Bucket=name, NotificationConfiguration={})
    assert "EventBridgeConfiguration" not in s3.get_bucket_notification_configuration(Bucket=name)


# --- the listings, IAM and CloudTrail ---------------------------------------------------------------

def test_configuration_listings_are_empty(admin: AwsEnv) -> None:
    s3 = _s3(admin)
    name = new_bucket(s3, "r14-lst")
    for op, member in (("list_bucket_analytics_configurations", "AnalyticsConfigurationList"),
                       ("list_bucket_inventory_configurations", "InventoryConfigurationList"),
                       ("list_bucket_metrics_configurations", "MetricsConfigurationList"),
                       ("list_bucket_intelligent_tiering_configurations", "IntelligentTieringConfigurationList")):
        got = getattr(s3, op)(Bucket=name)
        assert got["IsTruncated"] is False and not got.get(member)
    for call in (s3.get_bucket_metrics_configuration, s3.delete_bucket_metrics_configuration):
        assert _refused(lambda: call(Bucket=name, Id="does-not-exist")) == (
            "NoSuchConfiguration", "The specified configuration does not exist.", 404)


def test_each_configuration_is_its_own_iam_action(admin: AwsEnv) -> None:
    s3 = _s3(admin)
    name = new_bucket(s3, "r14-iam")
    reader = admin.client_for(admin.new_user({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Resource": f"arn:aws:s3:::{name}", "Action": [
            "s3:GetBucketWebsite", "s3:GetAccelerateConfiguration", "s3:GetBucketRequestPayment",
            "s3:GetBucketLogging", "s3:GetBucketNotification"]}]}), "s3")
    reader.get_bucket_accelerate_configuration(Bucket=name)
    reader.get_bucket_request_payment(Bucket=name)
    reader.get_bucket_logging(Bucket=name)
    reader.get_bucket_notification_configuration(Bucket=name)
    assert error_and_status(lambda: reader.get_bucket_website(Bucket=name))[0]["Code"] == "NoSuchWebsiteConfiguration"
    for call in (lambda: reader.put_bucket_website(Bucket=name, WebsiteConfiguration={
                     "IndexDocument": {"Suffix": "index.html"}}),
                 lambda: reader.delete_bucket_website(Bucket=name),
                 lambda: reader.put_bucket_accelerate_configuration(Bucket=name,
                                                                    AccelerateConfiguration={"Status": "Enabled"}),
                 lambda: reader.put_bucket_request_payment(Bucket=name,
                                                           RequestPaymentConfiguration={"Payer": "Requester"}),
                 lambda: reader.put_bucket_logging(Bucket=name, BucketLoggingStatus={}),
                 lambda: reader.put_bucket_notification_configuration(Bucket=name, NotificationConfiguration={}),
                 lambda: reader.get_bucket_replication(Bucket=name),
                 lambda: reader.delete_bucket_replication(Bucket=name),
                 lambda: reader.list_bucket_metrics_configurations(Bucket=name)):
        assert _refused(call)[0::2] == ("AccessDenied", 403)
    assert s3.get_bucket_request_payment(Bucket=name)["Payer"] == "BucketOwner"  # nothing was changed


def test_configuration_calls_are_in_cloudtrail(admin: AwsEnv) -> None:
    s3 = _s3(admin)
    name = new_bucket(s3, "r14-trail")
    s3.put_bucket_website(Bucket=name, WebsiteConfiguration={"IndexDocument": {"Suffix": "index.html"}})
    s3.get_bucket_logging(Bucket=name)
    trail = admin.client("cloudtrail", region_name="us-east-1")

    def recorded() -> dict[str, dict[str, Any]] | None:
        found = {}
        for event_name in ("PutBucketWebsite", "GetBucketLogging"):
            for e in trail.lookup_events(LookupAttributes=[
                    {"AttributeKey": "EventName", "AttributeValue": event_name}], MaxResults=50)["Events"]:
                record = json.loads(e["CloudTrailEvent"])
                if (record.get("requestParameters") or {}).get("bucketName") == name:
                    found[event_name] = record
        return found if len(found) == 2 else None

    events = wait_for(recorded)
    assert events["PutBucketWebsite"]["readOnly"] is False
    assert events["GetBucketLogging"]["readOnly"] is True
    assert events["PutBucketWebsite"]["eventSource"] == "s3.amazonaws.com"


# --- leads from review 13 -------------------------------------------------------------------------

def test_email_grantees_by_region(admin: AwsEnv) -> None:
    """S3 ended email grantees on 2025-10-01 in the eight Regions the PutBucketAcl API
    reference lists (405 there); elsewhere it still resolves the address, and no Skyhold
    account has one: UnresolvableGrantByEmailAddress (S3's error-code list)."""
    grant = {"GrantRead": 'emailAddress="someone@example.com"'}
    for region, expected in (("us-east-1", ("MethodNotAllowed", 405)),
                             ("eu-central-1", ("UnresolvableGrantByEmailAddress", 400))):
        s3 = admin.client("s3", region_name=region)
        name = f"r14-email-{uuid.uuid4().hex[:10]}"
        config = {} if region == "us-east-1" else {"CreateBucketConfiguration": {"LocationConstraint": region}}
        s3.create_bucket(Bucket=name, ObjectOwnership="ObjectWriter", **config)
        assert _refused(lambda: s3.put_bucket_acl(Bucket=name, **grant))[0::2] == expected
        body = {"Owner": s3.get_bucket_acl(Bucket=name)["Owner"], "Grants": [
            {"Grantee": {"Type": "AmazonCustomerByEmail", "EmailAddress": "someone@example.com"},
             "Permission": "READ"}]}
        assert _refused(lambda: s3.put_bucket_acl(Bucket=name, AccessControlPolicy=body))[0::2] == expected
    assert _refused(lambda: admin.client("s3", region_name="eu-central-1").put_bucket_acl(
        Bucket=name, **grant))[1] == "The email address you provided does not match any account on record."


def test_delete_bucket_with_only_uploads_in_progress(admin: AwsEnv) -> None:
    """An unfinished multipart upload does not keep a bucket: DeleteBucket succeeds
    (versitygw's AWS-checked "can delete with partial multipart upload")."""
    s3 = _s3(admin)
    name = new_bucket(s3, "r14-mpu")
    s3.create_multipart_upload(Bucket=name, Key="big")
    s3.delete_bucket(Bucket=name)
    assert error_and_status(lambda: s3.head_bucket(Bucket=name))[1] == 404


# --- a real infrastructure tool ------------------------------------------------------------------

def test_terraform_manages_a_bucket_and_its_configurations(admin: AwsEnv, tmp_path: Path) -> None:
    """Terraform's aws_s3_bucket reads every bucket sub-resource on each refresh: with
    them served, it creates, refreshes (no drift) and destroys a configured bucket."""
    name = f"r14-tf-{uuid.uuid4().hex[:10]}"
    tf = Terraform(tmp_path, admin, f'''
resource "aws_s3_bucket" "b" {{ bucket = "{name}" }}
resource "aws_s3_bucket_website_configuration" "w" {{
  bucket = aws_s3_bucket.b.id
  index_document {{ suffix = "index.html" }}
}}
resource "aws_s3_bucket_logging" "l" {{
  bucket = aws_s3_bucket.b.id
  target_bucket = aws_s3_bucket.b.id
  target_prefix = "log/"
}}
resource "aws_s3_bucket_accelerate_configuration" "a" {{
  bucket = aws_s3_bucket.b.id
  status = "Enabled"
}}
resource "aws_s3_bucket_notification" "n" {{
  bucket = aws_s3_bucket.b.id
  eventbridge = true
}}
resource "aws_s3_bucket" "d" {{ bucket = "{name}-dst" }}
resource "aws_s3_bucket_versioning" "bv" {{
  bucket = aws_s3_bucket.b.id
  versioning_configuration {{ status = "Enabled" }}
}}
resource "aws_s3_bucket_versioning" "dv" {{
  bucket = aws_s3_bucket.d.id
  versioning_configuration {{ status = "Enabled" }}
}}
resource "aws_s3_bucket_replication_configuration" "r" {{
  depends_on = [aws_s3_bucket_versioning.bv, aws_s3_bucket_versioning.dv]
  role = "arn:aws:iam::123456789012:role/replication"
  bucket = aws_s3_bucket.b.id
  rule {{
    id = "all"
    status = "Enabled"
    filter {{}}
    delete_marker_replication {{ status = "Disabled" }}
    destination {{ bucket = aws_s3_bucket.d.arn }}
  }}
}}
''')
    tf.apply()
    s3 = _s3(admin)
    assert s3.get_bucket_website(Bucket=name)["IndexDocument"] == {"Suffix": "index.html"}
    assert s3.get_bucket_logging(Bucket=name)["LoggingEnabled"]["TargetPrefix"] == "log/"
    assert s3.get_bucket_accelerate_configuration(Bucket=name)["Status"] == "Enabled"
    assert s3.get_bucket_notification_configuration(Bucket=name)["EventBridgeConfiguration"] == {}
    assert s3.get_bucket_replication(Bucket=name)["ReplicationConfiguration"]["Rules"][0]["ID"] == "all"
    tf.assert_no_drift()
    tf.destroy()
    assert error_and_status(lambda: s3.head_bucket(Bucket=name))[1] == 404
