"""The SDK's exceptions: the hub's error hierarchy, each also the builtin a Python caller expects.

`NotFoundError` is a `headwater.errors.NotFound` and a `FileNotFoundError`,
`PermissionDeniedError` a `PermissionError`, `InvalidInputError` a `ValueError`,
`HubUnreachableError` a `ConnectionError`. Each carries the HTTP `status` and the
hub's error `code`.
"""

from __future__ import annotations

from typing import Any

import httpx

from headwater import errors


class ClientError(errors.HeadwaterError):
    """Base of every error the SDK raises for an HTTP response."""

    def __init__(self, message: str, *, status: int | None = None, code: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        if status is not None:
            self.status = status
        if code is not None:
            self.code = code

    def __str__(self) -> str:
        return self.message


class InvalidInputError(ClientError, errors.InvalidInput, ValueError):
    """400: the request was malformed."""


class UnauthenticatedError(ClientError, errors.Unauthenticated):
    """401: no token, or a token the hub does not accept."""


class PermissionDeniedError(ClientError, errors.PermissionDenied, PermissionError):
    """403: the caller may not do this."""


class SecretExpiredError(ClientError, errors.SecretExpired, PermissionError):
    """403: a secret the connection needs has expired."""


class NotFoundError(ClientError, errors.NotFound, FileNotFoundError):
    """404: no such thing (or not visible to this caller)."""


class NotSupportedError(ClientError, errors.NotSupported):
    """405: the connection's kind cannot do this."""


class ConflictError(ClientError, errors.Conflict):
    """409: it already exists, is in use, or is not empty."""


class PayloadTooLargeError(ClientError, errors.PayloadTooLarge):
    """413: the request body is too large."""


class UpstreamError(ClientError, errors.UpstreamError):
    """5xx: the hub or the system behind a connection failed."""


class HubUnreachableError(ClientError, errors.UpstreamUnavailable, ConnectionError):
    """The hub itself could not be reached (refused, timed out, TLS failure)."""


_BY_CODE: dict[str, type[ClientError]] = {
    "secret_expired": SecretExpiredError,
    "endpoint_refused": PermissionDeniedError,
    "not_supported": NotSupportedError,
}

_BY_STATUS: dict[int, type[ClientError]] = {
    400: InvalidInputError,
    401: UnauthenticatedError,
    403: PermissionDeniedError,
    404: NotFoundError,
    405: NotSupportedError,
    409: ConflictError,
    413: PayloadTooLargeError,
    416: InvalidInputError,
    422: InvalidInputError,
}


def _envelope(response: httpx.Response) -> tuple[str | None, str | None]:
    """The `(code, message)` of the hub's `{"error": {...}}` body, or the `X-Error-Message` header."""
    code = message = None
    try:
        body: Any = response.json() if response.content else None
    except ValueError:
        body = None
    if isinstance(body, dict) and isinstance(body.get("error"), dict):
        code = body["error"].get("code")
        message = body["error"].get("message")
    elif isinstance(body, dict) and isinstance(body.get("error"), str):
        message = body["error"]
    return code, message or response.headers.get("x-error-message")


def error_for(response: httpx.Response) -> ClientError:
    """The exception for an error response; its body must already be read."""
    code, message = _envelope(response)
    status = response.status_code
    cls = _BY_CODE.get(code or "") or _BY_STATUS.get(status)
    if cls is None:
        cls = UpstreamError if status >= 500 else ClientError
    text = message or f"{response.request.method} {response.request.url.path} failed with HTTP {status}"
    return cls(text, status=status, code=code)


def unreachable(exc: httpx.TransportError, url: str) -> HubUnreachableError:
    kind = "timed out" if isinstance(exc, httpx.TimeoutException) else "failed"
    return HubUnreachableError(f"connection to the hub at {url} {kind}: {exc}", code="hub_unreachable")


def invalid(exc: errors.InvalidInput) -> InvalidInputError:
    """Re-raise a local parsing error (from `headwater.addresses`) as the SDK's `ValueError` kind."""
    return InvalidInputError(exc.message, code=exc.code)
