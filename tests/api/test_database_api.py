"""Database and synthetic connections through HTTP: lifecycle, tables as files, loads, queries, rights, leaks."""

from __future__ import annotations

import io
import json
import time
import uuid
from collections.abc import Iterator

import httpx
import pyarrow.parquet as pq
import pytest

from tests.fixtures.databases import ScratchDatabase, mysql_admin, pg_connect
from tests.fixtures.hub import RunningHub


@pytest.fixture
def api(sqlite_hub: RunningHub) -> Iterator[httpx.Client]:
    with sqlite_hub.client(sqlite_hub.token()) as client:
        yield client


@pytest.fixture
def orders(pg_db: ScratchDatabase) -> Iterator[str]:
    """A table `orders_*` and a table `secret_*` in the public schema; yields the suffix."""
    suffix = uuid.uuid4().hex[:8]
    with pg_connect(pg_db) as conn:
        conn.execute(
            f"CREATE TABLE orders_{suffix} (id int PRIMARY KEY, item text, price numeric(8,2), at timestamptz)"
        )
        conn.execute(
            f"INSERT INTO orders_{suffix} SELECT g, 'item ' || g, g * 1.5, '2024-01-01'::timestamptz + g * interval '1 hour' FROM generate_series(1, 50) g"
        )
        conn.execute(f"CREATE TABLE secret_{suffix} (salary int)")
    yield suffix
    with pg_connect(pg_db) as conn:
        conn.execute(f"DROP TABLE IF EXISTS orders_{suffix}, secret_{suffix}")


def add_database(
    api: httpx.Client, db: ScratchDatabase, label: str, password: str | None = None, **fields: object
) -> dict[str, object]:
    secret = f"db-{label}"
    api.post(
        "/v1/secrets",
        json={"id": secret, "secretType": "database", "accessKey": db.user, "secretKey": password or db.password},
    ).raise_for_status()
    body: dict[str, object] = {
        "protocol": db.kind,
        "label": label,
        "params": {"host": db.host, "port": db.port, "database": db.name},
        "secretId": secret,
    }
    body.update(fields)
    response = api.post("/v1/sources", json=body)
    assert response.status_code == 201, response.text
    return response.json()


def state_after_test(api: httpx.Client, source: dict[str, object]) -> dict[str, object]:
    response = api.post(f"/v1/sources/{source['id']}/test")
    assert response.status_code == 200, response.text
    return response.json()["state"]


def test_a_postgres_source_is_healthy_and_browsable(api: httpx.Client, pg_db: ScratchDatabase, orders: str) -> None:
    source = add_database(api, pg_db, "pg", access="read-write")
    state = state_after_test(api, source)
    assert state["code"] == "100" and state["healthy"] is True
    assert {"name": "public"} in api.get("/v1/connector/postgres+pg/").json()["folders"]
    files = [f["filename"] for f in api.get("/v1/connector/postgres+pg/public/").json()["files"]]
    assert f"orders_{orders}.parquet" in files
    head = api.head(f"/v1/connector/postgres+pg/public/orders_{orders}.csv")
    assert (
        head.status_code == 200
        and head.headers["content-type"].startswith("text/csv")
        and head.headers["x-data-type"] == "file"
    )
    described = api.get(f"/v1/connector/postgres+pg/public/orders_{orders}").json()
    assert [c["name"] for c in described["columns"]] == ["id", "item", "price", "at"]


def test_tables_stream_in_every_format_with_options(api: httpx.Client, pg_db: ScratchDatabase, orders: str) -> None:
    add_database(api, pg_db, "pg")
    url = f"/v1/connector/postgres+pg/public/orders_{orders}"
    csv_body = api.get(url + ".csv").text.splitlines()
    assert csv_body[0] == "id,item,price,at" and len(csv_body) == 51
    lines = api.get(url + ".jsonl", params={"columns": "id,price", "limit": "2"}).text.splitlines()
    assert [json.loads(x) for x in lines] == [{"id": 1, "price": 1.50}, {"id": 2, "price": 3.00}]
    table = pq.read_table(io.BytesIO(api.get(url + ".parquet").content))
    assert table.num_rows == 50 and str(table.schema.field("price").type) == "decimal128(8, 2)"
    bad = api.get(url + ".csv", params={"columns": "id,nope"})
    assert bad.status_code == 400 and "nope" in bad.json()["error"]["message"]


def test_uploads_append_in_one_transaction(api: httpx.Client, pg_db: ScratchDatabase, orders: str) -> None:
    add_database(api, pg_db, "pg", access="read-write")
    url = f"/v1/connector/postgres+pg/public/orders_{orders}.jsonl"
    good = b"".join(json.dumps({"id": 100 + i, "item": "new", "price": "1.25"}).encode() + b"\n" for i in range(3))
    assert api.put(url, content=good).status_code == 200
    bad = b'{"id": 300, "item": "a", "price": 1}\n{"id": 301, "item": "b", "price": "abc"}\n'
    response = api.put(url, content=bad)
    assert response.status_code == 400
    assert "line 2, column 'price'" in response.json()["error"]["message"]
    with pg_connect(pg_db) as conn:
        assert conn.execute(f"SELECT count(*) FROM orders_{orders}").fetchone() == (53,)
    created = api.put(f"/v1/connector/postgres+pg/public/made_{orders}.csv", content=b"a,b\n1,x\n")
    assert created.status_code == 200 and created.json()["result"] == f"postgres+pg://public/made_{orders}.csv"
    with pg_connect(pg_db) as conn:
        conn.execute(f"DROP TABLE made_{orders}")


def test_read_access_refuses_uploads(api: httpx.Client, pg_db: ScratchDatabase, orders: str) -> None:
    add_database(api, pg_db, "pg")
    response = api.put(f"/v1/connector/postgres+pg/public/orders_{orders}.csv", content=b"id\n999\n")
    assert response.status_code == 403


def test_path_restrictions_bound_tables_and_queries(api: httpx.Client, pg_db: ScratchDatabase, orders: str) -> None:
    add_database(api, pg_db, "pg", pathRestrictions=[f"public/orders_{orders}*"])
    base = "/v1/connector/postgres+pg/public"
    assert api.get(f"{base}/orders_{orders}.csv").status_code == 200
    assert api.get(f"{base}/secret_{orders}.csv").status_code == 403
    assert api.head(f"{base}/secret_{orders}.parquet").status_code == 403
    files = [f["filename"] for f in api.get(f"{base}/").json()["files"]]
    assert files == [f"orders_{orders}.csv", f"orders_{orders}.jsonl", f"orders_{orders}.parquet"]
    query = api.post("/v1/connector/postgres+pg/-/query", json={"sql": f"SELECT * FROM secret_{orders}"})
    assert query.status_code == 403 and "whole connection" in query.json()["error"]["message"]


def test_queries_stream_read_only(
    api: httpx.Client, sqlite_hub: RunningHub, pg_db: ScratchDatabase, orders: str
) -> None:
    add_database(api, pg_db, "pg", access="read-write")
    url = "/v1/connector/postgres+pg/-/query"
    ok = api.post(url, json={"sql": f"SELECT id, price FROM orders_{orders} ORDER BY id", "format": "csv", "limit": 2})
    assert (
        ok.status_code == 200
        and ok.text == '"id","price"\n1,1.50\n2,3.00\n'
        and ok.headers["content-type"].startswith("text/csv")
    )
    parquet = api.post(url, json={"sql": f"SELECT count(*) AS n FROM orders_{orders}", "format": "parquet"})
    assert pq.read_table(io.BytesIO(parquet.content)).column("n").to_pylist() == [50]
    assert api.post(url, json={"sql": f"DELETE FROM orders_{orders}"}).status_code == 403
    assert api.post(url, json={"sql": "SELECT * FROM nowhere"}).status_code == 400
    assert api.post(url, json={"sql": "SELECT 1", "format": "xml"}).status_code == 400
    assert api.post(url, content=b"{not json").status_code == 400
    assert api.post("/v1/connector/postgres+nope/-/query", json={"sql": "SELECT 1"}).status_code == 404
    with sqlite_hub.client(sqlite_hub.token()) as stranger:
        assert stranger.post(url, json={"sql": "SELECT 1"}).status_code == 404


def test_failed_checks_are_classified_without_leaking_the_password(
    sqlite_hub: RunningHub, pg_db: ScratchDatabase, mysql_db: ScratchDatabase
) -> None:
    start_transcript, start_logs = len(sqlite_hub.transcript), len(sqlite_hub.logs.lines)
    wrong = f"wrong-{uuid.uuid4().hex}"
    with sqlite_hub.client(sqlite_hub.token()) as api:
        bad = add_database(api, pg_db, "bad", password=wrong)
        state = state_after_test(api, bad)
        assert state["code"] == "301" and "password authentication failed" in state["reason"]
        good = add_database(api, pg_db, "good", access="read-write")
        assert state_after_test(api, good)["code"] == "100"
        api.get("/v1/connector/postgres+bad/public/")
        api.post("/v1/connector/postgres+bad/-/query", json={"sql": "SELECT 1"})
        missing = add_database(api, pg_db, "gone", params={"host": pg_db.host, "database": "no_such_db"})
        assert state_after_test(api, missing)["code"] == "303"
        my = add_database(api, mysql_db, "my", access="read-write")
        assert state_after_test(api, my)["code"] == "100"
        my_bad = add_database(api, mysql_db, "mybad", password=wrong)
        assert state_after_test(api, my_bad)["code"] == "301"
        api.get("/v1/sources")
    captured = "\n".join(sqlite_hub.transcript[start_transcript:] + sqlite_hub.logs.lines[start_logs:])
    assert "Bad credentials" in captured
    for value in (wrong, pg_db.password, mysql_db.password):
        assert value not in captured


def test_credentials_from_env_references(api: httpx.Client, pg_db: ScratchDatabase) -> None:
    api.post(
        "/v1/secrets",
        json={"id": "env", "secretType": "generic", "values": {"DB_USER": pg_db.user, "DB_PASSWORD": pg_db.password}},
    ).raise_for_status()
    params = {
        "host": pg_db.host,
        "database": pg_db.name,
        "credentials": {"accessKey": {"envKey": "DB_USER"}, "secretKey": {"envKey": "DB_PASSWORD"}},
    }
    source = api.post(
        "/v1/sources", json={"protocol": "postgres", "label": "env", "params": params, "envSecretIds": ["env"]}
    ).json()
    assert state_after_test(api, source)["code"] == "100"


def test_a_mysql_source_streams_and_loads(api: httpx.Client, mysql_db: ScratchDatabase) -> None:
    name = f"t_{uuid.uuid4().hex[:8]}"
    with mysql_admin() as conn, conn.cursor() as cur:
        cur.execute(f"CREATE TABLE `{mysql_db.name}`.`{name}` (id int, label varchar(10)) ENGINE=InnoDB")
    add_database(api, mysql_db, "my", access="read-write")
    url = f"/v1/connector/mysql+my/{mysql_db.name}/{name}"
    assert api.put(url + ".csv", content=b"id,label\n1,a\n2,\n").status_code == 200
    assert api.get(url + ".jsonl").text == '{"id":1,"label":"a"}\n{"id":2,"label":null}\n'
    too_long = api.put(url + ".csv", content=b"id,label\n3,b\n4,this is far too long\n")
    assert too_long.status_code == 400 and "line 3" in too_long.json()["error"]["message"]
    query = api.post(
        "/v1/connector/mysql+my/-/query", json={"sql": f"SELECT COUNT(*) AS n FROM `{mysql_db.name}`.`{name}`"}
    )
    assert query.json() == {"n": 2}


def test_a_synthetic_source_is_deterministic_and_input_only(api: httpx.Client) -> None:
    params = {
        "datasets": {
            "events": {
                "rows": 5000,
                "seed": 9,
                "columns": [
                    {"name": "kind", "type": "category", "choices": ["a", "b"]},
                    {"name": "at", "type": "timestamp"},
                ],
            }
        }
    }
    source = api.post("/v1/sources", json={"protocol": "synthetic", "label": "gen", "params": params}).json()
    assert state_after_test(api, source)["code"] == "100"
    files = [f["filename"] for f in api.get("/v1/connector/synthetic+gen/").json()["files"]]
    assert files == ["events.csv", "events.jsonl", "events.parquet"]
    first = api.get("/v1/connector/synthetic+gen/events.parquet").content
    assert first == api.get("/v1/connector/synthetic+gen/events.parquet").content
    assert pq.read_table(io.BytesIO(first)).num_rows == 5000
    assert len(api.get("/v1/connector/synthetic+gen/events.csv", params={"limit": "3"}).text.splitlines()) == 4
    assert api.put("/v1/connector/synthetic+gen/events.csv", content=b"x").status_code == 405
    assert api.post("/v1/connector/synthetic+gen/-/query", json={"sql": "SELECT 1"}).status_code == 405
    bad = api.post(
        "/v1/sources",
        json={
            "protocol": "synthetic",
            "label": "bad",
            "params": {"datasets": {"d": {"rows": 1, "columns": [{"name": "c", "type": "category"}]}}},
        },
    )
    assert bad.status_code == 400
    kinds = {k["kind"]: k for k in api.get("/v1/connectors").json()["connectors"]}
    assert {"postgres", "mysql", "synthetic"} <= set(kinds) and not kinds["synthetic"]["output"]
    assert (
        "datasets" in kinds["synthetic"]["paramsSchema"]["properties"]
        and "sslmode" in kinds["postgres"]["paramsSchema"]["properties"]
    )


def test_a_client_that_disconnects_stops_the_export(api: httpx.Client, pg_db: ScratchDatabase) -> None:
    name = f"big_{uuid.uuid4().hex[:6]}"
    with pg_connect(pg_db) as conn:
        conn.execute(
            f"CREATE TABLE {name} AS SELECT g AS id, repeat('x', 200) AS pad FROM generate_series(1, 400000) g"
        )
    add_database(api, pg_db, "pg")
    try:
        with api.stream("GET", f"/v1/connector/postgres+pg/public/{name}.jsonl") as response:
            assert response.status_code == 200
            next(response.iter_bytes())
        deadline = time.monotonic() + 10
        while True:
            with pg_connect(pg_db) as conn:
                active = conn.execute(
                    "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'headwater' AND datname = %s",
                    (pg_db.name,),
                ).fetchone()
            if active == (0,) or time.monotonic() > deadline:
                break
            time.sleep(0.1)
        assert active == (0,)
    finally:
        with pg_connect(pg_db) as conn:
            conn.execute(f"DROP TABLE {name}")
