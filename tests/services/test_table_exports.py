"""Staged table exports' bookkeeping in the hub's storage: the exporters' lock and the retention purge."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

from headwater.connectors.storage import Storage
from headwater.services import table_exports
from tests.connectors.test_storage import storage, storage_bucket  # noqa: F401 - the folder and object-store storages

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
