"""CRC64NVME, and S3's default checksum: since December 2024 S3 stores a FULL_OBJECT
CRC64NVME for every object uploaded without a checksum (PutObject, POST, multipart
uploads, copies) and answers it with ChecksumMode=ENABLED. As AWS answered in
LocalStack's recorded snapshots; every expected value is computed here with awscrt."""

from __future__ import annotations

import base64
import hashlib
import json
import urllib.request
from typing import Any

import botocore.auth
import botocore.awsrequest
import pytest
import requests
from awscrt import checksums as crt
from botocore.config import Config

from .conftest import AwsEnv, aws_error
from .test_s3 import _name

MIB = 1024 * 1024


def crc64(data: bytes) -> str:
    return base64.b64encode(crt.crc64nvme(data).to_bytes(8, "big")).decode()


def crc32c(data: bytes) -> str:
    return base64.b64encode(crt.crc32c(data).to_bytes(4, "big")).decode()


def _checksums(answer: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in answer.items() if k.startswith("Checksum")}


@pytest.fixture
def s3(admin: AwsEnv) -> Any:
    return admin.client("s3", region_name="us-east-1")


@pytest.fixture
def bare(admin: AwsEnv) -> Any:
    """A client that sends no checksum unless asked (botocore otherwise adds a CRC32)."""
    return admin.session().client("s3", region_name="us-east-1", config=Config(
        retries={"max_attempts": 1}, request_checksum_calculation="when_required",
        response_checksum_validation="when_required"))


@pytest.fixture
def bucket(s3: Any) -> str:
    name = _name("crc64")
    s3.create_bucket(Bucket=name)
    return name


def test_put_and_get_with_crc64nvme(s3: Any, bucket: str) -> None:
    data = b"test data.."
    put = s3.put_object(Bucket=bucket, Key="k", Body=data, ChecksumAlgorithm="CRC64NVME")
    assert crc64(data) == "qUVrWYOrIAM="  # the value AWS answered for these bytes
    assert _checksums(put) == {"ChecksumCRC64NVME": crc64(data), "ChecksumType": "FULL_OBJECT"}
    got = s3.get_object(Bucket=bucket, Key="k", ChecksumMode="ENABLED")  # botocore checks it too
    assert got["Body"].read() == data
    assert _checksums(got) == {"ChecksumCRC64NVME": crc64(data), "ChecksumType": "FULL_OBJECT"}
    # A precomputed value, right
    put = s3.put_object(Bucket=bucket, Key="k2", Body=data, ChecksumCRC64NVME=crc64(data))
    assert put["ChecksumCRC64NVME"] == crc64(data)


def test_a_wrong_crc64nvme_is_refused(s3: Any, bucket: str) -> None:
    put = dict(Bucket=bucket, Key="k", Body=b"test data..", ChecksumAlgorithm="CRC64NVME")
    assert aws_error(lambda: s3.put_object(**put, ChecksumCRC64NVME=crc64(b"bad data"))) == (
        "BadDigest", "The CRC64NVME you specified did not match the calculated checksum.", 400)
    assert aws_error(lambda: s3.put_object(**put, ChecksumCRC64NVME="notbase64")) == (
        "InvalidRequest", "Value for x-amz-checksum-crc64nvme header is invalid.", 400)
    assert aws_error(lambda: s3.head_object(Bucket=bucket, Key="k"))[2] == 404  # nothing was stored
    upload = s3.create_multipart_upload(Bucket=bucket, Key="mpu")["UploadId"]
    assert aws_error(lambda: s3.upload_part(Bucket=bucket, Key="mpu", UploadId=upload, PartNumber=1,
                                            Body=b"right body", ChecksumAlgorithm="CRC64NVME",
                                            ChecksumCRC64NVME=crc64(b"bad data"))) == (
        "BadDigest", "The CRC64NVME you specified did not match the calculated checksum.", 400)


def test_an_object_put_without_a_checksum_gets_the_default(bare: Any, bucket: str) -> None:
    data = b"no checksum sent with this body"
    put = bare.put_object(Bucket=bucket, Key="plain", Body=data)
    assert _checksums(put) == {"ChecksumCRC64NVME": crc64(data), "ChecksumType": "FULL_OBJECT"}
    for answer in (bare.head_object(Bucket=bucket, Key="plain", ChecksumMode="ENABLED"),
                   bare.get_object(Bucket=bucket, Key="plain", ChecksumMode="ENABLED")):
        assert _checksums(answer) == {"ChecksumCRC64NVME": crc64(data), "ChecksumType": "FULL_OBJECT"}
    assert _checksums(bare.head_object(Bucket=bucket, Key="plain")) == {}  # only when asked for

    # A copy keeps it (computed afresh) and says so, ChecksumType included.
    copied = bare.copy_object(Bucket=bucket, Key="copy", CopySource=f"{bucket}/plain")["CopyObjectResult"]
    assert _checksums(copied) == {"ChecksumCRC64NVME": crc64(data), "ChecksumType": "FULL_OBJECT"}
    # A copy asked for another algorithm has that one instead.
    copied = bare.copy_object(Bucket=bucket, Key="copy", CopySource=f"{bucket}/plain",
                              ChecksumAlgorithm="CRC32C")["CopyObjectResult"]
    assert _checksums(copied) == {"ChecksumCRC32C": crc32c(data), "ChecksumType": "FULL_OBJECT"}


def _raw_put(admin: AwsEnv, url: str, data: bytes, headers: dict[str, str]) -> int:
    req = botocore.awsrequest.AWSRequest("PUT", url, data=data,
                                         headers={"x-amz-content-sha256": "UNSIGNED-PAYLOAD", **headers})
    botocore.auth.S3SigV4Auth(admin.credentials(), "s3", "us-east-1").add_auth(req)
    with urllib.request.urlopen(urllib.request.Request(url, data=data, method="PUT", headers=dict(req.headers)),
                                timeout=10) as r:
        return r.status


def test_x_amz_checksum_algorithm_alone_names_no_checksum(admin: AwsEnv, s3: Any, bucket: str) -> None:
    """AWS stores the checksum a body comes with; the algorithm header alone (even one S3
    does not know) leaves the default, and beside another algorithm's value is ignored."""
    data = b"test data.."
    url = f"{admin.endpoint}/{bucket}"
    assert _raw_put(admin, f"{url}/algo-only", data, {"x-amz-checksum-algorithm": "SHA256"}) == 200
    assert _raw_put(admin, f"{url}/algo-unknown", data, {"x-amz-checksum-algorithm": "TEST"}) == 200
    sha256 = base64.b64encode(hashlib.sha256(data).digest()).decode()
    assert _raw_put(admin, f"{url}/algo-diff", data, {"x-amz-checksum-algorithm": "SHA1",
                                                      "x-amz-checksum-sha256": sha256}) == 200

    def head(key: str) -> dict[str, Any]:
        return _checksums(s3.head_object(Bucket=bucket, Key=key, ChecksumMode="ENABLED"))

    default = {"ChecksumCRC64NVME": crc64(data), "ChecksumType": "FULL_OBJECT"}
    assert head("algo-only") == default
    assert head("algo-unknown") == default
    assert head("algo-diff") == {"ChecksumSHA256": sha256, "ChecksumType": "FULL_OBJECT"}


def test_multipart_upload_without_a_checksum_completes_with_the_default(bare: Any, s3: Any, bucket: str) -> None:
    first, second, third = b"a" * (5 * MIB), b"b" * (5 * MIB + 3), b"tail"
    created = bare.create_multipart_upload(Bucket=bucket, Key="mpu")
    assert "ChecksumAlgorithm" not in created and "ChecksumType" not in created
    upload = created["UploadId"]
    # A part may still come with a checksum of its own: it is verified and answered.
    part1 = bare.upload_part(Bucket=bucket, Key="mpu", UploadId=upload, PartNumber=1, Body=first,
                             ChecksumCRC32C=crc32c(first))
    assert _checksums(part1) == {"ChecksumCRC32C": crc32c(first)}
    part2 = bare.upload_part(Bucket=bucket, Key="mpu", UploadId=upload, PartNumber=2, Body=second)
    assert _checksums(part2) == {}
    s3.put_object(Bucket=bucket, Key="src", Body=third)
    part3 = bare.upload_part_copy(Bucket=bucket, Key="mpu", UploadId=upload, PartNumber=3,
                                  CopySource=f"{bucket}/src")["CopyPartResult"]
    assert _checksums(part3) == {}
    listed = bare.list_parts(Bucket=bucket, Key="mpu", UploadId=upload)
    assert [_checksums(p) for p in listed["Parts"]] == [{}, {}, {}]  # the default one stays unseen
    assert "ChecksumAlgorithm" not in listed

    parts = [{"PartNumber": n, "ETag": p["ETag"]} for n, p in enumerate((part1, part2, part3), 1)]
    # A whole-object value sent for an upload created without a checksum is ignored, as on S3.
    done = bare.complete_multipart_upload(Bucket=bucket, Key="mpu", UploadId=upload,
                                          MultipartUpload={"Parts": parts}, ChecksumCRC32C=f"{crc32c(b'x')}-3")
    whole = crc64(first + second + third)
    assert _checksums(done) == {"ChecksumCRC64NVME": whole, "ChecksumType": "FULL_OBJECT"}
    head = bare.head_object(Bucket=bucket, Key="mpu", ChecksumMode="ENABLED")
    assert _checksums(head) == {"ChecksumCRC64NVME": whole, "ChecksumType": "FULL_OBJECT"}
    assert s3.get_object(Bucket=bucket, Key="mpu", ChecksumMode="ENABLED")["Body"].read() == first + second + third


def test_multipart_upload_with_crc64nvme(s3: Any, bucket: str) -> None:
    created = s3.create_multipart_upload(Bucket=bucket, Key="mpu", ChecksumAlgorithm="CRC64NVME")
    assert (created["ChecksumAlgorithm"], created["ChecksumType"]) == ("CRC64NVME", "FULL_OBJECT")
    upload = created["UploadId"]
    first, second = b"x" * (5 * MIB), b"aaa"
    parts = []
    for n, body in enumerate((first, second), 1):
        part = s3.upload_part(Bucket=bucket, Key="mpu", UploadId=upload, PartNumber=n, Body=body,
                              ChecksumAlgorithm="CRC64NVME")
        assert part["ChecksumCRC64NVME"] == crc64(body)
        parts.append({"PartNumber": n, "ETag": part["ETag"], "ChecksumCRC64NVME": part["ChecksumCRC64NVME"]})
    listed = s3.list_parts(Bucket=bucket, Key="mpu", UploadId=upload)
    assert [p["ChecksumCRC64NVME"] for p in listed["Parts"]] == [crc64(first), crc64(second)]
    done = s3.complete_multipart_upload(Bucket=bucket, Key="mpu", UploadId=upload, MultipartUpload={"Parts": parts})
    assert _checksums(done) == {"ChecksumCRC64NVME": crc64(first + second), "ChecksumType": "FULL_OBJECT"}
    got = s3.get_object(Bucket=bucket, Key="mpu", ChecksumMode="ENABLED")
    assert got["Body"].read() == first + second
    assert got["ChecksumCRC64NVME"] == crc64(first + second)


def test_a_browser_post_gets_the_default(s3: Any, bucket: str) -> None:
    post = s3.generate_presigned_post(bucket, "posted", ExpiresIn=300)
    data = b"test-body-tagging"
    r = requests.post(post["url"], data=post["fields"], files={"file": ("f", data)}, timeout=30)
    assert r.status_code == 204, r.text
    assert (r.headers["x-amz-checksum-crc64nvme"], r.headers["x-amz-checksum-type"]) == (crc64(data), "FULL_OBJECT")
    assert s3.head_object(Bucket=bucket, Key="posted", ChecksumMode="ENABLED")["ChecksumCRC64NVME"] == crc64(data)


def test_cli_reads_the_default_checksum(admin: AwsEnv, bucket: str, tmp_path: Any) -> None:
    body = tmp_path / "body.txt"
    body.write_bytes(b"from the aws CLI, with no checksum")
    out = admin.aws("s3api", "put-object", "--bucket", bucket, "--key", "cli", "--body", str(body),
                    extra_env={"AWS_REQUEST_CHECKSUM_CALCULATION": "when_required"})
    assert out.returncode == 0, out.stderr
    head = json.loads(admin.aws("s3api", "head-object", "--bucket", bucket, "--key", "cli",
                                "--checksum-mode", "ENABLED", "--output", "json").stdout)
    assert (head["ChecksumCRC64NVME"], head["ChecksumType"]) == (crc64(body.read_bytes()), "FULL_OBJECT")
