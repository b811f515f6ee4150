"""Finding 3: a narrowed token (read-only, some sources, an address prefix) never reconfigures a source.

It cannot change a label (to swap two sources), params, the `uploadId` of a file source, path restrictions or
access, nor delete or create a source: 403 on what it can see, 404 on what it cannot; the sources stay unchanged.
"""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import pytest

from tests.fixtures.hub import RunningHub

NARROWINGS = ("read_only", "sources", "prefix")


def created(response: httpx.Response) -> dict[str, Any]:
    assert response.status_code in (200, 201), response.text
    return dict(response.json())


@pytest.fixture(scope="module")
def org(sqlite_hub: RunningHub) -> dict[str, Any]:
    """Two synthetic sources (a kind members may change) and two uploads' file sources, made by a member."""
    name = f"org-{uuid.uuid4().hex[:10]}"
    member_token = sqlite_hub.token(org=name, user="mia", admin=False)
    with sqlite_hub.client(member_token) as member:
        first = created(member.post("/v1/sources", json={"protocol": "synthetic", "label": "first"}))
        second = created(member.post("/v1/sources", json={"protocol": "synthetic", "label": "second"}))
        mine = created(member.put("/v1/uploads/mine.csv", content=b"a\n1\n"))
        theirs = created(member.put("/v1/uploads/theirs.csv", content=b"a\n2\n"))
        tokens = {
            "read_only": created(member.post("/v1/tokens", json={"readOnly": True}))["token"],
            "sources": created(member.post("/v1/tokens", json={"sourceIds": [first["id"], mine["source"]["id"]]}))[
                "token"
            ],
            "prefix": created(member.post("/v1/tokens", json={"pathPrefix": "synthetic+first://"}))["token"],
        }
    return {"member": member_token, "first": first, "second": second, "mine": mine, "theirs": theirs, "tokens": tokens}


def snapshot(hub: RunningHub, org: dict[str, Any]) -> list[dict[str, Any]]:
    with hub.client(org["member"]) as member:
        return sorted(member.get("/v1/sources").json()["sources"], key=lambda s: s["id"])


def changes(org: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    first, second, mine, theirs = org["first"]["id"], org["second"]["id"], org["mine"]["source"]["id"], org["theirs"]
    return [
        ("label (to take another's)", first, {"label": "second"}),
        ("label", first, {"label": "renamed"}),
        ("params", first, {"params": {"datasets": {}}}),
        ("uploadId", mine, {"params": {"uploadId": theirs["uploadId"], "filename": "theirs.csv"}}),
        ("path restrictions", first, {"pathRestrictions": ["nothing/*"]}),
        ("access", mine, {"access": "read-write"}),
        ("label of a source outside the narrowing", second, {"label": "first-x"}),
    ]


@pytest.mark.parametrize("narrowing", NARROWINGS)
def test_a_narrowed_token_cannot_patch_any_field_of_any_source(
    sqlite_hub: RunningHub, org: dict[str, Any], narrowing: str
) -> None:
    before = snapshot(sqlite_hub, org)
    with sqlite_hub.client(org["tokens"][narrowing]) as client:
        for what, source_id, body in changes(org):
            response = client.patch(f"/v1/sources/{source_id}", json=body)
            assert response.status_code in (403, 404), (
                f"{narrowing} changed {what}: {response.status_code} {response.text}"
            )
            if response.status_code == 404:  # only a source outside the token's narrowing may look missing
                inside = {
                    "read_only": None,
                    "sources": {org["first"]["id"], org["mine"]["source"]["id"]},
                    "prefix": {org["first"]["id"]},
                }[narrowing]
                assert inside is not None and source_id not in inside, f"{narrowing}: {what} answered 404"
    assert snapshot(sqlite_hub, org) == before


@pytest.mark.parametrize("narrowing", NARROWINGS)
def test_a_narrowed_token_cannot_reconfigure_through_foundation(
    sqlite_hub: RunningHub, org: dict[str, Any], narrowing: str
) -> None:
    before = snapshot(sqlite_hub, org)
    with sqlite_hub.client(org["tokens"][narrowing]) as client:
        me = client.get("/v1/me").json()
        headers = {"x-org": me["organization"]}
        first = org["first"]["id"]
        entity = {"entity": {"name": "Swapped", "entity_type": "origin", "label": "SW", "description": "x"}}
        attempts = [
            client.put(f"/api/data/data_source?identifier={first}", json=entity, headers=headers),
            client.put(
                f"/api/data/data_source/connection?identifier={first}",
                json={"connection": {"connection_type": "synthetic"}},
                headers=headers,
            ),
            client.post(f"/api/data/data_source/secret?identifier={first}", json={"K": "v"}, headers=headers),
            client.put(
                f"/api/data/data_source/info?identifier={first}",
                json={"owner": "x", "contact_ids": [], "links": []},
                headers=headers,
            ),
        ]
    assert [a.status_code for a in attempts] == [403] * len(attempts), [a.text for a in attempts]
    assert snapshot(sqlite_hub, org) == before


@pytest.mark.parametrize("narrowing", NARROWINGS)
def test_a_narrowed_token_cannot_delete_or_create_a_source(
    sqlite_hub: RunningHub, org: dict[str, Any], narrowing: str
) -> None:
    before = snapshot(sqlite_hub, org)
    with sqlite_hub.client(org["tokens"][narrowing]) as client:
        assert client.delete(f"/v1/sources/{org['first']['id']}").status_code == 403
        assert client.delete(f"/v1/sources/{org['second']['id']}").status_code == (
            403 if narrowing == "read_only" else 404
        )
        made = client.post("/v1/sources", json={"protocol": "synthetic", "label": f"new-{narrowing.replace('_', '-')}"})
        assert made.status_code == 403, made.text
        uploaded = client.put("/v1/uploads/new.csv", content=b"a\n3\n")
        assert uploaded.status_code == 403, uploaded.text
    assert snapshot(sqlite_hub, org) == before
