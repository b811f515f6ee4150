"""The guarded forward proxy: every connection obstore opens is resolved, checked and pinned here.

obstore (reqwest underneath) follows HTTP redirects itself and resolves host names itself, so a
source's endpoint checked once is not enough: a `307 Location: http://169.254.169.254/…`, or a
name that resolves elsewhere after the check, would reach an address the endpoint policy refuses.
So every S3 store gets this proxy as its `proxy_url`. For each connection the proxy resolves the
target once, checks every address with `endpoints.check_host` (the one place that decides), and
connects to exactly a checked address; anything else is refused at connect time, whatever URL
obstore was sent to. https comes as `CONNECT` (a byte tunnel: TLS stays end to end); plain http
comes as absolute-form requests.

Small reads cost a connection each no more: a client's connection to the proxy is kept between
requests, and a plain-http GET or HEAD goes on the backend connection the previous one used
when it is for the same host, port and policy, still open, and still to the address that was
checked and pinned when it was made (a different target, or a closed connection, gets a new
checked one). Requests with a body, and tunnels, keep a connection of their own that ends with
them.

A plain-http redirect to another host is refused by the proxy itself when it reads the response
(the client would follow it without its proxy credentials), with the refused target named.

The proxy listens on 127.0.0.1 only, started once per process, with a thread per client
connection whose large bodies move socket to socket inside the kernel (`splice`), so large
transfers cost little CPU. It demands a random per-process password (Proxy-Authorization Basic), so no other local
process can use it as a relay around the policy. The user name carries the connection's policy
and a tag; why a connection failed is kept under its tag for the connector to report as the
hub's own error. Log lines name a host and port only, never a path, a header or a credential.
"""

from __future__ import annotations

import base64
import binascii
import errno
import fcntl
import ipaddress
import logging
import os
import secrets
import select
import socket
import threading
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Literal
from urllib.parse import urljoin, urlsplit

from headwater.connectors import endpoints
from headwater.errors import (
    EndpointRefused,
    HeadwaterError,
    UpstreamTimeout,
    UpstreamUnavailable,
)

log = logging.getLogger(__name__)

#: Bytes moved per splice (and the pipe between the two sockets is made this large, where allowed).
RELAY_CHUNK = 1024 * 1024
#: Request and response heads larger than this are refused.
HEAD_LIMIT = 64 * 1024
HEAD_TIMEOUT = 30.0
#: How long a kept client connection may sit idle between requests: longer than the clients' own
#: pool idle time (`POOL_IDLE_SECONDS`), so a client never sends on a connection the proxy just closed.
IDLE_TIMEOUT = 120.0
POOL_IDLE_SECONDS = 30
#: Methods served on kept upstream connections: bodiless and safe to send again on a new connection.
KEPT_METHODS = frozenset({"GET", "HEAD"})
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


def _answer(sock: socket.socket, status: int, reason: str, extra: str = "") -> None:
    body = reason.encode()
    try:
        sock.sendall(
            f"HTTP/1.1 {status} {reason}\r\nContent-Type: text/plain\r\nContent-Length: {len(body)}\r\n"
            f"Connection: close\r\n{extra}\r\n".encode()
            + body
        )
    except OSError:
        pass


class _Reader:
    """Reads message heads off a socket, keeping whatever arrived after them."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.pending = b""

    def head(self) -> bytes | None:
        """The next head, up to and including its blank line; None when it is too long or never ends."""
        while b"\r\n\r\n" not in self.pending:
            if len(self.pending) > HEAD_LIMIT:
                return None
            chunk = self.sock.recv(65536)
            if not chunk:
                return None
            self.pending += chunk
        raw, _, self.pending = self.pending.partition(b"\r\n\r\n")
        return raw + b"\r\n\r\n" if len(raw) <= HEAD_LIMIT else None

    def take(self) -> bytes:
        data, self.pending = self.pending, b""
        return data


def _relay(src: socket.socket, dst: socket.socket) -> None:
    """Move bytes from `src` to `dst` until `src` ends or either fails: in the kernel where it can."""
    try:
        if hasattr(os, "splice") and _splice(src, dst):
            return
        buffer = bytearray(RELAY_CHUNK)
        view = memoryview(buffer)
        while received := src.recv_into(buffer):
            dst.sendall(view[:received])
    except OSError:
        return


def _splice(src: socket.socket, dst: socket.socket) -> bool:
    """Relay with `splice` through a pipe; False if this system cannot splice these sockets (nothing moved then)."""
    pipe_r, pipe_w = os.pipe()
    try:
        try:
            fcntl.fcntl(pipe_w, fcntl.F_SETPIPE_SZ, RELAY_CHUNK)
        except OSError:
            pass  # the system's pipe size cap: the default pipe works, with more calls
        first = True
        while True:
            try:
                moved = os.splice(src.fileno(), pipe_w, RELAY_CHUNK)
            except OSError as exc:
                if first and exc.errno == errno.EINVAL:
                    return False
                raise
            first = False
            if not moved:
                return True
            while moved:
                moved -= os.splice(pipe_r, dst.fileno(), moved)
    finally:
        os.close(pipe_r)
        os.close(pipe_w)


def _bodiless(head: _Head) -> bool:
    """Whether a request is complete with its head: no body declared, neither by length nor by chunks."""
    return head.get("transfer-encoding") is None and (head.get("content-length") or "0").strip() == "0"


def _end(*socks: socket.socket | None) -> None:
    """Shut both sides down, which also wakes the thread relaying the other direction."""
    for sock in socks:
        if sock is not None:
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass


@dataclass
class _Upstream:
    """A connection to a backend, made by `_connect` to an address checked under `key`'s policy."""

    sock: socket.socket
    key: tuple[str, int, bool]  # (host, port, allow_private) it was resolved and checked for
    ip: ipaddress.IPv4Address | ipaddress.IPv6Address

    def usable(self, key: tuple[str, int, bool]) -> bool:
        """Whether a request for `key` may go on this connection: the same target and policy, still
        the checked address it was pinned to, and not closed (nor sending unasked bytes) by the backend."""
        if key != self.key:
            return False
        try:
            endpoints.check_ip(self.ip, allow_private=key[2])
            peer = ipaddress.ip_address(self.sock.getpeername()[0].split("%", 1)[0])
        except (HeadwaterError, OSError, ValueError):
            return False
        if peer != self.ip:
            return False
        readable, _, _ = select.select([self.sock], [], [], 0)
        return not readable  # readable while idle: closed by the backend, or out of step

    def close(self) -> None:
        _end(self.sock)
        self.sock.close()


def _reusable(head: _Head) -> bool:
    """Whether a request may be served on a kept connection: a bodiless GET or HEAD over HTTP/1.1
    that does not ask to close."""
    method, _, version = head.start.split(" ")
    connection = {n.strip().lower() for n in (head.get("connection") or "").split(",")}
    return method in KEPT_METHODS and version == "HTTP/1.1" and _bodiless(head) and "close" not in connection


def _framing(method: str, status: str, head: _Head) -> int | str | None:
    """How a response's body ends: its length, "chunked", or None when it ends with the connection."""
    if method == "HEAD" or status in {"204", "304"}:
        return 0
    coding = head.get("transfer-encoding")
    if coding is not None:
        return "chunked" if coding.strip().lower() == "chunked" else None
    length = (head.get("content-length") or "").strip()
    return int(length) if length.isdigit() else None


def _persists(head: _Head) -> bool:
    """Whether the backend keeps its connection open after this response."""
    connection = {n.strip().lower() for n in (head.get("connection") or "").split(",")}
    if head.start.startswith("HTTP/1.0"):
        return "keep-alive" in connection
    return "close" not in connection


def _relay_exact(reader: _Reader, dst: socket.socket, length: int) -> None:
    """Move exactly `length` body bytes (those already read first); anything short is an `OSError`."""
    first = reader.take()
    if len(first) > length:
        dst.sendall(first[:length])
        reader.pending = first[length:]
        return
    dst.sendall(first)
    remaining = length - len(first)
    if remaining and hasattr(os, "splice") and remaining > 64 * 1024:
        remaining = _splice_exact(reader.sock, dst, remaining)
    while remaining:
        chunk = reader.sock.recv(min(remaining, RELAY_CHUNK))
        if not chunk:
            raise OSError("the backend closed before the end of the body")
        dst.sendall(chunk)
        remaining -= len(chunk)


def _splice_exact(src: socket.socket, dst: socket.socket, remaining: int) -> int:
    """Splice up to `remaining` bytes; the count still to move (all of it if this system cannot splice)."""
    pipe_r, pipe_w = os.pipe()
    try:
        try:
            fcntl.fcntl(pipe_w, fcntl.F_SETPIPE_SZ, RELAY_CHUNK)
        except OSError:
            pass
        first = True
        while remaining:
            try:
                moved = os.splice(src.fileno(), pipe_w, min(remaining, RELAY_CHUNK))
            except OSError as exc:
                if first and exc.errno == errno.EINVAL:
                    return remaining
                raise
            first = False
            if not moved:
                raise OSError("the backend closed before the end of the body")
            remaining -= moved
            while moved:
                moved -= os.splice(pipe_r, dst.fileno(), moved)
        return 0
    finally:
        os.close(pipe_r)
        os.close(pipe_w)


def _line(reader: _Reader) -> bytes:
    """One CRLF-ended line of a chunked body, with its CRLF."""
    while b"\r\n" not in reader.pending:
        if len(reader.pending) > HEAD_LIMIT:
            raise OSError("a chunk line too long")
        chunk = reader.sock.recv(65536)
        if not chunk:
            raise OSError("the backend closed inside a chunked body")
        reader.pending += chunk
    line, _, reader.pending = reader.pending.partition(b"\r\n")
    return line + b"\r\n"


def _relay_chunked(reader: _Reader, dst: socket.socket) -> None:
    """Move a chunked body as it comes, chunk by chunk, through its last chunk and trailers."""
    while True:
        line = _line(reader)
        size_text = line.split(b";", 1)[0].strip()
        try:
            size = int(size_text, 16)
        except ValueError:
            raise OSError("a malformed chunk size") from None
        dst.sendall(line)
        if size == 0:
            while (trailer := _line(reader)) != b"\r\n":
                dst.sendall(trailer)
            dst.sendall(b"\r\n")
            return
        _relay_exact(reader, dst, size + 2)  # the chunk and its CRLF


class GuardedProxy:
    """The running proxy: its port, its password, and the failures it saw, per tag."""

    def __init__(self) -> None:
        self.password = secrets.token_hex(32)
        self.pid = os.getpid()
        self._failures: OrderedDict[str, HeadwaterError] = OrderedDict()
        self._lock = threading.Lock()
        self._listener = socket.create_server(("127.0.0.1", 0), backlog=512)
        self.port: int = self._listener.getsockname()[1]
        threading.Thread(target=self._accept, name="headwater-outbound-guard", daemon=True).start()

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

    # -- connections

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self._listener.accept()
            except OSError:
                continue
            threading.Thread(target=self._serve, args=(client,), name="headwater-outbound-relay", daemon=True).start()

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

    @staticmethod
    def _connect(host: str, port: int, policy: Policy) -> _Upstream:
        """Resolve once, check every address, and connect to a checked one (never resolving again)."""
        try:
            addresses = endpoints.check_host(host, port, allow_private=policy.allow_private)
        except HeadwaterError:
            raise
        except Exception:  # a name getaddrinfo cannot even take (too long, bad label)
            raise UpstreamUnavailable(f"host {host!r} could not be resolved") from None
        timed_out = False
        for ip in addresses:
            sock = socket.socket(socket.AF_INET6 if isinstance(ip, ipaddress.IPv6Address) else socket.AF_INET)
            sock.settimeout(policy.connect_timeout)
            try:
                sock.connect((str(ip), port))
                sock.settimeout(None)
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                return _Upstream(sock, (host.lower(), port, policy.allow_private), ip)
            except TimeoutError:
                timed_out = True
            except OSError:
                pass
            sock.close()
        if timed_out:
            raise UpstreamTimeout(f"{_where(host, port)} did not accept a connection in time")
        raise UpstreamUnavailable(f"{_where(host, port)} could not be reached")

    def _open(self, client: socket.socket, host: str, port: int, policy: Policy) -> _Upstream | None:
        """A new checked, pinned connection; on a refusal or failure the client is answered and None returned."""
        try:
            return self._connect(host, port, policy)
        except HeadwaterError as exc:
            if isinstance(exc, EndpointRefused):
                exc = EndpointRefused(f"connection to {_where(host, port)} refused: {exc.message}")
                log.warning("outbound connection refused: %s", exc.message)
            self._record(policy.tag, exc)
            if isinstance(exc, EndpointRefused):
                _answer(client, 403, "Refused by the hub's endpoint policy")
            else:
                _answer(client, 502, "Bad Gateway")
            return None

    def _serve(self, client: socket.socket) -> None:
        """One client connection: its requests in turn, GETs and HEADs on kept, pinned upstream connections."""
        kept: _Upstream | None = None
        try:
            client.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            reader = _Reader(client)
            served = 0
            while True:
                client.settimeout(HEAD_TIMEOUT if served == 0 or reader.pending else IDLE_TIMEOUT)
                try:
                    raw = reader.head()
                except OSError:
                    return
                if raw is None and served and not reader.pending:
                    return  # the client closed its kept connection between requests
                head = _parse_head(raw) if raw is not None else None
                parts = head.start.split(" ") if head else []
                if head is None or len(parts) != 3 or not parts[2].startswith("HTTP/1."):
                    _answer(client, 400, "Bad Request")
                    return
                policy = self._authenticate(head)
                if policy is None:
                    _answer(
                        client, 407, "Proxy Authentication Required", 'Proxy-Authenticate: Basic realm="headwater"\r\n'
                    )
                    return
                method, target, _ = parts
                tunnel = method == "CONNECT"
                if tunnel:
                    found, origin_form = _split_authority(target, 443), ""
                elif target.lower().startswith("http://"):
                    rest = target[len("http://") :]
                    cut = min((i for i in (rest.find("/"), rest.find("?")) if i >= 0), default=len(rest))
                    found, origin_form = _split_authority(rest[:cut], 80), rest[cut:]
                    origin_form = origin_form if origin_form.startswith("/") else "/" + origin_form
                else:
                    found, origin_form = None, ""
                if found is None:
                    _answer(client, 400, "Bad Request")
                    return
                host, port = found
                served += 1
                client.settimeout(None)  # a head has come: the answer takes what the backend takes
                if not tunnel and _reusable(head):
                    outcome = self._exchange(client, reader, kept, head, (host, port), origin_form, policy)
                    kept = None
                    if outcome is False:
                        return
                    kept = outcome
                    continue
                if kept is not None:
                    kept.close()
                    kept = None
                self._once(client, reader, head, (host, port), origin_form, policy, tunnel)
                return
        except OSError:
            return
        finally:
            _end(client)
            client.close()
            if kept:
                kept.close()

    def _once(
        self,
        client: socket.socket,
        reader: _Reader,
        head: _Head,
        origin: tuple[str, int],
        origin_form: str,
        policy: Policy,
        tunnel: bool,
    ) -> None:
        """A tunnel, or a request with a body, on a connection of its own that ends with it."""
        opened = self._open(client, *origin, policy)
        if opened is None:
            return
        upstream = opened.sock
        try:
            if tunnel:
                client.sendall(b"HTTP/1.1 200 Connection established\r\n\r\n")
                upstream.sendall(reader.take())
            else:
                method, _, version = head.start.split(" ")
                headers = [*head.without(HOP_HEADERS), ("Connection", "close")]
                upstream.sendall(_render(f"{method} {origin_form} {version}", headers) + reader.take())
                if _bodiless(head):
                    # Nothing more goes upstream: answer from this thread, without a second one.
                    self._downstream(upstream, client, origin, policy)
                    return
            back = threading.Thread(
                target=self._downstream, args=(upstream, client, None if tunnel else origin, policy), daemon=True
            )
            back.start()
            _relay(client, upstream)
            _end(client, upstream)
            back.join()
        finally:
            _end(upstream)
            upstream.close()

    def _exchange(
        self,
        client: socket.socket,
        reader: _Reader,
        kept: _Upstream | None,
        head: _Head,
        origin: tuple[str, int],
        origin_form: str,
        policy: Policy,
    ) -> _Upstream | Literal[False] | None:
        """One GET or HEAD on a kept upstream connection (or a new one): the upstream connection to keep
        for the next request (None: none kept), or False when the client connection must end.

        A kept connection is reused only for the same host, port and policy it was checked under,
        to the very address it was pinned to, and only while the backend has not closed it; a
        request the backend closed before answering on a reused connection is sent once more on
        a new one (GET and HEAD only come here: both are safe to repeat).
        """
        host, port = origin
        key = (host.lower(), port, policy.allow_private)
        if kept is not None and not kept.usable(key):
            kept.close()
            kept = None
        method, _, version = head.start.split(" ")
        request = _render(f"{method} {origin_form} {version}", head.without(HOP_HEADERS))
        upstream_reader: _Reader | None = None
        for _ in (0, 1):
            reused = kept is not None
            if kept is None:
                kept = self._open(client, host, port, policy)
                if kept is None:
                    return False
            upstream_reader = _Reader(kept.sock)
            try:
                kept.sock.sendall(request)
                raw = upstream_reader.head()
            except OSError:
                raw = None
            if raw is not None or not reused or upstream_reader.pending:
                break
            kept.close()  # the backend closed a kept connection before answering: once more, on a new one
            kept = None
        assert kept is not None and upstream_reader is not None
        try:
            return self._answer_kept(client, kept, upstream_reader, raw, method, origin, policy)
        except BaseException:
            kept.close()
            raise

    def _answer_kept(
        self,
        client: socket.socket,
        kept: _Upstream,
        upstream_reader: _Reader,
        raw: bytes | None,
        method: str,
        origin: tuple[str, int],
        policy: Policy,
    ) -> _Upstream | Literal[False] | None:
        """Relay a kept connection's response: its head checked (a refused redirect is refused), its body by its framing."""
        while True:
            response = _parse_head(raw) if raw is not None else None
            if response is None:
                kept.close()
                _answer(client, 502, "Bad Gateway")
                return False
            status = response.start.split(" ", 2)[1] if response.start.count(" ") >= 1 else ""
            if not (status.startswith("1") and status != "101"):
                break
            client.sendall(raw or b"")  # an interim answer (100 Continue): the real one follows
            raw = upstream_reader.head()
        location = response.get("location")
        if status.startswith("3") and location:
            refusal = self._redirect_refusal(location, origin, policy)
            if refusal is not None:
                kept.close()
                self._record(policy.tag, refusal)
                log.warning("outbound redirect refused: %s", refusal.message)
                _answer(client, 403, "Refused by the hub's endpoint policy")
                return False
        framing = _framing(method, status, response)
        headers = response.without(RESPONSE_HOP_HEADERS)
        if framing is None:  # a body that ends when the backend closes: so does this client connection
            client.sendall(_render(response.start, [*headers, ("Connection", "close")]) + upstream_reader.take())
            _relay(kept.sock, client)
            kept.close()
            return False
        client.sendall(_render(response.start, headers))
        if isinstance(framing, int):
            _relay_exact(upstream_reader, client, framing)
        else:
            _relay_chunked(upstream_reader, client)
        if upstream_reader.pending or not _persists(response):
            kept.close()  # bytes beyond the response, or the backend closes: not kept
            return None
        return kept

    def _downstream(
        self, upstream: socket.socket, client: socket.socket, origin: tuple[str, int] | None, policy: Policy
    ) -> None:
        """Relay the answers: a tunnel as bytes, a plain-http response after checking and rewriting its head."""
        try:
            if origin is not None:
                self._response_head(upstream, client, origin, policy)
            _relay(upstream, client)
        except OSError:
            pass
        finally:
            _end(client, upstream)

    def _response_head(
        self, upstream: socket.socket, client: socket.socket, origin: tuple[str, int], policy: Policy
    ) -> None:
        """Forward a plain-http response head with `Connection: close` (its client opens a new connection next time)."""
        reader = _Reader(upstream)
        while True:
            raw = reader.head()
            head = _parse_head(raw) if raw is not None else None
            if raw is None or head is None:
                raise OSError("no response head")
            status = head.start.split(" ", 2)[1] if head.start.count(" ") >= 1 else ""
            if status.startswith("1") and status != "101":
                client.sendall(raw)  # an interim answer (100 Continue): the real one follows
                continue
            location = head.get("location")
            if status.startswith("3") and location:
                refusal = self._redirect_refusal(location, origin, policy)
                if refusal is not None:
                    self._record(policy.tag, refusal)
                    log.warning("outbound redirect refused: %s", refusal.message)
                    _answer(client, 403, "Refused by the hub's endpoint policy")
                    raise OSError("redirect refused")
            headers = [*head.without(RESPONSE_HOP_HEADERS), ("Connection", "close")]
            client.sendall(_render(head.start, headers) + reader.take())
            return

    @staticmethod
    def _redirect_refusal(location: str, origin: tuple[str, int], policy: Policy) -> HeadwaterError | None:
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
        if parts.scheme != "http" or target == (host.lower(), port):
            return None
        where = _where(*target)
        try:
            endpoints.check_host(target[0], target[1], allow_private=policy.allow_private)
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
