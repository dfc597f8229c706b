"""S3's checksums, review 14: the five algorithms S3 added in April 2026 (MD5, SHA512,
XXHASH64, XXHASH3, XXHASH128; aws.amazon.com/about-aws/whats-new/2026/04/
s3-five-additional-checksum-algorithms), accepted and verified on every path S3 takes
them -- value headers, aws-chunked trailers, multipart composites, copies -- and
x-amz-sdk-checksum-algorithm held to the checksum the request carries.

Expected values are computed here with hashlib and awscrt (the library botocore itself
uses for XXHash); their published test vectors are checked in
tests/unit/test_checksums_review14.py."""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Callable
from typing import Any

import botocore.auth
import botocore.awsrequest
import pytest
from awscrt import checksums as crt

from .conftest import AwsEnv, aws_error, error_and_status, new_bucket, send_signed, signing_credentials

MIB = 1024 * 1024


def _b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode()


# Each new algorithm's raw digest, as S3 sends it: the big-endian bytes, base64-encoded.
_DIGESTS: dict[str, Callable[[bytes], bytes]] = {
    "MD5": lambda d: hashlib.md5(d).digest(),
    "SHA512": lambda d: hashlib.sha512(d).digest(),
    "XXHASH64": crt.XXHash.compute_xxhash64,
    "XXHASH3": crt.XXHash.compute_xxhash3_64,
    "XXHASH128": crt.XXHash.compute_xxhash3_128,
}
NEW = sorted(_DIGESTS)


def digest(alg: str, data: bytes) -> str:
    return _b64(_DIGESTS[alg](data))


def _checksums(answer: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in answer.items() if k.startswith("Checksum")}


def _s3(admin: AwsEnv) -> Any:
    return admin.client("s3", region_name="us-east-1")


@pytest.mark.parametrize("alg", NEW)
def test_put_object_stores_and_verifies_a_new_algorithm(admin: AwsEnv, alg: str) -> None:
    s3 = _s3(admin)
    bucket = new_bucket(s3, "cks14-put")
    data = b"hello world"
    member = f"Checksum{alg}"
    put = s3.put_object(Bucket=bucket, Key="k", Body=data, **{member: digest(alg, data)})
    assert _checksums(put) == {member: digest(alg, data), "ChecksumType": "FULL_OBJECT"}
    for answer in (s3.head_object(Bucket=bucket, Key="k", ChecksumMode="ENABLED"),
                   s3.get_object(Bucket=bucket, Key="k", ChecksumMode="ENABLED")):
        assert _checksums(answer) == {member: digest(alg, data), "ChecksumType": "FULL_OBJECT"}
    listed = s3.list_objects_v2(Bucket=bucket)["Contents"][0]
    assert (listed["ChecksumAlgorithm"], listed["ChecksumType"]) == ([alg], "FULL_OBJECT")

    # Another body's value is refused, and nothing is stored.
    assert aws_error(lambda: s3.put_object(Bucket=bucket, Key="bad", Body=data, **{member: digest(alg, b"x")})) == (
        "BadDigest", f"The {alg} you specified did not match the calculated checksum.", 400)
    # So is a value of the wrong length, or not base64 at all.
    for value in (_b64(_DIGESTS[alg](b"x")[:-1]), "not base64!"):
        assert aws_error(lambda: s3.put_object(Bucket=bucket, Key="bad", Body=data, **{member: value})) == (
            "InvalidRequest", f"Value for x-amz-checksum-{alg.lower()} header is invalid.", 400)
    assert aws_error(lambda: s3.head_object(Bucket=bucket, Key="bad"))[2] == 404


@pytest.mark.parametrize("alg", ["SHA512", "XXHASH64", "XXHASH3", "XXHASH128"])
def test_botocore_computes_the_new_algorithms_and_s3_keeps_them(admin: AwsEnv, alg: str) -> None:
    # botocore computes these itself (MD5 only as a precomputed value): what it sends is kept.
    s3 = _s3(admin)
    bucket = new_bucket(s3, "cks14-sdk")
    data = b"test data.." * 100
    put = s3.put_object(Bucket=bucket, Key="k", Body=data, ChecksumAlgorithm=alg)
    assert _checksums(put) == {f"Checksum{alg}": digest(alg, data), "ChecksumType": "FULL_OBJECT"}
    got = s3.get_object(Bucket=bucket, Key="k", ChecksumMode="ENABLED")  # botocore validates it too
    assert got["Body"].read() == data


def test_the_aws_cli_uploads_with_xxhash128(admin: AwsEnv, tmp_path: Any) -> None:
    s3 = _s3(admin)
    bucket = new_bucket(s3, "cks14-cli")
    body = tmp_path / "f.bin"
    body.write_bytes(b"cli bytes " * 50)
    out = admin.aws_json("s3api", "put-object", "--bucket", bucket, "--key", "k", "--body", str(body),
                         "--checksum-algorithm", "XXHASH128")
    assert out["ChecksumXXHASH128"] == digest("XXHASH128", body.read_bytes())


class _UnsignedTrailer(botocore.auth.S3SigV4Auth):
    def payload(self, request: Any) -> str:
        return "STREAMING-UNSIGNED-PAYLOAD-TRAILER"


def _trailer_put(admin: AwsEnv, url: str, name: str, value: str, **headers: str) -> tuple[int, bytes]:
    wire = b"5\r\nhello\r\n0\r\n" + f"x-amz-checksum-{name}:{value}\r\n\r\n".encode()
    req = botocore.awsrequest.AWSRequest(method="PUT", url=url, data=wire, headers={
        "content-encoding": "aws-chunked", "x-amz-decoded-content-length": "5",
        "x-amz-trailer": f"x-amz-checksum-{name}", **headers})
    _UnsignedTrailer(signing_credentials(admin), "s3", "us-east-1").add_auth(req)
    return send_signed(req)


@pytest.mark.parametrize("alg", NEW)
def test_a_trailing_checksum_of_a_new_algorithm_is_verified(admin: AwsEnv, alg: str) -> None:
    s3 = _s3(admin)
    bucket = new_bucket(s3, "cks14-trailer")
    url = f"{admin.endpoint}/{bucket}"
    name = alg.lower()
    status, body = _trailer_put(admin, f"{url}/ok", name, digest(alg, b"hello"))
    assert status == 200, body
    head = s3.head_object(Bucket=bucket, Key="ok", ChecksumMode="ENABLED")
    assert _checksums(head) == {f"Checksum{alg}": digest(alg, b"hello"), "ChecksumType": "FULL_OBJECT"}
    status, body = _trailer_put(admin, f"{url}/bad", name, digest(alg, b"other"))
    assert status == 400
    assert f"<Message>The {alg} you specified did not match the calculated checksum.</Message>".encode() in body
    status, body = _trailer_put(admin, f"{url}/bad", name, _b64(b"\0" * 3))
    assert status == 400
    assert f"<Message>Value for x-amz-checksum-{name} trailing header is invalid.</Message>".encode() in body
    assert aws_error(lambda: s3.head_object(Bucket=bucket, Key="bad"))[2] == 404


@pytest.mark.parametrize("alg", NEW)
def test_multipart_upload_with_a_new_algorithm_is_composite(admin: AwsEnv, alg: str) -> None:
    s3 = _s3(admin)
    bucket = new_bucket(s3, "cks14-mpu")
    member = f"Checksum{alg}"
    created = s3.create_multipart_upload(Bucket=bucket, Key="k", ChecksumAlgorithm=alg)
    assert (created["ChecksumAlgorithm"], created["ChecksumType"]) == (alg, "COMPOSITE")
    upload = created["UploadId"]
    bodies = [b"a" * (5 * MIB), b"tail"]
    parts = []
    for number, data in enumerate(bodies, 1):
        part = s3.upload_part(Bucket=bucket, Key="k", UploadId=upload, PartNumber=number, Body=data,
                              **{member: digest(alg, data)})
        assert _checksums(part) == {member: digest(alg, data)}
        parts.append({"ETag": part["ETag"], "PartNumber": number, member: part[member]})
    # A part whose value is another body's is refused.
    assert aws_error(lambda: s3.upload_part(Bucket=bucket, Key="k", UploadId=upload, PartNumber=3, Body=b"x",
                                            **{member: digest(alg, b"y")})) == (
        "BadDigest", f"The {alg} you specified did not match the calculated checksum.", 400)
    listed = s3.list_parts(Bucket=bucket, Key="k", UploadId=upload)
    assert (listed["ChecksumAlgorithm"], listed["ChecksumType"]) == (alg, "COMPOSITE")
    assert [_checksums(p) for p in listed["Parts"]] == [{member: digest(alg, d)} for d in bodies]

    done = s3.complete_multipart_upload(Bucket=bucket, Key="k", UploadId=upload, MultipartUpload={"Parts": parts})
    # The checksum of the parts' raw checksums, then "-<part count>".
    composite = digest(alg, b"".join(_DIGESTS[alg](d) for d in bodies))
    assert _checksums(done) == {member: f"{composite}-2", "ChecksumType": "COMPOSITE"}
    head = s3.head_object(Bucket=bucket, Key="k", ChecksumMode="ENABLED")
    assert _checksums(head) == {member: f"{composite}-2", "ChecksumType": "COMPOSITE"}
    first = s3.head_object(Bucket=bucket, Key="k", ChecksumMode="ENABLED", PartNumber=1)
    assert _checksums(first) == {member: digest(alg, bodies[0]), "ChecksumType": "COMPOSITE"}
    attrs = s3.get_object_attributes(Bucket=bucket, Key="k", ObjectAttributes=["Checksum", "ObjectParts"])
    assert attrs["Checksum"] == {member: composite, "ChecksumType": "COMPOSITE"}
    assert [p[member] for p in attrs["ObjectParts"]["Parts"]] == [digest(alg, d) for d in bodies]


@pytest.mark.parametrize("alg", NEW)
def test_the_new_algorithms_have_no_full_object_type(admin: AwsEnv, alg: str) -> None:
    s3 = _s3(admin)
    bucket = new_bucket(s3, "cks14-full")
    err, status = error_and_status(lambda: s3.create_multipart_upload(
        Bucket=bucket, Key="k", ChecksumAlgorithm=alg, ChecksumType="FULL_OBJECT"))
    assert (err["Code"], err["Message"], status) == (
        "InvalidRequest", f"The FULL_OBJECT checksum type cannot be used with the {alg.lower()} checksum algorithm.",
        400)


def test_checksum_type_is_checked_and_taken_in_any_case(admin: AwsEnv) -> None:
    s3 = admin.unchecked_client("s3", region_name="us-east-1")
    bucket = new_bucket(s3, "cks14-type")
    invalid = ("InvalidRequest", "Value for x-amz-checksum-type header is invalid.", 400)
    assert aws_error(lambda: s3.create_multipart_upload(Bucket=bucket, Key="k", ChecksumAlgorithm="CRC32",
                                                        ChecksumType="WHOLE")) == invalid
    assert aws_error(lambda: s3.create_multipart_upload(Bucket=bucket, Key="k", ChecksumType="WHOLE")) == invalid
    created = s3.create_multipart_upload(Bucket=bucket, Key="k", ChecksumAlgorithm="cRc32c",
                                         ChecksumType="full_object")
    assert (created["ChecksumAlgorithm"], created["ChecksumType"]) == ("CRC32C", "FULL_OBJECT")
    upload = created["UploadId"]
    part = s3.upload_part(Bucket=bucket, Key="k", UploadId=upload, PartNumber=1, Body=b"one part",
                          ChecksumAlgorithm="CRC32C")
    parts = {"Parts": [{"ETag": part["ETag"], "PartNumber": 1}]}
    assert aws_error(lambda: s3.complete_multipart_upload(Bucket=bucket, Key="k", UploadId=upload,
                                                          MultipartUpload=parts, ChecksumType="WHOLE")) == invalid
    done = s3.complete_multipart_upload(Bucket=bucket, Key="k", UploadId=upload, MultipartUpload=parts)
    assert done["ChecksumType"] == "FULL_OBJECT"


def test_copy_object_computes_a_new_algorithm_and_refuses_an_unknown_one(admin: AwsEnv) -> None:
    s3 = admin.unchecked_client("s3", region_name="us-east-1")
    bucket = new_bucket(s3, "cks14-copy")
    data = b"copied bytes"
    s3.put_object(Bucket=bucket, Key="src", Body=data)
    for alg in NEW:
        copied = s3.copy_object(Bucket=bucket, Key=f"to-{alg}", CopySource=f"{bucket}/src",
                                ChecksumAlgorithm=alg)["CopyObjectResult"]
        assert _checksums(copied) == {f"Checksum{alg}": digest(alg, data), "ChecksumType": "FULL_OBJECT"}
    # Was a 500 (an algorithm Skyhold could not compute).
    assert aws_error(lambda: s3.copy_object(Bucket=bucket, Key="to-bogus", CopySource=f"{bucket}/src",
                                            ChecksumAlgorithm="BOGUS")) == (
        "InvalidRequest", "Checksum algorithm provided is unsupported. Please try again with any of the valid "
                          "types: [CRC32, CRC32C, CRC64NVME, MD5, SHA1, SHA256, SHA512, XXHASH128, XXHASH3, XXHASH64]",
        400)


def test_sdk_checksum_algorithm_must_name_the_checksum_sent(admin: AwsEnv) -> None:
    """S3's answers quoted in versitygw#1598 (a value header of another algorithm) and
    #1593 (no checksum at all)."""
    s3 = _s3(admin)
    bucket = new_bucket(s3, "cks14-sdkalg")
    data = b"hello world"
    invalid = ("InvalidRequest", "Value for x-amz-sdk-checksum-algorithm header is invalid.", 400)
    assert aws_error(lambda: s3.put_object(Bucket=bucket, Key="k", Body=data, ChecksumAlgorithm="CRC32",
                                           ChecksumXXHASH64=digest("XXHASH64", data))) == invalid
    upload = s3.create_multipart_upload(Bucket=bucket, Key="m")["UploadId"]
    assert aws_error(lambda: s3.upload_part(Bucket=bucket, Key="m", UploadId=upload, PartNumber=1, Body=data,
                                            ChecksumAlgorithm="CRC32", ChecksumMD5=digest("MD5", data))) == invalid
    assert aws_error(lambda: s3.head_object(Bucket=bucket, Key="k"))[2] == 404
    # The same algorithm named twice is fine.
    put = s3.put_object(Bucket=bucket, Key="k", Body=data, ChecksumAlgorithm="XXHASH64",
                        ChecksumXXHASH64=digest("XXHASH64", data))
    assert put["ChecksumXXHASH64"] == digest("XXHASH64", data)

    url = f"{admin.endpoint}/{bucket}"
    req = botocore.awsrequest.AWSRequest(method="PUT", url=f"{url}/alone", data=data,
                                         headers={"x-amz-sdk-checksum-algorithm": "CRC32"})
    botocore.auth.S3SigV4Auth(signing_credentials(admin), "s3", "us-east-1").add_auth(req)
    status, body = send_signed(req)
    assert status == 400
    assert (b"<Message>x-amz-sdk-checksum-algorithm specified, but no corresponding x-amz-checksum-* or "
            b"x-amz-trailer headers were found.</Message>") in body
    # One S3 does not know (botocore refuses to send it; a hand-made request can).
    req = botocore.awsrequest.AWSRequest(method="PUT", url=f"{url}/alone", data=data, headers={
        "x-amz-sdk-checksum-algorithm": "CRC16", "x-amz-checksum-md5": digest("MD5", data)})
    botocore.auth.S3SigV4Auth(signing_credentials(admin), "s3", "us-east-1").add_auth(req)
    status, body = send_signed(req)
    assert status == 400 and b"<Message>Checksum algorithm provided is unsupported." in body
    # A trailer of another algorithm than the SDK header names; a trailer beside a value header.
    status, body = _trailer_put(admin, f"{url}/t", "xxhash3", digest("XXHASH3", b"hello"),
                                **{"x-amz-sdk-checksum-algorithm": "SHA512"})
    assert status == 400 and b"<Message>Value for x-amz-sdk-checksum-algorithm header is invalid.</Message>" in body
    status, body = _trailer_put(admin, f"{url}/t", "xxhash3", digest("XXHASH3", b"hello"),
                                **{"x-amz-checksum-xxhash3": digest("XXHASH3", b"hello")})
    assert status == 400 and (b"<Message>Expecting a single x-amz-checksum- header. Multiple checksum Types are not "
                              b"allowed.</Message>") in body
    status, body = _trailer_put(admin, f"{url}/t", "xxhash3", digest("XXHASH3", b"hello"),
                                **{"x-amz-sdk-checksum-algorithm": "xxhash3"})
    assert status == 200, body
    assert aws_error(lambda: s3.head_object(Bucket=bucket, Key="alone"))[2] == 404
