"""PostgreSQL Parquet exports through ADBC: the driver's path, streamed in bounded memory, on the source's own terms."""

from __future__ import annotations

import io
import uuid
from collections.abc import Iterator
from ipaddress import ip_address
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from headwater.connectors import endpoints
from headwater.connectors.databases import formats, postgres_arrow
from headwater.connectors.databases.postgres import PostgresConnector
from headwater.errors import InvalidInput
from tests.connectors.test_postgres import make, pg, read_all, table  # noqa: F401 - fixtures
from tests.fixtures.databases import ScratchDatabase, pg_connect

pytestmark = pytest.mark.anyio


@pytest.fixture
def wide(pg_db: ScratchDatabase) -> Iterator[str]:
    """A table of 200,000 rows of incompressible text: about 14 MiB of Parquet."""
    name = f"wide_{uuid.uuid4().hex[:6]}"
    with pg_connect(pg_db) as conn:
        conn.execute(
            f"CREATE TABLE {name} AS SELECT g AS id, md5(g::text) || md5((-g)::text) AS pad FROM generate_series(1, 200000) g"
        )
    yield name
    with pg_connect(pg_db) as conn:
        conn.execute(f"DROP TABLE {name}")


def session_row(session: postgres_arrow.ArrowSession, statement: str) -> dict[str, Any]:
    cursor = session.conn.cursor()
    try:
        cursor.execute(statement)
        return cursor.fetch_arrow_table().to_pylist()[0]
    finally:
        cursor.close()


async def test_parquet_exports_are_written_from_the_drivers_arrow_batches(pg: PostgresConnector, table: str) -> None:
    data = await read_all(pg, f"public/{table}.parquet")
    parquet = pq.ParquetFile(io.BytesIO(data))
    assert parquet.schema_arrow.metadata[postgres_arrow.WRITER_KEY] == postgres_arrow.WRITER
    assert parquet.metadata.num_rows == 3
    csv = await read_all(pg, f"public/{table}.csv")
    assert postgres_arrow.WRITER not in csv  # CSV stays with COPY through psycopg


async def test_a_parquet_export_larger_than_a_batch_streams_in_bounded_memory(
    pg: PostgresConnector, wide: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(postgres_arrow, "BATCH_BYTES", 256 * 1024)
    monkeypatch.setattr(formats, "ROW_GROUP_ROWS", 10_000)
    sizes: list[int] = []
    peak = 0
    parts: list[bytes] = []
    before = pa.total_allocated_bytes()
    async for chunk in pg.read(f"public/{wide}.parquet"):
        sizes.append(len(chunk))
        parts.append(chunk)
        peak = max(peak, pa.total_allocated_bytes() - before)
    total = sum(sizes)
    assert total > 10 * 2**20
    assert len(sizes) >= 10 and max(sizes) < total / 5  # a row group at a time, never the whole file at the end
    assert peak < 8 * 2**20, f"Arrow held {peak / 2**20:.1f} MiB at once for a {total / 2**20:.1f} MiB export"
    result = pq.read_table(io.BytesIO(b"".join(parts)))
    assert result.num_rows == 200_000 and result.column("id")[199_999].as_py() == 200_000
    assert pq.ParquetFile(io.BytesIO(b"".join(parts))).metadata.num_row_groups >= 10


async def test_columns_and_limit_reach_the_drivers_query(pg: PostgresConnector, table: str) -> None:
    data = await read_all(pg, f"public/{table}.parquet", columns="u,n,ia", limit="2")
    result = pq.read_table(io.BytesIO(data))
    assert result.column_names == ["u", "n", "ia"] and result.num_rows == 2
    assert str(result.schema.field("n").type) == "decimal128(12, 3)"
    assert result.to_pylist()[0]["u"] == "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11"
    empty = pq.read_table(io.BytesIO(await read_all(pg, f"public/{table}.parquet", limit="0")))
    assert empty.num_rows == 0 and "tz" in empty.column_names


async def test_values_the_file_cannot_hold_are_refused_not_mangled(
    pg: PostgresConnector, pg_db: ScratchDatabase
) -> None:
    name = f"odd_{uuid.uuid4().hex[:6]}"
    with pg_connect(pg_db) as conn:
        conn.execute(f"CREATE TABLE {name} (ts timestamp, d date, m int[], n numeric(5,2), big oid, bc timestamptz)")
        conn.execute(
            f"INSERT INTO {name} VALUES ('infinity', '-infinity', '{{{{1,2}},{{3,4}}}}', 'NaN', 4000000000, '0044-03-15 12:00+00 BC')"
        )
    try:
        for column in ("ts", "d"):
            with pytest.raises(InvalidInput, match=f"'{column}'.*infinity"):
                await read_all(pg, f"public/{name}.parquet", columns=column)
        with pytest.raises(InvalidInput, match=r"'m'.*2-dimensional"):
            await read_all(pg, f"public/{name}.parquet", columns="m")
        with pytest.raises(InvalidInput, match="'n'"):
            await read_all(pg, f"public/{name}.parquet", columns="n")
        row = pq.read_table(io.BytesIO(await read_all(pg, f"public/{name}.parquet", columns="big"))).to_pylist()[0]
        assert row["big"] == 4_000_000_000  # oid is unsigned: not wrapped to a negative int32
        assert (
            pq.read_table(io.BytesIO(await read_all(pg, f"public/{name}.parquet", columns="bc")))
            .column("bc")
            .cast(pa.int64())[0]
            .as_py()
            < 0
        )  # BC: kept
    finally:
        with pg_connect(pg_db) as conn:
            conn.execute(f"DROP TABLE {name}")


async def test_a_server_error_mid_stream_is_classified(pg: PostgresConnector, pg_db: ScratchDatabase) -> None:
    name = f"fails_{uuid.uuid4().hex[:6]}"
    with pg_connect(pg_db) as conn:
        conn.execute(f"CREATE VIEW {name} AS SELECT g, 1 / (g - 150000) AS x FROM generate_series(1, 200000) g")
    try:
        with pytest.raises(InvalidInput, match="division by zero"):
            await read_all(pg, f"public/{name}.parquet")
    finally:
        with pg_connect(pg_db) as conn:
            conn.execute(f"DROP VIEW {name}")


def test_the_driver_connects_to_the_checked_address_as_the_source_read_only(
    pg_db: ScratchDatabase, monkeypatch: pytest.MonkeyPatch
) -> None:
    checked: list[str] = []

    def resolve(host: str, port: int) -> list[Any]:
        checked.append(host)
        return [ip_address("127.0.0.1")]

    monkeypatch.setattr(endpoints, "resolve", resolve)
    # The hub's own libpq environment, every part of it wrong: none of it may reach the connection.
    for name, value in {
        "PGHOST": "127.0.0.2",
        "PGHOSTADDR": "127.0.0.2",
        "PGPORT": "1",
        "PGDATABASE": "nope",
        "PGUSER": "nobody",
        "PGPASSWORD": "wrong",
        "PGOPTIONS": "-c default_transaction_read_only=off",
        "PGAPPNAME": "spy",
        "PGSSLMODE": "require",
        "PGTZ": "Asia/Tokyo",
    }.items():
        monkeypatch.setenv(name, value)
    connector = make(pg_db, host="db.headwater-test.invalid")  # never resolvable: only the pinned address can reach it
    session = connector.export_connection("parquet")
    try:
        assert isinstance(session, postgres_arrow.ArrowSession) and checked == ["db.headwater-test.invalid"]
        row = session_row(
            session,
            "SELECT current_user AS u, current_database() AS d, host(inet_server_addr()) AS a, current_setting('application_name') AS n,"
            " current_setting('transaction_read_only') AS ro, current_setting('TimeZone') AS tz",
        )
    finally:
        connector.close_connection(session)
    assert row == {"u": pg_db.user, "d": pg_db.name, "a": "127.0.0.1", "n": "headwater", "ro": "on", "tz": "UTC"}


def test_the_driver_path_never_lends_the_hubs_pgpassword(
    pg_db: ScratchDatabase, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PGPASSWORD", pg_db.password)  # valid for the user: the driver's libpq would happily use it
    with pytest.raises(InvalidInput, match="never lends"):
        make(pg_db, password="").export_connection("parquet")
