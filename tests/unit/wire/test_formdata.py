"""multipart/form-data read as a stream: fields whole, the file in chunks, whatever the
chunking of the body."""

from __future__ import annotations

import asyncio
import random
from collections.abc import AsyncIterator

import pytest
from urllib3 import encode_multipart_formdata

from skyhold.errors import AwsError
from skyhold.wire.formdata import FormReader, boundary_of


async def _chunks(body: bytes, sizes: list[int]) -> AsyncIterator[bytes]:
    i = 0
    for n in sizes:
        if i >= len(body):
            break
        yield body[i:i + n]
        i += n
    if i < len(body):
        yield body[i:]


def read(body: bytes, boundary: str, sizes: list[int], max_fields: int = 20_000):
    async def go():
        fields, file = await FormReader(_chunks(body, sizes), boundary.encode(), max_fields).read()
        data = b"".join([c async for c in file.chunks]) if file is not None else None
        return fields, file, data
    return asyncio.run(go())


def encode(parts: list[tuple[str, object]]) -> tuple[bytes, str]:
    body, content_type = encode_multipart_formdata(parts)
    return body, content_type.split("boundary=")[1]


FILE = bytes(range(256)) * 40 + b"\r\n--not-the-boundary\r\n" + b"tail"


@pytest.mark.parametrize("seed", range(12))
def test_fields_then_file_whatever_the_chunking(seed: int) -> None:
    body, boundary = encode([("key", "up/${filename}"), ("Content-Type", "image/png"), ("x-amz-meta-note", "é"),
                             ("file", ("cat.png", FILE, "image/png")), ("after", "ignored")])
    rnd = random.Random(seed)
    sizes = [rnd.randint(1, 97) for _ in range(len(body))]
    fields, file, data = read(body, boundary, sizes)
    assert fields == [("key", "up/${filename}"), ("Content-Type", "image/png"), ("x-amz-meta-note", "é")]
    assert file is not None and (file.filename, file.content_type) == ("cat.png", "image/png")
    assert data == FILE


def test_file_sent_as_a_plain_field_has_no_filename() -> None:
    body, boundary = encode([("key", "k"), ("file", "just text")])
    fields, file, data = read(body, boundary, [len(body)])
    assert file is not None and file.filename is None and data == b"just text"


def test_a_form_without_a_file() -> None:
    body, boundary = encode([("key", "k")])
    fields, file, data = read(body, boundary, [5] * 100)
    assert fields == [("key", "k")] and file is None


def test_fields_past_the_limit_are_s3s_error() -> None:
    body, boundary = encode([("policy", "x" * 5000), ("file", ("a", b"1"))])
    with pytest.raises(AwsError) as caught:
        read(body, boundary, [64] * 200, max_fields=1000)
    assert (caught.value.code, caught.value.extra) == ("MaxPostPreDataLengthExceededError",
                                                        {"MaxPostPreDataLength": "1000"})


@pytest.mark.parametrize("body", [
    b"no boundary anywhere",
    b"--B\r\nContent-Disposition: form-data; name=\"key\"\r\n\r\nvalue without an end",
    b"--B\r\nX-Other: 1\r\n\r\nv\r\n--B--",
    b"--B\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a\"\r\n\r\ncut short",
])
def test_malformed_bodies(body: bytes) -> None:
    with pytest.raises(AwsError) as caught:
        read(body, "B", [7] * 100)
    assert caught.value.code == "MalformedPOSTRequest"


def test_boundary_of() -> None:
    assert boundary_of('multipart/form-data; boundary="a b"') == b"a b"
    assert boundary_of("multipart/form-data; boundary=xyz") == b"xyz"
    assert boundary_of("application/x-www-form-urlencoded") is None
    with pytest.raises(AwsError):
        boundary_of("multipart/form-data")
