"""The AWS Common Runtime's S3 client (awscrt's aws-c-s3: the transfer engine of the AWS
CLI v2, Mountpoint for Amazon S3 and boto3's CRT transfers), unmodified, against a real
`skyhold up`. It signs with its own SigV4 code (aws-c-auth, aws-chunked trailers too),
puts checksums in trailers, splits PUTs into multipart uploads whose parts go in
parallel, splits GETs into ranged GETs held together by If-Match (after a HEAD when it
validates checksums), and checks the checksums S3 reports. Retries are off: they hide
bugs."""

from __future__ import annotations

import base64
import hashlib
import io
import os
import urllib.error
import urllib.request
import uuid
import zlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from awscrt import auth, http
from awscrt import checksums as crt_checksums
from awscrt import io as crt_io
from awscrt import s3 as crt_s3
from boto3.s3.transfer import TransferConfig
from botocore.session import Session
from s3transfer.crt import (BotocoreCRTCredentialsWrapper, BotocoreCRTRequestSerializer, CRTTransferManager,
                            create_s3_crt_client)

from .conftest import AwsEnv, Server, allow_sse_c, new_bucket, signing_credentials, sse_c_headers

MIB = 1024 * 1024
Alg = crt_s3.S3ChecksumAlgorithm

# Each algorithm's raw digest, as S3 reports it (base64 of the big-endian bytes).
RAW_DIGEST: dict[Alg, Callable[[bytes], bytes]] = {
    Alg.CRC32: lambda d: zlib.crc32(d).to_bytes(4, "big"),
    Alg.CRC32C: lambda d: crt_checksums.crc32c(d).to_bytes(4, "big"),
    Alg.CRC64NVME: lambda d: crt_checksums.crc64nvme(d).to_bytes(8, "big"),
    Alg.SHA1: lambda d: hashlib.sha1(d).digest(),
    Alg.SHA256: lambda d: hashlib.sha256(d).digest(),
    Alg.SHA512: lambda d: hashlib.sha512(d).digest(),
    Alg.XXHASH64: crt_checksums.XXHash.compute_xxhash64,
    Alg.XXHASH3: crt_checksums.XXHash.compute_xxhash3_64,
    Alg.XXHASH128: crt_checksums.XXHash.compute_xxhash3_128,
}


def digest(alg: Alg, data: bytes) -> str:
    return base64.b64encode(RAW_DIGEST[alg](data)).decode()


def composite(alg: Alg, data: bytes, part_size: int) -> str:
    """S3's COMPOSITE checksum of a multipart object: the digest of its parts' raw digests, "-" the part count."""
    parts = [data[i:i + part_size] for i in range(0, len(data), part_size)]
    return f"{digest(alg, b''.join(RAW_DIGEST[alg](p) for p in parts))}-{len(parts)}"


def trailer(alg: Alg) -> crt_s3.S3ChecksumConfig:
    return crt_s3.S3ChecksumConfig(algorithm=alg, location=crt_s3.S3ChecksumLocation.TRAILER)


VALIDATE = crt_s3.S3ChecksumConfig(validate_response=True)


def crt_client(key: Any, part_size: int = 5 * MIB, **kw: Any) -> crt_s3.S3Client:
    """The CRT's S3 client (over plain HTTP unless kw says otherwise), signing with an access key (a dict as from
    new_user, or botocore credentials), without retries."""
    if isinstance(key, dict):
        ident, secret, token = key["AccessKeyId"], key["SecretAccessKey"], key.get("SessionToken")
    else:
        ident, secret, token = key.access_key, key.secret_key, key.token
    provider = auth.AwsCredentialsProvider.new_static(ident, secret, token)
    signing = crt_s3.create_default_s3_signing_config(region="us-east-1", credential_provider=provider)
    return crt_s3.S3Client(region="us-east-1", signing_config=signing, part_size=part_size,
                           retry_config=crt_s3.S3RetryConfig(retry_mode=crt_s3.S3RetryMode.NONE),
                           **{"tls_mode": crt_s3.S3RequestTlsMode.DISABLED, **kw})


@dataclass
class Answer:
    """What the CRT reports of one meta request (its parts merged)."""

    status: int | None = None
    headers: dict[str, str] = field(default_factory=dict)
    body: bytearray = field(default_factory=bytearray)
    error: Exception | None = None
    validated: bool = False
    algorithm: Alg | None = None

    @property
    def s3_code(self) -> str:
        """The <Code> of the S3 error document the CRT was answered with."""
        body = getattr(self.error, "body", None) or b""
        return body.split(b"<Code>")[1].split(b"</Code>")[0].decode() if b"<Code>" in body else ""


def call(client: crt_s3.S3Client, port: int, method: str, path: str, body: bytes | None = None,
         headers: Iterable[tuple[str, str]] = (), kind: crt_s3.S3RequestType = crt_s3.S3RequestType.DEFAULT,
         on_headers: Callable[..., None] | None = None, **kw: Any) -> Answer:
    """One meta request of the CRT (path-style, Host 127.0.0.1:port), waited for."""
    out = Answer()
    all_headers = http.HttpHeaders([("Host", f"127.0.0.1:{port}"), *headers])
    if body is not None:
        all_headers.add("Content-Length", str(len(body)))

    def got_headers(status_code: int, headers: list[tuple[str, str]], **_: Any) -> None:
        out.status, out.headers = status_code, {k.lower(): v for k, v in headers}
        if on_headers:
            on_headers()

    def got_body(chunk: bytes, offset: int, **_: Any) -> None:
        out.body[offset:offset + len(chunk)] = chunk

    def done(did_validate_checksum: bool, checksum_validation_algorithm: Alg | None, **_: Any) -> None:
        out.validated, out.algorithm = did_validate_checksum, checksum_validation_algorithm

    request = http.HttpRequest(method, path, all_headers, io.BytesIO(body) if body is not None else None)
    meta = client.make_request(type=kind, request=request, on_headers=got_headers, on_body=got_body, on_done=done, **kw)
    try:
        meta.finished_future.result(60)
    except Exception as err:  # the CRT's error is what the test looks at
        out.error = err
    return out


def put(client: crt_s3.S3Client, port: int, path: str, body: bytes, **kw: Any) -> Answer:
    return call(client, port, "PUT", path, body, kind=crt_s3.S3RequestType.PUT_OBJECT, **kw)


def get(client: crt_s3.S3Client, port: int, path: str, **kw: Any) -> Answer:
    return call(client, port, "GET", path, kind=crt_s3.S3RequestType.GET_OBJECT, **kw)


def head_checksums(s3: Any, bucket: str, key: str) -> dict[str, Any]:
    answer = s3.head_object(Bucket=bucket, Key=key, ChecksumMode="ENABLED")
    return {k: v for k, v in answer.items() if k.startswith("Checksum")}


@pytest.fixture(scope="module")
def bucket(admin: AwsEnv) -> str:
    return new_bucket(admin.client("s3"), "crt")


@pytest.fixture(scope="module")
def crt(admin: AwsEnv) -> crt_s3.S3Client:
    return crt_client(admin.credentials())


@pytest.mark.parametrize("alg", list(Alg), ids=lambda a: a.name)
def test_put_with_each_trailer_checksum_and_validated_get(server: Server, admin: AwsEnv, bucket: str,
                                                          crt: crt_s3.S3Client, alg: Alg) -> None:
    s3: Any = admin.client("s3")
    data = os.urandom(1000)
    key = f"small-{alg.name}"
    assert put(crt, server.port, f"/{bucket}/{key}", data, checksum_config=trailer(alg)).error is None
    assert head_checksums(s3, bucket, key) == {f"Checksum{alg.name}": digest(alg, data), "ChecksumType": "FULL_OBJECT"}
    got = get(crt, server.port, f"/{bucket}/{key}", checksum_config=VALIDATE)
    assert got.error is None and bytes(got.body) == data
    assert (got.validated, got.algorithm) == (True, alg)


@pytest.mark.parametrize("alg", list(Alg), ids=lambda a: a.name)
def test_multipart_put_with_parallel_parts_and_each_checksum(server: Server, admin: AwsEnv, bucket: str,
                                                             crt: crt_s3.S3Client, alg: Alg) -> None:
    """6 MiB in 5 MiB parts: two UploadParts at once, each with its trailer; S3 keeps
    a COMPOSITE checksum (CRC64NVME can only be FULL_OBJECT), and a part read back by
    number carries its own, which the CRT checks."""
    s3: Any = admin.client("s3")
    data = os.urandom(6 * MIB)
    key = f"multi-{alg.name}"
    put_answer = put(crt, server.port, f"/{bucket}/{key}", data, checksum_config=trailer(alg))
    assert put_answer.error is None and put_answer.headers["etag"].endswith('-2"')
    if alg == Alg.CRC64NVME:
        expected = {"ChecksumCRC64NVME": digest(alg, data), "ChecksumType": "FULL_OBJECT"}
    else:
        expected = {f"Checksum{alg.name}": composite(alg, data, 5 * MIB), "ChecksumType": "COMPOSITE"}
    assert head_checksums(s3, bucket, key) == expected
    got = get(crt, server.port, f"/{bucket}/{key}", checksum_config=VALIDATE)
    assert got.error is None and bytes(got.body) == data
    part = get(crt, server.port, f"/{bucket}/{key}?partNumber=2", checksum_config=VALIDATE)
    assert part.error is None and bytes(part.body) == data[5 * MIB:]
    assert part.validated is (alg != Alg.CRC64NVME)


def test_uploads_of_unknown_length(server: Server, admin: AwsEnv, bucket: str, crt: crt_s3.S3Client) -> None:
    """A body streamed without Content-Length (as Mountpoint writes a file): the CRT
    opens a multipart upload and sends parts as they fill, CRC32C trailers on each; an
    empty stream completes with one empty part."""
    s3: Any = admin.client("s3")
    data = os.urandom(6 * MIB)
    # The empty stream's one part is empty: its CRC32C is 0, four zero bytes.
    for key, body, crc in (("streamed", data, composite(Alg.CRC32C, data, 5 * MIB)),
                           ("streamed-empty", b"", f"{digest(Alg.CRC32C, bytes(4))}-1")):
        request = http.HttpRequest("PUT", f"/{bucket}/{key}", http.HttpHeaders([("Host", f"127.0.0.1:{server.port}")]),
                                   io.BytesIO(body))
        crt.make_request(type=crt_s3.S3RequestType.PUT_OBJECT, request=request,
                         checksum_config=trailer(Alg.CRC32C)).finished_future.result(60)
        assert s3.get_object(Bucket=bucket, Key=key)["Body"].read() == body
        assert head_checksums(s3, bucket, key) == {"ChecksumCRC32C": crc, "ChecksumType": "COMPOSITE"}


def test_big_parallel_upload_with_a_full_object_crc_and_ranged_gets(server: Server, admin: AwsEnv, bucket: str) -> None:
    """40 MiB in 8 MiB parts with the whole object's CRC32 given up front (as the CLI v2
    does for files): a FULL_OBJECT multipart upload, whole GETs (HEAD, then ranged GETs
    in parallel) validated against it, ranged GETs, and a wrong CRC refused at
    CompleteMultipartUpload, the upload aborted."""
    s3: Any = admin.client("s3")
    crt = crt_client(admin.credentials(), part_size=8 * MIB)
    data = os.urandom(40 * MIB)
    crc = digest(Alg.CRC32, data)
    answer = put(crt, server.port, f"/{bucket}/big", data, headers=[("x-amz-checksum-crc32", crc)],
                 checksum_config=trailer(Alg.CRC32))
    assert answer.error is None and answer.headers["etag"].endswith('-5"')
    assert head_checksums(s3, bucket, "big") == {"ChecksumCRC32": crc, "ChecksumType": "FULL_OBJECT"}

    whole = get(crt, server.port, f"/{bucket}/big", checksum_config=VALIDATE)
    assert whole.error is None and bytes(whole.body) == data and (whole.validated, whole.algorithm) == (True, Alg.CRC32)
    span = get(crt, server.port, f"/{bucket}/big", headers=[("Range", "bytes=1000-20000000")],
               checksum_config=crt_s3.S3ChecksumConfig(expected_checksum=digest(Alg.CRC32, data[1000:20000001]),
                                                       expected_checksum_algorithm=Alg.CRC32))
    assert (span.error, span.status, span.validated) == (None, 206, True)
    assert bytes(span.body) == data[1000:20000001]
    assert span.headers["content-range"] == f"bytes 1000-20000000/{len(data)}"
    tail = get(crt, server.port, f"/{bucket}/big", headers=[("Range", "bytes=-100")])
    assert (tail.error, tail.status, bytes(tail.body)) == (None, 206, data[-100:])

    wrong = put(crt, server.port, f"/{bucket}/big-wrong", data,
                headers=[("x-amz-checksum-crc32", digest(Alg.CRC32, b"other"))])
    assert isinstance(wrong.error, crt_s3.S3ResponseError)
    assert (wrong.error.status_code, wrong.error.operation_name, wrong.s3_code) == (
        400, "CompleteMultipartUpload", "BadDigest")
    assert not s3.list_multipart_uploads(Bucket=bucket, Prefix="big-wrong").get("Uploads")


def test_missing_key_bucket_and_range(server: Server, admin: AwsEnv, bucket: str, crt: crt_s3.S3Client) -> None:
    missing = get(crt, server.port, f"/{bucket}/nothing-here")
    assert isinstance(missing.error, crt_s3.S3ResponseError)
    assert missing.error.name == "AWS_ERROR_S3_INVALID_RESPONSE_STATUS"
    assert (missing.error.status_code, missing.error.operation_name, missing.s3_code) == (404, "GetObject", "NoSuchKey")
    # Validating, the CRT asks HeadObject first: a 404 without a body.
    checked = get(crt, server.port, f"/{bucket}/nothing-here", checksum_config=VALIDATE)
    assert isinstance(checked.error, crt_s3.S3ResponseError)
    assert (checked.error.status_code, checked.error.operation_name, checked.error.body) == (404, "HeadObject", None)
    no_bucket = put(crt, server.port, f"/no-such-{uuid.uuid4().hex[:10]}/k", b"x", checksum_config=trailer(Alg.CRC32))
    assert isinstance(no_bucket.error, crt_s3.S3ResponseError)
    assert (no_bucket.error.status_code, no_bucket.s3_code) == (404, "NoSuchBucket")
    assert put(crt, server.port, f"/{bucket}/tiny", b"0123456789").error is None
    beyond = get(crt, server.port, f"/{bucket}/tiny", headers=[("Range", "bytes=50-60")])
    assert isinstance(beyond.error, crt_s3.S3ResponseError)
    assert (beyond.error.status_code, beyond.s3_code) == (416, "InvalidRange")


def test_a_caller_without_put_object_is_denied(server: Server, admin: AwsEnv, bucket: str,
                                               crt: crt_s3.S3Client) -> None:
    assert put(crt, server.port, f"/{bucket}/readable", b"data").error is None
    key = admin.new_user({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": "s3:GetObject", "Resource": f"arn:aws:s3:::{bucket}/*"}]})
    reader = crt_client(key)
    # (Not a big single PutObject: refused before its body is read, the connection is
    # closed under it, and the CRT may see the reset before the answer, as on S3: boto/boto#2207.)
    for body, operation in ((b"small", "PutObject"), (os.urandom(6 * MIB), "CreateMultipartUpload")):
        denied = put(reader, server.port, f"/{bucket}/denied", body, checksum_config=trailer(Alg.CRC32))
        assert isinstance(denied.error, crt_s3.S3ResponseError)
        assert (denied.error.status_code, denied.error.operation_name, denied.s3_code) == (
            403, operation, "AccessDenied")
        assert b"s3:PutObject" in (denied.error.body or b"")
    got = get(reader, server.port, f"/{bucket}/readable")
    assert (got.error, bytes(got.body)) == (None, b"data")


def test_an_object_replaced_mid_download_fails_it(server: Server, admin: AwsEnv, bucket: str) -> None:
    """The CRT reads parts 2.. with If-Match: the first part's ETag; once the object is
    replaced S3 answers 412, which the CRT reports as the object modified. One event-loop
    thread and one connection: the replacement (made while the CRT delivers the first
    part's headers) comes before any later part is asked for."""
    s3: Any = admin.client("s3")
    s3.put_object(Bucket=bucket, Key="changing", Body=os.urandom(16 * MIB))
    loop = crt_io.EventLoopGroup(1)
    client = crt_client(admin.credentials(), bootstrap=crt_io.ClientBootstrap(loop, crt_io.DefaultHostResolver(loop)),
                        max_active_connections_override=1)
    got = get(client, server.port, f"/{bucket}/changing",
              on_headers=lambda: s3.put_object(Bucket=bucket, Key="changing", Body=b"new"))
    assert isinstance(got.error, crt_s3.S3ResponseError)
    assert (got.error.name, got.error.status_code, got.s3_code) == ("AWS_ERROR_S3_OBJECT_MODIFIED", 412,
                                                                   "PreconditionFailed")


def _presign(key: Any, port: int, method: str, path: str) -> str:
    """A URL signed in its query by the CRT's signer (aws-c-auth), as S3 presigns: UNSIGNED-PAYLOAD."""
    provider = auth.AwsCredentialsProvider.new_static(key.access_key, key.secret_key, key.token)
    config = auth.AwsSigningConfig(algorithm=auth.AwsSigningAlgorithm.V4,
                                   signature_type=auth.AwsSignatureType.HTTP_REQUEST_QUERY_PARAMS,
                                   credentials_provider=provider, region="us-east-1", service="s3",
                                   signed_body_value=auth.AwsSignedBodyValue.UNSIGNED_PAYLOAD,
                                   use_double_uri_encode=False, should_normalize_uri_path=False,
                                   expiration_in_seconds=300)
    request = http.HttpRequest(method, path, http.HttpHeaders([("Host", f"127.0.0.1:{port}")]))
    return f"http://127.0.0.1:{port}{auth.aws_sign_request(request, config).result(10).path}"


def test_presigned_urls_of_the_crt_signer(server: Server, admin: AwsEnv, bucket: str) -> None:
    url = _presign(admin.credentials(), server.port, "PUT", f"/{bucket}/presigned")
    with urllib.request.urlopen(urllib.request.Request(url, data=b"by url", method="PUT")) as r:
        assert r.status == 200
    with urllib.request.urlopen(_presign(admin.credentials(), server.port, "GET", f"/{bucket}/presigned")) as r:
        assert r.read() == b"by url"
    signed = _presign(admin.credentials(), server.port, "GET", f"/{bucket}/presigned")
    tampered = signed.replace("/presigned?", "/other?")
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(tampered)
    assert refused.value.code == 403 and b"<Code>SignatureDoesNotMatch</Code>" in refused.value.read()


def test_sse_kms_multipart_through_the_crt(server: Server, admin: AwsEnv, bucket: str, crt: crt_s3.S3Client) -> None:
    s3: Any = admin.client("s3")
    key_id = admin.client("kms").create_key()["KeyMetadata"]["KeyId"]  # type: ignore[attr-defined]
    data = os.urandom(6 * MIB)
    answer = put(crt, server.port, f"/{bucket}/kms", data, checksum_config=trailer(Alg.CRC32C),
                 headers=[("x-amz-server-side-encryption", "aws:kms"),
                          ("x-amz-server-side-encryption-aws-kms-key-id", key_id)])
    assert answer.error is None
    assert s3.head_object(Bucket=bucket, Key="kms")["SSEKMSKeyId"].endswith(key_id)
    got = get(crt, server.port, f"/{bucket}/kms", checksum_config=VALIDATE)
    assert got.error is None and bytes(got.body) == data


def test_sse_c_multipart_over_tls(https_server: Server, https_admin: AwsEnv) -> None:
    """The CRT's own TLS stack (s2n) against the HTTPS listener, trusting the data dir's
    CA; SSE-C headers go to every part and ranged GET."""
    ca = https_server.data_dir / "tls" / "ca.pem"
    s3: Any = https_admin.client("s3", region_name="us-east-1", verify=str(ca))
    bucket = new_bucket(s3, "crt-tls")
    allow_sse_c(s3, bucket)
    options = crt_io.TlsContextOptions()
    options.override_default_trust_store_from_path(ca_filepath=str(ca))
    client = crt_client(https_admin.credentials(), tls_mode=crt_s3.S3RequestTlsMode.ENABLED,
                        tls_connection_options=crt_io.ClientTlsContext(options).new_connection_options())
    assert https_server.https_port
    sse = sse_c_headers(os.urandom(32))
    headers = [("x-amz-server-side-encryption-customer-algorithm", sse["SSECustomerAlgorithm"]),
               ("x-amz-server-side-encryption-customer-key", sse["SSECustomerKey"]),
               ("x-amz-server-side-encryption-customer-key-MD5", sse["SSECustomerKeyMD5"])]
    data = os.urandom(6 * MIB)
    answer = put(client, https_server.https_port, f"/{bucket}/secret", data, headers=headers,
                 checksum_config=trailer(Alg.CRC32))
    assert answer.error is None
    got = get(client, https_server.https_port, f"/{bucket}/secret", headers=headers, checksum_config=VALIDATE)
    assert got.error is None and bytes(got.body) == data
    keyless = get(client, https_server.https_port, f"/{bucket}/secret")
    assert isinstance(keyless.error, crt_s3.S3ResponseError) and keyless.error.status_code == 400
    s3.close()  # an idle TLS connection left open holds the server's graceful stop for 10 s


def test_boto3_crt_transfer_manager_round_trips_a_file(server: Server, admin: AwsEnv, bucket: str,
                                                       tmp_path: Path) -> None:
    """s3transfer's CRTTransferManager, the engine behind TransferConfig(preferred_transfer_client="crt"),
    built as the AWS CLI v2 builds it for an endpoint of its own: boto3's own
    create_transfer_manager always points the CRT at AWS's endpoint over TLS
    (boto/boto3#4839, #4689). Its uploads add CRC32 trailers; its downloads validate."""
    s3: Any = admin.client("s3")
    c = admin.credentials()
    provider = BotocoreCRTCredentialsWrapper(signing_credentials(admin)).to_crt_credentials_provider()
    engine = create_s3_crt_client("us-east-1", provider, use_ssl=False, part_size=8 * MIB)
    serializer = BotocoreCRTRequestSerializer(Session(), {
        "region_name": "us-east-1", "endpoint_url": server.endpoint, "aws_access_key_id": c.access_key,
        "aws_secret_access_key": c.secret_key, "aws_session_token": c.token})
    source, copy = tmp_path / "source.bin", tmp_path / "copy.bin"
    data = os.urandom(20 * MIB)
    source.write_bytes(data)
    config = TransferConfig(preferred_transfer_client="crt", multipart_threshold=8 * MIB, multipart_chunksize=8 * MIB)
    with CRTTransferManager(engine, serializer, config=config) as manager:
        manager.upload(str(source), bucket, "transfer", extra_args={"Metadata": {"via": "crt"}}).result()
        manager.download(bucket, "transfer", str(copy)).result()
    assert copy.read_bytes() == data
    assert head_checksums(s3, bucket, "transfer") == {"ChecksumCRC32": composite(Alg.CRC32, data, 8 * MIB),
                                                      "ChecksumType": "COMPOSITE"}
    head = s3.head_object(Bucket=bucket, Key="transfer")
    assert head["Metadata"] == {"via": "crt"} and head["ETag"].endswith('-3"')
    assert head["ContentLength"] == len(data)
