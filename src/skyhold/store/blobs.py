"""Blob store for large bodies (S3 objects): streamed, atomic, never named by users.

A blob is written to a temp file, fsynced, then renamed into place and the directory
fsynced, so a reader sees a whole blob or none. Blob ids are random; user-chosen
names (S3 keys such as `../x`) never become file-system paths.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path
from types import TracebackType
from typing import BinaryIO

from skyhold.store.fsync import fsync_path

_TMP_SUFFIX = ".partial"


class BlobWriter:
    def __init__(self, root: Path) -> None:
        self._root = root
        self.blob_id = secrets.token_hex(16)
        self._final = _path(root, self.blob_id)
        self._final.parent.mkdir(parents=True, exist_ok=True)
        self._tmp = self._final.with_name(self._final.name + _TMP_SUFFIX)
        self._fh: BinaryIO | None = open(self._tmp, "wb")
        self.size = 0

    def write(self, data: bytes) -> None:
        assert self._fh is not None, "blob already committed or aborted"
        self._fh.write(data)
        self.size += len(data)

    def commit(self) -> str:
        assert self._fh is not None, "blob already committed or aborted"
        self._fh.flush()
        os.fsync(self._fh.fileno())
        self._fh.close()
        self._fh = None
        os.rename(self._tmp, self._final)
        fsync_path(self._final.parent)
        return self.blob_id

    def abort(self) -> None:
        if self._fh is not None:
            self._fh.close()
            self._fh = None
            self._tmp.unlink(missing_ok=True)

    def __enter__(self) -> BlobWriter:
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        if kind is not None or self._fh is not None:
            self.abort()


class BlobStore:
    def __init__(self, root: Path) -> None:
        self.root = Path(root)
        self.root.mkdir(parents=True, exist_ok=True)

    def writer(self) -> BlobWriter:
        return BlobWriter(self.root)

    def open(self, blob_id: str) -> BinaryIO:
        try:
            return open(_path_text(self.root, blob_id), "rb")
        except FileNotFoundError:
            raise KeyError(blob_id) from None

    def size(self, blob_id: str) -> int:
        try:
            return _path(self.root, blob_id).stat().st_size
        except FileNotFoundError:
            raise KeyError(blob_id) from None

    def delete(self, blob_id: str) -> None:
        _path(self.root, blob_id).unlink(missing_ok=True)

    def sweep_orphans(self) -> int:
        """Remove temp files a crashed writer left behind (run at start-up)."""
        removed = 0
        for tmp in self.root.glob(f"*/*{_TMP_SUFFIX}"):
            tmp.unlink(missing_ok=True)
            removed += 1
        return removed


def _path(root: Path, blob_id: str) -> Path:
    return Path(_path_text(root, blob_id))


def _path_text(root: Path, blob_id: str) -> str:
    # Plain strings: a GET opens a blob on every call, and pathlib's parsing shows.
    if len(blob_id) != 32 or blob_id.strip("0123456789abcdef"):
        raise KeyError(blob_id)
    return f"{root}/{blob_id[:2]}/{blob_id}"
