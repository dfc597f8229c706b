"""The trail's journal: append-only segment files that make an event durable with one
write.

Each line is `kind<TAB>key<TAB>value-as-JSON<LF>` (JSON text never holds a raw LF, and
kinds and keys are Skyhold's own, free of tabs). Segments are opened with O_DSYNC, so
a write has reached the disk when it returns: the trail's writer process (writer.py)
makes a whole batch of events durable with a single system call.

Every process start writes a new segment, so a line torn by a crash can only be the
last bytes of an older segment; readers take complete lines only and skip such a tail.

A segment's blocks are allocated when it is created (posix_fallocate): a write then
fills space the file already has, and O_DSYNC has no file size to make durable with
it (on this kind of disk ~40% faster, and less CPU). The unwritten rest of a segment
reads as NUL bytes, which no line holds: a reader's data ends at the first NUL.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

from skyhold.store import jsontext
from skyhold.store.fsync import fsync_path

FOLDER = "trail-journal"  # in the data dir
SEGMENT_BYTES = 16 * 1024 * 1024  # roll over to a new segment past this size
_READ_BYTES = 1 << 20

Position = tuple[int, int]  # (segment number, byte offset in it)
Line = tuple[str, str, str]  # kind, key, value JSON


def encode(kind: str, key: str, value: object) -> bytes:
    """One line (the encoding runs on the event loop for every call; JSON text escapes
    every control character: no raw LF or TAB)."""
    text = jsontext.dumps(value)
    return b"%s\t%s\t%s\n" % (kind.encode(), key.encode(), text)


class Journal:
    def __init__(self, folder: Path) -> None:
        self.folder = Path(folder)
        self.folder.mkdir(parents=True, exist_ok=True)
        existing = segments(self.folder)
        self._number = (existing[-1] + 1) if existing else 1
        self._fd = self._open(self._number)
        self._size = 0

    @property
    def position(self) -> Position:
        """Where the next write lands."""
        return self._number, self._size

    def append(self, data: bytes) -> None:
        """Complete lines; durable when it returns (O_DSYNC)."""
        view = memoryview(data)
        while view:  # a regular file takes it all at once; loop in case it does not
            written = os.pwrite(self._fd, view, self._size)
            view = view[written:]
            self._size += written
        if self._size >= SEGMENT_BYTES:
            os.close(self._fd)
            self._number += 1
            self._fd = self._open(self._number)
            self._size = 0

    def close(self) -> None:
        os.close(self._fd)

    def _open(self, number: int) -> int:
        fd = os.open(_path(self.folder, number), os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_DSYNC, 0o600)
        try:
            os.posix_fallocate(fd, 0, SEGMENT_BYTES)
        except OSError:  # a file system without it: writes extend the file instead
            pass
        os.fsync(fd)  # the allocation itself is durable before any line relies on it
        fsync_path(self.folder)  # the new file's name is durable too
        return fd


def segments(folder: Path) -> list[int]:
    found = []
    for entry in os.listdir(folder):
        if entry.endswith(".log") and entry[:-4].isdigit():
            found.append(int(entry[:-4]))
    return sorted(found)


def read_since(folder: Path, start: Position, max_bytes: int | None = None) -> tuple[list[Line], Position]:
    """Complete lines from `start` on, and the position after the last one: every line,
    or (`max_bytes`) about that many bytes of them, at least one line when any."""
    lines: list[Line] = []
    first, first_offset = start
    end = start
    found = [n for n in segments(folder) if n >= first]
    budget = max_bytes
    for i, seg in enumerate(found):
        offset = first_offset if seg == first else 0
        try:
            data, cut = _read_written(_path(folder, seg), offset, budget)
        except FileNotFoundError:  # removed by the server once indexed
            continue
        complete = data.rfind(b"\n") + 1
        lines.extend(_parse(data[:complete]))
        if cut or i == len(found) - 1:
            end = (seg, offset + complete)
            break
        end = (seg + 1, 0)  # finished for good; bytes after its last LF are a torn tail
        if budget is not None:
            budget = max(budget - len(data), 1)
    return lines, end


def _read_written(path: Path, offset: int, limit: int | None = None) -> tuple[bytes, bool]:
    """The bytes from `offset` up to the first NUL (the written part of a segment), and
    whether reading stopped early: past `limit` bytes, at the end of a line."""
    parts: list[bytes] = []
    size = 0
    with open(path, "rb") as fh:
        fh.seek(offset)
        while chunk := fh.read(_READ_BYTES):
            end = chunk.find(b"\0")
            if end >= 0:
                parts.append(chunk[:end])
                break
            parts.append(chunk)
            size += len(chunk)
            if limit is not None and size >= limit and b"\n" in chunk:
                return b"".join(parts), True
    return b"".join(parts), False


def remove_before(folder: Path, number: int) -> None:
    """Delete segments wholly before `number` (their lines are indexed)."""
    for seg in segments(folder):
        if seg < number:
            try:
                os.unlink(_path(folder, seg))
            except FileNotFoundError:
                pass


def _parse(data: bytes) -> Iterator[Line]:
    for raw in data.split(b"\n"):
        if raw:
            kind, key, value = raw.decode().split("\t", 2)
            yield kind, key, value


def _path(folder: Path, number: int) -> Path:
    return folder / f"{number:010d}.log"
