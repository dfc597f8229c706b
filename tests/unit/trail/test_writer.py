"""The trail's writer process: journal lines and call lines in, events durable and
acknowledged; a recorder whose writer dies hands what it held to a new one."""

from __future__ import annotations

import asyncio
import os
import select
import signal
from pathlib import Path

import pytest

from skyhold import egress
from skyhold.store.sqlite import SqliteStore
from skyhold.trail import journal, writer
from skyhold.trail.recorder import Recorder, WriterStopped


def test_a_line_is_acknowledged_only_once_it_is_whole_and_on_disk(tmp_path: Path) -> None:
    folder = tmp_path / journal.FOLDER
    process, data, ack, _bell = writer.spawn(folder, tmp_path / "trail.db", 1 << 16)
    line = journal.encode("ev", "a", {"n": 1})
    os.write(data, line[:7])
    assert select.select([ack], [], [], 0.3)[0] == []  # half a line: nothing to acknowledge
    os.write(data, line[7:] + line)
    acked = b""
    while len(acked) < writer.ACK.size or writer.ACK.unpack_from(acked, len(acked) - 8)[0] < 2 * len(line):
        acked += os.read(ack, 64)
    assert writer.ACK.unpack_from(acked, len(acked) - 8)[0] == 2 * len(line)
    assert journal.read_since(folder, (0, 0))[0] == [("ev", "a", '{"n":1}')] * 2
    os.close(data)  # the server is gone: the writer indexes what it has and exits
    assert process.wait(10) == 0
    assert os.read(ack, 64) == b""
    store = SqliteStore(tmp_path / "trail.db")
    assert store.get("ev", "a").value == {"n": 1}
    store.close()
    os.close(ack)


def _recorder(tmp_path: Path) -> tuple[Recorder, SqliteStore, Path]:
    store = SqliteStore(tmp_path / "trail.db")
    folder = tmp_path / journal.FOLDER
    return Recorder(store, folder), store, folder


def test_recorded_rows_are_on_disk_when_record_returns(tmp_path: Path) -> None:
    recorder, store, folder = _recorder(tmp_path)

    async def calls() -> None:
        # many calls in one loop turn share one frame; later turns get their own
        await asyncio.gather(*(recorder.record(journal.encode("ev", f"k{i}", {"i": i, "text": "tab\there,\nünï"}))
                               for i in range(50)))
        lines, _ = journal.read_since(folder, (0, 0))  # written before anyone indexed it
        assert sorted(key for _, key, _ in lines) == sorted(f"k{i}" for i in range(50))
        await recorder.record(journal.encode("ev", "last", {"i": -1}))
        await recorder.index()
        assert store.get("ev", "last").value == {"i": -1}

    asyncio.run(calls())
    recorder.close()
    assert store.get("ev", "k49").value == {"i": 49, "text": "tab\there,\nünï"}
    store.close()


def test_a_writer_that_dies_is_replaced_and_its_successor_gets_what_it_held(tmp_path: Path) -> None:
    recorder, store, folder = _recorder(tmp_path)

    async def calls() -> None:
        await recorder.record(journal.encode("ev", "before", {}))
        process = recorder._writer._process  # type: ignore[union-attr]
        os.kill(process.pid, signal.SIGKILL)
        process.wait()
        # handed to a dead writer: the next one writes it, and the call never knows
        await recorder.record(journal.encode("ev", "held", {}))
        await recorder.record(journal.encode("ev", "after", {}), durable=False)

    asyncio.run(calls())
    recorder.close()
    for key in ("before", "held", "after"):
        assert store.get("ev", key) is not None, key
    store.close()


def test_writers_that_keep_dying_fail_the_waiting_calls(tmp_path: Path) -> None:
    recorder, store, folder = _recorder(tmp_path)

    async def calls() -> None:
        await recorder.record(journal.encode("ev", "before", {}))
        # No writer can start any more: the journal's folder is a file now.
        folder.rename(tmp_path / "journal-away")
        folder.write_text("not a folder")
        process = recorder._writer._process  # type: ignore[union-attr]
        os.kill(process.pid, signal.SIGKILL)
        process.wait()
        with pytest.raises(WriterStopped):
            await recorder.record(journal.encode("ev", "lost", {}))
        folder.unlink()
        (tmp_path / "journal-away").rename(folder)
        await recorder.record(journal.encode("ev", "after", {}))  # writers work again

    asyncio.run(calls())
    recorder.close()
    assert store.get("ev", "after") is not None and store.get("ev", "lost") is None
    store.close()


def test_answers_wait_at_the_gate_until_the_line_is_in_the_pipe(tmp_path: Path) -> None:
    """Not waited for by the call, yet no answer leaves before its line is in the pipe,
    and then it is not lost when the server dies: the writer owns the pipe."""
    recorder, store, folder = _recorder(tmp_path)

    async def call() -> None:
        await recorder.record(journal.encode("ev", "read", {"n": 1}), durable=False)
        assert egress.holding()  # returned at once: the server's answers wait
        await asyncio.sleep(0)  # the end of the loop turn hands the turn's lines over
        assert not egress.holding()

    asyncio.run(call())
    writer_process = recorder._writer._process  # type: ignore[union-attr]
    os.close(recorder._writer._data)  # as if the server were killed: its end of the pipe closes
    assert writer_process.wait(10) == 0
    assert store.get("ev", "read").value == {"n": 1}  # written and indexed on the way out
    os.close(recorder._writer._ack)  # type: ignore[union-attr]
    store.close()


def test_index_waits_for_what_was_handed_over(tmp_path: Path) -> None:
    recorder, store, folder = _recorder(tmp_path)

    async def call() -> None:
        await recorder.record(journal.encode("ev", "read", {"n": 2}), durable=False)
        await recorder.index()
        assert store.get("ev", "read").value == {"n": 2}

    asyncio.run(call())
    recorder.close()
    store.close()


def test_close_writes_what_was_handed_over(tmp_path: Path) -> None:
    recorder, store, folder = _recorder(tmp_path)

    async def hand_over_without_waiting() -> None:
        asyncio.ensure_future(recorder.record(journal.encode("ev", "pending", {"x": 1})))
        await asyncio.sleep(0)  # handed over this turn; nobody waits for the answer

    asyncio.run(hand_over_without_waiting())
    recorder.close()
    assert store.get("ev", "pending").value == {"x": 1}
    store.close()


def test_sync_asks_for_the_store_wal_and_is_not_journaled(tmp_path: Path) -> None:
    folder = tmp_path / journal.FOLDER
    wal = tmp_path / "store.db-wal"
    wal.write_bytes(b"frames")
    process, data, ack, _bell = writer.spawn(folder, tmp_path / "trail.db", 1 << 16, wal)
    sent = writer.SYNC + journal.encode("ev", "a", {"n": 1}) + writer.SYNC
    os.write(data, sent)
    acked = b""
    while len(acked) < writer.ACK.size:
        acked += os.read(ack, 64)
    assert writer.ACK.unpack_from(acked, len(acked) - 8)[0] == len(sent)
    assert journal.read_since(folder, (0, 0))[0] == [("ev", "a", '{"n":1}')]
    os.close(data)
    assert process.wait(10) == 0
    os.close(ack)


def test_a_turn_after_commits_asks_for_a_sync(tmp_path: Path) -> None:
    main = SqliteStore(tmp_path / "skyhold.db", synchronous="NORMAL")
    trail = SqliteStore(tmp_path / "trail.db")
    recorder = Recorder(trail, tmp_path / journal.FOLDER, sync=main)
    recorder.start()
    assert recorder._sync_mark() == writer.SYNC  # a new writer syncs once, whatever came before
    assert recorder._sync_mark() == b""
    main.put("thing", "a", {"v": 1})
    assert recorder._sync_mark() == writer.SYNC
    assert recorder._sync_mark() == b""

    async def call() -> None:
        main.put("thing", "b", {"v": 2})
        await recorder.record(journal.encode("ev", "after-commit", {}))

    asyncio.run(call())
    assert recorder._sync_mark() == b""  # that turn carried it
    recorder.close()
    for store in (main, trail):
        store.close()


def test_the_writer_indexes_once_writes_pause(tmp_path: Path) -> None:
    """Without a reader asking, lines reach the index soon after the writes stop."""
    import time

    folder = tmp_path / journal.FOLDER
    process, data, ack, _bell = writer.spawn(folder, tmp_path / "trail.db", 1 << 16)
    try:
        os.write(data, journal.encode("ev", "a", {"n": 1}))
        os.read(ack, 64)  # durable
        store = SqliteStore(tmp_path / "trail.db")
        deadline = time.monotonic() + 5 * writer.INDEX_IDLE + 2
        while store.get("ev", "a") is None:
            assert time.monotonic() < deadline, "not indexed after the writes paused"
            time.sleep(0.01)
        store.close()
    finally:
        os.close(data)
        assert process.wait(10) == 0
        os.close(ack)


def test_lines_no_call_waits_for_are_written_soon_and_urgent_ones_at_once(tmp_path: Path) -> None:
    """Read calls' lines linger briefly to share a disk write; URGENT (a call waits)
    writes everything before it; either way every byte is acknowledged."""
    folder = tmp_path / journal.FOLDER
    process, data, ack, _bell = writer.spawn(folder, tmp_path / "trail.db", 1 << 16)
    try:
        read = journal.encode("ev", "read", {"n": 1})
        os.write(data, read)
        acked = b""
        while len(acked) < writer.ACK.size:
            assert select.select([ack], [], [], 5)[0], "a lingering line was never written"
            acked += os.read(ack, 64)
        assert writer.ACK.unpack_from(acked, len(acked) - 8)[0] == len(read)
        write = journal.encode("ev", "write", {"n": 2})
        os.write(data, write + writer.URGENT)
        total = len(read) + len(write) + len(writer.URGENT)
        while writer.ACK.unpack_from(acked, len(acked) - 8)[0] < total:
            acked += os.read(ack, 64)
        assert writer.ACK.unpack_from(acked, len(acked) - 8)[0] == total
        assert [key for _, key, _ in journal.read_since(folder, (0, 0))[0]] == ["read", "write"]  # no mark journaled
    finally:
        os.close(data)
        assert process.wait(10) == 0
        os.close(ack)


def test_the_bell_never_blocks_nor_fails_the_server(tmp_path: Path) -> None:
    """`ring` is called on the event loop: a bell the writer has not heard yet (full)
    or a writer that is gone must neither block nor raise."""
    process, data, ack, bell = writer.spawn(tmp_path / journal.FOLDER, tmp_path / "trail.db", 1 << 16)
    os.kill(process.pid, signal.SIGSTOP)  # a writer that hears nothing
    try:
        for _ in range(70_000):  # more than a pipe holds
            writer.ring(bell)
    finally:
        os.kill(process.pid, signal.SIGCONT)
    line = journal.encode("ev", "a", {"n": 1})
    os.write(data, writer.URGENT + line)
    writer.ring(bell)
    acked = b""
    while len(acked) < writer.ACK.size:
        acked += os.read(ack, 64)
    assert writer.ACK.unpack_from(acked, len(acked) - 8)[0] == len(writer.URGENT + line)
    os.close(data)
    assert process.wait(10) == 0
    writer.ring(bell)  # the writer is gone: nothing to wake, nothing raised
    for fd in (ack, bell):
        os.close(fd)
