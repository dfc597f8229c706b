"""Write an AWS CLI/SDK profile that points at Skyhold.

Honours AWS_CONFIG_FILE and AWS_SHARED_CREDENTIALS_FILE exactly as the SDKs do. These
are the user's own files: only the target section's lines are edited, in place; every
other byte (comments, other sections, nested blocks, line endings) stays as it was. A
symlinked file is written through, atomically, keeping its mode (a new file is 0600).
"""

from __future__ import annotations

import configparser
import os
import re
import shlex
import tempfile
from collections.abc import Callable
from pathlib import Path

from skyhold.regions import DEFAULT_REGION


class ConfigureError(Exception):
    """A one-line reason to refuse (the files are left untouched)."""


# Keys that decide where a profile's requests go and with which credentials: one left
# over from an earlier setup (a role, SSO, a session token, per-service endpoints)
# would win over what Skyhold writes, so those Skyhold does not write now go.
_OWNED = (
    "aws_access_key_id", "aws_secret_access_key", "aws_session_token", "credential_process",
    "role_arn", "source_profile", "credential_source", "role_session_name", "external_id",
    "web_identity_token_file", "sso_session", "sso_start_url", "sso_region", "sso_account_id",
    "sso_role_name", "endpoint_url", "ignore_configure_endpoint_urls", "services", "ca_bundle",
)  # fmt: skip

_HEADER = re.compile(r"\[(?P<header>.+)\]")  # configparser's own section pattern
_LINE = re.compile(r"[^\r\n]*(?:\r\n|\n|\r)|[^\r\n]+")  # lines with their own endings


def config_path() -> Path:
    return Path(os.environ.get("AWS_CONFIG_FILE") or "~/.aws/config").expanduser()


def credentials_path() -> Path:
    return Path(os.environ.get("AWS_SHARED_CREDENTIALS_FILE") or "~/.aws/credentials").expanduser()


def check_profile_name(profile: str) -> None:
    """botocore finds `[profile NAME]` by shlex-splitting the header into exactly two
    words; a name that does not survive that (whitespace, quotes, backslashes), or that
    breaks the `[...]` header itself, would be written where no client can use it."""
    ok = (
        bool(profile)
        and not any(c.isspace() or not c.isprintable() or c in "[]" for c in profile)
        and _shlex_words(f"profile {profile}") == ["profile", profile]
    )
    if not ok:
        raise ConfigureError(f"invalid profile name {profile!r}: the AWS CLI cannot use a name with "
                             "whitespace, brackets, quotes or backslashes")


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
    `ca_bundle` (an HTTPS endpoint), the CLI and SDKs trust that CA certificate.
    Raises ConfigureError, before writing anything, for a bad name or an unparsable file."""
    check_profile_name(profile)
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
    config, creds = config_path(), credentials_path()
    # Compute both files first: a bad credentials file must not leave config half-done.
    new_config = edit_section(_read(config), config_section_matcher(profile), f"profile {profile}"
                              if profile != "default" else "default", values, where=config)
    if static_keys:
        key, secret = static_keys
        new_creds = edit_section(_read(creds), profile.__eq__, profile,
                                 {"aws_access_key_id": key, "aws_secret_access_key": secret}, where=creds)
    else:  # an old static key would shadow the credential_process
        new_creds = edit_section(_read(creds), profile.__eq__, profile, None, where=creds)
    _write(config, new_config)
    _write(creds, new_creds)
    return [config, creds] if static_keys else [config]


def config_section_matcher(profile: str) -> Callable[[str], bool]:
    """The config file headers botocore reads as this profile."""
    if profile == "default":
        return lambda header: header == "default"
    return lambda header: header.startswith("profile") and _shlex_words(header) == ["profile", profile]


def edit_section(text: str | None, matches: Callable[[str], bool], header: str,
                 values: dict[str, str] | None, *, where: Path | str = "<text>") -> str | None:
    """`text` with one section edited: `values` set (each key's lines replaced in place or
    added after the section's last key; other keys Skyhold owns removed), or with
    `values=None` the section removed. The last matching section is the one botocore
    uses. None in → None out when there is nothing to write."""
    if text is not None:
        _check_parsable(text, where)
    lines = _LINE.findall(text or "")
    newline = next((ln[len(ln.rstrip("\r\n")):] for ln in lines if ln.endswith(("\n", "\r"))), "\n")
    sections = _sections(lines)
    found = [s for s in sections if matches(s[0])]
    if values is None:
        if not found:
            return text
        _, start, _, options = found[-1]
        end = max((stop for _, stop in options.values()), default=start + 1)
        while end < len(lines) and not lines[end].strip():  # and the blank lines after it
            end += 1
        return "".join(lines[:start] + lines[end:])  # comments after its last key stay
    if not found:
        if lines and not lines[-1].endswith(("\n", "\r")):
            lines[-1] += newline
        if lines and lines[-1].strip():
            lines.append(newline)
        rendered = [f"[{header}]{newline}"] + [ln for k, v in values.items() for ln in _render(k, v, newline)]
        return "".join(lines + rendered)
    _, start, _, options = found[-1]
    edits: dict[int, tuple[int, list[str]]] = {}  # first line of a key → (its end, what replaces it)
    for key, (first, stop) in options.items():
        if key in values:
            edits[first] = (stop, _render(key, values[key], newline))
        elif key in _OWNED:
            edits[first] = (stop, [])
    added = [ln for k, v in values.items() if k not in options for ln in _render(k, v, newline)]
    last = max((stop for _, stop in options.values()), default=start + 1)  # new keys: after the last key
    out: list[str] = []
    i = 0
    while i <= len(lines):
        if i == last and added:
            if out and not out[-1].endswith(("\n", "\r")):
                out[-1] += newline
            out += added
        if i == len(lines):
            break
        if i in edits:
            i, replacement = edits[i]
            out += replacement
            continue
        out.append(lines[i])
        i += 1
    return "".join(out)


def _sections(lines: list[str]) -> list[tuple[str, int, int, dict[str, tuple[int, int]]]]:
    """(header, header line, end line, {key: (first line, end line)}) per section, read the
    way configparser does: a line indented deeper than its key continues the key's value;
    comments and blank lines inside a value belong to it only if more of the value follows."""
    found: list[tuple[str, int, int, dict[str, tuple[int, int]]]] = []
    key: str | None = None
    indent = 0
    for i, line in enumerate(lines):
        stripped = line.strip()
        if not stripped or stripped.startswith(("#", ";")):
            continue
        depth = len(line) - len(line.lstrip())
        if found and key is not None and depth > indent:
            found[-1][3][key] = (found[-1][3][key][0], i + 1)
            continue
        indent = depth
        header = _HEADER.match(stripped)
        if header:
            found.append((header["header"], i, len(lines), {}))
            key = None
        elif found:
            key = re.split(r"[=:]", stripped, maxsplit=1)[0].rstrip().lower()
            found[-1][3][key] = (i, i + 1)
    # A section ends where the next header starts.
    return [(h, s, found[n + 1][1] if n + 1 < len(found) else len(lines), o) for n, (h, s, _, o) in enumerate(found)]


def _render(key: str, value: str, newline: str) -> list[str]:
    if value.startswith("\n"):  # a nested block, like `s3 =` and its indented keys
        return [f"{key} ={newline}"] + [f"  {ln}{newline}" for ln in value.splitlines()[1:]]
    return [f"{key} = {value}{newline}"]


def _check_parsable(text: str, where: Path | str) -> None:
    """Refuse to edit what the CLI and SDKs themselves cannot read (they use
    configparser, then split nested blocks on '=')."""
    parser = configparser.RawConfigParser()
    try:
        parser.read_string(text, source=str(where))
        for section in parser.sections():
            for option in parser.options(section):
                value = parser.get(section, option)
                if value.startswith("\n") and any("=" not in ln for ln in value.splitlines()[1:] if ln.strip()):
                    raise ConfigureError(f"{where} is not a valid AWS config file ({option} in [{section}]: "
                                         "an indented line without '=')")
    except configparser.Error as e:
        raise ConfigureError(f"{where} is not a valid AWS config file ({_reason(e)}); fix it, then run this again")


def _reason(e: configparser.Error) -> str:
    if isinstance(e, configparser.MissingSectionHeaderError):
        return f"line {e.lineno}: text before the first [section]"
    if isinstance(e, configparser.DuplicateSectionError):
        return f"line {e.lineno}: section [{e.section}] appears twice"
    if isinstance(e, configparser.DuplicateOptionError):
        return f"line {e.lineno}: {e.option} appears twice in [{e.section}]"
    if isinstance(e, configparser.ParsingError) and e.errors:
        return f"line {e.errors[0][0]}: not a 'key = value' line"
    return str(e).splitlines()[0]


def _shlex_words(text: str) -> list[str] | None:
    try:
        return shlex.split(text)
    except ValueError:
        return None


def _read(path: Path) -> str | None:
    try:
        with open(path, encoding="utf-8", newline="") as f:  # newline="": keep \r\n as it is
            return f.read()
    except FileNotFoundError:
        return None
    except UnicodeDecodeError:
        raise ConfigureError(f"{path} is not a valid AWS config file (not UTF-8 text)") from None
    except OSError as e:
        raise ConfigureError(f"cannot read {path}: {e.strerror}") from None


def _write(path: Path, text: str | None) -> None:
    """Atomically (a temporary file beside it, then rename), through a symlink, keeping the
    mode: ~/.aws/config may hold secrets too, so a new file is 0600."""
    if text is None or text == _read(path):
        return
    target = path.resolve()
    try:
        mode = target.stat().st_mode & 0o7777
    except FileNotFoundError:
        mode = 0o600
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".skyhold-tmp")
        try:
            with os.fdopen(fd, "w", encoding="utf-8", newline="") as fh:
                fh.write(text)
                fh.flush()
                os.fsync(fh.fileno())
            os.chmod(tmp, mode)
            os.replace(tmp, target)
        except BaseException:
            os.unlink(tmp)
            raise
    except OSError as e:
        raise ConfigureError(f"cannot write {path}: {e.strerror}") from None
