"""Blob store for large bodies (S3 objects): streamed, atomic, never named by users.

A blob is written to a temp file, fsynced, then renamed into place and the directory
fsynced, so a reader sees a whole blob or none. Blob ids are random; user-chosen
names (S3 keys such as `../x`) never become file-system paths.
"""

from __future__ import annotations

import errno
import fcntl
import mmap
import os
import secrets
import threading
from collections.abc import Callable
from pathlib import Path
from types import TracebackType
from typing import BinaryIO

from skyhold.store.fsync import fsync_path

_TMP_SUFFIX = ".partial"


# A large blob bypasses the page cache (O_DIRECT), written from an aligned buffer a
# mebibyte at a time: the kernel then neither copies it into fresh cache pages nor
# holds it dirty for the final fsync to flush all at once; the disk works while the
# body arrives. Smaller blobs, and file systems without direct I/O (tmpfs), write
# through the cache as usual. Offsets and lengths of direct writes are multiples of
# DIRECT_ALIGN, what every Linux block device accepts.
DIRECT_BUFFER = 1 << 20
DIRECT_ALIGN = 4096
_O_DIRECT = getattr(os, "O_DIRECT", 0)


class BlobWriter:
    def __init__(self, root: Path, blob_id: str | None = None, done: Callable[[str], None] = lambda _: None) -> None:
        self._root = root
        self._done = done  # told when the writer has committed (renamed) or aborted, or failed to
        self.blob_id = blob_id or secrets.token_hex(16)
        self._final = _path(root, self.blob_id)
        self._final.parent.mkdir(parents=True, exist_ok=True)
        self._tmp = self._final.with_name(self._final.name + _TMP_SUFFIX)
        self._fd: int | None = os.open(self._tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        self._buf = mmap.mmap(-1, DIRECT_BUFFER)  # page-aligned, as direct I/O needs
        self._fill = 0  # bytes waiting in the buffer
        self._flushed = 0  # bytes written to the file
        self._direct = False
        self.size = 0

    def write(self, data: bytes) -> None:
        assert self._fd is not None, "blob already committed or aborted"
        view = memoryview(data)
        while view:
            room = DIRECT_BUFFER - self._fill
            part = view[:room]
            self._buf[self._fill:self._fill + len(part)] = part
            self._fill += len(part)
            view = view[len(part):]
            if self._fill == DIRECT_BUFFER:
                if self._flushed == 0:  # the blob is big: from its first byte on, direct
                    self._direct = _set_direct(self._fd, True)
                self._write_out(DIRECT_BUFFER)
        self.size += len(data)

    def commit(self) -> str:
        assert self._fd is not None, "blob already committed or aborted"
        if self._fill:
            if self._direct:  # whole blocks still direct; the tail through the cache
                whole = self._fill - self._fill % DIRECT_ALIGN
                if whole:
                    self._write_out(whole)
                self._go_cached()
            self._write_out(self._fill)
        try:
            os.fsync(self._fd)
            self._close()
            os.rename(self._tmp, self._final)
            fsync_path(self._final.parent)
        finally:
            self._done(self.blob_id)
        return self.blob_id

    def abort(self) -> None:
        if self._fd is not None:
            self._close()
            self._tmp.unlink(missing_ok=True)
        self._done(self.blob_id)

    def _write_out(self, count: int) -> None:
        """Write the buffer's first `count` bytes; keep the rest at its start."""
        assert self._fd is not None
        view = memoryview(self._buf)
        try:
            done = 0
            while done < count:
                try:
                    done += os.write(self._fd, view[done:count])
                except OSError as err:
                    if not (self._direct and err.errno == errno.EINVAL):
                        raise
                    self._go_cached()  # a file system that took the flag but refuses the writes
            self._flushed += count
            rest = self._fill - count
            if rest:
                self._buf.move(0, count, rest)
            self._fill = rest
        finally:
            view.release()

    def _go_cached(self) -> None:
        assert self._fd is not None
        _set_direct(self._fd, False)
        self._direct = False

    def _close(self) -> None:
        assert self._fd is not None
        os.close(self._fd)
        self._fd = None
        self._buf.close()

    def __enter__(self) -> BlobWriter:
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        if kind is not None or self._fd is not None:
            self.abort()


class DirectReader:
    """Reads of a large blob with direct I/O: aligned preads into one aligned buffer,
    the bytes asked for copied out. The page cache would cost a fresh page per 4 KiB
    read once, to hold data a GET reads once."""

    def __init__(self, fd: int, size: int) -> None:
        self._fd: int | None = fd
        self._size = size
        self._direct = True
        self._pos = 0
        self._buf: mmap.mmap | None = None

    def seek(self, pos: int) -> None:
        self._pos = pos

    def read(self, count: int = -1) -> bytes:
        assert self._fd is not None, "reader closed"
        if count < 0:
            count = max(self._size - self._pos, 0)
        if self._direct:
            try:
                return self._read_direct(count)
            except OSError as err:
                if err.errno != errno.EINVAL:
                    raise
                # a file system that took the flag but refuses the reads: read cached
                _set_direct(self._fd, False)
                self._direct = False
        data = os.pread(self._fd, count, self._pos)
        self._pos += len(data)
        return data

    def _read_direct(self, count: int) -> bytes:
        assert self._fd is not None
        start = self._pos - self._pos % DIRECT_ALIGN
        skip = self._pos - start
        length = -(-(skip + count) // DIRECT_ALIGN) * DIRECT_ALIGN
        if self._buf is None or len(self._buf) < length:
            if self._buf is not None:
                self._buf.close()
            self._buf = mmap.mmap(-1, length)
        view = memoryview(self._buf)
        try:
            got = os.preadv(self._fd, [view[:length]], start)
            data = bytes(view[skip:max(skip, min(got, skip + count))])
        finally:
            view.release()
        self._pos += len(data)
        return data

    def close(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None
        if self._buf is not None:
            self._buf.close()
            self._buf = None

    def __enter__(self) -> DirectReader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _set_direct(fd: int, on: bool) -> bool:
    """Switch direct I/O on or off; False when the file system refuses it."""
    if not _O_DIRECT:
        return False
    flags = fcntl.fcntl(fd, fcntl.F_GETFL)
    try:
        fcntl.fcntl(fd, fcntl.F_SETFL, (flags | _O_DIRECT) if on else (flags & ~_O_DIRECT))
    except OSError:
        return False
    return True


class BlobStore:
    def __init__(self, root: Path) -> None:
        self.root = Path(root)
        self.root.mkdir(parents=True, exist_ok=True)
        # For the clean-stop marker (store/__init__.py): whether this process made blob
        # files at all, and the writers that have not committed or aborted yet.
        self.writers_made = 0
        self._open: set[str] = set()
        self._open_lock = threading.Lock()

    def writer(self) -> BlobWriter:
        blob_id = secrets.token_hex(16)
        with self._open_lock:
            self.writers_made += 1
            self._open.add(blob_id)
        try:
            return BlobWriter(self.root, blob_id, self._writer_done)
        except BaseException:
            self._writer_done(blob_id)
            raise

    def _writer_done(self, blob_id: str) -> None:
        with self._open_lock:
            self._open.discard(blob_id)

    @property
    def writers_open(self) -> int:
        return len(self._open)

    def open(self, blob_id: str) -> BinaryIO | DirectReader:
        """A reader (`seek`, `read`, `close`); a large blob's reads bypass the page cache."""
        path = _path_text(self.root, blob_id)
        try:
            fd = os.open(path, os.O_RDONLY)
        except FileNotFoundError:
            raise KeyError(blob_id) from None
        size = os.fstat(fd).st_size
        if size >= DIRECT_BUFFER and _set_direct(fd, True):
            return DirectReader(fd, size)
        return open(fd, "rb")

    def size(self, blob_id: str) -> int:
        try:
            return _path(self.root, blob_id).stat().st_size
        except FileNotFoundError:
            raise KeyError(blob_id) from None

    def delete(self, blob_id: str) -> None:
        _path(self.root, blob_id).unlink(missing_ok=True)

    def folder_times(self) -> dict[str, int]:
        """The mtime (ns) of the blob store's folder and of each folder in it: adding or
        removing a blob changes one. Some 257 stats, however many blobs there are."""
        with os.scandir(self.root) as entries:
            times = {entry.name: entry.stat().st_mtime_ns for entry in entries if entry.is_dir()}
        times["."] = self.root.stat().st_mtime_ns
        return times

    def sweep_orphans(self) -> int:
        """Remove temp files a crashed writer left behind (run at start-up)."""
        return _remove(list(self.root.glob(f"*/*{_TMP_SUFFIX}")))

    def sweep_unreferenced(self, named: Callable[[], set[str]]) -> int:
        """Remove whole blobs no record names: a crash between a blob's rename and the
        commit of the record naming it, or between a record's change and the unlink
        of the blob it dropped, leaves one behind. Only while no one writes blobs (the
        server at start-up, holding the data dir's lock): a blob written now is named
        by no record yet. `named()`, the blob ids records name, is asked only if there are blobs."""
        blobs = [path for path in self.root.glob("*/*") if _is_blob_id(path.name)]
        keep = named() if blobs else set()
        return _remove([path for path in blobs if path.name not in keep])


def _remove(paths: list[Path]) -> int:
    """Unlink, then fsync the folders touched: a clean-stop marker written later
    (store/__init__.py) must not outlive the removals in a power cut."""
    for path in paths:
        path.unlink(missing_ok=True)
    for folder in {path.parent for path in paths}:
        fsync_path(folder)
    return len(paths)


def _is_blob_id(name: str) -> bool:
    return len(name) == 32 and not name.strip("0123456789abcdef")


def _path(root: Path, blob_id: str) -> Path:
    return Path(_path_text(root, blob_id))


def _path_text(root: Path, blob_id: str) -> str:
    # Plain strings: a GET opens a blob on every call, and pathlib's parsing shows.
    if not _is_blob_id(blob_id):
        raise KeyError(blob_id)
    return f"{root}/{blob_id[:2]}/{blob_id}"
