"""The `url` kind through the hub's HTTP API, against a real HTTP(S) server on loopback."""

from __future__ import annotations

import hashlib
import tracemalloc
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from headwater.connectors.http import UrlConnector, UrlParams
from headwater.errors import EndpointRefused
from tests.fixtures.http_server import BASIC_PASSWORD, BASIC_USER, BEARER_TOKEN, HttpServer
from tests.fixtures.hub import RunningHub, start_hub
from tests.fixtures.network import free_port

SECRETS = (BASIC_PASSWORD, BEARER_TOKEN)


@pytest.fixture
def api(sqlite_hub: RunningHub) -> Iterator[httpx.Client]:
    """A fresh organization's admin on the SQLite hub (the subject here is the kind, not the store)."""
    with sqlite_hub.client(sqlite_hub.token()) as client:
        yield client


@pytest.fixture(scope="module")
def strict_hub(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningHub]:
    """A hub whose operator has not allowed private endpoints."""
    running = start_hub(tmp_path_factory.mktemp("strict-hub"), HEADWATER_ALLOW_PRIVATE_ENDPOINTS="0")
    yield running
    running.stop()


def label() -> str:
    return "u" + uuid.uuid4().hex[:10]


def create_url_source(api: httpx.Client, url: str, *, secret_id: str | None = None, **params: Any) -> dict[str, Any]:
    body: dict[str, Any] = {"protocol": "url", "label": label(), "params": {"url": url, **params}}
    if secret_id:
        body["secretId"] = secret_id
    response = api.post("/v1/sources", json=body)
    assert response.status_code == 201, response.text
    return response.json()


def create_secret(api: httpx.Client, access_key: str | None, secret_key: str) -> str:
    secret_id = "s" + uuid.uuid4().hex[:10]
    body: dict[str, Any] = {"id": secret_id, "secretType": "http", "secretKey": secret_key}
    if access_key is not None:
        body["accessKey"] = access_key
    response = api.post("/v1/secrets", json=body)
    assert response.status_code == 201, response.text
    return secret_id


def run_test(api: httpx.Client, source: dict[str, Any]) -> dict[str, Any]:
    response = api.post(f"/v1/sources/{source['id']}/test")
    assert response.status_code == 200, response.text
    return response.json()["state"]


def data_url(source: dict[str, Any], path: str = "") -> str:
    return f"/v1/connector/url+{source['label']}/{path}"


def assert_no_secret_leaked(hub: RunningHub) -> None:
    everything = "\n".join(hub.transcript + hub.logs.lines)
    for value in SECRETS:
        assert value not in everything


# -- reading ----------------------------------------------------------------------------------


def test_a_file_url_is_healthy_and_lists_its_one_file(api: httpx.Client, http_server: HttpServer) -> None:
    source = create_url_source(api, f"{http_server.url}/files/hello.txt")
    assert source["capabilities"] == {"input": True, "output": False}
    state = run_test(api, source)
    assert state["code"] == "100" and state["healthy"] is True
    listing = api.get(data_url(source)).json()
    assert [f["filename"] for f in listing["files"]] == ["hello.txt"] and listing["files"][0]["size"] == 12
    # The listed name reads back the URL itself.
    response = api.get(data_url(source, "hello.txt"))
    assert response.status_code == 200 and response.content == b"hello world\n"
    head = api.head(data_url(source, "hello.txt"))
    assert head.headers["content-length"] == "12"
    assert head.headers["last-modified"] == "Fri, 17 May 2024 08:30:00 GMT"
    assert head.headers["etag"].startswith('"')
    assert head.headers["content-type"].startswith("text/plain")


def test_ranged_reads_under_a_folder_url_return_206(api: httpx.Client, http_server: HttpServer) -> None:
    data = http_server.files["data.bin"]
    source = create_url_source(api, f"{http_server.url}/files/")
    assert run_test(api, source)["code"] == "100"
    response = api.get(data_url(source, "data.bin"), headers={"Range": "bytes=1000-1999"})
    assert response.status_code == 206
    assert response.headers["content-range"] == f"bytes 1000-1999/{len(data)}"
    assert response.content == data[1000:2000]
    tail = api.get(data_url(source, "data.bin"), headers={"Range": "bytes=-10"})
    assert tail.status_code == 206 and tail.content == data[-10:]
    whole = api.get(data_url(source, "data.bin"))
    assert hashlib.sha256(whole.content).digest() == hashlib.sha256(data).digest()
    missing = api.get(data_url(source, "nope.bin"))
    assert missing.status_code == 404 and missing.json()["error"]["code"] == "not_found"
    folder = api.get(data_url(source))
    assert folder.status_code == 405 and "no directory listing" in folder.json()["error"]["message"]


def test_a_server_that_ignores_ranges_still_yields_the_exact_range(api: httpx.Client, http_server: HttpServer) -> None:
    data = http_server.files["data.bin"]
    source = create_url_source(api, f"{http_server.url}/norange/")
    response = api.get(data_url(source, "data.bin"), headers={"Range": "bytes=2000000-2000999"})
    assert response.status_code == 206 and response.content == data[2_000_000:2_001_000]


@pytest.mark.parametrize(
    ("route", "status"), [("nohead", 405), ("getonly", 403)], ids=["head-not-allowed", "head-forbidden"]
)
def test_where_head_is_refused_a_one_byte_get_answers(
    api: httpx.Client, http_server: HttpServer, route: str, status: int
) -> None:
    source = create_url_source(api, f"{http_server.url}/{route}/data.bin")
    assert run_test(api, source)["code"] == "100"
    head = api.head(data_url(source, "data.bin"))
    assert head.status_code == 200 and head.headers["content-length"] == str(len(http_server.files["data.bin"]))
    sent = http_server.seen(f"/{route}/")
    assert "HEAD" in {r.method for r in sent}, f"the hub never tried HEAD (the server answers it {status})"
    assert all(r.headers.get("Range") == "bytes=0-0" for r in sent if r.method == "GET")  # never the whole file


def test_a_get_refused_after_a_refused_head_is_still_denied(api: httpx.Client, http_server: HttpServer) -> None:
    path = f"/forbidden/{uuid.uuid4().hex}.csv"
    state = run_test(api, create_url_source(api, http_server.url + path))
    assert state["code"] == "302" and "denied access (403)" in state["reason"]
    assert {r.method for r in http_server.seen(path)} == {"HEAD", "GET"}


def test_reads_stream_with_bounded_memory(api: httpx.Client, sqlite_hub: RunningHub, http_server: HttpServer) -> None:
    """48 MiB through the hub (server → hub → client) while the traced peak stays a few MiB."""
    size = len(http_server.files["big.bin"])
    source = create_url_source(api, f"{http_server.url}/files/")
    digest = hashlib.sha256()
    plain = httpx.Client(base_url=sqlite_hub.url, headers={"Authorization": api.headers["Authorization"]}, timeout=60)
    tracemalloc.start()
    try:
        with plain, plain.stream("GET", data_url(source, "big.bin")) as response:
            assert response.status_code == 200
            for chunk in response.iter_raw():
                digest.update(chunk)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert digest.digest() == hashlib.sha256(http_server.files["big.bin"]).digest()
    assert peak < 16 * 1024 * 1024, f"peak {peak} bytes for a {size}-byte read"


# -- credentials ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("user", "password", "code"),
    [(BASIC_USER, BASIC_PASSWORD, "100"), (BASIC_USER, "wrong-" + BASIC_PASSWORD, "301"), (None, None, "301")],
    ids=["right", "wrong", "none"],
)
def test_basic_credentials_come_from_a_secret(
    api: httpx.Client,
    sqlite_hub: RunningHub,
    http_server: HttpServer,
    user: str | None,
    password: str | None,
    code: str,
) -> None:
    secret_id = create_secret(api, user, password) if password else None
    source = create_url_source(api, f"{http_server.url}/basic/hello.txt", secret_id=secret_id)
    state = run_test(api, source)
    assert state["code"] == code, state
    response = api.get(data_url(source, "hello.txt"))
    if code == "100":
        assert response.content == b"hello world\n"
    else:
        assert response.status_code == 502 and response.json()["error"]["code"] == "upstream_auth_failed"
    assert_no_secret_leaked(sqlite_hub)


def test_a_bearer_token_comes_from_a_secret(api: httpx.Client, sqlite_hub: RunningHub, http_server: HttpServer) -> None:
    good = create_url_source(api, f"{http_server.url}/bearer/", secret_id=create_secret(api, None, BEARER_TOKEN))
    assert run_test(api, good)["code"] == "100"  # the folder URL itself is 401 without the token
    assert (
        api.get(data_url(good, "data.bin"), headers={"Range": "bytes=0-3"}).content == http_server.files["data.bin"][:4]
    )
    bad = create_url_source(
        api, f"{http_server.url}/bearer/hello.txt", secret_id=create_secret(api, None, "x" + BEARER_TOKEN)
    )
    state = run_test(api, bad)
    assert state["code"] == "301" and "refused the credentials" in state["reason"]
    # auth: "bearer" explicitly, with an access key present too.
    explicit = create_url_source(
        api, f"{http_server.url}/bearer/hello.txt", secret_id=create_secret(api, "ignored", BEARER_TOKEN), auth="bearer"
    )
    assert run_test(api, explicit)["code"] == "100"
    assert_no_secret_leaked(sqlite_hub)


def test_a_key_in_a_named_header_comes_from_a_secret(
    api: httpx.Client, sqlite_hub: RunningHub, http_server: HttpServer
) -> None:
    secret_id = create_secret(api, None, BEARER_TOKEN)
    source = create_url_source(
        api, f"{http_server.url}/apikey/hello.txt", secret_id=secret_id, auth="header", authHeader="X-Api-Key"
    )
    assert run_test(api, source)["code"] == "100"
    assert source["params"] == {
        "url": f"{http_server.url}/apikey/hello.txt",
        "auth": "header",
        "authHeader": "X-Api-Key",
    }
    missing = api.post(
        "/v1/sources", json={"protocol": "url", "label": label(), "params": {"url": http_server.url, "auth": "bearer"}}
    )
    assert run_test(api, missing.json())["code"] == "309"  # auth without a secret: named in the reason
    assert "no secret is bound" in api.get(f"/v1/sources/{missing.json()['id']}").json()["state"]["reason"]
    assert_no_secret_leaked(sqlite_hub)


# -- failures ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "params", "code", "words"),
    [
        ("/forbidden/x.csv", {}, "302", "denied access (403)"),
        ("/files/missing.csv", {}, "303", "was not found (404)"),
        ("/status/503", {}, "304", "unavailable (503)"),
        ("/stall", {"timeout": 1}, "305", "did not answer in time"),
        ("/loop", {}, "309", "redirected more than"),
    ],
    ids=["forbidden", "missing", "unavailable", "stalled", "redirect-loop"],
)
def test_failed_checks_are_classified(
    api: httpx.Client, http_server: HttpServer, path: str, params: dict[str, Any], code: str, words: str
) -> None:
    source = create_url_source(api, http_server.url + path, **params)
    state = run_test(api, source)
    assert state["code"] == code and words in state["reason"] and state["healthy"] is False, state
    again = api.get(f"/v1/sources/{source['id']}").json()
    assert again["params"]["url"] == http_server.url + path  # a failed check changes no configuration


def test_a_refused_connection_is_unreachable(api: httpx.Client) -> None:
    state = run_test(api, create_url_source(api, f"http://127.0.0.1:{free_port()}/x.csv"))
    assert state["code"] == "304" and "refused the connection" in state["reason"]


def test_an_untrusted_certificate_is_a_tls_failure(api: httpx.Client, http_server: HttpServer) -> None:
    source = create_url_source(api, f"{http_server.https_url}/files/hello.txt")
    state = run_test(api, source)
    assert state["code"] == "306" and "TLS" in state["reason"], state
    response = api.get(data_url(source, "hello.txt"))
    assert response.status_code == 502 and response.json()["error"]["code"] == "upstream_tls_error"


def test_messages_never_quote_query_strings(api: httpx.Client, http_server: HttpServer) -> None:
    source = create_url_source(api, f"{http_server.url}/status/500?sig=QUERYSECRET123")
    state = run_test(api, source)
    assert state["code"] == "304" and "QUERYSECRET123" not in state["reason"]
    assert "/status/500" in state["reason"]


# -- endpoint safety and redirects ------------------------------------------------------------


def test_a_redirect_to_the_metadata_address_is_refused(api: httpx.Client, http_server: HttpServer) -> None:
    target = "http://169.254.169.254/latest/meta-data/iam/security-credentials/"
    source = create_url_source(api, f"{http_server.url}/redirect?to={target}")
    state = run_test(api, source)
    assert state["code"] == "308" and "169.254.169.254" in state["reason"], state
    response = api.get(data_url(source, "redirect"))
    assert response.status_code == 403 and response.json()["error"]["code"] == "endpoint_refused"


def test_a_redirect_to_another_scheme_is_refused(api: httpx.Client, http_server: HttpServer) -> None:
    state = run_test(api, create_url_source(api, f"{http_server.url}/redirect?to=file:///etc/passwd"))
    assert state["code"] == "308" and "non-HTTP(S)" in state["reason"]


def test_redirects_keep_credentials_on_their_origin(
    api: httpx.Client, sqlite_hub: RunningHub, http_server: HttpServer
) -> None:
    secret_id = create_secret(api, BASIC_USER, BASIC_PASSWORD)
    same = create_url_source(api, f"{http_server.url}/redirect?to=/basic/hello.txt", secret_id=secret_id)
    assert run_test(api, same)["code"] == "100"  # followed on the same origin, credentials and all
    marker = uuid.uuid4().hex
    other = f"http://localhost:{http_server.port}/echo?m={marker}"
    source = create_url_source(api, f"{http_server.url}/redirect?code=307&to={other}", secret_id=secret_id)
    assert run_test(api, source)["code"] == "100"
    hops = [r for r in http_server.requests if r.path in ("/redirect", "/echo")]
    assert any(r.path == "/redirect" and r.authorization for r in hops)
    echoed = list(http_server.seen("/echo"))
    assert echoed and all(r.authorization is None for r in echoed)
    assert_no_secret_leaked(sqlite_hub)


def test_loopback_is_refused_unless_the_operator_allows_private_endpoints(
    strict_hub: RunningHub, http_server: HttpServer
) -> None:
    before = len(http_server.requests)
    with strict_hub.client(strict_hub.token()) as client:
        source = create_url_source(client, f"{http_server.url}/files/hello.txt")
        state = run_test(client, source)
        assert state["code"] == "308" and "loopback or private" in state["reason"], state
        response = client.get(data_url(source, "hello.txt"))
        assert response.status_code == 403 and response.json()["error"]["code"] == "endpoint_refused"
    assert len(http_server.requests) == before  # nothing reached the server


@pytest.mark.anyio
async def test_the_connector_refuses_loopback_before_connecting(http_server: HttpServer) -> None:
    count = len(http_server.requests)
    connector = UrlConnector(UrlParams(url=f"{http_server.url}/files/hello.txt"), allow_private=False)
    try:
        with pytest.raises(EndpointRefused):
            await connector.check()
        with pytest.raises(EndpointRefused):
            await connector.stat("hello.txt")
    finally:
        await connector.close()
    assert len(http_server.requests) == count


# -- configuration ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("params", "words"),
    [
        ({"url": "http://user:pw@example.com/x"}, "params.url"),
        ({"url": "ftp://example.com/x"}, "http:// or https://"),
        ({"url": "not a url"}, "params.url"),
        ({"url": "https://example.com/", "headers": {"Authorization": "Bearer x"}}, "looks like a credential"),
        ({"url": "https://example.com/", "headers": {"X-Api-Key": "x"}}, "looks like a credential"),
        ({"url": "https://example.com/", "headers": {"Range": "bytes=0-1"}}, "set by the hub"),
        ({"url": "https://example.com/", "headers": {"X-Team": "a\r\nInjected: 1"}}, "line break"),
        ({"url": "https://example.com/", "auth": "digest"}, "params.auth"),
    ],
)
def test_params_are_validated(api: httpx.Client, params: dict[str, Any], words: str) -> None:
    response = api.post("/v1/sources", json={"protocol": "url", "label": label(), "params": params})
    assert response.status_code == 400, response.text
    assert words in response.json()["error"]["message"]
    assert "pw@" not in response.text


def test_non_secret_headers_are_sent(api: httpx.Client, http_server: HttpServer) -> None:
    marker = uuid.uuid4().hex
    source = create_url_source(api, f"{http_server.url}/echo", headers={"X-Team": marker})
    assert run_test(api, source)["code"] == "100"
    assert any(r.headers.get("X-Team") == marker for r in http_server.seen("/echo"))


def test_url_sources_are_input_only(api: httpx.Client, http_server: HttpServer) -> None:
    source = create_url_source(api, f"{http_server.url}/files/")
    response = api.put(data_url(source, "new.txt"), content=b"x")
    assert response.status_code == 405 and response.json()["error"]["code"] == "not_supported"


# -- the connector contract of the `url` kind runs in test_contract.py
