"""The guarded forward proxy: every connection obstore opens is resolved, checked and pinned here.

obstore (reqwest underneath) follows HTTP redirects itself and resolves host names itself, so a
source's endpoint checked once is not enough: a `307 Location: http://169.254.169.254/…`, or a
name that resolves elsewhere after the check, would reach an address the endpoint policy refuses.
So every S3 store gets this proxy as its `proxy_url`. For each connection the proxy resolves the
target once, checks every address with `endpoints.check_host` (the one place that decides), and
connects to exactly a checked address; anything else is refused at connect time, whatever URL
obstore was sent to. https comes as `CONNECT` (a byte tunnel: TLS stays end to end); plain http
comes as absolute-form requests, each forwarded on a connection of its own.

The proxy listens on 127.0.0.1 only, in a thread of its own started once per process, and
demands a random per-process password (Proxy-Authorization Basic), so no other local process can
use it as a relay around the policy. The user name carries the connection's policy and a tag;
why a connection failed is kept under its tag for the connector to report as the hub's own
error. Log lines name a host and port only, never a path, a header or a credential.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import logging
import os
import secrets
import threading
from collections import OrderedDict
from dataclasses import dataclass, field
from functools import partial
from urllib.parse import urljoin, urlsplit

from headwater.connectors import endpoints
from headwater.errors import EndpointRefused, HeadwaterError, UpstreamTimeout, UpstreamUnavailable

log = logging.getLogger(__name__)

#: Bytes buffered per direction of a relayed connection.
BUFFER = 1024 * 1024
READ_SIZE = 256 * 1024
#: Request and response heads larger than this are refused.
HEAD_LIMIT = 64 * 1024
HEAD_TIMEOUT = 30.0
#: Failures kept for connectors to report (oldest dropped first).
FAILURES_KEPT = 4096
#: Request headers that belong to the hop to the proxy, not to the request.
HOP_HEADERS = frozenset({"connection", "keep-alive", "proxy-connection", "proxy-authorization", "upgrade", "te"})
RESPONSE_HOP_HEADERS = frozenset({"connection", "keep-alive", "proxy-connection", "upgrade"})


@dataclass(frozen=True)
class Policy:
    """What one client of the proxy may reach, read from its (authenticated) user name."""

    allow_private: bool
    connect_timeout: float
    tag: str

    @property
    def user(self) -> str:
        return f"{'private' if self.allow_private else 'public'}.{round(self.connect_timeout * 1000)}.{self.tag}"

    @classmethod
    def parse(cls, user: str) -> Policy | None:
        parts = user.split(".")
        if len(parts) != 3 or parts[0] not in {"private", "public"} or not parts[1].isdigit() or not parts[2].isalnum():
            return None
        return cls(parts[0] == "private", max(int(parts[1]), 1) / 1000, parts[2])


@dataclass(frozen=True)
class Route:
    """One connector's way out through the guard: the proxy URL to give obstore, and its failures."""

    policy: Policy
    url: str = field(repr=False)
    proxy: GuardedProxy = field(repr=False, compare=False)

    def failure(self) -> HeadwaterError | None:
        """Why the guard last refused or failed a connection of this route, if it did (asked once)."""
        return self.proxy.take_failure(self.policy.tag)


@dataclass
class _Head:
    """A parsed HTTP message head."""

    start: str
    headers: list[tuple[str, str]]

    def get(self, name: str) -> str | None:
        return next((value for key, value in self.headers if key.lower() == name), None)

    def without(self, names: frozenset[str]) -> list[tuple[str, str]]:
        listed = {n.strip().lower() for n in (self.get("connection") or "").split(",") if n.strip()}
        return [(k, v) for k, v in self.headers if k.lower() not in names and k.lower() not in listed]


def _parse_head(raw: bytes) -> _Head | None:
    try:
        text = raw.decode("latin-1")
    except UnicodeDecodeError:  # pragma: no cover - latin-1 decodes every byte
        return None
    lines = text[: -4 if text.endswith("\r\n\r\n") else len(text)].split("\r\n")
    headers: list[tuple[str, str]] = []
    for line in lines[1:]:
        name, sep, value = line.partition(":")
        if not sep or not name or name != name.strip():
            return None
        headers.append((name, value.strip()))
    return _Head(lines[0], headers)


def _render(start: str, headers: list[tuple[str, str]]) -> bytes:
    return ("\r\n".join([start, *(f"{k}: {v}" for k, v in headers)]) + "\r\n\r\n").encode("latin-1")


def _split_authority(authority: str, default_port: int) -> tuple[str, int] | None:
    """`host[:port]` or `[v6]:port` as a host and a port; None when malformed."""
    if "@" in authority or not authority:
        return None
    if authority.startswith("["):
        host, sep, rest = authority[1:].partition("]")
        if not sep or (rest and not rest.startswith(":")):
            return None
        port_text = rest[1:]
    else:
        if authority.count(":") > 1:
            return None
        host, _, port_text = authority.partition(":")
    if not host:
        return None
    if not port_text:
        return host, default_port
    if not port_text.isdigit() or not 0 < int(port_text) < 65536:
        return None
    return host, int(port_text)


def _where(host: str, port: int) -> str:
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


async def _answer(writer: asyncio.StreamWriter, status: int, reason: str, extra: str = "") -> None:
    body = reason.encode()
    writer.write(
        f"HTTP/1.1 {status} {reason}\r\nContent-Type: text/plain\r\nContent-Length: {len(body)}\r\n"
        f"Connection: close\r\n{extra}\r\n".encode() + body
    )
    try:
        await writer.drain()
    except ConnectionError:
        pass


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """Copy bytes until the reader ends or either side fails."""
    try:
        while data := await reader.read(READ_SIZE):
            writer.write(data)
            await writer.drain()
    except (ConnectionError, OSError):
        pass


class GuardedProxy:
    """The running proxy: its port, its password, and the failures it saw, per tag."""

    def __init__(self) -> None:
        self.password = secrets.token_hex(32)
        self.pid = os.getpid()
        self.port = 0
        self._failures: OrderedDict[str, HeadwaterError] = OrderedDict()
        self._lock = threading.Lock()
        self._loop = asyncio.new_event_loop()
        started = threading.Event()
        problem: list[BaseException] = []
        self._thread = threading.Thread(
            target=self._run, args=(started, problem), name="headwater-outbound-guard", daemon=True
        )
        self._thread.start()
        started.wait()
        if problem:
            raise problem[0]

    def _run(self, started: threading.Event, problem: list[BaseException]) -> None:
        asyncio.set_event_loop(self._loop)
        try:
            server = self._loop.run_until_complete(
                asyncio.start_server(self._serve, "127.0.0.1", 0, limit=BUFFER, backlog=512)
            )
            self.port = server.sockets[0].getsockname()[1]
        except BaseException as exc:  # pragma: no cover - a loopback bind cannot normally fail
            problem.append(exc)
            started.set()
            return
        started.set()
        self._loop.run_forever()

    def route(self, *, allow_private: bool, connect_timeout: float) -> Route:
        policy = Policy(allow_private, connect_timeout, secrets.token_hex(8))
        return Route(policy, f"http://{policy.user}:{self.password}@127.0.0.1:{self.port}", self)

    # -- failures, reported to connectors by tag

    def _record(self, tag: str, error: HeadwaterError) -> None:
        with self._lock:
            self._failures[tag] = error
            self._failures.move_to_end(tag)
            while len(self._failures) > FAILURES_KEPT:
                self._failures.popitem(last=False)

    def take_failure(self, tag: str) -> HeadwaterError | None:
        with self._lock:
            return self._failures.pop(tag, None)

    # -- one client connection

    def _authenticate(self, head: _Head) -> Policy | None:
        scheme, _, value = (head.get("proxy-authorization") or "").partition(" ")
        if scheme.lower() != "basic":
            return None
        try:
            user, sep, password = base64.b64decode(value.strip(), validate=True).decode().partition(":")
        except (binascii.Error, UnicodeDecodeError):
            return None
        if not sep or not secrets.compare_digest(password.encode(), self.password.encode()):
            return None
        return Policy.parse(user)

    async def _connect(self, host: str, port: int, policy: Policy) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        """Resolve once, check every address, and connect to a checked one (never resolving again)."""
        loop = asyncio.get_running_loop()
        try:
            addresses = await loop.run_in_executor(
                None, partial(endpoints.check_host, host, port, allow_private=policy.allow_private)
            )
        except HeadwaterError:
            raise
        except Exception:  # a name getaddrinfo cannot even take (too long, bad label)
            raise UpstreamUnavailable(f"host {host!r} could not be resolved") from None
        timed_out = False
        for ip in addresses:
            try:
                return await asyncio.wait_for(
                    asyncio.open_connection(str(ip), port, limit=BUFFER), policy.connect_timeout
                )
            except asyncio.TimeoutError:
                timed_out = True
            except OSError:
                continue
        if timed_out:
            raise UpstreamTimeout(f"{_where(host, port)} did not accept a connection in time")
        raise UpstreamUnavailable(f"{_where(host, port)} could not be reached")

    async def _serve(self, client_r: asyncio.StreamReader, client_w: asyncio.StreamWriter) -> None:
        upstream_w: asyncio.StreamWriter | None = None
        try:
            try:
                raw = await asyncio.wait_for(client_r.readuntil(b"\r\n\r\n"), HEAD_TIMEOUT)
            except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, asyncio.TimeoutError, ConnectionError):
                return
            head = _parse_head(raw) if len(raw) <= HEAD_LIMIT else None
            parts = head.start.split(" ") if head else []
            if head is None or len(parts) != 3 or not parts[2].startswith("HTTP/1."):
                await _answer(client_w, 400, "Bad Request")
                return
            policy = self._authenticate(head)
            if policy is None:
                await _answer(client_w, 407, "Proxy Authentication Required", 'Proxy-Authenticate: Basic realm="headwater"\r\n')
                return
            method, target, version = parts
            tunnel = method == "CONNECT"
            if tunnel:
                found, origin_form = _split_authority(target, 443), ""
            elif target.lower().startswith("http://"):
                rest = target[len("http://"):]
                cut = min((i for i in (rest.find("/"), rest.find("?")) if i >= 0), default=len(rest))
                found, origin_form = _split_authority(rest[:cut], 80), rest[cut:]
                origin_form = origin_form if origin_form.startswith("/") else "/" + origin_form
            else:
                found, origin_form = None, ""
            if found is None:
                await _answer(client_w, 400, "Bad Request")
                return
            host, port = found
            try:
                upstream_r, upstream_w = await self._connect(host, port, policy)
            except HeadwaterError as exc:
                if isinstance(exc, EndpointRefused):
                    exc = EndpointRefused(f"connection to {_where(host, port)} refused: {exc.message}")
                    log.warning("outbound connection refused: %s", exc.message)
                self._record(policy.tag, exc)
                if isinstance(exc, EndpointRefused):
                    await _answer(client_w, 403, "Refused by the hub's endpoint policy")
                else:
                    await _answer(client_w, 502, "Bad Gateway")
                return
            if tunnel:
                client_w.write(b"HTTP/1.1 200 Connection established\r\n\r\n")
                downstream = _pipe(upstream_r, client_w)
            else:
                headers = [*head.without(HOP_HEADERS), ("Connection", "close")]
                upstream_w.write(_render(f"{method} {origin_form} {version}", headers))
                downstream = self._response(upstream_r, client_w, (host, port), policy)
            await self._relay(_pipe(client_r, upstream_w), downstream)
        finally:
            for writer in (client_w, upstream_w):
                if writer is not None:
                    writer.close()

    @staticmethod
    async def _relay(upstream: object, downstream: object) -> None:
        """Both directions at once; when either ends, the connection is over."""
        tasks = [asyncio.ensure_future(upstream), asyncio.ensure_future(downstream)]  # type: ignore[arg-type]
        try:
            await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

    async def _response(
        self, upstream_r: asyncio.StreamReader, client_w: asyncio.StreamWriter, origin: tuple[str, int], policy: Policy
    ) -> None:
        """Forward a plain-http response with `Connection: close`, so its client opens a new connection next time."""
        try:
            while True:
                raw = await upstream_r.readuntil(b"\r\n\r\n")
                head = _parse_head(raw) if len(raw) <= HEAD_LIMIT else None
                if head is None:
                    return
                status = head.start.split(" ", 2)[1] if head.start.count(" ") >= 1 else ""
                if status.startswith("1") and status != "101":
                    client_w.write(raw)  # an interim answer (100 Continue): the real one follows
                    continue
                location = head.get("location")
                if status.startswith("3") and location:
                    refusal = await self._redirect_refusal(location, origin, policy)
                    if refusal is not None:
                        self._record(policy.tag, refusal)
                        log.warning("outbound redirect refused: %s", refusal.message)
                        await _answer(client_w, 403, "Refused by the hub's endpoint policy")
                        return
                client_w.write(_render(head.start, [*head.without(RESPONSE_HOP_HEADERS), ("Connection", "close")]))
                break
        except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, ConnectionError, OSError):
            return
        await _pipe(upstream_r, client_w)

    async def _redirect_refusal(self, location: str, origin: tuple[str, int], policy: Policy) -> HeadwaterError | None:
        """Why a plain-http redirect to another host must not be followed, or None to pass it on.

        The client drops its proxy credentials when it follows a redirect to another host over
        plain http, so the guard could not serve that request anyway: it refuses here, where it
        still knows whose request it was, and says why. https targets pass: their tunnel is
        checked when it is asked for.
        """
        host, port = origin
        try:
            parts = urlsplit(urljoin(f"http://{_where(host, port)}/", location.strip()))
            target = (parts.hostname or "", parts.port or (443 if parts.scheme == "https" else 80))
        except ValueError:
            return EndpointRefused(f"{_where(host, port)} redirected to a malformed location")
        if parts.scheme != "http" or target == (host.lower().strip("[]"), port):
            return None
        where = _where(*target)
        try:
            await asyncio.get_running_loop().run_in_executor(
                None, partial(endpoints.check_host, target[0], target[1], allow_private=policy.allow_private)
            )
        except EndpointRefused as exc:
            return EndpointRefused(f"redirect to {where} refused: {exc.message}")
        except HeadwaterError as exc:
            return exc
        except Exception:
            return UpstreamUnavailable(f"host {target[0]!r} could not be resolved")
        return EndpointRefused(
            f"{_where(host, port)} redirected to {where} over plain http: the hub follows redirects to another host only over https"
        )


_proxy: GuardedProxy | None = None
_proxy_lock = threading.Lock()


def route(*, allow_private: bool, connect_timeout: float) -> Route:
    """A route through this process's guarded proxy (started on first use, again in a forked child)."""
    global _proxy
    with _proxy_lock:
        if _proxy is None or _proxy.pid != os.getpid():
            _proxy = GuardedProxy()
        proxy = _proxy
    return proxy.route(allow_private=allow_private, connect_timeout=connect_timeout)
