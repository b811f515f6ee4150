"""Finding 4: a token narrowed to some sources has no access to the organization's hosted data (`data://`).

Reading, listing, writing, making folders, changing ACLs and deleting under `/v1/data/.my/...` are 403, and the
hosted files are left as they were.
"""

from __future__ import annotations

import uuid

import httpx

from tests.fixtures.hub import RunningHub


def test_a_source_narrowed_token_cannot_read_write_list_or_delete_hosted_data(sqlite_hub: RunningHub) -> None:
    org = f"org-{uuid.uuid4().hex[:10]}"
    member_token = sqlite_hub.token(org=org, user="mia", admin=False)
    with sqlite_hub.client(member_token) as member:
        assert member.put("/v1/data/.my/private/payroll.csv", content=b"name,salary\nann,1\n").status_code == 200
        source = member.post("/v1/sources", json={"protocol": "synthetic", "label": "only"}).json()
        narrowed = member.post("/v1/tokens", json={"sourceIds": [source["id"]]}).json()["token"]
    with sqlite_hub.client(narrowed) as client:
        attempts: dict[str, httpx.Response] = {
            "read": client.get("/v1/data/.my/private/payroll.csv"),
            "stat": client.head("/v1/data/.my/private/payroll.csv"),
            "list a collection": client.get("/v1/data/.my/private/"),
            "list the organization": client.get("/v1/data/.my/"),
            "list by name": client.get(f"/v1/data/{org}/private/"),
            "overwrite": client.put("/v1/data/.my/private/payroll.csv", content=b"name,salary\nann,1000000\n"),
            "write": client.put("/v1/data/.my/private/new.csv", content=b"x"),
            "mkdir": client.post("/v1/data/.my/", json={"name": "mine"}),
            "acl": client.patch("/v1/data/.my/private", json={"acl": {"read": ["user://*"]}}),
            "delete": client.delete("/v1/data/.my/private/payroll.csv"),
            "delete the collection": client.delete("/v1/data/.my/private/?force=true"),
        }
        allowed = client.get("/v1/connector/synthetic+only/")
    refused = {what: r.status_code for what, r in attempts.items() if r.status_code != 403}
    assert not refused, f"not refused with 403: {refused}"
    assert allowed.status_code == 200  # its own source still works
    with sqlite_hub.client(member_token) as member:
        assert member.get("/v1/data/.my/private/payroll.csv").content == b"name,salary\nann,1\n"
        names = [f["filename"] for f in member.get("/v1/data/.my/private/").json()["files"]]
        assert names == ["payroll.csv"]
        assert member.get("/v1/data/.my/mine/").status_code == 404
