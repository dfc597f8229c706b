"""fsync by path: for a directory (a new file's name needs its own fsync to be
durable) and for a file written through another descriptor (SQLite's WAL): fsync
reaches every write made to the file, through any descriptor."""

from __future__ import annotations

import os
from pathlib import Path


def fsync_path(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
