"""The store's failures as callers see them: a store that cannot answer is `StoreUnavailable` (503, retry),
a fault of the code stays the driver's own error, and no message quotes the driver's."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy import exc as sa_exc

from headwater.errors import StoreUnavailable
from headwater.store.database import Store, store_errors
from tests.fixtures.network import free_port


def test_a_server_store_that_refuses_connections_is_unavailable() -> None:
    store = Store(f"postgresql://postgres@127.0.0.1:{free_port()}/nothing")
    try:
        with pytest.raises(StoreUnavailable) as raised, store.session() as session:
            session.execute(text("SELECT 1"))
        assert "127.0.0.1" not in raised.value.message  # the driver's words stay in the log's cause, not the answer
        with pytest.raises(StoreUnavailable), store.connection() as connection:
            connection.execute(text("SELECT 1"))
    finally:
        store.dispose()


def test_a_locked_sqlite_file_is_unavailable(tmp_path: Path) -> None:
    path = tmp_path / "hub.db"
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("BEGIN EXCLUSIVE")
    engine = create_engine(f"sqlite:///{path}", connect_args={"timeout": 0.05})
    try:
        with pytest.raises(StoreUnavailable), store_errors(), engine.begin() as connection:
            connection.execute(text("CREATE TABLE t (x INTEGER)"))
    finally:
        holder.rollback()
        holder.close()
        engine.dispose()


def test_a_missing_table_is_a_fault_of_the_code_not_an_unavailable_store(tmp_path: Path) -> None:
    store = Store(f"sqlite:///{tmp_path / 'hub.db'}")
    try:
        with pytest.raises(sa_exc.OperationalError, match="no such table"), store.session() as session:
            session.execute(text("SELECT * FROM nowhere"))
    finally:
        store.dispose()
