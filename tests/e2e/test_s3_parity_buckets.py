"""S3 bucket operations answered as AWS answers them: codes, messages, error fields and
statuses recorded from real AWS (LocalStack's AWS-validated snapshots of the same
requests)."""

from __future__ import annotations

import datetime
import json
import uuid
from typing import Any

import pytest
from botocore.exceptions import ClientError

from .conftest import AwsEnv, aws_error

MALFORMED_XML = "The XML you provided was not well-formed or did not validate against our published schema"


def _name(prefix: str) -> str:
    return f"parity-{prefix}-{uuid.uuid4().hex[:8]}"


def _s3(admin: AwsEnv, region: str = "us-east-1", checked: bool = True) -> Any:
    return admin.client("s3", region_name=region) if checked else admin.unchecked_client("s3", region_name=region)


def _bucket(admin: AwsEnv, prefix: str) -> tuple[Any, str]:
    s3 = _s3(admin)
    name = _name(prefix)
    s3.create_bucket(Bucket=name)
    return s3, name


def _error(call: Any) -> dict[str, Any]:
    """The whole <Error> (fields included) and the status of the error `call` ends in."""
    with pytest.raises(ClientError) as e:
        call()
    return {**e.value.response["Error"], "status": e.value.response["ResponseMetadata"]["HTTPStatusCode"]}


def _status(response: dict[str, Any]) -> int:
    return response["ResponseMetadata"]["HTTPStatusCode"]


# --- CreateBucket / HeadBucket / DeleteBucket ---------------------------------------------

@pytest.mark.parametrize("constraint", ["us-west-1", "us-east-2"])
def test_recreating_a_bucket_of_another_region_through_us_east_1_is_refused(admin: AwsEnv, constraint: str) -> None:
    """us-east-1's legacy 200 for a re-create holds only for a us-east-1 bucket."""
    s3 = _s3(admin)
    name = _name("recreate")
    s3.create_bucket(Bucket=name, CreateBucketConfiguration={"LocationConstraint": "us-west-1"})
    err = _error(lambda: s3.create_bucket(Bucket=name, CreateBucketConfiguration={"LocationConstraint": constraint}))
    assert err == {"Code": "BucketAlreadyOwnedByYou", "BucketName": name, "status": 409,
                   "Message": "Your previous request to create the named bucket succeeded and you already own it."}
    same = _name("recreate-east")
    s3.create_bucket(Bucket=same)
    assert _status(s3.create_bucket(Bucket=same)) == 200  # the legacy answer itself stays


def test_eu_location_constraint_error_names_eu(admin: AwsEnv) -> None:
    s3 = _s3(admin, "us-east-2")
    assert aws_error(lambda: s3.create_bucket(Bucket=_name("eu"), CreateBucketConfiguration={
        "LocationConstraint": "EU"})) == (
        "IllegalLocationConstraintException",
        "The EU location constraint is incompatible for the region specific endpoint this request was sent to.", 400)


@pytest.mark.parametrize("ownership", ["RandomValue", ""])
def test_create_bucket_with_an_invalid_object_ownership(admin: AwsEnv, ownership: str) -> None:
    s3 = _s3(admin)
    err = _error(lambda: s3.create_bucket(Bucket=_name("own"), ObjectOwnership=ownership))
    assert err == {"Code": "InvalidArgument", "Message": f"Invalid x-amz-object-ownership header: {ownership}",
                   "ArgumentName": "x-amz-object-ownership", "status": 400}


def test_head_bucket_names_the_bucket_arn(admin: AwsEnv) -> None:
    s3, name = _bucket(admin, "head")
    head = s3.head_bucket(Bucket=name)
    assert head["BucketArn"] == f"arn:aws:s3:::{name}"
    assert head["ResponseMetadata"]["HTTPHeaders"]["x-amz-bucket-arn"] == f"arn:aws:s3:::{name}"


def test_owner_carries_no_display_name(admin: AwsEnv) -> None:
    s3, name = _bucket(admin, "owner")
    assert set(s3.list_buckets()["Owner"]) == {"ID"}
    assert set(s3.get_bucket_acl(Bucket=name)["Owner"]) == {"ID"}


def test_delete_bucket_answers_204(admin: AwsEnv) -> None:
    s3, name = _bucket(admin, "delete")
    assert _status(s3.delete_bucket(Bucket=name)) == 204


def test_deleting_a_versioned_bucket_with_versions_says_to_delete_them(admin: AwsEnv) -> None:
    s3, name = _bucket(admin, "delete-versioned")
    s3.put_bucket_versioning(Bucket=name, VersioningConfiguration={"Status": "Enabled"})
    put = s3.put_object(Bucket=name, Key="k", Body=b"x")
    marker = s3.delete_object(Bucket=name, Key="k")
    s3.delete_object(Bucket=name, Key="k", VersionId=put["VersionId"])
    err = _error(lambda: s3.delete_bucket(Bucket=name))  # only the delete marker is left
    assert err == {"Code": "BucketNotEmpty", "BucketName": name, "status": 409,
                   "Message": "The bucket you tried to delete is not empty. You must delete all versions in the bucket."}
    s3.delete_object(Bucket=name, Key="k", VersionId=marker["VersionId"])
    assert _status(s3.delete_bucket(Bucket=name)) == 204


# --- versioning, encryption, ownership controls, public access block -----------------------

def test_empty_versioning_configuration(admin: AwsEnv) -> None:
    s3, name = _bucket(admin, "versioning")
    assert aws_error(lambda: s3.put_bucket_versioning(Bucket=name, VersioningConfiguration={})) == (
        "IllegalVersioningConfigurationException", "The Versioning element must be specified", 400)
    assert aws_error(lambda: s3.put_bucket_versioning(Bucket=name, VersioningConfiguration={"Status": "Disabled"})) \
        == ("MalformedXML", MALFORMED_XML, 400)


def test_bucket_encryption_takes_exactly_one_rule(admin: AwsEnv) -> None:
    s3, name = _bucket(admin, "enc-rules")
    rules = [{"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "aws:kms"}, "BucketKeyEnabled": True},
             {"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}]
    assert aws_error(lambda: s3.put_bucket_encryption(
        Bucket=name, ServerSideEncryptionConfiguration={"Rules": rules})) == ("MalformedXML", MALFORMED_XML, 400)
    rule = s3.get_bucket_encryption(Bucket=name)["ServerSideEncryptionConfiguration"]["Rules"][0]
    assert rule["ApplyServerSideEncryptionByDefault"]["SSEAlgorithm"] == "AES256"  # nothing was kept


def test_kms_key_with_sse_s3_names_the_argument_only(admin: AwsEnv) -> None:
    s3, name = _bucket(admin, "enc-kms-aes")
    err = _error(lambda: s3.put_bucket_encryption(Bucket=name, ServerSideEncryptionConfiguration={"Rules": [
        {"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256", "KMSMasterKeyID": "randomkeyid"}}]}))
    assert err == {"Code": "InvalidArgument", "ArgumentName": "ApplyServerSideEncryptionByDefault", "status": 400,
                   "Message": "a KMSMasterKeyID is not applicable if the default sse algorithm is not aws:kms or "
                              "aws:kms:dsse"}


def test_ownership_controls_take_exactly_one_rule(admin: AwsEnv) -> None:
    s3, name = _bucket(admin, "own-rules")
    assert aws_error(lambda: s3.put_bucket_ownership_controls(Bucket=name, OwnershipControls={"Rules": [
        {"ObjectOwnership": "BucketOwnerPreferred"}, {"ObjectOwnership": "ObjectWriter"}]})) == (
        "MalformedXML", MALFORMED_XML, 400)
    rules = s3.get_bucket_ownership_controls(Bucket=name)["OwnershipControls"]["Rules"]
    assert rules == [{"ObjectOwnership": "BucketOwnerEnforced"}]


def test_configuration_deletes_answer_204(admin: AwsEnv) -> None:
    s3, name = _bucket(admin, "deletes")
    for _ in range(2):  # idempotent, with the same answer
        assert _status(s3.delete_bucket_encryption(Bucket=name)) == 204
        assert _status(s3.delete_bucket_ownership_controls(Bucket=name)) == 204
        assert _status(s3.delete_public_access_block(Bucket=name)) == 204
        assert _status(s3.delete_bucket_policy(Bucket=name)) == 204
        assert _status(s3.delete_bucket_tagging(Bucket=name)) == 204


# --- bucket policy -------------------------------------------------------------------------

def test_put_bucket_policy_answers_204(admin: AwsEnv) -> None:
    s3, name = _bucket(admin, "policy")
    policy = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"AWS": "*"},
                                                       "Action": "s3:GetObject", "Resource": f"arn:aws:s3:::{name}/*"}]}
    s3.delete_public_access_block(Bucket=name)
    assert _status(s3.put_bucket_policy(Bucket=name, Policy=json.dumps(policy))) == 204
    assert json.loads(s3.get_bucket_policy(Bucket=name)["Policy"]) == policy


def test_policy_without_statement(admin: AwsEnv) -> None:
    s3, name = _bucket(admin, "policy-empty")
    assert aws_error(lambda: s3.put_bucket_policy(Bucket=name, Policy="{}")) == (
        "MalformedPolicy", "Missing required field Statement", 400)


@pytest.mark.parametrize("owner", ["0000", "0000000000020", "abcd", "aa000000000$", "invalid"])
def test_expected_bucket_owner_must_be_an_account_id(admin: AwsEnv, owner: str) -> None:
    s3, name = _bucket(admin, "owner-id")
    expected = ("InvalidBucketOwnerAWSAccountID",
                f"The value of the expected bucket owner parameter must be an AWS Account ID... [{owner}]", 400)
    assert aws_error(lambda: s3.get_bucket_policy(Bucket=name, ExpectedBucketOwner=owner)) == expected
    assert aws_error(lambda: s3.put_bucket_policy(Bucket=name, Policy="{}", ExpectedBucketOwner=owner)) == expected
    assert aws_error(lambda: s3.delete_bucket_policy(Bucket=name, ExpectedBucketOwner=owner)) == expected
    # A well-formed id of another account is still a plain denial.
    assert aws_error(lambda: s3.get_bucket_policy(Bucket=name, ExpectedBucketOwner="000000000002")) == (
        "AccessDenied", "Access Denied", 403)


# --- tagging -------------------------------------------------------------------------------

def test_bucket_tagging_statuses_and_missing_tag_set(admin: AwsEnv) -> None:
    s3, name = _bucket(admin, "tags")
    assert _error(lambda: s3.get_bucket_tagging(Bucket=name)) == {
        "Code": "NoSuchTagSet", "Message": "The TagSet does not exist", "BucketName": name, "status": 404}
    put = s3.put_bucket_tagging(Bucket=name, Tagging={"TagSet": [{"Key": "tag1", "Value": "tag1"},
                                                                 {"Key": "tag2", "Value": ""}]})
    assert _status(put) == 204
    assert s3.get_bucket_tagging(Bucket=name)["TagSet"] == [{"Key": "tag1", "Value": "tag1"},
                                                            {"Key": "tag2", "Value": ""}]


@pytest.mark.parametrize(("tags", "expected"), [
    ([{"Key": "Key1", "Value": "Val1"}, {"Key": "Key1", "Value": "Val1"}],
     {"Code": "InvalidTag", "Message": "Cannot provide multiple Tags with the same key", "TagKey": "Key1"}),
    ([{"Key": "Key1,Key2", "Value": "Val1"}],
     {"Code": "InvalidTag", "Message": "The TagKey you have provided is invalid", "TagKey": "Key1,Key2"}),
    ([{"Key": "Key1", "Value": "Val1,Val2"}],
     {"Code": "InvalidTag", "Message": "The TagValue you have provided is invalid", "TagKey": "Key1",
      "TagValue": "Val1,Val2"}),
    ([{"Key": "aws:prefixed", "Value": "Val1"}],
     {"Code": "InvalidTag", "Message": "System tags cannot be added/updated by requester", "TagKey": "aws:prefixed"}),
    ([{"Key": None, "Value": "Val1"}], {"Code": "MalformedXML", "Message": MALFORMED_XML}),
    ([{"Key": "Key1", "Value": None}], {"Code": "MalformedXML", "Message": MALFORMED_XML}),
])
def test_bucket_tag_validation(admin: AwsEnv, tags: list[dict[str, Any]], expected: dict[str, str]) -> None:
    s3 = _s3(admin, checked=False)
    name = _name("tag-check")
    s3.create_bucket(Bucket=name)
    assert _error(lambda: s3.put_bucket_tagging(Bucket=name, Tagging={"TagSet": tags})) == {**expected, "status": 400}


def test_object_tag_keys_may_not_start_with_aws(admin: AwsEnv) -> None:
    s3, name = _bucket(admin, "obj-tag")
    s3.put_object(Bucket=name, Key="o", Body=b"x")
    err = _error(lambda: s3.put_object_tagging(Bucket=name, Key="o", Tagging={"TagSet": [
        {"Key": "aws:prefixed", "Value": "Val1"}]}))
    assert err == {"Code": "InvalidTag", "Message": "Your TagKey cannot be prefixed with aws:",
                   "TagKey": "aws:prefixed", "status": 400}
    tags = [{"Key": "a b+c-d=e.f_g:h/i@j", "Value": "é 1"}]  # every character S3 allows
    s3.put_object_tagging(Bucket=name, Key="o", Tagging={"TagSet": tags})
    assert s3.get_object_tagging(Bucket=name, Key="o")["TagSet"] == tags


# --- lifecycle -------------------------------------------------------------------------------

def test_lifecycle_date_not_at_midnight_names_the_date(admin: AwsEnv) -> None:
    s3, name = _bucket(admin, "lifecycle-date")
    err = _error(lambda: s3.put_bucket_lifecycle_configuration(Bucket=name, LifecycleConfiguration={"Rules": [
        {"ID": "wrong-date", "Filter": {}, "Status": "Enabled",
         "Expiration": {"Date": datetime.datetime(2023, 1, 1, 2, 2)}}]}))
    assert (err["Code"], err["Message"], err["ArgumentName"], err["status"]) == (
        "InvalidArgument", "'Date' must be at midnight GMT", "Date", 400)
    assert err["ArgumentValue"].startswith("2023-01-01T02:02")
