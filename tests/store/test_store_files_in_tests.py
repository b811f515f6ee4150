"""The suite's own guard: a test that opens a SQLite store's file with Python is stopped (see `store_files`)."""

from pathlib import Path

import pytest

from tests.fixtures.store_files import StoreFileOpened, is_store_file


def test_opening_a_store_file_from_a_test_is_refused_naming_the_file(tmp_path: Path) -> None:
    store = tmp_path / "headwater.db-shm"
    with pytest.raises(StoreFileOpened, match=r"headwater\.db-shm"):
        store.write_bytes(b"")
    assert not store.exists()


@pytest.mark.parametrize("name", ["headwater.db", "headwater.db-wal", "headwater.db-shm", "x.sqlite", "y.sqlite3"])
def test_databases_and_their_companions_are_store_files(name: str) -> None:
    assert is_store_file(Path("/data") / name)


@pytest.mark.parametrize("name", ["headwater.db.migrate.lock", "master.key", "table.dbf", "notes.txt"])
def test_other_files_are_not_store_files(name: str) -> None:
    assert not is_store_file(Path("/data") / name)
