"""The request log: one line per request, every line written, in order."""

from __future__ import annotations

import asyncio
import io
import re

import pytest

from skyhold import request_log

LINE = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ (.*)\Z")


@pytest.fixture
def out() -> io.StringIO:
    buf = io.StringIO()
    request_log.configure(buf)
    yield buf
    request_log.attach(None)
    request_log.configure(io.StringIO())


def _lines(buf: io.StringIO) -> list[str]:
    return [LINE.match(line).group(1) for line in buf.getvalue().splitlines()]


def test_outside_an_event_loop_lines_are_written_at_once(out: io.StringIO) -> None:
    request_log.write("sts GetCallerIdentity arn 200 0.10ms id")
    assert _lines(out) == ["sts GetCallerIdentity arn 200 0.10ms id"]


def test_in_the_loop_lines_go_out_together_after_the_round(out: io.StringIO) -> None:
    async def main() -> list[str]:
        request_log.attach(asyncio.get_running_loop())
        for i in range(3):
            request_log.write(f"line {i}")
        before = out.getvalue()
        await asyncio.sleep(0)  # one round of the loop
        assert before == ""
        return _lines(out)

    assert asyncio.run(main()) == ["line 0", "line 1", "line 2"]


def test_reconfiguring_flushes_waiting_lines(out: io.StringIO) -> None:
    async def main() -> None:
        request_log.attach(asyncio.get_running_loop())
        request_log.write("waiting")
        request_log.configure(io.StringIO())  # e.g. a restart inside one process

    asyncio.run(main())
    assert _lines(out) == ["waiting"]


def test_detaching_the_loop_writes_what_waits_and_then_writes_at_once(out: io.StringIO) -> None:
    async def main() -> None:
        request_log.attach(asyncio.get_running_loop())
        request_log.write("batched")
        request_log.attach(None)  # the server's shutdown
        assert _lines(out) == ["batched"]
        request_log.write("direct")
        assert _lines(out) == ["batched", "direct"]

    asyncio.run(main())
