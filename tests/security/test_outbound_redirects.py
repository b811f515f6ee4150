"""Finding 6: an S3 endpoint that redirects the hub to a refused address gets nothing from it.

The endpoint is an allowed loopback server that answers every request with
`307 Location: http(s)://0.0.0.0:PORT/...`; behind that address a second real server serves
secret-looking bytes (on Linux, 0.0.0.0 reaches local listeners, as a metadata address would
reach the cloud's credential service). 0.0.0.0 is refused whatever the operator allows, so
the hub must answer `endpoint_refused` naming it, and the second server must never be asked.
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import pytest

from tests.fixtures.hub import RunningHub

SECRET = b'{"AccessKeyId": "ASIA-STOLEN", "SecretAccessKey": "metadata-secret-9f2c"}'
GOOD = b"the object the endpoint really holds"
MODIFIED = "Fri, 17 May 2024 08:30:00 GMT"


@dataclass
class Served:
    """A loopback HTTP server and the request lines it saw."""

    port: int
    seen: list[str] = field(default_factory=list)


def serve(
    answer: Callable[[BaseHTTPRequestHandler], None], host: str = "127.0.0.1", port: int = 0
) -> tuple[ThreadingHTTPServer, Served]:
    served = Served(0)

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args: object) -> None:
            pass

        def do_GET(self) -> None:
            served.seen.append(f"{self.command} {self.path}")
            answer(self)

        do_HEAD = do_GET

    server = ThreadingHTTPServer((host, port), Handler)
    served.port = server.server_address[1]
    threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True).start()
    return server, served


def object_answer(body: bytes) -> Callable[[BaseHTTPRequestHandler], None]:
    """Answers every GET and HEAD as S3 answers for an object holding `body`."""

    def answer(handler: BaseHTTPRequestHandler) -> None:
        handler.send_response(200)
        handler.send_header("Content-Length", str(len(body)))
        handler.send_header("Last-Modified", MODIFIED)
        handler.send_header("ETag", '"0123456789abcdef"')
        handler.end_headers()
        if handler.command == "GET":
            handler.wfile.write(body)

    return answer


def redirect_answer(location: Callable[[BaseHTTPRequestHandler], str]) -> Callable[[BaseHTTPRequestHandler], None]:
    def answer(handler: BaseHTTPRequestHandler) -> None:
        handler.send_response(307)
        handler.send_header("Location", location(handler))
        handler.send_header("Content-Length", "0")
        handler.end_headers()

    return answer


@pytest.fixture
def secret_server() -> Iterator[Served]:
    """What lies behind the refused address: bytes no source may ever read."""
    server, served = serve(object_answer(SECRET))
    yield served
    server.shutdown()
    server.server_close()


def s3_source(client: httpx.Client, endpoint: str) -> tuple[str, str]:
    """An anonymous s3 source on `endpoint`: its label and id."""
    label = f"redir{uuid.uuid4().hex[:6]}"
    created = client.post(
        "/v1/sources",
        json={
            "protocol": "s3",
            "label": label,
            "access": "read",
            "params": {"endpoint": endpoint, "region": "us-east-1", "bucket": "bucket"},
        },
    )
    assert created.status_code == 201, created.text
    return label, created.json()["id"]


@pytest.mark.parametrize("scheme", ["http", "https"])
def test_a_redirect_to_a_refused_address_is_refused_and_its_bytes_never_served(
    sqlite_hub: RunningHub, secret_server: Served, scheme: str
) -> None:
    target = f"{scheme}://0.0.0.0:{secret_server.port}/latest/meta-data/iam/security-credentials/role"
    server, endpoint = serve(redirect_answer(lambda _: target))
    try:
        with sqlite_hub.client(sqlite_hub.token()) as client:
            label, source_id = s3_source(client, f"http://127.0.0.1:{endpoint.port}")
            response = client.get(f"/v1/connector/s3+{label}/report.csv")
            assert response.status_code == 403, response.text
            error = response.json()["error"]
            assert error["code"] == "endpoint_refused"
            assert f"0.0.0.0:{secret_server.port}" in error["message"]
            assert SECRET not in response.content

            tested = client.post(f"/v1/sources/{source_id}/test").json()["state"]
            assert tested["code"] == "308" and "0.0.0.0" in tested["reason"]
    finally:
        server.shutdown()
        server.server_close()
    assert endpoint.seen, "the endpoint itself was asked"
    assert secret_server.seen == []
    assert not any(SECRET.decode() in entry for entry in sqlite_hub.transcript)


def test_a_redirect_to_a_refused_metadata_address_is_refused_before_any_connection(sqlite_hub: RunningHub) -> None:
    server, endpoint = serve(redirect_answer(lambda _: "http://169.254.169.254/latest/meta-data/"))
    try:
        with sqlite_hub.client(sqlite_hub.token()) as client:
            label, _ = s3_source(client, f"http://127.0.0.1:{endpoint.port}")
            response = client.get(f"/v1/connector/s3+{label}/key")
        assert response.status_code == 403 and response.json()["error"]["code"] == "endpoint_refused"
        assert "169.254.169.254" in response.json()["error"]["message"]
    finally:
        server.shutdown()
        server.server_close()


def test_a_redirect_within_the_endpoint_is_still_followed(sqlite_hub: RunningHub) -> None:
    def answer(handler: BaseHTTPRequestHandler) -> None:
        if handler.path.startswith("/bucket/moved/"):
            object_answer(GOOD)(handler)
        else:
            redirect_answer(lambda h: "/bucket/moved/" + h.path.rsplit("/", 1)[-1])(handler)

    server, endpoint = serve(answer)
    try:
        with sqlite_hub.client(sqlite_hub.token()) as client:
            label, _ = s3_source(client, f"http://127.0.0.1:{endpoint.port}")
            response = client.get(f"/v1/connector/s3+{label}/data.bin")
        assert response.status_code == 200, response.text
        assert response.content == GOOD
        assert "GET /bucket/moved/data.bin" in endpoint.seen
    finally:
        server.shutdown()
        server.server_close()
