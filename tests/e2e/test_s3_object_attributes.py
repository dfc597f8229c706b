"""GetObjectAttributes answers as AWS does (members, formats and errors taken from
responses recorded against real S3): the unquoted ETag, the object's checksum (a
composite one without its "-<parts>" suffix), ObjectParts (the part count, and a page of
parts only for COMPOSITE uploads), StorageClass and ObjectSize; versions and delete
markers; SSE-C; and the pair of actions IAM checks. Also a part's checksum on GET
?partNumber, and the BadDigest each upload call reports."""

from __future__ import annotations

import base64
import hashlib
from typing import Any

import pytest
from botocore.exceptions import ClientError

from .conftest import AwsEnv, allow_sse_c, aws_error, new_bucket, sse_c_headers

MIB5 = 5 * 1024 * 1024
KEY = b"0123456789abcdef0123456789abcdef"


@pytest.fixture
def s3(admin: AwsEnv) -> Any:
    return admin.client("s3", region_name="us-east-1")


def _bucket(s3: Any, versioned: bool = False) -> str:
    return new_bucket(s3, "attrs", "Enabled" if versioned else None)


def _attrs(s3: Any, bucket: str, key: str, *names: str, **kw: Any) -> dict[str, Any]:
    out = s3.get_object_attributes(Bucket=bucket, Key=key, ObjectAttributes=list(names), **kw)
    out.pop("ResponseMetadata")
    return out


def _multipart(s3: Any, bucket: str, key: str, bodies: list[bytes], **create: Any) -> dict[str, Any]:
    """Upload `bodies` as parts 1..n (with the checksum `create` names) and complete."""
    upload_id = s3.create_multipart_upload(Bucket=bucket, Key=key, **create)["UploadId"]
    algorithm = create.get("ChecksumAlgorithm")
    listed = []
    for number, body in enumerate(bodies, 1):
        extra = {"ChecksumAlgorithm": algorithm} if algorithm else {}
        part = s3.upload_part(Bucket=bucket, Key=key, UploadId=upload_id, PartNumber=number, Body=body, **extra)
        entry = {"ETag": part["ETag"], "PartNumber": number}
        if algorithm:
            entry[f"Checksum{algorithm}"] = part[f"Checksum{algorithm}"]
        listed.append(entry)
    return s3.complete_multipart_upload(Bucket=bucket, Key=key, UploadId=upload_id,
                                        MultipartUpload={"Parts": listed})


def _b64(digest: bytes) -> str:
    return base64.b64encode(digest).decode()


def test_a_plain_object(s3: Any) -> None:
    bucket = _bucket(s3)
    s3.put_object(Bucket=bucket, Key="data.txt", Body=b"69\n420\n", ChecksumAlgorithm="CRC32")
    out = _attrs(s3, bucket, "data.txt", "StorageClass", "ETag", "ObjectSize", "ObjectParts", "Checksum")
    assert out.pop("LastModified")
    # the ETag unquoted; no ObjectParts for an object that was not uploaded in parts; no VersionId
    assert out == {"ETag": "e92499db864217242396e8ef766079a9", "Checksum": {"ChecksumCRC32": "WC+ANw==",
                   "ChecksumType": "FULL_OBJECT"}, "StorageClass": "STANDARD", "ObjectSize": 7}
    # only what is asked for
    assert set(_attrs(s3, bucket, "data.txt", "ObjectSize")) == {"LastModified", "ObjectSize"}


def test_s3s_default_checksum_and_storage_class(s3: Any) -> None:
    bucket = _bucket(s3)
    s3.put_object(Bucket=bucket, Key="k", Body=b"test data..", StorageClass="STANDARD_IA",
                  ChecksumSHA256=_b64(hashlib.sha256(b"test data..").digest()))
    sha = _attrs(s3, bucket, "k", "Checksum", "StorageClass")
    assert sha["Checksum"] == {"ChecksumSHA256": _b64(hashlib.sha256(b"test data..").digest()),
                               "ChecksumType": "FULL_OBJECT"}
    assert sha["StorageClass"] == "STANDARD_IA"
    # a copy made without a checksum gets S3's default CRC64NVME
    s3.copy_object(Bucket=bucket, Key="copy", CopySource={"Bucket": bucket, "Key": "k"},
                   ChecksumAlgorithm="CRC64NVME")
    assert _attrs(s3, bucket, "copy", "Checksum")["Checksum"] == {"ChecksumCRC64NVME": "qUVrWYOrIAM=",
                                                                  "ChecksumType": "FULL_OBJECT"}


def test_multipart_without_checksum_counts_its_parts_only(s3: Any) -> None:
    bucket = _bucket(s3)
    data = b"upload-part-1" * 5
    _multipart(s3, bucket, "one", [data])
    out = _attrs(s3, bucket, "one", "StorageClass", "ETag", "ObjectSize", "ObjectParts", "Checksum")
    assert out["ObjectParts"] == {"TotalPartsCount": 1}
    assert out["ETag"].endswith("-1") and not out["ETag"].startswith('"')
    assert out["ObjectSize"] == 65 and out["StorageClass"] == "STANDARD"
    assert set(out["Checksum"]) == {"ChecksumCRC64NVME", "ChecksumType"}
    assert out["Checksum"]["ChecksumType"] == "FULL_OBJECT"

    _multipart(s3, bucket, "two", [b"a" * MIB5, data])
    out = _attrs(s3, bucket, "two", "ObjectParts", MaxParts=3)
    assert out["ObjectParts"] == {"TotalPartsCount": 2}


def test_full_object_checksum_counts_its_parts_only(s3: Any) -> None:
    bucket = _bucket(s3)
    done = _multipart(s3, bucket, "k", [b"a" * MIB5, b"b" * 10], ChecksumAlgorithm="CRC32",
                      ChecksumType="FULL_OBJECT")
    out = _attrs(s3, bucket, "k", "Checksum", "ObjectParts")
    assert out["Checksum"] == {"ChecksumCRC32": done["ChecksumCRC32"], "ChecksumType": "FULL_OBJECT"}
    assert out["ObjectParts"] == {"TotalPartsCount": 2}


def test_composite_checksum_lists_its_parts_page_by_page(s3: Any) -> None:
    bucket = _bucket(s3)
    first, last = b"a" * (MIB5 + 1), b"a" * 10
    done = _multipart(s3, bucket, "k", [first, first, last], ChecksumAlgorithm="SHA256")
    sha = {1: _b64(hashlib.sha256(first).digest()), 3: _b64(hashlib.sha256(last).digest())}
    parts = [{"ChecksumSHA256": sha[1], "PartNumber": 1, "Size": MIB5 + 1},
             {"ChecksumSHA256": sha[1], "PartNumber": 2, "Size": MIB5 + 1},
             {"ChecksumSHA256": sha[3], "PartNumber": 3, "Size": 10}]

    out = _attrs(s3, bucket, "k", "Checksum", "ETag", "ObjectParts")
    # the composite value without the "-3" CompleteMultipartUpload shows
    assert done["ChecksumSHA256"].endswith("-3")
    assert out["Checksum"] == {"ChecksumSHA256": done["ChecksumSHA256"][:-2], "ChecksumType": "COMPOSITE"}
    assert out["ObjectParts"] == {"TotalPartsCount": 3, "PartNumberMarker": 0, "NextPartNumberMarker": 3,
                                  "MaxParts": 1000, "IsTruncated": False, "Parts": parts}

    page = _attrs(s3, bucket, "k", "ObjectParts", MaxParts=1)["ObjectParts"]
    assert page == {"TotalPartsCount": 3, "PartNumberMarker": 0, "NextPartNumberMarker": 1, "MaxParts": 1,
                    "IsTruncated": True, "Parts": parts[:1]}
    page = _attrs(s3, bucket, "k", "ObjectParts", MaxParts=1, PartNumberMarker=2)["ObjectParts"]
    assert page == {"TotalPartsCount": 3, "PartNumberMarker": 2, "NextPartNumberMarker": 3, "MaxParts": 1,
                    "IsTruncated": False, "Parts": parts[2:]}
    # past the last part: no Parts, and a next marker of 0
    page = _attrs(s3, bucket, "k", "ObjectParts", MaxParts=1, PartNumberMarker=10)["ObjectParts"]
    assert page == {"TotalPartsCount": 3, "PartNumberMarker": 10, "NextPartNumberMarker": 0, "MaxParts": 1,
                    "IsTruncated": False}

    # a copy is one FULL_OBJECT body
    s3.copy_object(Bucket=bucket, Key="copy", CopySource={"Bucket": bucket, "Key": "k"})
    copy = _attrs(s3, bucket, "copy", "Checksum", "ObjectParts")
    assert copy["Checksum"]["ChecksumType"] == "FULL_OBJECT" and "ObjectParts" not in copy


def test_get_part_shows_its_own_checksum_when_s3_has_one(s3: Any) -> None:
    bucket = _bucket(s3)
    body = b"test content 123"
    _multipart(s3, bucket, "composite", [body], ChecksumAlgorithm="CRC32C", ChecksumType="COMPOSITE")
    crc = s3.put_object(Bucket=bucket, Key="probe", Body=body, ChecksumAlgorithm="CRC32C")["ChecksumCRC32C"]
    for call in (s3.get_object, s3.head_object):
        out = call(Bucket=bucket, Key="composite", PartNumber=1, ChecksumMode="ENABLED")
        assert (out["ChecksumCRC32C"], out["ChecksumType"], out["PartsCount"]) == (crc, "COMPOSITE", 1)
    # a FULL_OBJECT checksum tells of a part only when that part is the whole object
    _multipart(s3, bucket, "full-1", [body], ChecksumAlgorithm="CRC32C", ChecksumType="FULL_OBJECT")
    out = s3.get_object(Bucket=bucket, Key="full-1", PartNumber=1, ChecksumMode="ENABLED")
    assert (out["ChecksumCRC32C"], out["ChecksumType"]) == (crc, "FULL_OBJECT")
    _multipart(s3, bucket, "full-2", [b"a" * MIB5, body], ChecksumAlgorithm="CRC32C", ChecksumType="FULL_OBJECT")
    out = s3.head_object(Bucket=bucket, Key="full-2", PartNumber=2, ChecksumMode="ENABLED")
    assert "ChecksumCRC32C" not in out and "ChecksumType" not in out and out["PartsCount"] == 2


def test_versions_and_delete_markers(s3: Any) -> None:
    bucket = _bucket(s3, versioned=True)
    v1 = s3.put_object(Bucket=bucket, Key="k", Body=b"69\n420\n")["VersionId"]
    v2 = s3.put_object(Bucket=bucket, Key="k", Body=b"version 2")["VersionId"]
    out = _attrs(s3, bucket, "k", "ETag", "ObjectSize")
    assert (out["VersionId"], out["ETag"], out["ObjectSize"]) == (v2, "d4ca1ed7571e2e7b1f1c375bd50fa220", 9)
    marker = s3.delete_object(Bucket=bucket, Key="k")["VersionId"]
    assert aws_error(lambda: _attrs(s3, bucket, "k", "ETag")) == (
        "NoSuchKey", "The specified key does not exist.", 404)
    out = _attrs(s3, bucket, "k", "ETag", "ObjectSize", VersionId=v1)
    assert (out["VersionId"], out["ETag"], out["ObjectSize"]) == (v1, "e92499db864217242396e8ef766079a9", 7)
    with pytest.raises(ClientError) as e:
        _attrs(s3, bucket, "k", "ETag", VersionId=marker)
    assert e.value.response["Error"]["Code"] == "MethodNotAllowed"
    assert e.value.response["ResponseMetadata"]["HTTPHeaders"]["x-amz-delete-marker"] == "true"


def test_sse_c_objects_need_their_key(s3_tls: Any) -> None:
    s3 = s3_tls  # SSE-C keys travel over HTTPS only
    bucket = _bucket(s3)
    allow_sse_c(s3, bucket)  # new buckets refuse SSE-C writes
    customer = sse_c_headers(KEY)
    s3.put_object(Bucket=bucket, Key="k", Body=b"test_data", **customer)
    out = _attrs(s3, bucket, "k", "ETag", "ObjectSize", **customer)
    assert out["ObjectSize"] == 9 and len(out["ETag"]) == 32 and set(out) == {"LastModified", "ETag", "ObjectSize"}
    assert aws_error(lambda: _attrs(s3, bucket, "k", "ETag")) == (
        "InvalidRequest", "The object was stored using a form of Server Side Encryption. The correct parameters "
        "must be provided to retrieve the object.", 400)
    assert aws_error(lambda: _attrs(s3, bucket, "k", "ETag", **{**customer, "SSECustomerAlgorithm": "KMS"})) == (
        "InvalidEncryptionAlgorithmError", "The Encryption request you specified is not valid. Supported value: "
        "AES256.", 400)


def test_attribute_names_are_checked(admin: AwsEnv, s3: Any) -> None:
    bucket = _bucket(s3)
    s3.put_object(Bucket=bucket, Key="k", Body=b"x")
    raw = admin.unchecked_client("s3", region_name="us-east-1")
    with pytest.raises(ClientError) as e:
        raw.get_object_attributes(Bucket=bucket, Key="k", ObjectAttributes=["ETag", "Dummy"])
    assert e.value.response["Error"] == {
        "Code": "InvalidArgument", "Message": "Invalid attribute name specified.",
        "ArgumentName": "x-amz-object-attributes", "ArgumentValue": "Dummy"}
    assert aws_error(lambda: raw.get_object_attributes(Bucket=bucket, Key="k", ObjectAttributes=[""])) == (
        "InvalidRequest", "The x-amz-object-attributes header specifying the attributes to be retrieved is either "
        "missing or empty", 400)


def test_iam_checks_the_read_and_the_attributes_action(admin: AwsEnv, s3: Any) -> None:
    bucket = _bucket(s3, versioned=True)
    vid = s3.put_object(Bucket=bucket, Key="k", Body=b"x")["VersionId"]

    def client(*actions: str) -> Any:
        key = admin.new_user({"Version": "2012-10-17", "Statement": [
            {"Effect": "Allow", "Action": list(actions), "Resource": f"arn:aws:s3:::{bucket}/*"}]})
        return admin.client_for(key, "s3")

    def denied(c: Any, **kw: Any) -> bool:
        try:
            c.get_object_attributes(Bucket=bucket, Key="k", ObjectAttributes=["ETag"], **kw)
        except ClientError as err:
            assert err.response["Error"]["Code"] == "AccessDenied"
            return True
        return False

    assert denied(client("s3:GetObject"))
    assert denied(client("s3:GetObjectAttributes"))
    both = client("s3:GetObject", "s3:GetObjectAttributes")
    assert not denied(both)
    assert denied(both, VersionId=vid)  # a version needs the Version pair
    assert not denied(client("s3:GetObjectVersion", "s3:GetObjectVersionAttributes"), VersionId=vid)


def test_bad_digest_names_the_expected_md5_as_each_call_does(s3: Any) -> None:
    bucket = _bucket(s3)
    wrong = hashlib.md5(b"something1").digest()
    calculated = _b64(hashlib.md5(b"something").digest())
    with pytest.raises(ClientError) as e:
        s3.put_object(Bucket=bucket, Key="k", Body=b"something", ContentMD5=_b64(wrong))
    # PutObject: the expected digest in hex
    assert (e.value.response["Error"]["ExpectedDigest"], e.value.response["Error"]["CalculatedDigest"]) == (
        wrong.hex(), calculated)
    upload_id = s3.create_multipart_upload(Bucket=bucket, Key="m")["UploadId"]
    with pytest.raises(ClientError) as e:
        s3.upload_part(Bucket=bucket, Key="m", UploadId=upload_id, PartNumber=1, Body=b"something",
                       ContentMD5=_b64(wrong))
    # UploadPart: in base64, as sent
    assert (e.value.response["Error"]["ExpectedDigest"], e.value.response["Error"]["CalculatedDigest"]) == (
        _b64(wrong), calculated)
