"""Skyhold's local certificate authority and the HTTPS listener's certificate.

A CA of this data dir's own signs a certificate for the loopback names, S3's
virtual-hosted names under `s3.localhost` among them (and the address `skyhold up`
binds, when it is another). Clients trust the CA's certificate
(`ca_bundle` in the AWS config file), never the server's, so a renewed server
certificate needs no change on their side. The CA's key never leaves the data dir:
the folder is 0700, every file in it 0600.

Dates are real time, not Skyhold's (movable) clock: clients check them by theirs.
"""

from __future__ import annotations

import fcntl
import ipaddress
import os
import secrets
import ssl
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

FOLDER = "tls"
CA_CERT = "ca.pem"
CA_KEY = "ca-key.pem"
SERVER_CERT = "server.pem"
SERVER_KEY = "server-key.pem"

CA_VALIDITY = timedelta(days=3650)
# 397 days: the longest validity browsers and Apple's TLS stack accept for a server certificate.
SERVER_VALIDITY = timedelta(days=397)
RENEW_BEFORE = timedelta(days=30)  # renewed this long before it expires, not at the last moment
BACKDATE = timedelta(minutes=5)  # a client whose clock is a little behind still accepts it

# `*.s3.localhost`: virtual-hosted S3 requests (`<bucket>.s3.localhost`) pass the name
# check too. As on AWS, a wildcard covers one label: buckets with dots need path style.
LOOPBACK_NAMES = ("localhost", "s3.localhost", "*.s3.localhost")
LOOPBACK_IPS = ("127.0.0.1", "::1")
_WILDCARD_BINDS = ("0.0.0.0", "::", "")  # every address: no single name to certify


@dataclass(frozen=True)
class Files:
    ca_cert: Path
    cert: Path
    key: Path


def folder(data_dir: Path) -> Path:
    return Path(data_dir) / FOLDER


def ca_path(data_dir: Path) -> Path:
    """The CA certificate clients are to trust (created if there is none yet)."""
    tls_dir = _private_folder(data_dir)
    with _locked(tls_dir):
        _ensure_ca(tls_dir, _now())
    return tls_dir / CA_CERT


def client_env(data_dir: Path, endpoint: str) -> dict[str, str]:
    """What a program Skyhold starts against `endpoint` needs to trust its certificate:
    AWS_CA_BUNDLE for an HTTPS endpoint, nothing for plain HTTP."""
    if not endpoint.lower().startswith("https:"):
        return {}
    return {"AWS_CA_BUNDLE": str(ca_path(data_dir))}


def ensure(data_dir: Path, host: str, now: datetime | None = None) -> Files:
    """The CA and a server certificate for the loopback names and `host`, made or
    renewed as needed (expired or expiring soon, other names, another CA)."""
    now = now or _now()
    tls_dir = _private_folder(data_dir)
    with _locked(tls_dir):
        ca_cert, ca_key, ca_renewed = _ensure_ca(tls_dir, now)
        wanted = server_names(host)
        current = _read_cert(tls_dir / SERVER_CERT)
        if (ca_renewed or current is None or not (tls_dir / SERVER_KEY).exists()
                or _due(current, now) or _names(current) != wanted
                or current.issuer != ca_cert.subject):
            key = ec.generate_private_key(ec.SECP256R1())
            cert = _server_cert(key, wanted, ca_cert, ca_key, now)
            _write_private(tls_dir / SERVER_KEY, _key_pem(key))
            _write_private(tls_dir / SERVER_CERT, cert.public_bytes(serialization.Encoding.PEM))
    return Files(tls_dir / CA_CERT, tls_dir / SERVER_CERT, tls_dir / SERVER_KEY)


def server_context(files: Files) -> ssl.SSLContext:
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2  # what AWS endpoints accept at the least
    ctx.load_cert_chain(files.cert, files.key)
    return ctx


def server_names(host: str) -> frozenset[str]:
    """The names the certificate covers, as 'DNS:x' / 'IP:x' (IPs normalised)."""
    names = {f"DNS:{n}" for n in LOOPBACK_NAMES} | {f"IP:{ip}" for ip in LOOPBACK_IPS}
    bare = host.strip("[]")
    if bare not in _WILDCARD_BINDS:
        try:
            names.add(f"IP:{ipaddress.ip_address(bare)}")
        except ValueError:
            names.add(f"DNS:{bare.lower()}")
    return frozenset(names)


def _ensure_ca(tls_dir: Path, now: datetime) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey, bool]:
    """The CA (certificate, key, whether made just now)."""
    cert = _read_cert(tls_dir / CA_CERT)
    key_path = tls_dir / CA_KEY
    if cert is not None and key_path.exists() and not _due(cert, now):
        key = serialization.load_pem_private_key(key_path.read_bytes(), password=None)
        if isinstance(key, ec.EllipticCurvePrivateKey) and key.public_key() == cert.public_key():
            return cert, key, False
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Skyhold"),
                      x509.NameAttribute(NameOID.COMMON_NAME, f"Skyhold local CA {secrets.token_hex(4)}")])
    cert = (
        _builder(name, name, key.public_key(), now, CA_VALIDITY)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(_usage(digital_signature=False, key_cert_sign=True, crl_sign=True), critical=True)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )
    _write_private(key_path, _key_pem(key))
    _write_private(tls_dir / CA_CERT, cert.public_bytes(serialization.Encoding.PEM))
    return cert, key, True


def _server_cert(key: ec.EllipticCurvePrivateKey, names: frozenset[str], ca_cert: x509.Certificate,
                 ca_key: ec.EllipticCurvePrivateKey, now: datetime) -> x509.Certificate:
    sans: list[x509.GeneralName] = []
    for name in sorted(names):
        kind, _, value = name.partition(":")
        sans.append(x509.IPAddress(ipaddress.ip_address(value)) if kind == "IP" else x509.DNSName(value))
    subject = x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Skyhold"),
                         x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    # Never outliving its CA: a chain with an expired CA fails however new the leaf is.
    validity = min(SERVER_VALIDITY, ca_cert.not_valid_after_utc - now)
    return (
        _builder(subject, ca_cert.subject, key.public_key(), now, validity)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(_usage(digital_signature=True, key_cert_sign=False, crl_sign=False), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(x509.SubjectAlternativeName(sans), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False)
        .sign(ca_key, hashes.SHA256())
    )


def _builder(subject: x509.Name, issuer: x509.Name, public_key: ec.EllipticCurvePublicKey, now: datetime,
             validity: timedelta) -> x509.CertificateBuilder:
    return (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer)
        .public_key(public_key)
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - BACKDATE)
        .not_valid_after(now + validity)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public_key), critical=False)
    )


def _usage(*, digital_signature: bool, key_cert_sign: bool, crl_sign: bool) -> x509.KeyUsage:
    return x509.KeyUsage(digital_signature=digital_signature, content_commitment=False, key_encipherment=False,
                         data_encipherment=False, key_agreement=False, key_cert_sign=key_cert_sign,
                         crl_sign=crl_sign, encipher_only=False, decipher_only=False)


def _names(cert: x509.Certificate) -> frozenset[str]:
    try:
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        return frozenset()
    return frozenset({f"DNS:{n.lower()}" for n in san.get_values_for_type(x509.DNSName)}
                     | {f"IP:{ip}" for ip in san.get_values_for_type(x509.IPAddress)})


def _due(cert: x509.Certificate, now: datetime) -> bool:
    return cert.not_valid_after_utc - RENEW_BEFORE <= now or cert.not_valid_before_utc > now


def _read_cert(path: Path) -> x509.Certificate | None:
    try:
        return x509.load_pem_x509_certificate(path.read_bytes())
    except (FileNotFoundError, ValueError):
        return None


def _key_pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())


def _now() -> datetime:
    return datetime.now(timezone.utc)


def _private_folder(data_dir: Path) -> Path:
    tls_dir = folder(data_dir)
    tls_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    tls_dir.chmod(0o700)  # one made under a looser umask
    return tls_dir


@contextmanager
def _locked(tls_dir: Path) -> Iterator[None]:
    """The folder's lock: `skyhold up` and `skyhold configure` may both make the CA first."""
    fd = os.open(tls_dir / ".lock", os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # releases the lock


def _write_private(path: Path, data: bytes) -> None:
    """Replace `path` atomically with a 0600 file, whatever the umask."""
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)
