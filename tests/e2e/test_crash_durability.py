"""SIGKILL during concurrent calls: every answered write and every answered call's
audit event survives (a read's event too, which is answered once it is handed to the
trail's writer process, before it is on disk); nothing half-written is visible."""

from __future__ import annotations

import signal
import threading
import time

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from skyhold.store import open_store, open_trail_store
from skyhold.trail.events import REQUEST

from .conftest import AwsEnv, Server, clean_env, free_port


def test_sigkill_loses_no_acknowledged_write_or_event(tmp_path) -> None:
    srv = Server(tmp_path / "data", free_port())
    srv.start()
    env = clean_env(tmp_path)
    assert srv.cli("configure", "--static-keys", "--endpoint", srv.endpoint, env=env).returncode == 0
    creds = AwsEnv(env=env, profile="skyhold", endpoint=srv.endpoint).session().get_credentials()
    acked_users: list[str] = []
    acked_requests: list[str] = []
    lock = threading.Lock()
    stop = threading.Event()

    def writer(n: int) -> None:
        iam = boto3.client("iam", endpoint_url=srv.endpoint, region_name="us-east-1",
                           aws_access_key_id=creds.access_key, aws_secret_access_key=creds.secret_key,
                           config=Config(retries={"max_attempts": 1}, connect_timeout=2, read_timeout=5))
        i = 0
        while not stop.is_set():
            name = f"w{n}-{i}"
            i += 1
            try:
                out = iam.create_user(UserName=name)
            except (ClientError, BotoCoreError):
                return
            with lock:
                acked_users.append(name)
                acked_requests.append(out["ResponseMetadata"]["RequestId"])

    def reader() -> None:
        iam = boto3.client("iam", endpoint_url=srv.endpoint, region_name="us-east-1",
                           aws_access_key_id=creds.access_key, aws_secret_access_key=creds.secret_key,
                           config=Config(retries={"max_attempts": 1}, connect_timeout=2, read_timeout=5))
        while not stop.is_set():
            try:
                out = iam.get_user(UserName="admin")
            except (ClientError, BotoCoreError):
                return
            with lock:
                acked_reads.append(out["ResponseMetadata"]["RequestId"])

    acked_reads: list[str] = []
    threads = [threading.Thread(target=writer, args=(n,)) for n in range(4)]
    threads += [threading.Thread(target=reader) for _ in range(2)]
    for t in threads:
        t.start()
    time.sleep(2.0)
    srv.proc.send_signal(signal.SIGKILL)
    srv.proc.wait()
    srv.proc = None
    stop.set()
    for t in threads:
        t.join()
    assert len(acked_users) > 10 and len(acked_reads) > 10

    # Coming back up on the same data indexes what the journal holds.
    srv.start()
    srv.stop()
    store, _ = open_store(tmp_path / "data")
    trail = open_trail_store(tmp_path / "data")
    try:
        users = {r.value["UserName"] for r in store.scan("iam.user")}
        missing = [u for u in acked_users if u not in users]
        assert not missing, f"acknowledged users lost: {missing[:5]}"
        lost_events = [r for r in acked_requests + acked_reads if trail.get(REQUEST, r) is None]
        assert not lost_events, f"events of answered calls lost: {lost_events[:5]}"
    finally:
        store.close()
        trail.close()
