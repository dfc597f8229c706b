"""The trail journal and its index: complete lines only, torn tails skipped, resumable."""

from __future__ import annotations

from pathlib import Path

from skyhold.store.sqlite import SqliteStore
from skyhold.trail import index, journal


def _line(key: str, n: int) -> str:
    return journal.encode("ev", key, {"n": n})


def test_lines_written_are_read_back_in_order(tmp_path: Path) -> None:
    j = journal.Journal(tmp_path)
    j.append(_line("a", 1) + _line("b", 2))
    j.append(_line("c", 3))
    lines, end = journal.read_since(tmp_path, (0, 0))
    assert lines == [("ev", "a", '{"n":1}'), ("ev", "b", '{"n":2}'), ("ev", "c", '{"n":3}')]
    assert end == j.position
    assert journal.read_since(tmp_path, end) == ([], end)
    j.close()


def test_a_torn_tail_of_an_older_segment_is_skipped(tmp_path: Path) -> None:
    j = journal.Journal(tmp_path)
    j.append(_line("a", 1))
    _, offset = j.position
    j.close()
    with open(tmp_path / "0000000001.log", "r+b") as fh:  # a crash in the middle of a write
        fh.seek(offset)
        fh.write(b"ev\tb\t{\"n\":")
    # the half line is not complete: a reader stops before it
    lines, end = journal.read_since(tmp_path, (0, 0))
    assert [k for _, k, _ in lines] == ["a"]
    restarted = journal.Journal(tmp_path)  # a new process writes a new segment
    restarted.append(_line("c", 3))
    lines, end2 = journal.read_since(tmp_path, end)
    assert [k for _, k, _ in lines] == ["c"] and end2 == restarted.position
    restarted.close()


def test_segments_roll_over(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setattr(journal, "SEGMENT_BYTES", 64)
    j = journal.Journal(tmp_path)
    for i in range(10):
        j.append(_line(f"k{i:02d}", i))
    assert len(journal.segments(tmp_path)) > 2
    lines, _ = journal.read_since(tmp_path, (0, 0))
    assert [k for _, k, _ in lines] == [f"k{i:02d}" for i in range(10)]
    j.close()


def test_index_catches_up_once_and_tidies(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setattr(journal, "SEGMENT_BYTES", 64)
    folder = tmp_path / "journal"
    store = SqliteStore(tmp_path / "trail.db")
    j = journal.Journal(folder)
    for i in range(6):
        j.append(_line(f"k{i}", i))
    index.catch_up(store, folder, tidy=True)
    assert [r.value["n"] for r in store.scan("ev")] == list(range(6))
    assert journal.segments(folder) == [j.position[0]]  # wholly indexed segments are gone
    j.append(_line("k6", 6))
    index.catch_up(store, folder)
    index.catch_up(store, folder)  # nothing new: nothing changes
    assert [r.value["n"] for r in store.scan("ev")] == list(range(7))
    assert all(r.version == 1 for r in store.scan("ev"))
    j.close()
    store.close()


def test_a_segment_is_allocated_up_front_and_its_unwritten_rest_is_no_data(tmp_path: Path) -> None:
    """Segments are allocated whole when created; what was never written reads as NULs,
    and a torn write whose later sectors landed before its earlier ones (a NUL gap)
    ends the data at the gap."""
    j = journal.Journal(tmp_path)
    j.append(_line("a", 1) + _line("b", 2))
    number, offset = j.position
    path = tmp_path / f"{number:010d}.log"
    assert path.stat().st_size == journal.SEGMENT_BYTES
    lines, end = journal.read_since(tmp_path, (0, 0))
    assert [k for _, k, _ in lines] == ["a", "b"] and end == (number, offset)
    with open(path, "r+b") as fh:
        fh.seek(offset + 10)  # bytes of an unacknowledged write, past a hole
        fh.write(b"\t{}\n" + _line("c", 3))
    assert journal.read_since(tmp_path, (0, 0)) == (lines, end)
    j.close()


def test_a_backlog_is_indexed_in_slices_and_resumes_exactly(tmp_path: Path, monkeypatch) -> None:
    """read_since with a byte budget stops at a line's end (one line at least, however
    long), and catch_up goes slice by slice, across segments, until nothing is left."""
    monkeypatch.setattr(journal, "SEGMENT_BYTES", 4096)
    monkeypatch.setattr(journal, "_READ_BYTES", 256)
    folder = tmp_path / "journal"
    j = journal.Journal(folder)
    keys = [f"k{i:03d}" for i in range(120)]
    for i, key in enumerate(keys):
        j.append(journal.encode("ev", key, {"n": i, "pad": "x" * (i % 7 * 40)}))
    lines, end = journal.read_since(folder, (0, 0), max_bytes=1)
    assert len(lines) >= 1 and lines[0][1] == "k000"
    rest, _ = journal.read_since(folder, end)
    assert [k for _, k, _ in lines + rest] == keys
    monkeypatch.setattr(index, "SLICE_BYTES", 500)
    store = SqliteStore(tmp_path / "trail.db")
    index.catch_up(store, folder, tidy=True)
    assert [r.key for r in store.scan("ev")] == keys
    assert journal.segments(folder) == [j.position[0]]
    j.close()
    store.close()
