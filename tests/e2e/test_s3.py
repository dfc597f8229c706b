"""S3 end to end: real boto3 and aws CLI against `skyhold up`."""

from __future__ import annotations

import hashlib
import os
import uuid
from pathlib import Path

import pytest
from botocore.exceptions import ClientError

from .conftest import AwsEnv, Server


def _name(tag: str = "b") -> str:
    return f"{tag}-{uuid.uuid4().hex[:12]}"


@pytest.fixture
def s3(admin: AwsEnv):
    return admin.client("s3", region_name="us-east-1")


@pytest.fixture
def bucket(s3) -> str:
    name = _name()
    s3.create_bucket(Bucket=name)
    return name


def _code(e: pytest.ExceptionInfo) -> tuple[str, int]:
    r = e.value.response
    return r["Error"]["Code"], r["ResponseMetadata"]["HTTPStatusCode"]


def test_bucket_lifecycle_and_naming(s3, admin: AwsEnv) -> None:
    name = _name()
    s3.create_bucket(Bucket=name)
    assert name in [b["Name"] for b in s3.list_buckets()["Buckets"]]
    s3.head_bucket(Bucket=name)
    with pytest.raises(ClientError) as e:
        s3.create_bucket(Bucket="Bad_Name")
    assert _code(e) == ("InvalidBucketName", 400)
    eu = admin.client("s3", region_name="eu-west-1")
    with pytest.raises(ClientError) as e:
        eu.create_bucket(Bucket=_name())
    assert _code(e) == ("IllegalLocationConstraintException", 400)
    eu_name = _name()
    eu.create_bucket(Bucket=eu_name, CreateBucketConfiguration={"LocationConstraint": "eu-west-1"})
    with pytest.raises(ClientError) as e:
        eu.create_bucket(Bucket=eu_name, CreateBucketConfiguration={"LocationConstraint": "eu-west-1"})
    assert _code(e) == ("BucketAlreadyOwnedByYou", 409)
    for constraint in ("mars-1", "us-east-1"):  # no such region; and us-east-1 is never named
        with pytest.raises(ClientError) as e:
            s3.create_bucket(Bucket=_name(), CreateBucketConfiguration={"LocationConstraint": constraint})
        assert _code(e) == ("InvalidLocationConstraint", 400)
        assert e.value.response["Error"]["LocationConstraint"] == constraint
    legacy = _name()  # "EU", the model's legacy name of eu-west-1
    s3.create_bucket(Bucket=legacy, CreateBucketConfiguration={"LocationConstraint": "EU"})
    assert eu.head_bucket(Bucket=legacy)["BucketRegion"] == "eu-west-1"
    s3.put_object(Bucket=name, Key="k", Body=b"x")
    with pytest.raises(ClientError) as e:
        s3.delete_bucket(Bucket=name)
    assert _code(e) == ("BucketNotEmpty", 409)
    s3.delete_object(Bucket=name, Key="k")
    s3.delete_bucket(Bucket=name)
    with pytest.raises(ClientError) as e:
        s3.head_bucket(Bucket=name)
    assert e.value.response["ResponseMetadata"]["HTTPStatusCode"] == 404


def test_bucket_tagging(s3, bucket: str) -> None:
    with pytest.raises(ClientError) as e:
        s3.get_bucket_tagging(Bucket=bucket)
    assert _code(e) == ("NoSuchTagSet", 404)
    s3.put_bucket_tagging(Bucket=bucket, Tagging={"TagSet": [{"Key": "team", "Value": "blue"}]})
    assert s3.get_bucket_tagging(Bucket=bucket)["TagSet"] == [{"Key": "team", "Value": "blue"}]


def test_objects_metadata_ranges_conditions(s3, bucket: str) -> None:
    body = os.urandom(200_000)
    put = s3.put_object(Bucket=bucket, Key="dir/ü ../odd key", Body=body, Metadata={"color": "red"},
                        ContentType="application/x-test", CacheControl="no-cache")
    assert put["ETag"] == f'"{hashlib.md5(body).hexdigest()}"'
    assert put["ServerSideEncryption"] == "AES256"
    got = s3.get_object(Bucket=bucket, Key="dir/ü ../odd key")
    assert got["Body"].read() == body
    assert got["Metadata"] == {"color": "red"} and got["ContentType"] == "application/x-test"
    assert got["CacheControl"] == "no-cache"
    part = s3.get_object(Bucket=bucket, Key="dir/ü ../odd key", Range="bytes=65530-65545")
    assert part["Body"].read() == body[65530:65546]
    assert part["ContentRange"] == f"bytes 65530-65545/{len(body)}"
    tail = s3.get_object(Bucket=bucket, Key="dir/ü ../odd key", Range="bytes=-10")
    assert tail["Body"].read() == body[-10:]
    with pytest.raises(ClientError) as e:
        s3.get_object(Bucket=bucket, Key="dir/ü ../odd key", Range=f"bytes={len(body)}-")
    assert _code(e) == ("InvalidRange", 416)
    with pytest.raises(ClientError) as e:
        s3.get_object(Bucket=bucket, Key="dir/ü ../odd key", IfMatch='"nope"')
    assert _code(e) == ("PreconditionFailed", 412)
    with pytest.raises(ClientError) as e:
        s3.get_object(Bucket=bucket, Key="dir/ü ../odd key", IfNoneMatch=put["ETag"])
    assert e.value.response["ResponseMetadata"]["HTTPStatusCode"] == 304
    # conditional write: create-only
    with pytest.raises(ClientError) as e:
        s3.put_object(Bucket=bucket, Key="dir/ü ../odd key", Body=b"other", IfNoneMatch="*")
    assert _code(e) == ("PreconditionFailed", 412)
    s3.put_object(Bucket=bucket, Key="fresh", Body=b"1", IfNoneMatch="*")
    with pytest.raises(ClientError) as e:
        s3.get_object(Bucket=bucket, Key="missing")
    assert _code(e) == ("NoSuchKey", 404)


def test_long_key_is_stored_exactly(s3, bucket: str) -> None:
    key = "k/" + "é" * 511  # 1024 bytes of UTF-8
    assert len(key.encode()) == 1024
    s3.put_object(Bucket=bucket, Key=key, Body=b"v")
    assert [o["Key"] for o in s3.list_objects_v2(Bucket=bucket)["Contents"]] == [key]
    assert s3.get_object(Bucket=bucket, Key=key)["Body"].read() == b"v"



def test_limits_of_a_new_object(s3, bucket: str) -> None:
    """Keys over 1024 UTF-8 bytes, user metadata over 2 KB and unknown storage classes
    are refused with S3's codes and fields, by every write that names them; nothing is
    stored."""
    long_key = "k/" + "é" * 512  # 514 characters, 1026 bytes of UTF-8
    meta = {"a" * 24: "v" * 2026}  # 2050 bytes (clients send ASCII metadata only)
    s3.put_object(Bucket=bucket, Key="src", Body=b"v")
    refused = [
        (lambda: s3.put_object(Bucket=bucket, Key=long_key, Body=b"v"),
         "KeyTooLongError", "Your key is too long", {"Size": "1026", "MaxSizeAllowed": "1024"}),
        (lambda: s3.copy_object(Bucket=bucket, Key=long_key, CopySource={"Bucket": bucket, "Key": "src"}),
         "KeyTooLongError", "Your key is too long", {"Size": "1026", "MaxSizeAllowed": "1024"}),
        (lambda: s3.create_multipart_upload(Bucket=bucket, Key=long_key),
         "KeyTooLongError", "Your key is too long", {"Size": "1026", "MaxSizeAllowed": "1024"}),
        (lambda: s3.put_object(Bucket=bucket, Key="m", Body=b"v", Metadata=meta),
         "MetadataTooLarge", "Your metadata headers exceed the maximum allowed metadata size",
         {"Size": "2050", "MaxSizeAllowed": "2048"}),
        (lambda: s3.copy_object(Bucket=bucket, Key="m", CopySource={"Bucket": bucket, "Key": "src"},
                                MetadataDirective="REPLACE", Metadata=meta),
         "MetadataTooLarge", "Your metadata headers exceed the maximum allowed metadata size",
         {"Size": "2050", "MaxSizeAllowed": "2048"}),
        (lambda: s3.create_multipart_upload(Bucket=bucket, Key="m", Metadata=meta),
         "MetadataTooLarge", "Your metadata headers exceed the maximum allowed metadata size",
         {"Size": "2050", "MaxSizeAllowed": "2048"}),
        (lambda: s3.put_object(Bucket=bucket, Key="m", Body=b"v", StorageClass="EXPRESS_ONEZONE"),
         "InvalidStorageClass", "The storage class you specified is not valid",
         {"StorageClassRequested": "EXPRESS_ONEZONE"}),
        (lambda: s3.copy_object(Bucket=bucket, Key="m", CopySource={"Bucket": bucket, "Key": "src"},
                                StorageClass="ARCHIVE"),
         "InvalidStorageClass", "The storage class you specified is not valid", {"StorageClassRequested": "ARCHIVE"}),
        (lambda: s3.create_multipart_upload(Bucket=bucket, Key="m", StorageClass="SNOW"),
         "InvalidStorageClass", "The storage class you specified is not valid", {"StorageClassRequested": "SNOW"}),
    ]
    for call, code, message, fields in refused:
        with pytest.raises(ClientError) as e:
            call()
        error = e.value.response["Error"]
        assert (error["Code"], error["Message"], e.value.response["ResponseMetadata"]["HTTPStatusCode"]) == (
            code, message, 400)
        assert {k: error.get(k) for k in fields} == fields
    assert [o["Key"] for o in s3.list_objects_v2(Bucket=bucket)["Contents"]] == ["src"]
    assert s3.list_multipart_uploads(Bucket=bucket).get("Uploads", []) == []
    # At the limits, and a copy that keeps its source's metadata, all go through.
    at_limit = {"a" * 24: "v" * 2024}  # 2048 bytes
    s3.put_object(Bucket=bucket, Key="m", Body=b"v", Metadata=at_limit, StorageClass="GLACIER_IR")
    s3.copy_object(Bucket=bucket, Key="k/" + "é" * 511, CopySource={"Bucket": bucket, "Key": "m"})
    head = s3.head_object(Bucket=bucket, Key="k/" + "é" * 511)
    # the metadata is copied, the storage class is not (STANDARD unless the copy names one)
    assert (head["Metadata"], head.get("StorageClass")) == (at_limit, None)

def test_listing_delimiter_and_pages(s3, bucket: str) -> None:
    keys = ["a.txt", "b/1", "b/2", "c/x/1", "d+e f", "z"]
    for k in keys:
        s3.put_object(Bucket=bucket, Key=k, Body=b"")
    top = s3.list_objects_v2(Bucket=bucket, Delimiter="/")
    assert [o["Key"] for o in top["Contents"]] == ["a.txt", "d+e f", "z"]
    assert [p["Prefix"] for p in top["CommonPrefixes"]] == ["b/", "c/"]
    seen, token = [], None
    while True:
        kw = {"ContinuationToken": token} if token else {}
        page = s3.list_objects_v2(Bucket=bucket, MaxKeys=2, **kw)
        seen += [o["Key"] for o in page.get("Contents", [])]
        if not page["IsTruncated"]:
            break
        token = page["NextContinuationToken"]
    assert seen == sorted(keys)
    assert [o["Key"] for o in s3.list_objects_v2(Bucket=bucket, StartAfter="b/2")["Contents"]] == ["c/x/1", "d+e f", "z"]
    v1 = s3.list_objects(Bucket=bucket, Prefix="b/", MaxKeys=1, Delimiter="/")
    assert v1["IsTruncated"] and [o["Key"] for o in v1["Contents"]] == ["b/1"]


def test_copy_and_delete_objects(s3, bucket: str) -> None:
    s3.put_object(Bucket=bucket, Key="src", Body=b"data", Metadata={"a": "1"})
    s3.copy_object(Bucket=bucket, Key="dst", CopySource={"Bucket": bucket, "Key": "src"})
    assert s3.head_object(Bucket=bucket, Key="dst")["Metadata"] == {"a": "1"}
    s3.copy_object(Bucket=bucket, Key="dst2", CopySource=f"{bucket}/src", MetadataDirective="REPLACE",
                   Metadata={"b": "2"})
    assert s3.head_object(Bucket=bucket, Key="dst2")["Metadata"] == {"b": "2"}
    with pytest.raises(ClientError) as e:
        s3.copy_object(Bucket=bucket, Key="src", CopySource=f"{bucket}/src")
    assert _code(e) == ("InvalidRequest", 400)
    out = s3.delete_objects(Bucket=bucket, Delete={"Objects": [{"Key": "src"}, {"Key": "dst"}, {"Key": "nope"}]})
    assert sorted(d["Key"] for d in out["Deleted"]) == ["dst", "nope", "src"]
    assert [o["Key"] for o in s3.list_objects_v2(Bucket=bucket)["Contents"]] == ["dst2"]


def test_versioning(s3, bucket: str) -> None:
    s3.put_object(Bucket=bucket, Key="k", Body=b"v0")  # before versioning: the null version
    with pytest.raises(ClientError) as e:  # never said to be on while nothing enforces it
        s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled", "MFADelete": "Enabled"})
    assert _code(e) == ("NotImplemented", 501) and "MFA Delete" in e.value.response["Error"]["Message"]
    assert "Status" not in s3.get_bucket_versioning(Bucket=bucket)
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled", "MFADelete": "Disabled"})
    assert s3.get_bucket_versioning(Bucket=bucket)["Status"] == "Enabled"
    v1 = s3.put_object(Bucket=bucket, Key="k", Body=b"v1")["VersionId"]
    v2 = s3.put_object(Bucket=bucket, Key="k", Body=b"v2")["VersionId"]
    assert v1 != v2
    assert s3.get_object(Bucket=bucket, Key="k")["Body"].read() == b"v2"
    assert s3.get_object(Bucket=bucket, Key="k", VersionId=v1)["Body"].read() == b"v1"
    assert s3.get_object(Bucket=bucket, Key="k", VersionId="null")["Body"].read() == b"v0"
    marker = s3.delete_object(Bucket=bucket, Key="k")
    assert marker["DeleteMarker"] is True
    with pytest.raises(ClientError) as e:
        s3.get_object(Bucket=bucket, Key="k")
    assert _code(e) == ("NoSuchKey", 404)
    listed = s3.list_object_versions(Bucket=bucket)
    assert [v["VersionId"] for v in listed["Versions"]] == [v2, v1, "null"]
    assert listed["DeleteMarkers"][0]["IsLatest"] is True
    s3.delete_object(Bucket=bucket, Key="k", VersionId=marker["VersionId"])  # undelete
    assert s3.get_object(Bucket=bucket, Key="k")["Body"].read() == b"v2"
    # copy from an old version
    s3.copy_object(Bucket=bucket, Key="old", CopySource={"Bucket": bucket, "Key": "k", "VersionId": v1})
    assert s3.get_object(Bucket=bucket, Key="old")["Body"].read() == b"v1"


def test_object_tagging(s3, bucket: str) -> None:
    s3.put_object(Bucket=bucket, Key="t", Body=b"x", Tagging="env=prod&team=a")
    assert s3.head_object(Bucket=bucket, Key="t")["TagCount"] == 2
    s3.put_object_tagging(Bucket=bucket, Key="t", Tagging={"TagSet": [{"Key": "env", "Value": "dev"}]})
    assert s3.get_object_tagging(Bucket=bucket, Key="t")["TagSet"] == [{"Key": "env", "Value": "dev"}]


def test_multipart_rules(s3, bucket: str) -> None:
    up = s3.create_multipart_upload(Bucket=bucket, Key="mp")["UploadId"]
    e1 = s3.upload_part(Bucket=bucket, Key="mp", UploadId=up, PartNumber=1, Body=b"a" * 1024)["ETag"]
    e2 = s3.upload_part(Bucket=bucket, Key="mp", UploadId=up, PartNumber=2, Body=b"b" * 10)["ETag"]
    assert [p["PartNumber"] for p in s3.list_parts(Bucket=bucket, Key="mp", UploadId=up)["Parts"]] == [1, 2]
    assert [u["UploadId"] for u in s3.list_multipart_uploads(Bucket=bucket)["Uploads"]] == [up]
    parts = [{"PartNumber": 1, "ETag": e1}, {"PartNumber": 2, "ETag": e2}]
    with pytest.raises(ClientError) as e:
        s3.complete_multipart_upload(Bucket=bucket, Key="mp", UploadId=up, MultipartUpload={"Parts": parts})
    assert _code(e) == ("EntityTooSmall", 400)
    s3.abort_multipart_upload(Bucket=bucket, Key="mp", UploadId=up)
    with pytest.raises(ClientError) as e:
        s3.list_parts(Bucket=bucket, Key="mp", UploadId=up)
    assert _code(e) == ("NoSuchUpload", 404)
    up = s3.create_multipart_upload(Bucket=bucket, Key="mp")["UploadId"]
    big = os.urandom(5 * 1024 * 1024)
    e1 = s3.upload_part(Bucket=bucket, Key="mp", UploadId=up, PartNumber=1, Body=big)["ETag"]
    e2 = s3.upload_part(Bucket=bucket, Key="mp", UploadId=up, PartNumber=2, Body=b"end")["ETag"]
    done = s3.complete_multipart_upload(Bucket=bucket, Key="mp", UploadId=up, MultipartUpload={
        "Parts": [{"PartNumber": 1, "ETag": e1}, {"PartNumber": 2, "ETag": e2}]})
    md5s = hashlib.md5(big).digest() + hashlib.md5(b"end").digest()
    assert done["ETag"] == f'"{hashlib.md5(md5s).hexdigest()}-2"'
    assert s3.get_object(Bucket=bucket, Key="mp", Range="bytes=5242878-5242881")["Body"].read() == big[-2:] + b"en"


def test_upload_and_download_100_mib(s3, bucket: str, tmp_path: Path) -> None:
    src = tmp_path / "big.bin"
    with open(src, "wb") as fh:
        for _ in range(100):
            fh.write(os.urandom(1024 * 1024))
    s3.upload_file(str(src), bucket, "big.bin")
    head = s3.head_object(Bucket=bucket, Key="big.bin", ChecksumMode="ENABLED")
    assert head["ContentLength"] == 100 * 1024 * 1024 and head["ETag"].endswith('-13"')
    dst = tmp_path / "back.bin"
    s3.download_file(bucket, "big.bin", str(dst))
    assert hashlib.sha256(dst.read_bytes()).digest() == hashlib.sha256(src.read_bytes()).digest()


def test_checksums_verified_and_returned(s3, bucket: str) -> None:
    for alg in ("CRC32", "SHA1", "SHA256"):  # botocore computes CRC32C only with awscrt
        put = s3.put_object(Bucket=bucket, Key=alg, Body=b"checked", ChecksumAlgorithm=alg)
        head = s3.head_object(Bucket=bucket, Key=alg, ChecksumMode="ENABLED")
        assert head[f"Checksum{alg}"] == put[f"Checksum{alg}"]
    with pytest.raises(ClientError) as e:
        s3.put_object(Bucket=bucket, Key="bad", Body=b"checked", ChecksumSHA256="A" * 43 + "=")
    assert _code(e)[0] == "BadDigest"
    with pytest.raises(ClientError):
        s3.head_object(Bucket=bucket, Key="bad")


def test_encryption_at_rest(s3, bucket: str, server: Server) -> None:
    marker = b"PLAINTEXT-MARKER-" + uuid.uuid4().hex.encode()
    s3.put_object(Bucket=bucket, Key="secret", Body=marker * 1000)  # small: inline in its record
    s3.put_object(Bucket=bucket, Key="large", Body=marker * 5000)  # large: a blob
    enc = s3.get_bucket_encryption(Bucket=bucket)["ServerSideEncryptionConfiguration"]
    assert enc["Rules"][0]["ApplyServerSideEncryptionByDefault"]["SSEAlgorithm"] == "AES256"
    assert s3.head_object(Bucket=bucket, Key="secret")["ServerSideEncryption"] == "AES256"
    stored = [p for p in server.data_dir.rglob("*") if p.is_file()]  # blobs, and small bodies in the database
    assert stored and not any(marker in p.read_bytes() for p in stored)
    assert s3.get_object(Bucket=bucket, Key="secret")["Body"].read() == marker * 1000
    assert s3.get_object(Bucket=bucket, Key="large")["Body"].read() == marker * 5000
    assert any(p.is_file() for p in (server.data_dir / "blobs").rglob("*"))


def test_acls_disabled_by_default(s3, bucket: str) -> None:
    with pytest.raises(ClientError) as e:
        s3.put_object(Bucket=bucket, Key="k", Body=b"x", ACL="public-read")
    assert _code(e) == ("AccessControlListNotSupported", 400)
    s3.put_object(Bucket=bucket, Key="k", Body=b"x", ACL="bucket-owner-full-control")


def test_aws_cli_cp_ls_sync_rm_presign(admin: AwsEnv, bucket: str, tmp_path: Path) -> None:
    (tmp_path / "up").mkdir()
    for i in range(3):
        (tmp_path / "up" / f"f{i}.txt").write_text(f"file {i}")
    out = admin.aws("s3", "sync", str(tmp_path / "up"), f"s3://{bucket}/sync/")
    assert out.returncode == 0, out.stderr
    listing = admin.aws("s3", "ls", f"s3://{bucket}/sync/")
    assert listing.returncode == 0 and all(f"f{i}.txt" in listing.stdout for i in range(3))
    out = admin.aws("s3", "cp", f"s3://{bucket}/sync/f1.txt", str(tmp_path / "down.txt"))
    assert out.returncode == 0, out.stderr
    assert (tmp_path / "down.txt").read_text() == "file 1"
    # `skyhold configure` sets signature_version = s3v4: the CLI v1 would presign with
    # SigV2 otherwise, which S3 (and Skyhold) refuse.
    url = admin.aws("s3", "presign", f"s3://{bucket}/sync/f2.txt", "--expires-in", "60").stdout.strip()
    assert "X-Amz-Signature=" in url, url
    import urllib.request
    with urllib.request.urlopen(url) as r:
        assert r.read() == b"file 2"
    out = admin.aws("s3", "rm", f"s3://{bucket}/sync/", "--recursive")
    assert out.returncode == 0, out.stderr
    assert "Contents" not in admin.aws_json("s3api", "list-objects-v2", "--bucket", bucket)


def test_bucket_location_as_boto3_reads_it(admin: AwsEnv) -> None:
    import uuid as _uuid

    s3 = admin.client("s3", region_name="us-east-1")
    east = f"loc-{_uuid.uuid4().hex[:8]}"
    s3.create_bucket(Bucket=east)
    assert s3.get_bucket_location(Bucket=east)["LocationConstraint"] is None  # us-east-1, as AWS answers it
    west = f"loc-{_uuid.uuid4().hex[:8]}"
    eu = admin.client("s3", region_name="eu-west-1")
    eu.create_bucket(Bucket=west, CreateBucketConfiguration={"LocationConstraint": "eu-west-1"})
    assert eu.get_bucket_location(Bucket=west)["LocationConstraint"] == "eu-west-1"


def test_status_codes_for_ranges_and_deletes(admin: AwsEnv) -> None:
    import uuid as _uuid

    s3 = admin.client("s3", region_name="us-east-1")
    bucket = f"st-{_uuid.uuid4().hex[:8]}"
    s3.create_bucket(Bucket=bucket)
    s3.put_object(Bucket=bucket, Key="k", Body=b"0123456789")
    part = s3.get_object(Bucket=bucket, Key="k", Range="bytes=2-4")
    assert part["ResponseMetadata"]["HTTPStatusCode"] == 206 and part["Body"].read() == b"234"
    assert s3.delete_object(Bucket=bucket, Key="k")["ResponseMetadata"]["HTTPStatusCode"] == 204
