"""The aws-chunked decoder and the payload verifier on their own."""

from __future__ import annotations

import base64
import hashlib
import zlib

import pytest

from skyhold.auth import checksums
from skyhold.auth.chunked import ChunkedDecoder
from skyhold.auth.payload import PayloadVerifier
from skyhold.auth.sigv4 import STREAMING_SIGNED, STREAMING_UNSIGNED_TRAILER
from skyhold.errors import AwsError


def unsigned_body(payload: bytes, chunk: int, trailer: str = "x-amz-checksum-crc32") -> bytes:
    out = bytearray()
    for i in range(0, len(payload), chunk):
        piece = payload[i : i + chunk]
        out += b"%x\r\n%s\r\n" % (len(piece), piece)
    sums = checksums.new(trailer.removeprefix("x-amz-checksum-"))
    sums.update(payload)
    out += b"0\r\n%s:%s\r\n\r\n" % (trailer.encode(), sums.b64digest().encode())
    return bytes(out)


def decoder(length: int | None, trailer: str = "crc32") -> ChunkedDecoder:
    return ChunkedDecoder(
        STREAMING_UNSIGNED_TRAILER,
        verifier=PayloadVerifier(trailer_algorithm=trailer),
        decoded_length=length,
    )


@pytest.mark.parametrize("algorithm", sorted(checksums.SUPPORTED))
def test_unsigned_trailer_every_checksum(algorithm):
    payload = bytes(range(256)) * 300
    wire = unsigned_body(payload, 8192, f"x-amz-checksum-{algorithm}")
    dec = decoder(len(payload), algorithm)
    assert dec.feed(wire) == payload
    assert list(dec.finish()) == [f"x-amz-checksum-{algorithm}"]


def test_crc_values_match_references():
    crc = checksums.new("crc32")
    crc.update(b"hello")
    assert crc.b64digest() == base64.b64encode(zlib.crc32(b"hello").to_bytes(4, "big")).decode()
    sha = checksums.new("sha256")
    sha.update(b"hello")
    assert sha.b64digest() == base64.b64encode(hashlib.sha256(b"hello").digest()).decode()
    c = checksums.new("crc32c")
    c.update(b"123456789")
    assert c.b64digest() == base64.b64encode(bytes.fromhex("e3069283")).decode()  # CRC-32C check value


def test_memory_stays_bounded_while_streaming():
    payload = b"z" * (1 << 20)
    dec = decoder(None)
    wire = unsigned_body(payload * 32, 1 << 20)  # 32 MiB
    total = 0
    for i in range(0, len(wire), 65536):
        total += len(dec.feed(wire[i : i + 65536]))
        assert len(dec._buf) < 65536 + 64  # nothing piles up beyond the piece being read
    assert total == 32 << 20
    dec.finish()


@pytest.mark.parametrize(
    "wire,code",
    [
        (b"zz\r\nabc\r\n0\r\n\r\n", "IncompleteBody"),  # not hex
        (b"3\r\nabcX\r\n0\r\n\r\n", "IncompleteBody"),  # data longer than declared
        (b"3\r\nab", "IncompleteBody"),  # truncated
        (b"3\r\nabc\r\n0\r\nx-amz-checksum-crc32:AAAAAA==\r\n\r\n", "BadDigest"),
        (b"3\r\nabc\r\n0\r\n\r\n", "InvalidRequest"),  # declared trailer never sent
        (b"3\r\nabc\r\n0\r\nx-amz-checksum-crc32:???\r\n\r\n", "InvalidRequest"),
    ],
)
def test_malformed_unsigned_bodies(wire, code):
    dec = decoder(None)
    with pytest.raises(AwsError) as caught:
        dec.feed(wire)
        dec.finish()
    assert caught.value.code == code


def test_decoded_length_must_match():
    wire = unsigned_body(b"abcdef", 3)
    dec = decoder(7)
    dec.feed(wire)
    with pytest.raises(AwsError) as caught:
        dec.finish()
    assert caught.value.code == "IncompleteBody"
    with pytest.raises(AwsError):
        decoder(5).feed(wire)  # more data than declared: refused as it arrives


def test_signed_chunk_is_not_released_before_its_signature_checks():
    dec = ChunkedDecoder(STREAMING_SIGNED, signing_key=b"k" * 32, seed_signature="0" * 64,
                         amz_date="20130524T000000Z", scope="20130524/us-east-1/s3/aws4_request")
    assert dec.feed(b"5;chunk-signature=" + b"1" * 64 + b"\r\nhel") == b""
    with pytest.raises(AwsError) as caught:
        dec.feed(b"lo\r\n")
    assert caught.value.code == "SignatureDoesNotMatch"


def test_payload_verifier_checks_sha256_and_md5():
    body = b"some body"
    v = PayloadVerifier(expected_sha256=hashlib.sha256(body).hexdigest(),
                        content_md5=base64.b64encode(hashlib.md5(body).digest()).decode())
    v.feed(body[:4])
    v.feed(body[4:])
    assert v.finish() == {}
    v = PayloadVerifier(content_md5=base64.b64encode(hashlib.md5(b"other").digest()).decode())
    v.feed(body)
    with pytest.raises(AwsError) as caught:
        v.finish()
    assert (caught.value.code, caught.value.message) == ("BadDigest", "The Content-MD5 you specified did not match what we received.")
    with pytest.raises(AwsError) as caught:
        PayloadVerifier(content_md5=base64.b64encode(b"short").decode())
    assert caught.value.code == "InvalidDigest"
