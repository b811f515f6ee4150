"""`headwater serve`: the hub on uvicorn, embedded defaults (SQLite in the user's data dir, a generated master key)."""

from __future__ import annotations

import dataclasses
import os
import signal
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Annotated

import typer

from headwater.cli.output import note

if TYPE_CHECKING:
    from headwater.services.hub import Hub

#: How long a worker may take to answer the supervisor's health check, startup included.
WORKER_HEALTHCHECK_SECONDS = 60

FIRST_ORG = "default"
FIRST_USER = "admin"
MOST_DEFAULT_WORKERS = 4


def default_workers() -> int:
    """One worker process per CPU this process may use, at most MOST_DEFAULT_WORKERS: past a few,
    processes add memory (each has its own caches and store connections) more than speed."""
    try:
        cpus = len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        cpus = os.cpu_count() or 1
    return max(1, min(cpus, MOST_DEFAULT_WORKERS))


def first_start_token(hub: Hub) -> str | None:
    """On a store with no token at all, create an admin token and return its value (else None)."""
    from headwater.services import tokens as tokens_service

    return tokens_service.create_first_token(hub, org_name=FIRST_ORG, user_name=FIRST_USER)


class _Stop(Exception):
    """SIGTERM, turned into an exception so the hub stops like on Ctrl-C."""


def _raise_stop(signum: int, frame: object) -> None:
    raise _Stop()


@contextmanager
def stops_cleanly() -> Iterator[None]:
    """Ctrl-C or SIGTERM end the server with status 0 (uvicorn shuts down, then re-raises the signal)."""
    main = threading.current_thread() is threading.main_thread()
    previous = signal.signal(signal.SIGTERM, _raise_stop) if main else None
    try:
        yield
    except (KeyboardInterrupt, _Stop):
        pass
    finally:
        if main and previous is not None:
            signal.signal(signal.SIGTERM, previous)


def s3_sockets(host: str, s3_port: int | None, log_level: str) -> list[socket.socket]:
    """The listening socket of the S3 front door (none when it is off): every worker serves it too."""
    if s3_port is None:
        return []
    import uvicorn

    config = uvicorn.Config("headwater.api.s3.app:S3App", host=host, port=s3_port, log_level=log_level)
    sock = config.bind_socket()
    sock.listen(config.backlog)
    return [sock]


def serve(
    host: Annotated[str, typer.Option(help="The interface to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="The port to listen on.")] = 8000,
    log_level: Annotated[str, typer.Option(help="uvicorn's log level.")] = "info",
    allow_private_endpoints: Annotated[
        bool,
        typer.Option(
            "--allow-private-endpoints",
            help="Let sources reach loopback and private addresses (a local MinIO or SeaweedFS); "
            "same as HEADWATER_ALLOW_PRIVATE_ENDPOINTS=1. Link-local and metadata addresses stay refused.",
        ),
    ] = False,
    s3_port: Annotated[
        int | None,
        typer.Option(
            "--s3-port",
            min=1,
            max=65535,
            show_default=False,
            help="Also serve the S3 front door (path-style) on this port, in every worker; same as HEADWATER_S3_PORT.",
        ),
    ] = None,
    workers: Annotated[
        int | None,
        typer.Option(
            min=1,
            show_default=False,
            help="Worker processes serving the hub (default: HEADWATER_WORKERS, else one per CPU, at most 4); one of them drives jobs.",
        ),
    ] = None,
) -> None:
    """Run the hub. Configuration comes from HEADWATER_* environment variables."""
    import functools

    import uvicorn

    from headwater.api.app import create_app, prepare
    from headwater.api.s3.ports import with_s3
    from headwater.api.workers import create_worker_app
    from headwater.services.hub import Hub
    from headwater.settings import Settings

    settings = Settings.from_env()
    if allow_private_endpoints:
        settings = dataclasses.replace(settings, allow_private_endpoints=True)
    if s3_port is not None:
        settings = dataclasses.replace(settings, s3_port=s3_port)
    if settings.s3_port == port:
        raise typer.BadParameter("the S3 port must differ from the API port", param_hint="--s3-port")
    from headwater.cli.store import describe, store_exists

    note(f"{'Using the store' if store_exists(settings) else 'Creating a new store'} in {describe(settings)}")
    workers = workers or settings.workers or default_workers()
    hub = Hub.open(settings)  # migrations and keys, once, before any worker starts
    closed = False
    try:
        if workers > 1:
            prepare(hub)  # the bootstrap token, once (a single process does it as its app starts)
        if not settings.bootstrap_token:
            value = first_start_token(hub)
            if value:
                typer.echo(
                    f"Created an admin token for user '{FIRST_USER}' in organization '{FIRST_ORG}'.\n"
                    "It is shown once, now; store it (e.g. export HEADWATER_TOKEN=...):\n\n"
                    f"    {value}\n"
                )
        shown = "localhost" if host in {"0.0.0.0", "::"} else (f"[{host}]" if ":" in host else host)
        if settings.allow_private_endpoints:
            note("Sources may reach loopback and private addresses (--allow-private-endpoints).")
        if settings.s3_port is not None:
            note(
                f"S3 front door on http://{shown}:{settings.s3_port} (path-style; credentials from `headwater keys create`)."
            )
        if workers == 1:
            note(f"Headwater serving http://{shown}:{port} (1 process; data in {settings.data_dir}); Ctrl-C stops it.")
            single = uvicorn.Config(
                with_s3(create_app(settings, hub=hub), settings.s3_port), host=host, port=port, log_level=log_level
            )
            sockets = [single.bind_socket(), *s3_sockets(host, settings.s3_port, log_level)]
            with stops_cleanly():
                try:
                    uvicorn.Server(single).run(sockets=sockets)
                finally:
                    for sock in sockets:
                        sock.close()
            return
        hub.close()
        closed = True
        from uvicorn.supervisors import Multiprocess

        # The factory takes these settings as its argument: each spawned worker receives them with its
        # configuration, and never reads the environment itself.
        config = uvicorn.Config(
            functools.partial(create_worker_app, settings),
            factory=True,
            workers=workers,
            host=host,
            port=port,
            log_level=log_level,
            # The supervisor pings each worker from the moment it is spawned, and a worker answers only
            # once it has imported the hub: on a loaded machine that takes longer than uvicorn's 5 s,
            # and a worker killed for it would be replaced by another that fails the same way.
            timeout_worker_healthcheck=WORKER_HEALTHCHECK_SECONDS,
        )
        sock = config.bind_socket()
        sock.listen(config.backlog)  # before saying where: connections wait in its backlog for the first worker
        extra = s3_sockets(host, settings.s3_port, log_level)
        note(
            f"Headwater serving http://{shown}:{port} ({workers} worker processes; data in {settings.data_dir}); "
            "Ctrl-C stops it."
        )
        try:
            # uvicorn's supervisor: it starts the workers (spawned: no state of this process is
            # inherited), replaces one that dies, and on SIGINT/SIGTERM stops them all.
            Multiprocess(config, sockets=[sock, *extra]).run()
        finally:
            sock.close()
            for other in extra:
                other.close()
    finally:
        if not closed:
            hub.close()
