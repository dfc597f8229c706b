"""S3 Object Lock end to end: buckets created with it (or given it once versioned),
default retention, retention and legal holds on versions, what they refuse (deletion
for good, weakening) and who may bypass GOVERNANCE -- answered as AWS recorded them.

COMPLIANCE retention ends only when Skyhold's clock passes its date, and lifecycle
expiration spares locked versions: those tests move the clock, on a server of their own.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from botocore.config import Config

from .conftest import AwsEnv, Server, aws_error, error_and_status, free_port, new_bucket, static_admin

LOCKED = "Access Denied because object protected by object lock."
NOT_LOCKED_BUCKET = ("InvalidRequest", "Bucket is missing Object Lock Configuration", 400)
NO_OBJECT_CONFIG = ("NoSuchObjectLockConfiguration", "The specified object does not have a ObjectLock configuration",
                    404)
MALFORMED = ("MalformedXML", "The XML you provided was not well-formed or did not validate against our published "
             "schema", 400)


@pytest.fixture
def s3(admin: AwsEnv) -> Any:
    return admin.client("s3", region_name="us-east-1")


def _locked_bucket(s3: Any) -> str:
    name = f"lock-{uuid.uuid4().hex[:12]}"
    s3.create_bucket(Bucket=name, ObjectLockEnabledForBucket=True)
    return name


def _later(**kw: float) -> datetime:
    return datetime.now(UTC) + timedelta(**kw)


# --- buckets --------------------------------------------------------------------------

def test_a_bucket_created_with_object_lock_is_versioned_for_good(admin: AwsEnv, s3: Any) -> None:
    bucket = _locked_bucket(s3)
    assert s3.get_bucket_versioning(Bucket=bucket)["Status"] == "Enabled"
    out = admin.aws_json("s3api", "get-object-lock-configuration", "--bucket", bucket)
    assert out == {"ObjectLockConfiguration": {"ObjectLockEnabled": "Enabled"}}
    assert aws_error(lambda: s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Suspended"})) \
        == ("InvalidBucketState", "An Object Lock configuration is present on this bucket, so the versioning state "
            "cannot be changed.", 409)
    again = s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    assert again["ResponseMetadata"]["HTTPStatusCode"] == 200


def test_object_lock_comes_to_an_existing_bucket_once_versioning_is_enabled(s3: Any) -> None:
    bucket = new_bucket(s3, "lock-late")
    err, status = error_and_status(lambda: s3.get_object_lock_configuration(Bucket=bucket))
    assert (err["Code"], err["Message"], err["BucketName"], status) == (
        "ObjectLockConfigurationNotFoundError", "Object Lock configuration does not exist for this bucket", bucket, 404)
    enable = {"ObjectLockEnabled": "Enabled"}
    state = ("InvalidBucketState", "Versioning must be 'Enabled' on the bucket to apply a Object Lock configuration",
             409)
    assert aws_error(lambda: s3.put_object_lock_configuration(Bucket=bucket, ObjectLockConfiguration=enable)) == state
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Suspended"})
    assert aws_error(lambda: s3.put_object_lock_configuration(Bucket=bucket, ObjectLockConfiguration=enable)) == state
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    put = s3.put_object_lock_configuration(Bucket=bucket, ObjectLockConfiguration=enable)
    assert put["ResponseMetadata"]["HTTPStatusCode"] == 200 and "RequestCharged" not in put
    assert s3.get_object_lock_configuration(Bucket=bucket)["ObjectLockConfiguration"] == enable


def test_default_retention_is_set_read_back_and_removed(s3: Any) -> None:
    bucket = _locked_bucket(s3)
    rule = {"DefaultRetention": {"Mode": "GOVERNANCE", "Days": 1}}
    s3.put_object_lock_configuration(Bucket=bucket, ObjectLockConfiguration={"ObjectLockEnabled": "Enabled",
                                                                              "Rule": rule})
    assert s3.get_object_lock_configuration(Bucket=bucket)["ObjectLockConfiguration"] == {
        "ObjectLockEnabled": "Enabled", "Rule": rule}
    s3.put_object_lock_configuration(Bucket=bucket, ObjectLockConfiguration={"ObjectLockEnabled": "Enabled"})
    assert s3.get_object_lock_configuration(Bucket=bucket)["ObjectLockConfiguration"] == {
        "ObjectLockEnabled": "Enabled"}


def test_malformed_lock_configurations_are_refused(admin: AwsEnv, s3: Any) -> None:
    bucket = _locked_bucket(s3)
    raw = admin.unchecked_client("s3", region_name="us-east-1")
    retention = {"Mode": "GOVERNANCE", "Days": 1}
    for config in ({"Rule": {"DefaultRetention": retention}}, {},
                   {"ObjectLockEnabled": "Enabled", "Rule": {}},
                   {"ObjectLockEnabled": "Enabled", "Rule": {"DefaultRetention": {}}},
                   {"ObjectLockEnabled": "Enabled", "Rule": {"DefaultRetention": {"Mode": "GOVERNANCE"}}},
                   {"ObjectLockEnabled": "Enabled", "Rule": {"DefaultRetention": {"Mode": "BAD-VALUE", "Days": 1}}},
                   {"ObjectLockEnabled": "Enabled", "Rule": {"DefaultRetention": {**retention, "Years": 1}}}):
        assert aws_error(lambda: raw.put_object_lock_configuration(Bucket=bucket, ObjectLockConfiguration=config)) \
            == MALFORMED, config
    err, status = error_and_status(lambda: s3.put_object_lock_configuration(Bucket=bucket, ObjectLockConfiguration={
        "ObjectLockEnabled": "Enabled", "Rule": {"DefaultRetention": {"Mode": "GOVERNANCE", "Days": 0}}}))
    assert (err["Code"], err["Message"], err["ArgumentName"], status) == (
        "InvalidArgument", "Default retention period must be a positive integer value.", "Days", 400)
    missing = f"no-such-bucket-{uuid.uuid4().hex[:8]}"
    assert aws_error(lambda: s3.get_object_lock_configuration(Bucket=missing))[0] == "NoSuchBucket"


# --- retention -----------------------------------------------------------------------

def test_governance_retention_guards_a_version_until_bypassed(s3: Any) -> None:
    bucket = _locked_bucket(s3)
    version = s3.put_object(Bucket=bucket, Key="k", Body=b"test")["VersionId"]
    assert aws_error(lambda: s3.get_object_retention(Bucket=bucket, Key="k", VersionId=version)) == NO_OBJECT_CONFIG
    until = datetime(datetime.now().year + 5, 1, 1, tzinfo=UTC)
    put = s3.put_object_retention(Bucket=bucket, Key="k", Retention={"Mode": "GOVERNANCE", "RetainUntilDate": until})
    assert put["ResponseMetadata"]["HTTPStatusCode"] == 200
    got = s3.get_object_retention(Bucket=bucket, Key="k")
    assert got["Retention"] == {"Mode": "GOVERNANCE", "RetainUntilDate": until}
    head = s3.head_object(Bucket=bucket, Key="k")
    assert (head["ObjectLockMode"], head["ObjectLockRetainUntilDate"]) == ("GOVERNANCE", until)
    assert "ObjectLockLegalHoldStatus" not in head
    assert aws_error(lambda: s3.delete_object(Bucket=bucket, Key="k", VersionId=version)) == (
        "AccessDenied", LOCKED, 403)
    # the date can move later without bypassing, never earlier
    s3.put_object_retention(Bucket=bucket, Key="k", VersionId=version,
                            Retention={"Mode": "GOVERNANCE", "RetainUntilDate": until + timedelta(days=1)})
    assert aws_error(lambda: s3.put_object_retention(
        Bucket=bucket, Key="k", VersionId=version,
        Retention={"Mode": "GOVERNANCE", "RetainUntilDate": until - timedelta(days=365)})) == (
        "AccessDenied", LOCKED, 403)
    deleted = s3.delete_object(Bucket=bucket, Key="k", VersionId=version, BypassGovernanceRetention=True)
    assert deleted["ResponseMetadata"]["HTTPStatusCode"] == 204 and deleted["VersionId"] == version


def test_an_empty_retention_with_bypass_lifts_it(s3: Any) -> None:
    bucket = _locked_bucket(s3)
    version = s3.put_object(Bucket=bucket, Key="k", Body=b"test", ObjectLockMode="GOVERNANCE",
                            ObjectLockRetainUntilDate=_later(days=30))["VersionId"]
    assert aws_error(lambda: s3.put_object_retention(Bucket=bucket, Key="k", Retention={}))[0] == "AccessDenied"
    s3.put_object_retention(Bucket=bucket, Key="k", Retention={}, BypassGovernanceRetention=True)
    assert "ObjectLockMode" not in s3.head_object(Bucket=bucket, Key="k")
    assert aws_error(lambda: s3.get_object_retention(Bucket=bucket, Key="k")) == NO_OBJECT_CONFIG
    s3.delete_object(Bucket=bucket, Key="k", VersionId=version)


def test_retention_requests_are_refused_as_aws_refuses_them(admin: AwsEnv, s3: Any) -> None:
    bucket = _locked_bucket(s3)
    future = {"Mode": "GOVERNANCE", "RetainUntilDate": _later(days=400)}
    missing = f"no-such-bucket-{uuid.uuid4().hex[:8]}"
    assert aws_error(lambda: s3.put_object_retention(Bucket=missing, Key="k", Retention=future))[0] == "NoSuchBucket"
    err, status = error_and_status(lambda: s3.put_object_retention(Bucket=bucket, Key="nope", Retention=future))
    assert (err["Code"], err["Key"], status) == ("NoSuchKey", "nope", 404)
    version = s3.put_object(Bucket=bucket, Key="k", Body=b"test")["VersionId"]
    raw = admin.unchecked_client("s3", region_name="us-east-1")
    assert aws_error(lambda: raw.put_object_retention(Bucket=bucket, Key="k", Retention={"Mode": "GOVERNANCE"},
                                                      BypassGovernanceRetention=True)) == MALFORMED
    assert aws_error(lambda: raw.put_object_retention(Bucket=bucket, Key="k", VersionId=version,
                                                      Retention={**future, "Mode": "BAD-VALUE"})) == MALFORMED
    err, status = error_and_status(lambda: s3.put_object_retention(
        Bucket=bucket, Key="k", VersionId=version,
        Retention={"Mode": "GOVERNANCE", "RetainUntilDate": datetime(2020, 1, 1, tzinfo=UTC)}))
    assert (err["Code"], err["Message"], err["ArgumentName"], err["ArgumentValue"], status) == (
        "InvalidArgument", "The retain until date must be in the future!", "RetainUntilDate",
        "Tue Dec 31 16:00:00 PST 2019", 400)
    plain = new_bucket(s3, "lock-plain")
    s3.put_object(Bucket=plain, Key="k", Body=b"test")
    assert aws_error(lambda: s3.put_object_retention(Bucket=plain, Key="k", Retention=future)) == NOT_LOCKED_BUCKET
    assert aws_error(lambda: s3.get_object_retention(Bucket=plain, Key="k")) == NOT_LOCKED_BUCKET


def test_a_delete_marker_has_no_retention(s3: Any) -> None:
    bucket = _locked_bucket(s3)
    s3.put_object(Bucket=bucket, Key="k", Body=b"test", ObjectLockMode="GOVERNANCE",
                  ObjectLockRetainUntilDate=_later(minutes=10))
    marker = s3.delete_object(Bucket=bucket, Key="k")  # a delete without a version id is not refused
    assert marker["DeleteMarker"] is True and marker["ResponseMetadata"]["HTTPStatusCode"] == 204
    retention = {"Mode": "GOVERNANCE", "RetainUntilDate": _later(days=1)}
    err, status = error_and_status(lambda: s3.put_object_retention(Bucket=bucket, Key="k", VersionId=marker["VersionId"],
                                                         Retention=retention))
    assert (err["Code"], err["Method"], err["ResourceType"], status) == ("MethodNotAllowed", "PUT", "DeleteMarker", 405)
    err, status = error_and_status(lambda: s3.get_object_retention(Bucket=bucket, Key="k", VersionId=marker["VersionId"]))
    assert (err["Code"], err["Method"], status) == ("MethodNotAllowed", "GET", 405)


# --- object lock headers on writes -----------------------------------------------------

def test_lock_headers_on_writes_are_checked(admin: AwsEnv, s3: Any) -> None:
    bucket = _locked_bucket(s3)
    both = "x-amz-object-lock-retain-until-date and x-amz-object-lock-mode must both be supplied"
    err, _ = error_and_status(lambda: s3.put_object(Bucket=bucket, Key="k", Body=b"t", ObjectLockMode="BAD-VALUE"))
    assert (err["Code"], err["Message"], err["ArgumentName"], "ArgumentValue" in err) == (
        "InvalidArgument", both, "x-amz-object-lock-retain-until-date", False)
    err, _ = error_and_status(lambda: s3.put_object(Bucket=bucket, Key="k", Body=b"t",
                                          ObjectLockRetainUntilDate=_later(minutes=10)))
    assert (err["Message"], err["ArgumentName"]) == (both, "x-amz-object-lock-mode")
    worm = ("InvalidArgument", "Unknown wormMode directive.", "x-amz-object-lock-mode", "BAD-VALUE")
    for call in (s3.put_object, s3.create_multipart_upload):
        err, _ = error_and_status(lambda: call(Bucket=bucket, Key="k", ObjectLockMode="BAD-VALUE",
                                     ObjectLockRetainUntilDate=_later(minutes=10)))
        assert (err["Code"], err["Message"], err["ArgumentName"], err["ArgumentValue"]) == worm
    plain = new_bucket(s3, "lock-plain")
    assert aws_error(lambda: s3.put_object(Bucket=plain, Key="k", Body=b"t", ObjectLockLegalHoldStatus="ON")) \
        == ("InvalidRequest", "Bucket is missing ObjectLockConfiguration", 400)  # a write's wording (versitygw#1751)
    # An upload that will be locked must come with Content-MD5 or a checksum.
    bare = admin.session().client("s3", region_name="us-east-1", config=Config(
        request_checksum_calculation="when_required", retries={"max_attempts": 1}))
    assert aws_error(lambda: bare.put_object(Bucket=bucket, Key="k", Body=b"t", ObjectLockLegalHoldStatus="ON")) == (
        "InvalidRequest", "Content-MD5 OR x-amz-checksum- HTTP header is required for Put Object requests with Object "
        "Lock parameters", 400)
    assert "ETag" in bare.put_object(Bucket=bucket, Key="free", Body=b"t")  # nothing to lock: no checksum needed


def test_default_retention_applies_to_new_versions_not_copies_of_locks(s3: Any) -> None:
    bucket = _locked_bucket(s3)
    s3.put_object_lock_configuration(Bucket=bucket, ObjectLockConfiguration={
        "ObjectLockEnabled": "Enabled", "Rule": {"DefaultRetention": {"Mode": "GOVERNANCE", "Days": 1}}})
    put = s3.put_object(Bucket=bucket, Key="k", Body=b"test-default-lock")
    assert set(put) - {"ResponseMetadata"} == {"ETag", "ChecksumCRC32", "ChecksumType", "ServerSideEncryption",
                                               "VersionId"}
    head = s3.head_object(Bucket=bucket, Key="k")
    assert head["ObjectLockMode"] == "GOVERNANCE"
    assert abs(head["ObjectLockRetainUntilDate"] - (head["LastModified"] + timedelta(days=1))) < timedelta(seconds=2)
    # the request's own retention wins over the default
    until = _later(minutes=10).replace(microsecond=0)
    s3.put_object(Bucket=bucket, Key="k", Body=b"x", ObjectLockMode="COMPLIANCE", ObjectLockRetainUntilDate=until,
                  ObjectLockLegalHoldStatus="ON")
    head = s3.head_object(Bucket=bucket, Key="k")
    assert (head["ObjectLockMode"], head["ObjectLockRetainUntilDate"], head["ObjectLockLegalHoldStatus"]) == (
        "COMPLIANCE", until, "ON")
    # a copy gets the destination's default, never the source's lock
    s3.copy_object(Bucket=bucket, Key="copy", CopySource=f"{bucket}/k")
    copied = s3.head_object(Bucket=bucket, Key="copy")
    assert copied["ObjectLockMode"] == "GOVERNANCE" and "ObjectLockLegalHoldStatus" not in copied
    # a multipart upload gets its lock on completion
    up = s3.create_multipart_upload(Bucket=bucket, Key="mp", ObjectLockLegalHoldStatus="ON")
    part = s3.upload_part(Bucket=bucket, Key="mp", UploadId=up["UploadId"], PartNumber=1, Body=b"part")
    s3.complete_multipart_upload(Bucket=bucket, Key="mp", UploadId=up["UploadId"],
                                 MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": part["ETag"]}]})
    assert s3.get_object_legal_hold(Bucket=bucket, Key="mp")["LegalHold"] == {"Status": "ON"}


def test_a_copy_into_a_bucket_without_default_keeps_no_lock(s3: Any) -> None:
    bucket = _locked_bucket(s3)
    s3.put_object(Bucket=bucket, Key="src", Body=b'{"key": "value"}', ObjectLockMode="GOVERNANCE",
                  ObjectLockRetainUntilDate=_later(minutes=10))
    out = s3.copy_object(Bucket=bucket, CopySource=f"{bucket}/src", Key="dest")
    assert set(out) - {"ResponseMetadata"} == {"CopyObjectResult", "CopySourceVersionId", "ServerSideEncryption",
                                               "VersionId"}
    head = s3.head_object(Bucket=bucket, Key="dest")
    assert not {"ObjectLockMode", "ObjectLockRetainUntilDate", "ObjectLockLegalHoldStatus"} & set(head)


# --- legal holds ---------------------------------------------------------------------

def test_a_legal_hold_guards_a_version_until_it_is_off(s3: Any) -> None:
    bucket = _locked_bucket(s3)
    version = s3.put_object(Bucket=bucket, Key="k", Body=b"test")["VersionId"]
    assert aws_error(lambda: s3.get_object_legal_hold(Bucket=bucket, Key="k", VersionId=version)) == NO_OBJECT_CONFIG
    put = s3.put_object_legal_hold(Bucket=bucket, Key="k", VersionId=version, LegalHold={"Status": "ON"})
    assert put["ResponseMetadata"]["HTTPStatusCode"] == 200
    assert s3.head_object(Bucket=bucket, Key="k")["ObjectLockLegalHoldStatus"] == "ON"
    assert s3.get_object_legal_hold(Bucket=bucket, Key="k", VersionId=version)["LegalHold"] == {"Status": "ON"}
    # a legal hold yields to no bypass
    assert aws_error(lambda: s3.delete_object(Bucket=bucket, Key="k", VersionId=version,
                                              BypassGovernanceRetention=True)) == ("AccessDenied", LOCKED, 403)
    out = s3.delete_objects(Bucket=bucket, Delete={"Objects": [{"Key": "k", "VersionId": version}]})
    assert out["Errors"] == [{"Key": "k", "VersionId": version, "Code": "AccessDenied", "Message": LOCKED}]
    assert "Deleted" not in out or out["Deleted"] == []
    s3.put_object_legal_hold(Bucket=bucket, Key="k", VersionId=version, LegalHold={"Status": "OFF"})
    assert s3.head_object(Bucket=bucket, Key="k", VersionId=version)["ObjectLockLegalHoldStatus"] == "OFF"
    deleted = s3.delete_object(Bucket=bucket, Key="k", VersionId=version)
    assert deleted["VersionId"] == version and deleted["ResponseMetadata"]["HTTPStatusCode"] == 204


def test_legal_hold_requests_are_refused_as_aws_refuses_them(admin: AwsEnv, s3: Any) -> None:
    bucket = _locked_bucket(s3)
    assert aws_error(lambda: s3.put_object_legal_hold(Bucket=f"no-such-{uuid.uuid4().hex[:8]}", Key="k",
                                                      LegalHold={"Status": "ON"}))[0] == "NoSuchBucket"
    err, status = error_and_status(lambda: s3.put_object_legal_hold(Bucket=bucket, Key="nope", LegalHold={"Status": "ON"}))
    assert (err["Code"], err["Key"], status) == ("NoSuchKey", "nope", 404)
    plain = new_bucket(s3, "lock-plain")
    s3.put_object(Bucket=plain, Key="k", Body=b"test")
    assert aws_error(lambda: s3.put_object_legal_hold(Bucket=plain, Key="k", LegalHold={"Status": "ON"})) \
        == NOT_LOCKED_BUCKET
    assert aws_error(lambda: s3.put_object_legal_hold(Bucket=plain, Key="k")) == MALFORMED  # before the bucket
    assert aws_error(lambda: s3.get_object_legal_hold(Bucket=plain, Key="k")) == NOT_LOCKED_BUCKET


def test_the_bypass_header_needs_an_object_lock_bucket(s3: Any) -> None:
    bucket = new_bucket(s3, "lock-plain")
    s3.put_object(Bucket=bucket, Key="k", Body=b"test")
    for bypass in (True, False):
        err, status = error_and_status(lambda: s3.delete_object(Bucket=bucket, Key="k", BypassGovernanceRetention=bypass))
        assert (err["Code"], err["Message"], err["ArgumentName"], status) == (
            "InvalidArgument", "x-amz-bypass-governance-retention is only applicable to Object Lock enabled buckets.",
            "x-amz-bypass-governance-retention", 400)
    assert aws_error(lambda: s3.delete_objects(Bucket=bucket, Delete={"Objects": [{"Key": "k"}]},
                                               BypassGovernanceRetention=True))[0] == "InvalidArgument"


# --- authorization -------------------------------------------------------------------

def test_bypassing_governance_needs_its_own_permission(admin: AwsEnv, s3: Any) -> None:
    bucket = _locked_bucket(s3)
    version = s3.put_object(Bucket=bucket, Key="k", Body=b"test", ObjectLockMode="GOVERNANCE",
                            ObjectLockRetainUntilDate=_later(days=1))["VersionId"]
    everything_else = admin.client_for(admin.new_user({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": "s3:*", "Resource": "*"},
        {"Effect": "Deny", "Action": ["s3:BypassGovernanceRetention", "s3:GetObjectRetention"], "Resource": "*"}]}),
        "s3")
    assert aws_error(lambda: everything_else.delete_object(  # type: ignore[attr-defined]
        Bucket=bucket, Key="k", VersionId=version, BypassGovernanceRetention=True)) == ("AccessDenied", LOCKED, 403)
    # without s3:GetObjectRetention, HeadObject leaves the retention out
    head = everything_else.head_object(Bucket=bucket, Key="k")  # type: ignore[attr-defined]
    assert "ObjectLockMode" not in head and "ObjectLockRetainUntilDate" not in head
    # setting a retention is s3:PutObjectRetention, with the s3:object-lock-* condition keys
    capped = admin.client_for(admin.new_user({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": ["s3:PutObject", "s3:PutObjectRetention"], "Resource": "*"},
        {"Effect": "Deny", "Action": "s3:PutObjectRetention", "Resource": "*",
         "Condition": {"NumericGreaterThan": {"s3:object-lock-remaining-retention-days": "10"}}}]}), "s3")
    short = {"ObjectLockMode": "GOVERNANCE", "ObjectLockRetainUntilDate": _later(days=5)}
    assert "VersionId" in capped.put_object(Bucket=bucket, Key="short", Body=b"x", **short)  # type: ignore[attr-defined]
    assert aws_error(lambda: capped.put_object(  # type: ignore[attr-defined]
        Bucket=bucket, Key="long", Body=b"x", ObjectLockMode="GOVERNANCE",
        ObjectLockRetainUntilDate=_later(days=20)))[0] == "AccessDenied"
    assert aws_error(lambda: capped.put_object_legal_hold(  # type: ignore[attr-defined]
        Bucket=bucket, Key="short", LegalHold={"Status": "ON"}))[0] == "AccessDenied"
    s3.delete_object(Bucket=bucket, Key="k", VersionId=version, BypassGovernanceRetention=True)


# --- COMPLIANCE and lifecycle, by Skyhold's clock -----------------------------------

@pytest.fixture(scope="module")
def srv(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    server = Server(tmp_path_factory.mktemp("object-lock") / "data", free_port())
    server.start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def own(srv: Server, tmp_path_factory: pytest.TempPathFactory) -> Any:
    return static_admin(srv, tmp_path_factory.mktemp("object-lock-home")).client("s3", region_name="us-east-1")


def _advance(srv: Server, span: str) -> None:
    out = srv.cli("clock", "advance", span, "--endpoint", srv.endpoint)
    assert out.returncode == 0, out.stderr


def _clock_now(srv: Server) -> datetime:
    """Skyhold's time ("Skyhold's time: <iso> (real time + Ns)")."""
    out = srv.cli("clock", "show", "--endpoint", srv.endpoint)
    assert out.returncode == 0, out.stderr
    return datetime.fromisoformat(out.stdout.split("Skyhold's time: ", 1)[1].split(" ", 1)[0])


def test_compliance_holds_against_everyone_until_the_clock_passes_it(srv: Server, own: Any) -> None:
    bucket = _locked_bucket(own)
    version = own.put_object(Bucket=bucket, Key="k", Body=b"test")["VersionId"]
    until = _clock_now(srv) + timedelta(hours=1)
    own.put_object_retention(Bucket=bucket, Key="k", Retention={"Mode": "COMPLIANCE", "RetainUntilDate": until})
    denied = ("AccessDenied", LOCKED, 403)
    assert aws_error(lambda: own.delete_object(Bucket=bucket, Key="k", VersionId=version)) == denied
    assert aws_error(lambda: own.delete_object(Bucket=bucket, Key="k", VersionId=version,
                                               BypassGovernanceRetention=True)) == denied
    for weaker in ({"Mode": "COMPLIANCE", "RetainUntilDate": until - timedelta(seconds=1)},
                   {"Mode": "GOVERNANCE", "RetainUntilDate": until + timedelta(seconds=1)}):
        assert aws_error(lambda: own.put_object_retention(Bucket=bucket, Key="k", VersionId=version, Retention=weaker,
                                                          BypassGovernanceRetention=True)) == denied
    marker = own.delete_object(Bucket=bucket, Key="k")
    assert marker["DeleteMarker"] is True
    _advance(srv, "2h")
    gone = own.delete_object(Bucket=bucket, Key="k", VersionId=version)
    assert gone["VersionId"] == version and gone["ResponseMetadata"]["HTTPStatusCode"] == 204


def test_lifecycle_expiration_spares_locked_versions(srv: Server, own: Any) -> None:
    bucket = _locked_bucket(own)
    held = own.put_object(Bucket=bucket, Key="held", Body=b"1", ObjectLockLegalHoldStatus="ON")["VersionId"]
    free = own.put_object(Bucket=bucket, Key="free", Body=b"1")["VersionId"]
    for key in ("held", "free"):
        own.put_object(Bucket=bucket, Key=key, Body=b"2")  # the first versions become noncurrent
    own.put_bucket_lifecycle_configuration(Bucket=bucket, LifecycleConfiguration={"Rules": [
        {"ID": "old", "Status": "Enabled", "Filter": {}, "NoncurrentVersionExpiration": {"NoncurrentDays": 1}}]})
    _advance(srv, "3d")
    left = {(v["Key"], v["VersionId"]) for v in own.list_object_versions(Bucket=bucket).get("Versions", [])}
    assert ("held", held) in left and ("free", free) not in left
