"""Finding 5: a token narrowed to one source, or to an address prefix, sees only that source.

Source lists (native and Foundation) hold only its own source, so no other upload's `uploadId` or signed link
shows; other sources and other uploads are 404 exactly like missing ids, and no signed link of another upload
can be obtained (not through the uploads API, not through an ad-hoc `file` dataSource object).
"""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import pytest

from tests.fixtures.hub import RunningHub

FILE_TYPE = "type.googleapis.com/bytenite.data_source.LocalFileDataSource"


def created(response: httpx.Response) -> dict[str, Any]:
    assert response.status_code in (200, 201), response.text
    return dict(response.json())


@pytest.fixture(scope="module")
def org(sqlite_hub: RunningHub) -> dict[str, Any]:
    """A member's organization: its own upload (the narrowed tokens' one source), a secret upload, and a synthetic source."""
    name = f"org-{uuid.uuid4().hex[:10]}"
    member_token = sqlite_hub.token(org=name, user="mia", admin=False)
    with sqlite_hub.client(member_token) as member:
        mine = created(member.put("/v1/uploads/mine.csv", content=b"a\n1\n"))
        secret = created(member.put("/v1/uploads/salaries.csv", content=b"name,salary\nann,1\n"))
        other = created(member.post("/v1/sources", json={"protocol": "synthetic", "label": "other"}))
        label = mine["source"]["label"]
        tokens = {
            "sources": created(member.post("/v1/tokens", json={"sourceIds": [mine["source"]["id"]]}))["token"],
            "prefix": created(member.post("/v1/tokens", json={"pathPrefix": f"file+{label}://"}))["token"],
        }
    return {"name": name, "mine": mine, "secret": secret, "other": other, "tokens": tokens}


def hidden(org: dict[str, Any]) -> list[str]:
    """What a narrowed token must never see: the other upload's id, its source's id and label, the other source."""
    secret = org["secret"]
    return [secret["uploadId"], secret["source"]["id"], secret["source"]["label"], org["other"]["id"]]


@pytest.mark.parametrize("narrowing", ["sources", "prefix"])
def test_source_lists_show_only_the_narrowed_source(
    sqlite_hub: RunningHub, org: dict[str, Any], narrowing: str
) -> None:
    with sqlite_hub.client(org["tokens"][narrowing], **{"x-org": org["name"]}) as client:
        native = client.get("/v1/sources")
        foundation = client.get("/api/data/data_source/list")
        by_kind = client.get("/v1/sources", params={"protocol": "file"})
    assert native.status_code == foundation.status_code == by_kind.status_code == 200
    assert [s["id"] for s in native.json()["sources"]] == [org["mine"]["source"]["id"]]
    assert [s["id"] for s in by_kind.json()["sources"]] == [org["mine"]["source"]["id"]]
    for response in (native, foundation, by_kind):
        leaked = [value for value in hidden(org) if value in response.text]
        assert not leaked, f"{narrowing} sees {leaked} in {response.request.url}"


@pytest.mark.parametrize("narrowing", ["sources", "prefix"])
def test_other_sources_and_uploads_are_404_and_their_links_unobtainable(
    sqlite_hub: RunningHub, org: dict[str, Any], narrowing: str
) -> None:
    secret = org["secret"]
    with sqlite_hub.client(org["tokens"][narrowing], **{"x-org": org["name"]}) as client:
        assert client.get(f"/v1/sources/{secret['source']['id']}").status_code == 404
        assert client.get(f"/v1/sources/{org['other']['id']}").status_code == 404
        assert client.get(f"/api/data/data_source?identifier={secret['source']['id']}").status_code == 404
        upload = client.get(f"/v1/uploads/{secret['uploadId']}")
        assert upload.status_code == 404, upload.text
        assert "/v1/links/" not in upload.text
        ad_hoc = client.post(
            "/v1/customer/jobs/datasource/info",
            json={
                "dataSource": {
                    "dataSourceDescriptor": "file",
                    "params": {"@type": FILE_TYPE, "uploadId": secret["uploadId"], "filename": "salaries.csv"},
                }
            },
        )
        assert ad_hoc.status_code == 403, ad_hoc.text
        assert "/v1/links/" not in ad_hoc.text
        assert client.get(f"/v1/connector/file+{secret['source']['label']}/salaries.csv").status_code in (403, 404)
        own = client.get(f"/v1/uploads/{org['mine']['uploadId']}")
    assert own.status_code == 200 and own.json()["tempUrl"]  # its own upload stays reachable
