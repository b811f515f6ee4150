"""How CLI commands open the hub's store directly: they say which store, and never create one by accident.

A command run with another folder's or user's settings used to create a new empty store and
print a token the running hub rejects. Now every command that opens a store prints its data dir
and database (never a password) on stderr, and only `serve`, or a command given `--init`,
creates a store that is not there.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from sqlalchemy import create_engine, inspect
from sqlalchemy.engine import make_url
from sqlalchemy.exc import SQLAlchemyError

from headwater.cli.output import fail, note
from headwater.settings import Settings
from headwater.store.database import normalise_url

if TYPE_CHECKING:
    from headwater.services.hub import Hub

MARKER_TABLE = "alembic_version"  # written by the first migration: a store that has it was made by a hub


def describe(settings: Settings) -> str:
    """The store as a person should see it: the data dir, and the database URL without its password."""
    url = make_url(normalise_url(settings.database_url))
    if url.get_backend_name() == "sqlite":
        return f"{settings.data_dir} (SQLite {url.database})"
    return f"{settings.data_dir} (database {url.render_as_string(hide_password=True)})"


def store_exists(settings: Settings) -> bool:
    """Whether a hub has made a store here: its database has the migrations table (SQLite: without creating the file)."""
    url = make_url(normalise_url(settings.database_url))
    if url.get_backend_name() == "sqlite":
        from pathlib import Path

        if not url.database or not Path(url.database).is_file():
            return False
    engine = create_engine(url)
    try:
        with engine.connect() as connection:
            return inspect(connection).has_table(MARKER_TABLE)
    except SQLAlchemyError as exc:
        fail(f"cannot open the store {describe(settings)}: {type(getattr(exc, 'orig', None) or exc).__name__}")
    finally:
        engine.dispose()


def open_hub(settings: Settings, *, init: bool = False) -> Hub:
    """The hub on an existing store (or a new one with `init`), after saying on stderr which store it is."""
    from headwater.services.hub import Hub

    exists = store_exists(settings)
    if not exists and not init:
        fail(
            f"no hub store at {describe(settings)}: set HEADWATER_DATA_DIR (and HEADWATER_DATABASE_URL) "
            "to the running hub's, or pass --init to create a new store"
        )
    if exists and not settings.master_key and not settings.master_key_file.is_file():
        fail(
            f"the store {describe(settings)} exists but its master key file {settings.master_key_file} does not: "
            "set HEADWATER_MASTER_KEY or HEADWATER_DATA_DIR to the hub's"
        )
    note(f"{'Using the store' if exists else 'Creating a new store'} in {describe(settings)}")
    return Hub.open(settings)
