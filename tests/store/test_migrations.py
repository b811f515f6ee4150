"""The metadata store: Alembic migrations apply on SQLite and PostgreSQL, and re-apply as a no-op."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import inspect

from headwater.store.database import Store, normalise_url
from tests.fixtures import postgres

TABLES = {
    "organizations",
    "users",
    "tokens",
    "secrets",
    "sources",
    "systems",
    "system_links",
    "collections",
    "access_keys",
    "alembic_version",
}


@pytest.fixture(params=["sqlite", "postgres"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    if request.param == "sqlite":
        yield Store(f"sqlite:///{tmp_path / 'meta.db'}")
        return
    name = postgres.create_database()
    store = Store(postgres.url_of(name))
    try:
        yield store
    finally:
        store.dispose()
        postgres.drop_database(name)


def test_migrations_create_every_table_and_are_idempotent(store: Store) -> None:
    store.migrate()
    store.migrate()
    assert set(inspect(store.engine).get_table_names()) >= TABLES
    assert store.ping()


def test_plain_postgresql_urls_use_psycopg() -> None:
    assert normalise_url("postgresql://u@h/db") == "postgresql+psycopg://u@h/db"
