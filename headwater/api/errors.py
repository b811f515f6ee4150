"""The one mapping from typed errors to HTTP responses: `{"error": {"code", "message"}}`.

HEAD responses carry the message in `X-Error-Message` too, since they have no body.
Compat routers register their own envelopes for their own paths (see `compat/`).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from headwater.errors import HeadwaterError, RangeNotSatisfiable

log = logging.getLogger("headwater.api")

#: Path prefixes whose errors a compat router renders in its product's shape.
Renderer = Callable[[Request, int, str, str], Response]
_RENDERERS: list[tuple[str, Renderer]] = []


def register_renderer(prefix: str, renderer: Renderer) -> None:
    _RENDERERS.append((prefix, renderer))


_UNSAFE_IN_HEADER = re.compile(r"[\x00-\x1f\x7f]")


def header_text(text: str) -> str:
    """A message as a header value (`X-Error-Message`): ASCII only, no control characters, bounded."""
    ascii_text = text.encode("ascii", "backslashreplace").decode("ascii")
    return _UNSAFE_IN_HEADER.sub(" ", ascii_text)[:1000]


def error_response(
    request: Request, status: int, code: str, message: str, headers: dict[str, str] | None = None
) -> Response:
    """The error in the shape of the route's product (a compat renderer's, or the hub's own), with `headers`."""
    for prefix, renderer in _RENDERERS:
        if request.url.path.startswith(prefix):
            response = renderer(request, status, code, message)
            response.headers.update(headers or {})
            return response
    shown = {"X-Error-Message": header_text(message), **(headers or {})}
    if request.method == "HEAD":
        return Response(status_code=status, headers=shown, media_type="application/json")
    return JSONResponse({"error": {"code": code, "message": message}}, status_code=status, headers=shown)


def describe_validation(errors: list[Any]) -> str:
    """Turn pydantic's errors into one message that names each field."""
    parts = []
    for error in errors:
        loc = [str(p) for p in error.get("loc", ()) if p not in ("body",)]
        where = ".".join(loc) or "body"
        msg = error.get("msg", "is invalid")
        if error.get("type") == "json_invalid":
            parts.append(f"request body is not valid JSON ({error.get('ctx', {}).get('error', 'parse error')})")
        elif error.get("type") == "extra_forbidden":
            parts.append(f"{where}: unknown field")
        elif error.get("type") == "missing":
            parts.append(f"{where}: field required")
        else:
            parts.append(f"{where}: {msg}")
    return "; ".join(parts) or "invalid request"


_STATUS_CODES = {
    400: "invalid_input",
    401: "unauthenticated",
    403: "permission_denied",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    413: "payload_too_large",
    415: "unsupported_media_type",
}


def typed_response(request: Request, exc: HeadwaterError) -> Response:
    """The answer to a typed error: its status, code and message."""
    if exc.status >= 500:
        log.warning("%s on %s %s: %s", exc.code, request.method, request.url.path, exc.message)
    headers = None
    if isinstance(exc, RangeNotSatisfiable):
        headers = {"Content-Range": f"bytes */{exc.size if exc.size is not None else '*'}"}
    elif exc.status == 503:
        headers = {"Retry-After": "1"}  # the hub's store or audit trail is down for now: try again
    return error_response(request, exc.status, exc.code, exc.message, headers)


def install(app: FastAPI) -> None:
    @app.exception_handler(HeadwaterError)
    async def _typed(request: Request, exc: HeadwaterError) -> Response:
        return typed_response(request, exc)

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError) -> Response:
        return error_response(request, 400, "invalid_input", describe_validation(list(exc.errors())))

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> Response:
        if isinstance(exc.__cause__, HeadwaterError):  # raised while FastAPI read the body
            return typed_response(request, exc.__cause__)
        code = _STATUS_CODES.get(exc.status_code, "error")
        message = exc.detail if isinstance(exc.detail, str) else "request failed"
        if exc.status_code == 404 and message == "Not Found":
            message = f"no route {request.method} {request.url.path}"
        if exc.status_code == 405:
            message = f"method {request.method} is not allowed on {request.url.path}"
        return error_response(request, exc.status_code, code, message)

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> Response:
        log.error("unexpected %s on %s %s", type(exc).__name__, request.method, request.url.path)
        return error_response(request, 500, "internal", "internal error: the hub could not complete the request")
