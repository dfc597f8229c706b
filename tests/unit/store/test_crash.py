"""SIGKILL in the middle of concurrent writes: every acknowledged write is intact
and nothing half-written is visible."""

from __future__ import annotations

import hashlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from skyhold.store import open_store

WRITER = r"""
import hashlib, os, sys, threading
from pathlib import Path
from skyhold.store import open_store
store, blobs = open_store(Path(sys.argv[1]))
out = os.fdopen(1, "w", buffering=1)
lock = threading.Lock()

def work(t):
    for i in range(100000):
        key = f"t{t}/{i:06d}"
        body = os.urandom(1000 + (i * 7919) % 200000)
        with blobs.writer() as w:
            w.write(body[: len(body) // 2]); w.write(body[len(body) // 2 :])
            blob_id = w.commit()
        store.put("obj", key, {"blob": blob_id, "sha": hashlib.sha256(body).hexdigest(), "size": len(body)})
        with lock:
            out.write(key + "\n")   # acknowledged only after both commits returned

for t in range(4):
    threading.Thread(target=work, args=(t,), daemon=True).start()
threading.Event().wait()
"""


@pytest.mark.parametrize("delay", [0.4, 0.9, 1.6])
def test_sigkill_mid_write_loses_no_acknowledged_write(tmp_path: Path, delay: float) -> None:
    proc = subprocess.Popen([sys.executable, "-c", WRITER, str(tmp_path)], stdout=subprocess.PIPE, text=True)
    time.sleep(delay)
    os.kill(proc.pid, signal.SIGKILL)
    acked = [line.strip() for line in proc.stdout if line.endswith("\n")]
    proc.wait()
    assert acked, "the writer acknowledged nothing before the kill"

    store, blobs = open_store(tmp_path)
    try:
        for key in acked:
            rec = store.get("obj", key)
            assert rec is not None, f"acknowledged write {key} lost"
        # every visible record (acknowledged or not) points to a whole blob
        for rec in store.scan("obj"):
            with blobs.open(rec.value["blob"]) as fh:
                data = fh.read()
            assert len(data) == rec.value["size"]
            assert hashlib.sha256(data).hexdigest() == rec.value["sha"]
        assert not list(tmp_path.glob("blobs/*/*.partial")), "temp files survive the restart sweep"
    finally:
        store.close()
