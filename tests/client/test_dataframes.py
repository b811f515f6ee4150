"""pandas, pyarrow and DuckDB read and write through the hub, unchanged, on hosted data and on S3.

The transfer measurements count what the hub itself served: its audit trail records the
body bytes of every `data.read` response (`bytesOut`).
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from typing import Any
from urllib.parse import quote

import duckdb
import fsspec
import httpx
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.dataset as ds
import pyarrow.parquet as pq
import pytest

from headwater.client import Client
from tests.client.fsspec_backends import Root, hosted_root, s3_root  # noqa: F401 (fixtures)


@pytest.fixture(params=["hosted", "s3"])
def root(request: pytest.FixtureRequest) -> Root:
    """Each test runs on hosted data and on an `s3` connection on SeaweedFS."""
    return request.getfixturevalue(f"{request.param}_root")  # type: ignore[no-any-return]


def _name(stem: str) -> str:
    return f"{stem}-{uuid.uuid4().hex[:8]}"


def served(root: Root, action: Callable[[], Any], path_suffix: str) -> tuple[Any, list[int]]:
    """Run `action`; return its result and the `bytesOut` of each `data.read` the hub served for the path.

    The hub completes an event just after the last byte is sent, so this waits until every GET
    the client saw (counted with an httpx hook on the filesystem pandas uses) is in the trail.
    """
    fs = fsspec.filesystem("headwater", **root.options)  # fsspec hands pandas this same instance
    gets: list[str] = []

    def count(response: httpx.Response) -> None:
        if response.request.method == "GET" and response.request.url.path.endswith(quote(path_suffix)):
            gets.append(response.request.headers.get("range", ""))

    hooks = fs.hub._transport.http.event_hooks["response"]
    with Client(root.url, root.token) as hub:
        before = {event["id"] for event in hub.audit.events(operation="data.read")}
        hooks.append(count)
        try:
            result = action()
        finally:
            hooks.remove(count)
        deadline = time.monotonic() + 10
        while True:
            events = [
                event
                for event in hub.audit.events(operation="data.read")
                if event["id"] not in before and (event["path"] or "").endswith(path_suffix)
            ]
            if len(events) >= len(gets) or time.monotonic() > deadline:
                break
            time.sleep(0.05)
    assert len(events) == len(gets) > 0, (len(events), gets)
    return result, [int(event["bytesOut"]) for event in events]


def frame(rows: int, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame(
        {
            "id": np.arange(rows, dtype=np.int64),
            "city": rng.choice(["Oslo", "Lima", "Pune", "Kyiv"], rows),
            "value": rng.random(rows),
        }
    )


def test_pandas_csv_round_trip(root: Root) -> None:
    df = frame(1000)
    uri = root.uri(_name("cities") + ".csv")
    df.to_csv(uri, index=False, storage_options=root.options)
    back = pd.read_csv(uri, storage_options=root.options)
    pd.testing.assert_frame_equal(back, df)
    # Text mode and compression work through fsspec as for any filesystem.
    gz = root.uri(_name("cities") + ".csv.gz")
    df.to_csv(gz, index=False, storage_options=root.options, compression="gzip")
    pd.testing.assert_frame_equal(pd.read_csv(gz, storage_options=root.options), df)


def test_pandas_parquet_round_trip(root: Root) -> None:
    df = frame(5000, seed=1)
    uri = root.uri(_name("cities") + ".parquet")
    df.to_parquet(uri, storage_options=root.options, row_group_size=1000)
    pd.testing.assert_frame_equal(pd.read_parquet(uri, storage_options=root.options), df)
    subset = pd.read_parquet(uri, columns=["value"], filters=[("id", "<", 10)], storage_options=root.options)
    assert subset["value"].tolist() == df["value"][:10].tolist()


def test_pyarrow_dataset_over_a_folder(root: Root) -> None:
    folder = root.path(_name("dataset"))
    df = frame(3000, seed=2)
    table = pa.Table.from_pandas(df, preserve_index=False)
    # Plain files in a folder, written by pyarrow through the filesystem.
    for part in range(3):
        pq.write_table(table.slice(part * 1000, 1000), f"{folder}/plain/part-{part}.parquet", filesystem=root.fs)
    dataset = ds.dataset(f"{folder}/plain", filesystem=root.fs, format="parquet")
    assert sorted(f.rsplit("/", 1)[1] for f in dataset.files) == ["part-0.parquet", "part-1.parquet", "part-2.parquet"]
    assert dataset.to_table().sort_by("id").equals(table)
    # A Hive-partitioned dataset: pyarrow makes the directories and files through the hub.
    ds.write_dataset(
        table, f"{folder}/hive", filesystem=root.fs, format="parquet", partitioning=["city"], partitioning_flavor="hive"
    )
    assert {p.rsplit("/", 1)[1] for p in root.fs.ls(f"{folder}/hive", detail=False)} == {
        f"city={c}" for c in ("Oslo", "Lima", "Pune", "Kyiv")
    }
    hive = ds.dataset(f"{folder}/hive", filesystem=root.fs, format="parquet", partitioning="hive")
    oslo = hive.to_table(filter=ds.field("city") == "Oslo", columns=["id"])
    assert sorted(oslo["id"].to_pylist()) == df[df.city == "Oslo"]["id"].tolist()


def test_duckdb_reads_and_writes(root: Root) -> None:
    folder = root.path(_name("duck"))
    for part in range(2):
        frame(500, seed=part).assign(part=part).to_parquet(
            f"headwater://{folder}/in/part-{part}.parquet", storage_options=root.options
        )
    con = duckdb.connect()
    con.register_filesystem(root.fs)
    rows = con.execute(
        f"select count(*), count(distinct part) from read_parquet('headwater://{folder}/in/*.parquet')"
    ).fetchall()
    assert rows == [(1000, 2)]
    con.execute(
        f"copy (select city, count(*) as n from read_parquet('headwater://{folder}/in/*.parquet') group by city "
        f"order by city) to 'headwater://{folder}/out/by_city.parquet' (format parquet)"
    )
    out = pd.read_parquet(f"headwater://{folder}/out/by_city.parquet", storage_options=root.options)
    assert out["n"].sum() == 1000
    assert con.execute(f"select sum(n) from 'headwater://{folder}/out/by_city.parquet'").fetchall() == [(1000,)]
    con.close()


def test_a_parquet_column_read_transfers_a_fraction_of_the_file(root: Root) -> None:
    """Reading one of eight columns costs about an eighth of the file, counted by the hub."""
    rows, columns = 250_000, 8
    wide = pd.DataFrame({f"c{i}": np.random.default_rng(i).random(rows) for i in range(columns)})
    name = _name("wide") + ".parquet"
    wide.to_parquet(root.uri(name), storage_options=root.options, row_group_size=50_000)
    size = root.fs.size(root.path(name))
    column, reads = served(
        root, lambda: pd.read_parquet(root.uri(name), columns=["c3"], storage_options=root.options), name
    )
    pd.testing.assert_series_equal(column["c3"], wide["c3"])
    transferred = sum(reads)
    print(
        f"\n{root.base.split('/')[0]}: read 1 of {columns} columns: {transferred:,} of {size:,} bytes "
        f"({transferred / size:.1%}) in {len(reads)} ranged GETs"
    )
    assert 0 < transferred < size / 4, (transferred, size)
    whole, full_reads = served(root, lambda: pd.read_parquet(root.uri(name), storage_options=root.options), name)
    pd.testing.assert_frame_equal(whole, wide)
    assert sum(full_reads) < size * 1.1  # the whole file is read about once, not block after block again


def test_a_sequential_read_fetches_each_byte_once(root: Root) -> None:
    """A CSV parser reading on and on gets a growing read-ahead, and no byte twice."""
    df = frame(200_000, seed=3)
    name = _name("long") + ".csv"
    df.to_csv(root.uri(name), index=False, storage_options=root.options)
    size = root.fs.size(root.path(name))
    back, reads = served(root, lambda: pd.read_csv(root.uri(name), storage_options=root.options), name)
    assert len(back) == len(df)
    assert sum(reads) == size
    assert len(reads) < 20, reads
