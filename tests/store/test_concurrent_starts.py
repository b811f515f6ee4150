"""Replicas starting at once on an empty store: one applies the migrations, the others wait, all come up."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from headwater.api.app import prepare
from headwater.services.hub import Hub
from headwater.settings import Settings
from headwater.store.database import Store
from tests.fixtures import postgres

REPLICAS = 3
BOOTSTRAP_TOKEN = "hw_replicas-share-this-bootstrap-token"
MASTER_KEY = "zVyMpepGNcZGCO7UeBbuh9EfGfBIN401MQ-pvBKLdd4="  # URL-safe base64 of 32 bytes, the same on every replica


def start_replica(database_url: str, data_dir: Path, barrier: threading.Barrier) -> str:
    """One replica's start as `serve` does it: wait for the others, open the hub (migrations), prepare it
    (the bootstrap token every replica is given, the audit purge); what it found."""
    settings = Settings.from_env(
        {
            "HEADWATER_DATABASE_URL": database_url,
            "HEADWATER_DATA_DIR": str(data_dir),
            "HEADWATER_MASTER_KEY": MASTER_KEY,
            "HEADWATER_BOOTSTRAP_TOKEN": BOOTSTRAP_TOKEN,
        }
    )
    barrier.wait(timeout=60)
    try:
        hub = Hub.open(settings)
        prepare(hub)
    except Exception as exc:
        return f"failed: {type(exc).__name__}: {str(exc)[:300]}"
    try:
        return "ready" if hub.store.at_head() else "behind"
    finally:
        hub.close()


def start_at_once(database_url: str, data_dirs: list[Path]) -> list[str]:
    """Start one hub per data dir on `database_url`, each with its own engine and connections (as a
    replica has), released together; what each found. (Threads: each interpreter of a process per
    replica would cost seconds of imports on a loaded machine, and the locks are per connection or
    per open file, never per process.)"""
    barrier = threading.Barrier(len(data_dirs))
    with ThreadPoolExecutor(len(data_dirs)) as pool:
        return list(pool.map(lambda d: start_replica(database_url, d, barrier), data_dirs))


@pytest.fixture
def empty_postgres() -> Iterator[str]:
    name = postgres.create_database()
    try:
        yield postgres.url_of(name)
    finally:
        postgres.drop_database(name)


def test_three_replicas_started_at_once_on_an_empty_postgresql_database_all_come_up(
    empty_postgres: str, tmp_path: Path
) -> None:
    outcomes = start_at_once(empty_postgres, [tmp_path / f"replica-{i}" for i in range(REPLICAS)])
    assert outcomes == ["ready"] * REPLICAS
    store = Store(empty_postgres)
    try:
        assert store.at_head()
    finally:
        store.dispose()


def test_three_hubs_started_at_once_on_one_new_sqlite_store_all_come_up(tmp_path: Path) -> None:
    outcomes = start_at_once(
        f"sqlite:///{tmp_path / 'shared' / 'headwater.db'}", [tmp_path / f"replica-{i}" for i in range(REPLICAS)]
    )
    assert outcomes == ["ready"] * REPLICAS


def test_a_store_without_migrations_is_not_at_head(tmp_path: Path) -> None:
    store = Store(f"sqlite:///{tmp_path / 'new.db'}")
    try:
        assert not store.at_head()
        store.migrate()
        assert store.at_head()
    finally:
        store.dispose()
