"""multipart/form-data, read as a stream (RFC 7578): the fields before the file part
whole, the file part as chunks, so a browser upload of gigabytes never sits in memory.

Only what S3's browser uploads need: the first part named `file` ends the fields;
whatever follows it is read and ignored, as S3 does.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from email.message import Message

from skyhold.errors import AwsError

_CRLF = b"\r\n"
# Part headers are a line or two; more means a broken or hostile body.
_MAX_PART_HEADERS = 8 * 1024


def malformed() -> AwsError:
    return AwsError("MalformedPOSTRequest", "The body of your POST request is not well-formed multipart/form-data.",
                    400)


def fields_too_large(limit: int) -> AwsError:
    return AwsError("MaxPostPreDataLengthExceededError",
                    "Your POST request fields preceding the upload file were too large.", 400,
                    extra={"MaxPostPreDataLength": str(limit)})


def boundary_of(content_type: str) -> bytes | None:
    """The boundary of a `multipart/form-data` content type; None for any other type."""
    msg = Message()
    msg["content-type"] = content_type
    if msg.get_content_type() != "multipart/form-data":
        return None
    boundary = msg.get_param("boundary")
    if not isinstance(boundary, str) or not boundary or len(boundary) > 70:
        raise malformed()
    return boundary.encode("latin-1")


@dataclass
class FilePart:
    filename: str | None  # None when the part carries no filename (a plain field named `file`)
    content_type: str | None
    chunks: AsyncIterator[bytes]


class FormReader:
    """Reads one form from `stream`. `read()` first, then the file's chunks."""

    def __init__(self, stream: AsyncIterator[bytes], boundary: bytes, max_fields: int) -> None:
        self._it = stream.__aiter__()
        self._buf = bytearray()
        self._delimiter = b"--" + boundary
        self._max_fields = max_fields

    async def read(self) -> tuple[list[tuple[str, str]], FilePart | None]:
        """The fields before the file part (in order; names as sent) and the file part."""
        fields: list[tuple[str, str]] = []
        budget = self._max_fields
        await self._until(self._delimiter, budget)  # the preamble, if any, means nothing
        while True:
            if not await self._after_delimiter():
                await self._drain()
                return fields, None
            disposition, content_type = await self._part_headers()
            name = disposition.get_param("name", header="content-disposition")
            if not isinstance(name, str):
                raise malformed()
            if name.lower() == "file":
                filename = disposition.get_param("filename", header="content-disposition")
                return fields, FilePart(filename if isinstance(filename, str) else None, content_type,
                                        self._file_chunks())
            value = await self._until(_CRLF + self._delimiter, budget, field=True)
            budget -= len(name) + len(value)
            if budget < 0:
                raise fields_too_large(self._max_fields)
            fields.append((name, value.decode("utf-8", "replace")))

    async def _more(self) -> bool:
        try:
            chunk = await self._it.__anext__()
        except StopAsyncIteration:
            return False
        self._buf += chunk
        return True

    async def _until(self, marker: bytes, limit: int, field: bool = False) -> bytes:
        """The bytes before `marker`, at most `limit` of them (a `field` value past it is
        S3's own error); both are consumed."""
        start = 0
        while True:
            i = self._buf.find(marker, start)
            if i >= 0:
                out = bytes(self._buf[:i])
                del self._buf[:i + len(marker)]
                return out
            if len(self._buf) > limit + len(marker):
                raise fields_too_large(self._max_fields) if field else malformed()
            start = max(len(self._buf) - len(marker) + 1, 0)
            if not await self._more():
                raise malformed()

    async def _after_delimiter(self) -> bool:
        """After a delimiter: True when a part follows, False at the closing one."""
        while len(self._buf) < 2:
            if not await self._more():
                raise malformed()
        if self._buf[:2] == b"--":
            return False
        await self._until(_CRLF, 256)  # RFC 2046 allows trailing whitespace on the line
        return True

    async def _part_headers(self) -> tuple[Message, str | None]:
        while len(self._buf) < 2:
            if not await self._more():
                raise malformed()
        raw = b"" if self._buf[:2] == _CRLF else await self._until(_CRLF + _CRLF, _MAX_PART_HEADERS)
        if not raw:
            del self._buf[:2]
        disposition = Message()
        content_type = None
        for line in raw.split(_CRLF):
            name, colon, value = line.decode("utf-8", "replace").partition(":")
            if not colon:
                raise malformed()
            if name.strip().lower() == "content-disposition":
                disposition["content-disposition"] = value.strip()
            elif name.strip().lower() == "content-type":
                content_type = value.strip()
        if disposition.get_content_disposition() != "form-data":
            raise malformed()
        return disposition, content_type

    async def _file_chunks(self) -> AsyncIterator[bytes]:
        marker = _CRLF + self._delimiter
        keep = len(marker) - 1  # a marker split across chunks must not be yielded as data
        while True:
            i = self._buf.find(marker)
            if i >= 0:
                if i:
                    yield bytes(self._buf[:i])
                del self._buf[:i + len(marker)]
                break
            if len(self._buf) > keep:
                yield bytes(self._buf[:-keep])
                del self._buf[:-keep]
            if not await self._more():
                raise malformed()
        await self._drain()

    async def _drain(self) -> None:
        """Fields after the file (and the epilogue) are ignored, but read: the connection
        can only carry another request once this body is consumed."""
        self._buf.clear()
        async for _ in self._it:
            pass
