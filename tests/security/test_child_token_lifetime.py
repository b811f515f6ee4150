"""Finding 8: a child token never outlives its parent.

A child asked with an expiry later than its parent's is refused; one asked without an expiry inherits the
parent's; revoking the parent, or the parent's expiry, makes the child (and its own children) 401.
"""

from __future__ import annotations

import time
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from tests.fixtures.hub import RunningHub


def parse(moment: str) -> datetime:
    return datetime.fromisoformat(moment.replace("Z", "+00:00"))


def issue(client: httpx.Client, **body: Any) -> httpx.Response:
    return client.post("/v1/tokens", json=body)


def test_a_child_cannot_ask_for_an_expiry_after_its_parents(sqlite_hub: RunningHub) -> None:
    parent_expiry = datetime.now(UTC) + timedelta(hours=1)
    parent = sqlite_hub.token(user="mia", admin=False, expires_at=parent_expiry)
    with sqlite_hub.client(parent) as client:
        later = issue(client, expiresAt=(parent_expiry + timedelta(days=30)).isoformat())
        never = issue(client, name="no expiry asked")
        listed = {t["id"]: t for t in client.get("/v1/tokens").json()["tokens"]}
    assert later.status_code == 403, later.text
    assert never.status_code == 201, never.text
    inherited = never.json()["expiresAt"]
    assert inherited is not None and parse(inherited) <= parent_expiry
    assert listed[never.json()["id"]]["expiresAt"] is not None
    assert parse(listed[never.json()["id"]]["expiresAt"]) <= parent_expiry


def test_revoking_the_parent_kills_its_children_and_grandchildren(sqlite_hub: RunningHub) -> None:
    org = f"org-{uuid.uuid4().hex[:10]}"
    admin = sqlite_hub.token(org=org, user="root")
    parent = sqlite_hub.token(org=org, user="mia", admin=False)
    with sqlite_hub.client(parent) as client:
        parent_id = client.get("/v1/me").json()["tokenId"]
        child = issue(client, name="child").json()["token"]
    with sqlite_hub.client(child) as client:
        grandchild = issue(client, name="grandchild", readOnly=True).json()["token"]
    with sqlite_hub.client(admin) as client:
        assert client.delete(f"/v1/tokens/{parent_id}").status_code == 204
    for token in (child, grandchild):
        with sqlite_hub.client(token) as client:
            assert client.get("/v1/me").status_code == 401
            assert client.get("/v1/sources").status_code == 401
            assert issue(client, name="escape").status_code == 401


def test_a_parents_expiry_kills_its_children(sqlite_hub: RunningHub) -> None:
    parent = sqlite_hub.token(user="mia", admin=False, expires_at=datetime.now(UTC) + timedelta(seconds=3))
    with sqlite_hub.client(parent) as client:
        child = issue(client, name="child").json()["token"]
    with sqlite_hub.client(child) as client:
        assert client.get("/v1/me").status_code == 200
    time.sleep(3.5)  # the parent's time runs out
    with sqlite_hub.client(child) as client:
        assert client.get("/v1/me").status_code == 401
        assert client.get("/v1/tokens").status_code == 401
