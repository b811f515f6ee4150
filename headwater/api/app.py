"""The app factory: a FastAPI application over one hub."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import anyio
from fastapi import FastAPI

from headwater import __version__
from headwater.api import errors
from headwater.api.audit import AuditMiddleware
from headwater.api.compat import bytenite, foundation
from headwater.api.data_reads import DataReads
from headwater.api.limits import EdgeMiddleware
from headwater.api.portal import router as portal
from headwater.api.routers import (
    access_keys,
    connectors,
    data,
    health,
    jobs,
    links,
    query,
    secrets,
    sources,
    systems,
    templates,
    tokens,
    uploads,
)
from headwater.api.routers import audit as audit_router
from headwater.services import tokens as tokens_service
from headwater.services.hub import Hub
from headwater.services.jobs import service as jobs_service
from headwater.settings import Settings

THREADS = 200


def prepare(hub: Hub) -> None:
    """Once per start of the hub, before it serves: the bootstrap token. (Old audit events are
    purged by the retention duty, `services.links.purge_forever`, on one replica at a time.)"""
    tokens_service.ensure_bootstrap_token(hub)


def create_app(settings: Settings | None = None, hub: Hub | None = None, worker: bool = False) -> FastAPI:
    """`worker`: one of several processes serving one store; their parent migrated it, created the
    keys and the bootstrap token, once, and one of them drives jobs."""
    owned = hub is None
    settings = settings or (hub.settings if hub is not None else Settings.from_env())

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if app.state.hub is None:
            app.state.hub = Hub.open(settings, migrate=not worker)
        # Blocking work (store sessions, file I/O) runs in worker threads; size the pool above the
        # store's connection pool so a request holding a connection always gets a thread to finish.
        anyio.to_thread.current_default_thread_limiter().total_tokens = THREADS
        if not worker:
            prepare(app.state.hub)
        jobs_service.start_engine(app.state.hub, shared=worker)  # resumes jobs left in a running state
        try:
            yield
        finally:
            jobs_service.stop_engine(app.state.hub)
            await app.state.hub.connectors.close_all()
            if owned:
                app.state.hub.close()

    app = FastAPI(
        title="Headwater",
        version=__version__,
        description="A self-hosted data source hub: secrets, data sources, and one streaming Data API.",
        lifespan=lifespan,
    )
    app.state.hub = hub
    errors.install(app)
    for module in (
        health,
        audit_router,
        tokens,
        access_keys,
        secrets,
        sources,
        systems,
        connectors,
        jobs,
        templates,
        query,
        uploads,
        links,
        bytenite,
        foundation,
        data,
    ):
        app.include_router(module.router)
    app.include_router(portal.router)
    app.mount(portal.ASSETS_PATH, portal.assets(), name="portal-assets")

    app.add_middleware(DataReads)  # inside the audit middleware: every read still has its event
    app.add_middleware(AuditMiddleware)
    app.add_middleware(EdgeMiddleware, max_body=settings.max_json_body)
    return app
