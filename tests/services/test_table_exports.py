"""Staged table exports in the hub's storage (a folder and an object store): one export serves sizes, ranges
and listings; concurrent readers share it; the exporters' lock; the retention purge."""

from __future__ import annotations

import asyncio
import io
import json
import uuid
from datetime import UTC, datetime, timedelta

import pyarrow.parquet as pq
import pytest

from headwater import policy
from headwater.addresses import Address
from headwater.connectors.base import Entry, Opened, Span
from headwater.connectors.storage import Storage
from headwater.connectors.synthetic import SyntheticColumn, SyntheticConnector, SyntheticDataset, SyntheticParams
from headwater.errors import NotFound
from headwater.services import data, table_exports
from tests.connectors.test_storage import storage, storage_bucket  # noqa: F401 - the folder and object-store storages
from tests.fixtures.loops import run_coroutine

LOCK = "tables/org1/src1/v1/abc.parquet.lock"


def test_one_exporter_takes_the_lock_until_it_lapses(storage: Storage) -> None:
    assert table_exports.take_lock(storage, LOCK)
    assert not table_exports.take_lock(storage, LOCK)
    lapsed = (datetime.now(UTC) - timedelta(seconds=1)).isoformat()
    storage.write_small(LOCK, json.dumps({"until": lapsed}).encode())  # its holder died
    assert table_exports.take_lock(storage, LOCK)
    assert not table_exports.take_lock(storage, LOCK)
    storage.delete([LOCK])
    assert table_exports.take_lock(storage, LOCK)


def test_the_retention_purge_drops_old_copies_and_locks_only(storage: Storage) -> None:
    copy = "tables/org1/src1/v1/abc.parquet"
    storage.write_small(copy, b"PAR1...PAR1")
    storage.write_small(LOCK, b"{}")
    storage.write_small("hosted/org1/coll/keep.txt", b"kept")
    assert table_exports.purge(storage) == 0
    later = datetime.now(UTC) + table_exports.PURGE_AFTER + timedelta(minutes=1)
    assert table_exports.purge(storage, later) == 2
    assert [s.key for s in storage.walk("tables")] == []
    assert storage.read_small("hosted/org1/coll/keep.txt") == b"kept"


def stager(storage: Storage, ttl: float = 60.0) -> table_exports.Stager:
    return table_exports.Stager(storage, ttl, 64 * 1024)


def synthetic(path: str, rows: int = 20_000) -> data.Target:
    """A synthetic connection's target, read-only, as the data service opens it for a source `src-...`."""
    columns = [SyntheticColumn(name="id", type="int"), SyntheticColumn(name="who", type="name")]
    connector = SyntheticConnector(SyntheticParams(datasets={"people": SyntheticDataset(rows=rows, columns=columns)}))
    rights = policy.Rights(access=policy.Access.READ, writable=False)
    return data.Target(
        Address("synthetic", "gen", path),
        connector,
        rights,
        root="",
        source_id=f"src-{uuid.uuid4().hex}",
        source_version=1,
    )


async def read_all(opened: Opened) -> bytes:
    try:
        return b"".join([chunk async for chunk in opened.chunks])
    finally:
        await opened.aclose()


def test_one_export_serves_sizes_ranges_and_listings(storage: Storage) -> None:
    target = synthetic("people.parquet")
    staging = stager(storage)

    async def scenario() -> tuple[Entry, bytes, bytes, list[Entry]]:
        entry = await table_exports.stat(staging, "org1", target)
        tail = await read_all(await table_exports.open_file(staging, "org1", target, Span(suffix=8)))
        whole = await read_all(await table_exports.open_file(staging, "org1", target))
        listed = await table_exports.sized(
            staging, "org1", target, [("people.parquet", Entry("people.parquet", False))]
        )
        return entry, tail, whole, listed

    entry, tail, whole, listed = run_coroutine(scenario())
    assert entry.size == len(whole) and tail == whole[-8:] and tail.endswith(b"PAR1")
    assert pq.read_table(io.BytesIO(whole)).num_rows == 20_000
    assert (listed[0].size, listed[0].etag) == (entry.size, entry.etag) and entry.name == "people.parquet"
    assert table_exports.EXPORTS[(target.source_id or "", "people.parquet")] == 1


def test_concurrent_first_readers_share_one_export_and_a_zero_ttl_shares_none(storage: Storage) -> None:
    target = synthetic("people.csv")

    async def readers(ttl: float) -> set[int | None]:
        entries = await asyncio.gather(*(table_exports.stat(stager(storage, ttl), "org1", target) for _ in range(5)))
        return {e.size for e in entries}

    assert len(run_coroutine(readers(60.0))) == 1
    assert table_exports.EXPORTS[(target.source_id or "", "people.csv")] == 1
    run_coroutine(table_exports.stat(stager(storage, 0.0), "org1", target))
    assert table_exports.EXPORTS[(target.source_id or "", "people.csv")] == 2


def test_a_failed_export_leaves_no_copy_and_no_lock(storage: Storage) -> None:
    target = synthetic("nobody.parquet")
    with pytest.raises(NotFound):
        run_coroutine(table_exports.stat(stager(storage), "org1", target))
    assert [s.key for s in storage.walk("tables")] == []


def test_copies_are_purged_after_an_hour_or_twice_a_longer_ttl(storage: Storage) -> None:
    assert stager(storage, 60.0).purge_after == table_exports.PURGE_AFTER
    assert stager(storage, 7200.0).purge_after == timedelta(hours=4)
