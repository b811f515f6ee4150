"""Finding 6, second half: a name that resolves differently after the endpoint check.

The hub's resolver (Python's `socket.getaddrinfo`, patched for one name and port) is made to
answer what an attacker's DNS would: an allowed address when the endpoint is checked, and
another one afterwards. The connection must go to the address that was checked, or be refused:
never to the other one, where a second real server waits with secret-looking bytes. The S3
family, the `url` kind and both databases are held to it.

Two loopback servers share one port: the good one on 127.0.0.2, the secret one on 127.0.0.1
(which 0.0.0.0 also reaches, and which the system resolver gives for `localhost`).
"""

from __future__ import annotations

import socket
import threading
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import ThreadingHTTPServer

import pytest

from tests.fixtures.hub import RunningHub
from tests.security.test_outbound_redirects import GOOD, SECRET, Served, object_answer, serve

NAME = "localhost"
GOOD_ADDRESS = "127.0.0.2"

Answer = Callable[[int], str]


@dataclass
class Twins:
    """The good server and the secret one, on one port."""

    port: int
    good: Served
    secret: Served
    servers: list[ThreadingHTTPServer] = field(default_factory=list)


@pytest.fixture
def twins() -> Iterator[Twins]:
    for _ in range(20):
        good_server, good = serve(object_answer(GOOD), host=GOOD_ADDRESS)
        try:
            secret_server, secret = serve(object_answer(SECRET), port=good.port)
        except OSError:
            good_server.server_close()
            continue
        break
    else:  # pragma: no cover
        pytest.skip("no port free on both 127.0.0.1 and 127.0.0.2")
    yield Twins(good.port, good, secret, [good_server, secret_server])
    for server in (good_server, secret_server):
        server.shutdown()
        server.server_close()


@pytest.fixture
def rebinding(monkeypatch: pytest.MonkeyPatch) -> Callable[[int, Answer], list[str]]:
    """Make the hub's resolver answer `answer(n)` for the n-th lookup (from 0) of NAME on `port`."""

    def arm(port: int, answer: Answer) -> list[str]:
        given: list[str] = []
        original = socket.getaddrinfo
        lock = threading.Lock()

        def fake(host: object, service: object, *args: object, **kwargs: object) -> list:  # type: ignore[type-arg]
            if host != NAME or str(service) != str(port):
                return original(host, service, *args, **kwargs)  # type: ignore[arg-type]
            with lock:
                address = answer(len(given))
                given.append(address)
            return [(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP, "", (address, port))]

        monkeypatch.setattr(socket, "getaddrinfo", fake)
        return given

    return arm


KINDS = {
    "s3": lambda port: {"endpoint": f"http://{NAME}:{port}", "region": "us-east-1", "bucket": "bucket"},
    "url": lambda port: {"url": f"http://{NAME}:{port}/files/"},
}


def read_through_hub(
    hub: RunningHub, kind: str, port: int, arm: Callable[[], list[str]]
) -> tuple[int, dict, bytes, list[str]]:  # type: ignore[type-arg]
    with hub.client(hub.token()) as client:
        label = f"rebind{uuid.uuid4().hex[:6]}"
        created = client.post(
            "/v1/sources", json={"protocol": kind, "label": label, "access": "read", "params": KINDS[kind](port)}
        )
        assert created.status_code == 201, created.text
        given = arm()
        response = client.get(f"/v1/connector/{kind}+{label}/object.bin")
        body = response.json() if response.status_code != 200 else {}
        return response.status_code, body, response.content, given


@pytest.mark.parametrize("kind", KINDS)
def test_the_connection_goes_to_the_address_that_was_checked(
    sqlite_hub: RunningHub, twins: Twins, rebinding: Callable[[int, Answer], list[str]], kind: str
) -> None:
    """The hub's check sees 127.0.0.2; any resolver of its own (the system's says 127.0.0.1) is not asked."""
    status, _, content, given = read_through_hub(
        sqlite_hub, kind, twins.port, lambda: rebinding(twins.port, lambda n: GOOD_ADDRESS)
    )
    assert status == 200 and content == GOOD
    assert given and set(given) == {GOOD_ADDRESS}
    assert twins.good.seen and twins.secret.seen == []


@pytest.mark.parametrize("kind", KINDS)
def test_a_name_that_resolves_to_a_refused_address_after_the_check_is_refused(
    sqlite_hub: RunningHub, twins: Twins, rebinding: Callable[[int, Answer], list[str]], kind: str
) -> None:
    """Allowed at the check, 0.0.0.0 from then on: every connection is checked on what it really resolves to."""
    status, body, content, given = read_through_hub(
        sqlite_hub, kind, twins.port, lambda: rebinding(twins.port, lambda n: GOOD_ADDRESS if n == 0 else "0.0.0.0")
    )
    assert SECRET not in content
    assert status == 403 and body["error"]["code"] == "endpoint_refused", body
    assert "address 0.0.0.0 " in body["error"]["message"]
    assert given[0] == GOOD_ADDRESS
    assert twins.secret.seen == []


@pytest.mark.parametrize(
    ("protocol", "tls"),
    [
        ("postgres", {"sslmode": "disable"}),
        ("postgres", {"sslmode": "verify-full"}),
        ("mysql", {"ssl": "disable"}),
        ("mysql", {"ssl": "verify-full"}),
    ],
)
def test_a_database_connection_goes_to_the_address_that_was_checked(
    sqlite_hub: RunningHub, rebinding: Callable[[int, Answer], list[str]], protocol: str, tls: dict[str, str]
) -> None:
    """Databases too: the driver is handed the checked address, never the name to resolve again."""
    accepted: dict[str, int] = {}
    listeners: list[socket.socket] = []
    for _ in range(20):
        good = socket.create_server((GOOD_ADDRESS, 0))
        port = good.getsockname()[1]
        try:
            other = socket.create_server(("127.0.0.1", port))
        except OSError:
            good.close()
            continue
        listeners = [good, other]
        break
    stop = threading.Event()

    def accept(listener: socket.socket, name: str) -> None:
        listener.settimeout(0.1)
        while not stop.is_set():
            try:
                conn, _ = listener.accept()
            except OSError:
                continue
            accepted[name] = accepted.get(name, 0) + 1
            conn.close()  # not a database: the connection fails, and only where it went matters

    threads = [
        threading.Thread(target=accept, args=(s, n), daemon=True)
        for s, n in zip(listeners, ("checked", "other"), strict=True)
    ]
    for thread in threads:
        thread.start()
    try:
        with sqlite_hub.client(sqlite_hub.token()) as client:
            secret_id = f"db{uuid.uuid4().hex[:6]}"
            client.post(
                "/v1/secrets",
                json={
                    "id": secret_id,
                    "secretType": "database",
                    "accessKey": "reader",
                    "secretKey": "pw-" + uuid.uuid4().hex,
                },
            ).raise_for_status()
            created = client.post(
                "/v1/sources",
                json={
                    "protocol": protocol,
                    "label": f"db{uuid.uuid4().hex[:6]}",
                    "secretId": secret_id,
                    "access": "read",
                    "params": {"host": NAME, "port": port, "database": "d", "connect_timeout": 2, **tls},
                },
            )
            assert created.status_code == 201, created.text
            rebinding(port, lambda n: GOOD_ADDRESS if n == 0 else "0.0.0.0")
            state = client.post(f"/v1/sources/{created.json()['id']}/test").json()["state"]
        assert not state["healthy"]
        assert accepted.get("checked", 0) >= 1 and "other" not in accepted, (accepted, state)
    finally:
        stop.set()
        for thread in threads:
            thread.join(timeout=2)
        for listener in listeners:
            listener.close()
