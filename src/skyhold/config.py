"""Settings shared by every `skyhold` command: flags first, then SKYHOLD_* variables."""

from __future__ import annotations

import os
from pathlib import Path

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 4566
# The HTTPS listener is off unless asked for; `skyhold configure --https` assumes this port
# when neither --https-port nor SKYHOLD_HTTPS_PORT says another.
DEFAULT_HTTPS_PORT = 4567


def data_dir(flag: str | None) -> Path:
    if flag:
        return Path(flag).expanduser()
    env = os.environ.get("SKYHOLD_DATA_DIR")
    if env:
        return Path(env).expanduser()
    import platformdirs

    return Path(platformdirs.user_data_dir("skyhold", appauthor=False))


def host(flag: str | None) -> str:
    return flag or os.environ.get("SKYHOLD_HOST") or DEFAULT_HOST


class UsageError(ValueError):
    """A setting out of range; str() is the one line the CLI prints (exit status 2)."""


def port_number(text: str) -> int:
    """A TCP port, 0-65535 (0: any free port); argparse's `type` for --port flags."""
    try:
        value = int(text)
    except ValueError:
        raise ValueError(f"invalid port {text!r}: not a number") from None
    if not 0 <= value <= 65535:
        raise ValueError(f"invalid port {value}: a port is 0-65535")
    return value


def _env_port(name: str) -> int | None:
    text = os.environ.get(name)
    if not text:
        return None
    try:
        return port_number(text)
    except ValueError as err:
        raise UsageError(f"{name}: {err}") from None


def port(flag: int | None) -> int:
    if flag is not None:
        return flag
    env = _env_port("SKYHOLD_PORT")
    return DEFAULT_PORT if env is None else env


def https_port(flag: int | None) -> int | None:
    """The HTTPS listener's port, or None: no HTTPS listener."""
    if flag is not None:
        return flag
    return _env_port("SKYHOLD_HTTPS_PORT")


def endpoint_url(host_: str, port_: int, scheme: str = "http") -> str:
    # 127.0.0.1, not "localhost": clients that try ::1 first would wait on a
    # server bound to IPv4 loopback only.
    shown = "127.0.0.1" if host_ in ("127.0.0.1", "localhost", "0.0.0.0") else f"[{host_}]" if ":" in host_ else host_
    return f"{scheme}://{shown}:{port_}"
