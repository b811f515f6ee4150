"""`/v1/access-keys` end to end: the secret is shown once, listed keys carry none, bad input is a 4xx naming the
field, other users' keys are neither visible nor revocable, and no response or log line carries a secret."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from headwater.errors import AccessKeyUnknown
from headwater.services import access_keys
from tests.fixtures.hub import RunningHub


def org_name() -> str:
    return f"ak-{uuid.uuid4().hex[:10]}"


def created(response: httpx.Response) -> dict[str, object]:
    assert response.status_code == 201, response.text
    body: dict[str, object] = response.json()
    return body


def test_a_key_is_issued_with_its_secret_once_and_listed_without_it(hub_server: RunningHub, api: httpx.Client) -> None:
    start_transcript, start_logs = len(hub_server.transcript), len(hub_server.logs.lines)
    key = created(api.post("/v1/access-keys", json={"name": "laptop", "readOnly": True, "expiresIn": "1d"}))
    key_id, secret = str(key["accessKeyId"]), str(key["secretAccessKey"])
    assert key_id.startswith("HW") and len(key_id) == 20 and len(secret) == 40
    assert key["name"] == "laptop" and key["readOnly"] is True and key["lastUsedAt"] is None
    expires = datetime.fromisoformat(str(key["expiresAt"]))
    assert timedelta(hours=23) < expires - datetime.now(UTC) <= timedelta(days=1)

    listed = api.get("/v1/access-keys")
    assert listed.status_code == 200
    (entry,) = [k for k in listed.json()["accessKeys"] if k["accessKeyId"] == key_id]
    assert "secretAccessKey" not in entry and entry["tokenId"] == key["tokenId"]
    api.get("/v1/tokens")
    assert api.delete(f"/v1/access-keys/{key_id}").status_code == 204
    assert key_id not in api.get("/v1/access-keys").text
    assert api.delete(f"/v1/access-keys/{key_id}").status_code == 404
    with pytest.raises(AccessKeyUnknown):
        access_keys.resolve_blocking(hub_server.hub, key_id)

    transcript = hub_server.transcript[start_transcript:]
    assert sum(secret in line for line in transcript) == 1, "the secret is shown exactly once"
    assert all(secret not in line for line in hub_server.logs.lines[start_logs:])


def test_the_key_s_narrowing_comes_from_the_token_and_is_never_broader(hub_server: RunningHub) -> None:
    org = org_name()
    narrowed = hub_server.token(org=org, admin=False, read_only=True, path_prefix="s3+lake://b/team/")
    with hub_server.client(narrowed) as client:
        key = created(client.post("/v1/access-keys", json={}))
        assert key["readOnly"] is True and key["pathPrefix"] == "s3+lake://b/team/"
        sub = created(client.post("/v1/access-keys", json={"pathPrefix": "s3+lake://b/team/sub/"}))
        assert sub["pathPrefix"] == "s3+lake://b/team/sub/"
        wider = client.post("/v1/access-keys", json={"pathPrefix": "s3+lake://b/"})
        assert wider.status_code == 403 and "prefix" in wider.json()["error"]["message"]
        admin = hub_server.token(org=org, user="root")
        with hub_server.client(admin) as root:
            sees = {k["accessKeyId"] for k in root.get("/v1/access-keys").json()["accessKeys"]}
        assert {key["accessKeyId"], sub["accessKeyId"]} <= sees


@pytest.mark.parametrize(
    ("body", "named"),
    [
        ({"expiresIn": "soon"}, "expiresIn"),
        ({"expiresIn": "0"}, "expiresIn"),
        ({"expiresIn": "1d", "expiresAt": "2099-01-01T00:00:00Z"}, "expiresAt or expiresIn"),
        ({"expiresAt": "yesterday"}, "expiresAt"),
        ({"readOnly": "maybe"}, "readOnly"),
        ({"sourceIds": "s1"}, "sourceIds"),
        ({"pathPrefix": "s3+lake://b/../x/"}, "'..'"),
        ({"name": "x" * 300}, "name"),
        ({"secretAccessKey": "chosen-by-me"}, "secretAccessKey"),
    ],
)
def test_bad_input_is_a_400_naming_what_was_wrong(api: httpx.Client, body: dict[str, object], named: str) -> None:
    response = api.post("/v1/access-keys", json=body)
    assert response.status_code == 400, response.text
    assert named in response.json()["error"]["message"]


def test_a_body_that_is_not_json_is_a_400(api: httpx.Client) -> None:
    response = api.post("/v1/access-keys", content=b"{not json", headers={"Content-Type": "application/json"})
    assert response.status_code == 400


def test_an_expiry_after_the_token_s_own_is_refused(hub_server: RunningHub) -> None:
    short = hub_server.token(org=org_name(), admin=False, expires_at=datetime.now(UTC) + timedelta(hours=1))
    with hub_server.client(short) as client:
        assert client.post("/v1/access-keys", json={"expiresIn": "2d"}).status_code == 403
        key = created(client.post("/v1/access-keys", json={}))
        assert key["expiresAt"] is not None  # the token's own expiry is inherited


def test_other_users_keys_are_neither_listed_nor_revocable(hub_server: RunningHub) -> None:
    org = org_name()
    alice = hub_server.token(org=org, user="alice", admin=False)
    bob = hub_server.token(org=org, user="bob", admin=False)
    stranger = hub_server.token()
    with hub_server.client(alice) as a, hub_server.client(bob) as b, hub_server.client(stranger) as s:
        key_id = str(created(a.post("/v1/access-keys", json={"name": "alice's"}))["accessKeyId"])
        for other in (b, s):
            assert key_id not in other.get("/v1/access-keys").text
            refused = other.delete(f"/v1/access-keys/{key_id}")
            assert refused.status_code == 404, refused.text
        assert key_id in a.get("/v1/access-keys").text
        assert a.delete("/v1/access-keys/not-a-key").status_code == 404


def test_without_a_token_the_routes_are_401(hub_server: RunningHub) -> None:
    with hub_server.client() as anonymous:
        assert anonymous.post("/v1/access-keys", json={}).status_code == 401
        assert anonymous.get("/v1/access-keys").status_code == 401
        assert anonymous.delete("/v1/access-keys/HWAAAAAAAAAAAAAAAAAA").status_code == 401
