"""The hub's own store cut off mid-service: requests are refused with 503 (never 500), change nothing,
leak nothing, and the hub serves again as soon as the store is back."""

from __future__ import annotations

import time
from pathlib import Path

import httpx

from tests.fixtures.hub import start_hub
from tests.fixtures.postgres import create_database, drop_database, url_of
from tests.fixtures.tcp_relay import relay_to

UNAVAILABLE = {"store_unavailable", "audit_unavailable"}  # whichever the request reached first


def refused_for_now(response: httpx.Response) -> None:
    assert response.status_code == 503, response.text
    assert response.json()["error"]["code"] in UNAVAILABLE, response.text
    assert response.headers["Retry-After"] == "1"


def test_a_store_cut_off_is_503_for_every_request_and_the_hub_recovers_when_it_returns(tmp_path: Path) -> None:
    name = create_database()
    try:
        with relay_to("127.0.0.1", 5432) as relay:
            url = url_of(name).replace("127.0.0.1:5432", f"127.0.0.1:{relay.port}")
            running = start_hub(tmp_path / "hub", url)
            try:
                token, unseen = running.token(), running.token()
                with running.client(token) as api, running.client(unseen) as newcomer:
                    kept = "kept-secret-value-31337"
                    api.post(
                        "/v1/secrets",
                        json={"id": "kept", "secretType": "s3", "accessKey": "AKIDKEPT", "secretKey": kept},
                    ).raise_for_status()
                    assert api.put("/v1/data/.my/box/before.txt", content=b"before").status_code == 200
                    relay.cut()
                    first = newcomer.get("/v1/sources")  # a token not yet seen: authenticating it needs the store
                    refused_for_now(first)
                    assert first.json()["error"]["code"] == "store_unavailable"
                    lost = "never-stored-value-4242"
                    refused_for_now(api.get("/v1/sources"))
                    refused_for_now(api.get("/v1/secrets"))
                    refused_for_now(
                        api.post(
                            "/v1/secrets",
                            json={"id": "lost", "secretType": "s3", "accessKey": "AKIDLOST", "secretKey": lost},
                        )
                    )
                    refused_for_now(api.put("/v1/data/.my/box/during.txt", content=b"during"))
                    refused_for_now(api.get("/v1/data/.my/box/before.txt"))
                    relay.restore()
                    deadline = time.monotonic() + 15
                    while (answer := api.get("/v1/secrets")).status_code != 200:
                        refused_for_now(answer)  # a connection the cut left in the pool: dropped, then fine
                        assert time.monotonic() < deadline, "the hub did not serve again once its store was back"
                        time.sleep(0.2)
                    assert [s["id"] for s in answer.json()["secrets"]] == ["kept"]  # the refused create left nothing
                    assert api.get("/v1/data/.my/box/before.txt").content == b"before"
                    assert api.get("/v1/data/.my/box/during.txt").status_code == 404  # the refused upload left nothing
                seen = "\n".join(running.transcript) + "\n".join(running.logs.lines)
                assert kept not in seen and lost not in seen
                assert not any(line.startswith("500 ") for line in running.transcript)
            finally:
                running.stop()
    finally:
        drop_database(name)
