"""What the database kinds share: paths as schemas and tables, streaming through threads, loads.

Layout of a database connection:

- `""` lists schemas (MySQL: databases) as folders;
- `schema` lists each table and view as three files, `table.csv`, `table.jsonl` and
  `table.parquet`, each streaming the whole table;
- `schema/table` (no extension) is a small JSON file describing the table: its
  columns, their types, and the planner's row estimate (`stat` has the same in
  `Entry.extra`);
- `PUT schema/table.csv|.jsonl|.parquet` appends the file to the table (creating it
  from the file's columns if it does not exist) in one transaction.

Reads take two options: `columns` (comma-separated names) and `limit`. Identifiers
only ever come from the catalog and are quoted by the driver's own means; no SQL is
made from a path. Blocking driver calls run in worker threads, one batch at a time.
"""

from __future__ import annotations

import json
import re
from abc import abstractmethod
from collections.abc import AsyncGenerator, AsyncIterable, AsyncIterator, Iterator, Mapping
from contextlib import aclosing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar, Literal

import anyio
import anyio.lowlevel
from pydantic import Field, field_validator

from headwater.connectors.base import (
    PAGE_SIZE,
    Capabilities,
    Connector,
    Credentials,
    Entry,
    Listing,
    Params,
    decode_marker,
    encode_marker,
)
from headwater.connectors.blocking import bridge
from headwater.connectors.databases.columns import Column
from headwater.connectors.databases.formats import CONTENT_TYPES, FORMATS, Decoder, check_format
from headwater.connectors.databases.formats import decoder as open_decoder
from headwater.errors import HeadwaterError, InvalidInput, NotFound, NotSupported, PermissionDenied

READ_CHUNK = 256 * 1024
MAX_LIMIT = 10**12
HOST_PATTERN = r"^[A-Za-z0-9._:\[\]%-]{1,253}$"

#: Credentials that database drivers would otherwise pick up from the hub's own environment.
AMBIENT_CREDENTIALS = (
    "PGPASSWORD",
    "PGPASSFILE",
    "PGUSER",
    "PGSERVICE",
    "PGSERVICEFILE",
    "PGSSLKEY",
    "PGSSLCERT",
    "MYSQL_PWD",
)


class DatabaseParams(Params):
    """Where the database is; the user and password come from a secret (secretType `database`)."""

    host: str = Field(description="Host name or IP address of the server (TCP only).", pattern=HOST_PATTERN)
    database: str = Field(description="The database to connect to.", min_length=1, max_length=128)
    user: str | None = Field(
        default=None, description="The user, if the secret does not give it as its accessKey.", max_length=128
    )
    connect_timeout: int = Field(
        default=5, ge=1, le=60, description="Seconds to wait for the server to answer a connection."
    )
    query_timeout: int = Field(default=60, ge=1, le=3600, description="Seconds a query (POST .../-/query) may run.")

    @field_validator("host")
    @classmethod
    def _no_socket(cls, value: str) -> str:
        if value.startswith(("/", "@")) or "," in value:
            raise ValueError("give one TCP host name or address (no socket path, no list)")
        return value


@dataclass(frozen=True)
class Table:
    """A table or view as the catalog describes it."""

    schema: str
    name: str
    type: str  # "table" or "view"
    rows_estimate: int | None
    columns: list[Column] = field(default_factory=list)
    writable: bool = True

    def describe(self) -> dict[str, Any]:
        return {
            "schema": self.schema,
            "table": self.name,
            "type": self.type,
            "rowsEstimate": self.rows_estimate,
            "columns": [c.describe() for c in self.columns],
            "files": [f"{self.name}.{fmt}" for fmt in FORMATS],
        }


@dataclass(frozen=True)
class Place:
    """A parsed path: the root, a schema, or a table (with a format, or None for its description)."""

    schema: str | None = None
    table: str | None = None
    fmt: str | None = None


def split_name(name: str) -> tuple[str, str | None]:
    stem, dot, ext = name.rpartition(".")
    if dot and stem and ext in FORMATS:
        return stem, ext
    return name, None


def parse_place(path: str) -> Place:
    if not path:
        return Place()
    parts = path.split("/")
    if len(parts) == 1:
        return Place(parts[0])
    if len(parts) == 2:
        table, fmt = split_name(parts[1])
        return Place(parts[0], table, fmt)
    raise NotFound(f"{path!r} does not exist: paths are SCHEMA/TABLE.csv|.jsonl|.parquet")


def read_options(options: Mapping[str, str] | None) -> tuple[list[str] | None, int | None]:
    """The `columns` and `limit` options, validated for form (names are checked against the catalog)."""
    options = options or {}
    columns = None
    if options.get("columns"):
        columns = [c.strip() for c in options["columns"].split(",") if c.strip()]
        if not columns:
            raise InvalidInput("columns: give comma-separated column names")
    limit = None
    if options.get("limit") not in (None, ""):
        try:
            limit = int(options["limit"])
        except ValueError:
            raise InvalidInput("limit: give a whole number of rows") from None
        if not 0 <= limit <= MAX_LIMIT:
            raise InvalidInput(f"limit: must be between 0 and {MAX_LIMIT}")
    return columns, limit


_LEADING_NOISE = re.compile(r"^(\s+|\(|--[^\n]*\n?|#[^\n]*\n?|/\*.*?\*/)+", re.S)


def check_read_only(sql_text: str, verbs: frozenset[str]) -> str:
    """The statement without its trailing `;`, if it starts with a reading verb; else `PermissionDenied`."""
    text = sql_text.strip().rstrip(";").strip()
    first = _LEADING_NOISE.sub("", text).split(None, 1)
    if not first or first[0].lower().split("(")[0] not in verbs:
        shown = ", ".join(sorted(v.upper() for v in verbs))
        raise PermissionDenied(f"queries run read-only: give one statement starting with {shown}")
    return text


def pick_columns(table: Table, names: list[str] | None) -> list[Column]:
    if names is None:
        return list(table.columns)
    by_name = {c.name: c for c in table.columns}
    missing = [n for n in names if n not in by_name]
    if missing:
        raise InvalidInput(f"columns: {', '.join(repr(m) for m in missing)} not in {table.schema}.{table.name}")
    return [by_name[n] for n in names]


def file_entry(table: Table, fmt: str | None) -> Entry:
    extra = table.describe()
    if fmt is None:
        return Entry(name=table.name, is_dir=False, size=None, content_type="application/json", extra=extra)
    return Entry(name=f"{table.name}.{fmt}", is_dir=False, size=None, content_type=CONTENT_TYPES[fmt], extra=extra)


def gather(chunks: Iterator[bytes], size: int = READ_CHUNK) -> Iterator[bytes]:
    """Coalesce small chunks (a row each, from COPY) into ones of about `size` bytes."""
    parts: list[bytes] = []
    held = 0
    for chunk in chunks:
        parts.append(bytes(chunk))
        held += len(chunk)
        if held >= size:
            yield b"".join(parts)
            parts, held = [], 0
    if parts:
        yield b"".join(parts)


async def stream_thread(make: Any, *args: Any) -> AsyncGenerator[bytes, None]:
    """Run `make(*args)` (returning a sync iterator of bytes) in a thread and relay its chunks."""
    iterator: Iterator[bytes] = await anyio.to_thread.run_sync(make, *args)
    try:
        while True:
            chunk = await anyio.to_thread.run_sync(next, iterator, None)
            if chunk is None:
                return
            yield chunk
    finally:
        close = getattr(iterator, "close", None)
        if close is not None:
            with anyio.CancelScope(shield=True):
                await anyio.to_thread.run_sync(close)


class DatabaseConnector(Connector):
    """A database as directories of tables; subclasses supply the dialect."""

    capabilities: ClassVar[Capabilities] = Capabilities(input=True, output=True, queries=True)
    read_options: ClassVar[frozenset[str]] = frozenset({"columns", "limit"})
    #: Its metadata connection is one driver connection, not safe for concurrent requests: built per request.
    reusable: ClassVar[bool] = False
    dialect: ClassVar[str]

    def __init__(
        self,
        params: Any,
        credentials: Credentials | None,
        *,
        allow_private: bool = False,
        spool_dir: Path | None = None,
    ) -> None:
        self.params = params
        self.user = (credentials.access_key if credentials else None) or params.user
        self.password = (credentials.secret_key if credentials else None) or None
        self.allow_private = allow_private
        self.spool_dir = spool_dir
        self._conn: Any = None

    # ---- dialect hooks (blocking; called in worker threads) -------------------------------

    @abstractmethod
    def connect(self, *, purpose: Literal["check", "meta", "read", "write", "query"]) -> Any:
        """A new driver connection; driver errors are classified by `classify`."""

    @abstractmethod
    def classify(self, exc: BaseException) -> HeadwaterError | None:
        """The typed error for a driver exception (None if it is not the driver's)."""

    @abstractmethod
    def probe(self, conn: Any, write: bool) -> None:
        """The checks after connecting: a trivial query, and with `write` the right to load."""

    @abstractmethod
    def schemas(self, conn: Any) -> list[str]: ...

    @abstractmethod
    def tables(self, conn: Any, schema: str) -> list[Table]:
        """The tables and views of a schema (without columns)."""

    @abstractmethod
    def table(self, conn: Any, schema: str, name: str) -> Table | None:
        """One table with its columns, or None."""

    @abstractmethod
    def export(self, conn: Any, table: Table, columns: list[Column], limit: int | None, fmt: str) -> Iterator[bytes]:
        """Stream a table in a format through a server-side cursor."""

    @abstractmethod
    def run_query(self, conn: Any, sql: str, fmt: str, limit: int | None, timeout: int) -> Iterator[bytes]:
        """Stream the result of one read-only statement."""

    @abstractmethod
    def load(self, conn: Any, schema: str, name: str, table: Table | None, decoder: Decoder, fmt: str) -> None:
        """Append (creating the table if `table` is None) in one transaction; nothing stays on failure."""

    @abstractmethod
    def close_connection(self, conn: Any) -> None: ...

    def export_connection(self, fmt: str) -> Any:
        """The connection an export in `fmt` runs on (a dialect may use a different driver per format)."""
        return self.connect(purpose="read")

    # ---- plumbing --------------------------------------------------------------------------

    def redact(self, text: str) -> str:
        if self.password:
            text = text.replace(self.password, "***")
        return text

    def guard(self, exc: BaseException) -> BaseException:
        """The error to raise for `exc`: typed errors pass, driver errors are classified, the rest wrapped."""
        if isinstance(exc, HeadwaterError):
            return exc
        typed = self.classify(exc)
        if typed is not None:
            typed.message = self.redact(typed.message)
            typed.args = (typed.message,)
            return typed
        return exc

    def _call(self, fn: Any, *args: Any) -> Any:
        try:
            return fn(*args)
        except Exception as exc:
            error = self.guard(exc)
            if error is exc:
                raise
            raise error from None

    def _meta(self) -> Any:
        if self._conn is None:
            self._conn = self.connect(purpose="meta")
        return self._conn

    async def _run(self, fn: Any, *args: Any) -> Any:
        return await anyio.to_thread.run_sync(self._call, fn, *args)

    def abort(self, conn: Any) -> None:
        """Stop whatever the connection is running (a reader went away); closing follows."""

    def _guarded(self, iterator: Iterator[bytes], conn: Any) -> Iterator[bytes]:
        finished = False
        try:
            yield from iterator
            finished = True
        except Exception as exc:
            error = self.guard(exc)
            if error is exc:
                raise
            raise error from None
        finally:
            if not finished:
                try:
                    self.abort(conn)
                except Exception:
                    pass
            close = getattr(iterator, "close", None)
            try:
                if close is not None:
                    close()
            except Exception:
                pass
            self.close_connection(conn)

    def _find(self, schema: str, name: str) -> Table:
        conn = self._meta()
        found = self.table(conn, schema, name)
        if found is None:
            if schema not in self.schemas(conn):
                raise NotFound(f"schema {schema!r} does not exist")
            raise NotFound(f"table {schema}/{name} does not exist")
        return found

    def _resolve(self, place: Place) -> tuple[Table, str | None]:
        """A table path to its table and format; `t.csv` is the CSV of `t` unless only a table `t.csv` exists."""
        assert place.schema is not None and place.table is not None
        conn = self._meta()
        if place.fmt is not None:
            found = self.table(conn, place.schema, place.table)
            if found is not None:
                return found, place.fmt
            whole = self.table(conn, place.schema, f"{place.table}.{place.fmt}")
            if whole is not None:
                return whole, None
        return self._find(place.schema, place.table), place.fmt

    # ---- the Connector interface -----------------------------------------------------------

    async def check(self, *, write: bool = False) -> None:
        def run() -> None:
            conn = self.connect(purpose="check")
            try:
                self.probe(conn, write)
            finally:
                self.close_connection(conn)

        await self._run(run)

    async def stat(self, path: str) -> Entry:
        place = parse_place(path)

        def run() -> Entry:
            if place.schema is None:
                return Entry(name="", is_dir=True)
            if place.table is None:
                if place.schema not in self.schemas(self._meta()):
                    raise NotFound(f"schema {place.schema!r} does not exist")
                return Entry(name=place.schema, is_dir=True)
            found, fmt = self._resolve(place)
            return file_entry(found, fmt)

        return await self._run(run)

    async def list(self, path: str, marker: str | None = None, limit: int = PAGE_SIZE) -> Listing:
        place = parse_place(path)
        after = decode_marker(marker)
        if place.table is not None:
            raise InvalidInput(f"{path!r} is a table, not a directory: read {path}.csv, .jsonl or .parquet")

        def run() -> Listing:
            conn = self._meta()
            if place.schema is None:
                names = sorted(s for s in self.schemas(conn) if "/" not in s)
                shown = [n for n in names if after is None or n > after]
                return Listing(
                    [Entry(name=n, is_dir=True) for n in shown[:limit]],
                    [],
                    encode_marker(shown[limit - 1]) if len(shown) > limit else None,
                )
            if place.schema not in self.schemas(conn):
                raise NotFound(f"schema {place.schema!r} does not exist")
            files = sorted(
                (file_entry(t, fmt) for t in self.tables(conn, place.schema) if "/" not in t.name for fmt in FORMATS),
                key=lambda e: e.name,
            )
            page = [e for e in files if after is None or e.name > after]
            rest = len(page) > limit
            page = page[:limit]
            return Listing([], page, encode_marker(page[-1].name) if rest else None)

        return await self._run(run)

    async def read(
        self, path: str, start: int | None = None, end: int | None = None, *, options: Mapping[str, str] | None = None
    ) -> AsyncIterator[bytes]:
        if start or end is not None:
            raise InvalidInput("tables are generated as they are read: byte ranges are not supported")
        place = parse_place(path)
        if place.table is None:
            raise InvalidInput(f"{path or '/'!r} is a directory")
        names, limit = read_options(options)

        def open_stream() -> Iterator[bytes]:
            found, fmt = self._resolve(place)
            if fmt is None:
                return iter([json.dumps(found.describe(), indent=2).encode() + b"\n"])
            columns = pick_columns(found, names)
            conn = self.export_connection(fmt)
            try:
                return self._guarded(self.export(conn, found, columns, limit, fmt), conn)
            except BaseException:
                self.close_connection(conn)
                raise

        async with aclosing(stream_thread(self._call, open_stream)) as chunks:
            async for chunk in chunks:
                yield chunk

    async def query(self, sql: str, fmt: str, limit: int | None = None) -> AsyncGenerator[bytes, None]:
        """Stream the result of one read-only statement, bounded by the source's query timeout."""
        check_format(fmt)
        if not sql.strip():
            raise InvalidInput("sql: give a statement")

        def open_stream() -> Iterator[bytes]:
            conn = self.connect(purpose="query")
            try:
                return self._guarded(self.run_query(conn, sql, fmt, limit, self.params.query_timeout), conn)
            except BaseException:
                self.close_connection(conn)
                raise

        async with aclosing(stream_thread(self._call, open_stream)) as chunks:
            async for chunk in chunks:
                yield chunk

    async def write(self, path: str, chunks: AsyncIterable[bytes], size_hint: int | None = None) -> Entry:
        place = parse_place(path)
        if place.table is None or place.fmt is None:
            raise InvalidInput("write a table as SCHEMA/TABLE.csv, .jsonl or .parquet")
        schema, name, fmt = place.schema, place.table, place.fmt
        assert schema is not None
        token = anyio.lowlevel.current_token()

        def run() -> None:
            meta = self._meta()
            if schema not in self.schemas(meta):
                raise NotFound(f"schema {schema!r} does not exist")
            existing = self.table(meta, schema, name)
            if existing is not None and not existing.writable:
                raise NotSupported(f"{schema}/{name} is a {existing.type}: it cannot be loaded into")
            source = open_decoder(fmt, bridge(chunks, token), self.spool_dir)
            conn = self.connect(purpose="write")
            try:
                self.load(conn, schema, name, existing, source, fmt)
            finally:
                source.close()
                self.close_connection(conn)

        await self._run(run)
        return await self.stat(path)

    async def close(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            with anyio.CancelScope(shield=True):
                await anyio.to_thread.run_sync(self.close_connection, conn)
