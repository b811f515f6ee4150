"""Tables as objects: a PostgreSQL connection is a read-only bucket whose keys are its tables as files.

`schema/table.parquet` (and `.csv`, `.jsonl`) has a size and answers byte ranges, so Parquet readers
read it as they read any object: the size, the footer, then the row groups, from one staged export.
"""

from __future__ import annotations

import io
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from botocore.exceptions import ClientError

from tests.api.test_database_api import add_database
from tests.fixtures.databases import ScratchDatabase, pg_connect, pg_db  # noqa: F401 - a fixture
from tests.fixtures.s3_clients import S3Clients
from tests.fixtures.s3_front import S3Front

ROWS = 5000


@dataclass
class Tables:
    front: S3Front
    token: str
    bucket: str
    table: str


@pytest.fixture
def tables(s3_front: S3Front, pg_db: ScratchDatabase) -> Iterator[Tables]:
    table = f"measures_{uuid.uuid4().hex[:8]}"
    with pg_connect(pg_db) as conn:
        conn.execute(f"CREATE TABLE {table} (id int PRIMARY KEY, name text, value double precision)")
        conn.execute(f"INSERT INTO {table} SELECT g, 'n' || g, g * 0.5 FROM generate_series(1, {ROWS}) g")
    token = s3_front.running.token()
    with s3_front.running.client(token) as api:
        add_database(api, pg_db, "pg")
    yield Tables(s3_front, token, "pg.postgres", table)
    with pg_connect(pg_db) as conn:
        conn.execute(f"DROP TABLE IF EXISTS {table}")


def test_a_table_is_listed_in_each_format_and_its_bucket_is_shown(tables: Tables) -> None:
    s3 = tables.front.client(tables.token)
    assert tables.bucket in [b["Name"] for b in s3.list_buckets()["Buckets"]]
    listed = s3.list_objects_v2(Bucket=tables.bucket, Prefix=f"public/{tables.table}")
    assert sorted(o["Key"] for o in listed["Contents"]) == [
        f"public/{tables.table}.{fmt}" for fmt in ("csv", "jsonl", "parquet")
    ]


def test_a_parquet_table_has_a_size_and_answers_ranges_from_one_export(tables: Tables) -> None:
    s3 = tables.front.client(tables.token)
    key = f"public/{tables.table}.parquet"
    head = s3.head_object(Bucket=tables.bucket, Key=key)
    size = head["ContentLength"]
    assert size > 0
    footer = s3.get_object(Bucket=tables.bucket, Key=key, Range="bytes=-8")
    assert footer["Body"].read()[-4:] == b"PAR1"
    assert footer["ETag"] == head["ETag"]  # the same staged export, not another
    whole = s3.get_object(Bucket=tables.bucket, Key=key)
    assert whole["ETag"] == head["ETag"]
    table = pq.read_table(io.BytesIO(whole["Body"].read()))
    assert table.num_rows == ROWS
    assert sorted(table.column("id").to_pylist()) == list(range(1, ROWS + 1))
    csv = s3.get_object(Bucket=tables.bucket, Key=f"public/{tables.table}.csv")["Body"].read().decode()
    assert len(csv.strip().splitlines()) == ROWS + 1


def test_tables_are_read_only_through_s3(tables: Tables) -> None:
    s3 = tables.front.client(tables.token)
    with pytest.raises(ClientError) as caught:
        s3.put_object(Bucket=tables.bucket, Key=f"public/{tables.table}.csv", Body=b"id,name,value\n0,x,1\n")
    assert caught.value.response["Error"]["Code"] == "AccessDenied"
    with pytest.raises(ClientError) as deleted:
        s3.delete_object(Bucket=tables.bucket, Key=f"public/{tables.table}.csv")
    assert deleted.value.response["Error"]["Code"] == "AccessDenied"


def test_arrow_and_duckdb_read_a_postgres_table_as_parquet(tables: Tables, tmp_path: Path) -> None:
    clients = S3Clients(tables.front.account(tables.token), tmp_path / "clients")
    where = f"{tables.bucket}/public/{tables.table}.parquet"
    read = pq.read_table(where, filesystem=clients.pyarrow(), columns=["value"])
    assert read.num_rows == ROWS
    assert sum(read.column("value").to_pylist()) == sum(g * 0.5 for g in range(1, ROWS + 1))
    con = clients.duckdb()
    assert con.execute(f"SELECT count(*), max(id) FROM read_parquet('s3://{where}')").fetchall() == [(ROWS, ROWS)]
    con.close()
