"""`skyhold up`: open the data dir, bootstrap on first start, serve until signalled."""

from __future__ import annotations

import os
import signal
from pathlib import Path

from skyhold import accounts, admin_api, config, identity
from skyhold import request_log, upgrades
from skyhold.pipeline import Pipeline
from skyhold.services.iam import principals
from skyhold.server import App
from skyhold.store import open_store


def serve(host: str, port: int, data_dir: Path, audit: bool = True) -> int:
    import uvicorn

    from skyhold.http_protocol import HttpProtocol

    # Everything the server writes (the data dir's databases, blobs, the trail's
    # journal) is owner-only: it holds secrets. open_store tightens a data dir made before.
    os.umask(0o077)
    store, blobs = open_store(data_dir, grouped_sync=True)  # the pipeline syncs before it answers
    created = accounts.bootstrap(store)
    admin_api.pin_administrator(store)  # who that is, by unique id, at first start
    admin_api.load_clock(store)
    endpoint = config.endpoint_url(host, port)
    if created is not None:
        _print_welcome(created, endpoint, data_dir)
    request_log.configure()
    pipeline = Pipeline(store, blobs, data_dir)  # loads every service
    upgrades.run_once(store, upgrades.BIND_PRINCIPALS, principals.bind_unbound)  # policies from before bindings
    upgrades.run_once(store, upgrades.SEAL_CREDENTIALS, identity.seal_stored_credentials)  # secrets from before sealing
    pipeline.endpoint = endpoint
    pipeline.audit_enabled = audit
    if audit:
        pipeline.audit.start()
    else:
        print("Audit trail OFF: calls are not recorded (benchmarking only)", flush=True)
    app = App(pipeline)
    server_config = uvicorn.Config(
        app,
        host=host,
        port=port,
        loop="uvloop",
        http=HttpProtocol,  # uvicorn's httptools protocol, a response in one write
        lifespan="on",
        access_log=False,  # the pipeline logs one richer line per request
        log_level="warning",
        timeout_graceful_shutdown=10,
        server_header=False,
        # Never trust X-Forwarded-For: any local client could forge aws:SourceIp.
        proxy_headers=False,
        date_header=True,
    )
    print(f"Skyhold is serving on {endpoint} (data: {data_dir})", flush=True)
    # uvicorn handles SIGINT/SIGTERM (stop accepting, finish in-flight requests, run
    # lifespan shutdown) and then re-raises the signal to the previous handler; a
    # no-op handler there lets a graceful stop end with exit status 0.
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: None)
    uvicorn.Server(server_config).run()
    print("Skyhold stopped", flush=True)
    return 0


def _print_welcome(new: accounts.NewAccount, endpoint: str, data_dir: Path) -> None:
    print(
        f"""First start: created account {new.account_id} with its root user and IAM user 'admin'.
  admin access key id:     {new.admin_access_key_id}
  admin secret access key: {new.admin_secret_access_key}
Point the aws CLI and SDKs at Skyhold:
  skyhold configure --data-dir {data_dir} --endpoint {endpoint}
  aws --profile skyhold sts get-caller-identity""",
        flush=True,
    )
