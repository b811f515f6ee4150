"""`/v1/sources` through HTTP: validation by kind schema, lifecycle states, the real check."""

from __future__ import annotations

from pathlib import Path

import httpx

from tests.fixtures.hub import RunningHub


def local_source(api: httpx.Client, path: Path, label: str = "disk", **fields: object) -> dict[str, object]:
    body: dict[str, object] = {"protocol": "local", "label": label, "params": {"path": str(path)}}
    body.update(fields)
    response = api.post("/v1/sources", json=body)
    assert response.status_code == 201, response.text
    return response.json()


def test_a_complete_source_starts_configured_not_tested(api: httpx.Client, tmp_path: Path) -> None:
    source = local_source(api, tmp_path)
    assert source["state"] == {
        "code": "002",
        "reason": "Configured, not tested.",
        "healthy": False,
        "checkedAt": None,
        "latencyMs": None,
    }
    assert source["access"] == "read" and source["pathRestrictions"] == ["*"]
    assert source["address"] == "local+disk://"
    assert source["urn"].endswith(source["id"])


def test_an_incomplete_source_requires_configuration_until_completed(api: httpx.Client, tmp_path: Path) -> None:
    response = api.post("/v1/sources", json={"protocol": "local", "label": "later"})
    source = response.json()
    assert source["state"]["code"] == "001" and source["state"]["healthy"] is False
    assert "params.path" in source["state"]["reason"]
    updated = api.patch(f"/v1/sources/{source['id']}", json={"params": {"path": str(tmp_path)}}).json()
    assert updated["state"]["code"] == "002"


def test_env_key_references_resolve_against_bound_secrets(api: httpx.Client, tmp_path: Path) -> None:
    source = local_source(api, tmp_path, label="viaenv", params={"path": {"envKey": "DISK_PATH"}})
    assert source["state"]["code"] == "001" and "DISK_PATH" in source["state"]["reason"]
    api.post("/v1/secrets", json={"id": "paths", "secretType": "generic", "values": {"DISK_PATH": str(tmp_path)}})
    bound = api.patch(f"/v1/sources/{source['id']}", json={"envSecretIds": ["paths"]}).json()
    assert bound["state"]["code"] == "002"
    tested = api.post(f"/v1/sources/{source['id']}/test").json()
    assert tested["state"]["code"] == "100" and tested["state"]["healthy"] is True


def test_test_records_healthy_with_latency(api: httpx.Client, tmp_path: Path) -> None:
    source = local_source(api, tmp_path)
    tested = api.post(f"/v1/sources/{source['id']}/test").json()
    assert tested["state"]["code"] == "100" and tested["state"]["healthy"] is True
    assert tested["state"]["checkedAt"] is not None and tested["state"]["latencyMs"] >= 0


def test_a_failed_check_records_the_reason_and_changes_no_configuration(api: httpx.Client, tmp_path: Path) -> None:
    source = local_source(api, tmp_path / "missing")
    tested = api.post(f"/v1/sources/{source['id']}/test").json()
    assert tested["state"]["code"] == "303" and tested["state"]["healthy"] is False
    assert "does not exist" in tested["state"]["reason"]
    for field in ("params", "access", "pathRestrictions", "label", "secretId"):
        assert tested[field] == source[field]


def test_a_source_with_an_expired_secret_fails_its_check_naming_the_secret(api: httpx.Client, tmp_path: Path) -> None:
    api.post(
        "/v1/secrets",
        json={"id": "old", "secretType": "generic", "secretKey": "v", "expiresAt": "2001-01-01T00:00:00Z"},
    )
    source = local_source(api, tmp_path, secretId="old")
    tested = api.post(f"/v1/sources/{source['id']}/test").json()
    assert (
        tested["state"]["code"] == "307"
        and "'old'" in tested["state"]["reason"]
        and "2001-01-01" in tested["state"]["reason"]
    )


def test_labels_are_unique_per_organization_and_protocol(api: httpx.Client, tmp_path: Path) -> None:
    local_source(api, tmp_path)
    again = api.post("/v1/sources", json={"protocol": "local", "label": "disk", "params": {"path": str(tmp_path)}})
    assert again.status_code == 409 and "disk" in again.json()["error"]["message"]


def test_unknown_params_are_refused_naming_the_field(api: httpx.Client, tmp_path: Path) -> None:
    response = api.post(
        "/v1/sources", json={"protocol": "local", "label": "x", "params": {"path": str(tmp_path), "colour": "red"}}
    )
    assert response.status_code == 400 and "params.colour" in response.json()["error"]["message"]


def test_only_admins_create_local_sources(hub_server: RunningHub, tmp_path: Path) -> None:
    token = hub_server.token(admin=False)
    with hub_server.client(token) as client:
        response = client.post(
            "/v1/sources", json={"protocol": "local", "label": "x", "params": {"path": str(tmp_path)}}
        )
    assert response.status_code == 403 and "administrator" in response.json()["error"]["message"]


def test_update_delete_and_list(api: httpx.Client, tmp_path: Path) -> None:
    source = local_source(api, tmp_path)
    changed = api.patch(
        f"/v1/sources/{source['id']}", json={"access": "read-write", "pathRestrictions": ["a/*"], "description": "d"}
    ).json()
    assert (
        changed["access"] == "read-write" and changed["pathRestrictions"] == ["a/*"] and changed["description"] == "d"
    )
    assert [s["label"] for s in api.get("/v1/sources").json()["sources"]] == ["disk"]
    assert api.delete(f"/v1/sources/{source['id']}").status_code == 204
    assert api.get(f"/v1/sources/{source['id']}").status_code == 404


def test_catalogue_lists_each_kind_with_its_json_schema(api: httpx.Client) -> None:
    kinds = {k["kind"]: k for k in api.get("/v1/connectors").json()["connectors"]}
    assert kinds["local"]["paramsSchema"]["required"] == ["path"]
    assert kinds["local"]["adminOnly"] is True


def test_systems_group_sources_with_parents_and_children(api: httpx.Client, tmp_path: Path) -> None:
    source = local_source(api, tmp_path)
    system = api.post("/v1/systems", json={"name": "Lake", "description": "all"}).json()
    linked = api.put(f"/v1/systems/{system['id']}/sources/{source['id']}").json()
    assert linked["links"]["children"] == [{"id": source["id"], "name": "disk"}]
    assert api.get(f"/v1/sources/{source['id']}").json()["links"]["parents"] == [{"id": system["id"], "name": "Lake"}]
    assert api.delete(f"/v1/systems/{system['id']}").status_code == 409
    api.delete(f"/v1/systems/{system['id']}/sources/{source['id']}")
    assert api.get(f"/v1/sources/{source['id']}").json()["links"]["parents"] == []
    assert api.delete(f"/v1/systems/{system['id']}").status_code == 204
    assert api.get(f"/v1/systems/{system['id']}").status_code == 404


def test_a_kind_is_also_known_by_its_aliases(api: httpx.Client) -> None:
    assert api.get("/v1/connectors/postgresql").json()["kind"] == "postgres"
    assert api.get("/v1/connectors/mariadb").json()["kind"] == "mysql"
