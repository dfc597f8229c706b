"""CloudTrail gaps reviews found: data resource Values AWS refuses were accepted (and
then misread as prefixes), the trail tag operations and UpdateTrail answered
NotImplemented, and a GetSessionToken session of an IAM user lacked the empty
sessionIssuer / webIdFederationData AWS writes."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from .conftest import AwsEnv, Server, aws_error, new_account, new_bucket, wait_for, cloudtrail_bucket_policy

REGION = "us-east-1"


def _unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


@pytest.fixture(scope="module")
def log_bucket(admin: AwsEnv) -> str:
    s3 = admin.client("s3", region_name=REGION)
    name = new_bucket(s3, "ct-gaps-logs")
    s3.put_bucket_policy(Bucket=name, Policy=cloudtrail_bucket_policy(name))
    return name


@pytest.fixture
def trail(admin: AwsEnv, log_bucket: str) -> Iterator[Callable[..., dict[str, Any]]]:
    """make(**create_kw) → a new trail (CreateTrail's answer); deleted after the test."""
    ct = admin.client("cloudtrail", region_name=REGION)
    made: list[str] = []

    def make(**kw: Any) -> dict[str, Any]:
        created = ct.create_trail(Name=_unique("gaps"), S3BucketName=log_bucket, **kw)
        made.append(created["Name"])
        return created

    yield make
    for name in made:
        ct.delete_trail(Name=name)


# ---- 1. PutEventSelectors: DataResources.Values and the other limits --------------------

def _selectors(*values: str, kind: str = "AWS::S3::Object", management: bool = False) -> list[dict[str, Any]]:
    return [{"ReadWriteType": "All", "IncludeManagementEvents": management,
             "DataResources": [{"Type": kind, "Values": list(values)}]}]


def test_data_resource_values_aws_refuses(admin: AwsEnv, trail: Callable[..., dict[str, Any]]) -> None:
    ct = admin.client("cloudtrail", region_name=REGION)
    name = trail()["Name"]
    data = new_bucket(admin.client("s3", region_name=REGION), "ct-gaps-data")
    # a bucket ARN without its "/", and wildcards (terraform-provider-aws #4043; aws-samples SRA #335)
    for value, kind in ((f"arn:aws:s3:::{data}", "AWS::S3::Object"), ("arn:aws:s3:::*", "AWS::S3::Object"),
                        ("arn:aws:lambda:*", "AWS::Lambda::Function")):
        code, message, status = aws_error(lambda: ct.put_event_selectors(
            TrailName=name, EventSelectors=_selectors(value, kind=kind)))
        assert (code, status) == ("InvalidEventSelectorsException", 400), value
        assert message == f"Value {value} for DataResources.Values is invalid."
    assert ct.get_trail(Name=name)["Trail"]["HasCustomEventSelectors"] is False

    accepted = ["arn:aws:s3", "arn:aws:s3:::", f"arn:aws:s3:::{data}/", f"arn:aws:s3:::{data}/logs/2024"]
    answer = ct.put_event_selectors(TrailName=name, EventSelectors=_selectors(*accepted))
    assert answer["EventSelectors"][0]["DataResources"][0]["Values"] == accepted
    stored = ct.get_event_selectors(TrailName=name)["EventSelectors"]
    assert stored[0]["DataResources"] == [{"Type": "AWS::S3::Object", "Values": accepted}]


def test_selector_counts_types_and_combinations(admin: AwsEnv, trail: Callable[..., dict[str, Any]]) -> None:
    ct = admin.client("cloudtrail", region_name=REGION)
    name = trail()["Name"]
    six = [{"ReadWriteType": "All", "IncludeManagementEvents": True}] * 6
    assert aws_error(lambda: ct.put_event_selectors(TrailName=name, EventSelectors=six))[0] == \
        "InvalidEventSelectorsException"
    # 250 values across all selectors, not each
    many = [_selectors(*(f"arn:aws:s3:::bucket-{n}/" for n in range(start, start + 126)))[0] for start in (0, 126)]
    code, message, _ = aws_error(lambda: ct.put_event_selectors(TrailName=name, EventSelectors=many))
    assert (code, message) == ("InvalidEventSelectorsException",
                               "Specify a valid number of DataResources.Values (0 to 250) for all your selectors.")
    code, message, _ = aws_error(lambda: ct.put_event_selectors(
        TrailName=name, EventSelectors=_selectors("arn:aws:sqs", kind="AWS::SQS::Queue")))
    assert (code, message) == ("InvalidEventSelectorsException", "Value AWS::SQS::Queue for DataResources.Type is "
                               "invalid.")
    code, message, _ = aws_error(lambda: ct.put_event_selectors(
        TrailName=name, EventSelectors=[{"ReadWriteType": "All", "IncludeManagementEvents": False}]))
    assert (code, message) == ("InvalidEventSelectorsException", "Invalid combination of parameters in "
                               "EventSelectors. When includeManagementEvents is false, DataResources must not be "
                               "empty.")
    # five selectors, Lambda and DynamoDB values of their forms: taken
    five = [_selectors("arn:aws:lambda", kind="AWS::Lambda::Function")[0],
            _selectors(f"arn:aws:dynamodb:{REGION}:111122223333:table/orders", kind="AWS::DynamoDB::Table")[0],
            *[{"ReadWriteType": rw, "IncludeManagementEvents": True} for rw in ("ReadOnly", "WriteOnly", "All")]]
    ct.put_event_selectors(TrailName=name, EventSelectors=five)
    assert len(ct.get_event_selectors(TrailName=name)["EventSelectors"]) == 5


# ---- 2. AddTags / ListTags / RemoveTags ------------------------------------------------------

def _tags(ct: Any, arn: str) -> list[dict[str, str]]:
    listed = ct.list_tags(ResourceIdList=[arn])["ResourceTagList"]
    assert [entry["ResourceId"] for entry in listed] == [arn]
    return listed[0]["TagsList"]


def test_tags_are_stored_added_overwritten_and_removed(admin: AwsEnv, trail: Callable[..., dict[str, Any]]) -> None:
    ct = admin.client("cloudtrail", region_name=REGION)
    arn = trail(TagsList=[{"Key": "team", "Value": "blue"}, {"Key": "env", "Value": "dev"}])["TrailARN"]
    assert _tags(ct, arn) == [{"Key": "team", "Value": "blue"}, {"Key": "env", "Value": "dev"}]
    ct.add_tags(ResourceId=arn, TagsList=[{"Key": "env", "Value": "prod"}, {"Key": "bare"}])
    assert _tags(ct, arn) == [{"Key": "team", "Value": "blue"}, {"Key": "env", "Value": "prod"}, {"Key": "bare"}]
    ct.remove_tags(ResourceId=arn, TagsList=[{"Key": "team"}, {"Key": "absent"}])
    # the real aws CLI, as Terraform's provider and scripts call it
    listed = admin.aws_json("cloudtrail", "list-tags", "--resource-id-list", arn, "--region", REGION)
    assert listed["ResourceTagList"] == [{"ResourceId": arn, "TagsList": [{"Key": "env", "Value": "prod"},
                                                                          {"Key": "bare"}]}]
    out = admin.aws("cloudtrail", "add-tags", "--resource-id", arn, "--tags-list", "Key=owner,Value=cli",
                    "--region", REGION)
    assert out.returncode == 0, out.stderr
    assert {"Key": "owner", "Value": "cli"} in _tags(ct, arn)


def test_tag_limits(admin: AwsEnv, log_bucket: str, trail: Callable[..., dict[str, Any]]) -> None:
    ct = admin.client("cloudtrail", region_name=REGION)
    arn = trail(TagsList=[{"Key": f"k{n}", "Value": "v"} for n in range(49)])["TrailARN"]
    ct.add_tags(ResourceId=arn, TagsList=[{"Key": "k0", "Value": "again"}, {"Key": "fiftieth"}])  # 50 in all
    code, _, status = aws_error(lambda: ct.add_tags(ResourceId=arn, TagsList=[{"Key": "one-too-many"}]))
    assert (code, status) == ("TagsLimitExceededException", 400)
    assert len(_tags(ct, arn)) == 50
    name = _unique("gaps-51")
    assert aws_error(lambda: ct.create_trail(Name=name, S3BucketName=log_bucket, TagsList=[
        {"Key": f"k{n}"} for n in range(51)]))[0] == "TagsLimitExceededException"
    assert aws_error(lambda: ct.get_trail(Name=name))[0] == "TrailNotFoundException"

    unchecked = admin.unchecked_client("cloudtrail", region_name=REGION)
    for bad in ([{"Key": "aws:reserved", "Value": "x"}], [{"Key": "k" * 129}], [{"Key": ""}],
                [{"Key": "long", "Value": "v" * 257}], [{"Key": "twice"}, {"Key": "twice", "Value": "x"}]):
        code, _, status = aws_error(lambda: unchecked.add_tags(ResourceId=arn, TagsList=bad))
        assert (code, status) == ("InvalidTagParameterException", 400), bad
    ct2 = admin.client("cloudtrail", region_name=REGION)
    ct2.remove_tags(ResourceId=arn, TagsList=[{"Key": "fiftieth"}])
    ct2.add_tags(ResourceId=arn, TagsList=[{"Key": "k" * 128, "Value": "v" * 256}])


def test_tagging_unknown_malformed_and_foreign_arns(admin: AwsEnv, server: Server, tmp_path: Any, account: str,
                                                    trail: Callable[..., dict[str, Any]]) -> None:
    ct = admin.client("cloudtrail", region_name=REGION)
    mine = trail()["TrailARN"]
    missing = f"arn:aws:cloudtrail:{REGION}:{account}:trail/{_unique('nope')}"
    for call in (lambda: ct.list_tags(ResourceIdList=[mine, missing]),
                 lambda: ct.add_tags(ResourceId=missing, TagsList=[{"Key": "k"}])):
        code, _, status = aws_error(call)
        assert (code, status) == ("ResourceNotFoundException", 400)
    assert aws_error(lambda: ct.list_tags(ResourceIdList=["arn:aws:cloudtrail:nowhere"]))[0] == \
        "CloudTrailARNInvalidException"

    other, other_account = new_account(server, tmp_path, "ct-gaps")
    code, message, _ = aws_error(lambda: other.client("cloudtrail", region_name=REGION).list_tags(
        ResourceIdList=[mine]))
    assert code == "CloudTrailARNInvalidException"
    assert message == f"AccountID in ARN is wrong, you can only access resources with AccountID {other_account}."


def test_tag_condition_keys(admin: AwsEnv, trail: Callable[..., dict[str, Any]]) -> None:
    arn = trail(TagsList=[{"Key": "secret", "Value": "yes"}])["TrailARN"]
    plain = trail()["TrailARN"]
    key = admin.new_user({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": ["cloudtrail:AddTags", "cloudtrail:RemoveTags", "cloudtrail:ListTags"],
         "Resource": "*"},
        {"Effect": "Deny", "Action": "cloudtrail:AddTags", "Resource": "*",
         "Condition": {"StringEquals": {"aws:RequestTag/team": "red"}}},
        {"Effect": "Deny", "Action": "cloudtrail:RemoveTags", "Resource": "*",
         "Condition": {"ForAnyValue:StringEquals": {"aws:TagKeys": ["owner"]}}},
        {"Effect": "Deny", "Action": "cloudtrail:ListTags", "Resource": "*",
         "Condition": {"StringEquals": {"aws:ResourceTag/secret": "yes"}}}]})
    ct: Any = admin.client_for(key, "cloudtrail")
    assert aws_error(lambda: ct.add_tags(ResourceId=plain, TagsList=[{"Key": "team", "Value": "red"}]))[0] == \
        "AccessDeniedException"
    ct.add_tags(ResourceId=plain, TagsList=[{"Key": "team", "Value": "blue"}, {"Key": "owner", "Value": "me"}])
    assert aws_error(lambda: ct.remove_tags(ResourceId=plain, TagsList=[{"Key": "owner"}]))[0] == \
        "AccessDeniedException"
    ct.remove_tags(ResourceId=plain, TagsList=[{"Key": "team"}])
    assert ct.list_tags(ResourceIdList=[plain])["ResourceTagList"][0]["TagsList"] == [
        {"Key": "owner", "Value": "me"}]
    assert aws_error(lambda: ct.list_tags(ResourceIdList=[arn]))[0] == "AccessDeniedException"


# ---- 3. UpdateTrail ----------------------------------------------------------------------------

def _key_policy(account: str) -> str:
    # AWS's required key policy elements for trails: the account's root, and CloudTrail's encrypt statement
    return json.dumps({"Version": "2012-10-17", "Statement": [
        {"Sid": "Enable IAM User Permissions", "Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{account}:root"},
         "Action": "kms:*", "Resource": "*"},
        {"Sid": "Allow CloudTrail to encrypt logs", "Effect": "Allow",
         "Principal": {"Service": "cloudtrail.amazonaws.com"}, "Action": "kms:GenerateDataKey*", "Resource": "*",
         "Condition": {"StringLike": {"kms:EncryptionContext:aws:cloudtrail:arn":
                                      f"arn:aws:cloudtrail:*:{account}:trail/*"}}}]})


def test_update_trail_changes_what_it_names(admin: AwsEnv, log_bucket: str,
                                            trail: Callable[..., dict[str, Any]]) -> None:
    ct = admin.client("cloudtrail", region_name=REGION)
    created = trail()
    name = created["Name"]
    updated = ct.update_trail(Name=created["TrailARN"], S3KeyPrefix="moved", EnableLogFileValidation=True,
                              IsMultiRegionTrail=True)
    assert (updated["Name"], updated["TrailARN"], updated["S3BucketName"]) == (name, created["TrailARN"], log_bucket)
    assert (updated["S3KeyPrefix"], updated["LogFileValidationEnabled"], updated["IsMultiRegionTrail"]) == \
        ("moved", True, True)
    got = ct.get_trail(Name=name)["Trail"]
    assert (got["S3KeyPrefix"], got["LogFileValidationEnabled"], got["IsMultiRegionTrail"],
            got["IncludeGlobalServiceEvents"]) == ("moved", True, True, True)
    code, message, _ = aws_error(lambda: ct.update_trail(Name=name, IncludeGlobalServiceEvents=False))
    assert (code, message) == ("InvalidParameterCombinationException",
                               "Multi-Region trail must include global service events.")
    ct.update_trail(Name=name, IsMultiRegionTrail=False, IncludeGlobalServiceEvents=False)
    got = ct.get_trail(Name=name)["Trail"]
    assert (got["IsMultiRegionTrail"], got["IncludeGlobalServiceEvents"], got["S3KeyPrefix"]) == \
        (False, False, "moved")
    ct.update_trail(Name=name, S3KeyPrefix="")
    assert "S3KeyPrefix" not in ct.get_trail(Name=name)["Trail"]
    code, _, _ = aws_error(lambda: ct.update_trail(Name=_unique("gaps-none")))
    assert code == "TrailNotFoundException"


def test_update_trail_checks_bucket_and_key(admin: AwsEnv, account: str, log_bucket: str,
                                            trail: Callable[..., dict[str, Any]]) -> None:
    ct = admin.client("cloudtrail", region_name=REGION)
    s3 = admin.client("s3", region_name=REGION)
    name = trail()["Name"]
    bare = new_bucket(s3, "ct-gaps-nopolicy")
    code, message, status = aws_error(lambda: ct.update_trail(Name=name, S3BucketName=bare))
    assert (code, message, status) == ("InsufficientS3BucketPolicyException",
                                       f"Incorrect S3 bucket policy is detected for bucket: {bare}", 400)
    missing = _unique("ct-gaps-missing")
    code, message, _ = aws_error(lambda: ct.update_trail(Name=name, S3BucketName=missing))
    assert (code, message) == ("S3BucketDoesNotExistException", f"S3 bucket {missing} does not exist.")
    assert ct.get_trail(Name=name)["Trail"]["S3BucketName"] == log_bucket

    other = new_bucket(s3, "ct-gaps-other")
    s3.put_bucket_policy(Bucket=other, Policy=cloudtrail_bucket_policy(other))
    assert ct.update_trail(Name=name, S3BucketName=other)["S3BucketName"] == other

    kms = admin.client("kms", region_name=REGION)
    plain = kms.create_key()["KeyMetadata"]["Arn"]  # default key policy: nothing for CloudTrail
    code, message, _ = aws_error(lambda: ct.update_trail(Name=name, KmsKeyId=plain))
    assert (code, message) == ("InsufficientEncryptionPolicyException",
                               f"Insufficient permissions to access S3 bucket {other} or KMS key {plain}.")
    good = kms.create_key(Policy=_key_policy(account))["KeyMetadata"]
    assert ct.update_trail(Name=name, KmsKeyId=good["KeyId"])["KmsKeyId"] == good["Arn"]
    assert ct.get_trail(Name=name)["Trail"]["KmsKeyId"] == good["Arn"]
    updated = ct.update_trail(Name=name, KmsKeyId="")  # "" stops encrypting
    assert "KmsKeyId" not in updated and "KmsKeyId" not in ct.get_trail(Name=name)["Trail"]


# ---- 4. GetSessionToken sessions of IAM users -------------------------------------------------

def test_session_token_of_a_user_has_empty_issuer_and_federation(admin: AwsEnv) -> None:
    key = admin.new_user({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": ["sts:GetSessionToken", "s3:ListAllMyBuckets"], "Resource": "*"}]})
    token: Any = admin.client_for(key, "sts").get_session_token()["Credentials"]  # type: ignore[attr-defined]
    import boto3

    # (IAM refuses such a session without MFA, as AWS does: S3 then)
    s3 = boto3.client("s3", endpoint_url=admin.endpoint, region_name=REGION,
                       aws_access_key_id=token["AccessKeyId"], aws_secret_access_key=token["SecretAccessKey"],
                       aws_session_token=token["SessionToken"])
    s3.list_buckets()
    ct = admin.client("cloudtrail", region_name=REGION)
    events = ct.lookup_events(LookupAttributes=[{"AttributeKey": "AccessKeyId",
                                                 "AttributeValue": token["AccessKeyId"]}])["Events"]
    ident = [json.loads(e["CloudTrailEvent"]) for e in events if e["EventName"] == "ListBuckets"][0]["userIdentity"]
    assert ident["type"] == "IAMUser"
    context = ident["sessionContext"]
    assert list(context) == ["sessionIssuer", "webIdFederationData", "attributes"]
    assert context["sessionIssuer"] == {} and context["webIdFederationData"] == {}


# ---- 5. advanced event selectors ----------------------------------------------------------------


def _records(admin: AwsEnv, bucket: str, prefix: str) -> list[dict[str, Any]]:
    import gzip

    s3 = admin.client("s3", region_name=REGION)
    listed = s3.list_objects_v2(Bucket=bucket, Prefix=prefix).get("Contents", [])
    return [r for o in listed if "/CloudTrail/" in o["Key"]
            for r in json.loads(gzip.decompress(s3.get_object(Bucket=bucket, Key=o["Key"])["Body"].read()))["Records"]]


def test_advanced_selectors_are_stored_and_applied(admin: AwsEnv, log_bucket: str,
                                                   trail: Callable[..., dict[str, Any]]) -> None:
    ct = admin.client("cloudtrail", region_name=REGION)
    s3 = admin.client("s3", region_name=REGION)
    watched = new_bucket(s3, "ct-gaps-adv")
    prefix = _unique("adv")
    name = trail(S3KeyPrefix=prefix)["Name"]
    selectors = [
        {"Name": "writes under in/", "FieldSelectors": [
            {"Field": "eventCategory", "Equals": ["Data"]}, {"Field": "resources.type", "Equals": ["AWS::S3::Object"]},
            {"Field": "resources.ARN", "StartsWith": [f"arn:aws:s3:::{watched}/in/"]},
            {"Field": "eventName", "NotEquals": ["GetObject"]}]},
        {"Name": "management writes", "FieldSelectors": [
            {"Field": "eventCategory", "Equals": ["Management"]}, {"Field": "readOnly", "Equals": ["false"]}]}]
    both = aws_error(lambda: ct.put_event_selectors(
        TrailName=name, EventSelectors=_selectors("arn:aws:s3"), AdvancedEventSelectors=selectors))
    assert both[0] == "InvalidEventSelectorsException"
    no_category = [{"FieldSelectors": [{"Field": "eventName", "Equals": ["PutObject"]}]}]
    assert aws_error(lambda: ct.put_event_selectors(TrailName=name, AdvancedEventSelectors=no_category))[0] == \
        "InvalidEventSelectorsException"

    answer = ct.put_event_selectors(TrailName=name, AdvancedEventSelectors=selectors)
    assert answer["AdvancedEventSelectors"] == selectors and "EventSelectors" not in answer
    got = ct.get_event_selectors(TrailName=name)
    assert got["AdvancedEventSelectors"] == selectors and "EventSelectors" not in got
    ct.start_logging(Name=name)

    s3.put_object(Bucket=watched, Key="in/a.txt", Body=b"a")
    s3.get_object(Bucket=watched, Key="in/a.txt")
    s3.put_object(Bucket=watched, Key="out/b.txt", Body=b"b")
    user = _unique("adv-user")
    admin.client("iam").create_user(UserName=user)
    admin.client("iam").get_user(UserName=user)
    marker = _unique("in/last")
    s3.put_object(Bucket=watched, Key=marker, Body=b"m")

    def seen() -> list[dict[str, Any]] | None:
        records = _records(admin, log_bucket, prefix + "/")
        keys = {(r["eventName"], (r.get("requestParameters") or {}).get("key")) for r in records}
        return records if ("PutObject", marker) in keys and ("CreateUser", None) in keys else None

    records = wait_for(seen)
    data = {(r["eventName"], r["requestParameters"]["key"]) for r in records
            if r["eventCategory"] == "Data" and r["requestParameters"].get("bucketName") == watched}
    assert data == {("PutObject", "in/a.txt"), ("PutObject", marker)}
    mine = {r["eventName"] for r in records if (r.get("requestParameters") or {}).get("userName") == user}
    assert mine == {"CreateUser"}
    assert all(r["readOnly"] is False for r in records if r["eventCategory"] == "Management")

    # basic selectors replace advanced ones
    ct.put_event_selectors(TrailName=name, EventSelectors=[{"ReadWriteType": "All", "IncludeManagementEvents": True}])
    assert "AdvancedEventSelectors" not in ct.get_event_selectors(TrailName=name)
