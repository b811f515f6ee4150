"""Every kind of caller × every S3 operation on a table bucket (a PostgreSQL connection) answers as ONE rights table says.

The connection has access `read-write` (the Data API may load files into its tables), yet its bucket
is read-only for every caller: tables are served as exports. Callers are those of the S3 rights
table (tests/security/s3_callers.py): an admin, a member, a read-only token, a token narrowed to the
connection (sources), one narrowed to one table's files (prefix), another organization's admin, an
anonymous request.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from tests.api.test_database_api import add_database
from tests.fixtures.databases import ScratchDatabase, pg_connect
from tests.fixtures.s3_front import Org, S3Front, org, s3_front  # noqa: F401 - fixtures
from tests.security.s3_callers import CALLERS, Operation, clients, raise_first_error, row, wrong_answers


@dataclass
class World:
    org: Org
    bucket: str
    key: str  # the parquet file of the table every narrowed caller may read
    outside: str  # the parquet file of a table outside the prefix
    clients: dict[str, Any]
    suffix: str

    def new_table(self, who: str) -> str:
        return f"n_{who}_{self.suffix}"


def delete_objects(s3: Any, world: World, who: str) -> None:
    result = s3.delete_objects(Bucket=world.bucket, Delete={"Objects": [{"Key": world.key}]})
    raise_first_error(result, "DeleteObjects")


OPERATIONS: dict[str, Operation[World]] = {
    "ListBuckets": lambda s3, w, who: s3.list_buckets(),
    "HeadBucket": lambda s3, w, who: s3.head_bucket(Bucket=w.bucket),
    "ListObjectsV2": lambda s3, w, who: s3.list_objects_v2(Bucket=w.bucket, Prefix=w.key.rsplit(".", 1)[0]),
    "HeadObject": lambda s3, w, who: s3.head_object(Bucket=w.bucket, Key=w.key),
    "GetObject": lambda s3, w, who: s3.get_object(Bucket=w.bucket, Key=w.key)["Body"].read(),
    "GetObject footer range": lambda s3, w, who: s3.get_object(Bucket=w.bucket, Key=w.key, Range="bytes=-8"),
    "GetObject outside the prefix": lambda s3, w, who: s3.get_object(Bucket=w.bucket, Key=w.outside),
    "PutObject": lambda s3, w, who: s3.put_object(Bucket=w.bucket, Key=w.key.replace(".parquet", ".csv"), Body=b"id\n"),
    "PutObject new table": lambda s3, w, who: s3.put_object(
        Bucket=w.bucket, Key=f"public/{w.new_table(who)}.csv", Body=b"id\n"
    ),
    "CopyObject into": lambda s3, w, who: s3.copy_object(
        Bucket=w.bucket, Key=w.key.replace(".parquet", ".jsonl"), CopySource={"Bucket": w.bucket, "Key": w.key}
    ),
    "CopyObject out to hosted": lambda s3, w, who: s3.copy_object(
        Bucket="data", Key=f"coll/t-{who}.parquet", CopySource={"Bucket": w.bucket, "Key": w.key}
    ),
    "DeleteObject": lambda s3, w, who: s3.delete_object(Bucket=w.bucket, Key=w.key),
    "DeleteObjects": delete_objects,
    "CreateMultipartUpload": lambda s3, w, who: s3.create_multipart_upload(Bucket=w.bucket, Key=w.key),
}


READ = row()
HEAD = row(other_org="404", anonymous="403")
REFUSED = row(*["AccessDenied"] * 5)
TABLE: dict[str, dict[str, str]] = {
    "ListBuckets": row(other_org="ok"),
    "HeadBucket": HEAD,
    "ListObjectsV2": READ,
    "HeadObject": HEAD,
    "GetObject": READ,
    "GetObject footer range": READ,
    "GetObject outside the prefix": row(prefix="AccessDenied"),
    "PutObject": REFUSED,
    "PutObject new table": REFUSED,
    "CopyObject into": REFUSED,
    "CopyObject out to hosted": row(read_only="AccessDenied", sources="AccessDenied", prefix="AccessDenied"),
    "DeleteObject": REFUSED,
    "DeleteObjects": REFUSED,
    "CreateMultipartUpload": REFUSED,
}


def test_every_operation_is_in_the_table() -> None:
    assert set(TABLE) == set(OPERATIONS)


@pytest.fixture
def world(s3_front: S3Front, org: Org, pg_db: ScratchDatabase) -> Iterator[World]:
    suffix = uuid.uuid4().hex[:8]
    table, other = f"rt_{suffix}", f"rx_{suffix}"
    with pg_connect(pg_db) as conn:
        for name in (table, other):
            conn.execute(f"CREATE TABLE {name} AS SELECT g AS id FROM generate_series(1, 100) g")
    label = f"pg{suffix}"
    source_id = str(add_database(org.api, pg_db, label, access="read-write")["id"])
    callers = clients(s3_front, org, source_id, f"postgres+{label}://public/{table}.")
    made = World(org, f"{label}.postgres", f"public/{table}.parquet", f"public/{other}.parquet", callers, suffix)
    yield made
    with pg_connect(pg_db) as conn:
        conn.execute(f"DROP TABLE IF EXISTS {table}, {other}")
        for who in CALLERS:
            conn.execute(f"DROP TABLE IF EXISTS {made.new_table(who)}")


def test_the_s3_table_bucket_rights_table(world: World, pg_db: ScratchDatabase) -> None:
    assert wrong_answers(OPERATIONS, TABLE, world.clients, world) == {}
    with pg_connect(pg_db) as conn:  # nothing was loaded, nothing created
        assert conn.execute(f"SELECT count(*) FROM {world.key[7:-8]}").fetchone() == (100,)
        names = [world.new_table(who) for who in CALLERS]
        made = conn.execute("SELECT count(*) FROM pg_tables WHERE tablename = ANY(%s)", (names,)).fetchone()
    assert made == (0,)
