"""Faults of an HTTP source: a server that stalls, and one that resets mid-body."""

from __future__ import annotations

import time

import httpx

from tests.fixtures.http_server import HttpServer
from tests.fixtures.hub import RunningHub


def source(api: httpx.Client, label: str, url: str) -> str:
    response = api.post("/v1/sources", json={"protocol": "url", "label": label, "params": {"url": url, "timeout": 2}})
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


def test_a_stalling_server_gives_a_timeout_within_bounds_and_an_unhealthy_state(
    sqlite_hub: RunningHub, http_server: HttpServer
) -> None:
    with sqlite_hub.client(sqlite_hub.token()) as api:
        source_id = source(api, "stalls", f"{http_server.url}/stall")
        started = time.monotonic()
        response = api.get("/v1/connector/url+stalls")
        assert time.monotonic() - started < 15
        assert response.status_code == 504 and "in time" in response.json()["error"]["message"]
        state = api.post(f"/v1/sources/{source_id}/test").json()["state"]
        assert state["healthy"] is False and state["code"] == "305"
        assert api.get("/healthz").status_code == 200  # the hub itself is unaffected


def test_a_reset_mid_body_reaches_the_caller_as_an_error(sqlite_hub: RunningHub, http_server: HttpServer) -> None:
    with sqlite_hub.client(sqlite_hub.token()) as api:
        source(api, "resets", f"{http_server.url}/reset")
        auth = api.headers["Authorization"]
    started = time.monotonic()
    received = 0
    try:
        with httpx.stream(
            "GET", f"{sqlite_hub.url}/v1/connector/url+resets", headers={"Authorization": auth}, timeout=30
        ) as response:
            for chunk in response.iter_bytes():
                received += len(chunk)
        raise AssertionError(
            f"a reset body arrived as if complete: {response.status_code} {received} {response.headers}"
        )
    except httpx.HTTPError:
        pass
    assert time.monotonic() - started < 15 and received < 4 * 1024 * 1024
    with sqlite_hub.client(auth.removeprefix("Bearer ")) as api:
        assert api.get("/v1/sources").status_code == 200
