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
    access_key_id: str,
    secret_access_key: str,
    region: str = DEFAULT_REGION,
) -> tuple[Path, Path]:
    section = "default" if profile == "default" else f"profile {profile}"
    _update(
        config_path(),
        section,
        {
            "region": region,
            "endpoint_url": endpoint,
            "output": "json",
            # Path-style S3 URLs: virtual-hosted names like bucket.localhost do not
            # resolve everywhere.
            "s3": "\naddressing_style = path",
        },
    )
    _update(
        credentials_path(),
        profile,
        {"aws_access_key_id": access_key_id, "aws_secret_access_key": secret_access_key},
        private=True,
    )
    return config_path(), credentials_path()


def _update(path: Path, section: str, values: dict[str, str], private: bool = False) -> None:
    parser = configparser.RawConfigParser()
    if path.exists():
        parser.read(path)
    if parser.has_section(section):
        parser.remove_section(section)
    parser.add_section(section)
    for key, value in values.items():
        parser.set(section, key, value)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".skyhold-tmp")
    with open(tmp, "w") as fh:
        parser.write(fh)
    if private:
        os.chmod(tmp, 0o600)
    os.replace(tmp, path)
