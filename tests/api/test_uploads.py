"""`/v1/uploads` through HTTP: single-request and resumable uploads become healthy `file` sources."""

from __future__ import annotations

import hashlib
import os
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from tests.fixtures.hub import RunningHub


def label() -> str:
    return "f" + uuid.uuid4().hex[:10]


def at(source: dict[str, Any], path: str = "") -> str:
    return f"/v1/connector/file+{source['label']}/{path}"


def start(api: httpx.Client, filename: str = "big.bin", **fields: Any) -> dict[str, Any]:
    response = api.post("/v1/uploads", json={"filename": filename, **fields})
    assert response.status_code == 201, response.text
    return response.json()


def test_a_single_request_upload_creates_a_healthy_file_source(api: httpx.Client, hub_server: RunningHub) -> None:
    data = os.urandom(3 * 1024 * 1024 + 123)  # larger than the JSON body cap: uploads stream
    name = label()
    response = api.put("/v1/uploads/report.csv", params={"label": name, "description": "Q3"}, content=data)
    assert response.status_code == 201, response.text
    upload = response.json()
    assert upload["state"] == "complete" and upload["size"] == len(data) and upload["filename"] == "report.csv"
    source = upload["source"]
    assert source["protocol"] == "file" and source["label"] == name and source["address"] == f"file+{name}://"
    assert source["state"]["code"] == "100" and source["state"]["healthy"] is True
    assert source["capabilities"] == {"input": True, "output": False} and source["description"] == "Q3"

    assert api.get(at(source)).json()["files"][0]["filename"] == "report.csv"
    whole = api.get(at(source, "report.csv"))
    assert hashlib.sha256(whole.content).digest() == hashlib.sha256(data).digest()
    part = api.get(at(source, "report.csv"), headers={"Range": "bytes=10-19"})
    assert part.status_code == 206 and part.content == data[10:20]
    assert api.get(at(source, "other.csv")).status_code == 404
    refused = api.put(at(source, "report.csv"), content=b"x")
    assert refused.status_code == 405 and refused.json()["error"]["code"] == "not_supported"

    expires = datetime.fromisoformat(upload["expiresAt"].replace("Z", "+00:00"))
    assert abs(expires - (datetime.now(UTC) + timedelta(hours=1))) < timedelta(minutes=5)
    assert upload["tempUrl"].startswith(hub_server.url + "/v1/links/")
    with httpx.Client() as anonymous:  # the link needs no token
        linked = anonymous.get(upload["tempUrl"])
    assert linked.status_code == 200 and linked.content == data


def test_a_resumable_upload_in_parts(api: httpx.Client) -> None:
    parts = [os.urandom(700_000), os.urandom(900_000), os.urandom(1234)]
    name = label()
    upload = start(api, "table.parquet", label=name, name="The table")
    assert upload["state"] == "open" and upload["parts"] == [] and upload["label"] == name
    base = f"/v1/uploads/{upload['uploadId']}"
    # Out of order, and part 2 sent twice: the second replaces the first.
    assert api.put(f"{base}/parts/2", content=b"garbage").status_code == 200
    for number in (3, 1, 2):
        sent = api.put(f"{base}/parts/{number}", content=parts[number - 1])
        assert sent.status_code == 200, sent.text
        assert sent.json() == {
            "part": number,
            "size": len(parts[number - 1]),
            "sha256": hashlib.sha256(parts[number - 1]).hexdigest(),
        }
    status = api.get(base).json()
    assert [(p["part"], p["size"]) for p in status["parts"]] == [(1, 700_000), (2, 900_000), (3, 1234)]

    done = api.post(f"{base}/complete", json={"parts": [1, 2, 3]})
    assert done.status_code == 201, done.text
    source = done.json()["source"]
    assert source["name"] == "The table" and source["state"]["code"] == "100"
    assert api.get(at(source, "table.parquet")).content == b"".join(parts)
    assert api.put(f"{base}/parts/4", content=b"late").status_code == 409
    assert api.post(f"{base}/complete", json={}).status_code == 409

    again = api.get(base).json()
    assert again["state"] == "complete" and again["tempUrl"] and again["source"]["id"] == source["id"]
    kept = api.delete(base)
    assert kept.status_code == 409 and "delete the source first" in kept.json()["error"]["message"]
    assert api.delete(f"/v1/sources/{source['id']}").status_code == 204
    assert api.delete(base).status_code == 204
    assert api.get(base).status_code == 404


def test_completing_names_what_is_missing(api: httpx.Client) -> None:
    upload = start(api)
    base = f"/v1/uploads/{upload['uploadId']}"
    nothing = api.post(f"{base}/complete", json={})
    assert nothing.status_code == 400 and "has no parts" in nothing.json()["error"]["message"]
    api.put(f"{base}/parts/1", content=b"a")
    api.put(f"{base}/parts/3", content=b"c")
    gap = api.post(f"{base}/complete", json={})
    assert gap.status_code == 400 and "missing part 2" in gap.json()["error"]["message"]
    api.put(f"{base}/parts/2", content=b"b")
    mismatch = api.post(f"{base}/complete", json={"parts": [1, 2]})
    assert mismatch.status_code == 400 and "[1, 2, 3]" in mismatch.json()["error"]["message"]
    done = api.post(f"{base}/complete", json={})
    assert done.status_code == 201 and done.json()["size"] == 3


def test_bad_requests_are_4xx_naming_the_problem(api: httpx.Client) -> None:
    cases: list[tuple[httpx.Response, int, str]] = [
        (api.post("/v1/uploads", json={"filename": ".."}), 400, "file name '..' is not allowed"),
        (api.post("/v1/uploads", json={}), 400, "filename: field required"),
        (api.post("/v1/uploads", content=b"{not json"), 400, "not valid JSON"),
        (api.post("/v1/uploads", json={"filename": "a", "label": "Bad Label"}), 400, "label 'Bad Label' is invalid"),
        (api.put("/v1/uploads/a.txt", params={"label": "UPPER"}, content=b"x"), 400, "is invalid"),
        (api.get("/v1/uploads/" + "0" * 32), 404, "does not exist"),
        (api.put(f"/v1/uploads/{start(api)['uploadId']}/parts/0", content=b"x"), 400, "out of range"),
        (api.put(f"/v1/uploads/{start(api)['uploadId']}/parts/one", content=b"x"), 400, "number"),
    ]
    for response, status, words in cases:
        assert response.status_code == status, response.text
        assert words in response.json()["error"]["message"], response.text


def test_a_taken_label_is_refused_before_any_bytes_are_stored(api: httpx.Client, hub_server: RunningHub) -> None:
    name = label()
    assert api.put("/v1/uploads/a.txt", params={"label": name}, content=b"first").status_code == 201
    uploads = hub_server.hub.settings.data_dir / "uploads"
    before = sum(1 for _ in uploads.rglob("*"))
    clash = api.put("/v1/uploads/b.txt", params={"label": name}, content=b"second")
    assert clash.status_code == 409 and clash.json()["error"]["code"] == "conflict"
    assert sum(1 for _ in uploads.rglob("*")) == before
    assert api.post("/v1/uploads", json={"filename": "c.txt", "label": name}).status_code == 409


def test_uploads_are_invisible_to_other_organizations(api: httpx.Client, hub_server: RunningHub) -> None:
    upload = start(api)
    base = f"/v1/uploads/{upload['uploadId']}"
    with hub_server.client(hub_server.token()) as stranger:
        assert stranger.get(base).status_code == 404
        assert stranger.put(f"{base}/parts/1", content=b"x").status_code == 404
        assert stranger.post(f"{base}/complete", json={}).status_code == 404
        assert stranger.delete(base).status_code == 404
    assert api.get(base).json()["parts"] == []


def test_read_only_and_source_limited_tokens_cannot_upload(api: httpx.Client, hub_server: RunningHub) -> None:
    with hub_server.client(hub_server.token(read_only=True)) as reader:
        refused = reader.put("/v1/uploads/a.txt", content=b"x")
        assert refused.status_code == 403 and "read-only" in refused.json()["error"]["message"]
        assert reader.post("/v1/uploads", json={"filename": "a"}).status_code == 403
    with hub_server.client(hub_server.token(source_ids=(str(uuid.uuid4()),))) as limited:
        refused = limited.put("/v1/uploads/a.txt", content=b"x")
        assert refused.status_code == 403 and "limited to some data sources" in refused.json()["error"]["message"]


def test_an_open_upload_can_be_aborted(api: httpx.Client, hub_server: RunningHub) -> None:
    upload = start(api)
    base = f"/v1/uploads/{upload['uploadId']}"
    api.put(f"{base}/parts/1", content=b"abc")
    assert api.delete(base).status_code == 204
    assert api.get(base).status_code == 404
    assert not list((hub_server.hub.settings.data_dir / "uploads").rglob(upload["uploadId"]))


def test_uploads_need_a_token(hub_server: RunningHub) -> None:
    with hub_server.client() as anonymous:
        response = anonymous.put("/v1/uploads/a.txt", content=b"x")
    assert response.status_code == 401 and response.json()["error"]["code"] == "unauthenticated"
