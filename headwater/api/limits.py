"""ASGI middleware at the edge: fold doubled leading slashes, and cap JSON request bodies."""

from __future__ import annotations

from typing import Any

from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Receive, Scope, Send

from headwater.errors import PayloadTooLarge

STREAMING_PREFIXES = ("/v1/data", "/v1/connector", "/v1/uploads")


class EdgeMiddleware:
    """`//v1/...` (a client configured with a trailing slash) is served as `/v1/...`; bodies
    of management routes are capped, while Data API uploads stream without a limit."""

    def __init__(self, app: ASGIApp, max_body: int) -> None:
        self.app = app
        self.max_body = max_body

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path: str = scope["path"]
        if path.startswith("//"):
            scope = dict(scope)
            scope["path"] = "/" + path.lstrip("/")
            raw = scope.get("raw_path")
            if raw:
                scope["raw_path"] = b"/" + raw.lstrip(b"/")
        if scope["path"].startswith(STREAMING_PREFIXES):
            await self.app(scope, receive, send)
            return
        for name, value in scope.get("headers", []):
            if name == b"content-length" and value.isdigit() and int(value) > self.max_body:
                message = f"request body is larger than {self.max_body} bytes"
                response = JSONResponse({"error": {"code": "payload_too_large", "message": message}}, status_code=413)
                await response(scope, receive, send)
                return
        seen = 0

        async def capped() -> Any:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.max_body:
                    raise PayloadTooLarge(f"request body is larger than {self.max_body} bytes")
            return message

        await self.app(scope, capped, send)
