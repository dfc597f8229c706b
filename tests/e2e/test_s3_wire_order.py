"""Where Skyhold's S3 differed from AWS's recorded answers: which check comes first (a
missing bucket before an unreadable body), a Tagging without TagSet, the bucket
policy's size limit, HeadBucket's Content-Type, and version ids S3 never issued."""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from skyhold.errors import AwsError
from skyhold.services.s3 import records, versions
from skyhold.store.sqlite import SqliteStore

from .conftest import AwsEnv, aws_error, error_and_status, new_bucket

MALFORMED = ("MalformedXML", "The XML you provided was not well-formed or did not validate against our "
             "published schema", 400)


def _missing_bucket() -> str:
    return f"wire-order-none-{uuid.uuid4().hex[:12]}"


# ---- a missing bucket is answered before the body is read -------------------------------

def test_missing_bucket_comes_before_a_body_missing_a_required_element(admin: AwsEnv) -> None:
    """Recorded: PutBucketEncryption with no Rule is NoSuchBucket on a missing bucket,
    MalformedXML on an existing one."""
    s3: Any = admin.client("s3", region_name="us-east-1")
    missing = _missing_bucket()
    err, status = error_and_status(lambda: s3.put_bucket_encryption(
        Bucket=missing, ServerSideEncryptionConfiguration={"Rules": []}))
    assert (err["Code"], err["Message"], err["BucketName"], status) == (
        "NoSuchBucket", "The specified bucket does not exist", missing, 404)
    bucket = new_bucket(s3, "wire-order-enc")
    assert aws_error(lambda: s3.put_bucket_encryption(
        Bucket=bucket, ServerSideEncryptionConfiguration={"Rules": []})) == MALFORMED


def test_missing_bucket_comes_first_with_the_aws_cli(admin: AwsEnv) -> None:
    missing = _missing_bucket()
    out = admin.aws("s3api", "put-bucket-encryption", "--bucket", missing,
                    "--server-side-encryption-configuration", '{"Rules": []}')
    assert out.returncode != 0
    assert "(NoSuchBucket)" in out.stderr and "The specified bucket does not exist" in out.stderr


# ---- Tagging without TagSet ----------------------------------------------------------------

def test_put_bucket_tagging_without_a_tag_set_clears_the_tags(admin: AwsEnv) -> None:
    s3 = admin.unchecked_client("s3", region_name="us-east-1")  # the SDK insists on a TagSet
    bucket = new_bucket(s3, "wire-order-btag")
    s3.put_bucket_tagging(Bucket=bucket, Tagging={"TagSet": [{"Key": "k", "Value": "v"}]})
    out = s3.put_bucket_tagging(Bucket=bucket, Tagging={"TagSet": None})
    assert out["ResponseMetadata"]["HTTPStatusCode"] == 204
    err, status = error_and_status(lambda: s3.get_bucket_tagging(Bucket=bucket))
    assert (err["Code"], err["Message"], err["BucketName"], status) == (
        "NoSuchTagSet", "The TagSet does not exist", bucket, 404)


def test_put_object_tagging_without_a_tag_set_clears_the_tags(admin: AwsEnv) -> None:
    s3 = admin.unchecked_client("s3", region_name="us-east-1")
    bucket = new_bucket(s3, "wire-order-otag")
    s3.put_object(Bucket=bucket, Key="k", Body=b"x", Tagging="a=b")
    out = s3.put_object_tagging(Bucket=bucket, Key="k", Tagging={"TagSet": None})
    assert out["ResponseMetadata"]["HTTPStatusCode"] == 200
    assert s3.get_object_tagging(Bucket=bucket, Key="k")["TagSet"] == []


def test_a_tag_without_its_key_is_still_malformed(admin: AwsEnv) -> None:
    s3 = admin.unchecked_client("s3", region_name="us-east-1")
    bucket = new_bucket(s3, "wire-order-tagkey")
    assert aws_error(lambda: s3.put_bucket_tagging(Bucket=bucket, Tagging={"TagSet": [{"Value": "v"}]})) == MALFORMED


# ---- bucket policy size ------------------------------------------------------------------

def _policy(bucket: str, account: str, statements: int) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": [
        {"Sid": f"Read{i}", "Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{account}:root"},
         "Action": "s3:GetObject", "Resource": f"arn:aws:s3:::{bucket}/prefix-{i:04d}/*"}
        for i in range(statements)]}, separators=(",", ":"))


def test_bucket_policy_over_20_kb_is_refused(admin: AwsEnv) -> None:
    s3: Any = admin.client("s3", region_name="us-east-1")
    account = admin.client("sts").get_caller_identity()["Account"]  # type: ignore[attr-defined]
    bucket = new_bucket(s3, "wire-order-policy")
    fits = 1
    while len(_policy(bucket, account, fits + 1)) <= 20 * 1024:
        fits += 1
    under, over = _policy(bucket, account, fits), _policy(bucket, account, fits + 1)
    assert len(under) <= 20 * 1024 < len(over)
    s3.put_bucket_policy(Bucket=bucket, Policy=under)
    err, status = error_and_status(lambda: s3.put_bucket_policy(Bucket=bucket, Policy=over))
    assert (err["Code"], err["Message"], status) == (
        "MalformedPolicy", "Policy exceeds the maximum allowed document size.", 400)
    assert json.loads(s3.get_bucket_policy(Bucket=bucket)["Policy"]) == json.loads(under)  # the old one stays


# ---- HeadBucket's Content-Type --------------------------------------------------------------

def test_head_bucket_answers_with_an_xml_content_type(admin: AwsEnv) -> None:
    s3: Any = admin.client("s3", region_name="us-east-1")
    bucket = new_bucket(s3, "wire-order-head")
    headers = s3.head_bucket(Bucket=bucket)["ResponseMetadata"]["HTTPHeaders"]
    assert headers["content-type"] == "application/xml"


# ---- version ids S3 never issued --------------------------------------------------------------

def _tampered(version_id: str) -> str:
    tail = "ABCD" if version_id[-4:] != "ABCD" else "ABCE"
    return version_id[:-4] + tail


def test_new_version_ids_carry_a_check() -> None:
    vid = versions.new_version_id("0123456789abcdef")
    assert len(vid) == 32 and vid.startswith("0123456789abcdef")
    assert all(c.isascii() and (c.isalnum() or c in "._") for c in vid)  # URL-safe as it is
    assert versions.well_formed(vid) and versions.well_formed("null")
    assert not versions.well_formed(_tampered(vid))
    assert not versions.well_formed(vid[:20] + ("x" if vid[20] != "x" else "y") + vid[21:])


@pytest.mark.parametrize("operation", ["get_object", "delete_object", "get_object_tagging"])
def test_an_altered_version_id_is_invalid_not_missing(admin: AwsEnv, operation: str) -> None:
    """Recorded: a real version id with its last four characters replaced is 400
    InvalidArgument, for a delete too (which never says a version is missing)."""
    s3: Any = admin.client("s3", region_name="us-east-1")
    bucket = new_bucket(s3, "wire-order-vid", versioning="Enabled")
    vid = s3.put_object(Bucket=bucket, Key="k", Body=b"x")["VersionId"]
    bad = _tampered(vid)
    err, status = error_and_status(lambda: getattr(s3, operation)(Bucket=bucket, Key="k", VersionId=bad))
    assert (err["Code"], err["Message"], err["ArgumentName"], err["ArgumentValue"], status) == (
        "InvalidArgument", "Invalid version id specified", "versionId", bad, 400)
    assert s3.get_object(Bucket=bucket, Key="k", VersionId=vid)["Body"].read() == b"x"  # nothing deleted


def test_an_altered_version_id_on_head_and_on_an_unversioned_bucket(admin: AwsEnv) -> None:
    s3: Any = admin.client("s3", region_name="us-east-1")
    bucket = new_bucket(s3, "wire-order-vid-head", versioning="Enabled")
    vid = s3.put_object(Bucket=bucket, Key="k", Body=b"x")["VersionId"]
    assert aws_error(lambda: s3.head_object(Bucket=bucket, Key="k", VersionId=_tampered(vid))) == (
        "400", "Bad Request", 400)
    plain = new_bucket(s3, "wire-order-vid-plain")
    s3.put_object(Bucket=plain, Key="k", Body=b"x")
    assert aws_error(lambda: s3.delete_object(Bucket=plain, Key="k", VersionId=_tampered(vid)))[0] == "InvalidArgument"
    # An id S3 did issue, of a version this bucket does not have, is merely missing.
    err, status = error_and_status(lambda: s3.get_object(Bucket=plain, Key="k", VersionId=vid))
    assert (err["Code"], err["VersionId"], status) == ("NoSuchVersion", vid, 404)


def test_an_issued_version_id_of_another_key_is_no_such_version(admin: AwsEnv) -> None:
    s3: Any = admin.client("s3", region_name="us-east-1")
    bucket = new_bucket(s3, "wire-order-vid-other", versioning="Enabled")
    vid = s3.put_object(Bucket=bucket, Key="a", Body=b"x")["VersionId"]
    s3.put_object(Bucket=bucket, Key="b", Body=b"y")
    err, status = error_and_status(lambda: s3.get_object(Bucket=bucket, Key="b", VersionId=vid))
    assert (err["Code"], err["Message"], err["Key"], err["VersionId"], status) == (
        "NoSuchVersion", "The specified version does not exist.", "b", vid, 404)


def test_delete_objects_reports_an_altered_version_id_as_no_such_version(admin: AwsEnv) -> None:
    """Recorded: DeleteObjects lists a version id S3 never issued as a NoSuchVersion failure."""
    s3: Any = admin.client("s3", region_name="us-east-1")
    bucket = new_bucket(s3, "wire-order-vid-batch", versioning="Enabled")
    vid = s3.put_object(Bucket=bucket, Key="k", Body=b"x")["VersionId"]
    bad = _tampered(vid)
    out = s3.delete_objects(Bucket=bucket, Delete={"Objects": [{"Key": "k", "VersionId": bad},
                                                               {"Key": "other", "VersionId": bad}]})
    assert out.get("Deleted", []) == []
    assert out["Errors"] == [
        {"Key": key, "VersionId": bad, "Code": "NoSuchVersion", "Message": "The specified version does not exist."}
        for key in ("k", "other")]
    assert s3.get_object(Bucket=bucket, Key="k", VersionId=vid)["Body"].read() == b"x"


def test_an_id_issued_before_the_check_still_finds_its_version(tmp_path: Path) -> None:
    """Ids Skyhold issued before they carried a check name their versions still; the same
    id for a version that is not there is refused as S3 refuses an id it never issued."""
    store = SqliteStore(tmp_path / "db.sqlite")
    sort = records.new_sort()
    old_id = sort + "A" * 16  # the former shape: sort key + 16 random characters, no check
    assert not versions.well_formed(old_id)
    value = {"key": "k", "sort": sort, "vid": old_id}
    store.put(records.VERSION, records.version_key("b", "k", sort), value)
    call = SimpleNamespace(store=store)
    bucket = {"Name": "b", "Versioning": "Enabled"}
    hit = versions.find(call, bucket, "k", old_id)  # type: ignore[arg-type]
    assert hit is not None and hit[1]["vid"] == old_id
    with pytest.raises(AwsError) as info:
        versions.find(call, bucket, "other", old_id)  # type: ignore[arg-type]
    assert (info.value.code, info.value.message) == ("InvalidArgument", "Invalid version id specified")
    store.close()
