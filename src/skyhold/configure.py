"""Write an AWS CLI/SDK profile that points at Skyhold.

Honours AWS_CONFIG_FILE and AWS_SHARED_CREDENTIALS_FILE exactly as the SDKs do, and
rewrites only the named profile's sections, leaving everything else in place.
"""

from __future__ import annotations

import configparser
import os
from pathlib import Path

from skyhold.regions import DEFAULT_REGION


def config_path() -> Path:
    return Path(os.environ.get("AWS_CONFIG_FILE") or "~/.aws/config").expanduser()


def credentials_path() -> Path:
    return Path(os.environ.get("AWS_SHARED_CREDENTIALS_FILE") or "~/.aws/credentials").expanduser()


def write_profile(
    profile: str,
    endpoint: str,
    *,
    credential_process: str | None = None,
    static_keys: tuple[str, str] | None = None,
    region: str = DEFAULT_REGION,
    ca_bundle: str | None = None,
) -> list[Path]:
    """Write the profile. With `credential_process` no secret is written at all: the
    SDK runs the command for short-lived credentials whenever it needs them. With
    `ca_bundle` (an HTTPS endpoint), the CLI and SDKs trust that CA certificate."""
    section = "default" if profile == "default" else f"profile {profile}"
    values = {
        "region": region,
        "endpoint_url": endpoint,
        "output": "json",
        # Path-style S3 URLs: virtual-hosted names like bucket.localhost do not
        # resolve everywhere. SigV4 presigned URLs: the CLI v1 otherwise presigns
        # with SigV2, which S3 (and Skyhold) refuse.
        "s3": "\naddressing_style = path\nsignature_version = s3v4",
    }
    if credential_process:
        values["credential_process"] = credential_process
    if ca_bundle:
        values["ca_bundle"] = ca_bundle
    _update(config_path(), section, values)
    if static_keys:
        key, secret = static_keys
        _update(credentials_path(), profile, {"aws_access_key_id": key, "aws_secret_access_key": secret}, private=True)
        return [config_path(), credentials_path()]
    _remove(credentials_path(), profile)  # an old static key must not shadow the process
    return [config_path()]


def _remove(path: Path, section: str) -> None:
    if not path.exists():
        return
    parser = configparser.RawConfigParser()
    parser.read(path)
    if parser.remove_section(section):
        _write(path, parser, private=True)


def _update(path: Path, section: str, values: dict[str, str], private: bool = False) -> None:
    parser = configparser.RawConfigParser()
    if path.exists():
        parser.read(path)
    if parser.has_section(section):
        parser.remove_section(section)
    parser.add_section(section)
    for key, value in values.items():
        parser.set(section, key, value)
    _write(path, parser, private)


def _write(path: Path, parser: configparser.RawConfigParser, private: bool) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".skyhold-tmp")
    with open(tmp, "w") as fh:
        parser.write(fh)
    if private:
        os.chmod(tmp, 0o600)
    os.replace(tmp, path)
