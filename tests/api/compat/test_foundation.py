"""Foundation's documented requests, replayed verbatim in shape against a real hub.

A Foundation data source is a native data source: the native API, the Data API and the
CLI see what these routes create. States walk 001 → 002 → 000 (or 003) as the
connection and its secrets are set and the hub checks them against a real S3 server.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import obstore
import pytest

from tests.fixtures.databases import ScratchDatabase as Database
from tests.fixtures.hub import RunningHub
from tests.fixtures.seaweedfs import SeaweedFS

UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
MASK = "********"


def seed_source(**entity: Any) -> dict[str, Any]:
    """Seed 001, step 1: `POST /api/data/data_source`."""
    body: dict[str, Any] = {
        "entity": {
            "name": "Data Source example",
            "entity_type": "origin",
            "label": "DSE",
            "description": "This is an example for data source",
        },
        "entity_info": {"owner": "owner@example.com", "contact_ids": ["Data Source contact"], "links": ["example.com"]},
    }
    body["entity"].update(entity)
    return body


def seed_system(name: str = "Data System example") -> dict[str, Any]:
    """Reference section 5: `POST /api/data/data_system`."""
    return {
        "entity": {
            "name": name,
            "entity_type": "data_system",
            "label": "DSY",
            "description": "An example data system",
            "owner_person": {"email": "owner@example.com", "full_name": "Owner Example"},
        },
        "entity_info": {"owner": "owner@example.com", "contact_ids": ["Data System contact"], "links": ["example.com"]},
    }


def s3_connection(url: str) -> dict[str, Any]:
    """Seed 001, step 3: `PUT /api/data/data_source/connection`."""
    return {
        "connection": {
            "connection_type": "s3",
            "url": url,
            "access_key": {"env_key": "S3_ACCESS_KEY"},
            "access_secret": {"env_key": "S3_SECRET_KEY"},
        }
    }


@pytest.fixture
def org(hub_server: RunningHub) -> str:
    return f"org-{uuid.uuid4().hex[:10]}"


@pytest.fixture
def fapi(hub_server: RunningHub, org: str) -> Iterator[httpx.Client]:
    """A Foundation client: Bearer token and the organization in `x-org`."""
    with hub_server.client(hub_server.token(org=org), **{"x-org": org}) as client:
        yield client


def create(fapi: httpx.Client, **entity: Any) -> dict[str, Any]:
    response = fapi.post("/api/data/data_source", json=seed_source(**entity))
    assert response.status_code == 200, response.text
    return response.json()


# -- creation and the documented shape ------------------------------------------------------


def test_the_seed_create_answers_the_documented_shape_in_state_001(fapi: httpx.Client) -> None:
    body = create(fapi)
    assert set(body) == {"entity", "entity_info", "links", "compute_identifier", "secrets", "connection"}
    entity = body["entity"]
    assert set(entity) == {
        "identifier",
        "urn",
        "name",
        "is_system",
        "description",
        "label",
        "created_at",
        "state",
        "owner",
    }
    assert UUID.fullmatch(entity["identifier"])
    assert entity["urn"] == f"urn:meshx:backend:data:root:origin:{entity['identifier']}"
    assert entity["name"] == "Data Source example" and entity["label"] == "DSE" and entity["is_system"] is False
    assert entity["description"] == "This is an example for data source" and entity["owner"] is None
    assert entity["created_at"].endswith("Z")
    assert entity["state"] == {"code": "001", "reason": "Requires configuration.", "healthy": False}
    assert body["entity_info"] == {
        "owner": "owner@example.com",
        "contact_ids": ["Data Source contact"],
        "links": ["example.com"],
    }
    assert body["links"] == {"parents": [], "children": []}
    assert body["compute_identifier"] is None and body["secrets"] == [] and body["connection"] is None


def test_spec_entity_type_data_source_is_accepted_and_others_are_422(fapi: httpx.Client) -> None:
    assert create(fapi, entity_type="data_source")["entity"]["label"] == "DSE"
    wrong = fapi.post("/api/data/data_source", json=seed_source(entity_type="data_object"))
    assert wrong.status_code == 422 and "entity_type" in wrong.json()["detail"]


def test_a_foundation_source_is_a_native_source(fapi: httpx.Client) -> None:
    identifier = create(fapi)["entity"]["identifier"]
    native = fapi.get(f"/v1/sources/{identifier}").json()
    assert native["label"] == "dse" and native["name"] == "Data Source example"
    assert native["state"]["code"] == "001" and native["entityInfo"]["owner"] == "owner@example.com"
    assert [s["id"] for s in fapi.get("/v1/sources").json()["sources"]] == [identifier]


def test_labels_map_to_lowercase_native_labels_with_an_id_suffix_when_taken(fapi: httpx.Client) -> None:
    first = create(fapi)["entity"]
    second = create(fapi, name="Another source")["entity"]
    assert first["label"] == second["label"] == "DSE"
    labels = {s["id"]: s["label"] for s in fapi.get("/v1/sources").json()["sources"]}
    assert labels[first["identifier"]] == "dse"
    assert labels[second["identifier"]] == f"dse-{second['identifier'][:8]}"


def test_validation_follows_the_spec_patterns(fapi: httpx.Client) -> None:
    for entity in ({"label": "TOOLONG"}, {"name": "x"}, {"description": "d" * 1001}):
        response = fapi.post("/api/data/data_source", json=seed_source(**entity))
        assert response.status_code == 422, response.text
        assert isinstance(response.json()["detail"], str)
    bad_uuid = fapi.get("/api/data/data_source", params={"identifier": "not-a-uuid"})
    assert bad_uuid.status_code == 422 and "identifier" in bad_uuid.json()["detail"]


# -- auth -----------------------------------------------------------------------------------


def test_x_org_is_required_and_must_be_the_tokens_organization(hub_server: RunningHub, org: str) -> None:
    token = hub_server.token(org=org)
    with hub_server.client(token) as no_org:
        missing = no_org.post("/api/data/data_source", json=seed_source())
        assert missing.status_code == 422 and "x-org" in missing.json()["detail"]
    with hub_server.client(token, **{"x-org": "someone-else"}) as other:
        denied = other.get("/api/data/data_source/list")
        assert denied.status_code == 403 and "someone-else" in denied.json()["detail"]
    with hub_server.client(None, **{"x-org": org}) as anonymous:
        assert anonymous.get("/api/data/data_source/list").status_code == 401
    with hub_server.client("wrong-token", **{"x-org": org}) as stranger:
        response = stranger.get("/api/data/data_source/list")
        assert response.status_code == 401 and set(response.json()) == {"detail"}


def test_another_organizations_source_is_404(hub_server: RunningHub, fapi: httpx.Client) -> None:
    identifier = create(fapi)["entity"]["identifier"]
    other_org = f"org-{uuid.uuid4().hex[:10]}"
    with hub_server.client(hub_server.token(org=other_org), **{"x-org": other_org}) as other:
        assert other.get("/api/data/data_source", params={"identifier": identifier}).status_code == 404
        assert other.get("/api/data/data_source/list").json() == {"entities": []}


# -- get, list, update, delete --------------------------------------------------------------


def test_get_list_update_and_delete(fapi: httpx.Client) -> None:
    created = create(fapi)
    identifier = created["entity"]["identifier"]
    got = fapi.get("/api/data/data_source", params={"identifier": identifier}).json()
    assert got == created
    listed = fapi.get("/api/data/data_source/list").json()
    assert listed == {"entities": [{**created["entity"], "connection": None}]}
    update = {
        "entity": {
            "name": "Data Source updated",
            "entity_type": "origin",
            "label": "DSU",
            "description": "This data source was updated.",
        }
    }
    updated = fapi.put("/api/data/data_source", params={"identifier": identifier}, json=update)
    assert updated.status_code == 200, updated.text
    flat = updated.json()
    assert flat["label"] == "DSU" and flat["name"] == "Data Source updated" and "entity_info" not in flat
    assert fapi.get(f"/v1/sources/{identifier}").json()["label"] == "dsu"
    deleted = fapi.delete("/api/data/data_source", params={"identifier": identifier, "force": False})
    assert deleted.status_code == 200 and deleted.json() == {}
    gone = fapi.get("/api/data/data_source", params={"identifier": identifier})
    assert gone.status_code == 404 and identifier in gone.json()["detail"]
    assert fapi.get("/api/data/data_source/list").json() == {"entities": []}
    assert fapi.get(f"/v1/sources/{identifier}").status_code == 404


def test_entity_info_is_read_and_replaced_separately(fapi: httpx.Client) -> None:
    identifier = create(fapi)["entity"]["identifier"]
    info = {"owner": "new@example.com", "contact_ids": ["c1", "c2"], "links": []}
    assert fapi.put("/api/data/data_source/info", params={"identifier": identifier}, json=info).json() == info
    assert fapi.get("/api/data/data_source/info", params={"identifier": identifier}).json() == info


# -- data systems and links -----------------------------------------------------------------


def test_data_systems_and_links(fapi: httpx.Client) -> None:
    created = fapi.post("/api/data/data_system", json=seed_system())
    assert created.status_code == 200, created.text
    system = created.json()
    assert set(system) == {
        "identifier",
        "urn",
        "name",
        "is_system",
        "description",
        "label",
        "created_at",
        "state",
        "owner_person",
    }
    assert system["state"] == {"code": "000", "reason": "Created.", "healthy": True}
    assert (
        system["urn"] == f"urn:meshx:backend:data:root:data_system:{system['identifier']}" and system["label"] == "DSY"
    )
    source = create(fapi)["entity"]["identifier"]
    params = {"identifier": system["identifier"], "child_identifier": source}
    link = fapi.post("/api/data/link/data_system/data_source", params=params)
    assert link.status_code == 200, link.text
    assert (
        link.json()["parent"]["identifier"] == system["identifier"]
        and link.json()["parent"]["entity_type"] == "data_system"
    )
    assert link.json()["child"]["identifier"] == source and link.json()["child"]["entity_type"] == "data_source"
    assert fapi.post("/api/data/link/data_system/data_source", params=params).status_code == 200  # idempotent
    shown = fapi.get("/api/data/data_source", params={"identifier": source}).json()
    assert [p["identifier"] for p in shown["links"]["parents"]] == [system["identifier"]]
    assert (
        fapi.get("/api/data/data_source/list", params={"has_parent": True}).json()["entities"][0]["identifier"]
        == source
    )
    assert fapi.get("/api/data/data_source/list", params={"has_parent": False}).json() == {"entities": []}
    got = fapi.get("/api/data/data_system", params={"identifier": system["identifier"]}).json()
    assert set(got) == {"entity", "entity_info", "links"} and got["entity"]["owner"] == "owner@example.com"
    assert [c["identifier"] for c in got["links"]["children"]] == [source]
    system_links = fapi.get("/api/data/data_system/link", params={"identifier": system["identifier"]}).json()
    assert system_links["parents"] == [] and [c["identifier"] for c in system_links["children"]] == [source]
    info = {"owner": "team@example.com", "contact_ids": [], "links": ["wiki.example.com"]}
    assert fapi.put("/api/data/data_system/info", params={"identifier": system["identifier"]}, json=info).json() == info
    assert fapi.get("/api/data/data_system/info", params={"identifier": system["identifier"]}).json() == info
    native = fapi.get(f"/v1/systems/{system['identifier']}").json()
    assert [c["id"] for c in native["links"]["children"]] == [source]
    assert fapi.get("/api/data/data_system/list").json()["entities"][0]["identifier"] == system["identifier"]
    busy = fapi.delete("/api/data/data_system", params={"identifier": system["identifier"]})
    assert busy.status_code == 409 and "detail" in busy.json()
    assert fapi.delete("/api/data/link/data_system/data_source", params=params).json() == {}
    assert fapi.get("/api/data/data_source/link", params={"identifier": source}).json() == {
        "parents": [],
        "children": [],
    }
    assert fapi.delete("/api/data/link/data_system/data_source", params=params).status_code == 404
    assert fapi.delete("/api/data/data_system", params={"identifier": system["identifier"]}).json() == {}
    assert fapi.get("/api/data/data_system", params={"identifier": system["identifier"]}).status_code == 404


def test_data_system_update_and_duplicate_names(fapi: httpx.Client) -> None:
    identifier = fapi.post("/api/data/data_system", json=seed_system()).json()["identifier"]
    assert fapi.post("/api/data/data_system", json=seed_system()).status_code == 409
    update = seed_system("Renamed system")
    updated = fapi.put(
        "/api/data/data_system", params={"identifier": identifier}, json={"entity": update["entity"]}
    ).json()
    assert updated["name"] == "Renamed system" and updated["owner_person"]["full_name"] == "Owner Example"
    missing_owner = seed_system()
    del missing_owner["entity"]["owner_person"]
    assert fapi.post("/api/data/data_system", json=missing_owner).status_code == 422


def test_deleting_a_linked_source_unlinks_it(fapi: httpx.Client) -> None:
    system = fapi.post("/api/data/data_system", json=seed_system()).json()["identifier"]
    source = create(fapi)["entity"]["identifier"]
    fapi.post("/api/data/link/data_system/data_source", params={"identifier": system, "child_identifier": source})
    assert fapi.delete("/api/data/data_source", params={"identifier": source}).json() == {}
    assert fapi.get("/api/data/data_system", params={"identifier": system}).json()["links"]["children"] == []


# -- connection and secrets ----------------------------------------------------------------


def test_secrets_are_merged_masked_and_stored_as_one_native_secret(hub_server: RunningHub, fapi: httpx.Client) -> None:
    identifier = create(fapi)["entity"]["identifier"]
    first = fapi.post(
        "/api/data/data_source/secret", params={"identifier": identifier}, json={"S3_ACCESS_KEY": "ak-" + identifier}
    )
    assert first.status_code == 200, first.text
    assert first.json() == {"secrets": [{"key": "S3_ACCESS_KEY", "value": MASK}]}
    second = fapi.put(
        "/api/data/data_source/secret", params={"identifier": identifier}, json={"S3_SECRET_KEY": "sk-" + identifier}
    )
    assert second.json() == {
        "secrets": [{"key": "S3_ACCESS_KEY", "value": MASK}, {"key": "S3_SECRET_KEY", "value": MASK}]
    }
    native = fapi.get(f"/v1/secrets/foundation-{identifier}").json()
    assert native["secretType"] == "generic" and native["valueKeys"] == ["S3_ACCESS_KEY", "S3_SECRET_KEY"]
    assert fapi.get(f"/v1/sources/{identifier}").json()["envSecretIds"] == [f"foundation-{identifier}"]
    source = fapi.get("/api/data/data_source", params={"identifier": identifier}).json()
    assert source["secrets"] == second.json()["secrets"]
    assert source["entity"]["state"]["code"] == "001"  # no connection yet
    bad = fapi.post("/api/data/data_source/secret", params={"identifier": identifier}, json={"lower_case": "x"})
    assert bad.status_code == 422
    fapi.delete("/api/data/data_source", params={"identifier": identifier})
    assert fapi.get(f"/v1/secrets/foundation-{identifier}").status_code == 404


def test_a_connection_without_its_secrets_requires_secrets(fapi: httpx.Client) -> None:
    identifier = create(fapi)["entity"]["identifier"]
    response = fapi.put(
        f"/api/data/data_source/connection?identifier={identifier}", json=s3_connection("http://127.0.0.1:9")
    )
    assert response.status_code == 200, response.text
    assert response.json() == {
        "connection": {
            "connection_type": "s3",
            "url": "http://127.0.0.1:9",
            "access_key": {"env_key": "S3_ACCESS_KEY"},
            "access_secret": {"env_key": "S3_SECRET_KEY"},
        },
        "secrets": [],
    }
    assert fapi.get("/api/data/data_source/connection", params={"identifier": identifier}).json() == response.json()
    state = fapi.get("/api/data/data_source", params={"identifier": identifier}).json()["entity"]["state"]
    assert state == {"code": "002", "reason": "Requires secrets: S3_ACCESS_KEY, S3_SECRET_KEY.", "healthy": False}
    native = fapi.get(f"/v1/sources/{identifier}").json()
    assert native["protocol"] == "s3" and native["params"]["endpoint"] == "http://127.0.0.1:9"
    assert native["params"]["credentials"] == {
        "accessKey": {"envKey": "S3_ACCESS_KEY"},
        "secretKey": {"envKey": "S3_SECRET_KEY"},
    }


def test_an_unreachable_endpoint_is_003_and_keeps_the_configuration(fapi: httpx.Client) -> None:
    identifier = create(fapi)["entity"]["identifier"]
    fapi.put(f"/api/data/data_source/connection?identifier={identifier}", json=s3_connection("http://127.0.0.1:9"))
    fapi.post(
        f"/api/data/data_source/secret?identifier={identifier}",
        json={"S3_ACCESS_KEY": "ak", "S3_SECRET_KEY": "sk-unreachable"},
    )
    source = fapi.get("/api/data/data_source", params={"identifier": identifier}).json()
    state = source["entity"]["state"]
    assert state["code"] == "003" and state["healthy"] is False and state["reason"].startswith("Connection failed: ")
    assert source["connection"]["url"] == "http://127.0.0.1:9"
    assert fapi.get(f"/v1/sources/{identifier}").json()["state"]["code"] == "304"


def test_a_malformed_connection_is_422(fapi: httpx.Client) -> None:
    identifier = create(fapi)["entity"]["identifier"]
    not_a_url = fapi.put(
        f"/api/data/data_source/connection?identifier={identifier}", json=s3_connection("s3-endpoint-url")
    )
    assert not_a_url.status_code == 422 and "endpoint" in not_a_url.json()["detail"]
    unknown = fapi.put(
        f"/api/data/data_source/connection?identifier={identifier}", json={"connection": {"connection_type": "ftp"}}
    )
    assert unknown.status_code == 422
    engine = {
        "connection_type": "database",
        "engine": "oracle",
        "host": "db",
        "port": 1521,
        "database": "x",
        "user": {"env_key": "DB_USER"},
        "password": {"env_key": "DB_PASSWORD"},
    }
    assert (
        fapi.put(f"/api/data/data_source/connection?identifier={identifier}", json={"connection": engine}).status_code
        == 422
    )
    assert fapi.get("/api/data/data_source", params={"identifier": identifier}).json()["connection"] is None


# -- the whole walk against a real S3 server -------------------------------------------------


def test_the_seed_walk_ends_healthy_and_the_data_api_reaches_the_bucket(
    fapi: httpx.Client, seaweedfs: SeaweedFS
) -> None:
    system = fapi.post("/api/data/data_system", json=seed_system()).json()["identifier"]
    created = create(fapi)
    identifier = created["entity"]["identifier"]
    assert created["entity"]["state"]["code"] == "001"
    link = fapi.post(
        "/api/data/link/data_system/data_source", params={"identifier": system, "child_identifier": identifier}
    )
    assert link.status_code == 200
    connection = fapi.put(
        f"/api/data/data_source/connection?identifier={identifier}", json=s3_connection(seaweedfs.endpoint)
    )
    assert connection.status_code == 200, connection.text
    waiting = fapi.get("/api/data/data_source", params={"identifier": identifier}).json()["entity"]["state"]
    assert waiting == {"code": "002", "reason": "Requires secrets: S3_ACCESS_KEY, S3_SECRET_KEY.", "healthy": False}
    secrets = fapi.post(
        f"/api/data/data_source/secret?identifier={identifier}",
        json={"S3_ACCESS_KEY": seaweedfs.rw.access_key, "S3_SECRET_KEY": seaweedfs.rw.secret_key},
    )
    assert secrets.status_code == 200, secrets.text
    assert secrets.json() == {
        "secrets": [{"key": "S3_ACCESS_KEY", "value": MASK}, {"key": "S3_SECRET_KEY", "value": MASK}]
    }
    source = fapi.get("/api/data/data_source", params={"identifier": identifier}).json()
    assert source["entity"]["state"] == {"code": "000", "reason": "Connection verified.", "healthy": True}
    assert source["links"]["parents"][0]["identifier"] == system
    assert source["connection"]["url"] == seaweedfs.endpoint and source["secrets"] == secrets.json()["secrets"]
    native = fapi.get(f"/v1/sources/{identifier}").json()
    assert native["state"]["code"] == "100" and native["state"]["healthy"] is True and native["address"] == "s3+dse://"
    bucket = seaweedfs.create_bucket()
    obstore.put(seaweedfs.store(bucket), "transactions/daily.csv", b"a,b\n1,2\n")
    assert fapi.get(f"/v1/connector/s3+dse/{bucket}/transactions/daily.csv").content == b"a,b\n1,2\n"
    listed = fapi.get("/api/data/data_source/list").json()["entities"]
    assert [(e["identifier"], e["state"]["code"], e["connection"]["connection_type"]) for e in listed] == [
        (identifier, "000", "s3")
    ]


def test_wrong_keys_fail_the_check_and_corrected_keys_heal_it(fapi: httpx.Client, seaweedfs: SeaweedFS) -> None:
    identifier = create(fapi)["entity"]["identifier"]
    fapi.put(f"/api/data/data_source/connection?identifier={identifier}", json=s3_connection(seaweedfs.endpoint))
    fapi.post(
        f"/api/data/data_source/secret?identifier={identifier}",
        json={"S3_ACCESS_KEY": seaweedfs.rw.access_key, "S3_SECRET_KEY": "wrong-" + uuid.uuid4().hex},
    )
    failed = fapi.get("/api/data/data_source", params={"identifier": identifier}).json()["entity"]["state"]
    assert failed["code"] == "003" and failed["healthy"] is False and "Connection failed: " in failed["reason"]
    healed = fapi.put(
        f"/api/data/data_source/secret?identifier={identifier}", json={"S3_SECRET_KEY": seaweedfs.rw.secret_key}
    )
    assert healed.status_code == 200
    state = fapi.get("/api/data/data_source", params={"identifier": identifier}).json()["entity"]["state"]
    assert state == {"code": "000", "reason": "Connection verified.", "healthy": True}


def test_created_already_configured_with_connection_secrets_and_parent(
    fapi: httpx.Client, seaweedfs: SeaweedFS
) -> None:
    system = fapi.post("/api/data/data_system", json=seed_system()).json()["identifier"]
    body = seed_source()
    body["parent"] = {"identifier": system, "entity_type": "data_system"}
    body["connection"] = s3_connection(seaweedfs.endpoint)["connection"]
    body["secrets"] = {"S3_ACCESS_KEY": seaweedfs.ro.access_key, "S3_SECRET_KEY": seaweedfs.ro.secret_key}
    response = fapi.post("/api/data/data_source", json=body)
    assert response.status_code == 200, response.text
    source = response.json()
    assert source["entity"]["state"]["code"] == "000" and source["links"]["parents"][0]["identifier"] == system
    assert [s["key"] for s in source["secrets"]] == ["S3_ACCESS_KEY", "S3_SECRET_KEY"]


def test_the_documented_python_example_runs_as_written(hub_server: RunningHub, org: str, seaweedfs: SeaweedFS) -> None:
    """Seed 001's "Complete Python Example", with `requests` as httpx and the hub as API_URL."""
    requests = httpx
    API_URL = hub_server.url + "/api"
    token = hub_server.token(org=org)

    def get_headers() -> dict[str, str]:
        return {"Authorization": f"Bearer {token}", "x-org": org}

    def create_data_source(name, description, owner_email="owner@example.com"):  # type: ignore[no-untyped-def]
        """Create a new data source"""
        data_source_resp = requests.post(
            f"{API_URL}/data/data_source",
            headers=get_headers(),
            json={
                "entity": {
                    "name": name,
                    "entity_type": "origin",
                    "label": name[:3].upper(),
                    "description": description,
                },
                "entity_info": {"owner": owner_email, "contact_ids": [f"{name} contact"], "links": ["example.com"]},
            },
        )
        if data_source_resp.status_code == 200:
            return data_source_resp.json()["entity"]["identifier"]
        else:
            print(f"Error creating data source: {data_source_resp.text}")
            return None

    def link_data_source_to_data_system(data_system_id, data_source_id):  # type: ignore[no-untyped-def]
        """Link a data source to a data system"""
        link_resp = requests.post(
            f"{API_URL}/data/link/data_system/data_source",
            headers=get_headers(),
            params={"identifier": data_system_id, "child_identifier": data_source_id},
        )
        return link_resp.status_code == 200

    def configure_s3_data_source(data_source_id, s3_url):  # type: ignore[no-untyped-def]
        """Configure S3 connection for a data source"""
        connection_resp = requests.put(
            f"{API_URL}/data/data_source/connection?identifier={data_source_id}",
            headers=get_headers(),
            json={
                "connection": {
                    "connection_type": "s3",
                    "url": s3_url,
                    "access_key": {"env_key": "S3_ACCESS_KEY"},
                    "access_secret": {"env_key": "S3_SECRET_KEY"},
                }
            },
        )
        return connection_resp.status_code == 200

    def set_s3_secrets(data_source_id, access_key, secret_key):  # type: ignore[no-untyped-def]
        """Set S3 access credentials for a data source"""
        secrets_resp = requests.post(
            f"{API_URL}/data/data_source/secret?identifier={data_source_id}",
            headers=get_headers(),
            json={"S3_ACCESS_KEY": access_key, "S3_SECRET_KEY": secret_key},
        )
        return secrets_resp.status_code == 200

    system = requests.post(f"{API_URL}/data/data_system", headers=get_headers(), json=seed_system()).json()[
        "identifier"
    ]
    source = create_data_source("Transactions", "Daily transactions")
    assert source is not None
    assert link_data_source_to_data_system(system, source)
    assert configure_s3_data_source(source, seaweedfs.endpoint)
    assert set_s3_secrets(source, seaweedfs.rw.access_key, seaweedfs.rw.secret_key)
    shown = requests.get(f"{API_URL}/data/data_source", headers=get_headers(), params={"identifier": source}).json()
    assert shown["entity"]["label"] == "TRA" and shown["entity"]["state"]["healthy"] is True


def test_no_response_or_log_line_holds_a_secret_value(
    hub_server: RunningHub, fapi: httpx.Client, seaweedfs: SeaweedFS
) -> None:
    start_transcript, start_logs = len(hub_server.transcript), len(hub_server.logs.lines)
    canary = "fnd-canary-" + uuid.uuid4().hex
    identifier = create(fapi)["entity"]["identifier"]
    fapi.put(f"/api/data/data_source/connection?identifier={identifier}", json=s3_connection(seaweedfs.endpoint))
    fapi.post(
        f"/api/data/data_source/secret?identifier={identifier}",
        json={"S3_ACCESS_KEY": canary, "S3_SECRET_KEY": canary + "-sk"},
    )
    fapi.put(
        f"/api/data/data_source/secret?identifier={identifier}",
        json={"S3_ACCESS_KEY": seaweedfs.rw.access_key, "S3_SECRET_KEY": seaweedfs.rw.secret_key},
    )
    fapi.post(f"/api/data/data_source/secret?identifier={identifier}", json={"bad key": canary})
    fapi.get("/api/data/data_source", params={"identifier": identifier})
    fapi.get("/api/data/data_source/list")
    fapi.get("/api/data/data_source/connection", params={"identifier": identifier})
    fapi.get(f"/v1/sources/{identifier}")
    fapi.get(f"/v1/secrets/foundation-{identifier}")
    fapi.delete("/api/data/data_source", params={"identifier": identifier})
    captured = "\n".join(hub_server.transcript[start_transcript:] + hub_server.logs.lines[start_logs:])
    assert "S3_ACCESS_KEY" in captured and MASK in captured
    for value in (canary, seaweedfs.rw.secret_key):
        assert value not in captured


# -- database and synthetic connections -----------------------------------------------------


def database_connection(db: Database, engine: str) -> dict[str, Any]:
    """Reference section 3: the `database` connection."""
    return {
        "connection": {
            "connection_type": "database",
            "engine": engine,
            "host": db.host,
            "port": db.port,
            "schema": "public",
            "database": db.name,
            "user": {"env_key": "DB_USER"},
            "password": {"env_key": "DB_PASSWORD"},
        }
    }


@pytest.mark.parametrize("kind,engine", [("postgres", "postgresql"), ("mysql", "mariadb")])
def test_a_database_connection_walks_to_healthy_and_serves_tables(
    request: pytest.FixtureRequest, fapi: httpx.Client, kind: str, engine: str
) -> None:
    db: Database = request.getfixturevalue("pg_db" if kind == "postgres" else "mysql_db")
    identifier = create(fapi, label="DB")["entity"]["identifier"]
    configured = fapi.put(
        f"/api/data/data_source/connection?identifier={identifier}", json=database_connection(db, engine)
    )
    assert configured.status_code == 200, configured.text
    connection = configured.json()["connection"]
    assert (
        connection["connection_type"] == "database"
        and connection["database"] == db.name
        and connection["port"] == db.port
    )
    assert connection["user"] == {"env_key": "DB_USER"} and connection["password"] == {"env_key": "DB_PASSWORD"}
    state = fapi.get("/api/data/data_source", params={"identifier": identifier}).json()["entity"]["state"]
    assert state == {"code": "002", "reason": "Requires secrets: DB_USER, DB_PASSWORD.", "healthy": False}
    fapi.post(
        f"/api/data/data_source/secret?identifier={identifier}",
        json={"DB_USER": db.user, "DB_PASSWORD": "wrong-" + db.password},
    )
    assert (
        fapi.get("/api/data/data_source", params={"identifier": identifier}).json()["entity"]["state"]["code"] == "003"
    )
    fapi.put(f"/api/data/data_source/secret?identifier={identifier}", json={"DB_PASSWORD": db.password})
    source = fapi.get("/api/data/data_source", params={"identifier": identifier}).json()
    assert source["entity"]["state"] == {"code": "000", "reason": "Connection verified.", "healthy": True}
    native = fapi.get(f"/v1/sources/{identifier}").json()
    assert native["protocol"] == kind and native["label"] == "db"
    listing = fapi.get(f"/v1/connector/{kind}+db/")
    assert listing.status_code == 200, listing.text


def test_a_synthetic_connection_is_healthy_at_once_and_serves_data(fapi: httpx.Client) -> None:
    identifier = create(fapi, label="SYN")["entity"]["identifier"]
    response = fapi.put(
        f"/api/data/data_source/connection?identifier={identifier}",
        json={"connection": {"connection_type": "synthetic"}},
    )
    assert response.status_code == 200, response.text
    assert response.json() == {"connection": {"connection_type": "synthetic"}, "secrets": []}
    source = fapi.get("/api/data/data_source", params={"identifier": identifier}).json()
    assert source["entity"]["state"] == {"code": "000", "reason": "Connection verified.", "healthy": True}
    assert fapi.get(f"/v1/sources/{identifier}").json()["protocol"] == "synthetic"
    assert fapi.get("/v1/connector/synthetic+syn/").status_code == 200


def test_the_connection_type_can_change_keeping_the_identifier(fapi: httpx.Client, seaweedfs: SeaweedFS) -> None:
    identifier = create(fapi)["entity"]["identifier"]
    fapi.put(f"/api/data/data_source/connection?identifier={identifier}", json=s3_connection(seaweedfs.endpoint))
    fapi.post(
        f"/api/data/data_source/secret?identifier={identifier}",
        json={"S3_ACCESS_KEY": seaweedfs.rw.access_key, "S3_SECRET_KEY": seaweedfs.rw.secret_key},
    )
    switched = fapi.put(
        f"/api/data/data_source/connection?identifier={identifier}",
        json={"connection": {"connection_type": "synthetic"}},
    )
    assert switched.status_code == 200, switched.text
    source = fapi.get("/api/data/data_source", params={"identifier": identifier}).json()
    assert source["connection"] == {"connection_type": "synthetic"} and source["entity"]["state"]["code"] == "000"
    assert [s["key"] for s in source["secrets"]] == ["S3_ACCESS_KEY", "S3_SECRET_KEY"]
    native = fapi.get(f"/v1/sources/{identifier}").json()
    assert native["protocol"] == "synthetic" and native["label"] == "dse"


def test_a_native_source_is_a_foundation_data_source(fapi: httpx.Client, seaweedfs: SeaweedFS) -> None:
    fapi.post(
        "/v1/secrets",
        json={
            "id": "lake-keys",
            "secretType": "s3",
            "accessKey": seaweedfs.rw.access_key,
            "secretKey": seaweedfs.rw.secret_key,
        },
    )
    native = fapi.post(
        "/v1/sources",
        json={"protocol": "s3", "label": "lake", "params": {"endpoint": seaweedfs.endpoint}, "secretId": "lake-keys"},
    )
    assert native.status_code == 201, native.text
    fapi.post(f"/v1/sources/{native.json()['id']}/test")
    [listed] = fapi.get("/api/data/data_source/list").json()["entities"]
    assert listed["identifier"] == native.json()["id"] and listed["label"] == "lake"
    assert listed["state"] == {"code": "000", "reason": "Connection verified.", "healthy": True}
    assert listed["connection"] == {
        "connection_type": "s3",
        "url": seaweedfs.endpoint,
        "access_key": None,
        "access_secret": None,
    }


def test_an_oversized_body_is_413_in_foundations_own_shape(fapi: httpx.Client) -> None:
    huge = seed_source(description="x" * (2 * 1024 * 1024))
    response = fapi.post("/api/data/data_source", json=huge)
    assert response.status_code == 413 and "larger than" in response.json()["detail"]
