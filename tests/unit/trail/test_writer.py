"""The trail's writer process: frames in, durable journal lines and acknowledgements
out; a recorder whose writer dies fails the waiting calls and carries on with a new one."""

from __future__ import annotations

import asyncio
import os
import signal
from pathlib import Path

import pytest

from skyhold.store.sqlite import SqliteStore
from skyhold.trail import journal, writer
from skyhold.trail.recorder import Recorder, WriterStopped


def test_only_complete_frames_are_taken() -> None:
    a = writer.frame([("ev", "a", {"n": 1}), ("req", "r1", {"events": ["a"]})])
    b = writer.frame([("ev", "b", {"text": "tab\there, line\nthere, ünïcode"})])
    text, used = writer.complete_frames(a + b[:5])
    assert used == len(a)
    assert text == 'ev\ta\t{"n":1}\nreq\tr1\t{"events":["a"]}\n'
    text, used = writer.complete_frames(b)
    assert used == len(b)
    kind, key, value = text.rstrip("\n").split("\t", 2)
    assert (kind, key) == ("ev", "b") and "\n" not in value and "\t" not in value  # escaped as JSON
    assert writer.complete_frames(b[: writer.FRAME.size - 1]) == ("", 0)


def _recorder(tmp_path: Path) -> tuple[Recorder, SqliteStore, Path]:
    store = SqliteStore(tmp_path / "trail.db")
    folder = tmp_path / journal.FOLDER
    return Recorder(store, folder), store, folder


def test_recorded_rows_are_on_disk_when_record_returns(tmp_path: Path) -> None:
    recorder, store, folder = _recorder(tmp_path)

    async def calls() -> None:
        # many calls in one loop turn share one frame; later turns get their own
        await asyncio.gather(*(recorder.record([("ev", f"k{i}", {"i": i})]) for i in range(50)))
        lines, _ = journal.read_since(folder, (0, 0))  # written before anyone indexed it
        assert sorted(key for _, key, _ in lines) == sorted(f"k{i}" for i in range(50))
        await recorder.record([("ev", "last", {"i": -1})])

    asyncio.run(calls())
    recorder.index()
    assert store.get("ev", "last").value == {"i": -1}
    recorder.close()
    assert store.get("ev", "k49").value == {"i": 49}
    store.close()


def test_a_writer_that_dies_fails_its_calls_and_is_replaced(tmp_path: Path) -> None:
    recorder, store, folder = _recorder(tmp_path)

    async def calls() -> None:
        await recorder.record([("ev", "before", {})])
        process = recorder._writer._process  # type: ignore[union-attr]
        os.kill(process.pid, signal.SIGKILL)
        process.wait()
        with pytest.raises(WriterStopped):
            await recorder.record([("ev", "lost", {})])
        await recorder.record([("ev", "after", {})])  # a new writer took over

    asyncio.run(calls())
    recorder.close()
    assert store.get("ev", "before") is not None and store.get("ev", "after") is not None
    store.close()


def test_close_writes_what_was_handed_over(tmp_path: Path) -> None:
    recorder, store, folder = _recorder(tmp_path)

    async def hand_over_without_waiting() -> None:
        asyncio.ensure_future(recorder.record([("ev", "pending", {"x": 1})]))
        await asyncio.sleep(0)  # handed over this turn; nobody waits for the answer

    asyncio.run(hand_over_without_waiting())
    recorder.close()
    assert store.get("ev", "pending").value == {"x": 1}
    store.close()
