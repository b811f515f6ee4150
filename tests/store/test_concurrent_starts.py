"""Replicas starting at once on an empty store: one applies the migrations, the others wait, all come up."""

from __future__ import annotations

import multiprocessing
from collections.abc import Iterator
from multiprocessing.queues import Queue
from multiprocessing.synchronize import Barrier
from pathlib import Path

import pytest

from headwater.services.hub import Hub
from headwater.settings import Settings
from headwater.store.database import Store
from tests.fixtures import postgres

REPLICAS = 3
MASTER_KEY = "zVyMpepGNcZGCO7UeBbuh9EfGfBIN401MQ-pvBKLdd4="  # URL-safe base64 of 32 bytes, the same on every replica


def start_replica(database_url: str, data_dir: str, barrier: Barrier, outcomes: Queue) -> None:
    """One replica's start: wait for the others, then open the hub (migrations included) and close it."""
    settings = Settings.from_env({"HEADWATER_DATABASE_URL": database_url, "HEADWATER_DATA_DIR": data_dir, "HEADWATER_MASTER_KEY": MASTER_KEY})
    barrier.wait(timeout=60)
    try:
        hub = Hub.open(settings)
    except Exception as exc:
        outcomes.put(f"failed: {type(exc).__name__}: {str(exc)[:300]}")
        return
    try:
        outcomes.put("ready" if hub.store.at_head() else "behind")
    finally:
        hub.close()


def start_at_once(database_url: str, data_dirs: list[Path]) -> list[str]:
    """Start one process per data dir on `database_url`, released together; what each reported."""
    context = multiprocessing.get_context("spawn")  # separate interpreters, as replicas are
    barrier, outcomes = context.Barrier(len(data_dirs)), context.Queue()
    processes = [context.Process(target=start_replica, args=(database_url, str(d), barrier, outcomes)) for d in data_dirs]
    for process in processes:
        process.start()
    try:
        return sorted(outcomes.get(timeout=120) for _ in processes)
    finally:
        for process in processes:
            process.join(timeout=30)


@pytest.fixture
def empty_postgres() -> Iterator[str]:
    name = postgres.create_database()
    try:
        yield postgres.url_of(name)
    finally:
        postgres.drop_database(name)


def test_three_replicas_started_at_once_on_an_empty_postgresql_database_all_come_up(empty_postgres: str, tmp_path: Path) -> None:
    outcomes = start_at_once(empty_postgres, [tmp_path / f"replica-{i}" for i in range(REPLICAS)])
    assert outcomes == ["ready"] * REPLICAS
    store = Store(empty_postgres)
    try:
        assert store.at_head()
    finally:
        store.dispose()


def test_three_processes_started_at_once_on_one_new_sqlite_store_all_come_up(tmp_path: Path) -> None:
    outcomes = start_at_once(f"sqlite:///{tmp_path / 'shared' / 'headwater.db'}", [tmp_path / f"replica-{i}" for i in range(REPLICAS)])
    assert outcomes == ["ready"] * REPLICAS


def test_a_store_without_migrations_is_not_at_head(tmp_path: Path) -> None:
    store = Store(f"sqlite:///{tmp_path / 'new.db'}")
    try:
        assert not store.at_head()
        store.migrate()
        assert store.at_head()
    finally:
        store.dispose()
