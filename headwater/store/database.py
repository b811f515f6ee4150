"""The engine, sessions and migrations of the metadata store."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from sqlalchemy import CursorResult, Engine, Result, create_engine, event, text
from sqlalchemy.orm import Session, sessionmaker

from headwater.store import stamps

MIGRATIONS = Path(__file__).parent / "migrations"
POOL_RECYCLE = 300  # seconds a store connection is kept before it is replaced


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


def migrate(engine: Engine) -> None:
    """Apply every Alembic migration to the store behind `engine`."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    with engine.begin() as connection:
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

    def ping(self) -> bool:
        try:
            with self.engine.connect() as conn:
                conn.execute(text("SELECT 1"))
            return True
        except Exception:
            return False

    @contextmanager
    def session(self) -> Iterator[Session]:
        """A session that commits when the block succeeds and rolls back when it raises."""
        session = self.sessions()
        try:
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            raise
        finally:
            session.close()

    def dispose(self) -> None:
        self.engine.dispose()
