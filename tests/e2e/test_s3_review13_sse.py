"""S3 encryption at rest, review 13: where SSE-S3, SSE-KMS and SSE-C answered
otherwise than AWS.

- x-amz-server-side-encryption is a choice made when an object (or an upload) is
  created: S3 refuses it on GET and HEAD (the GetObject/HeadObject reference: "you'll
  get an HTTP 400 Bad Request error") and on UploadPart and CompleteMultipartUpload
  (real S3 answers quoted in aws/aws-sdk-java #1876, irods_resource_plugin_s3 #1838 and
  ClickHouse #64570: InvalidArgument "x-amz-server-side-encryption header is not
  supported for this operation.", ArgumentName/ArgumentValue the header and its value).
- An ETag is the MD5 of the data only for SSE-S3 (and unencrypted) objects; objects and
  parts under SSE-KMS or SSE-C get ETags that are not (the S3 API reference's Object
  ETag; responses recorded against real S3: the same bytes PUT under SSE-KMS or SSE-C
  show a different ETag each time, a copy of them to SSE-S3 shows the MD5 again).
"""

from __future__ import annotations

import base64
import hashlib
import os
from typing import Any

import pytest

from .conftest import AwsEnv, allow_sse_c, aws_error, error_and_status, new_bucket, sse_c_headers

BODY = b"test-sse"
MD5 = hashlib.md5(BODY).hexdigest()


@pytest.fixture
def s3(admin: AwsEnv) -> Any:
    return admin.client("s3", region_name="us-east-1")


def _bare(etag: str) -> str:
    return etag.strip('"')


# --- x-amz-server-side-encryption where it chooses nothing ------------------------------------

def _with_sse_header(admin: AwsEnv, value: str) -> Any:
    """A client that adds x-amz-server-side-encryption to every request (signed, as a
    misconfigured SDK or proxy does)."""
    client = admin.client("s3", region_name="us-east-1")

    def add(request: Any, **_: Any) -> None:
        request.headers["x-amz-server-side-encryption"] = value

    client.meta.events.register("before-sign.s3", add)
    return client


@pytest.mark.parametrize("value", ["AES256", "aws:kms"])
def test_sse_header_is_refused_on_reads_parts_and_completion(admin: AwsEnv, s3: Any, value: str) -> None:
    bucket = new_bucket(s3, "r13-sse-hdr")
    s3.put_object(Bucket=bucket, Key="k", Body=BODY)
    upload = s3.create_multipart_upload(Bucket=bucket, Key="m")["UploadId"]
    part = s3.upload_part(Bucket=bucket, Key="m", UploadId=upload, PartNumber=1, Body=BODY)
    sending = _with_sse_header(admin, value)
    refused = ({"Code": "InvalidArgument",
                "Message": "x-amz-server-side-encryption header is not supported for this operation.",
                "ArgumentName": "x-amz-server-side-encryption", "ArgumentValue": value}, 400)

    assert error_and_status(lambda: sending.get_object(Bucket=bucket, Key="k")) == refused
    assert error_and_status(lambda: sending.upload_part(Bucket=bucket, Key="m", UploadId=upload, PartNumber=2,
                                                        Body=BODY)) == refused
    parts = {"Parts": [{"PartNumber": 1, "ETag": part["ETag"]}]}
    assert error_and_status(lambda: sending.complete_multipart_upload(
        Bucket=bucket, Key="m", UploadId=upload, MultipartUpload=parts)) == refused
    err, status = error_and_status(lambda: sending.head_object(Bucket=bucket, Key="k"))
    assert status == 400  # HEAD: no body, the status alone

    # Nothing was changed by the refused calls; the header still chooses on writes.
    assert [p["PartNumber"] for p in s3.list_parts(Bucket=bucket, Key="m", UploadId=upload)["Parts"]] == [1]
    s3.complete_multipart_upload(Bucket=bucket, Key="m", UploadId=upload, MultipartUpload=parts)
    assert sending.put_object(Bucket=bucket, Key="w", Body=BODY)["ServerSideEncryption"] == value
    assert s3.get_object(Bucket=bucket, Key="w")["Body"].read() == BODY


# --- ETags under SSE-KMS and SSE-C ---------------------------------------------------------------

def test_sse_kms_objects_and_parts_have_etags_that_are_not_the_md5(s3: Any) -> None:
    bucket = new_bucket(s3, "r13-sse-etag")
    assert _bare(s3.put_object(Bucket=bucket, Key="s3", Body=BODY)["ETag"]) == MD5  # SSE-S3: the MD5

    first = s3.put_object(Bucket=bucket, Key="kms", Body=BODY, ServerSideEncryption="aws:kms")["ETag"]
    again = s3.put_object(Bucket=bucket, Key="kms2", Body=BODY, ServerSideEncryption="aws:kms",
                          BucketKeyEnabled=True)["ETag"]
    assert MD5 not in (_bare(first), _bare(again))
    assert first != again  # the same bytes, two writes, two ETags
    # The ETag is the object's: reads, listings and conditions show and take the same one.
    assert s3.head_object(Bucket=bucket, Key="kms")["ETag"] == first
    got = s3.get_object(Bucket=bucket, Key="kms", IfMatch=first)
    assert (got["ETag"], got["Body"].read()) == (first, BODY)
    listed = {o["Key"]: o["ETag"] for o in s3.list_objects_v2(Bucket=bucket)["Contents"]}
    assert listed["kms"] == first

    # A copy to SSE-S3 shows the MD5 again; one to SSE-KMS a new ETag.
    to_s3 = s3.copy_object(Bucket=bucket, Key="c1", CopySource={"Bucket": bucket, "Key": "kms"},
                           ServerSideEncryption="AES256")
    assert _bare(to_s3["CopyObjectResult"]["ETag"]) == MD5
    to_kms = s3.copy_object(Bucket=bucket, Key="c2", CopySource={"Bucket": bucket, "Key": "s3"},
                            ServerSideEncryption="aws:kms")
    assert _bare(to_kms["CopyObjectResult"]["ETag"]) not in (MD5, _bare(first))

    # Parts too; the whole's ETag is still built from the parts' ETags.
    upload = s3.create_multipart_upload(Bucket=bucket, Key="m", ServerSideEncryption="aws:kms")["UploadId"]
    part = s3.upload_part(Bucket=bucket, Key="m", UploadId=upload, PartNumber=1, Body=BODY)["ETag"]
    assert _bare(part) != MD5
    assert s3.list_parts(Bucket=bucket, Key="m", UploadId=upload)["Parts"][0]["ETag"] == part
    done = s3.complete_multipart_upload(Bucket=bucket, Key="m", UploadId=upload,
                                        MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": part}]})
    assert _bare(done["ETag"]) == hashlib.md5(bytes.fromhex(_bare(part))).hexdigest() + "-1"
    assert s3.get_object(Bucket=bucket, Key="m")["Body"].read() == BODY


def test_sse_c_objects_and_parts_have_etags_that_are_not_the_md5(s3_tls: Any) -> None:
    s3 = s3_tls  # SSE-C keys travel over HTTPS only
    bucket = new_bucket(s3, "r13-sse-etag-c")
    allow_sse_c(s3, bucket)
    key = os.urandom(32)
    first = s3.put_object(Bucket=bucket, Key="c", Body=BODY, **sse_c_headers(key))["ETag"]
    again = s3.put_object(Bucket=bucket, Key="c2", Body=BODY, **sse_c_headers(key))["ETag"]
    assert MD5 not in (_bare(first), _bare(again)) and first != again
    assert s3.head_object(Bucket=bucket, Key="c", **sse_c_headers(key))["ETag"] == first

    source = {"CopySourceSSECustomerAlgorithm": "AES256",
              "CopySourceSSECustomerKey": base64.b64encode(key).decode(),
              "CopySourceSSECustomerKeyMD5": base64.b64encode(hashlib.md5(key).digest()).decode()}
    plain = s3.copy_object(Bucket=bucket, Key="p", CopySource={"Bucket": bucket, "Key": "c"}, **source)
    assert _bare(plain["CopyObjectResult"]["ETag"]) == MD5  # decrypted into SSE-S3: the MD5

    upload = s3.create_multipart_upload(Bucket=bucket, Key="m", **sse_c_headers(key))["UploadId"]
    part = s3.upload_part(Bucket=bucket, Key="m", UploadId=upload, PartNumber=1, Body=BODY,
                          **sse_c_headers(key))["ETag"]
    assert _bare(part) != MD5


def test_sse_c_over_plain_http_is_refused(s3: Any) -> None:
    """S3 takes a customer key over HTTPS only: "Requests specifying Server Side Encryption
    with Customer provided keys must be made over a secure connection." (400 InvalidRequest,
    as S3 answers and MinIO mirrors: minio#11162); nothing is written."""
    bucket = new_bucket(s3, "r13-ssec-http")
    allow_sse_c(s3, bucket)
    refused = ("InvalidRequest", "Requests specifying Server Side Encryption with Customer provided keys must be "
               "made over a secure connection.", 400)
    key = os.urandom(32)
    assert aws_error(lambda: s3.put_object(Bucket=bucket, Key="k", Body=BODY, **sse_c_headers(key))) == refused
    assert aws_error(lambda: s3.head_object(Bucket=bucket, Key="k"))[2] == 404
    s3.put_object(Bucket=bucket, Key="plain", Body=BODY)
    assert aws_error(lambda: s3.get_object(Bucket=bucket, Key="plain", **sse_c_headers(key))) == refused
