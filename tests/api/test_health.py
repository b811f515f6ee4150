"""Health, the bootstrap token and the OpenAPI description."""

from __future__ import annotations

from pathlib import Path

from tests.fixtures.hub import RunningHub, start_hub


def test_healthz_answers_200_when_the_store_is_reachable(hub_server: RunningHub) -> None:
    with hub_server.client() as client:
        assert client.get("/healthz").json() == {"status": "ok"}


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
    for route in ["/v1/secrets", "/v1/secrets/{secret_id}", "/v1/sources", "/v1/sources/{source_id}/test", "/v1/systems",
                  "/v1/systems/{system_id}/sources/{source_id}", "/v1/connectors", "/v1/tokens", "/v1/me", "/healthz",
                  "/v1/connector/{connection}/{path}", "/v1/data/{path}"]:
        assert route in paths, route
    schemas = spec["components"]["schemas"]
    for model in ["SecretIn", "SecretOut", "SourceIn", "SourceOut", "SystemOut", "KindOut"]:
        assert model in schemas
    assert "secretKey" not in schemas["SecretOut"]["properties"]
