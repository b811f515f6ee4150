"""PostgreSQL tables to Parquet through ADBC: `COPY ... (FORMAT binary)` straight into Arrow batches.

The driver (`adbc-driver-postgresql`, libpq inside) decodes the binary COPY stream into Arrow
record batches of bounded size; each batch is brought to the hub's own column schema (the same
Arrow types and field metadata as every other export) and handed to the streamed Parquet writer,
so nothing holds more than a batch and a row group. Where the driver's Arrow type is not the
hub's, the query asks the server for a form that is (text for uuid, numerics and arrays of
them, bigint for oid), and multidimensional arrays are refused as before rather than flattened.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote, urlencode

import pyarrow as pa
import pyarrow.compute as pc
from psycopg import sql

from headwater.connectors.databases.columns import Column
from headwater.connectors.databases.formats import ParquetEncoder, conform_array
from headwater.errors import InvalidInput

#: The driver's batch size target: a batch is the unit of memory between the socket and the writer.
BATCH_BYTES = 8 * 1024 * 1024
#: Written on every Parquet file this path makes (file metadata), so that readers and tests can tell.
WRITER_KEY = b"headwater.writer"
WRITER = b"adbc-postgresql"
#: PostgreSQL's earliest date and timestamp (4713 BC), in days and microseconds since 1970: below is ±infinity.
_FLOORS = {"date": -2440588, "timestamp": -210866803200000000, "timestamptz": -210866803200000000}
_SERVER_LINE = re.compile(r"(?:ERROR|FATAL):\s+(.*)")
_SQLSTATE = re.compile(r"SQLSTATE: ([0-9A-Z]{5})")


class ArrowStreamError(Exception):
    """A failure reported by the driver, with the server's SQLSTATE when it gave one and its message."""

    def __init__(self, text: str, sqlstate: str | None, connecting: bool) -> None:
        super().__init__(text)
        self.text = text
        self.sqlstate = sqlstate
        self.connecting = connecting


def server_text(message: str) -> str:
    """The server's (or libpq's) own sentence from a driver message, without the driver's framing."""
    found = _SERVER_LINE.search(message)
    if found:
        return found.group(1).strip()
    text = message.split("Failed to connect: ", 1)[-1]
    text = re.sub(r"^connection to server at [^,]+, port \d+ failed:\s*", "", text.strip())
    return text.split("\n")[0].strip() or message.strip()


def _failure(exc: BaseException, connecting: bool = False) -> ArrowStreamError:
    message = str(exc)
    state = getattr(exc, "sqlstate", None) or None
    if state is None:
        found = _SQLSTATE.search(message)
        state = found.group(1) if found else None
    return ArrowStreamError(server_text(message), state, connecting)


def uri(settings: Mapping[str, Any]) -> str:
    """A libpq URI with every setting as a query parameter (so none falls back to a PG* variable)."""
    return "postgresql://?" + urlencode({k: str(v) for k, v in settings.items() if v is not None}, quote_via=quote)


@dataclass
class ArrowSession:
    """One driver connection and the statement running on it."""

    conn: Any
    cursor: Any = None
    reader: Any = None
    started: list[bool] = field(default_factory=list)

    def cancel(self) -> None:
        if self.cursor is not None:
            self.cursor.adbc_cancel()

    def close(self) -> None:
        for part in (self.reader, self.cursor, self.conn):
            if part is None:
                continue
            try:
                part.close()
            except Exception:  # a broken connection closes anyway
                pass
        self.reader = self.cursor = None


def connect(settings: Mapping[str, Any], setup: tuple[str, ...] = ()) -> ArrowSession:
    """A driver connection running `setup` first; statements run in autocommit, read-only by `settings`' options.

    The driver is imported on first use: it holds about 50 MiB that a hub without PostgreSQL
    Parquet exports need not carry.
    """
    import adbc_driver_manager
    import adbc_driver_postgresql.dbapi as adbc_pg

    try:
        session = ArrowSession(adbc_pg.connect(uri(settings), autocommit=True))
    except (adbc_driver_manager.Error, OSError) as exc:
        raise _failure(exc, connecting=True) from None
    try:
        cursor = session.conn.cursor()
        try:
            for statement in setup:
                cursor.execute(statement)
        finally:
            cursor.close()
    except (adbc_driver_manager.Error, OSError) as exc:
        session.close()
        raise _failure(exc) from None
    except BaseException:
        session.close()
        raise
    return session


def _reader(handle: Any) -> pa.RecordBatchReader:
    """The result stream as batches; the driver manager's own reader, when present, keeps the server's SQLSTATE."""
    try:
        from adbc_driver_manager._reader import AdbcRecordBatchReader
    except ImportError:  # pragma: no cover - a driver manager without it: errors lose their SQLSTATE only
        return pa.RecordBatchReader._import_from_c(handle.address)
    return AdbcRecordBatchReader._import_from_c(handle.address)


def select_expr(column: Column) -> sql.Composable:
    """A column as the driver should read it to land on the hub's Arrow type."""
    ident = sql.Identifier(column.name)
    kind = column.kind
    if kind == "string" and not column.sqltype.startswith(("text", "character", "name", "citext", '"char"')):
        return sql.SQL("{}::text").format(ident)
    if kind in {"uuid", "decimal"}:  # uuid as its text; numerics as the server writes them (exact, NaN as NaN)
        return sql.SQL("{}::text").format(ident)
    if kind == "int64" and column.sqltype == "oid":
        return sql.SQL("{}::bigint").format(ident)
    if kind == "list":
        item = column.item or Column("item", "string")
        if item.kind in {"string", "uuid", "decimal", "json"} and item.sqltype not in {
            "text",
            "varchar",
            "bpchar",
            "name",
        }:
            return sql.SQL("{}::text[]").format(ident)
    return ident


def query(schema: str, table: str, columns: list[Column], limit: int | None) -> tuple[str, list[int]]:
    """The SELECT for an export, and the positions of the guard columns (one per list column)."""
    exprs = [select_expr(c) for c in columns]
    lists = [i for i, c in enumerate(columns) if c.kind == "list"]
    exprs += [sql.SQL("array_ndims({})").format(sql.Identifier(columns[i].name)) for i in lists]
    text = sql.SQL("SELECT {} FROM {}.{}").format(
        sql.SQL(", ").join(exprs), sql.Identifier(schema), sql.Identifier(table)
    )
    if limit is not None:
        text = sql.SQL("{} LIMIT {}").format(text, sql.Literal(limit))
    return text.as_string(None), lists


def _check_finite(array: pa.Array, column: Column) -> None:
    """Refuse `infinity` dates and timestamps, which the driver turns into far-off wrong values."""
    kind = column.kind
    if kind == "list" and column.item is not None:
        _check_finite(pc.list_flatten(array), column.item)
        return
    floor = _FLOORS.get(kind)
    if floor is None or len(array) == 0:
        return
    lowest = pc.min(array.cast(pa.int32() if kind == "date" else pa.int64())).as_py()
    if lowest is not None and lowest < floor:
        raise InvalidInput(f"column {column.name!r} holds a value its file type cannot: infinity")


def _check_dimensions(batch: pa.RecordBatch, width: int, lists: list[int], columns: list[Column]) -> None:
    for n, i in enumerate(lists):
        deepest = pc.max(batch.column(width + n)).as_py()
        if deepest is not None and deepest > 1:
            raise InvalidInput(
                f"column {columns[i].name!r} holds a value its file type cannot: a {deepest}-dimensional array (Parquet lists have one)"
            )


def parquet(
    session: ArrowSession, statement: str, lists: list[int], columns: list[Column], encoder: ParquetEncoder
) -> Iterator[bytes]:
    """Run `statement` and stream its rows as one Parquet file, a batch at a time."""
    import adbc_driver_manager
    import adbc_driver_postgresql

    schema = encoder.schema
    width = len(columns)
    finite = [i for i, c in enumerate(columns) if _dated(c)]
    try:
        session.cursor = session.conn.cursor()
        session.cursor.adbc_statement.set_options(
            **{adbc_driver_postgresql.StatementOptions.BATCH_SIZE_HINT_BYTES.value: str(BATCH_BYTES)}
        )
        session.cursor.execute(statement)
        session.reader = _reader(session.cursor.fetch_arrow())
    except (adbc_driver_manager.Error, OSError) as exc:
        raise _failure(exc) from None
    while True:
        try:
            batch = session.reader.read_next_batch()
        except StopIteration:
            break
        except (adbc_driver_manager.Error, OSError, pa.ArrowException) as exc:
            raise _failure(exc) from None
        if lists:
            _check_dimensions(batch, width, lists, columns)
        for i in finite:
            _check_finite(batch.column(i), columns[i])
        arrays = [conform_array(batch.column(i), schema.field(i).type, columns[i]) for i in range(width)]
        data = encoder.encode_batch(pa.RecordBatch.from_arrays(arrays, schema=schema))
        if data:
            yield data
    tail = encoder.finish()
    if tail:
        yield tail


def _dated(column: Column) -> bool:
    if column.kind == "list" and column.item is not None:
        return _dated(column.item)
    return column.kind in _FLOORS
