"""Organizations are sealed from each other: another's ids answer 404, exactly like ids that do not exist."""

from __future__ import annotations

import uuid
from pathlib import Path

import httpx
import pytest

from tests.fixtures.hub import RunningHub


@pytest.fixture
def other_org(hub_server: RunningHub, tmp_path: Path) -> dict[str, str]:
    """Things owned by another organization: a secret, a source, a system and a hosted file."""
    token = hub_server.token(org="victim-" + uuid.uuid4().hex[:8])
    with hub_server.client(token) as client:
        client.post(
            "/v1/secrets", json={"id": "theirs", "secretType": "s3", "secretKey": "their-value"}
        ).raise_for_status()
        source = client.post(
            "/v1/sources", json={"protocol": "local", "label": "theirs", "params": {"path": str(tmp_path)}}
        )
        system = client.post("/v1/systems", json={"name": "Theirs"})
        client.put("/v1/data/.my/coll/file.txt", content=b"private").raise_for_status()
        org = client.get("/v1/me").json()["organization"]
    return {"source": source.json()["id"], "system": system.json()["id"], "org": org}


def routes(ids: dict[str, str]) -> list[tuple[str, str, dict[str, object] | None]]:
    s, y, org = ids["source"], ids["system"], ids["org"]
    return [
        ("GET", "/v1/secrets/theirs", None),
        ("PATCH", "/v1/secrets/theirs", {"name": "x"}),
        ("PUT", "/v1/secrets/theirs", {"name": "x"}),
        ("DELETE", "/v1/secrets/theirs", None),
        ("GET", f"/v1/sources/{s}", None),
        ("PATCH", f"/v1/sources/{s}", {"name": "x"}),
        ("DELETE", f"/v1/sources/{s}", None),
        ("POST", f"/v1/sources/{s}/test", None),
        ("GET", f"/v1/systems/{y}", None),
        ("PATCH", f"/v1/systems/{y}", {"name": "x"}),
        ("DELETE", f"/v1/systems/{y}", None),
        ("PUT", f"/v1/systems/{y}/sources/{s}", None),
        ("DELETE", f"/v1/systems/{y}/sources/{s}", None),
        ("GET", f"/v1/data/{org}/coll/file.txt", None),
        ("HEAD", f"/v1/data/{org}/coll/file.txt", None),
        ("PUT", f"/v1/data/{org}/coll/file.txt", None),
        ("DELETE", f"/v1/data/{org}/coll/file.txt", None),
        ("GET", f"/v1/data/{org}/coll", None),
        ("GET", f"/v1/connector/data/{org}/coll/file.txt", None),
        ("GET", "/v1/connector/local+theirs/", None),
        ("PUT", "/v1/connector/local+theirs/x.txt", None),
        ("GET", "/v1/data/local+theirs://", None),
    ]


def test_another_organizations_ids_answer_404_on_every_route(hub_server: RunningHub, other_org: dict[str, str]) -> None:
    with hub_server.client(hub_server.token()) as client:
        for method, path, body in routes(other_org):
            response = client.request(method, path, json=body) if body is not None else client.request(method, path)
            assert response.status_code == 404, (method, path, response.status_code, response.text)
            missing = path.replace(other_org["source"], str(uuid.uuid4())).replace(
                other_org["system"], str(uuid.uuid4())
            )
            missing = missing.replace("theirs", "nothing-here").replace(other_org["org"], "no-such-org")
            again = client.request(method, missing, json=body) if body is not None else client.request(method, missing)
            assert again.status_code == 404, (method, missing, again.status_code)
            if method != "HEAD":
                assert response.json()["error"]["code"] == again.json()["error"]["code"] == "not_found"


def test_their_things_are_absent_from_our_lists(hub_server: RunningHub, other_org: dict[str, str]) -> None:
    with hub_server.client(hub_server.token()) as client:
        assert client.get("/v1/secrets").json()["secrets"] == []
        assert client.get("/v1/sources").json()["sources"] == []
        assert client.get("/v1/systems").json()["systems"] == []


def test_their_data_is_unchanged_after_the_attempts(hub_server: RunningHub, other_org: dict[str, str]) -> None:
    with hub_server.client(hub_server.token()) as client:
        for method, path, body in routes(other_org):
            client.request(method, path, json=body) if body is not None else client.request(method, path)
    with hub_server.client(hub_server.token(org=other_org["org"])) as owner:
        assert owner.get("/v1/data/.my/coll/file.txt").content == b"private"
        assert owner.get("/v1/secrets/theirs").status_code == 200
        assert owner.get(f"/v1/sources/{other_org['source']}").json()["name"] == "theirs"


def test_an_x_org_header_naming_another_organization_is_refused(api: httpx.Client) -> None:
    response = api.get("/v1/sources", headers={"x-org": "someone-else"})
    assert response.status_code == 403 and "someone-else" in response.json()["error"]["message"]


def test_x_org_naming_the_tokens_own_organization_is_accepted(api: httpx.Client) -> None:
    org = api.get("/v1/me").json()["organization"]
    assert api.get("/v1/sources", headers={"x-org": org}).status_code == 200


@pytest.mark.parametrize("scheme", ["Bearer {}", "Simple {}", "{}", "bearer {}"])
def test_tokens_are_accepted_in_every_form_existing_clients_send(hub_server: RunningHub, scheme: str) -> None:
    token = hub_server.token()
    with hub_server.client() as client:
        assert client.get("/v1/me", headers={"Authorization": scheme.format(token)}).status_code == 200


def test_missing_and_wrong_tokens_are_401(hub_server: RunningHub) -> None:
    with hub_server.client() as client:
        assert client.get("/v1/sources").status_code == 401
        response = client.get("/v1/sources", headers={"Authorization": "Bearer hw_not-a-real-token"})
        assert response.status_code == 401 and response.json()["error"]["code"] == "unauthenticated"
