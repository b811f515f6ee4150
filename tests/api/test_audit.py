"""The audit trail: one event per operation, no secrets, filters, and no access without an event."""

from __future__ import annotations

import os
import uuid
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import anyio
import httpx
import pytest
from sqlalchemy import text
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from headwater.services.hub import Hub
from tests.fixtures.hub import RunningHub, start_hub
from tests.fixtures.postgres import create_database, drop_database, url_of

SECRET_VALUE = "audit-canary-secret-4471"


def scripted_session(api: httpx.Client, folder: Path) -> str:
    (folder / "in.txt").write_text("hello")
    api.post("/v1/secrets", json={"id": "k", "secretType": "generic", "secretKey": SECRET_VALUE}).raise_for_status()
    source = api.post(
        "/v1/sources", json={"protocol": "local", "label": "lake", "params": {"path": str(folder)}, "secretId": "k"}
    ).json()
    assert api.get("/v1/connector/local+lake/in.txt").content == b"hello"
    assert api.put("/v1/connector/local+lake/out.txt", content=b"nope").status_code == 403
    assert api.get("/v1/connector/local+lake/").status_code == 200
    return str(source["id"])


def test_a_scripted_session_yields_exactly_the_expected_events(hub_server: RunningHub, tmp_path: Path) -> None:
    token = hub_server.token()
    with hub_server.client(token) as api:
        source_id = scripted_session(api, tmp_path)
        events = api.get("/v1/audit").json()["events"]
    summary = [(e["operation"], e["outcome"], e["status"], e["connection"], e["path"]) for e in events]
    assert summary == [
        ("create_secret", "allowed", 201, None, None),
        ("create_source", "allowed", 201, None, None),
        ("data.read", "allowed", 200, "local+lake", "in.txt"),
        ("data.write", "refused", 403, "local+lake", "out.txt"),
        ("data.list", "allowed", 200, "local+lake", ""),
    ]
    read, refused = events[2], events[3]
    assert read["bytesOut"] == 5 and read["sourceId"] == source_id and read["durationMs"] >= 0
    assert refused["bytesIn"] == 0 and "read-only" in refused["reason"]  # refused before a byte was read
    assert all(e["user"] == "alice" and e["tokenId"] and e["client"] == "127.0.0.1" and e["requestId"] for e in events)
    assert token not in str(events) and SECRET_VALUE not in str(events)


def test_audit_rows_never_hold_a_token_or_secret_value(hub_server: RunningHub, tmp_path: Path) -> None:
    token = hub_server.token()
    with hub_server.client(token) as api:
        scripted_session(api, tmp_path)
        api.get("/v1/audit/export").raise_for_status()
    with hub_server.hub.store.engine.connect() as conn:
        dump = repr(conn.execute(text("SELECT * FROM audit_events")).fetchall())
    assert token not in dump and SECRET_VALUE not in dump


def test_filters_select_by_operation_outcome_source_path_and_user(hub_server: RunningHub, tmp_path: Path) -> None:
    token = hub_server.token()
    with hub_server.client(token) as api:
        source_id = scripted_session(api, tmp_path)

        def ops(**params: str) -> list[str]:
            return [e["operation"] for e in api.get("/v1/audit", params=params).json()["events"]]

        assert ops(outcome="refused") == ["data.write"]
        assert ops(operation="data.read") == ["data.read"]
        assert ops(source="local+lake") == ["data.read", "data.write", "data.list"]
        assert ops(source=source_id) == ["data.read", "data.write", "data.list"]
        assert ops(pathPrefix="in") == ["data.read"]
        assert ops(user="nobody") == []
        assert ops(since="2999-01-01T00:00:00Z") == []
        first = api.get("/v1/audit", params={"limit": 2}).json()
        assert len(first["events"]) == 2 and first["next"]
        rest = api.get("/v1/audit", params={"after": first["next"], "limit": 100}).json()["events"]
        assert rest[0]["id"] > first["next"]


def test_newest_first_pages_backwards_through_the_trail_with_the_same_cursor(
    hub_server: RunningHub, tmp_path: Path
) -> None:
    token = hub_server.token()
    with hub_server.client(token) as api:
        scripted_session(api, tmp_path)
        for _ in range(4):
            api.get("/v1/sources").raise_for_status()
        oldest_first = api.get("/v1/audit", params={"limit": 1000}).json()["events"]
        ids = [e["id"] for e in oldest_first]
        assert ids == sorted(ids) and len(ids) >= 9
        listed = [e["id"] for e in oldest_first if e["operation"] == "list_sources"]
        assert len(listed) == 4

        seen: list[int] = []
        after: int | None = None
        for _ in range(20):
            params: dict[str, str | int] = {"order": "desc", "limit": 2, "operation": "list_sources"}
            if after is not None:
                params["after"] = after
            body = api.get("/v1/audit", params=params).json()
            seen += [e["id"] for e in body["events"]]
            after = body["next"]
            if after is None:
                break
        assert seen == listed[::-1]  # every event once, newest first, no gap and no repeat

        newest = api.get("/v1/audit", params={"order": "desc", "limit": 3, "operation": "list_sources"}).json()
        assert [e["id"] for e in newest["events"]] == listed[::-1][:3] and newest["next"] == listed[-3]
        assert api.get("/v1/audit", params={"order": "sideways"}).status_code in (400, 422)


def test_export_streams_json_lines(hub_server: RunningHub, tmp_path: Path) -> None:
    with hub_server.client(hub_server.token()) as api:
        scripted_session(api, tmp_path)
        response = api.get("/v1/audit/export", params={"outcome": "allowed"})
    lines = response.text.strip().splitlines()
    assert response.headers["content-type"].startswith("application/x-ndjson") and len(lines) == 4


def test_failed_authentications_are_recorded_with_an_hmac_not_the_token(hub_server: RunningHub) -> None:
    with hub_server.client() as anonymous:
        anonymous.get("/v1/sources", headers={"Authorization": "Bearer hw_guessed-token-xyz"})
    with hub_server.hub.store.engine.connect() as conn:
        rows = conn.execute(
            text("SELECT token_hmac, outcome, status FROM audit_events WHERE token_hmac IS NOT NULL")
        ).fetchall()
    assert rows and all(r[0].startswith("hmac-sha256:") and r[1] == "refused" and r[2] == 401 for r in rows)
    assert "guessed-token" not in repr(rows)


def test_other_organizations_events_are_invisible(hub_server: RunningHub, tmp_path: Path) -> None:
    with hub_server.client(hub_server.token()) as api:
        scripted_session(api, tmp_path)
    with hub_server.client(hub_server.token()) as other:
        assert other.get("/v1/audit").json()["events"] == []


def test_when_the_audit_store_is_unavailable_the_operation_is_refused(tmp_path: Path) -> None:
    running = start_hub(tmp_path / "hub")
    try:
        folder = tmp_path / "data"
        folder.mkdir()
        with running.client(running.token()) as api:
            api.post(
                "/v1/sources",
                json={"protocol": "local", "label": "lake", "params": {"path": str(folder)}, "access": "read-write"},
            )
            with running.hub.store.engine.begin() as conn:
                conn.execute(text("ALTER TABLE audit_events RENAME TO audit_events_away"))
            response = api.put("/v1/connector/local+lake/x.txt", content=b"unaudited")
            assert response.status_code == 503 and "audit" in response.json()["error"]["message"]
            assert not (folder / "x.txt").exists()
            assert api.get("/v1/sources").status_code == 503
            with running.hub.store.engine.begin() as conn:
                conn.execute(text("ALTER TABLE audit_events_away RENAME TO audit_events"))
            assert api.put("/v1/connector/local+lake/x.txt", content=b"audited").status_code == 200
    finally:
        running.stop()


@pytest.mark.parametrize("days, kept", [(90, 1), (0, 0)])
def test_retention_purges_old_events(tmp_path: Path, days: int, kept: int) -> None:
    running = start_hub(tmp_path / "hub", HEADWATER_AUDIT_RETENTION_DAYS=str(days))
    try:
        with running.client(running.token()) as api:
            api.get("/v1/sources")
        running.hub.audit.purge()
        with running.hub.store.engine.connect() as conn:
            assert conn.execute(text("SELECT count(*) FROM audit_events")).scalar() == kept
    finally:
        running.stop()


def test_under_concurrent_load_every_request_has_exactly_one_completed_event(hub_server: RunningHub) -> None:
    token = hub_server.token()
    collection = f"load-{uuid.uuid4().hex[:8]}"
    with hub_server.client(token) as api:
        api.post("/v1/data/.my", json={"name": collection}).raise_for_status()

    def one(i: int) -> tuple[str, int]:
        with httpx.Client(base_url=hub_server.url, timeout=60, headers={"Authorization": f"Bearer {token}"}) as client:
            kind = i % 4
            if kind == 0:
                response = client.put(f"/v1/data/.my/{collection}/f{i}.bin", content=b"x" * i)
            elif kind == 1:
                response = client.get("/v1/me")
            elif kind == 2:
                response = client.get(f"/v1/data/.my/{collection}/missing-{i}.bin")
            else:
                response = client.get("/v1/sources", headers={"Authorization": "Bearer hw_not-a-token"})
            return response.headers["x-request-id"], response.status_code

    with ThreadPoolExecutor(16) as pool:
        answered = dict(pool.map(one, range(200)))
    assert len(answered) == 200 and set(answered.values()) == {200, 404, 401}
    with hub_server.hub.store.engine.connect() as conn:
        rows = conn.execute(text("SELECT request_id, status, outcome FROM audit_events")).fetchall()
    events = Counter(r[0] for r in rows if r[0] in answered)
    assert events == Counter(dict.fromkeys(answered, 1))  # exactly one event per request
    statuses = {r[0]: r[1] for r in rows if r[0] in answered}
    assert statuses == answered  # each completed with the status its caller saw
    assert not [r for r in rows if r[0] in answered and r[2] == "pending"]


@pytest.mark.parametrize("store", ["sqlite", "postgres"])
def test_when_the_audit_store_fails_under_load_every_request_is_refused_and_none_runs(
    tmp_path: Path, store: str
) -> None:
    database = create_database() if store == "postgres" else None
    running = start_hub(tmp_path / "hub", url_of(database) if database else None)
    try:
        token = running.token()
        with running.client(token) as api:
            api.post("/v1/data/.my", json={"name": "crowd"}).raise_for_status()
            api.put("/v1/data/.my/crowd/before.bin", content=b"audited").raise_for_status()
        with running.hub.store.engine.begin() as conn:
            conn.execute(text("ALTER TABLE audit_events RENAME TO audit_events_away"))

        def put(i: int) -> int:
            with httpx.Client(base_url=running.url, timeout=60, headers={"Authorization": f"Bearer {token}"}) as client:
                return client.put(f"/v1/data/.my/crowd/refused-{i}.bin", content=b"unaudited").status_code

        with ThreadPoolExecutor(16) as pool:
            statuses = list(pool.map(put, range(48)))
        assert statuses == [503] * 48
        hosted = [p.name for p in (tmp_path / "hub" / "hosted").rglob("*.bin")]
        assert hosted == ["before.bin"]  # no operation ran without its event
        assert running.hub.audit.writer.stats.failed_batches >= 1
    finally:
        running.stop()
        if database:
            drop_database(database)


# -- an event is complete before its response is ---------------------------------------------


class CompletionProbe:
    """Sits where uvicorn takes a response to the socket. Just before the message that lets a client hold the whole
    response goes out (the headers of a bodiless one, the last declared byte, or the final message), it reads the
    request's audit event from the store: `outcomes` maps each request id to the event's outcome at that moment."""

    def __init__(self, app: ASGIApp, hub: Hub) -> None:
        self.app, self.hub = app, hub
        self.outcomes: dict[str, str | None] = {}

    def outcome(self, request_id: str) -> str | None:
        with self.hub.store.engine.connect() as conn:
            row = conn.execute(
                text("SELECT outcome FROM audit_events WHERE request_id = :r"), {"r": request_id}
            ).first()
        return None if row is None else str(row[0])

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        seen = {"length": -1, "sent": 0, "id": "", "done": 0}

        async def probing_send(message: Message) -> None:
            completes = False
            if message["type"] == "http.response.start":
                headers = {
                    name.decode("latin-1").lower(): value.decode("latin-1")
                    for name, value in message.get("headers", [])
                }
                seen["id"] = headers.get("x-request-id", "")
                seen["length"] = int(headers.get("content-length", "-1"))
                completes = scope["method"] == "HEAD" or message["status"] in (204, 304) or seen["length"] == 0
            elif message["type"] == "http.response.body" and not seen["done"]:
                seen["sent"] += len(message.get("body", b""))
                completes = not message.get("more_body", False) or 0 <= seen["length"] <= seen["sent"]
            if completes and not seen["done"] and seen["id"]:
                seen["done"] = 1
                self.outcomes[str(seen["id"])] = await anyio.to_thread.run_sync(self.outcome, str(seen["id"]))
            await send(message)

        await self.app(scope, receive, probing_send)


@pytest.fixture(scope="module")
def probed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[RunningHub, CompletionProbe]]:
    probes: list[CompletionProbe] = []

    def wrap(app: ASGIApp, hub: Hub) -> ASGIApp:
        probes.append(CompletionProbe(app, hub))
        return probes[-1]

    running = start_hub(tmp_path_factory.mktemp("probed-hub"), wrap=wrap)
    yield running, probes[0]
    running.stop()


def every_kind_of_response(api: httpx.Client, folder: Path, org: str) -> dict[str, httpx.Response]:
    """One request of each kind of response the hub gives, by name."""
    (folder / "big.bin").write_bytes(os.urandom(3 * 1024 * 1024 + 17))  # several chunks, with a Content-Length
    api.post(
        "/v1/sources", json={"protocol": "local", "label": "lake", "params": {"path": str(folder)}}
    ).raise_for_status()
    api.post("/v1/templates", json={"id": "gone", "app": "copy"}).raise_for_status()
    return {
        "streamed file GET": api.get("/v1/connector/local+lake/big.bin"),
        "ranged GET (206)": api.get("/v1/connector/local+lake/big.bin", headers={"Range": "bytes=10-2000000"}),
        "HEAD": api.head("/v1/connector/local+lake/big.bin"),
        "listing": api.get("/v1/connector/local+lake/"),
        "error 404": api.get("/v1/connector/local+lake/missing.bin"),
        "refused write (403)": api.put("/v1/connector/local+lake/new.bin", content=b"no"),
        "invalid request (422)": api.post("/v1/templates", json={"app": 3}),
        "204": api.delete("/v1/templates/gone"),
        "JSON lines export (chunked)": api.get("/v1/audit/export", params={"operation": "none"}),
        "ByteNite route": api.get("/v1/auth/secrets"),
        "ByteNite error envelope": api.get(f"/v1/customer/jobs/{uuid.uuid4()}"),
        "Foundation route": api.get("/api/data/data_source/list", headers={"x-org": org}),
    }


def test_every_kind_of_response_has_its_event_complete_before_the_client_holds_it(
    probed: tuple[RunningHub, CompletionProbe], tmp_path: Path
) -> None:
    running, probe = probed
    with running.client(running.token()) as api:
        responses = every_kind_of_response(api, tmp_path, api.get("/v1/me").json()["organization"])
    assert responses["HEAD"].status_code == 200 and responses["204"].status_code == 204
    assert responses["streamed file GET"].headers["content-length"] == str(3 * 1024 * 1024 + 17)
    late = {kind: probe.outcomes.get(r.headers["x-request-id"]) for kind, r in responses.items()}
    assert {kind: outcome for kind, outcome in late.items() if outcome in (None, "pending")} == {}


def test_right_after_each_response_ends_the_audit_shows_its_completed_event(
    hub_server: RunningHub, tmp_path: Path
) -> None:
    with hub_server.client(hub_server.token()) as api:
        org = api.get("/v1/me").json()["organization"]
        shown: dict[str, tuple[int, str]] = {}
        (tmp_path / "big.bin").write_bytes(os.urandom(3 * 1024 * 1024 + 17))
        api.post(
            "/v1/sources", json={"protocol": "local", "label": "lake", "params": {"path": str(tmp_path)}}
        ).raise_for_status()
        for kind, send in {
            "streamed file GET": lambda: api.get("/v1/connector/local+lake/big.bin"),
            "HEAD": lambda: api.head("/v1/connector/local+lake/big.bin"),
            "error 404": lambda: api.get("/v1/connector/local+lake/missing.bin"),
            "ByteNite route": lambda: api.get("/v1/auth/secrets"),
            "Foundation route": lambda: api.get("/api/data/data_source/list", headers={"x-org": org}),
        }.items():
            response = send()
            events = api.get("/v1/audit", params={"limit": 1000}).json()["events"]
            found = [e for e in events if e["requestId"] == response.headers["x-request-id"]]
            shown[kind] = (found[0]["status"], found[0]["outcome"]) if found else (0, "missing")
            assert shown[kind][0] == response.status_code, (kind, shown[kind])
    assert all(outcome in ("allowed", "refused") for _, outcome in shown.values()), shown
