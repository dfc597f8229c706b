"""`skyhold up`: open the data dir, bootstrap on first start, serve until signalled."""

from __future__ import annotations

import asyncio
import os
import signal
import ssl
import sys
from pathlib import Path
from typing import Any

from skyhold import accounts, admin_api, config, identity
from skyhold import request_log, upgrades
from skyhold.pipeline import Pipeline
from skyhold.services.iam import principals
from skyhold.server import App
from skyhold.store import open_store


def serve(host: str, port: int, data_dir: Path, audit: bool = True, https_port: int | None = None) -> int:
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
    https: tuple[int, ssl.SSLContext] | None = None
    if https_port is not None:
        from skyhold import tls  # only then: certificates cost imports a plain start does without

        # Made (or renewed: expired, other names) before anything listens.
        https = https_port, tls.server_context(tls.ensure(data_dir, host))
    if created is not None:
        _print_welcome(created, endpoint, data_dir, https_port)
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
    also = f" and {config.endpoint_url(host, https_port, 'https')}" if https_port is not None else ""
    print(f"Skyhold is serving on {endpoint}{also} (data: {data_dir})", flush=True)
    # uvicorn handles SIGINT/SIGTERM (stop accepting, finish in-flight requests, run
    # lifespan shutdown) and then re-raises the signal to the previous handler; a
    # no-op handler there lets a graceful stop end with exit status 0.
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: None)
    _make_server(server_config, host, https).run()
    print("Skyhold stopped", flush=True)
    return 0


def _make_server(server_config: Any, host: str, https: tuple[int, ssl.SSLContext] | None) -> Any:
    """uvicorn's server, also listening over TLS when asked: one app and lifespan, one
    set of connections, so a graceful stop waits for requests on either listener."""
    import uvicorn
    from uvicorn.config import STARTUP_FAILURE

    from skyhold.http_protocol import TlsHttpProtocol

    class _Server(uvicorn.Server):
        async def startup(self, sockets: Any = None) -> None:
            await super().startup(sockets)
            if https is None or not self.started:
                return
            https_port, context = https
            cfg = self.config

            def create_protocol(_loop: asyncio.AbstractEventLoop | None = None) -> asyncio.Protocol:
                # What uvicorn's startup makes for its own listener: the same protocol,
                # state and app. The scope's scheme is "https" on this one (uvicorn
                # reads it from the transport), so aws:SecureTransport is true.
                return TlsHttpProtocol(config=cfg, server_state=self.server_state,  # type: ignore[call-arg]
                                               app_state=self.lifespan.state, _loop=_loop)

            try:
                listener = await asyncio.get_running_loop().create_server(
                    create_protocol, host=host, port=https_port, ssl=context, backlog=cfg.backlog)
            except OSError as err:
                print(f"skyhold: cannot listen for HTTPS on {host}:{https_port}: {err}", file=sys.stderr, flush=True)
                for started in self.servers:
                    started.close()
                await self.lifespan.shutdown()
                sys.exit(STARTUP_FAILURE)
            self.servers.append(listener)

    return _Server(server_config)


def _print_welcome(new: accounts.NewAccount, endpoint: str, data_dir: Path, https_port: int | None) -> None:
    configure = f"skyhold configure --data-dir {data_dir} --endpoint {endpoint}"
    if https_port is not None:
        configure = f"skyhold configure --data-dir {data_dir} --https --https-port {https_port}"
    print(
        f"""First start: created account {new.account_id} with its root user and IAM user 'admin'.
  admin access key id:     {new.admin_access_key_id}
  admin secret access key: {new.admin_secret_access_key}
Point the aws CLI and SDKs at Skyhold:
  {configure}
  aws --profile skyhold sts get-caller-identity""",
        flush=True,
    )
