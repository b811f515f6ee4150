"""Data API reads (GET and HEAD) served without FastAPI's routing and dependency machinery.

A small read should cost about one backend round trip, and on this route matching the path
against every route of the app and resolving dependencies (a sync one runs in a thread) cost
more than the read. This ASGI layer sits inside the audit middleware and hands the request
to the very same pieces the FastAPI route uses, in the same order: `deps.get_caller`
(authentication, then the durable audit event), `routers.data.handle` (rights, the read,
the response), and `errors.typed_response` for a typed error. It names the same route in
the scope, so audit events read exactly as before. Every other method and path goes on to
FastAPI.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.routing import Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from headwater.api import deps
from headwater.api.errors import typed_response
from headwater.api.routers import data
from headwater.errors import HeadwaterError

METHODS = frozenset({"GET", "HEAD"})
CONNECTOR = "/v1/connector/"


def route_path(path: str) -> str | None:
    """The Data API route template a path falls under, or None when it is not a Data API path."""
    if path.startswith(CONNECTOR):
        rest = path[len(CONNECTOR) :]
        if not rest or rest.startswith("/"):
            return None
        return "/v1/connector/{connection}/{path:path}" if "/" in rest else "/v1/connector/{connection}"
    if path == "/v1/data":
        return "/v1/data"
    if path.startswith("/v1/data/"):
        return "/v1/data/{path:path}"
    return None


def _routes() -> dict[tuple[str, str], Route]:
    found: dict[tuple[str, str], Route] = {}
    for route in data.router.routes:
        if isinstance(route, Route):
            for method in route.methods or ():
                found[(route.path, method)] = route
    return found


class DataReads:
    """GET and HEAD of `/v1/connector/…` and `/v1/data…`, served by `routers.data.handle` directly."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self.routes = _routes()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        route = None
        if scope["type"] == "http" and scope["method"] in METHODS:
            template = route_path(scope["path"])
            if template is not None:
                route = self.routes.get((template, scope["method"]))
        if route is None:
            await self.app(scope, receive, send)
            return
        scope["route"] = route
        scope["endpoint"] = route.endpoint
        request = Request(scope, receive)
        started = False

        async def sending(message: Message) -> None:
            nonlocal started
            started = True
            await send(message)

        try:
            caller = await deps.get_caller(request)
            response = await data.handle(request, caller, deps.get_hub(request))
            await response(scope, receive, sending)
        except HeadwaterError as exc:
            if started:
                raise
            await typed_response(request, exc)(scope, receive, send)
