"""`skyhold up`: open the data dir, bootstrap on first start, serve until signalled."""

from __future__ import annotations

import asyncio
import os
import shlex
import signal
import socket
import ssl
import sys
from pathlib import Path
from typing import Any, Callable

from skyhold import accounts, admin_api, config, identity
from skyhold import request_log, upgrades
from skyhold.pipeline import Pipeline
from skyhold.services.iam import principals
from skyhold.services.kms import grants as kms_grants
from skyhold.server import App
from skyhold.stop_signals import StartupSignals, Stopped
from skyhold.store import lock_data_dir, mark_clean_stop, open_store


def serve(host: str, port: int, data_dir: Path, audit: bool = True, https_port: int | None = None,
          signals: StartupSignals | None = None) -> int:
    """Raises DataDirError (the data dir cannot be used or is served already), Stopped
    (a signal during start-up) and ListenError."""
    import uvicorn

    from skyhold.http_protocol import HttpProtocol

    signals = signals or StartupSignals()
    # Everything the server writes (the data dir's databases, blobs, the trail's
    # journal) is owner-only: it holds secrets. lock_data_dir tightens a data dir made before.
    os.umask(0o077)
    lock = lock_data_dir(data_dir)  # before anything in the data dir is opened: one server per data dir
    # Bound now (listening once serving): a taken port stops the start before any work, and
    # --port 0 has its real port for the endpoint.
    sockets = [_bind(host, port)]
    https: tuple[socket.socket, ssl.SSLContext] | None = None
    https_socket = _bind(host, https_port, "HTTPS ") if https_port is not None else None
    signals.check()
    store, blobs = open_store(data_dir, grouped_sync=True)  # the pipeline syncs before it answers
    created = accounts.bootstrap(store)
    admin_api.pin_administrator(store)  # who that is, by unique id, at first start
    admin_api.load_clock(store)
    endpoint = config.endpoint_url(host, sockets[0].getsockname()[1])
    if https_socket is not None:
        from skyhold import tls  # only then: certificates cost imports a plain start does without

        # Made (or renewed: expired, other names) before anything listens.
        https = https_socket, tls.server_context(tls.ensure(data_dir, host))
    if created is not None:  # now, so an interrupted first start has shown its keys
        print(_welcome(created, endpoint, data_dir, https_socket.getsockname()[1] if https_socket else None),
              end="", flush=True)
    signals.check()
    request_log.configure()
    pipeline = Pipeline(store, blobs, data_dir)  # loads every service
    upgrades.run_once(store, upgrades.BIND_PRINCIPALS, principals.bind_unbound)  # policies from before bindings
    upgrades.run_once(store, upgrades.SEAL_CREDENTIALS, identity.seal_stored_credentials)  # secrets from before sealing
    upgrades.run_once(store, upgrades.GRANT_RECORDS, kms_grants.move_out)  # grants from inside their keys' records
    signals.check()
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
    also = f" and {config.endpoint_url(host, https[0].getsockname()[1], 'https')}" if https is not None else ""

    def serving() -> None:
        # Once listening: scripts take this line for "ready".
        print(f"Skyhold is serving on {endpoint}{also} (data: {data_dir})", flush=True)

    # uvicorn handles SIGINT/SIGTERM (stop accepting, finish in-flight requests, run
    # lifespan shutdown) and then re-raises the signal to the previous handler: signals',
    # which ignores it once serving, so a graceful stop ends with exit status 0.
    _make_server(server_config, https, signals, serving).run(sockets=sockets)
    if not signals.serving:  # stopped by a signal that came before uvicorn's handlers
        raise Stopped(signals.received or signal.SIGTERM)
    # A graceful stop: the next start may skip the orphan sweep (store/__init__.py).
    mark_clean_stop(Path(data_dir), store, blobs)
    print("Skyhold stopped", flush=True)
    lock.close()
    return 0


class ListenError(Exception):
    """A port Skyhold cannot listen on; str() is the CLI's one line."""


def _bind(host: str, port: int, what: str = "") -> socket.socket:
    """A socket bound to host:port (not listening yet: a client is refused, not kept
    waiting, until Skyhold serves)."""
    try:
        family, kind, proto, _, address = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM,
                                                             flags=socket.AI_PASSIVE)[0]
        sock = socket.socket(family, kind, proto)
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as uvicorn and asyncio do
            sock.bind(address)
        except OSError:
            sock.close()
            raise
    except OSError as err:
        reason = err.strerror or str(err)
        raise ListenError(f"cannot listen {'for ' + what if what else ''}on {host}:{port}: {reason}") from None
    return sock


def _make_server(server_config: Any, https: tuple[socket.socket, ssl.SSLContext] | None,
                 signals: StartupSignals, serving: Callable[[], None]) -> Any:
    """uvicorn's server, also listening over TLS when asked: one app and lifespan, one
    set of connections, so a graceful stop waits for requests on either listener."""
    import uvicorn
    from uvicorn.config import STARTUP_FAILURE

    from skyhold.http_protocol import TlsHttpProtocol

    class _Server(uvicorn.Server):
        async def startup(self, sockets: Any = None) -> None:
            await super().startup(sockets)
            if not self.started:
                return
            if signals.received is not None:  # came between start-up's last check and uvicorn's handlers
                self.should_exit = True
                return
            if https is not None:
                await self._listen_https(*https)
            if not self.should_exit:
                signals.serving = True  # uvicorn's handlers stop it from now on
                serving()

        async def _listen_https(self, sock: socket.socket, context: ssl.SSLContext) -> None:
            cfg = self.config

            def create_protocol(_loop: asyncio.AbstractEventLoop | None = None) -> asyncio.Protocol:
                # What uvicorn's startup makes for its own listener: the same protocol,
                # state and app. The scope's scheme is "https" on this one (uvicorn
                # reads it from the transport), so aws:SecureTransport is true.
                return TlsHttpProtocol(config=cfg, server_state=self.server_state,  # type: ignore[call-arg]
                                               app_state=self.lifespan.state, _loop=_loop)

            try:
                listener = await asyncio.get_running_loop().create_server(
                    create_protocol, sock=sock, ssl=context, backlog=cfg.backlog)
            except OSError as err:
                host, port = sock.getsockname()[:2]
                print(f"skyhold: cannot listen for HTTPS on {host}:{port}: {err}", file=sys.stderr, flush=True)
                for started in self.servers:
                    started.close()
                await self.lifespan.shutdown()
                sys.exit(STARTUP_FAILURE)
            self.servers.append(listener)

    return _Server(server_config)


def _welcome(new: accounts.NewAccount, endpoint: str, data_dir: Path, https_port: int | None) -> str:
    quoted = shlex.quote(str(data_dir))
    configure = f"skyhold configure --data-dir {quoted} --endpoint {endpoint}"
    if https_port is not None:
        configure = f"skyhold configure --data-dir {quoted} --https --https-port {https_port}"
    return f"""First start: created account {new.account_id} with its root user and IAM user 'admin'.
  admin access key id:     {new.admin_access_key_id}
  admin secret access key: {new.admin_secret_access_key}
Point the aws CLI and SDKs at Skyhold:
  {configure}
  aws --profile skyhold sts get-caller-identity
"""
