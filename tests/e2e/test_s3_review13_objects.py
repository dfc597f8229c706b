"""S3 object operations against what AWS recorded or documents: copying an object onto
itself (when S3 finds it changed), the version ids a copy names, x-amz-copy-source's
form encoding, the directives' checks, a delete marker named on GET/HEAD's 404 (and
Allow on its 405), response-* overrides refused to anonymous callers, the listing
fields encoding-type=url covers, and ListObjectVersions paging inside a key (IsLatest,
a null version as the marker)."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from email.utils import parsedate_to_datetime
from typing import Any

import botocore.auth
import botocore.awsrequest
import pytest

from .conftest import AwsEnv, error_and_status, new_bucket

ILLEGAL_IN_PLACE = ("This copy request is illegal because it is trying to copy an object to itself without changing "
                    "the object's metadata, storage class, website redirect location or encryption attributes.")


@pytest.fixture
def s3(admin: AwsEnv) -> Any:
    return admin.client("s3", region_name="us-east-1")


def _bucket(s3: Any, versioning: str | None = None) -> str:
    return new_bucket(s3, "review13-obj", versioning)


def _headers(err: Any) -> dict[str, str]:
    return err.response["ResponseMetadata"]["HTTPHeaders"]


def test_copy_in_place_of_an_sse_kms_object_re_encrypts_it(s3: Any) -> None:
    """AWS (recorded): with no field set, an SSE-KMS object copied onto itself is legal --
    its copy takes the bucket default, SSE-S3, which is a change."""
    bucket = _bucket(s3)
    s3.put_object(Bucket=bucket, Key="k", Body=b"test", ServerSideEncryption="aws:kms")
    out = s3.copy_object(Bucket=bucket, Key="k", CopySource=f"{bucket}/k")
    assert out["ServerSideEncryption"] == "AES256" and "SSEKMSKeyId" not in out
    head = s3.head_object(Bucket=bucket, Key="k")
    assert head["ServerSideEncryption"] == "AES256" and "SSEKMSKeyId" not in head
    # an SSE-S3 object (the default) copied onto itself unchanged is still refused
    err, status = error_and_status(lambda: s3.copy_object(Bucket=bucket, Key="k", CopySource=f"{bucket}/k"))
    assert (err["Code"], err["Message"], status) == ("InvalidRequest", ILLEGAL_IN_PLACE, 400)


def test_copy_in_place_in_a_bucket_with_configured_encryption(s3: Any) -> None:
    """AWS (recorded): once a bucket has a default encryption configured, copying an
    object onto itself is legal even with nothing else changed."""
    bucket = _bucket(s3)
    s3.put_object(Bucket=bucket, Key="k", Body=b"")
    assert error_and_status(lambda: s3.copy_object(Bucket=bucket, Key="k", CopySource=f"{bucket}/k"))[0][
        "Code"] == "InvalidRequest"
    s3.put_bucket_encryption(Bucket=bucket, ServerSideEncryptionConfiguration={"Rules": [
        {"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}, "BucketKeyEnabled": False}]})
    out = s3.copy_object(Bucket=bucket, Key="k", CopySource={"Bucket": bucket, "Key": "k"})
    assert out["CopyObjectResult"]["ETag"] == '"d41d8cd98f00b204e9800998ecf8427e"'
    assert out["ServerSideEncryption"] == "AES256"


def test_copy_names_a_null_version_written_but_not_a_null_source(s3: Any) -> None:
    """AWS (recorded): a copy into a Suspended bucket names its version, "null" (PutObject
    does not); CopySourceVersionId is named only for a source version that is not null."""
    bucket = _bucket(s3, "Enabled")
    put = s3.put_object(Bucket=bucket, Key="k", Body=b"x", Metadata={"a": "b"})
    copied = s3.copy_object(Bucket=bucket, Key="k", CopySource=f"{bucket}/k", MetadataDirective="REPLACE")
    assert copied["CopySourceVersionId"] == put["VersionId"] and copied["VersionId"] != put["VersionId"]
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Suspended"})
    suspended = s3.copy_object(Bucket=bucket, Key="k", CopySource=f"{bucket}/k", MetadataDirective="REPLACE")
    assert suspended["VersionId"] == "null"
    assert suspended["CopySourceVersionId"] == copied["VersionId"]
    again = s3.copy_object(Bucket=bucket, Key="k", CopySource=f"{bucket}/k", MetadataDirective="REPLACE")
    assert again["VersionId"] == "null" and "CopySourceVersionId" not in again  # the source is the null version
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    enabled = s3.copy_object(Bucket=bucket, Key="k", CopySource=f"{bucket}/k", MetadataDirective="REPLACE")
    assert enabled["VersionId"] != "null" and "CopySourceVersionId" not in enabled


def _signed(admin: AwsEnv, method: str, url: str, headers: dict[str, str]) -> tuple[int, bytes]:
    req = botocore.awsrequest.AWSRequest(method, url, headers={"x-amz-content-sha256": "UNSIGNED-PAYLOAD", **headers})
    botocore.auth.S3SigV4Auth(admin.credentials(), "s3", "us-east-1").add_auth(req)
    try:
        with urllib.request.urlopen(urllib.request.Request(url, method=method, headers=dict(req.headers)),
                                    timeout=10) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as err:
        return err.code, err.read()


def test_copy_source_reads_a_plus_as_a_space(admin: AwsEnv, s3: Any) -> None:
    """AWS (recorded): x-amz-copy-source form-encoded, a space as "+" (as some SDKs send
    it), names the key with the space; an encoded "+" (%2B) is a "+"."""
    bucket = _bucket(s3)
    s3.put_object(Bucket=bucket, Key="test key.txt", Body=b"spaced")
    s3.put_object(Bucket=bucket, Key="a+b", Body=b"plus")
    status, body = _signed(admin, "PUT", f"{admin.endpoint}/{bucket}/dest",
                           {"x-amz-copy-source": f"{bucket}%2Ftest+key.txt"})
    assert status == 200, body
    assert s3.get_object(Bucket=bucket, Key="dest")["Body"].read() == b"spaced"
    status, body = _signed(admin, "PUT", f"{admin.endpoint}/{bucket}/dest2", {"x-amz-copy-source": f"{bucket}/a%2Bb"})
    assert status == 200, body
    assert s3.get_object(Bucket=bucket, Key="dest2")["Body"].read() == b"plus"


def test_copy_directives_and_source_format_are_checked(admin: AwsEnv, s3: Any) -> None:
    bucket = _bucket(s3)
    s3.put_object(Bucket=bucket, Key="src", Body=b"x", Tagging="a=b")
    raw = admin.unchecked_client("s3", region_name="us-east-1")
    # an unknown tagging directive is refused, not taken for COPY
    err, status = error_and_status(lambda: raw.copy_object(Bucket=bucket, Key="dst", CopySource=f"{bucket}/src",
                                                           TaggingDirective="FOO"))
    assert (err["Code"], err["Message"], err["ArgumentName"], err["ArgumentValue"], status) == (
        "InvalidArgument", "Unknown tagging directive.", "x-amz-tagging-directive", "FOO", 400)
    assert error_and_status(lambda: s3.head_object(Bucket=bucket, Key="dst"))[1] == 404
    err, status = error_and_status(lambda: raw.copy_object(Bucket=bucket, Key="dst", CopySource=f"{bucket}/src",
                                                           MetadataDirective="FOO"))
    assert (err["Code"], err["Message"], err["ArgumentName"], err["ArgumentValue"], status) == (
        "InvalidArgument", "Unknown metadata directive.", "x-amz-metadata-directive", "FOO", 400)
    # AWS (recorded): a copy source without a key names the header as its value too
    err, status = error_and_status(lambda: s3.copy_object(Bucket=bucket, Key="dst", CopySource="wrongformat"))
    assert (err["Code"], err["Message"], err["ArgumentName"], err["ArgumentValue"], status) == (
        "InvalidArgument", "Invalid copy source object key", "x-amz-copy-source", "x-amz-copy-source", 400)


def test_get_and_head_of_a_current_delete_marker_name_it(s3: Any) -> None:
    """AWS (recorded): a GET whose key's current version is a delete marker is NoSuchKey
    with x-amz-delete-marker and the marker's version id; a GET of the marker by version
    id is MethodNotAllowed with Allow: DELETE. HEAD answers the same headers."""
    bucket = _bucket(s3, "Enabled")
    version = s3.put_object(Bucket=bucket, Key="k", Body=b"x")["VersionId"]
    marker = s3.delete_object(Bucket=bucket, Key="k")["VersionId"]
    made = s3.list_object_versions(Bucket=bucket)["DeleteMarkers"][0]["LastModified"]
    for call in (lambda: s3.get_object(Bucket=bucket, Key="k"), lambda: s3.head_object(Bucket=bucket, Key="k")):
        with pytest.raises(s3.exceptions.ClientError) as caught:
            call()
        assert caught.value.response["ResponseMetadata"]["HTTPStatusCode"] == 404
        headers = _headers(caught.value)
        assert (headers.get("x-amz-delete-marker"), headers.get("x-amz-version-id")) == ("true", marker)
    for call in (lambda: s3.get_object(Bucket=bucket, Key="k", VersionId=marker),
                 lambda: s3.head_object(Bucket=bucket, Key="k", VersionId=marker)):
        with pytest.raises(s3.exceptions.ClientError) as caught:
            call()
        assert caught.value.response["ResponseMetadata"]["HTTPStatusCode"] == 405
        headers = _headers(caught.value)
        assert (headers.get("x-amz-delete-marker"), headers.get("x-amz-version-id"), headers.get("allow")) == (
            "true", marker, "DELETE")
        # and when the marker was made (the docs): the time ListObjectVersions gives it
        assert parsedate_to_datetime(headers["last-modified"]) == made.replace(microsecond=0)
    # a version deleted for good, or a key never written, is not a delete marker
    s3.delete_object(Bucket=bucket, Key="k", VersionId=version)
    for key, kwargs in (("k", {"VersionId": version}), ("never", {})):
        with pytest.raises(s3.exceptions.ClientError) as caught:
            s3.get_object(Bucket=bucket, Key=key, **kwargs)
        assert "x-amz-delete-marker" not in _headers(caught.value)
        assert "x-amz-version-id" not in _headers(caught.value)


def test_response_overrides_need_a_signed_request(admin: AwsEnv, s3: Any) -> None:
    """AWS's GetObject docs: response-* parameters need a signed request (or presigned
    URL), never an anonymous one -- even where the object is public."""
    bucket = _bucket(s3)
    s3.delete_public_access_block(Bucket=bucket)
    s3.put_bucket_policy(Bucket=bucket, Policy=json.dumps({"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow", "Principal": "*", "Action": "s3:GetObject", "Resource": f"arn:aws:s3:::{bucket}/*"}]}))
    s3.put_object(Bucket=bucket, Key="k", Body=b"hello")
    url = f"{admin.endpoint}/{bucket}/k"
    with urllib.request.urlopen(url, timeout=10) as r:  # public: anonymous may read it
        assert r.read() == b"hello"
    with pytest.raises(urllib.error.HTTPError) as caught:
        urllib.request.urlopen(f"{url}?response-content-type=text/plain", timeout=10)
    assert caught.value.code == 400
    body = caught.value.read().decode()
    assert "<Code>InvalidRequest</Code>" in body
    assert "<Message>Request specific response headers cannot be used for anonymous GET requests.</Message>" in body
    with pytest.raises(urllib.error.HTTPError) as caught:
        urllib.request.urlopen(urllib.request.Request(f"{url}?response-cache-control=no-cache", method="HEAD"),
                               timeout=10)
    assert caught.value.code == 400
    # signed, or presigned, they apply
    assert s3.get_object(Bucket=bucket, Key="k", ResponseContentType="text/plain")["ContentType"] == "text/plain"
    presigned = s3.generate_presigned_url("get_object", Params={
        "Bucket": bucket, "Key": "k", "ResponseContentType": "text/x-test"})
    with urllib.request.urlopen(presigned, timeout=10) as r:
        assert r.headers["Content-Type"] == "text/x-test"


def test_list_object_versions_encodes_the_key_marker(admin: AwsEnv, s3: Any) -> None:
    """AWS's ListObjectVersions docs: with encoding-type=url, KeyMarker is encoded too (as
    are NextKeyMarker, Prefix, Key and Delimiter). boto3 asks for url and decodes KeyMarker:
    sent back raw, a marker with a "%" would come back altered."""
    bucket = _bucket(s3, "Enabled")
    s3.put_object(Bucket=bucket, Key="a%41", Body=b"")
    s3.put_object(Bucket=bucket, Key="b c", Body=b"")
    out = s3.list_object_versions(Bucket=bucket, KeyMarker="a%41")
    assert out["KeyMarker"] == "a%41"
    assert [v["Key"] for v in out["Versions"]] == ["b c"]
    raw = admin.unchecked_client("s3", region_name="us-east-1")
    explicit = raw.list_object_versions(Bucket=bucket, KeyMarker="a b", EncodingType="url")  # not decoded by boto3
    assert explicit["KeyMarker"] == "a%20b"


def test_list_objects_v2_start_after_is_not_echoed_beside_a_token(s3: Any) -> None:
    """AWS (recorded): once a continuation token is sent, the listing follows it and
    StartAfter is not echoed back."""
    bucket = _bucket(s3)
    for key in ("a", "b", "c", "d"):
        s3.put_object(Bucket=bucket, Key=key, Body=b"")
    first = s3.list_objects_v2(Bucket=bucket, StartAfter="a", MaxKeys=1)
    assert first["StartAfter"] == "a" and [o["Key"] for o in first["Contents"]] == ["b"]
    token = first["NextContinuationToken"]
    second = s3.list_objects_v2(Bucket=bucket, StartAfter="a", ContinuationToken=token, MaxKeys=1)
    assert "StartAfter" not in second and second["ContinuationToken"] == token
    assert [o["Key"] for o in second["Contents"]] == ["c"]


def test_list_object_versions_resumed_inside_a_key_marks_no_older_version_latest(s3: Any) -> None:
    """AWS (recorded): IsLatest is the key's newest version, not the first of a page: a
    page resumed at a version-id marker lists older versions as not latest -- unless the
    versions before them were deleted since, leaving one of them the newest."""
    bucket = _bucket(s3, "Enabled")
    made = [s3.put_object(Bucket=bucket, Key="k", Body=str(i).encode())["VersionId"] for i in range(4)]
    first = s3.list_object_versions(Bucket=bucket, MaxKeys=1)
    assert [(v["VersionId"], v["IsLatest"]) for v in first["Versions"]] == [(made[3], True)]
    second = s3.list_object_versions(Bucket=bucket, MaxKeys=2, KeyMarker=first["NextKeyMarker"],
                                     VersionIdMarker=first["NextVersionIdMarker"])
    assert [(v["VersionId"], v["IsLatest"]) for v in second["Versions"]] == [(made[2], False), (made[1], False)]
    for version in made[1:]:
        s3.delete_object(Bucket=bucket, Key="k", VersionId=version)
    after_delete = s3.list_object_versions(Bucket=bucket, KeyMarker="k", VersionIdMarker=made[1])
    assert [(v["VersionId"], v["IsLatest"]) for v in after_delete["Versions"]] == [(made[0], True)]


def test_list_object_versions_pages_past_a_null_version(s3: Any) -> None:
    """A page that ends at a null version names it NextVersionIdMarker "null"; the next
    page goes on with the older versions of that key (paging must neither skip nor stop:
    emptying a bucket depends on it)."""
    bucket = _bucket(s3, "Enabled")
    oldest = s3.put_object(Bucket=bucket, Key="k", Body=b"1")["VersionId"]
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Suspended"})
    s3.put_object(Bucket=bucket, Key="k", Body=b"2")
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    newest = s3.put_object(Bucket=bucket, Key="k", Body=b"3")["VersionId"]
    other = s3.put_object(Bucket=bucket, Key="l", Body=b"4")["VersionId"]
    first = s3.list_object_versions(Bucket=bucket, MaxKeys=2)
    assert [v["VersionId"] for v in first["Versions"]] == [newest, "null"]
    assert (first["NextKeyMarker"], first["NextVersionIdMarker"]) == ("k", "null")
    second = s3.list_object_versions(Bucket=bucket, MaxKeys=2, KeyMarker="k", VersionIdMarker="null")
    assert [(v["Key"], v["VersionId"], v["IsLatest"]) for v in second["Versions"]] == [
        ("k", oldest, False), ("l", other, True)]
    pages = s3.get_paginator("list_object_versions").paginate(Bucket=bucket, PaginationConfig={"PageSize": 1})
    assert [v["VersionId"] for page in pages for v in page.get("Versions", [])] == [newest, "null", oldest, other]
