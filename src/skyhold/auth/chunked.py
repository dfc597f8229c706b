"""Incremental decoder of S3's `aws-chunked` uploads.

Wire format (one chunk after another, then optional trailers):

    <hex size>[;chunk-signature=<64 hex>]\\r\\n<data>\\r\\n ... 0[;chunk-signature=…]\\r\\n
    [<trailer>:<value>\\r\\n ... [x-amz-trailer-signature:<64 hex>\\r\\n]]\\r\\n

Signed variants chain every chunk's signature from the previous one, starting at the
seed (the request's own) signature; the trailer signature chains from the last chunk.
A signed chunk is released only once its signature checks out, so memory is bounded by
one chunk; unsigned data is released as it arrives (its checksum can only be checked
at the end anyway, as with any streamed body).
"""

from __future__ import annotations

import hashlib
import hmac

from skyhold.auth import errors
from skyhold.auth.payload import PayloadVerifier
from skyhold.auth.sigv4 import (
    EMPTY_SHA256,
    STREAMING_SIGNED,
    STREAMING_SIGNED_TRAILER,
    STREAMING_UNSIGNED_TRAILER,
    hmac_sha256,
)

_MAX_LINE = 4096  # a chunk header or trailer line is short; more is garbage or abuse
_HEADER, _DATA, _DATA_END, _FINAL_END, _TRAILER, _DONE = range(6)


class ChunkedDecoder:
    """`feed(raw) -> verified decoded bytes`; `finish() -> trailers` once all is verified."""

    def __init__(
        self,
        mode: str,
        *,
        verifier: PayloadVerifier | None = None,
        decoded_length: int | None = None,
        signing_key: bytes | None = None,
        seed_signature: str = "",
        amz_date: str = "",
        scope: str = "",
        access_key_id: str = "",
    ) -> None:
        if mode not in (STREAMING_SIGNED, STREAMING_SIGNED_TRAILER, STREAMING_UNSIGNED_TRAILER):
            raise ValueError(f"not an aws-chunked mode: {mode}")
        self.signed = mode != STREAMING_UNSIGNED_TRAILER
        self.trailing = mode != STREAMING_SIGNED
        if self.signed and signing_key is None:
            raise ValueError("signed aws-chunked needs the signing key")
        self._key = signing_key or b""
        self._previous = seed_signature
        self._prefix = f"\n{amz_date}\n{scope}\n"
        self._akid = access_key_id
        self._verifier = verifier or PayloadVerifier()
        self._declared = decoded_length
        self._buf = bytearray()
        self._state = _HEADER
        self._need = 0
        self._chunk_sig = ""
        self._chunk = bytearray()
        self._trailers: dict[str, str] = {}
        self._trailer_sig: str | None = None
        self.decoded = 0

    # -- public ----------------------------------------------------------------------

    def feed(self, data: bytes) -> bytes:
        if self._state == _DONE:
            if data.strip(b"\r\n"):
                raise errors.malformed_chunk()
            return b""
        self._buf += data
        out = bytearray()
        pos = self._run(out)
        del self._buf[:pos]
        if out:
            self._verifier.feed(bytes(out))
        return bytes(out)

    def finish(self) -> dict[str, str]:
        if self._state != _DONE:
            raise errors.incomplete_body()
        if self._declared is not None and self.decoded != self._declared:
            raise errors.incomplete_body()
        if self.signed and self.trailing and self._trailers:
            self._check_trailer_signature()
        return self._verifier.finish(self._trailers)

    # -- the state machine -----------------------------------------------------------

    def _run(self, out: bytearray) -> int:
        buf = self._buf
        pos = 0
        end = len(buf)
        while pos < end:
            state = self._state
            if state == _HEADER:
                eol = buf.find(b"\r\n", pos)
                if eol < 0:
                    if end - pos > _MAX_LINE:
                        raise errors.malformed_chunk()
                    break
                self._start_chunk(bytes(buf[pos:eol]))
                pos = eol + 2
            elif state == _DATA:
                take = min(self._need, end - pos)
                piece = buf[pos : pos + take]
                pos += take
                self._need -= take
                self.decoded += take
                if self._declared is not None and self.decoded > self._declared:
                    raise errors.incomplete_body()
                if self.signed:
                    self._chunk += piece
                else:
                    out += piece
                if self._need == 0:
                    self._state = _DATA_END
            elif state == _DATA_END:
                if end - pos < 2:
                    break
                if buf[pos : pos + 2] != b"\r\n":
                    raise errors.malformed_chunk()
                pos += 2
                self._end_chunk(out)
            elif state == _FINAL_END:
                if end - pos < 2:
                    break
                if buf[pos : pos + 2] != b"\r\n":
                    raise errors.malformed_chunk()
                pos += 2
                self._state = _DONE
            elif state == _TRAILER:
                eol = buf.find(b"\r\n", pos)
                if eol < 0:
                    if end - pos > _MAX_LINE:
                        raise errors.malformed_chunk()
                    break
                self._trailer_line(bytes(buf[pos:eol]))
                pos = eol + 2
            else:  # _DONE: only stray line ends may follow
                if buf[pos:end].strip(b"\r\n"):
                    raise errors.malformed_chunk()
                pos = end
        return pos

    def _start_chunk(self, line: bytes) -> None:
        size_text, _, extensions = line.partition(b";")
        try:
            size = int(size_text.strip(), 16)
        except ValueError:
            raise errors.malformed_chunk() from None
        if size < 0:
            raise errors.malformed_chunk()
        signature = ""
        for ext in extensions.split(b";") if extensions else ():
            name, _, value = ext.partition(b"=")
            if name.strip() == b"chunk-signature":
                signature = value.strip().decode("ascii", "replace")
        if self.signed and not signature:
            raise errors.malformed_chunk()
        self._chunk_sig = signature
        self._need = size
        if size == 0:
            if self.signed:
                self._check_chunk_signature(b"")
            # Trailers follow the final chunk directly; without them it closes with CRLF.
            self._state = _TRAILER if self.trailing else _FINAL_END
        else:
            self._state = _DATA

    def _end_chunk(self, out: bytearray) -> None:
        if self.signed:
            data = bytes(self._chunk)
            self._chunk.clear()
            self._check_chunk_signature(data)
            out += data
        self._state = _HEADER

    def _trailer_line(self, line: bytes) -> None:
        if not line:
            self._state = _DONE
            return
        name, colon, value = line.decode("utf-8", "replace").partition(":")
        if not colon:
            raise errors.malformed_chunk()
        name = name.strip().lower()
        if name == "x-amz-trailer-signature":
            self._trailer_sig = value.strip()
        else:
            self._trailers[name] = value.strip()

    # -- signatures ------------------------------------------------------------------

    def _check_chunk_signature(self, data: bytes) -> None:
        digest = hashlib.sha256(data).hexdigest() if data else EMPTY_SHA256
        to_sign = f"AWS4-HMAC-SHA256-PAYLOAD{self._prefix}{self._previous}\n{EMPTY_SHA256}\n{digest}"
        expected = hmac_sha256(self._key, to_sign.encode("utf-8")).hex()
        if not hmac.compare_digest(expected, self._chunk_sig):
            raise errors.chunk_signature_mismatch(self._akid, self._chunk_sig, to_sign)
        self._previous = expected

    def _check_trailer_signature(self) -> None:
        canonical = "".join(f"{name}:{value}\n" for name, value in sorted(self._trailers.items()))
        digest = hashlib.sha256(canonical.encode("utf-8")).hexdigest()
        to_sign = f"AWS4-HMAC-SHA256-TRAILER{self._prefix}{self._previous}\n{digest}"
        expected = hmac_sha256(self._key, to_sign.encode("utf-8")).hex()
        provided = self._trailer_sig or ""
        if not hmac.compare_digest(expected, provided):
            raise errors.chunk_signature_mismatch(self._akid, provided, to_sign)
