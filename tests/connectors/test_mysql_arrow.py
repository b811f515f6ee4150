"""MySQL Parquet exports through ConnectorX: the driver's path, streamed in bounded memory, on the source's own terms."""

from __future__ import annotations

import asyncio
import io
import uuid
from collections.abc import Iterator
from ipaddress import ip_address
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pymysql
import pytest

from headwater.connectors import endpoints
from headwater.connectors.databases import formats, mysql_arrow
from headwater.connectors.databases.columns import Column
from headwater.connectors.databases.formats import ParquetEncoder
from headwater.connectors.databases.mysql import MysqlConnector
from headwater.errors import HeadwaterError, InvalidInput
from tests.connectors.test_mysql import make, my, read_all, run, table  # noqa: F401 - fixtures
from tests.fixtures.databases import ScratchDatabase

pytestmark = pytest.mark.anyio


@pytest.fixture
def wide(mysql_db: ScratchDatabase) -> Iterator[str]:
    """A table of 200,000 rows of incompressible text: about 14 MiB of Parquet."""
    name = f"wide_{uuid.uuid4().hex[:6]}"
    run(
        f"CREATE TABLE `{mysql_db.name}`.`{name}` ENGINE=InnoDB AS SELECT seq AS id, CONCAT(MD5(seq), MD5(-seq)) AS pad FROM `{mysql_db.name}`.seq_1_to_200000"
    )
    yield name
    run(f"DROP TABLE IF EXISTS `{mysql_db.name}`.`{name}`")


def running(marker: str) -> list[tuple[Any, ...]]:
    return run(f"SELECT ID FROM information_schema.PROCESSLIST WHERE INFO LIKE '%{marker}%' AND ID <> CONNECTION_ID()")


async def test_parquet_exports_are_the_pymysql_paths_values_and_types_from_the_drivers_batches(
    my: MysqlConnector, mysql_db: ScratchDatabase, table: str
) -> None:
    data = await read_all(my, f"{mysql_db.name}/{table}.parquet")
    parquet = pq.ParquetFile(io.BytesIO(data))
    assert parquet.schema_arrow.metadata[mysql_arrow.WRITER_KEY] == mysql_arrow.WRITER
    # The same table through the PyMySQL cursor path (what TLS connections use): same types, metadata and values.
    found = my.table(my._meta(), mysql_db.name, table)
    assert found is not None
    conn = my.connect(purpose="read")
    try:
        before = pq.read_table(io.BytesIO(b"".join(my.export(conn, found, found.columns, None, "parquet"))))
    finally:
        my.close_connection(conn)
    after = parquet.read()
    assert after.schema.remove_metadata().equals(before.schema.remove_metadata(), check_metadata=False)
    for mine, theirs in zip(after.schema, before.schema, strict=True):
        assert mine.equals(theirs, check_metadata=True), mine.name
    assert after.to_pylist() == before.to_pylist()
    assert after.column("n").to_pylist()[0] is not None and str(after.column("n")[1].as_py()) == "-0.001"
    assert after.column("t")[0].as_py() == 'hé "q", x\nnext' and after.column("ba")[0].as_py() == b"\x00\x01\xff"
    assert after.to_pylist()[2] == {"id": 3, **{k: None for k in after.column_names if k != "id"}}
    csv = await read_all(my, f"{mysql_db.name}/{table}.csv")
    assert mysql_arrow.WRITER not in csv  # CSV stays with PyMySQL


async def test_a_parquet_export_larger_than_a_batch_streams_in_bounded_memory(
    my: MysqlConnector, mysql_db: ScratchDatabase, wide: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(mysql_arrow, "BATCH_ROWS", 2_000)
    monkeypatch.setattr(formats, "ROW_GROUP_ROWS", 10_000)
    sizes: list[int] = []
    peak = 0
    parts: list[bytes] = []
    before = pa.total_allocated_bytes()
    async for chunk in my.read(f"{mysql_db.name}/{wide}.parquet"):
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


async def test_a_reader_that_stops_early_stops_the_drivers_statement(
    my: MysqlConnector, mysql_db: ScratchDatabase, wide: str
) -> None:
    marker = f"stop_{uuid.uuid4().hex[:8]}"
    run(
        f"CREATE VIEW `{mysql_db.name}`.`{marker}` AS SELECT a.id, a.pad FROM `{mysql_db.name}`.`{wide}` a, `{mysql_db.name}`.seq_1_to_50 b"
    )
    try:
        chunks = my.read(f"{mysql_db.name}/{marker}.parquet")
        await chunks.__anext__()  # a row group is out: the driver is mid-stream on 10 million rows
        assert running(f"FROM `{mysql_db.name}`.`{marker}`")
        await chunks.aclose()
        for _ in range(50):
            if not running(f"FROM `{mysql_db.name}`.`{marker}`"):
                break
            await asyncio.sleep(0.1)
        assert not running(f"FROM `{mysql_db.name}`.`{marker}`")
    finally:
        run(f"DROP VIEW IF EXISTS `{mysql_db.name}`.`{marker}`")


async def test_server_errors_are_classified_without_the_password(
    my: MysqlConnector, mysql_db: ScratchDatabase, wide: str
) -> None:
    name = f"fails_{uuid.uuid4().hex[:6]}"
    run(
        f"CREATE VIEW `{mysql_db.name}`.`{name}` AS SELECT id, IF(id = 150000, (SELECT 1 UNION SELECT 2), id) AS x FROM `{mysql_db.name}`.`{wide}`"
    )
    try:
        with pytest.raises(HeadwaterError, match=r"Subquery returns more than 1 row$") as failed:
            await read_all(my, f"{mysql_db.name}/{name}.parquet")
        assert mysql_db.password not in str(failed.value)
    finally:
        run(f"DROP VIEW IF EXISTS `{mysql_db.name}`.`{name}`")
    session = my.export_connection("parquet")
    try:
        missing = mysql_arrow.parquet(
            session,
            f"SELECT id FROM `{mysql_db.name}`.`nope`",
            [Column("id", "int64")],
            ParquetEncoder([Column("id", "int64")], "mysql"),
        )
        with pytest.raises(InvalidInput, match="doesn't exist") as failed:
            b"".join(my._guarded(missing, session))
        assert mysql_db.password not in str(failed.value)
    finally:
        my.close_connection(session)
    leaked = mysql_arrow.failure(RuntimeError(f"bad mysql://u:{mysql_db.password}@127.0.0.1:3306/db here"))
    assert mysql_db.password not in leaked.text and leaked.code is None


def test_the_driver_connects_to_the_checked_address_read_only_in_utc(
    mysql_db: ScratchDatabase, monkeypatch: pytest.MonkeyPatch
) -> None:
    checked: list[str] = []

    def resolve(host: str, port: int) -> list[Any]:
        checked.append(host)
        return [ip_address("127.0.0.1")]

    monkeypatch.setattr(endpoints, "resolve", resolve)
    connector = make(mysql_db, host="db.headwater-test.invalid", password=mysql_db.password + "@:/%?#")
    with pytest.raises(
        pymysql.err.OperationalError
    ) as refused:  # the password is checked (and refused) on the pinned address
        connector.export_connection("parquet")
    assert type(connector.guard(refused.value)).__name__ == "UpstreamAuthFailed"
    assert "@:/%?#" not in str(connector.guard(refused.value))
    connector = make(
        mysql_db, host="db.headwater-test.invalid"
    )  # never resolvable: only the pinned address can reach it
    session = connector.export_connection("parquet")
    try:
        assert isinstance(session, mysql_arrow.ArrowSession) and set(checked) == {"db.headwater-test.invalid"}
        assert "@127.0.0.1:3306/" in session.url and session.url.endswith("?ssl-mode=DISABLED")
        columns = [Column("ro", "int64"), Column("tz", "string"), Column("it", "int64"), Column("u", "string")]
        chunks = mysql_arrow.parquet(
            session,
            "SELECT @@session.tx_read_only AS ro, @@time_zone AS tz, @@in_transaction AS it, CURRENT_USER() AS u",
            columns,
            ParquetEncoder(columns, "mysql"),
        )
        row = pq.read_table(io.BytesIO(b"".join(chunks))).to_pylist()[0]
    finally:
        connector.close_connection(session)
    assert row == {"ro": 1, "tz": "+00:00", "it": 1, "u": f"{mysql_db.user}@%"}
    assert (
        mysql_arrow.url("::1", 3306, "a b", "p@ss:/", "d")
        == "mysql://a%20b:p%40ss%3A%2F@[::1]:3306/d?ssl-mode=DISABLED"
    )


def test_tls_connections_stay_on_the_pymysql_path(mysql_db: ScratchDatabase) -> None:
    connector = make(mysql_db, ssl="require")  # this server has no TLS: refused, never retried without it
    with pytest.raises(pymysql.err.OperationalError) as refused:
        connector.export_connection("parquet")
    assert type(connector.guard(refused.value)).__name__ == "UpstreamTLSError"
