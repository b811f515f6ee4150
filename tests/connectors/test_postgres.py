"""The `postgres` kind against the machine's real PostgreSQL: checks, browsing, exports, loads, queries."""

from __future__ import annotations

import io
import json
import socket
import uuid
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pyarrow.parquet as pq
import pytest

from headwater.connectors.base import Credentials
from headwater.connectors.databases.postgres import PostgresConnector, PostgresParams
from headwater.errors import (
    HeadwaterError,
    InvalidInput,
    NotFound,
    PermissionDenied,
    UpstreamAuthFailed,
    UpstreamPermissionDenied,
    UpstreamTimeout,
    UpstreamTLSError,
    UpstreamUnavailable,
)
from tests.fixtures.databases import ScratchDatabase, pg_connect
from tests.fixtures.network import free_port

pytestmark = pytest.mark.anyio

EVERY_TYPE = """
CREATE TABLE {name} (
 id integer PRIMARY KEY, small smallint, big bigint, r real, d double precision, n numeric(12,3), nu numeric,
 t text, v varchar(20), c char(3), b boolean, ba bytea, dt date, tm time, ts timestamp, tz timestamptz,
 j json, jb jsonb, u uuid, ia integer[], ta text[], iv interval, ip inet
);
INSERT INTO {name} VALUES
 (1, 1, 9007199254740993, 1.5, 0.1, 123.456, 1e-20, 'hé "q", x
second line', 'v', 'abc', true, '\\x0001ff', '2024-01-02', '01:02:03.5', '2024-01-02 03:04:05.123456',
  '2024-01-02 03:04:05.123456+02', '{{"a": [1, 2.50]}}', '{{"b": null}}', 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11',
  '{{1,NULL,3}}', '{{"x,y","",NULL}}', '1 year 2 days', '10.0.0.1'),
 (2, -32768, -9223372036854775808, 'Infinity', 'NaN', -0.001, 12345678901234567890.123456789, '', NULL, NULL, false,
  '', '0001-01-01', '00:00', '1970-01-01', '1970-01-01 00:00:00+00', 'null', '[]', NULL, '{{}}', '{{}}', '-1 mons', '::1'),
 (3, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL);
"""


def make(db: ScratchDatabase, user: str | None = None, password: str | None = None, **params: Any) -> PostgresConnector:
    settings = {"host": db.host, "port": db.port, "database": db.name, **params}
    credentials = Credentials(user or db.user, {"secretKey": db.password if password is None else password})
    return PostgresConnector(PostgresParams.model_validate(settings), credentials, allow_private=True)


@pytest.fixture
async def pg(pg_db: ScratchDatabase) -> AsyncIterator[PostgresConnector]:
    connector = make(pg_db)
    try:
        yield connector
    finally:
        await connector.close()


@pytest.fixture
def table(pg_db: ScratchDatabase) -> Iterator[str]:
    """A fresh table with every common column type (three rows)."""
    name = f"every_{uuid.uuid4().hex[:8]}"
    with pg_connect(pg_db) as conn:
        conn.execute(EVERY_TYPE.format(name=name))
    yield name
    with pg_connect(pg_db) as conn:
        conn.execute(f'DROP TABLE IF EXISTS "{name}" CASCADE')


async def read_all(connector: PostgresConnector, path: str, **options: str) -> bytes:
    return b"".join([chunk async for chunk in connector.read(path, options=options or None)])


async def upload(data: bytes, size: int = 7) -> AsyncIterator[bytes]:
    for i in range(0, len(data), size):
        yield data[i : i + size]


def rows_as_text(db: ScratchDatabase, name: str) -> list[str]:
    with pg_connect(db) as conn:
        return [r[0] for r in conn.execute(f'SELECT t::text FROM "{name}" t ORDER BY id').fetchall()]


def types_of(db: ScratchDatabase, name: str) -> list[str]:
    with pg_connect(db) as conn:
        return [
            r[0]
            for r in conn.execute(
                "SELECT format_type(atttypid, atttypmod) FROM pg_attribute WHERE attrelid = %s::regclass AND attnum > 0 ORDER BY attnum",
                (f'"{name}"',),
            ).fetchall()
        ]


# ---- check() classifies what went wrong --------------------------------------------------------


async def test_check_passes_for_the_owner_with_write(pg: PostgresConnector) -> None:
    await pg.check(write=True)


async def test_a_wrong_password_is_bad_credentials_and_never_echoed(pg_db: ScratchDatabase) -> None:
    wrong = "wrong-" + uuid.uuid4().hex
    with pytest.raises(UpstreamAuthFailed) as caught:
        await make(pg_db, password=wrong).check()
    assert wrong not in str(caught.value) and pg_db.password not in str(caught.value)
    assert "password authentication failed" in caught.value.message


async def test_an_unknown_database_is_not_found(pg_db: ScratchDatabase) -> None:
    with pytest.raises(NotFound):
        await make(pg_db, database="no_such_database_here").check()


async def test_a_closed_port_is_unreachable(pg_db: ScratchDatabase) -> None:
    with pytest.raises(UpstreamUnavailable):
        await make(pg_db, port=free_port()).check()


async def test_a_silent_server_times_out(pg_db: ScratchDatabase) -> None:
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(1)
        with pytest.raises(UpstreamTimeout):
            await make(pg_db, port=silent.getsockname()[1], connect_timeout=2).check()


async def test_tls_required_against_a_server_without_tls_is_a_tls_error(pg_db: ScratchDatabase) -> None:
    with pytest.raises(UpstreamTLSError):
        await make(pg_db, sslmode="require").check()


async def test_no_usage_on_the_schema_is_permission_denied(pg_db: ScratchDatabase) -> None:
    schema = f"locked_{uuid.uuid4().hex[:6]}"
    with pg_connect(pg_db) as conn:
        conn.execute(f'CREATE SCHEMA "{schema}"')
    try:
        with pytest.raises(UpstreamPermissionDenied):
            await make(pg_db, user=pg_db.reader, schema=schema).check()
        await make(pg_db, schema=schema).check(write=True)
    finally:
        with pg_connect(pg_db) as conn:
            conn.execute(f'DROP SCHEMA "{schema}" CASCADE')


async def test_a_reader_passes_the_read_check_but_not_the_write_check(pg_db: ScratchDatabase) -> None:
    reader = make(pg_db, user=pg_db.reader)
    await reader.check()
    with pytest.raises(UpstreamPermissionDenied):
        await reader.check(write=True)


def test_a_socket_path_is_refused_as_host(pg_db: ScratchDatabase) -> None:
    with pytest.raises(ValueError):
        PostgresParams.model_validate({"host": "/var/run/postgresql", "database": pg_db.name})


# ---- browsing -------------------------------------------------------------------------------


async def test_schemas_are_folders_and_tables_are_files(pg: PostgresConnector, table: str) -> None:
    root = await pg.list("")
    assert "public" in [f.name for f in root.folders] and root.files == []
    names = [f.name for f in (await pg.list("public")).files]
    assert {f"{table}.csv", f"{table}.jsonl", f"{table}.parquet"} <= set(names)
    assert (await pg.stat("public")).is_dir
    with pytest.raises(NotFound):
        await pg.list("no_such_schema")


async def test_stat_of_a_table_describes_its_columns(pg: PostgresConnector, table: str) -> None:
    entry = await pg.stat(f"public/{table}")
    columns = {c["name"]: c for c in entry.extra["columns"]}
    assert columns["tz"]["type"] == "timestamp with time zone" and columns["ia"]["kind"] == "list"
    assert columns["id"]["nullable"] is False and entry.extra["type"] == "table" and "rowsEstimate" in entry.extra
    described = json.loads(await read_all(pg, f"public/{table}"))
    assert described["columns"] == entry.extra["columns"]
    parquet = await pg.stat(f"public/{table}.parquet")
    assert parquet.content_type == "application/vnd.apache.parquet" and not parquet.is_dir
    with pytest.raises(NotFound):
        await pg.stat("public/no_such_table.csv")


# ---- exports and loads round-trip ---------------------------------------------------------------


@pytest.mark.parametrize("fmt", ["csv", "jsonl", "parquet"])
async def test_every_type_round_trips_through_each_format(
    pg: PostgresConnector, pg_db: ScratchDatabase, table: str, fmt: str
) -> None:
    data = await read_all(pg, f"public/{table}.{fmt}")
    copy = f"{table}_{fmt}"
    with pg_connect(pg_db) as conn:
        conn.execute(f'CREATE TABLE "{copy}" (LIKE "{table}")')
    try:
        await pg.write(f"public/{copy}.{fmt}", upload(data, 1000))
        assert rows_as_text(pg_db, copy) == rows_as_text(pg_db, table)
    finally:
        with pg_connect(pg_db) as conn:
            conn.execute(f'DROP TABLE "{copy}"')


async def test_parquet_creates_a_new_table_with_the_same_types(
    pg: PostgresConnector, pg_db: ScratchDatabase, table: str
) -> None:
    data = await read_all(pg, f"public/{table}.parquet")
    schema = pq.read_schema(io.BytesIO(data))
    assert (
        str(schema.field("tz").type) == "timestamp[us, tz=UTC]" and str(schema.field("n").type) == "decimal128(12, 3)"
    )
    entry = await pg.write(f"public/{table}_new.parquet", upload(data, 4096))
    assert entry.name == f"{table}_new.parquet"
    try:
        assert types_of(pg_db, f"{table}_new") == types_of(pg_db, table)
        assert rows_as_text(pg_db, f"{table}_new") == rows_as_text(pg_db, table)
    finally:
        with pg_connect(pg_db) as conn:
            conn.execute(f'DROP TABLE "{table}_new"')


async def test_csv_and_jsonl_create_tables_with_inferred_types(pg: PostgresConnector, pg_db: ScratchDatabase) -> None:
    name = f"inferred_{uuid.uuid4().hex[:6]}"
    csv_data = (
        b'id,price,when,ok,label\n1,2.5,2024-01-02T03:04:05+00:00,true,a\n2,,2024-02-03T00:00:00+00:00,false,""\n'
    )
    await pg.write(f"public/{name}.csv", upload(csv_data))
    jsonl = b'{"id": 1, "doc": {"k": [1, 2]}, "day": "2024-01-02"}\n\n{"id": 2, "doc": null, "day": null}\n'
    await pg.write(f"public/{name}_j.jsonl", upload(jsonl))
    try:
        assert types_of(pg_db, name) == ["bigint", "double precision", "timestamp with time zone", "boolean", "text"]
        assert types_of(pg_db, f"{name}_j") == ["bigint", "jsonb", "date"]
        with pg_connect(pg_db) as conn:
            assert conn.execute(f"SELECT label IS NULL, label = '' FROM \"{name}\" WHERE id = 2").fetchone() == (
                False,
                True,
            )
            assert conn.execute(f'SELECT doc FROM "{name}_j" WHERE id = 1').fetchone() == ({"k": [1, 2]},)
    finally:
        with pg_connect(pg_db) as conn:
            conn.execute(f'DROP TABLE "{name}"; DROP TABLE "{name}_j"')


@pytest.mark.parametrize(
    ("fmt", "body", "where"),
    [
        ("csv", b"id,small\n10,1\n11,not-a-number\n12,3\n", "line 3, column small"),
        ("jsonl", b'{"id": 10, "small": 1}\n\n{"id": 11, "small": "x"}\n', "line 3, column 'small'"),
        ("jsonl", b'{"id": 10, "small": 1}\n{"id": 11, "small": 99999}\n', "line 2, column small"),
    ],
)
async def test_a_bad_row_aborts_the_whole_load(
    pg: PostgresConnector, pg_db: ScratchDatabase, table: str, fmt: str, body: bytes, where: str
) -> None:
    before = rows_as_text(pg_db, table)
    with pytest.raises(InvalidInput) as caught:
        await pg.write(f"public/{table}.{fmt}", upload(body))
    assert where in caught.value.message
    assert rows_as_text(pg_db, table) == before


async def test_a_bad_row_into_a_new_table_leaves_no_table(pg: PostgresConnector) -> None:
    name = f"never_{uuid.uuid4().hex[:6]}"
    rows = b"".join(b"%d\n" % i for i in range(2000))
    with pytest.raises(InvalidInput) as caught:
        await pg.write(f"public/{name}.csv", upload(b"n\n" + rows + b"oops\n", 4096))
    assert "line 2002" in caught.value.message
    with pytest.raises(NotFound):
        await pg.stat(f"public/{name}.csv")


async def test_a_file_column_the_table_lacks_is_refused(pg: PostgresConnector, table: str) -> None:
    with pytest.raises(InvalidInput, match="nope"):
        await pg.write(f"public/{table}.csv", upload(b"id,nope\n1,2\n"))


async def test_views_cannot_be_loaded_into(pg: PostgresConnector, pg_db: ScratchDatabase, table: str) -> None:
    with pg_connect(pg_db) as conn:
        conn.execute(f'CREATE VIEW "{table}_v" AS SELECT id, t FROM "{table}"')
    entry = await pg.stat(f"public/{table}_v.csv")
    assert entry.extra["type"] == "view"
    assert (await read_all(pg, f"public/{table}_v.csv")).startswith(b"id,t\n")
    with pytest.raises(HeadwaterError):
        await pg.write(f"public/{table}_v.csv", upload(b"id,t\n9,x\n"))


# ---- options and identifiers ----------------------------------------------------------------


async def test_columns_and_limit_options(pg: PostgresConnector, table: str) -> None:
    data = await read_all(pg, f"public/{table}.csv", columns="id,t", limit="1")
    assert data.decode().splitlines()[0] == "id,t" and data.count(b"\n") == 3  # header, and a value spanning two lines
    lines = (await read_all(pg, f"public/{table}.jsonl", columns="u", limit="2")).splitlines()
    assert [json.loads(x) for x in lines] == [{"u": "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11"}, {"u": None}]
    with pytest.raises(InvalidInput, match="'zzz'"):
        await read_all(pg, f"public/{table}.csv", columns="id,zzz")
    with pytest.raises(InvalidInput):
        await read_all(pg, f"public/{table}.csv", limit="-1")


async def test_odd_identifiers_are_quoted_not_interpreted(pg: PostgresConnector, pg_db: ScratchDatabase) -> None:
    name = 'we"ird; DROP TABLE x; --'
    with pg_connect(pg_db) as conn:
        conn.execute('CREATE TABLE "we""ird; DROP TABLE x; --" ("a""b" int, "c d" text)')
        conn.execute('INSERT INTO "we""ird; DROP TABLE x; --" VALUES (1, \'x\')')
    try:
        assert await read_all(pg, f"public/{name}.csv") == b'"a""b",c d\n1,x\n'
        await pg.write(f"public/{name}.jsonl", upload(b'{"a\\"b": 2, "c d": "y"}\n'))
        assert (await read_all(pg, f"public/{name}.jsonl")).count(b"\n") == 2
    finally:
        with pg_connect(pg_db) as conn:
            conn.execute('DROP TABLE "we""ird; DROP TABLE x; --"')


# ---- queries --------------------------------------------------------------------------------


async def query_all(connector: PostgresConnector, sql: str, fmt: str = "jsonl", limit: int | None = None) -> bytes:
    return b"".join([c async for c in connector.query(sql, fmt, limit)])


async def test_a_query_streams_its_result(pg: PostgresConnector, table: str) -> None:
    out = await query_all(pg, f"SELECT id, jb, ia, n FROM {table} WHERE id < 3 ORDER BY id;")
    assert [json.loads(line) for line in out.splitlines()] == [
        {"id": 1, "jb": {"b": None}, "ia": [1, None, 3], "n": 123.456},
        {"id": 2, "jb": [], "ia": [], "n": -0.001},
    ]
    parquet = pq.read_table(
        io.BytesIO(await query_all(pg, "SELECT g AS n, '100%' AS p FROM generate_series(1, 25000) g", "parquet"))
    )
    assert parquet.num_rows == 25000 and parquet.column("p")[0].as_py() == "100%"
    assert (await query_all(pg, "SELECT 1 AS a UNION ALL SELECT 2", "csv", limit=1)) == b'"a"\n1\n'


async def test_queries_are_read_only_and_bounded(pg_db: ScratchDatabase, table: str) -> None:
    pg = make(pg_db, query_timeout=1)
    with pytest.raises(PermissionDenied):
        await query_all(pg, f"INSERT INTO {table} (id) VALUES (99) RETURNING id")
    with pg_connect(pg_db) as conn:
        conn.execute(f"CREATE SEQUENCE {table}_seq")
    with pytest.raises(PermissionDenied, match="read-only"):  # refused by the server's read-only transaction
        await query_all(pg, f"SELECT nextval('{table}_seq')")
    with pytest.raises(InvalidInput):
        await query_all(pg, "SELECT 1; DROP TABLE x")
    with pytest.raises(UpstreamTimeout):
        await query_all(pg, "SELECT pg_sleep(5)")
    with pytest.raises(InvalidInput):
        await query_all(pg, "SELECT * FROM no_such_table")
    assert len(rows_as_text(pg_db, table)) == 3


@pytest.mark.parametrize("fmt", ["csv", "parquet"])
async def test_a_reader_that_goes_away_stops_the_export(
    pg: PostgresConnector, pg_db: ScratchDatabase, fmt: str
) -> None:
    name = f"big_{uuid.uuid4().hex[:6]}"
    with pg_connect(pg_db) as conn:
        conn.execute(
            f"CREATE TABLE {name} AS SELECT g AS id, repeat('x', 100) AS pad FROM generate_series(1, 300000) g"
        )
    try:
        stream = pg.read(f"public/{name}.{fmt}")
        first = await stream.__anext__()
        assert first
        await stream.aclose()
        with pg_connect(pg_db) as conn:
            busy = conn.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'headwater' AND state = 'active'"
            ).fetchone()
        assert busy == (0,)
    finally:
        with pg_connect(pg_db) as conn:
            conn.execute(f"DROP TABLE {name}")


async def test_the_hubs_own_pgpassword_is_never_lent_to_a_source(
    pg_db: ScratchDatabase, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PGPASSWORD", pg_db.password)  # valid for the user: libpq would happily use it
    with pytest.raises(InvalidInput, match="never lends"):
        await make(pg_db, password="").check()
