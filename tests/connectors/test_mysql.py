"""The `mysql` kind against the machine's real MariaDB: checks, browsing, exports, loads, queries."""

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
from headwater.connectors.databases.mysql import MysqlConnector, MysqlParams
from headwater.errors import (
    InvalidInput,
    NotFound,
    NotSupported,
    PermissionDenied,
    UpstreamAuthFailed,
    UpstreamPermissionDenied,
    UpstreamTimeout,
    UpstreamTLSError,
    UpstreamUnavailable,
)
from tests.fixtures.databases import ScratchDatabase, mysql_admin
from tests.fixtures.network import free_port

pytestmark = pytest.mark.anyio

EVERY_TYPE = [
    """CREATE TABLE `{db}`.`{name}` (
     id int PRIMARY KEY, tiny tinyint, small smallint unsigned, big bigint, ub bigint unsigned, r float, d double,
     n decimal(12,3), t text, v varchar(20), b boolean, ba blob, dt date, tm time(6), ts datetime(6), tz timestamp(6) NULL,
     j json, e enum('a','b'), y year
    ) ENGINE=InnoDB""",
    """INSERT INTO `{db}`.`{name}` VALUES
     (1, -1, 65535, 9007199254740993, 18446744073709551615, 1.5, 0.1, 123.456, 'hé "q", x\nnext', 'v', true, x'0001ff',
      '2024-01-02', '-01:02:03.5', '2024-01-02 03:04:05.123456', '2024-01-02 03:04:05.123456', '{{"a": [1, 2.50]}}', 'b', 2024),
     (2, NULL, 0, NULL, 0, NULL, -1e300, -0.001, '', NULL, false, '', '1000-01-01', '00:00', '1970-01-01', NULL, '[]', NULL, NULL),
     (3, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL)""",
]


def make(db: ScratchDatabase, user: str | None = None, password: str | None = None, **params: Any) -> MysqlConnector:
    settings = {"host": db.host, "port": db.port, "database": db.name, **params}
    credentials = Credentials(user or db.user, {"secretKey": db.password if password is None else password})
    return MysqlConnector(MysqlParams.model_validate(settings), credentials, allow_private=True)


@pytest.fixture
async def my(mysql_db: ScratchDatabase) -> AsyncIterator[MysqlConnector]:
    connector = make(mysql_db)
    try:
        yield connector
    finally:
        await connector.close()


def run(sql: str) -> list[tuple[Any, ...]]:
    with mysql_admin() as conn, conn.cursor() as cur:
        cur.execute(sql)
        return list(cur.fetchall())


@pytest.fixture
def table(mysql_db: ScratchDatabase) -> Iterator[str]:
    name = f"every_{uuid.uuid4().hex[:8]}"
    for statement in EVERY_TYPE:
        run(statement.format(db=mysql_db.name, name=name))
    yield name
    run(f"DROP TABLE IF EXISTS `{mysql_db.name}`.`{name}`")


def rows_of(db: ScratchDatabase, name: str) -> list[tuple[Any, ...]]:
    return run(f"SELECT * FROM `{db.name}`.`{name}` ORDER BY id")


async def read_all(connector: MysqlConnector, path: str, **options: str) -> bytes:
    return b"".join([chunk async for chunk in connector.read(path, options=options or None)])


async def upload(data: bytes, size: int = 7) -> AsyncIterator[bytes]:
    for i in range(0, len(data), size):
        yield data[i : i + size]


async def test_check_passes_for_the_owner_with_write(my: MysqlConnector) -> None:
    await my.check(write=True)


async def test_check_classifies_failures(mysql_db: ScratchDatabase) -> None:
    wrong = "wrong-" + uuid.uuid4().hex
    with pytest.raises(UpstreamAuthFailed) as caught:
        await make(mysql_db, password=wrong).check()
    assert wrong not in caught.value.message and mysql_db.password not in caught.value.message
    with pytest.raises((NotFound, UpstreamPermissionDenied)):
        await make(mysql_db, database="no_such_database_here").check()
    with pytest.raises(UpstreamUnavailable):
        await make(mysql_db, port=free_port()).check()
    with pytest.raises(UpstreamTLSError):
        await make(mysql_db, ssl="require").check()
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(1)
        with pytest.raises(UpstreamTimeout):
            await make(mysql_db, port=silent.getsockname()[1], connect_timeout=1).check()


async def test_a_reader_passes_the_read_check_but_not_the_write_check(mysql_db: ScratchDatabase) -> None:
    reader = make(mysql_db, user=mysql_db.reader)
    await reader.check()
    with pytest.raises(UpstreamPermissionDenied):
        await reader.check(write=True)


async def test_databases_are_folders_and_tables_are_files(
    my: MysqlConnector, mysql_db: ScratchDatabase, table: str
) -> None:
    root = await my.list("")
    assert mysql_db.name in [f.name for f in root.folders] and "mysql" not in [f.name for f in root.folders]
    names = [f.name for f in (await my.list(mysql_db.name)).files]
    assert {f"{table}.csv", f"{table}.jsonl", f"{table}.parquet"} <= set(names)
    entry = await my.stat(f"{mysql_db.name}/{table}")
    columns = {c["name"]: c for c in entry.extra["columns"]}
    assert (
        columns["ub"]["kind"] == "uint64"
        and columns["tz"]["kind"] == "timestamptz"
        and columns["n"]["type"] == "decimal(12,3)"
    )


@pytest.mark.parametrize("fmt", ["csv", "jsonl", "parquet"])
async def test_every_type_round_trips_through_each_format(
    my: MysqlConnector, mysql_db: ScratchDatabase, table: str, fmt: str
) -> None:
    data = await read_all(my, f"{mysql_db.name}/{table}.{fmt}")
    copy = f"{table}_{fmt}"
    run(f"CREATE TABLE `{mysql_db.name}`.`{copy}` LIKE `{mysql_db.name}`.`{table}`")
    await my.write(f"{mysql_db.name}/{copy}.{fmt}", upload(data, 999))
    assert rows_of(mysql_db, copy) == rows_of(mysql_db, table)


async def test_parquet_creates_a_new_table_with_the_same_values(
    my: MysqlConnector, mysql_db: ScratchDatabase, table: str
) -> None:
    data = await read_all(my, f"{mysql_db.name}/{table}.parquet")
    assert str(pq.read_schema(io.BytesIO(data)).field("ub").type) == "uint64"
    await my.write(f"{mysql_db.name}/{table}_new.parquet", upload(data, 4096))
    assert rows_of(mysql_db, f"{table}_new") == rows_of(mysql_db, table)
    created = run(f"SHOW CREATE TABLE `{mysql_db.name}`.`{table}_new`")[0][1]
    assert "decimal(12,3)" in created and "bigint(20) unsigned" in created and "InnoDB" in created


@pytest.mark.parametrize(
    ("fmt", "body", "where"),
    [
        ("csv", b"id,small\n10,1\n11,not-a-number\n", "line 3, column 'small'"),
        ("jsonl", b'{"id": 10, "small": 1}\n{"id": 11, "small": 70000}\n', "line 2"),
        ("jsonl", b'{"id": 10, "small": 1}\n{"id": 1, "small": 2}\n', "line 1 to line 2"),
    ],
)
async def test_a_bad_row_aborts_the_whole_load(
    my: MysqlConnector, mysql_db: ScratchDatabase, table: str, fmt: str, body: bytes, where: str
) -> None:
    before = rows_of(mysql_db, table)
    with pytest.raises(InvalidInput) as caught:
        await my.write(f"{mysql_db.name}/{table}.{fmt}", upload(body))
    assert where in caught.value.message
    assert rows_of(mysql_db, table) == before


async def test_a_failed_load_into_a_new_table_drops_it(my: MysqlConnector, mysql_db: ScratchDatabase) -> None:
    name = f"never_{uuid.uuid4().hex[:6]}"
    rows = b"".join(b"%d\n" % i for i in range(1500))  # more than the sample the types are inferred from
    with pytest.raises(InvalidInput, match="line 1502, column 'n'"):
        await my.write(f"{mysql_db.name}/{name}.csv", upload(b"n\n" + rows + b"x\n", 4096))
    with pytest.raises(NotFound):
        await my.stat(f"{mysql_db.name}/{name}.csv")


async def test_non_transactional_tables_are_refused(my: MysqlConnector, mysql_db: ScratchDatabase) -> None:
    name = f"myisam_{uuid.uuid4().hex[:6]}"
    run(f"CREATE TABLE `{mysql_db.name}`.`{name}` (id int) ENGINE=MyISAM")
    with pytest.raises(NotSupported, match="MyISAM"):
        await my.write(f"{mysql_db.name}/{name}.csv", upload(b"id\n1\n"))


async def test_options_and_odd_identifiers(my: MysqlConnector, mysql_db: ScratchDatabase, table: str) -> None:
    lines = (await read_all(my, f"{mysql_db.name}/{table}.jsonl", columns="id,ub", limit="1")).splitlines()
    assert [json.loads(x) for x in lines] == [{"id": 1, "ub": 18446744073709551615}]
    name = "we`ird; DROP TABLE x; --"
    run(f"CREATE TABLE `{mysql_db.name}`.`we``ird; DROP TABLE x; --` (`a``b` int) ENGINE=InnoDB")
    await my.write(f"{mysql_db.name}/{name}.csv", upload(b'"a`b"\n5\n'))
    assert await read_all(my, f"{mysql_db.name}/{name}.csv") == b'"a`b"\n5\n'


async def query_all(connector: MysqlConnector, sql: str, fmt: str = "jsonl", limit: int | None = None) -> bytes:
    return b"".join([c async for c in connector.query(sql, fmt, limit)])


async def test_queries_stream_read_only_and_bounded(mysql_db: ScratchDatabase, table: str) -> None:
    my = make(mysql_db, query_timeout=1)
    out = await query_all(my, f"SELECT id, n, tz FROM {table} WHERE id < 3 ORDER BY id")
    assert [json.loads(line) for line in out.splitlines()] == [
        {"id": 1, "n": 123.456, "tz": "2024-01-02T03:04:05.123456+00:00"},
        {"id": 2, "n": -0.001, "tz": None},
    ]
    for statement in (
        f"DELETE FROM {table}",
        f"CREATE TABLE {table}_x (a int)",
        f"/*!50000 DROP TABLE {table} */ SELECT 1",
    ):
        with pytest.raises(PermissionDenied):
            await query_all(my, statement)
    with pytest.raises(PermissionDenied, match="read-only"):  # refused by the server's read-only transaction
        await query_all(my, f"WITH x AS (SELECT 1) SELECT * FROM {table} FOR UPDATE")
    with pytest.raises(UpstreamTimeout):
        await query_all(my, "SELECT SLEEP(3) FROM (SELECT 1 UNION SELECT 2) t")
    assert len(rows_of(mysql_db, table)) == 3
