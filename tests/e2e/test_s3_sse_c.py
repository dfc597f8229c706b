"""SSE-C end to end: blocked on new buckets until the owner unblocks it; objects open
only with the key they were written with; the key is never kept."""

from __future__ import annotations

import base64
import hashlib
import os
import uuid

import pytest
from botocore.exceptions import ClientError

from .conftest import AwsEnv, Server, allow_sse_c

KEY = os.urandom(32)
OTHER = os.urandom(32)
SSE = {"SSECustomerAlgorithm": "AES256", "SSECustomerKey": KEY}
MD5 = base64.b64encode(hashlib.md5(KEY).digest()).decode()
MIB = 1024 * 1024


def _error(e: pytest.ExceptionInfo[ClientError]) -> tuple[int, str, str]:
    r = e.value.response
    return r["ResponseMetadata"]["HTTPStatusCode"], r["Error"]["Code"], r["Error"].get("Message", "")


# S3 takes SSE-C keys over HTTPS only: this module's admin and server are an HTTPS one's.
@pytest.fixture(scope="module")
def admin(https_admin: AwsEnv) -> AwsEnv:
    return https_admin


@pytest.fixture(scope="module")
def server(https_server: Server) -> Server:
    return https_server


@pytest.fixture
def s3(s3_tls):
    return s3_tls


@pytest.fixture
def bucket(s3) -> str:
    name = f"ssec-{uuid.uuid4().hex[:12]}"
    s3.create_bucket(Bucket=name)
    allow_sse_c(s3, name)
    return name


def test_new_buckets_block_sse_c_until_unblocked(s3) -> None:
    name = f"ssec-{uuid.uuid4().hex[:12]}"
    s3.create_bucket(Bucket=name)
    rule = s3.get_bucket_encryption(Bucket=name)["ServerSideEncryptionConfiguration"]["Rules"][0]
    assert rule["BlockedEncryptionTypes"] == {"EncryptionType": ["SSE-C"]}
    with pytest.raises(ClientError) as e:
        s3.put_object(Bucket=name, Key="k", Body=b"x", **SSE)
    assert _error(e)[:2] == (403, "AccessDenied")
    with pytest.raises(ClientError):
        s3.head_object(Bucket=name, Key="k")  # nothing was written

    allow_sse_c(s3, name)
    s3.put_object(Bucket=name, Key="k", Body=b"x", **SSE)
    # a configuration that does not name the block keeps it (here: unblocked)
    s3.put_bucket_encryption(Bucket=name, ServerSideEncryptionConfiguration={"Rules": [{
        "ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}]})
    rule = s3.get_bucket_encryption(Bucket=name)["ServerSideEncryptionConfiguration"]["Rules"][0]
    assert rule["BlockedEncryptionTypes"] == {"EncryptionType": ["NONE"]}

    # blocking again stops new writes but existing objects still open with their key
    s3.put_bucket_encryption(Bucket=name, ServerSideEncryptionConfiguration={"Rules": [{
        "ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"},
        "BlockedEncryptionTypes": {"EncryptionType": ["SSE-C"]}}]})
    with pytest.raises(ClientError) as e:
        s3.put_object(Bucket=name, Key="k2", Body=b"x", **SSE)
    assert _error(e)[:2] == (403, "AccessDenied")
    assert s3.get_object(Bucket=name, Key="k", **SSE)["Body"].read() == b"x"


def test_objects_open_only_with_their_key(s3, bucket: str) -> None:
    out = s3.put_object(Bucket=bucket, Key="secret.txt", Body=b"customer keyed", **SSE)
    assert out["SSECustomerAlgorithm"] == "AES256" and out["SSECustomerKeyMD5"] == MD5
    assert "ServerSideEncryption" not in out

    got = s3.get_object(Bucket=bucket, Key="secret.txt", **SSE)
    assert got["Body"].read() == b"customer keyed"
    assert got["SSECustomerKeyMD5"] == MD5 and "ServerSideEncryption" not in got
    ranged = s3.get_object(Bucket=bucket, Key="secret.txt", Range="bytes=9-13", **SSE)
    assert ranged["Body"].read() == b"keyed"
    head = s3.head_object(Bucket=bucket, Key="secret.txt", **SSE)
    assert head["ContentLength"] == 14 and head["SSECustomerAlgorithm"] == "AES256"

    with pytest.raises(ClientError) as e:
        s3.get_object(Bucket=bucket, Key="secret.txt")
    assert _error(e) == (400, "InvalidRequest", "The object was stored using a form of Server Side Encryption. "
                         "The correct parameters must be provided to retrieve the object.")
    with pytest.raises(ClientError) as e:
        s3.head_object(Bucket=bucket, Key="secret.txt")
    assert _error(e)[0] == 400
    with pytest.raises(ClientError) as e:
        s3.get_object(Bucket=bucket, Key="secret.txt", SSECustomerAlgorithm="AES256", SSECustomerKey=OTHER)
    assert _error(e)[:2] == (403, "AccessDenied")
    with pytest.raises(ClientError) as e:
        s3.head_object(Bucket=bucket, Key="secret.txt", SSECustomerAlgorithm="AES256", SSECustomerKey=OTHER)
    assert _error(e)[0] == 403

    # a key sent for an object that has none
    s3.put_object(Bucket=bucket, Key="plain.txt", Body=b"plain")
    with pytest.raises(ClientError) as e:
        s3.get_object(Bucket=bucket, Key="plain.txt", **SSE)
    assert _error(e) == (400, "InvalidRequest", "The encryption parameters are not applicable to this object.")


@pytest.mark.parametrize("extra, code, message", [
    # with an MD5 given, botocore sends the key as given (base64) and the MD5 unchecked
    ({"SSECustomerAlgorithm": "AES256", "SSECustomerKey": base64.b64encode(KEY).decode(),
      "SSECustomerKeyMD5": "AAAAAAAAAAAAAAAAAAAAAA=="},
     "InvalidArgument", "The calculated MD5 hash of the key did not match the hash that was provided."),
    ({"SSECustomerAlgorithm": "AES256", "SSECustomerKey": KEY[:16]},
     "InvalidArgument", "The secret key was invalid for the specified algorithm."),
    ({"SSECustomerAlgorithm": "AES128", "SSECustomerKey": KEY},
     "InvalidEncryptionAlgorithmError", "The Encryption request you specified is not valid. Supported value: AES256."),
    ({"SSECustomerAlgorithm": "AES256", "SSECustomerKey": KEY, "ServerSideEncryption": "AES256"},
     "InvalidArgument", "Server Side Encryption with Customer provided key is incompatible with the encryption "
     "method specified"),
])
def test_bad_keys_are_refused_and_write_nothing(s3, bucket: str, extra: dict, code: str, message: str) -> None:
    with pytest.raises(ClientError) as e:
        s3.put_object(Bucket=bucket, Key="bad", Body=b"x", **extra)
    assert _error(e) == (400, code, message)
    assert "Contents" not in s3.list_objects_v2(Bucket=bucket)


def test_copy_reads_with_the_source_key_and_writes_with_the_destination_key(s3, bucket: str) -> None:
    s3.put_object(Bucket=bucket, Key="src", Body=b"copy me", **SSE)
    with pytest.raises(ClientError) as e:
        s3.copy_object(Bucket=bucket, Key="dst", CopySource={"Bucket": bucket, "Key": "src"})
    assert _error(e)[:2] == (400, "InvalidRequest")
    with pytest.raises(ClientError) as e:
        s3.copy_object(Bucket=bucket, Key="dst", CopySource={"Bucket": bucket, "Key": "src"},
                       CopySourceSSECustomerAlgorithm="AES256", CopySourceSSECustomerKey=OTHER)
    assert _error(e)[:2] == (403, "AccessDenied")

    # SSE-C source → SSE-S3 destination
    s3.copy_object(Bucket=bucket, Key="dst", CopySource={"Bucket": bucket, "Key": "src"},
                   CopySourceSSECustomerAlgorithm="AES256", CopySourceSSECustomerKey=KEY)
    assert s3.get_object(Bucket=bucket, Key="dst")["Body"].read() == b"copy me"
    # re-keying in place: same key, a new customer key
    out = s3.copy_object(Bucket=bucket, Key="src", CopySource={"Bucket": bucket, "Key": "src"},
                         CopySourceSSECustomerAlgorithm="AES256", CopySourceSSECustomerKey=KEY,
                         SSECustomerAlgorithm="AES256", SSECustomerKey=OTHER)
    assert out["SSECustomerKeyMD5"] == base64.b64encode(hashlib.md5(OTHER).digest()).decode()
    assert s3.get_object(Bucket=bucket, Key="src", SSECustomerAlgorithm="AES256",
                         SSECustomerKey=OTHER)["Body"].read() == b"copy me"
    with pytest.raises(ClientError) as e:
        s3.get_object(Bucket=bucket, Key="src", **SSE)
    assert _error(e)[0] == 403


def test_multipart_parts_need_the_uploads_key(s3, bucket: str) -> None:
    up = s3.create_multipart_upload(Bucket=bucket, Key="big", **SSE)
    assert up["SSECustomerKeyMD5"] == MD5
    uid = up["UploadId"]
    part1, part2 = os.urandom(5 * MIB), b"tail"
    with pytest.raises(ClientError) as e:
        s3.upload_part(Bucket=bucket, Key="big", UploadId=uid, PartNumber=1, Body=part1)
    assert _error(e) == (400, "InvalidRequest", "The multipart upload initiate requested encryption. Subsequent "
                         "part requests must include the appropriate encryption parameters.")
    with pytest.raises(ClientError) as e:
        s3.upload_part(Bucket=bucket, Key="big", UploadId=uid, PartNumber=1, Body=part1,
                       SSECustomerAlgorithm="AES256", SSECustomerKey=OTHER)
    assert _error(e) == (400, "InvalidRequest",
                         "The provided encryption parameters did not match the ones used originally.")
    etags = [s3.upload_part(Bucket=bucket, Key="big", UploadId=uid, PartNumber=n, Body=body, **SSE)["ETag"]
             for n, body in ((1, part1), (2, part2))]
    s3.complete_multipart_upload(Bucket=bucket, Key="big", UploadId=uid, MultipartUpload={
        "Parts": [{"PartNumber": n, "ETag": t} for n, t in zip((1, 2), etags)]})
    assert s3.get_object(Bucket=bucket, Key="big", **SSE)["Body"].read() == part1 + part2
    with pytest.raises(ClientError):
        s3.get_object(Bucket=bucket, Key="big")


def test_cli_round_trip_and_nothing_kept(admin: AwsEnv, server: Server, s3, bucket: str, tmp_path) -> None:
    key_file = tmp_path / "sse.key"
    key_file.write_bytes(KEY)
    marker = b"SSE-C-PLAINTEXT-" + uuid.uuid4().hex.encode()
    src = tmp_path / "in.txt"
    src.write_bytes(marker * 100)
    up = admin.aws("s3", "cp", str(src), f"s3://{bucket}/cli.txt", "--sse-c", "AES256",
                   "--sse-c-key", f"fileb://{key_file}")
    assert up.returncode == 0, up.stderr
    down = admin.aws("s3", "cp", f"s3://{bucket}/cli.txt", str(tmp_path / "out.txt"), "--sse-c", "AES256",
                     "--sse-c-key", f"fileb://{key_file}")
    assert down.returncode == 0, down.stderr
    assert (tmp_path / "out.txt").read_bytes() == marker * 100
    refused = admin.aws("s3", "cp", f"s3://{bucket}/cli.txt", str(tmp_path / "nope.txt"))
    assert refused.returncode != 0

    # neither the plaintext nor the customer key (raw or base64) is anywhere in the data dir
    b64 = base64.b64encode(KEY)
    for path in server.data_dir.rglob("*"):
        if path.is_file():
            data = path.read_bytes()
            assert KEY not in data and b64 not in data, path
            if "blobs" in path.parts:
                assert marker not in data, path
