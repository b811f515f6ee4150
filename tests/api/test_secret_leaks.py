"""After creation, no response or log line carries a secret value, whatever routes are exercised."""

from __future__ import annotations

from pathlib import Path

from tests.fixtures.hub import RunningHub

VALUES = ["leak-canary-sk-7f3a91", "leak-canary-env-b20c44", "leak-canary-rotated-9e1d02"]


def test_no_response_or_log_contains_a_secret_value(hub_server: RunningHub, tmp_path: Path) -> None:
    start_transcript, start_logs = len(hub_server.transcript), len(hub_server.logs.lines)
    token = hub_server.token()
    with hub_server.client(token) as api:
        api.post(
            "/v1/secrets", json={"id": "main", "secretType": "s3", "accessKey": "AKREADABLE", "secretKey": VALUES[0]}
        )
        api.post(
            "/v1/secrets",
            json={"id": "env", "secretType": "generic", "values": {"DISK": str(tmp_path), "TOKEN": VALUES[1]}},
        )
        source = api.post(
            "/v1/sources",
            json={
                "protocol": "local",
                "label": "disk",
                "params": {"path": {"envKey": "DISK"}},
                "secretId": "main",
                "envSecretIds": ["env"],
            },
        ).json()
        sid = source["id"]
        api.post(f"/v1/sources/{sid}/test")
        api.get("/v1/secrets")
        api.get("/v1/secrets/main")
        api.get("/v1/secrets", params={"secretType": "s3"})
        api.patch("/v1/secrets/main", json={"secretKey": VALUES[2]})
        api.post("/v1/secrets", json={"id": "main", "secretType": "s3", "secretKey": VALUES[0]})  # conflict
        api.post("/v1/secrets", json={"id": "bad", "secretType": "nope", "secretKey": VALUES[0]})  # invalid
        api.post("/v1/secrets", json={"id": "bad", "secretType": "s3", "secretKey": VALUES[0], "extra": VALUES[0]})
        api.get(f"/v1/sources/{sid}")
        api.get("/v1/sources")
        api.get("/v1/connector/local+disk/")
        api.put("/v1/connector/local+disk/x.txt", content=b"x")
        api.delete("/v1/secrets/main")
        api.get("/openapi.json")
    captured = "\n".join(hub_server.transcript[start_transcript:] + hub_server.logs.lines[start_logs:])
    assert "AKREADABLE" in captured  # the capture really holds the responses
    for value in VALUES:
        assert value not in captured


def test_values_are_not_stored_in_plaintext(hub_server: RunningHub) -> None:
    token = hub_server.token()
    with hub_server.client(token) as api:
        api.post(
            "/v1/secrets", json={"id": "plain", "secretType": "s3", "secretKey": "plaintext-canary-55"}
        ).raise_for_status()
    from sqlalchemy import text

    with hub_server.hub.store.engine.connect() as conn:
        rows = conn.execute(text("SELECT * FROM secrets")).fetchall()
    assert rows and "plaintext-canary-55" not in repr(rows)
