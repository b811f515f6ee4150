"""The `postgres` kind: a PostgreSQL database as schemas of tables, with psycopg 3 (and ADBC for Parquet).

Tables stream through a named (server-side) cursor, CSV through `COPY ... TO STDOUT`, Parquet
through ADBC's binary COPY into Arrow batches (`postgres_arrow`);
loads use `COPY ... FROM STDIN` in one transaction. Every connection is checked
against endpoint safety and pinned to the checked address (`hostaddr`).
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from typing import Any, ClassVar, Literal

import psycopg
from psycopg import sql
from psycopg.types.string import TextLoader
from pydantic import Field

from headwater.connectors import endpoints
from headwater.connectors.base import Connector, Credentials
from headwater.connectors.databases import postgres_arrow
from headwater.connectors.databases.base import (
    AMBIENT_CREDENTIALS,
    DatabaseConnector,
    DatabaseParams,
    Table,
    check_read_only,
    gather,
)
from headwater.connectors.databases.columns import Column
from headwater.connectors.databases.formats import BATCH_ROWS, Decoder, ParquetEncoder, encode_all
from headwater.connectors.databases.sqltypes import safe_recorded_type, type_for
from headwater.connectors.kind import BuildContext, Kind
from headwater.errors import (
    Conflict,
    HeadwaterError,
    InvalidInput,
    NotFound,
    PermissionDenied,
    UpstreamAuthFailed,
    UpstreamError,
    UpstreamPermissionDenied,
    UpstreamTimeout,
    UpstreamTLSError,
    UpstreamUnavailable,
)
from headwater.settings import environment_values

DIALECT = "postgres"
TEXT_TYPES = frozenset({"text", "varchar", "bpchar", "name", "char", "citext"})
KIND_OF = {
    "bool": "bool",
    "int2": "int16",
    "int4": "int32",
    "int8": "int64",
    "oid": "int64",
    "float4": "float32",
    "float8": "float64",
    "numeric": "decimal",
    "bytea": "binary",
    "date": "date",
    "time": "time",
    "timestamp": "timestamp",
    "timestamptz": "timestamptz",
    "json": "json",
    "jsonb": "json",
    "uuid": "uuid",
    **dict.fromkeys(TEXT_TYPES, "string"),
}
#: Types read as their text form (faithful, and what the formats write anyway).
TEXT_LOADED = ("json", "jsonb", "uuid", "interval", "inet", "cidr", "timetz", "money", "macaddr")
MAX_IDENTIFIER = 63
#: What a cursor can be declared for; anything else is refused before it reaches the server.
READ_ONLY_VERBS = frozenset({"select", "with", "values", "table"})
#: Never the hub's own ~/.pgpass: a path that cannot exist (its parent is not a directory).
NO_PASSFILE = os.path.join(os.devnull, "headwater-no-pgpass")
#: Set on a driver session after connecting, so that no PG* variable of the hub's decides them.
SESSION_SETUP = ("SET TimeZone TO 'UTC'", "SET DateStyle TO 'ISO, YMD'")
_COPY_WHERE = re.compile(r"line (\d+)(?:, column ([^:]+))?")


class PostgresParams(DatabaseParams):
    """A PostgreSQL database. User and password come from a `database` secret (accessKey = user)."""

    port: int = Field(default=5432, ge=1, le=65535)
    schema_: str = Field(
        default="public",
        alias="schema",
        description="The schema the check verifies access to.",
        min_length=1,
        max_length=63,
    )
    sslmode: Literal["disable", "allow", "prefer", "require", "verify-ca", "verify-full"] = Field(
        default="prefer", description="libpq's sslmode: 'require' refuses a server without TLS."
    )


def _kind(typname: str | None) -> str:
    return KIND_OF.get(typname or "", "string")


def column_of(name: str, sqltype: str, typname: str, elem: str | None, typmod: int, nullable: bool) -> Column:
    if elem is not None:
        return Column(name, "list", sqltype, nullable, item=Column("item", _kind(elem), elem))
    precision = scale = None
    if typname == "numeric" and typmod >= 4:
        precision, scale = ((typmod - 4) >> 16) & 0xFFFF, (typmod - 4) & 0xFFFF
    return Column(name, _kind(typname), sqltype, nullable, precision=precision, scale=scale)


def select_expr(column: Column, typname: str | None = None) -> sql.Composable:
    """A column as the export selects it: types without a faithful Python form are cast to text."""
    ident = sql.Identifier(column.name)
    if column.kind == "string" and not column.sqltype.startswith(("text", "character", "name", "citext", '"char"')):
        return sql.SQL("{}::text").format(ident)
    if (
        column.kind == "list"
        and column.item is not None
        and column.item.kind == "string"
        and column.item.sqltype not in TEXT_TYPES
    ):
        return sql.SQL("{}::text[]").format(ident)
    return ident


def _server_text(exc: psycopg.Error) -> str:
    primary = exc.diag.message_primary if exc.diag else None
    if primary:
        return primary
    text = str(exc).strip()
    if "failed: " in text:
        text = text.rsplit("failed: ", 1)[1]
    return re.sub(r"^(FATAL|ERROR):\s+", "", text).split("\n")[0].strip()


class PostgresConnector(DatabaseConnector):
    kind: ClassVar[str] = "postgres"
    dialect: ClassVar[str] = DIALECT

    # ---- connections ------------------------------------------------------------------------

    def settings(self, *, read_only: bool = False) -> dict[str, Any]:
        """libpq's connection settings: the checked address, the source's own identity, never the hub's."""
        if not self.user:
            raise InvalidInput("no database user: bind a secret of type 'database' whose accessKey is the user")
        if not self.password and any(environment_values(AMBIENT_CREDENTIALS).values()):
            # libpq would fall back to the hub's own PGPASSWORD (or service file): never the hub's identity.
            raise InvalidInput("the data source has no password, and the hub never lends it its own")
        p = self.params
        address = endpoints.check_host(p.host, p.port, allow_private=self.allow_private)[0]
        options = "-c TimeZone=UTC -c DateStyle=ISO,YMD" + (" -c default_transaction_read_only=on" if read_only else "")
        return {
            "host": p.host,
            "hostaddr": str(address),
            "port": p.port,
            "dbname": p.database,
            "user": self.user,
            "password": self.password,
            "sslmode": p.sslmode,
            "connect_timeout": max(2, p.connect_timeout),
            "application_name": "headwater",
            "passfile": NO_PASSFILE,
            "gssencmode": "disable",
            "options": options,
        }

    def connect(self, *, purpose: str) -> psycopg.Connection[Any]:
        conn = psycopg.connect(**self.settings(), autocommit=purpose in {"check", "meta"})
        for name in TEXT_LOADED:
            conn.adapters.register_loader(name, TextLoader)
        return conn

    def export_connection(self, fmt: str) -> Any:
        """Parquet through ADBC (binary COPY into Arrow), in read-only transactions; the rest through psycopg."""
        if fmt == "parquet":
            # libpq sends PGTZ and PGDATESTYLE after `options`: the session's own settings come last.
            return postgres_arrow.connect(self.settings(read_only=True), SESSION_SETUP)
        return self.connect(purpose="read")

    def abort(self, conn: Any) -> None:
        if isinstance(conn, postgres_arrow.ArrowSession):
            conn.cancel()
        else:
            conn.cancel_safe(timeout=2)  # so that leaving a COPY does not read the rest of the table

    def close_connection(self, conn: Any) -> None:
        try:
            conn.close()
        except Exception:  # pragma: no cover - closing a broken connection
            pass

    def classify(self, exc: BaseException) -> HeadwaterError | None:
        where = f"PostgreSQL at {self.params.host}:{self.params.port}"
        if isinstance(exc, psycopg.errors.ConnectionTimeout):
            return UpstreamTimeout(f"{where} did not answer within {self.params.connect_timeout} s")
        if isinstance(exc, postgres_arrow.ArrowStreamError):
            return self._classified(
                where, "" if exc.connecting else exc.sqlstate or _stream_state(exc.text), exc.text, None
            )
        if not isinstance(exc, psycopg.Error):
            return None
        return self._classified(where, exc.sqlstate or "", _server_text(exc), exc.diag.context if exc.diag else None)

    def _classified(self, where: str, state: str, text: str, context: str | None) -> HeadwaterError:
        lowered = text.lower()
        if not state:  # failed while connecting: only the message tells why
            if "password authentication failed" in lowered or ("role" in lowered and "does not exist" in lowered):
                return UpstreamAuthFailed(f"{where} refused the credentials: {text}")
            if "no pg_hba.conf entry" in lowered and "no encryption" in lowered:
                return UpstreamTLSError(f"{where} requires TLS: {text}")
            if "ssl" in lowered or "certificate" in lowered:
                return UpstreamTLSError(f"{where}: TLS failed: {text}")
            if "no pg_hba.conf entry" in lowered:
                return UpstreamAuthFailed(f"{where} does not admit this user from the hub: {text}")
            if "does not exist" in lowered and "database" in lowered:
                return NotFound(f"{where}: {text}")
            if "permission denied" in lowered:
                return UpstreamPermissionDenied(f"{where}: {text}")
            if "timeout" in lowered or "timed out" in lowered:
                return UpstreamTimeout(f"{where}: {text}")
            return UpstreamUnavailable(f"{where} is unreachable: {text}")
        located = _COPY_WHERE.search(context or "")
        if located:
            column = f", column {located.group(2).strip()}" if located.group(2) else ""
            text = f"line {located.group(1)}{column}: {text}"
        if state.startswith("28"):
            return UpstreamAuthFailed(f"{where} refused the credentials: {text}")
        if state == "3D000":
            return NotFound(f"{where}: {text}")
        if state == "3F000":
            return NotFound(f"{where}: {text}")
        if state == "42501":
            return UpstreamPermissionDenied(f"{where}: {text}")
        if state == "42P07":
            return Conflict(f"{where}: {text}")
        if state == "25006":
            return PermissionDenied(f"queries run read-only: {text}")
        if state == "57014":
            return UpstreamTimeout(f"{where}: the statement ran past its time limit: {text}")
        if state.startswith(("22", "23", "42", "0A", "21", "2F", "P0")):
            return InvalidInput(text)
        if state.startswith(("08", "53", "57")):
            return UpstreamUnavailable(f"{where}: {text}")
        return UpstreamError(f"{where}: {text}")

    def probe(self, conn: Any, write: bool) -> None:
        schema = self.params.schema_
        row = conn.execute(
            "SELECT has_schema_privilege(%(s)s, 'USAGE'), has_schema_privilege(%(s)s, 'CREATE'),"
            " EXISTS (SELECT 1 FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
            "  WHERE n.nspname = %(s)s AND c.relkind IN ('r', 'p') AND has_table_privilege(c.oid, 'INSERT')),"
            " pg_is_in_recovery(), current_setting('default_transaction_read_only')",
            {"s": schema},
        ).fetchone()
        usage, create, insert, replica, read_only = row
        if not usage:
            raise UpstreamPermissionDenied(f"user {self.user!r} has no USAGE privilege on schema {schema!r}")
        if write:
            if replica or read_only == "on":
                raise UpstreamPermissionDenied("the server only accepts reads (a replica, or read-only by default)")
            if not (create or insert):
                raise UpstreamPermissionDenied(
                    f"user {self.user!r} can neither create tables in schema {schema!r} nor insert into any of its tables"
                )

    # ---- catalog ----------------------------------------------------------------------------

    def schemas(self, conn: Any) -> list[str]:
        rows = conn.execute(
            "SELECT nspname FROM pg_namespace WHERE nspname NOT IN ('pg_catalog', 'information_schema', 'pg_toast')"
            " AND nspname NOT LIKE 'pg\\_temp\\_%' AND nspname NOT LIKE 'pg\\_toast\\_temp\\_%'"
            " AND has_schema_privilege(oid, 'USAGE') ORDER BY nspname"
        ).fetchall()
        return [r[0] for r in rows]

    _RELATIONS = (
        "SELECT c.oid, c.relname, c.relkind, c.reltuples::bigint FROM pg_class c"
        " JOIN pg_namespace n ON n.oid = c.relnamespace"
        " WHERE n.nspname = %s AND c.relkind IN ('r', 'p', 'v', 'm', 'f')"
        " AND (has_table_privilege(c.oid, 'SELECT') OR has_table_privilege(c.oid, 'INSERT'))"
    )

    @staticmethod
    def _table_of(schema: str, row: tuple[Any, ...], columns: list[Column]) -> Table:
        _, name, relkind, tuples = row
        is_table = relkind in ("r", "p")
        estimate = int(tuples) if tuples is not None and tuples >= 0 and relkind != "v" else None
        return Table(schema, name, "table" if is_table else "view", estimate, columns, writable=is_table)

    def tables(self, conn: Any, schema: str) -> list[Table]:
        rows = conn.execute(self._RELATIONS + " ORDER BY c.relname", (schema,)).fetchall()
        return [self._table_of(schema, r, []) for r in rows]

    def table(self, conn: Any, schema: str, name: str) -> Table | None:
        row = conn.execute(self._RELATIONS + " AND c.relname = %s", (schema, name)).fetchone()
        if row is None:
            return None
        cols = conn.execute(
            "SELECT a.attname, format_type(a.atttypid, a.atttypmod), t.typname, et.typname, a.atttypmod, NOT a.attnotnull"
            " FROM pg_attribute a JOIN pg_type t ON t.oid = a.atttypid"
            " LEFT JOIN pg_type et ON et.oid = t.typelem AND t.typcategory = 'A'"
            " WHERE a.attrelid = %s AND a.attnum > 0 AND NOT a.attisdropped ORDER BY a.attnum",
            (row[0],),
        ).fetchall()
        return self._table_of(schema, row, [column_of(*c) for c in cols])

    # ---- reading ----------------------------------------------------------------------------

    def _select(self, table: Table, columns: list[Column], limit: int | None, cast: bool) -> sql.Composed:
        exprs = [select_expr(c) if cast else sql.Identifier(c.name) for c in columns]
        query = sql.SQL("SELECT {} FROM {}.{}").format(
            sql.SQL(", ").join(exprs) if exprs else sql.SQL(""),
            sql.Identifier(table.schema),
            sql.Identifier(table.name),
        )
        if limit is not None:
            query = sql.SQL("{} LIMIT {}").format(query, sql.Literal(limit))
        return query

    def export(self, conn: Any, table: Table, columns: list[Column], limit: int | None, fmt: str) -> Iterator[bytes]:
        if isinstance(conn, postgres_arrow.ArrowSession):
            statement, lists = postgres_arrow.query(table.schema, table.name, columns, limit)
            encoder = ParquetEncoder(columns, DIALECT, metadata={postgres_arrow.WRITER_KEY: postgres_arrow.WRITER})
            return postgres_arrow.parquet(conn, statement, lists, columns, encoder)
        conn.read_only = True
        if fmt == "csv":
            return self._copy_out(conn, self._select(table, columns, limit, cast=False))
        return encode_all(
            fmt, columns, DIALECT, self._fetch(conn, self._select(table, columns, limit, cast=True), None)
        )

    def _copy_out(self, conn: Any, query: sql.Composed) -> Iterator[bytes]:
        statement = sql.SQL("COPY ({}) TO STDOUT WITH (FORMAT csv, HEADER true)").format(query)

        def chunks() -> Iterator[bytes]:
            with conn.cursor() as cur, cur.copy(statement) as copy:
                yield from copy

        return gather(chunks())

    @staticmethod
    def _fetch(
        conn: Any, query: sql.Composable | str, limit: int | None, cursor_name: str = "headwater_export"
    ) -> Iterator[list[tuple[Any, ...]]]:
        with conn.cursor(name=cursor_name) as cur:
            cur.execute(query)
            sent = 0
            while limit is None or sent < limit:
                want = BATCH_ROWS if limit is None else min(BATCH_ROWS, limit - sent)
                rows = cur.fetchmany(want)
                if not rows:
                    break
                sent += len(rows)
                yield rows

    def run_query(self, conn: Any, sql_text: str, fmt: str, limit: int | None, timeout: int) -> Iterator[bytes]:
        # One statement (a server-side cursor declares exactly one) in a READ ONLY transaction, never committed.
        conn.read_only = True
        with conn.cursor() as cur:
            cur.execute(sql.SQL("SET LOCAL statement_timeout = {}").format(sql.Literal(f"{timeout * 1000}ms")))
        cur = conn.cursor(name="headwater_query")
        cur.execute(check_read_only(sql_text, READ_ONLY_VERBS))
        description = cur.description or []
        if not description:
            raise InvalidInput("the statement returns no rows to stream")
        oids = [d.type_code for d in description]
        types = {
            r[0]: (r[1], r[2])
            for r in conn.execute(
                "SELECT t.oid, t.typname, et.typname FROM pg_type t"
                " LEFT JOIN pg_type et ON et.oid = t.typelem AND t.typcategory = 'A' WHERE t.oid = ANY(%s)",
                (oids,),
            ).fetchall()
        }
        columns: list[Column] = []
        for d in description:
            typname, elem = types.get(d.type_code, ("text", None))
            typmod = ((d.precision << 16) + d.scale + 4) if typname == "numeric" and d.precision else -1
            columns.append(column_of(d.name, typname if elem is None else f"{elem}[]", typname, elem, typmod, True))
        loose = [i for i, c in enumerate(columns) if c.kind == "string"]

        def batches() -> Iterator[list[tuple[Any, ...]]]:
            sent = 0
            try:
                while limit is None or sent < limit:
                    rows = cur.fetchmany(BATCH_ROWS if limit is None else min(BATCH_ROWS, limit - sent))
                    if not rows:
                        return
                    sent += len(rows)
                    if loose:
                        rows = [_texts(row, loose) for row in rows]
                    yield rows
            finally:
                try:
                    cur.close()
                finally:
                    _roll_back(conn)

        return encode_all(fmt, columns, DIALECT, batches())

    # ---- loading ----------------------------------------------------------------------------

    def _new_table(self, conn: Any, schema: str, name: str, decoder: Decoder) -> list[Column]:
        if len(name.encode()) > MAX_IDENTIFIER or any(len(n.encode()) > MAX_IDENTIFIER for n in decoder.names):
            raise InvalidInput(
                f"PostgreSQL names are at most {MAX_IDENTIFIER} bytes: shorten the table or column names"
            )
        columns = decoder.infer()
        origins: dict[str, str | None] = getattr(decoder, "origins", dict)()
        defs = [
            sql.SQL("{} {}").format(
                sql.Identifier(c.name),
                sql.SQL(safe_recorded_type(DIALECT, origins.get(c.name)) or type_for(DIALECT, c)),
            )
            for c in columns
        ]
        conn.execute(
            sql.SQL("CREATE TABLE {}.{} ({})").format(
                sql.Identifier(schema), sql.Identifier(name), sql.SQL(", ").join(defs)
            )
        )
        created = self.table(conn, schema, name)
        assert created is not None
        return created.columns

    def load(self, conn: Any, schema: str, name: str, table: Table | None, decoder: Decoder, fmt: str) -> None:
        with conn.transaction():
            known = self._new_table(conn, schema, name, decoder) if table is None else table.columns
            by_name = {c.name: c for c in known}
            missing = [n for n in decoder.names if n not in by_name]
            if missing:
                raise InvalidInput(
                    f"the file's column(s) {', '.join(repr(m) for m in missing)} are not in {schema}/{name}"
                )
            columns = [by_name[n] for n in decoder.names]
            target = sql.SQL("{}.{} ({})").format(
                sql.Identifier(schema),
                sql.Identifier(name),
                sql.SQL(", ").join(sql.Identifier(c.name) for c in columns),
            )
            with conn.cursor() as cur:
                if fmt == "csv":
                    with cur.copy(sql.SQL("COPY {} FROM STDIN WITH (FORMAT csv, HEADER true)").format(target)) as copy:
                        for chunk in decoder.raw_chunks():  # type: ignore[attr-defined]
                            copy.write(chunk)
                else:
                    self._copy_rows(cur, target, columns, decoder)

    @staticmethod
    def _copy_rows(cur: Any, target: sql.Composable, columns: list[Column], decoder: Decoder) -> None:
        try:
            with cur.copy(sql.SQL("COPY {} FROM STDIN").format(target)) as copy:
                for rows in decoder.batches(columns):
                    for row in rows:
                        copy.write_row(row)
        except psycopg.Error as exc:
            context = exc.diag.context if exc.diag else None
            located = _COPY_WHERE.search(context or "")
            if located is None:
                raise
            column = f", column {located.group(2).strip()}" if located.group(2) else ""
            where = decoder.where(int(located.group(1)))
            raise InvalidInput(f"{where}{column}: {_server_text(exc)}") from None


def _texts(row: tuple[Any, ...], indexes: list[int]) -> tuple[Any, ...]:
    values = list(row)
    for i in indexes:
        if values[i] is not None and not isinstance(values[i], str):
            values[i] = str(values[i])
    return tuple(values)


def build(params: PostgresParams, credentials: Credentials | None, ctx: BuildContext) -> Connector:
    spool = ctx.data_dir / "spool" if ctx.data_dir else None
    return PostgresConnector(params, credentials, allow_private=ctx.allow_private_endpoints, spool_dir=spool)


KIND = Kind(
    name="postgres",
    title="PostgreSQL",
    description="A PostgreSQL database: schemas as folders, tables as CSV, JSON lines or Parquet files; queries.",
    params=PostgresParams,
    capabilities=PostgresConnector.capabilities,
    build=build,
    credentials="optional",
    secret_types=("database",),
    aliases=("postgresql",),
)


def _stream_state(text: str) -> str:
    """A SQLSTATE for a driver failure mid-stream that carried none: a lost connection, or a server error."""
    lowered = text.lower()
    return "08006" if "connection" in lowered or "terminating" in lowered or "shutdown" in lowered else "XX000"


def _roll_back(conn: Any) -> None:
    """End a query's read-only transaction; a connection already broken is closed next anyway."""
    try:
        conn.rollback()
    except Exception:
        pass
