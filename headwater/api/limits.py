"""The caps on JSON request bodies: at the edge (ASGI middleware, which also folds doubled leading
slashes) for management routes, and in the one capped reader the streaming routes use for theirs."""

from __future__ import annotations

import json
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError
from starlette.requests import Request
from starlette.types import ASGIApp, Receive, Scope, Send

from headwater.api.errors import describe_validation, typed_response
from headwater.errors import InvalidInput, PayloadTooLarge

M = TypeVar("M", bound=BaseModel)

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
                response = typed_response(Request(scope), too_large(self.max_body))
                await response(scope, receive, send)
                return
        seen = 0

        async def capped() -> Any:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.max_body:
                    raise too_large(self.max_body)
            return message

        await self.app(scope, capped, send)


def too_large(limit: int) -> PayloadTooLarge:
    return PayloadTooLarge(f"request body is larger than {limit} bytes")


async def _capped(request: Request, limit: int) -> bytes:
    raw = bytearray()
    async for chunk in request.stream():
        raw += chunk
        if len(raw) > limit:
            raise too_large(limit)
    return bytes(raw)


async def json_object(request: Request, limit: int) -> dict[str, Any]:
    """A JSON object body of at most `limit` bytes (`{}` when empty), for routes the edge does not cap."""
    try:
        body = json.loads(await _capped(request, limit) or b"{}")
    except ValueError:
        raise InvalidInput("request body is not valid JSON") from None
    if not isinstance(body, dict):
        raise InvalidInput("request body must be a JSON object")
    return body


async def json_model(request: Request, model: type[M], limit: int) -> M:
    """A body of at most `limit` bytes validated as `model`; the message names each wrong field."""
    try:
        return model.model_validate_json(await _capped(request, limit) or b"{}")
    except ValidationError as exc:
        raise InvalidInput(describe_validation(list(exc.errors()))) from None
