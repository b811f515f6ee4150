"""Every kind of caller × every S3 operation on a table bucket (a PostgreSQL connection) answers as ONE rights table says.

The connection has access `read-write` (the Data API may load files into its tables), yet its bucket
is read-only for every caller: tables are served as exports. Callers are those of the S3 rights
table: an admin, a member, a read-only token, a token narrowed to the connection (sources), one
narrowed to one table's files (prefix), another organization's admin, an anonymous request.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import boto3
import pytest
from botocore import UNSIGNED
from botocore.config import Config
from botocore.exceptions import ClientError

from tests.api.test_database_api import add_database
from tests.fixtures.databases import ScratchDatabase, pg_connect
from tests.fixtures.s3_front import Org, S3Front, org, s3_front  # noqa: F401 - fixtures

CALLERS = ("admin", "member", "read_only", "sources", "prefix", "other_org", "anonymous")


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


Operation = Callable[[Any, World, str], object]


def delete_objects(s3: Any, world: World, who: str) -> None:
    result = s3.delete_objects(Bucket=world.bucket, Delete={"Objects": [{"Key": world.key}]})
    if result.get("Errors"):
        error = result["Errors"][0]
        raise ClientError({"Error": {"Code": error["Code"], "Message": error["Message"]}}, "DeleteObjects")


OPERATIONS: dict[str, Operation] = {
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


def row(
    admin: str = "ok",
    member: str = "ok",
    read_only: str = "ok",
    sources: str = "ok",
    prefix: str = "ok",
    other_org: str = "NoSuchBucket",
    anonymous: str = "AccessDenied",
) -> dict[str, str]:
    return dict(zip(CALLERS, (admin, member, read_only, sources, prefix, other_org, anonymous), strict=True))


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
    running = s3_front.running
    tokens = {
        "admin": org.token,
        "member": running.token(org=org.name, user=f"m{suffix}", admin=False),
        "read_only": running.token(org=org.name, user="ro", admin=False, read_only=True),
        "sources": running.token(org=org.name, user="src", admin=False, source_ids=(source_id,)),
        "prefix": running.token(
            org=org.name, user="pre", admin=False, path_prefix=f"postgres+{label}://public/{table}."
        ),
        "other_org": running.token(),
    }
    clients = {name: s3_front.client(token) for name, token in tokens.items()}
    clients["anonymous"] = boto3.session.Session().client(
        "s3",
        endpoint_url=s3_front.url,
        region_name="us-east-1",
        config=Config(signature_version=UNSIGNED, s3={"addressing_style": "path"}, retries={"max_attempts": 1}),
    )
    made = World(org, f"{label}.postgres", f"public/{table}.parquet", f"public/{other}.parquet", clients, suffix)
    yield made
    with pg_connect(pg_db) as conn:
        conn.execute(f"DROP TABLE IF EXISTS {table}, {other}")
        for who in CALLERS:
            conn.execute(f"DROP TABLE IF EXISTS {made.new_table(who)}")


def outcome(call: Callable[[], object]) -> str:
    try:
        call()
    except ClientError as exc:
        return str(exc.response["Error"]["Code"])
    return "ok"


def test_the_s3_table_bucket_rights_table(world: World, pg_db: ScratchDatabase) -> None:
    answers = {
        (name, who): outcome(lambda op=op, who=who: op(world.clients[who], world, who))  # type: ignore[misc]
        for name, op in OPERATIONS.items()
        for who in CALLERS
    }
    wrong = {
        f"{name} as {who}": f"got {answers[(name, who)]}, expected {TABLE[name][who]}"
        for name in OPERATIONS
        for who in CALLERS
        if answers[(name, who)] != TABLE[name][who]
    }
    assert wrong == {}
    with pg_connect(pg_db) as conn:  # nothing was loaded, nothing created
        assert conn.execute(f"SELECT count(*) FROM {world.key[7:-8]}").fetchone() == (100,)
        names = [world.new_table(who) for who in CALLERS]
        made = conn.execute("SELECT count(*) FROM pg_tables WHERE tablename = ANY(%s)", (names,)).fetchone()
    assert made == (0,)
