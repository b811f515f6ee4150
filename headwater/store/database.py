"""The engine, sessions and migrations of the metadata store."""

from __future__ import annotations

import fcntl
import functools
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, CursorResult, Engine, Result, create_engine, event, text
from sqlalchemy import exc as sa_exc
from sqlalchemy.orm import Session, sessionmaker

from headwater.errors import StoreUnavailable
from headwater.store import stamps

MIGRATIONS = Path(__file__).parent / "migrations"
POOL_RECYCLE = 300  # seconds a store connection is kept before it is replaced
MIGRATION_LOCK = 0x48574D4947524154  # the PostgreSQL advisory lock key every hub migrates under ("HWMIGRAT")


def normalise_url(url: str) -> str:
    """Route plain `postgresql://` URLs to psycopg 3, the driver we ship."""
    if url.startswith(("postgresql://", "postgres://")):
        return "postgresql+psycopg://" + url.split("://", 1)[1]
    return url


def rows_changed(result: Result[Any]) -> int:
    """How many rows an UPDATE or DELETE changed. Executing one returns a CursorResult, typed only as a Result."""
    if not isinstance(result, CursorResult):
        raise TypeError(f"expected the result of an UPDATE or DELETE, got {type(result).__name__}")
    return int(result.rowcount or 0)


def unavailable(exc: BaseException) -> bool:
    """Whether a store error means the store cannot be reached or used now (down, restarting, a dropped
    connection, a pool with none free, SQLite's file locked or unreadable), not a fault of the code."""
    if isinstance(exc, (sa_exc.DisconnectionError, sa_exc.TimeoutError)):
        return True
    if not isinstance(exc, sa_exc.DBAPIError):
        return False
    if exc.connection_invalidated:
        return True
    if not isinstance(exc, (sa_exc.OperationalError, sa_exc.InterfaceError)):
        return False
    if type(exc.orig).__module__.startswith("sqlite3"):  # SQLite says "no such table" with the same class
        text = str(exc.orig).lower()
        return any(sign in text for sign in ("locked", "busy", "unable to open", "disk i/o", "readonly"))
    return True  # a server's driver: an OperationalError is the connection or the server failing


@contextmanager
def store_errors() -> Iterator[None]:
    """Turn the store's failures to answer into `StoreUnavailable` (503: the caller may retry). Its message
    never quotes the driver's, which may carry SQL and its parameters."""
    try:
        yield
    except sa_exc.SQLAlchemyError as exc:
        if unavailable(exc):
            raise StoreUnavailable("the hub's store is unavailable right now: try again shortly") from exc
        raise


def make_engine(url: str) -> Engine:
    url = normalise_url(url)
    # Enough connections that every request thread can hold one: a request waiting for a
    # connection while another holds SQLite's write lock must never starve the thread pool.
    # No pre-ping on every checkout (a `SELECT 1` per session): connections are recycled before
    # servers or middleboxes drop idle ones, and a connection found dead is discarded by the pool.
    kwargs: dict[str, Any] = {"pool_recycle": POOL_RECYCLE, "pool_size": 20, "max_overflow": 80, "pool_timeout": 60}
    if url.startswith("sqlite"):
        kwargs["connect_args"] = {"check_same_thread": False, "timeout": 30}
    engine = create_engine(url, **kwargs)
    if url.startswith("sqlite"):

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA busy_timeout=30000")
            cur.execute("PRAGMA synchronous=NORMAL")  # WAL: durable across crashes of the hub, fast commits
            cur.close()

    return engine


def _config() -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    return config


@functools.cache
def head_revisions() -> frozenset[str]:
    """The revisions this code's migrations end at (read once per process)."""
    return frozenset(ScriptDirectory.from_config(_config()).get_heads())


def at_head(engine: Engine) -> bool:
    """Whether the store behind `engine` has every migration of this code applied (and no later one)."""
    with engine.connect() as connection:
        return frozenset(MigrationContext.configure(connection).get_current_heads()) == head_revisions()


@contextmanager
def _file_lock(database: str | None) -> Iterator[None]:
    """An exclusive lock beside a SQLite database file, held by one process at a time (none in memory)."""
    if not database or database == ":memory:":
        yield
        return
    fd = os.open(f"{database}.migrate.lock", os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)  # released when the file is closed, or when its process dies
        yield
    finally:
        os.close(fd)


def migrate(engine: Engine) -> None:
    """Apply every Alembic migration to the store behind `engine`.

    Several processes may call this at once (replicas starting together on an empty store): one
    applies the migrations while the others wait, then find nothing left to do. On PostgreSQL the
    wait is a transaction-level advisory lock taken in the upgrade's own transaction (released by
    its commit, or by the server if the process dies); on SQLite, a file lock beside the database.
    """
    config = _config()
    with _file_lock(engine.url.database if engine.dialect.name == "sqlite" else None), engine.begin() as connection:
        if engine.dialect.name == "postgresql":
            connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": MIGRATION_LOCK})
        config.attributes["connection"] = connection
        command.upgrade(config, "head")


class Store:
    """The metadata store of one hub: an engine and its session factory."""

    def __init__(self, url: str) -> None:
        self.url = normalise_url(url)
        if self.url.startswith("sqlite:///"):
            Path(self.url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
        self.engine = make_engine(self.url)
        self.sessions = sessionmaker(self.engine, expire_on_commit=False)
        stamps.install(self.sessions)

    def migrate(self) -> None:
        migrate(self.engine)

    def at_head(self) -> bool:
        """Whether every migration of this code is applied; raises when the store cannot be reached."""
        return at_head(self.engine)

    def ping(self) -> bool:
        try:
            with self.engine.connect() as conn:
                conn.execute(text("SELECT 1"))
            return True
        except Exception:
            return False

    @contextmanager
    def session(self) -> Iterator[Session]:
        """A session that commits when the block succeeds and rolls back when it raises
        (`StoreUnavailable` when the store cannot answer)."""
        with store_errors():
            session = self.sessions()
            try:
                yield session
                session.commit()
            except BaseException:
                session.rollback()
                raise
            finally:
                session.close()

    @contextmanager
    def connection(self) -> Iterator[Connection]:
        """A plain connection (no ORM session) for a read on a hot path (`StoreUnavailable` when the store
        cannot answer)."""
        with store_errors(), self.engine.connect() as connection:
            yield connection

    def dispose(self) -> None:
        self.engine.dispose()
