"""The clean-stop marker: a start after a graceful stop skips the orphan sweep; every
other start (first, after a crash, an older data dir) sweeps. See store/__init__.py."""

from __future__ import annotations

import os
import secrets
from pathlib import Path

import pytest

from skyhold.store import CLEAN_STOP_FILE, BlobStore, SqliteStore, mark_clean_stop, open_existing_store, open_store


def _orphans(data_dir: Path, beside: str | None = None, unseen: bool = False) -> tuple[Path, Path]:
    """A whole blob no record names and a writer's temp file, as a crash leaves them:
    in the folder of blob `beside` if given, and `unseen`, with that folder's mtime put
    back (what the marker's note of the folders cannot tell from a clean stop)."""
    blob_id = (beside or secrets.token_hex(16))[:2] + secrets.token_hex(15)
    folder = data_dir / "blobs" / blob_id[:2]
    folder.mkdir(parents=True, exist_ok=True)
    before = folder.stat()
    blob = folder / blob_id
    blob.write_bytes(b"orphan")
    tmp = folder / f"{secrets.token_hex(16)}.partial"
    tmp.write_bytes(b"half")
    if unseen:
        os.utime(folder, ns=(before.st_atime_ns, before.st_mtime_ns))
    return blob, tmp


def _serve(data_dir: Path) -> tuple[SqliteStore, BlobStore]:
    return open_store(data_dir, grouped_sync=True)  # as `skyhold up` opens it


def _named_blob(store: SqliteStore, blobs: BlobStore) -> str:
    with blobs.writer() as w:
        w.write(b"kept")
        blob_id = w.commit()
    store.put("s3.object", "k", {"seg": {"b": blob_id}})
    return blob_id


def test_a_start_without_marker_sweeps_and_a_clean_stop_writes_one(tmp_path: Path) -> None:
    data = tmp_path / "data"
    store, blobs = _serve(data)  # a new data dir: no marker
    kept = _named_blob(store, blobs)
    assert mark_clean_stop(data, store, blobs)
    assert (data / CLEAN_STOP_FILE).exists()
    store.close()

    blob, tmp = _orphans(data, beside=kept, unseen=True)  # the start trusts the marker
    store, blobs = _serve(data)
    assert not (data / CLEAN_STOP_FILE).exists(), "a start takes the marker before it serves"
    assert blob.exists() and tmp.exists()
    store.close()

    # No clean stop since (a crash): the next start sweeps, and keeps what records name.
    store, blobs = _serve(data)
    assert not blob.exists() and not tmp.exists()
    assert blobs.size(kept) == 4
    store.close()


def test_a_blob_folder_changed_since_the_clean_stop_is_swept(tmp_path: Path) -> None:
    data = tmp_path / "data"
    store, blobs = _serve(data)
    kept = _named_blob(store, blobs)
    assert mark_clean_stop(data, store, blobs)
    blob, tmp = _orphans(data, beside=kept)  # copied in by hand, or an older Skyhold's crash
    store, blobs = _serve(data)
    store.close()
    assert not blob.exists() and not tmp.exists()
    assert blobs.size(kept) == 4


def test_a_half_written_marker_is_no_marker(tmp_path: Path) -> None:
    data = tmp_path / "data"
    store, blobs = _serve(data)
    kept = _named_blob(store, blobs)
    assert mark_clean_stop(data, store, blobs)
    marker = data / CLEAN_STOP_FILE
    marker.write_bytes(marker.read_bytes()[:10])
    blob, _ = _orphans(data, beside=kept, unseen=True)
    store, _ = _serve(data)
    store.close()
    assert not blob.exists() and not marker.exists()


def test_an_older_data_dir_without_marker_is_swept(tmp_path: Path) -> None:
    data = tmp_path / "data"
    store, _ = open_store(data)  # made by the CLI or an older Skyhold: no marker
    store.close()
    blob, tmp = _orphans(data)
    store, _ = _serve(data)
    store.close()
    assert not blob.exists() and not tmp.exists()


def test_a_stop_after_writing_blobs_sweeps_before_it_marks(tmp_path: Path) -> None:
    """An error between a blob's commit and its record's is no crash: the stop sweeps it,
    since the next start will not."""
    data = tmp_path / "data"
    store, blobs = _serve(data)
    kept = _named_blob(store, blobs)
    with blobs.writer() as w:  # committed, but its record never was
        w.write(b"lost")
        unnamed = w.commit()
    assert mark_clean_stop(data, store, blobs)
    with pytest.raises(KeyError):
        blobs.size(unnamed)
    assert blobs.size(kept) == 4


def test_a_stop_without_blob_writes_does_not_sweep(tmp_path: Path) -> None:
    data = tmp_path / "data"
    store, blobs = _serve(data)
    blob, _ = _orphans(data)  # not this process's: only a start after a crash sweeps
    assert mark_clean_stop(data, store, blobs)
    assert blob.exists()
    assert (data / CLEAN_STOP_FILE).exists()


def test_no_marker_while_a_blob_writer_is_open(tmp_path: Path) -> None:
    data = tmp_path / "data"
    store, blobs = _serve(data)
    w = blobs.writer()
    w.write(b"still writing")
    assert blobs.writers_open == 1
    assert not mark_clean_stop(data, store, blobs)
    assert not (data / CLEAN_STOP_FILE).exists()
    w.abort()
    assert blobs.writers_open == 0 and blobs.writers_made == 1
    assert mark_clean_stop(data, store, blobs)


def test_writers_are_counted_open_until_they_commit_or_abort(tmp_path: Path) -> None:
    blobs = BlobStore(tmp_path)
    with blobs.writer() as w:
        w.write(b"x")
        assert blobs.writers_open == 1
        w.commit()
        assert blobs.writers_open == 0
    with pytest.raises(ValueError), blobs.writer():
        raise ValueError
    assert blobs.writers_open == 0 and blobs.writers_made == 2


def test_cli_and_plain_opens_leave_the_marker(tmp_path: Path) -> None:
    data = tmp_path / "data"
    store, blobs = _serve(data)
    assert mark_clean_stop(data, store, blobs)
    for open_ in (open_existing_store, open_store):
        store, _ = open_(data)
        store.close()
    assert (data / CLEAN_STOP_FILE).exists()
