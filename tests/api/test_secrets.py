"""`/v1/secrets` through HTTP, on SQLite and PostgreSQL: values are write-only."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import httpx

from tests.fixtures.hub import RunningHub


def make_secret(api: httpx.Client, secret_id: str = "s3-key", **fields: object) -> dict[str, object]:
    body = {"id": secret_id, "name": "S3 key", "secretType": "s3", "accessKey": "AKEXAMPLE", "secretKey": "sk-value-1"}
    body.update(fields)
    response = api.post("/v1/secrets", json=body)
    assert response.status_code == 201, response.text
    return response.json()


def test_create_returns_readable_fields_and_never_the_value(api: httpx.Client) -> None:
    secret = make_secret(api)
    assert secret["id"] == "s3-key" and secret["accessKey"] == "AKEXAMPLE" and secret["secretType"] == "s3"
    assert secret["valueKeys"] == ["secretKey"]
    assert "sk-value-1" not in str(secret)


def test_list_and_filter_by_type(api: httpx.Client) -> None:
    make_secret(api, "one")
    make_secret(api, "two", secretType="gcp")
    assert [s["id"] for s in api.get("/v1/secrets").json()["secrets"]] == ["one", "two"]
    assert [s["id"] for s in api.get("/v1/secrets", params={"secretType": "gcp"}).json()["secrets"]] == ["two"]


def test_aws_and_s3_types_are_the_same_family_when_filtering(api: httpx.Client) -> None:
    make_secret(api, "old", secretType="s3")
    make_secret(api, "new", secretType="aws")
    assert {s["id"] for s in api.get("/v1/secrets", params={"secretType": "aws"}).json()["secrets"]} == {"old", "new"}


def test_foundation_style_value_map_stores_keys_only(api: httpx.Client) -> None:
    secret = make_secret(
        api, "kv", secretType="generic", secretKey=None, values={"S3_ACCESS_KEY": "a1", "S3_SECRET_KEY": "b2"}
    )
    assert secret["valueKeys"] == ["S3_ACCESS_KEY", "S3_SECRET_KEY"]


def test_duplicate_id_is_a_conflict(api: httpx.Client) -> None:
    make_secret(api)
    response = api.post("/v1/secrets", json={"id": "s3-key", "secretType": "s3", "secretKey": "x"})
    assert response.status_code == 409 and "already exists" in response.json()["error"]["message"]


def test_update_replaces_fields_and_values(api: httpx.Client) -> None:
    make_secret(api)
    response = api.patch("/v1/secrets/s3-key", json={"name": "renamed", "secretKey": "sk-value-2"})
    assert response.status_code == 200
    assert response.json()["name"] == "renamed" and response.json()["accessKey"] == "AKEXAMPLE"


def test_delete_then_get_is_404(api: httpx.Client) -> None:
    make_secret(api)
    assert api.delete("/v1/secrets/s3-key").status_code == 204
    assert api.get("/v1/secrets/s3-key").status_code == 404


def test_expired_secret_is_listed_marked_and_can_be_replaced(api: httpx.Client) -> None:
    past = (datetime.now(UTC) - timedelta(days=1)).isoformat()
    make_secret(api, expiresAt=past)
    listed = api.get("/v1/secrets").json()["secrets"][0]
    assert listed["expired"] is True
    future = (datetime.now(UTC) + timedelta(days=1)).isoformat()
    replaced = api.put("/v1/secrets/s3-key", json={"expiresAt": future, "secretKey": "fresh"}).json()
    assert replaced["expired"] is False


def test_deleting_a_secret_in_use_is_refused_naming_the_sources(api: httpx.Client, tmp_path: object) -> None:
    make_secret(api, "db", secretType="generic")
    created = api.post(
        "/v1/sources", json={"protocol": "local", "label": "disk", "params": {"path": str(tmp_path)}, "secretId": "db"}
    )
    assert created.status_code == 201, created.text
    response = api.delete("/v1/secrets/db")
    assert response.status_code == 409
    assert "local+disk" in response.json()["error"]["message"]


def test_read_only_token_cannot_create_secrets(hub_server: RunningHub) -> None:
    token = hub_server.token(read_only=True)
    with hub_server.client(token) as client:
        response = client.post("/v1/secrets", json={"id": "x", "secretType": "s3", "secretKey": "v"})
    assert response.status_code == 403 and "read-only" in response.json()["error"]["message"]
