"""The `url` kind: files over HTTP(S), input only.

The source's `url` is a file (`https://host/data/report.csv`) or a folder of
files (`https://host/data/`, ending in `/`). Paths are appended to it; the empty
path is the URL itself, and a file URL is also reachable by its own basename (so
that the one file its listing shows can be read back by name).

Every connection is checked against endpoint safety on its resolved addresses and
pinned to them (no DNS rebinding between check and connect); redirects are
followed here, never by httpx, one checked hop at a time, only to http(s), and
credentials are sent only to the origin of the configured URL.
"""

from __future__ import annotations

import base64
import functools
import logging
import ssl
from collections.abc import AsyncIterator, Mapping
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from functools import partial
from typing import Any, ClassVar, Literal
from urllib.parse import quote, unquote, urljoin, urlsplit, urlunsplit

import anyio
import certifi
import httpcore
import httpx
from pydantic import Field, field_validator

from headwater import __version__
from headwater.connectors import endpoints
from headwater.connectors.base import (
    DEFAULT_CHUNK,
    PAGE_SIZE,
    Capabilities,
    Connector,
    Credentials,
    Entry,
    Listing,
    Opened,
    Params,
    Span,
)
from headwater.connectors.kind import BuildContext, Kind
from headwater.connectors.redaction import redact_url
from headwater.errors import (
    EndpointRefused,
    HeadwaterError,
    InvalidInput,
    NotAFile,
    NotFound,
    NotSupported,
    RangeNotSatisfiable,
    UpstreamAuthFailed,
    UpstreamError,
    UpstreamPermissionDenied,
    UpstreamTimeout,
    UpstreamTLSError,
    UpstreamUnavailable,
)

MAX_REDIRECTS = 5
REDIRECTS = frozenset({301, 302, 303, 307, 308})
#: HEAD answers that a one-byte GET may still get past: 403 from a link signed for GET only, 405/501 from servers without HEAD.
HEAD_REFUSED = frozenset({403, 405, 501})
CHECK_TIMEOUT = 5.0
CONNECT_TIMEOUT = 10.0
#: Headers a source may not set: the hub's own, and anything that looks like a credential.
RESERVED_HEADERS = frozenset(
    {
        "host",
        "range",
        "content-length",
        "transfer-encoding",
        "connection",
        "te",
        "upgrade",
        "accept-encoding",
        "trailer",
    }
)
CREDENTIAL_WORDS = ("auth", "cookie", "token", "secret", "password", "passwd", "key", "session", "signature")
_TOKEN = frozenset("!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ")


class _RedactUrls(logging.Filter):
    """httpx logs every request's URL at INFO: strip userinfo and query strings from it."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple) and len(record.args) > 1 and isinstance(record.args[1], httpx.URL):
            record.args = (record.args[0], redact_url(str(record.args[1])), *record.args[2:])
        return True


if not any(isinstance(f, _RedactUrls) for f in logging.getLogger("httpx").filters):
    logging.getLogger("httpx").addFilter(_RedactUrls())


def _origin(url: str) -> tuple[str, str, int]:
    parts = urlsplit(url)
    return parts.scheme, (parts.hostname or "").lower(), parts.port or (443 if parts.scheme == "https" else 80)


class UrlParams(Params):
    """A file, or a folder of files (ending in '/'), served over HTTP or HTTPS."""

    url: str = Field(
        description="http(s) URL of a file, or of a folder when it ends in '/'.", min_length=1, max_length=4096
    )
    headers: dict[str, str] = Field(
        default_factory=dict, description="Extra request headers. Non-secret only: credentials belong in a secret."
    )
    auth: Literal["basic", "bearer", "header"] | None = Field(
        default=None,
        description="How the secret is sent: basic (accessKey:secretKey), bearer (secretKey), or header (secretKey in authHeader). Default: basic with an accessKey, bearer without.",
    )
    auth_header: str | None = Field(
        default=None, alias="authHeader", description="The header that carries the secretKey when auth is 'header'."
    )
    timeout: float = Field(
        default=30.0, gt=0, le=300, description="Seconds to wait to connect and between received bytes."
    )

    @field_validator("url")
    @classmethod
    def _check_url(cls, value: str) -> str:
        if any(c.isspace() or ord(c) < 32 for c in value):
            raise ValueError("must not contain whitespace or control characters")
        try:
            parts = urlsplit(value)
            parts.port  # noqa: B018 - raises on a malformed port
        except ValueError:
            raise ValueError("is not a valid URL") from None
        if parts.scheme not in ("http", "https"):
            raise ValueError("must be an http:// or https:// URL")
        if not parts.hostname:
            raise ValueError("has no host")
        if parts.username is not None or parts.password is not None:
            raise ValueError("must not contain a user or password: put credentials in a secret")
        return urlunsplit((parts.scheme, parts.netloc, parts.path or "/", parts.query, ""))

    @field_validator("headers")
    @classmethod
    def _check_headers(cls, value: dict[str, str]) -> dict[str, str]:
        for name, text in value.items():
            lowered = name.lower()
            if not name or not set(name) <= _TOKEN:
                raise ValueError(f"header name {name!r} is not a valid HTTP header name")
            if lowered in RESERVED_HEADERS:
                raise ValueError(f"header {name!r} is set by the hub and cannot be configured")
            if any(word in lowered for word in CREDENTIAL_WORDS):
                raise ValueError(
                    f"header {name!r} looks like a credential: put it in a secret (auth 'header', authHeader)"
                )
            if any(c in text for c in "\r\n\0"):
                raise ValueError(f"header {name!r} has a line break in its value")
        return value

    @field_validator("auth_header")
    @classmethod
    def _check_auth_header(cls, value: str | None) -> str | None:
        if value is not None and (not value or not set(value) <= _TOKEN or value.lower() in RESERVED_HEADERS):
            raise ValueError(f"{value!r} is not a header the hub can send credentials in")
        return value


def _auth_headers(params: UrlParams, credentials: Credentials | None) -> dict[str, str]:
    """The headers that carry the secret, by the source's auth mode; none without a secret."""
    if credentials is None or (credentials.access_key is None and not credentials.secret_key):
        if params.auth:
            raise InvalidInput(f"params.auth is {params.auth!r} but no secret is bound: set secretId")
        return {}
    mode = params.auth or ("basic" if credentials.access_key else "bearer")
    secret = credentials.secret_key or ""
    if mode == "basic":
        if credentials.access_key is None:
            raise InvalidInput("basic auth needs the secret's accessKey (the user name)")
        pair = base64.b64encode(f"{credentials.access_key}:{secret}".encode()).decode()
        return {"Authorization": f"Basic {pair}"}
    if not secret:
        raise InvalidInput(f"{mode} auth needs the secret's secretKey")
    if mode == "bearer":
        return {"Authorization": f"Bearer {secret}"}
    if not params.auth_header:
        raise InvalidInput("params.authHeader is required when auth is 'header'")
    return {params.auth_header: secret}


class _GuardedBackend(httpcore.AsyncNetworkBackend):
    """Connects only to resolved addresses that pass endpoint safety, and to exactly those."""

    def __init__(self, allow_private: bool) -> None:
        self._inner = httpcore.AnyIOBackend()
        self._allow_private = allow_private

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Any = None,
    ) -> httpcore.AsyncNetworkStream:
        addresses = await anyio.to_thread.run_sync(
            partial(endpoints.check_host, host, port, allow_private=self._allow_private)
        )
        last: Exception | None = None
        for ip in addresses:
            try:
                return await self._inner.connect_tcp(str(ip), port, timeout, local_address, socket_options)
            except (httpcore.ConnectError, httpcore.ConnectTimeout) as exc:
                last = exc
        assert last is not None
        raise last

    async def connect_unix_socket(
        self, path: str, timeout: float | None = None, socket_options: Any = None
    ) -> httpcore.AsyncNetworkStream:
        raise EndpointRefused("unix sockets are not an endpoint")

    async def sleep(self, seconds: float) -> None:
        await self._inner.sleep(seconds)


@functools.cache
def _tls() -> ssl.SSLContext:
    """One verifying TLS context for every connection (loading the CA bundle costs ~50 ms)."""
    return ssl.create_default_context(cafile=certifi.where())


class _GuardedTransport(httpx.AsyncHTTPTransport):
    """httpx's transport with its connection pool on the guarded backend."""

    def __init__(self, allow_private: bool) -> None:
        super().__init__(verify=_tls(), trust_env=False)
        self._pool = httpcore.AsyncConnectionPool(
            ssl_context=_tls(),
            max_connections=20,
            max_keepalive_connections=10,
            keepalive_expiry=5.0,
            network_backend=_GuardedBackend(allow_private),
        )


def _chain(exc: BaseException) -> list[BaseException]:
    seen: list[BaseException] = []
    current: BaseException | None = exc
    while current is not None and current not in seen:
        seen.append(current)
        current = current.__cause__ or current.__context__
    return seen


def classify_transport_error(exc: httpx.HTTPError, url: str) -> HeadwaterError:
    """The typed error for a failure to talk to `url` (never quoting httpx's own message)."""
    where = redact_url(url)
    chain = _chain(exc)
    if isinstance(exc, httpx.TimeoutException):
        return UpstreamTimeout(f"{where} did not answer in time")
    if any(isinstance(e, ssl.SSLError) for e in chain):
        reason = next((e for e in chain if isinstance(e, ssl.SSLCertVerificationError)), None)
        detail = f": {reason.verify_message}" if reason is not None and reason.verify_message else ""
        return UpstreamTLSError(f"TLS with {where} failed{detail}")
    if isinstance(exc, httpx.ConnectError):
        refused = any(isinstance(e, ConnectionRefusedError) for e in chain) or "refused" in str(exc).lower()
        return UpstreamUnavailable(f"{where} {'refused the connection' if refused else 'could not be reached'}")
    return UpstreamUnavailable(f"the connection to {where} failed ({type(exc).__name__})")


def raise_for_status(response: httpx.Response, url: str, *, authenticated: bool) -> None:
    """Raise the typed error for a non-success answer from `url`."""
    status = response.status_code
    if status < 300:
        return
    where = redact_url(url)
    if status == 401:
        if authenticated:
            raise UpstreamAuthFailed(f"{where} refused the credentials (401)")
        raise UpstreamAuthFailed(f"{where} requires credentials (401): bind a secret")
    if status == 403:
        raise UpstreamPermissionDenied(f"{where} denied access (403)")
    if status in (404, 410):
        raise NotFound(f"{where} was not found ({status})")
    if status == 416:
        raise InvalidInput(f"{where}: the requested range is outside the file (416)")
    if status in (408, 504):
        raise UpstreamTimeout(f"{where} timed out ({status})")
    if status == 429 or status >= 500:
        raise UpstreamUnavailable(f"{where} is unavailable ({status})")
    raise UpstreamError(f"{where} answered {status}")


def _modified(value: str | None) -> datetime | None:
    if not value:
        return None
    try:
        moment = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _total_from_content_range(value: str | None) -> int | None:
    """The total size in `bytes a-b/total`, if known."""
    if not value or "/" not in value:
        return None
    total = value.rsplit("/", 1)[1].strip()
    return int(total) if total.isdigit() else None


def _served_range(value: str | None) -> tuple[int, int] | None:
    """The [start, end) of `bytes a-b/total`, if well formed."""
    span = (value or "").strip().removeprefix("bytes ").split("/", 1)[0]
    first, _, last = span.partition("-")
    if not first.strip().isdigit() or not last.strip().isdigit() or int(last) < int(first):
        return None
    return int(first), int(last) + 1


class UrlConnector(Connector):
    """One URL (or folder of URLs), read with HEAD and ranged, streamed GETs."""

    kind: ClassVar[str] = "url"
    capabilities: ClassVar[Capabilities] = Capabilities(input=True, output=False)

    def __init__(
        self,
        params: UrlParams,
        credentials: Credentials | None = None,
        *,
        allow_private: bool = False,
        chunk_size: int = DEFAULT_CHUNK,
    ) -> None:
        self.base = params.url
        self.timeout = params.timeout
        self.chunk_size = chunk_size
        self.allow_private = allow_private
        self._auth = _auth_headers(params, credentials)
        self._headers = {"User-Agent": f"headwater/{__version__}", "Accept-Encoding": "identity", **params.headers}
        self._client: httpx.AsyncClient | None = None
        path = urlsplit(self.base).path
        self.is_folder = path.endswith("/")
        self.basename = "" if self.is_folder else unquote(path.rsplit("/", 1)[-1])

    # -- addressing ---------------------------------------------------------

    def url_for(self, path: str) -> str:
        """The URL of a path inside the source (the empty path, or a file URL's basename, is the URL itself)."""
        if path == "" or (not self.is_folder and path == self.basename):
            return self.base
        parts = urlsplit(self.base)
        joined = parts.path.rstrip("/") + "/" + quote(path, safe="/!$&'()*+,;=:@~")
        return urlunsplit((parts.scheme, parts.netloc, joined, parts.query, ""))

    def _name(self, path: str) -> str:
        return path.rsplit("/", 1)[-1] if path else (self.basename or (urlsplit(self.base).hostname or ""))

    # -- HTTP -------------------------------------------------------------------

    def _http(self) -> httpx.AsyncClient:
        if self._client is None:
            self._client = httpx.AsyncClient(
                transport=_GuardedTransport(self.allow_private), follow_redirects=False, trust_env=False
            )
        return self._client

    async def _check_endpoint(self, url: str) -> None:
        await anyio.to_thread.run_sync(partial(endpoints.check_url, url, allow_private=self.allow_private))

    async def send(
        self, method: str, path: str, headers: dict[str, str] | None = None, timeout: float | None = None
    ) -> tuple[httpx.Response, str]:
        """Send a request, following redirects one checked hop at a time; return the open response and its URL.

        The caller must close the response.
        """
        url = self.url_for(path)
        home = _origin(url)
        limit = timeout or self.timeout
        client = self._http()
        for _ in range(MAX_REDIRECTS + 1):
            try:
                await self._check_endpoint(url)
            except InvalidInput:
                raise EndpointRefused(f"{redact_url(url)} is not an http(s) URL the hub can connect to") from None
            sent = {**self._headers, **(headers or {})}
            if self._auth and _origin(url) == home:
                sent.update(self._auth)
            request = client.build_request(
                method, url, headers=sent, timeout=httpx.Timeout(limit, connect=min(limit, CONNECT_TIMEOUT))
            )
            try:
                response = await client.send(request, stream=True)
            except httpx.HTTPError as exc:
                raise classify_transport_error(exc, url) from None
            location = response.headers.get("location")
            if response.status_code not in REDIRECTS or not location:
                return response, url
            await response.aclose()
            target = urljoin(url, location.strip())
            if urlsplit(target).scheme not in ("http", "https"):
                raise EndpointRefused(f"{redact_url(url)} redirected to a non-HTTP(S) location: refused")
            if response.status_code == 303 and method != "HEAD":
                method = "GET"
            url = target
        raise UpstreamError(f"{redact_url(self.url_for(path))} redirected more than {MAX_REDIRECTS} times")

    async def _head(self, path: str, timeout: float | None = None) -> tuple[httpx.Response, str, int | None]:
        """HEAD the path (a one-byte GET where HEAD is refused); the response, its URL and the size.

        A presigned S3 or GCS link is signed for GET alone and answers HEAD with 403, so a
        refused HEAD (403, 405, 501) is retried as `GET` of `bytes=0-0`, the size read from
        `Content-Range`; if that GET is refused too, its answer is the one reported.
        """
        response, url = await self.send("HEAD", path, timeout=timeout)
        if response.status_code in HEAD_REFUSED:
            await response.aclose()
            response, url = await self.send("GET", path, {"Range": "bytes=0-0"}, timeout=timeout)
            if response.status_code == 206:
                return response, url, _total_from_content_range(response.headers.get("content-range"))
        length = response.headers.get("content-length")
        return response, url, int(length) if length and length.isdigit() and response.status_code < 300 else None

    # -- the interface ------------------------------------------------------

    async def check(self, *, write: bool = False) -> None:
        if write:
            raise NotSupported("a url source is input-only: give it access 'read'")
        response, url, _ = await self._head("", timeout=min(self.timeout, CHECK_TIMEOUT))
        try:
            if self.is_folder and response.status_code in (404, 410):
                return  # a folder URL need not exist as a resource itself
            raise_for_status(response, url, authenticated=bool(self._auth))
        finally:
            await response.aclose()

    async def stat(self, path: str) -> Entry:
        if path == "" and self.is_folder:
            return Entry(name="", is_dir=True)
        response, url, size = await self._head(path)
        try:
            raise_for_status(response, url, authenticated=bool(self._auth))
            headers = response.headers
            return Entry(
                name=self._name(path),
                is_dir=False,
                size=size,
                modified=_modified(headers.get("last-modified")),
                etag=headers.get("etag"),
                content_type=headers.get("content-type"),
            )
        finally:
            await response.aclose()

    async def read(
        self, path: str, start: int | None = None, end: int | None = None, *, options: Mapping[str, str] | None = None
    ) -> AsyncIterator[bytes]:
        if path == "" and self.is_folder:
            raise InvalidInput("a folder URL is not a file: address a file under it")
        first = start or 0
        if end is not None and end <= first:
            return
        headers = {"Range": f"bytes={first}-{'' if end is None else end - 1}"} if (first or end is not None) else {}
        response, url = await self.send("GET", path, headers)
        try:
            raise_for_status(response, url, authenticated=bool(self._auth))
            skip = 0
            if response.status_code == 206:
                span = (response.headers.get("content-range") or "").removeprefix("bytes ").split("-", 1)[0].strip()
                if not span.isdigit() or int(span) != first:
                    raise UpstreamError(f"{redact_url(url)} answered a different range than asked")
            elif headers:
                skip = first  # the server ignored the range: drop what comes before it
            remaining = None if end is None else end - first
            async for chunk in self._body(response, url, skip, remaining):
                yield chunk
        finally:
            await response.aclose()

    async def open_read(
        self, path: str, span: Span | None = None, *, options: Mapping[str, str] | None = None
    ) -> Opened:
        """One GET (ranged when asked): the size, ETag and modification time come from its answer."""
        if path == "" and self.is_folder:
            raise NotAFile("a folder URL is not a file: address a file under it")
        response, url = await self.send("GET", path, {"Range": span.header} if span is not None else None)
        try:
            if response.status_code == 416 and span is not None:
                total = _total_from_content_range(response.headers.get("content-range"))
                raise RangeNotSatisfiable(f"range {span.header!r} is outside the file", total)
            raise_for_status(response, url, authenticated=bool(self._auth))
            headers = response.headers
            served: tuple[int, int] | None = None
            skip, remaining = 0, None
            if response.status_code == 206 and span is not None:
                size = _total_from_content_range(headers.get("content-range"))
                served = _served_range(headers.get("content-range"))
                if served is None:
                    raise UpstreamError(f"{redact_url(url)} answered a range it did not describe")
            else:
                length = headers.get("content-length")
                size = int(length) if length and length.isdigit() else None
                if span is not None and size is not None:  # the server ignored the range: cut it out here
                    served = span.resolve(size)
                    skip, remaining = served[0], served[1] - served[0]
            entry = Entry(
                name=self._name(path),
                is_dir=False,
                size=size,
                modified=_modified(headers.get("last-modified")),
                etag=headers.get("etag"),
                content_type=headers.get("content-type"),
            )
        except BaseException:
            await response.aclose()
            raise
        return Opened(entry, served, self._body(response, url, skip, remaining), release=response.aclose)

    async def _body(self, response: httpx.Response, url: str, skip: int, remaining: int | None) -> AsyncIterator[bytes]:
        """The answer's bytes after the first `skip`, at most `remaining` of them, in network-sized pieces."""
        try:
            async for raw in response.aiter_raw():
                piece = raw
                if skip:
                    if len(piece) <= skip:
                        skip -= len(piece)
                        continue
                    piece, skip = piece[skip:], 0
                if remaining is not None:
                    piece = piece[:remaining]
                    remaining -= len(piece)
                if piece:
                    yield piece
                if remaining == 0:
                    break
        except httpx.HTTPError as exc:
            raise classify_transport_error(exc, url) from None

    async def list(self, path: str, marker: str | None = None, limit: int = PAGE_SIZE) -> Listing:
        if path == "" and not self.is_folder:
            if marker:
                return Listing([], [])
            return Listing([], [await self.stat("")])
        raise NotSupported("a url source has no directory listing: address its files by path")

    async def close(self) -> None:
        if self._client is not None:
            client, self._client = self._client, None
            await client.aclose()


def _build(params: UrlParams, credentials: Credentials | None, ctx: BuildContext) -> Connector:
    return UrlConnector(params, credentials, allow_private=ctx.allow_private_endpoints, chunk_size=ctx.chunk_size)


KIND = Kind(
    name="url",
    title="HTTP(S) URL",
    description="A file, or a folder of files, over HTTP or HTTPS; input only. Optional basic, bearer or header credentials from an http secret.",
    params=UrlParams,
    capabilities=UrlConnector.capabilities,
    build=_build,
    credentials="optional",
    secret_types=("http", "generic", "other"),
)
