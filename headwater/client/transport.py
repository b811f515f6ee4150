"""The HTTP session of a client: base URL, token, and errors turned into exceptions."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx

from headwater import __version__
from headwater.client.errors import error_for, unreachable

DEFAULT_TIMEOUT = httpx.Timeout(120.0, connect=10.0)


class Transport:
    """One `httpx.Client` to one hub; every non-2xx response raises the matching SDK error."""

    def __init__(self, url: str, token: str | None, timeout: httpx.Timeout | float = DEFAULT_TIMEOUT) -> None:
        self.url = url.rstrip("/")
        headers = {"User-Agent": f"headwater-sdk/{__version__}"}
        if token:
            headers["Authorization"] = f"Bearer {token}"
        self.http = httpx.Client(base_url=self.url, headers=headers, timeout=timeout)

    def send(self, method: str, path: str, *, stream: bool = False, **kwargs: Any) -> httpx.Response:
        """Send a request; return the response (unread if `stream`) or raise for an error status."""
        request = self.http.build_request(method, path, **kwargs)
        try:
            response = self.http.send(request, stream=stream)
        except httpx.TransportError as exc:
            raise unreachable(exc, self.url) from None
        if response.is_success:
            return response
        try:
            response.read()
        except httpx.TransportError:
            pass
        finally:
            response.close()
        raise error_for(response)

    def json(self, method: str, path: str, **kwargs: Any) -> Any:
        """Send a request and return its JSON body (None for an empty one)."""
        response = self.send(method, path, **kwargs)
        return response.json() if response.content else None

    def close(self) -> None:
        self.http.close()


#: The most one socket read of httpx's HTTP/1.1 connection delivers.
RAW_PIECE = 64 * 1024


def body_chunks(response: httpx.Response, chunk_size: int) -> Iterator[bytes]:
    """A streamed response's body in pieces of at most `chunk_size` bytes, copied no more than needed.

    httpx's `iter_bytes(size)` copies every byte into fixed-size chunks, which costs the client
    more CPU than the socket reads themselves; when `chunk_size` allows, the connection's own
    pieces (at most 64 KiB) are passed on as they come. A compressed body is decoded as usual.
    """
    identity = response.headers.get("content-encoding", "identity").lower() in {"", "identity"}
    if identity and chunk_size >= RAW_PIECE:
        return response.iter_raw()
    return response.iter_bytes(chunk_size)
