"""The HTTP session of a client: base URL, token, and errors turned into exceptions."""

from __future__ import annotations

import io
import ssl
from collections.abc import Iterable, Iterator
from typing import Any

import httpcore
import httpx

from headwater import __version__
from headwater.client.errors import error_for, unreachable

DEFAULT_TIMEOUT = httpx.Timeout(120.0, connect=10.0)

#: The most one socket read delivers: httpcore asks for 64 KiB, which costs a large download one
#: pass through httpcore and h11 per 64 KiB; 1 MiB reads take a sixteenth of those passes.
READ_SIZE = 1024 * 1024


class LargeReadStream(httpcore.NetworkStream):
    """A connection's socket read `READ_SIZE` bytes at a time (at least what httpcore asks for)."""

    def __init__(self, stream: httpcore.NetworkStream) -> None:
        self._stream = stream

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        return self._stream.read(max(max_bytes, READ_SIZE), timeout)

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        self._stream.write(buffer, timeout)

    def close(self) -> None:
        self._stream.close()

    def start_tls(
        self, ssl_context: ssl.SSLContext, server_hostname: str | None = None, timeout: float | None = None
    ) -> httpcore.NetworkStream:
        return LargeReadStream(self._stream.start_tls(ssl_context, server_hostname, timeout))

    def get_extra_info(self, info: str) -> Any:
        return self._stream.get_extra_info(info)


class LargeReadBackend(httpcore.NetworkBackend):
    """httpcore's own network backend, its streams wrapped in `LargeReadStream`."""

    def __init__(self, backend: httpcore.NetworkBackend) -> None:
        self._backend = backend

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.NetworkStream:
        return LargeReadStream(self._backend.connect_tcp(host, port, timeout, local_address, socket_options))

    def connect_unix_socket(
        self, path: str, timeout: float | None = None, socket_options: Iterable[Any] | None = None
    ) -> httpcore.NetworkStream:
        return LargeReadStream(self._backend.connect_unix_socket(path, timeout, socket_options))

    def sleep(self, seconds: float) -> None:
        self._backend.sleep(seconds)


def http_transport() -> httpx.HTTPTransport:
    """httpx's default transport (keep-alive pool, TLS, the environment's settings) reading 1 MiB at a time.

    httpx offers no option for its pool's network backend, so the pool's is wrapped where httpx
    keeps it; a pool laid out otherwise (a future httpx) is left as it is, only slower.
    """
    transport = httpx.HTTPTransport()
    pool = getattr(transport, "_pool", None)
    backend = getattr(pool, "_network_backend", None)
    if isinstance(pool, httpcore.ConnectionPool) and isinstance(backend, httpcore.NetworkBackend):
        pool._network_backend = LargeReadBackend(backend)
    return transport


class Transport:
    """One `httpx.Client` to one hub; every non-2xx response raises the matching SDK error."""

    def __init__(self, url: str, token: str | None, timeout: httpx.Timeout | float = DEFAULT_TIMEOUT) -> None:
        self.url = url.rstrip("/")
        headers = {"User-Agent": f"headwater-sdk/{__version__}"}
        if token:
            headers["Authorization"] = f"Bearer {token}"
        self.http = httpx.Client(base_url=self.url, headers=headers, timeout=timeout, transport=http_transport())

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


def body_chunks(response: httpx.Response, chunk_size: int) -> Iterator[bytes]:
    """A streamed response's body in pieces of at most `chunk_size` bytes, copied no more than needed.

    httpx's `iter_bytes(size)` copies every byte into fixed-size chunks, which costs the client
    more CPU than the socket reads themselves; when `chunk_size` allows, the connection's own
    pieces (at most `READ_SIZE`, often less) are passed on as they come. A compressed body is
    decoded as usual.
    """
    identity = response.headers.get("content-encoding", "identity").lower() in {"", "identity"}
    if identity and chunk_size >= READ_SIZE:
        return response.iter_raw()
    return response.iter_bytes(chunk_size)


def joined(chunks: Iterable[bytes]) -> bytes:
    """The chunks as one `bytes`, each copied once into a buffer that becomes the result.

    `b"".join` keeps every chunk alive until the end and then copies them all again; a `BytesIO`
    hands its buffer over as the result (`getvalue` copies nothing when it owns the only reference).
    """
    buffer = io.BytesIO()
    for chunk in chunks:
        buffer.write(chunk)
    return buffer.getvalue()
