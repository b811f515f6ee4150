"""The guarded proxy on its own: only its own process may use it, it forwards plain http and
tunnels https faithfully, and it refuses (and says why) every connection the endpoint policy refuses."""

from __future__ import annotations

import base64
import logging
import os
import socket
import ssl
import threading
import time
from urllib.parse import urlsplit

import httpx
import pytest
from hypothesis import given
from hypothesis import strategies as st

from headwater.connectors import guarded_proxy
from headwater.connectors.guarded_proxy import Policy, _split_authority, _where
from headwater.errors import EndpointRefused, UpstreamUnavailable
from tests.fixtures.http_server import HttpServer
from tests.fixtures.network import free_port


def raw_exchange(port: int, request: bytes) -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(request)
        received = b""
        while chunk := sock.recv(65536):
            received += chunk
        return received


def trusting(server: HttpServer) -> ssl.SSLContext:
    """A context that trusts the test server's self-signed certificate, and nothing else."""
    host, port = urlsplit(server.https_url).hostname, urlsplit(server.https_url).port
    context = ssl.create_default_context(cadata=ssl.get_server_certificate((host, port)))  # type: ignore[arg-type]
    return context


@pytest.fixture
def private() -> guarded_proxy.Route:
    return guarded_proxy.route(allow_private=True, connect_timeout=5)


def test_one_proxy_per_process_on_loopback(private: guarded_proxy.Route) -> None:
    other = guarded_proxy.route(allow_private=False, connect_timeout=5)
    assert other.proxy is private.proxy and other.policy.tag != private.policy.tag
    parts = urlsplit(private.url)
    assert parts.hostname == "127.0.0.1" and parts.password == private.proxy.password
    assert private.proxy.password not in repr(private)


def test_a_client_without_the_password_is_not_relayed(private: guarded_proxy.Route, http_server: HttpServer) -> None:
    before = len(http_server.requests)
    port = private.proxy.port
    target = f"127.0.0.1:{http_server.port}"
    for request in (
        f"GET http://{target}/files/hello.txt HTTP/1.1\r\nHost: {target}\r\n\r\n".encode(),
        f"CONNECT {target} HTTP/1.1\r\nHost: {target}\r\n\r\n".encode(),
        f"GET http://{target}/files/hello.txt HTTP/1.1\r\nProxy-Authorization: Basic cHJpdmF0ZS41MDAwLmFiYzp3cm9uZw==\r\n\r\n".encode(),
    ):
        answer = raw_exchange(port, request)
        assert answer.startswith(b"HTTP/1.1 407 "), answer
    wrong = private.url.replace(private.proxy.password, "0" * len(private.proxy.password))
    with httpx.Client(proxy=wrong) as client:
        assert client.get(f"{http_server.url}/files/hello.txt").status_code == 407
    assert len(http_server.requests) == before


def test_a_policy_can_only_be_named_by_the_process_that_holds_the_password(private: guarded_proxy.Route) -> None:
    assert Policy.parse("private.5000.abc") == Policy(True, 5.0, "abc")
    for user in ("", "private", "admin.5000.abc", "private.x.abc", "private.5000.a-b", "private.5000.abc.d"):
        assert Policy.parse(user) is None


def test_plain_http_is_forwarded_without_the_proxy_credentials(
    private: guarded_proxy.Route, http_server: HttpServer
) -> None:
    with httpx.Client(proxy=private.url) as client:
        response = client.get(f"{http_server.url}/files/data.bin", headers={"Range": "bytes=10-19"})
        assert response.status_code == 206 and response.content == http_server.files["data.bin"][10:20]
        whole = client.get(f"{http_server.url}/files/big.bin")
        assert whole.content == http_server.files["big.bin"]
    seen = http_server.seen("/files/data.bin")[-1]
    assert not any(name.lower().startswith("proxy-") for name in seen.headers)
    assert private.failure() is None


def test_https_is_tunnelled_end_to_end(private: guarded_proxy.Route, http_server: HttpServer) -> None:
    with httpx.Client(proxy=private.url, verify=trusting(http_server)) as client:
        response = client.get(f"{http_server.https_url}/files/big.bin")
    assert response.status_code == 200 and response.content == http_server.files["big.bin"]


def authorised(route: guarded_proxy.Route, start: str) -> bytes:
    """A request head to the proxy with the route's own credentials (as obstore sends it)."""
    user, password = urlsplit(route.url).username, urlsplit(route.url).password
    pair = base64.b64encode(f"{user}:{password}".encode()).decode()
    return f"{start} HTTP/1.1\r\nHost: x\r\nProxy-Authorization: Basic {pair}\r\n\r\n".encode()


@pytest.mark.parametrize("address", ["0.0.0.0", "169.254.169.254", "[::]", "[::ffff:169.254.169.254]", "[fe80::1]"])
def test_refused_addresses_are_refused_at_connect_time_and_the_reason_kept(
    private: guarded_proxy.Route, address: str, caplog: pytest.LogCaptureFixture
) -> None:
    port = free_port()
    shown = address.strip("[]").rsplit(":", 1)[-1] if "ffff" in address else address.strip("[]")
    with caplog.at_level(logging.WARNING):
        for start in (
            f"GET http://{address}:{port}/latest/meta-data/?X-Amz-Signature=s3cr3t",
            f"CONNECT {address}:{port}",
        ):
            answer = raw_exchange(private.proxy.port, authorised(private, start))
            assert answer.startswith(b"HTTP/1.1 403 "), answer
            refused = private.failure()
            assert isinstance(refused, EndpointRefused) and shown in refused.message
            assert private.failure() is None  # reported once
    logged = "\n".join(caplog.messages)
    assert "refused" in logged
    assert "meta-data" not in logged and "s3cr3t" not in logged and private.proxy.password not in logged


def test_clients_see_a_refusal_as_an_error(private: guarded_proxy.Route) -> None:
    port = free_port()
    with httpx.Client(proxy=private.url) as client:
        assert client.get(f"http://0.0.0.0:{port}/").status_code == 403
        with pytest.raises(httpx.ProxyError):
            client.get(f"https://169.254.169.254:{port}/")
    assert isinstance(private.failure(), EndpointRefused)


def test_a_public_route_refuses_loopback(http_server: HttpServer) -> None:
    public = guarded_proxy.route(allow_private=False, connect_timeout=5)
    with httpx.Client(proxy=public.url) as client:
        assert client.get(f"{http_server.url}/files/hello.txt").status_code == 403
    refused = public.failure()
    assert isinstance(refused, EndpointRefused) and "private endpoints" in refused.message


def test_a_redirect_to_a_refused_address_is_refused_before_it_reaches_the_client(
    private: guarded_proxy.Route, http_server: HttpServer
) -> None:
    with httpx.Client(proxy=private.url) as client:
        hop = client.get(f"{http_server.url}/redirect", params={"to": "http://0.0.0.0:9/x", "code": "307"})
        assert hop.status_code == 403 and "location" not in hop.headers
        same_host = client.get(f"{http_server.url}/redirect", params={"to": "/files/hello.txt", "code": "302"})
        assert same_host.status_code == 302 and same_host.headers["location"] == "/files/hello.txt"
    refused = private.failure()
    assert isinstance(refused, EndpointRefused) and "0.0.0.0:9" in refused.message


def test_an_unreachable_target_is_a_gateway_error(private: guarded_proxy.Route) -> None:
    with httpx.Client(proxy=private.url) as client:
        assert client.get(f"http://127.0.0.1:{free_port()}/").status_code == 502
    assert isinstance(private.failure(), UpstreamUnavailable)


_hosts = st.one_of(
    st.from_regex(r"[a-z0-9]([a-z0-9-]{0,20}[a-z0-9])?(\.[a-z0-9]{1,10}){0,3}", fullmatch=True),
    st.ip_addresses().map(str),
)


@given(host=_hosts, port=st.integers(1, 65535))
def test_an_authority_reads_back_as_the_host_and_port_it_names(host: str, port: int) -> None:
    assert _split_authority(_where(host, port), 80) == (host, port)


@given(st.text(max_size=60))
def test_an_authority_never_yields_userinfo_or_a_bad_port(text: str) -> None:
    found = _split_authority(text, 443)
    if found is not None:
        host, port = found
        assert "@" not in host and host and 0 < port < 65536


def test_without_splice_the_relay_copies_the_same_bytes(
    private: guarded_proxy.Route, http_server: HttpServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delattr(os, "splice")
    with httpx.Client(proxy=private.url, verify=trusting(http_server)) as client:
        assert client.get(f"{http_server.https_url}/files/big.bin").content == http_server.files["big.bin"]
        assert client.get(f"{http_server.url}/files/data.bin").content == http_server.files["data.bin"]


def test_a_request_the_guard_could_not_attribute_is_reported_as_a_refusal() -> None:
    """An https endpoint redirecting to plain http elsewhere: the client drops its proxy credentials."""
    from headwater.connectors.s3 import translate

    error = translate(
        Exception(
            "Error performing GET in 2ms - Server returned non-2xx status code: 407 Proxy Authentication Required: "
        ),
        "s3.example.com",
        "bucket",
        "key",
    )
    assert isinstance(error, EndpointRefused) and "another host over plain http" in error.message


# -- kept connections ---------------------------------------------------------------------


def test_small_reads_share_one_kept_backend_connection(private: guarded_proxy.Route, http_server: HttpServer) -> None:
    before = len(http_server.requests)
    with httpx.Client(proxy=private.url) as client:
        for _ in range(4):
            assert client.get(f"{http_server.url}/files/hello.txt").content == http_server.files["hello.txt"]
        assert client.head(f"{http_server.url}/files/data.bin").headers["content-length"] == str(
            len(http_server.files["data.bin"])
        )
        assert client.get(f"{http_server.url}/files/data.bin").content == http_server.files["data.bin"]
    peers = {r.peer for r in http_server.requests[before:]}
    assert len(http_server.requests) - before == 6 and len(peers) == 1
    assert private.failure() is None


def raw_requests(route: guarded_proxy.Route, starts: list[tuple[guarded_proxy.Route, str]]) -> list[bytes]:
    """Requests sent one after the other on one connection to the proxy; each answer's head and body."""
    answers = []
    with socket.create_connection(("127.0.0.1", route.proxy.port), timeout=10) as sock:
        stream = sock.makefile("rb")
        for who, start in starts:
            sock.sendall(authorised(who, start))
            head = b""
            while not head.endswith(b"\r\n\r\n"):
                line = stream.readline()
                if not line:
                    break
                head += line
            length = next(
                (
                    int(line.split(b":")[1])
                    for line in head.split(b"\r\n")
                    if line.lower().startswith(b"content-length:")
                ),
                0,
            )
            answers.append(head + stream.read(length))
    return answers


def test_a_kept_connection_serves_only_the_target_and_policy_it_was_checked_for(
    private: guarded_proxy.Route, http_server: HttpServer
) -> None:
    public = guarded_proxy.route(allow_private=False, connect_timeout=5)
    before = len(http_server.requests)
    target = f"127.0.0.1:{http_server.port}"
    answers = raw_requests(
        private,
        [
            (private, f"GET http://{target}/files/hello.txt"),
            (public, f"GET http://{target}/files/hello.txt"),  # the same target under a policy that refuses it
        ],
    )
    assert answers[0].startswith(b"HTTP/1.1 200 ") and answers[0].endswith(http_server.files["hello.txt"])
    assert answers[1].startswith(b"HTTP/1.1 403 ")
    assert isinstance(public.failure(), EndpointRefused)
    assert len(http_server.requests) == before + 1
    answers = raw_requests(
        private,
        [
            (private, f"GET http://{target}/files/hello.txt"),
            (private, f"GET http://localhost:{http_server.port}/files/hello.txt"),  # another name: checked anew
        ],
    )
    assert all(a.startswith(b"HTTP/1.1 200 ") for a in answers)
    assert len({r.peer for r in http_server.requests[before + 1 :]}) == 2


def test_a_kept_connection_is_checked_again_before_every_reuse(
    private: guarded_proxy.Route, http_server: HttpServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An address refused after its connection was made (a policy change) is not reached again on it."""
    target = f"127.0.0.1:{http_server.port}"
    before = len(http_server.requests)
    with socket.create_connection(("127.0.0.1", private.proxy.port), timeout=10) as sock:
        sock.sendall(authorised(private, f"GET http://{target}/files/hello.txt"))
        first = b""
        while not first.endswith(http_server.files["hello.txt"]):
            first += sock.recv(65536)

        def refuse(ip: object, *, allow_private: bool) -> None:
            raise EndpointRefused(f"address {ip} refused")

        monkeypatch.setattr(guarded_proxy.endpoints, "check_ip", refuse)
        sock.sendall(authorised(private, f"GET http://{target}/files/hello.txt"))
        second = sock.recv(65536)
    assert second.startswith(b"HTTP/1.1 403 ")
    assert len(http_server.requests) == before + 1
    assert isinstance(private.failure(), EndpointRefused)


class ScriptedBackend:
    """A raw HTTP backend on loopback answering each request with the next scripted bytes, then
    closing the connection where the script says so; it counts the connections it accepted."""

    def __init__(self, answers: list[tuple[bytes, bool]]) -> None:
        self.answers = list(answers)
        self.connections = 0
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while self.answers:
            conn, _ = self.listener.accept()
            self.connections += 1
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, conn: socket.socket) -> None:
        with conn:
            pending = b""
            while self.answers:
                while b"\r\n\r\n" not in pending:
                    chunk = conn.recv(65536)
                    if not chunk:
                        return
                    pending += chunk
                _, _, pending = pending.partition(b"\r\n\r\n")
                answer, close = self.answers.pop(0)
                conn.sendall(answer)
                if close:
                    return


def test_a_backend_that_closed_a_kept_connection_is_asked_again_on_a_new_one(private: guarded_proxy.Route) -> None:
    backend = ScriptedBackend(
        [
            (b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\none", True),  # then it drops the connection, unannounced
            (b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\ntwo", False),
        ]
    )
    with httpx.Client(proxy=private.url) as client:
        assert client.get(f"http://127.0.0.1:{backend.port}/a").content == b"one"
        time.sleep(0.2)
        assert client.get(f"http://127.0.0.1:{backend.port}/b").content == b"two"
    assert backend.connections == 2


def test_chunked_and_close_delimited_bodies_are_relayed_whole(private: guarded_proxy.Route) -> None:
    backend = ScriptedBackend(
        [
            (
                b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5;x=1\r\nhello\r\n6\r\n world\r\n0\r\nX-T: 1\r\n\r\n",
                False,
            ),
            (b"HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\nnext", False),
            (b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\nuntil the end", True),
        ]
    )
    with httpx.Client(proxy=private.url) as client:
        assert client.get(f"http://127.0.0.1:{backend.port}/chunked").content == b"hello world"
        assert client.get(f"http://127.0.0.1:{backend.port}/length").content == b"next"
        assert client.get(f"http://127.0.0.1:{backend.port}/closing").content == b"until the end"
    assert backend.connections == 1
