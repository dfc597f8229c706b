"""Skyhold's local CA and the HTTPS listener's certificate (skyhold.tls)."""

from __future__ import annotations

import ipaddress
import socket
import ssl
import stat
import threading
from datetime import datetime, timedelta, timezone
from pathlib import Path

from cryptography import x509

from skyhold import tls


def _cert(path: Path) -> x509.Certificate:
    return x509.load_pem_x509_certificate(path.read_bytes())


def _sans(cert: x509.Certificate) -> set[str]:
    san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    return set(san.get_values_for_type(x509.DNSName)) | {str(ip) for ip in san.get_values_for_type(x509.IPAddress)}


def test_names_cover_loopback_and_the_bound_host(tmp_path: Path) -> None:
    loopback = {"localhost", "s3.localhost", "*.s3.localhost", "127.0.0.1", "::1"}
    files = tls.ensure(tmp_path, "127.0.0.1")
    assert _sans(_cert(files.cert)) == loopback
    files = tls.ensure(tmp_path, "skyhold.test")
    assert _sans(_cert(files.cert)) == loopback | {"skyhold.test"}
    files = tls.ensure(tmp_path, "[fd00::5]")
    assert "fd00::5" in _sans(_cert(files.cert))
    files = tls.ensure(tmp_path, "0.0.0.0")  # every address: no name of its own
    assert _sans(_cert(files.cert)) == loopback


def test_server_certificate_is_a_leaf_signed_by_the_ca(tmp_path: Path) -> None:
    files = tls.ensure(tmp_path, "127.0.0.1")
    ca, leaf = _cert(files.ca_cert), _cert(files.cert)
    assert ca.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    assert not leaf.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    leaf.verify_directly_issued_by(ca)
    usage = leaf.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    assert x509.oid.ExtendedKeyUsageOID.SERVER_AUTH in usage
    now = datetime.now(timezone.utc)
    assert leaf.not_valid_before_utc <= now < leaf.not_valid_after_utc
    assert leaf.not_valid_after_utc - now <= tls.SERVER_VALIDITY
    assert leaf.not_valid_after_utc <= ca.not_valid_after_utc


def test_files_are_private(tmp_path: Path) -> None:
    files = tls.ensure(tmp_path, "127.0.0.1")
    assert stat.S_IMODE(tls.folder(tmp_path).stat().st_mode) == 0o700
    for path in (files.ca_cert, files.cert, files.key, tls.folder(tmp_path) / tls.CA_KEY):
        assert stat.S_IMODE(path.stat().st_mode) == 0o600, path


def test_kept_while_valid_and_for_the_same_names(tmp_path: Path) -> None:
    first = tls.ensure(tmp_path, "127.0.0.1")
    before = first.cert.read_bytes(), first.ca_cert.read_bytes()
    again = tls.ensure(tmp_path, "localhost")  # a loopback name: the same set of names
    assert (again.cert.read_bytes(), again.ca_cert.read_bytes()) == before


def test_renewed_for_other_names_under_the_same_ca(tmp_path: Path) -> None:
    first = tls.ensure(tmp_path, "127.0.0.1")
    ca_before, leaf_before = first.ca_cert.read_bytes(), first.cert.read_bytes()
    second = tls.ensure(tmp_path, "192.0.2.7")
    assert second.cert.read_bytes() != leaf_before
    assert second.ca_cert.read_bytes() == ca_before  # clients keep trusting it
    assert ipaddress.ip_address("192.0.2.7") in _cert(second.cert).extensions.get_extension_for_class(
        x509.SubjectAlternativeName).value.get_values_for_type(x509.IPAddress)


def test_renewed_when_expiring_and_the_ca_when_it_expires(tmp_path: Path) -> None:
    first = tls.ensure(tmp_path, "127.0.0.1")
    ca_before, leaf = first.ca_cert.read_bytes(), _cert(first.cert)
    near_end = leaf.not_valid_after_utc - tls.RENEW_BEFORE + timedelta(hours=1)
    renewed = tls.ensure(tmp_path, "127.0.0.1", now=near_end)
    assert _cert(renewed.cert).not_valid_after_utc > leaf.not_valid_after_utc
    assert renewed.ca_cert.read_bytes() == ca_before
    past_ca = _cert(first.ca_cert).not_valid_after_utc + timedelta(days=1)
    new = tls.ensure(tmp_path, "127.0.0.1", now=past_ca)
    assert new.ca_cert.read_bytes() != ca_before
    _cert(new.cert).verify_directly_issued_by(_cert(new.ca_cert))  # the leaf follows its new CA


def test_ca_path_is_the_ca_the_server_then_uses(tmp_path: Path) -> None:
    ca = tls.ca_path(tmp_path)  # `skyhold configure` before the first `skyhold up --https-port`
    before = ca.read_bytes()
    files = tls.ensure(tmp_path, "127.0.0.1")
    assert files.ca_cert == ca and ca.read_bytes() == before
    _cert(files.cert).verify_directly_issued_by(_cert(ca))


def test_a_tls_client_verifies_the_server_with_the_ca(tmp_path: Path) -> None:
    files = tls.ensure(tmp_path, "127.0.0.1")
    server_ctx = tls.server_context(files)
    listener = socket.create_server(("127.0.0.1", 0))
    port = listener.getsockname()[1]

    def serve_one() -> None:
        conn, _ = listener.accept()
        try:
            with server_ctx.wrap_socket(conn, server_side=True) as tls_conn:
                tls_conn.sendall(b"ok")
        except (ssl.SSLError, OSError):
            pass

    for host, ok in (("localhost", True), ("127.0.0.1", True)):
        thread = threading.Thread(target=serve_one)
        thread.start()
        client = ssl.create_default_context(cafile=str(files.ca_cert))
        with socket.create_connection(("127.0.0.1", port)) as raw, client.wrap_socket(raw, server_hostname=host) as c:
            assert c.recv(2) == b"ok"
            assert c.version() in ("TLSv1.2", "TLSv1.3")
        thread.join()
    # Another CA's trust is not enough: the verification is real.
    other = tls.ensure(tmp_path / "other", "127.0.0.1")
    thread = threading.Thread(target=serve_one)
    thread.start()
    client = ssl.create_default_context(cafile=str(other.ca_cert))
    with socket.create_connection(("127.0.0.1", port)) as raw:
        try:
            client.wrap_socket(raw, server_hostname="127.0.0.1")
            raise AssertionError("an unknown CA was trusted")
        except ssl.SSLCertVerificationError as err:
            assert "certificate verify failed" in str(err)
    thread.join()
    listener.close()


def test_client_env_trusts_the_ca_for_https_only(tmp_path: Path) -> None:
    assert tls.client_env(tmp_path, "http://127.0.0.1:4566") == {}
    env = tls.client_env(tmp_path, "https://127.0.0.1:4567")
    assert Path(env["AWS_CA_BUNDLE"]) == tls.folder(tmp_path) / tls.CA_CERT
    assert "BEGIN CERTIFICATE" in Path(env["AWS_CA_BUNDLE"]).read_text()
