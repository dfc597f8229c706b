"""The front door under hostile and unlucky networks: clients that leave mid-upload,
half-close, stall a download, send oversized or smuggling-shaped heads, and a SIGTERM
while requests are in flight. Nothing answers 500, nothing half-written stays behind,
the server keeps serving. Raw sockets with requests signed by the admin's real key.
"""

from __future__ import annotations

import base64
import os
import signal
import socket
import threading
import uuid
import zlib
from collections.abc import Iterator
from pathlib import Path

import botocore.auth
import botocore.awsrequest
import pytest

from .conftest import AwsEnv, Server, own_server, signing_credentials, wait_for

MIB = 1 << 20


class _UnsignedPayload(botocore.auth.S3SigV4Auth):
    """Signs with an unsigned payload (as SDKs do over TLS): the body can be cut short."""

    def __init__(self, env: AwsEnv, payload: str) -> None:
        super().__init__(signing_credentials(env), "s3", "us-east-1")
        self._payload = payload

    def payload(self, request: botocore.awsrequest.AWSRequest) -> str:
        return self._payload


def _head(env: AwsEnv, port: int, method: str, path: str, headers: dict[str, str] | None = None,
          payload: str = "UNSIGNED-PAYLOAD") -> bytes:
    """A signed request's head, as raw bytes."""
    req = botocore.awsrequest.AWSRequest(method=method, url=f"http://127.0.0.1:{port}{path}", headers=headers or {})
    _UnsignedPayload(env, payload).add_auth(req)
    lines = [f"{method} {path} HTTP/1.1", f"Host: 127.0.0.1:{port}", *(f"{k}: {v}" for k, v in req.headers.items())]
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


def _connect(port: int) -> socket.socket:
    return socket.create_connection(("127.0.0.1", port), timeout=30)


def _read_to_close(sock: socket.socket) -> bytes:
    """Everything the server sends until it closes the connection."""
    parts = []
    try:
        while chunk := sock.recv(65536):
            parts.append(chunk)
    except ConnectionResetError:
        pass
    return b"".join(parts)


def _exchange(env: AwsEnv, port: int, method: str, path: str, headers: dict[str, str] | None = None,
              body: bytes = b"") -> bytes:
    """One request on its own connection (closed after it): the raw response."""
    with _connect(port) as sock:
        sock.sendall(_head(env, port, method, path, {**(headers or {}), "Connection": "close"}) + body)
        return _read_to_close(sock)


def _status(response: bytes) -> int:
    return int(response.split(b" ", 2)[1])


def _partials(data_dir: Path) -> list[Path]:
    return list((data_dir / "blobs").rglob("*.partial"))


@pytest.fixture
def bucket(server: Server, admin: AwsEnv) -> Iterator[str]:
    name = f"net-{uuid.uuid4().hex[:10]}"
    assert _status(_exchange(admin, server.port, "PUT", f"/{name}")) == 200
    yield name


@pytest.mark.parametrize("sent, declared", [(500, 1000), (3 * MIB, 5 * MIB)])
def test_a_body_cut_short_by_a_half_close_is_incomplete_body(server: Server, admin: AwsEnv, bucket: str,
                                                              sent: int, declared: int) -> None:
    # The client announces more than it sends, then shuts down its sending side: S3
    # answers IncompleteBody (the connection was closed unanswered before).
    with _connect(server.port) as sock:
        sock.sendall(_head(admin, server.port, "PUT", f"/{bucket}/cut", {"Content-Length": str(declared)})
                     + b"x" * sent)
        sock.shutdown(socket.SHUT_WR)
        response = _read_to_close(sock)
    assert _status(response) == 400, response[:300]
    assert b"<Code>IncompleteBody</Code>" in response
    assert b"You did not provide the number of bytes specified by the Content-Length HTTP header." in response
    assert b"connection: close" in response.lower()
    assert _status(_exchange(admin, server.port, "HEAD", f"/{bucket}/cut")) == 404
    assert not _partials(server.data_dir)


def test_an_aws_chunked_body_cut_short_by_a_half_close_is_incomplete_body(server: Server, admin: AwsEnv,
                                                                           bucket: str) -> None:
    # aws-chunked with a trailing checksum (the SDKs' default upload), cut inside a chunk.
    body = b"c" * MIB
    framed = (b"%x\r\n" % (128 * 1024) + body[:128 * 1024] + b"\r\n" + b"%x\r\n" % (MIB - 128 * 1024)
              + body[128 * 1024:] + b"\r\n0\r\nx-amz-checksum-crc32:"
              + base64.b64encode(zlib.crc32(body).to_bytes(4, "big")) + b"\r\n\r\n")
    head = _head(admin, server.port, "PUT", f"/{bucket}/chunked", {
        "Content-Encoding": "aws-chunked", "Content-Length": str(len(framed)), "x-amz-decoded-content-length": str(MIB),
        "x-amz-trailer": "x-amz-checksum-crc32"}, payload="STREAMING-UNSIGNED-PAYLOAD-TRAILER")
    with _connect(server.port) as sock:
        sock.sendall(head + framed[:len(framed) // 2])
        sock.shutdown(socket.SHUT_WR)
        response = _read_to_close(sock)
    assert _status(response) == 400, response[:300]
    assert b"<Code>IncompleteBody</Code>" in response
    assert _status(_exchange(admin, server.port, "HEAD", f"/{bucket}/chunked")) == 404
    assert not _partials(server.data_dir)


def test_a_body_that_stops_arriving_is_request_timeout(server: Server, admin: AwsEnv, bucket: str) -> None:
    # S3 ends an upload idle for 20 seconds; Skyhold held its connection, task and
    # temp blob file for as long as the client kept the socket open.
    with _connect(server.port) as sock:
        sock.settimeout(120)  # waits for the server's own idle timeout (20 s) to end the upload
        sock.sendall(_head(admin, server.port, "PUT", f"/{bucket}/idle", {"Content-Length": str(4 * MIB)})
                     + b"x" * MIB)
        response = _read_to_close(sock)
    assert _status(response) == 400, response[:300]
    assert b"<Code>RequestTimeout</Code>" in response
    assert (b"<Message>Your socket connection to the server was not read from or written to within the timeout "
            b"period. Idle connections will be closed.</Message>") in response
    assert b"connection: close" in response
    assert _status(_exchange(admin, server.port, "HEAD", f"/{bucket}/idle")) == 404
    assert not _partials(server.data_dir)


def test_a_whole_request_then_a_half_close_is_answered(server: Server, admin: AwsEnv, bucket: str) -> None:
    # `nc -N` and some HTTP/1.0 clients shut down their side once the request is sent.
    with _connect(server.port) as sock:
        sock.sendall(_head(admin, server.port, "PUT", f"/{bucket}/whole", {"Content-Length": "5"}) + b"hello")
        sock.shutdown(socket.SHUT_WR)
        response = _read_to_close(sock)
    assert _status(response) == 200, response[:300]
    assert _exchange(admin, server.port, "GET", f"/{bucket}/whole").endswith(b"\r\n\r\nhello")


def test_a_client_leaving_mid_upload_leaves_nothing(server: Server, admin: AwsEnv, bucket: str) -> None:
    with _connect(server.port) as sock:
        sock.sendall(_head(admin, server.port, "PUT", f"/{bucket}/gone", {"Content-Length": str(50 * MIB)}))
        for _ in range(20):
            sock.sendall(b"y" * MIB)
        wait_for(lambda: _partials(server.data_dir))  # the blob is being written
    wait_for(lambda: not _partials(server.data_dir))  # ... and is dropped once the client is gone
    assert _status(_exchange(admin, server.port, "HEAD", f"/{bucket}/gone")) == 404
    assert _status(_exchange(admin, server.port, "PUT", f"/{bucket}/after", {"Content-Length": "2"}, b"ok")) == 200


@pytest.mark.parametrize("trickled", [False, True])
def test_an_oversized_head_is_refused(server: Server, trickled: bool) -> None:
    # llhttp buffers a header line without limit: a client could fill the server's memory.
    head = f"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Big: {'a' * 100_000}\r\n\r\n".encode()
    with _connect(server.port) as sock:
        try:
            if trickled:
                for at in range(0, len(head), 4096):
                    sock.sendall(head[at:at + 4096])
            else:
                sock.sendall(head)
        except (BrokenPipeError, ConnectionResetError):
            pass  # refused before all of it was sent
        response = _read_to_close(sock)
    assert _status(response) == 400, response[:300]
    assert b"<Code>RequestHeaderSectionTooLarge</Code>" in response
    assert b"connection: close" in response
    assert _status(_exchange_health(server)) == 200


def test_heads_under_the_limit_pass_on_a_kept_alive_connection(server: Server) -> None:
    # The head size is counted per request: large heads one after another, one sent in
    # pieces, are each served.
    head = f"HEAD /_skyhold/health HTTP/1.1\r\nHost: x\r\nX-Big: {'a' * 12_000}\r\n\r\n".encode()
    with _connect(server.port) as sock:
        for pieces in ([head], [head], [head[:9000], head[9000:]]):
            for piece in pieces:
                sock.sendall(piece)
            assert _status(_read_until_blank(sock)) == 200


def _exchange_health(server: Server) -> bytes:
    with _connect(server.port) as sock:
        sock.sendall(b"GET /_skyhold/health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        return _read_to_close(sock)


@pytest.mark.parametrize("raw", [
    b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
    b"GET / HTTP/1.1\r\nHost: x\r\nX-A: b\r\n  c\r\n\r\n",  # obs-fold
    b"GET / HTTP/1.1\nHost: x\nX-A: b\n\n",  # bare LF
    b"GET / HTTP/1.1\r\nHost: x\r\nX-A: b\x00c\r\n\r\n",
    b"PUT /b/k HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\nContent-Length: 5\r\n\r\nabcde",
    b"GET / HTTP/1.1\r\nHost: x\r\nContent-Length : 0\r\n\r\n",
], ids=["cl-and-te", "obs-fold", "bare-lf", "nul", "two-lengths", "space-before-colon"])
def test_smuggling_shapes_are_refused_and_closed(server: Server, raw: bytes) -> None:
    with _connect(server.port) as sock:
        sock.sendall(raw + b"GET /_skyhold/health HTTP/1.1\r\nHost: x\r\n\r\n")  # never reached
        response = _read_to_close(sock)
    assert _status(response) == 400, response[:300]
    assert response.count(b"HTTP/1.1 ") == 1


def _rss_kib(pid: int) -> int:
    status = Path(f"/proc/{pid}/status").read_text()
    return int(next(line for line in status.splitlines() if line.startswith("VmRSS")).split()[1])


def test_a_stalled_download_holds_bounded_memory_and_sigterm_finishes_what_is_in_flight(tmp_path: Path) -> None:
    with own_server(tmp_path) as (srv, env):
        assert srv.proc is not None
        port, pid = srv.port, srv.proc.pid
        assert _status(_exchange(env, port, "PUT", "/big")) == 200
        size = 96 * MIB
        with _connect(port) as sock:
            sock.sendall(_head(env, port, "PUT", "/big/obj", {"Content-Length": str(size)}))
            for _ in range(size // MIB):
                sock.sendall(b"z" * MIB)
            assert _status(_read_until_blank(sock)) == 200
        before = _rss_kib(pid)
        reader = _connect(port)
        reader.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 64 * 1024)
        reader.sendall(_head(env, port, "GET", "/big/obj"))
        first = reader.recv(65536)
        assert _status(first) == 200
        # The reader stops reading: the server must not buffer the object meanwhile.
        # An upload on another connection runs to completion in the same time, so the
        # stalled download has had every chance to pile up.
        assert _status(_exchange(env, port, "PUT", "/big/other", {"Content-Length": str(8 * MIB)},
                                 b"o" * (8 * MIB))) == 200
        assert _rss_kib(pid) - before < 48 * 1024, "a stalled download grew the server's memory"

        # Uploads in flight when SIGTERM comes: graceful, one that goes on finishes and
        # is kept; one whose client went quiet ends in RequestTimeout (it was cancelled
        # with a 500 once uvicorn's graceful timeout ran out).
        upload, stalled = _connect(port), _connect(port)
        upload.sendall(_head(env, port, "PUT", "/big/inflight", {"Content-Length": str(4 * MIB)}) + b"i" * MIB)
        stalled.sendall(_head(env, port, "PUT", "/big/stalled", {"Content-Length": str(4 * MIB)}) + b"s" * MIB)
        stalled.settimeout(60)
        wait_for(lambda: len(_partials(srv.data_dir)) == 2)  # the server has both: their blobs are being written
        os.kill(pid, signal.SIGTERM)
        wait_for(lambda: _refused(port))  # stopped listening: shutting down
        upload.sendall(b"i" * (3 * MIB))
        response = _read_until_blank(upload)
        upload.close()
        assert _status(response) == 200, response[:300]
        response = _read_to_close(stalled)
        stalled.close()
        assert _status(response) == 400 and b"<Code>RequestTimeout</Code>" in response, response[:300]
        reader.close()  # the stalled download ends with its client
        assert srv.proc.wait(timeout=60) == 0
        srv.proc = None
        assert not _partials(srv.data_dir)
        assert "Exception in ASGI application" not in srv.log()
        srv.start()
        got = _exchange(env, port, "GET", "/big/inflight")
        assert _status(got) == 200 and got.endswith(b"i" * (4 * MIB))
        assert _status(_exchange(env, port, "HEAD", "/big/stalled")) == 404


def _read_until_blank(sock: socket.socket) -> bytes:
    """A response's head (up to its blank line), and whatever came with it."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        if not chunk:
            break
        data += chunk
    return data


def _refused(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=5).close()
    except ConnectionRefusedError:
        return True
    return False


def test_sigkill_during_multipart_uploads_and_copies_keeps_everything_acknowledged(tmp_path: Path) -> None:
    with own_server(tmp_path) as (srv, env):
        s3 = env.client("s3")
        s3.create_bucket(Bucket="crash")
        s3.put_object(Bucket="crash", Key="source", Body=b"s" * (3 * MIB))
        done: dict[str, bytes] = {}  # key -> its body, once acknowledged
        parts_done: dict[str, tuple[str, int]] = {}  # upload id -> its key, parts acknowledged
        stop = threading.Event()

        def uploader(n: int) -> None:
            i = 0
            while not stop.is_set():
                key, body = f"mp-{n}-{i}", bytes([65 + n]) * (5 * MIB) + b"tail-%d" % i
                try:
                    upload = s3.create_multipart_upload(Bucket="crash", Key=key)["UploadId"]
                    etags = []
                    for number, chunk in enumerate((body[:5 * MIB], body[5 * MIB:]), 1):
                        etags.append(s3.upload_part(Bucket="crash", Key=key, UploadId=upload, PartNumber=number,
                                                    Body=chunk)["ETag"])
                        parts_done[upload] = (key, number)
                    s3.complete_multipart_upload(Bucket="crash", Key=key, UploadId=upload, MultipartUpload={
                        "Parts": [{"PartNumber": k, "ETag": e} for k, e in enumerate(etags, 1)]})
                except Exception:
                    return  # the server is gone
                done[key] = body
                i += 1

        def copier() -> None:
            i = 0
            while not stop.is_set():
                try:
                    s3.copy_object(Bucket="crash", Key=f"copy-{i}", CopySource={"Bucket": "crash", "Key": "source"})
                except Exception:
                    return
                done[f"copy-{i}"] = b"s" * (3 * MIB)
                i += 1

        threads = [threading.Thread(target=uploader, args=(n,)) for n in range(2)] + [threading.Thread(target=copier)]
        for t in threads:
            t.start()
        wait_for(lambda: len(done) >= 4 and parts_done)  # work acknowledged, more in flight
        assert srv.proc is not None
        srv.proc.send_signal(signal.SIGKILL)
        srv.proc.wait(timeout=30)
        srv.proc = None
        stop.set()
        for t in threads:
            t.join(timeout=60)
        srv.start()
        s3 = env.client("s3")
        for key, body in done.items():
            assert s3.get_object(Bucket="crash", Key=key)["Body"].read() == body, key
        pending = {u["UploadId"] for u in s3.list_multipart_uploads(Bucket="crash").get("Uploads", [])}
        for upload, (key, count) in parts_done.items():
            if upload in pending:  # its acknowledged parts are all there
                parts = s3.list_parts(Bucket="crash", Key=key, UploadId=upload)["Parts"]
                assert [p["PartNumber"] for p in parts][:count] == list(range(1, count + 1)), (key, parts)
            else:  # completed, if not acknowledged: then whole
                assert s3.head_object(Bucket="crash", Key=key)["ContentLength"] > 5 * MIB, key
        assert not _partials(srv.data_dir)  # the restart swept what the crash left half-written
