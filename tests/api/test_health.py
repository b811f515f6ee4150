"""Health (live, ready, the store), the bootstrap token and the OpenAPI description."""

from __future__ import annotations

import shutil
from pathlib import Path

from sqlalchemy import text

from headwater.store.database import head_revisions
from tests.fixtures import postgres
from tests.fixtures.hub import RunningHub, start_hub
from tests.fixtures.network import free_port


def test_healthz_answers_200_when_the_store_is_reachable(hub_server: RunningHub) -> None:
    with hub_server.client() as client:
        assert client.get("/healthz").json() == {"status": "ok"}


def test_a_serving_hub_is_live_and_ready_with_every_check_ok(hub_server: RunningHub) -> None:
    with hub_server.client() as client:
        assert client.get("/healthz/live").json() == {"status": "ok"}
        ready = client.get("/healthz/ready")
    assert ready.status_code == 200
    assert ready.json() == {"status": "ok", "checks": {"store": "ok", "migrations": "ok", "storage": "ok"}}


def test_a_hub_whose_store_is_not_at_its_migrations_head_is_live_but_not_ready(tmp_path: Path) -> None:
    running = start_hub(tmp_path / "data", f"sqlite:///{tmp_path / 'store' / 'headwater.db'}")
    (head,) = head_revisions()
    try:
        with running.hub.store.engine.begin() as conn:
            conn.execute(
                text("UPDATE alembic_version SET version_num = '0001'")
            )  # as if this hub were newer than its store
        with running.client() as client:
            ready = client.get("/healthz/ready")
            assert ready.status_code == 503
            body = ready.json()
            assert body["error"]["code"] == "not_ready" and "migrations" in body["error"]["message"]
            assert body["checks"]["store"] == "ok" and body["checks"]["migrations"] != "ok"
            assert client.get("/healthz/live").status_code == 200
            with running.hub.store.engine.begin() as conn:
                conn.execute(text("UPDATE alembic_version SET version_num = :head"), {"head": head})
            assert client.get("/healthz/ready").status_code == 200
    finally:
        running.stop()


def test_a_hub_whose_data_dir_cannot_be_written_is_not_ready_and_says_storage(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    running = start_hub(data_dir, f"sqlite:///{tmp_path / 'store' / 'headwater.db'}")
    try:
        shutil.rmtree(data_dir)
        with running.client() as client:
            ready = client.get("/healthz/ready")
            assert ready.status_code == 503
            assert ready.json()["checks"]["storage"].startswith("the hub's data dir cannot be written")
            assert str(data_dir) not in ready.text  # a public route names no path
            assert client.get("/healthz/live").status_code == 200
            data_dir.mkdir()
            assert client.get("/healthz/ready").status_code == 200
    finally:
        data_dir.mkdir(exist_ok=True)
        running.stop()


def test_a_hub_whose_store_is_gone_is_live_but_neither_healthy_nor_ready(tmp_path: Path) -> None:
    name = postgres.create_database()
    running = start_hub(tmp_path, postgres.url_of(name))
    try:
        postgres.drop_database(name)
        with running.client() as client:
            ready = client.get("/healthz/ready")
            assert ready.status_code == 503
            assert ready.json()["checks"]["store"] == "the metadata store cannot be reached"
            assert name not in ready.text  # nor the store's URL
            assert client.get("/healthz").status_code == 503
            assert client.get("/healthz/live").status_code == 200
    finally:
        running.stop()
        postgres.drop_database(name)


def test_bootstrap_token_is_an_admin_of_the_default_organization(tmp_path: Path) -> None:
    value = "bootstrap-token-value-123456"
    running = start_hub(tmp_path, HEADWATER_BOOTSTRAP_TOKEN=value)
    try:
        with running.client(value) as client:
            me = client.get("/v1/me").json()
        assert me["organization"] == "default" and me["admin"] is True
    finally:
        running.stop()


def test_openapi_describes_every_route_with_its_models(hub_server: RunningHub) -> None:
    with hub_server.client() as client:
        spec = client.get("/openapi.json").json()
    paths = spec["paths"]
    for route in [
        "/v1/secrets",
        "/v1/secrets/{secret_id}",
        "/v1/sources",
        "/v1/sources/{source_id}/test",
        "/v1/systems",
        "/v1/systems/{system_id}/sources/{source_id}",
        "/v1/connectors",
        "/v1/tokens",
        "/v1/me",
        "/healthz",
        "/healthz/live",
        "/healthz/ready",
        "/v1/connector/{connection}/{path}",
        "/v1/data/{path}",
    ]:
        assert route in paths, route
    schemas = spec["components"]["schemas"]
    for model in ["SecretIn", "SecretOut", "SourceIn", "SourceOut", "SystemOut", "KindOut"]:
        assert model in schemas
    assert "secretKey" not in schemas["SecretOut"]["properties"]


def test_a_hub_whose_object_store_is_unreachable_is_live_but_not_ready_and_names_no_endpoint(tmp_path: Path) -> None:
    endpoint = f"http://127.0.0.1:{free_port()}"  # nothing listens there
    running = start_hub(
        tmp_path / "data",
        f"sqlite:///{tmp_path / 'store' / 'headwater.db'}",
        HEADWATER_STORAGE_URL="s3://hub-data/replicas",
        HEADWATER_STORAGE_ENDPOINT=endpoint,
        HEADWATER_STORAGE_REGION="us-east-1",
        HEADWATER_STORAGE_ACCESS_KEY_ID="operator-key-id",
        HEADWATER_STORAGE_SECRET_ACCESS_KEY="operator-secret-value",
    )
    try:
        with running.client() as client:
            ready = client.get("/healthz/ready")
            assert ready.status_code == 503
            assert ready.json()["checks"] == {
                "store": "ok",
                "migrations": "ok",
                "storage": "the hub's storage cannot be reached",
            }
            for private in (endpoint, "hub-data", "operator-secret-value"):
                assert private not in ready.text
            assert client.get("/healthz/live").status_code == 200
    finally:
        running.stop()
