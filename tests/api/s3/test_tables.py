"""Tables as objects: database and synthetic connections are read-only buckets of their tables as files.

A table file is exported once into the hub's storage on its first HEAD or GET and served from there
(sizes, ETags, ranges); `table_exports.EXPORTS` counts the exports this process ran.
"""

from __future__ import annotations

import io
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, replace
from decimal import Decimal
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest
from botocore.exceptions import ClientError

from headwater.services import table_exports
from headwater.store.models import Source
from tests.api.s3.test_buckets import code_of
from tests.api.test_database_api import add_database
from tests.fixtures.databases import ScratchDatabase, mysql_admin, pg_connect
from tests.fixtures.s3_clients import S3Clients
from tests.fixtures.s3_front import Org, S3Front


@dataclass
class Tables:
    """A PostgreSQL connection (bucket `LABEL.postgres`) of the org, and a table of it."""

    org: Org
    label: str
    source_id: str
    table: str

    @property
    def bucket(self) -> str:
        return f"{self.label}.postgres"

    def key(self, fmt: str = "parquet") -> str:
        return f"public/{self.table}.{fmt}"

    def exports(self, fmt: str = "parquet") -> int:
        return table_exports.EXPORTS[(self.source_id, self.key(fmt))]


@pytest.fixture
def tables(org: Org, pg_db: ScratchDatabase) -> Iterator[Tables]:
    table = f"orders_{uuid.uuid4().hex[:8]}"
    with pg_connect(pg_db) as conn:
        conn.execute(f"CREATE TABLE {table} (id int PRIMARY KEY, item text, price numeric(8,2), at timestamptz)")
        conn.execute(
            f"INSERT INTO {table} SELECT g, 'item ' || g, g * 1.5, "
            "'2024-01-01'::timestamptz + g * interval '1 hour' FROM generate_series(1, 5000) g"
        )
    label = f"pg{uuid.uuid4().hex[:8]}"
    source = add_database(org.api, pg_db, label, access="read-write")
    yield Tables(org, label, str(source["id"]), table)
    with pg_connect(pg_db) as conn:
        conn.execute(f"DROP TABLE IF EXISTS {table}")


def refused(call: Any, **kwargs: Any) -> str:
    with pytest.raises(ClientError) as caught:
        call(**kwargs)
    return code_of(caught.value)


def rows(pg_db: ScratchDatabase, table: str) -> int:
    with pg_connect(pg_db) as conn:
        found = conn.execute(f"SELECT count(*) FROM {table}").fetchone()
    assert found is not None
    return int(found[0])


def test_a_database_connection_is_a_bucket_of_schema_table_files(s3_front: S3Front, tables: Tables) -> None:
    s3 = s3_front.client(tables.org.token)
    assert tables.bucket in [b["Name"] for b in s3.list_buckets()["Buckets"]]
    assert s3.head_bucket(Bucket=tables.bucket)["ResponseMetadata"]["HTTPStatusCode"] == 200
    top = s3.list_objects_v2(Bucket=tables.bucket, Delimiter="/")
    assert "public/" in [p["Prefix"] for p in top["CommonPrefixes"]] and "Contents" not in top
    listed = s3.list_objects_v2(Bucket=tables.bucket, Prefix=f"public/{tables.table}")
    assert [c["Key"] for c in listed["Contents"]] == [tables.key(f) for f in ("csv", "jsonl", "parquet")]


def test_a_listing_gives_the_sizes_and_etags_a_get_gives(s3_front: S3Front, tables: Tables) -> None:
    s3 = s3_front.client(tables.org.token)
    listed = s3.list_objects_v2(Bucket=tables.bucket, Prefix=f"public/{tables.table}")["Contents"]
    assert [tables.exports(f) for f in ("csv", "jsonl", "parquet")] == [1, 1, 1]
    for item in listed:
        got = s3.get_object(Bucket=tables.bucket, Key=item["Key"])
        assert len(got["Body"].read()) == item["Size"] > 0 and got["ETag"] == item["ETag"]
    assert [tables.exports(f) for f in ("csv", "jsonl", "parquet")] == [1, 1, 1]


def test_head_gives_a_size_and_get_gives_what_the_data_api_gives(s3_front: S3Front, tables: Tables) -> None:
    s3 = s3_front.client(tables.org.token)
    head = s3.head_object(Bucket=tables.bucket, Key=tables.key())
    assert head["ContentLength"] > 0 and head["ETag"].strip('"')
    got = s3.get_object(Bucket=tables.bucket, Key=tables.key())
    body = got["Body"].read()
    assert len(body) == head["ContentLength"] and got["ETag"] == head["ETag"]
    direct = tables.org.api.get(f"/v1/connector/postgres+{tables.label}/{tables.key()}")
    assert direct.status_code == 200
    through_s3, through_api = pq.read_table(io.BytesIO(body)), pq.read_table(io.BytesIO(direct.content))
    assert through_s3.num_rows == 5000 and through_s3.equals(through_api)
    csv = s3.get_object(Bucket=tables.bucket, Key=tables.key("csv"))["Body"].read()
    assert csv.splitlines()[0] == b"id,item,price,at" and len(csv.splitlines()) == 5001


def test_ranged_reads_of_the_footer_export_the_table_once(s3_front: S3Front, tables: Tables) -> None:
    s3 = s3_front.client(tables.org.token)
    assert tables.exports() == 0
    size = s3.head_object(Bucket=tables.bucket, Key=tables.key())["ContentLength"]
    tail = s3.get_object(Bucket=tables.bucket, Key=tables.key(), Range="bytes=-8")
    assert tail["Body"].read().endswith(b"PAR1") and tail["ContentRange"] == f"bytes {size - 8}-{size - 1}/{size}"
    footer = int.from_bytes(
        s3.get_object(Bucket=tables.bucket, Key=tables.key(), Range="bytes=-8")["Body"].read()[:4], "little"
    )
    meta = s3.get_object(Bucket=tables.bucket, Key=tables.key(), Range=f"bytes={size - 8 - footer}-{size - 9}")
    assert len(meta["Body"].read()) == footer
    assert s3.get_object(Bucket=tables.bucket, Key=tables.key(), Range="bytes=0-3")["Body"].read() == b"PAR1"
    assert tables.exports() == 1
    assert refused(s3.get_object, Bucket=tables.bucket, Key=tables.key(), Range=f"bytes={size + 10}-") == "InvalidRange"


def test_concurrent_first_readers_wait_for_one_export(s3_front: S3Front, tables: Tables) -> None:
    sizes: list[int] = []
    errors: list[BaseException] = []

    def head() -> None:
        try:
            client = s3_front.client(tables.org.token)
            sizes.append(client.head_object(Bucket=tables.bucket, Key=tables.key("jsonl"))["ContentLength"])
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=head) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not errors and len(sizes) == 6 and len(set(sizes)) == 1
    assert tables.exports("jsonl") == 1


def test_pyarrow_reads_the_table_through_s3_filesystem(s3_front: S3Front, tables: Tables, tmp_path: Path) -> None:
    arrow = S3Clients(s3_front.account(tables.org.token), tmp_path).pyarrow()
    table = pq.read_table(f"{tables.bucket}/{tables.key()}", filesystem=arrow)
    assert table.num_rows == 5000 and table.column_names == ["id", "item", "price", "at"]
    assert tables.exports() == 1


def test_duckdb_reads_the_table_as_parquet(s3_front: S3Front, tables: Tables, tmp_path: Path) -> None:
    con = S3Clients(s3_front.account(tables.org.token), tmp_path).duckdb()
    where = f"s3://{tables.bucket}/{tables.key()}"
    assert con.execute(f"SELECT count(*), max(id), sum(price) FROM read_parquet('{where}')").fetchall() == [
        (5000, 5000, Decimal("18753750.00"))
    ]
    con.close()
    assert tables.exports() == 1


def test_a_changed_source_or_an_old_export_is_exported_again(
    s3_front: S3Front, tables: Tables, pg_db: ScratchDatabase
) -> None:
    s3 = s3_front.client(tables.org.token)
    first = s3.head_object(Bucket=tables.bucket, Key=tables.key("csv"))
    with pg_connect(pg_db) as conn:
        conn.execute(f"INSERT INTO {tables.table} VALUES (9001, 'late', 1, now())")
    assert s3.head_object(Bucket=tables.bucket, Key=tables.key("csv"))["ETag"] == first["ETag"]  # fresh: reused
    assert tables.exports("csv") == 1
    changed = tables.org.api.patch(f"/v1/sources/{tables.source_id}", json={"description": "edited"})
    assert changed.status_code == 200, changed.text
    second = s3.head_object(Bucket=tables.bucket, Key=tables.key("csv"))
    assert tables.exports("csv") == 2 and second["ContentLength"] > first["ContentLength"]
    hub = s3_front.running.hub
    kept = hub.settings
    hub.settings = replace(kept, table_export_ttl=0.0)
    try:
        s3.head_object(Bucket=tables.bucket, Key=tables.key("csv"))
    finally:
        hub.settings = kept
    assert tables.exports("csv") == 3


def test_every_write_to_a_table_bucket_is_refused(s3_front: S3Front, tables: Tables, pg_db: ScratchDatabase) -> None:
    s3 = s3_front.client(tables.org.token)  # an admin, on a read-write connection
    key = tables.key("csv")
    assert refused(s3.put_object, Bucket=tables.bucket, Key=key, Body=b"id\n7001\n") == "AccessDenied"
    assert refused(s3.put_object, Bucket=tables.bucket, Key="public/made.csv", Body=b"a\n1\n") == "AccessDenied"
    assert refused(s3.delete_object, Bucket=tables.bucket, Key=key) == "AccessDenied"
    assert refused(s3.create_multipart_upload, Bucket=tables.bucket, Key=key) == "AccessDenied"
    copied = {"Bucket": tables.org.bucket, "Key": "x.csv"}
    s3.put_object(Bucket=tables.org.bucket, Key="x.csv", Body=b"id\n7002\n")
    assert refused(s3.copy_object, Bucket=tables.bucket, Key=key, CopySource=copied) == "AccessDenied"
    result = s3.delete_objects(Bucket=tables.bucket, Delete={"Objects": [{"Key": key}]})
    assert [e["Code"] for e in result["Errors"]] == ["AccessDenied"]
    assert rows(pg_db, tables.table) == 5000


def test_a_table_copies_out_to_a_file_connection(s3_front: S3Front, tables: Tables) -> None:
    s3 = s3_front.client(tables.org.token)
    s3.copy_object(
        Bucket=tables.org.bucket, Key="orders.parquet", CopySource={"Bucket": tables.bucket, "Key": tables.key()}
    )
    copied = s3.get_object(Bucket=tables.org.bucket, Key="orders.parquet")["Body"].read()
    assert pq.read_table(io.BytesIO(copied)).num_rows == 5000


def test_keys_that_are_no_table_file_are_no_such_key(s3_front: S3Front, tables: Tables) -> None:
    s3 = s3_front.client(tables.org.token)
    for key in (f"public/{tables.table}", "public/absent_table.parquet", "nowhere/t.csv"):
        assert refused(s3.get_object, Bucket=tables.bucket, Key=key) == "NoSuchKey"
        with pytest.raises(ClientError) as caught:
            s3.head_object(Bucket=tables.bucket, Key=key)
        assert caught.value.response["ResponseMetadata"]["HTTPStatusCode"] == 404


def test_narrowed_tokens_reach_only_their_sources_and_prefixes(s3_front: S3Front, tables: Tables) -> None:
    org = tables.org
    lake = org.source_id(org.label)
    elsewhere = s3_front.client(s3_front.running.token(org=org.name, user="bob", admin=False, source_ids=(lake,)))
    assert tables.bucket not in [b["Name"] for b in elsewhere.list_buckets()["Buckets"]]
    assert refused(elsewhere.get_object, Bucket=tables.bucket, Key=tables.key()) == "NoSuchBucket"
    only_pg = s3_front.client(
        s3_front.running.token(org=org.name, user="bob", admin=False, source_ids=(tables.source_id,), read_only=True)
    )
    assert [b["Name"] for b in only_pg.list_buckets()["Buckets"]] == [tables.bucket]
    assert only_pg.head_object(Bucket=tables.bucket, Key=tables.key())["ContentLength"] > 0
    prefix = f"postgres+{tables.label}://public/{tables.table}.c"
    narrow = s3_front.client(s3_front.running.token(org=org.name, user="bob", admin=False, path_prefix=prefix))
    listed = narrow.list_objects_v2(Bucket=tables.bucket)
    assert [c["Key"] for c in listed["Contents"]] == [tables.key("csv")]
    assert narrow.get_object(Bucket=tables.bucket, Key=tables.key("csv"))["Body"].read().startswith(b"id,")
    assert refused(narrow.get_object, Bucket=tables.bucket, Key=tables.key()) == "AccessDenied"


def test_each_table_read_is_audited_as_the_data_api_audits_it(s3_front: S3Front, tables: Tables) -> None:
    s3 = s3_front.client(tables.org.token)
    s3.get_object(Bucket=tables.bucket, Key=tables.key())["Body"].read()
    tables.org.api.get(f"/v1/connector/postgres+{tables.label}/{tables.key()}").raise_for_status()
    wanted = {"operation": "data.read", "source": f"postgres+{tables.label}"}
    deadline = time.monotonic() + 10
    while True:
        events = tables.org.api.get("/v1/audit", params=wanted).json()["events"]
        if len(events) >= 2 or time.monotonic() > deadline:
            break
        time.sleep(0.1)
    assert len(events) == 2
    s3_event, api_event = events
    for field in ("operation", "sourceId", "connection", "path", "outcome", "user"):
        assert s3_event.get(field) == api_event.get(field), field
    assert s3_event["path"] == tables.key() and s3_event["outcome"] == "allowed"


def test_a_synthetic_connection_is_a_bucket_of_its_datasets(s3_front: S3Front, org: Org) -> None:
    label = f"gen{uuid.uuid4().hex[:8]}"
    dataset = {"rows": 1234, "seed": 7, "columns": [{"name": "id", "type": "int"}, {"name": "who", "type": "name"}]}
    made = org.api.post(
        "/v1/sources", json={"protocol": "synthetic", "label": label, "params": {"datasets": {"people": dataset}}}
    )
    assert made.status_code == 201, made.text
    s3 = s3_front.client(org.token)
    bucket = f"{label}.synthetic"
    assert [c["Key"] for c in s3.list_objects_v2(Bucket=bucket)["Contents"]] == [
        "people.csv",
        "people.jsonl",
        "people.parquet",
    ]
    body = s3.get_object(Bucket=bucket, Key="people.parquet")["Body"].read()
    assert pq.read_table(io.BytesIO(body)).num_rows == 1234
    assert refused(s3.put_object, Bucket=bucket, Key="people.csv", Body=b"id\n1\n") in {
        "AccessDenied",
        "MethodNotAllowed",
    }


def test_a_mysql_table_reads_as_parquet(s3_front: S3Front, org: Org, mysql_db: ScratchDatabase) -> None:
    name = f"t_{uuid.uuid4().hex[:8]}"
    with mysql_admin() as conn, conn.cursor() as cur:
        cur.execute(f"CREATE TABLE `{mysql_db.name}`.`{name}` (id int, label varchar(10)) ENGINE=InnoDB")
        cur.execute(f"INSERT INTO `{mysql_db.name}`.`{name}` VALUES (1, 'a'), (2, NULL), (3, 'c')")
        conn.commit()
    label = f"my{uuid.uuid4().hex[:8]}"
    add_database(org.api, mysql_db, label)
    s3 = s3_front.client(org.token)
    bucket, key = f"{label}.mysql", f"{mysql_db.name}/{name}.parquet"
    assert f"{mysql_db.name}/" in [
        p["Prefix"] for p in s3.list_objects_v2(Bucket=bucket, Delimiter="/")["CommonPrefixes"]
    ]
    body = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
    direct = org.api.get(f"/v1/connector/mysql+{label}/{key}").content
    assert pq.read_table(io.BytesIO(body)).equals(pq.read_table(io.BytesIO(direct)))
    assert pq.read_table(io.BytesIO(body)).column("label").to_pylist() == ["a", None, "c"]


def test_another_organization_sees_no_table_bucket(s3_front: S3Front, tables: Tables) -> None:
    stranger = s3_front.client(s3_front.running.token())
    assert tables.bucket not in [b["Name"] for b in stranger.list_buckets()["Buckets"]]
    assert refused(stranger.head_object, Bucket=tables.bucket, Key=tables.key()) in {"404", "NoSuchBucket"}
    assert refused(stranger.get_object, Bucket=tables.bucket, Key=tables.key()) == "NoSuchBucket"
    assert refused(stranger.list_objects_v2, Bucket=tables.bucket) == "NoSuchBucket"


def test_a_reader_waits_for_the_export_another_worker_runs(s3_front: S3Front, tables: Tables) -> None:
    hub = s3_front.running.hub
    with hub.store.session() as session:
        source = session.get(Source, tables.source_id)
        assert source is not None
        staged = table_exports.Staged(source.org_id, source.id, source.version, tables.key(), "parquet")
    assert table_exports.take_lock(hub.storage, staged.lock)  # another worker is exporting
    sizes: list[int] = []
    reader = threading.Thread(
        target=lambda: sizes.append(
            s3_front.client(tables.org.token).head_object(Bucket=tables.bucket, Key=tables.key())["ContentLength"]
        )
    )
    reader.start()
    time.sleep(1.0)
    assert reader.is_alive() and not sizes  # waiting
    hub.storage.write_small(f"{staged.folder}/{staged.name}", b"PAR1 from the other worker PAR1")
    hub.storage.delete([staged.lock])
    reader.join(timeout=30)
    assert sizes == [len(b"PAR1 from the other worker PAR1")] and tables.exports() == 0
