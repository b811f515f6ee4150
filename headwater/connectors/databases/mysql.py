"""The `mysql` kind (MySQL and MariaDB): databases as folders of tables, with PyMySQL (and ConnectorX for Parquet).

Tables stream through an unbuffered server-side cursor (`SSCursor`); Parquet exports over an
unencrypted connection through ConnectorX's Arrow stream instead (`mysql_arrow`); loads are
multi-row INSERTs in one transaction (InnoDB), and a table the load created is
dropped again if the load fails (MySQL commits DDL implicitly).
"""

from __future__ import annotations

import re
import socket
import ssl
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any, ClassVar, Literal

import pymysql
import pymysql.cursors
from pydantic import Field
from pymysql.constants import FIELD_TYPE

from headwater.connectors import endpoints
from headwater.connectors.base import Connector, Credentials
from headwater.connectors.databases import mysql_arrow
from headwater.connectors.databases.base import DatabaseConnector, DatabaseParams, Table, check_read_only
from headwater.connectors.databases.columns import Column
from headwater.connectors.databases.formats import BATCH_ROWS, Decoder, ParquetEncoder, encode_all
from headwater.connectors.databases.mysql_statements import check_statement, reading_sql_mode
from headwater.connectors.databases.sqltypes import safe_recorded_type, type_for
from headwater.connectors.kind import BuildContext, Kind
from headwater.errors import (
    Conflict,
    HeadwaterError,
    InvalidInput,
    NotFound,
    NotSupported,
    PermissionDenied,
    UpstreamAuthFailed,
    UpstreamError,
    UpstreamPermissionDenied,
    UpstreamTimeout,
    UpstreamTLSError,
    UpstreamUnavailable,
)

DIALECT = "mysql"
SYSTEM_SCHEMAS = ("information_schema", "performance_schema", "mysql", "sys")
TRANSACTIONAL = frozenset({"innodb", "rocksdb", "tokudb", "ndbcluster"})
STRICT_MODE = "STRICT_ALL_TABLES,NO_ZERO_IN_DATE,NO_ZERO_DATE,ERROR_FOR_DIVISION_BY_ZERO,NO_ENGINE_SUBSTITUTION"
STREAM_READ_TIMEOUT = 600
INSERT_ROWS = 1000
INSERT_BYTES = 4 * 1024 * 1024
MAX_IDENTIFIER = 64
READ_ONLY_VERBS = frozenset({"select", "with", "values", "table", "show", "describe", "desc", "explain"})
_AT_ROW = re.compile(r"at row (\d+)")

_KINDS = {
    "tinyint": ("int8", "int16"),
    "smallint": ("int16", "int32"),
    "mediumint": ("int32", "int32"),
    "int": ("int32", "int64"),
    "integer": ("int32", "int64"),
    "bigint": ("int64", "uint64"),
    "year": ("int16", "int16"),
    "float": ("float32", "float32"),
    "double": ("float64", "float64"),
    "real": ("float64", "float64"),
    "decimal": ("decimal", "decimal"),
    "numeric": ("decimal", "decimal"),
    "date": ("date", "date"),
    "datetime": ("timestamp", "timestamp"),
    "timestamp": ("timestamptz", "timestamptz"),
    "json": ("json", "json"),
    "uuid": ("uuid", "uuid"),
    **dict.fromkeys(("binary", "varbinary", "tinyblob", "blob", "mediumblob", "longblob", "bit"), ("binary", "binary")),
    **dict.fromkeys(
        ("char", "varchar", "tinytext", "text", "mediumtext", "longtext", "enum", "set"), ("string", "string")
    ),
}
_FIELD_KINDS = {
    FIELD_TYPE.TINY: "int8",
    FIELD_TYPE.SHORT: "int16",
    FIELD_TYPE.INT24: "int32",
    FIELD_TYPE.LONG: "int32",
    FIELD_TYPE.LONGLONG: "int64",
    FIELD_TYPE.FLOAT: "float32",
    FIELD_TYPE.DOUBLE: "float64",
    FIELD_TYPE.YEAR: "int16",
    FIELD_TYPE.DATE: "date",
    FIELD_TYPE.NEWDATE: "date",
    FIELD_TYPE.DATETIME: "timestamp",
    FIELD_TYPE.TIMESTAMP: "timestamptz",
    FIELD_TYPE.JSON: "json",
    FIELD_TYPE.BIT: "binary",
    FIELD_TYPE.DECIMAL: "decimal",
    FIELD_TYPE.NEWDECIMAL: "decimal",
}
_WIDER = {"int8": "int16", "int16": "int32", "int32": "int64", "int64": "uint64"}


class MysqlParams(DatabaseParams):
    """A MySQL or MariaDB database. User and password come from a `database` secret (accessKey = user)."""

    port: int = Field(default=3306, ge=1, le=65535)
    ssl: Literal["disable", "prefer", "require", "verify-ca", "verify-full"] = Field(
        default="prefer", description="TLS: 'require' refuses a server without it; 'verify-*' check its certificate."
    )


def quote(name: str) -> str:
    """A MySQL identifier in backticks (backticks inside doubled)."""
    if "\x00" in name:
        raise InvalidInput("names may not contain NUL")
    return "`" + name.replace("`", "``") + "`"


def column_of(
    name: str, data_type: str, column_type: str, nullable: bool, precision: int | None, scale: int | None
) -> Column:
    signed, unsigned = _KINDS.get(data_type.lower(), ("string", "string"))
    kind = unsigned if "unsigned" in column_type.lower() else signed
    if kind == "decimal":
        return Column(name, kind, column_type, nullable, precision=precision, scale=scale)
    return Column(name, kind, column_type, nullable)


class _NamedContext(ssl.SSLContext):
    """A TLS context that verifies the configured host name while the socket goes to the checked address.

    PyMySQL names the server by the host it connected to; connecting by address keeps DNS
    from answering differently after the endpoint check, and this keeps verify-full checking
    the certificate against the name the source gives.
    """

    server_name: str = ""

    def wrap_socket(
        self,
        sock: socket.socket,
        server_side: bool = False,
        do_handshake_on_connect: bool = True,
        suppress_ragged_eofs: bool = True,
        server_hostname: str | bytes | None = None,
        session: ssl.SSLSession | None = None,
    ) -> ssl.SSLSocket:
        return super().wrap_socket(
            sock,
            server_side,
            do_handshake_on_connect,
            suppress_ragged_eofs,
            self.server_name or server_hostname,
            session,
        )


class MysqlConnector(DatabaseConnector):
    kind: ClassVar[str] = "mysql"
    dialect: ClassVar[str] = DIALECT

    # ---- connections ------------------------------------------------------------------------

    def _tls(self) -> ssl.SSLContext | None:
        mode = self.params.ssl
        if mode == "disable":
            return None
        if mode in {"verify-ca", "verify-full"}:
            named = _NamedContext(ssl.PROTOCOL_TLS_CLIENT)
            named.load_default_certs()
            named.server_name = self.params.host
            named.check_hostname = mode == "verify-full"
            return named
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
        return context

    def connect(self, *, purpose: str) -> Any:
        if not self.user:
            raise InvalidInput("no database user: bind a secret of type 'database' whose accessKey is the user")
        p = self.params
        address = endpoints.check_host(p.host, p.port, allow_private=self.allow_private)[0]
        tls = self._tls()
        settings: dict[str, Any] = {
            "host": str(address),  # the checked address: PyMySQL would resolve a name again
            "port": p.port,
            "user": self.user,
            "password": self.password or "",
            "database": p.database,
            "connect_timeout": p.connect_timeout,
            "read_timeout": p.connect_timeout,
            "write_timeout": p.connect_timeout,
            "charset": "utf8mb4",
            "autocommit": purpose in {"check", "meta"},
            "local_infile": False,
            "init_command": "SET time_zone = '+00:00'",
        }
        try:
            conn = pymysql.connect(**settings, ssl=tls) if tls else pymysql.connect(**settings, ssl_disabled=True)
        except pymysql.err.OperationalError as exc:
            if p.ssl != "prefer" or exc.args[0] != 2026:
                raise
            conn = pymysql.connect(**settings, ssl_disabled=True)  # 'prefer': the server has no TLS
        conn._read_timeout = p.query_timeout + 30 if purpose == "query" else STREAM_READ_TIMEOUT
        conn._write_timeout = STREAM_READ_TIMEOUT
        return conn

    def export_connection(self, fmt: str) -> Any:
        """Parquet through ConnectorX when the checked connection is unencrypted; the rest through PyMySQL."""
        conn = self.connect(purpose="read")
        if fmt != "parquet" or isinstance(conn._sock, ssl.SSLSocket):
            return conn
        p = self.params
        return mysql_arrow.ArrowSession(
            conn, mysql_arrow.url(conn.host, p.port, self.user or "", self.password or "", p.database)
        )

    def abort(self, conn: Any) -> None:
        if isinstance(conn, mysql_arrow.ArrowSession):
            conn.cancel()  # a dropped driver stream would go on reading the table

    def close_connection(self, conn: Any) -> None:
        try:
            conn.close()  # sends QUIT without draining an unread server-side result
        except Exception:
            pass

    def classify(self, exc: BaseException) -> HeadwaterError | None:
        if isinstance(exc, mysql_arrow.ArrowStreamError):
            if exc.code is None:
                return UpstreamError(f"MySQL at {self.params.host}:{self.params.port}: {exc.text}")
            error = pymysql.err.error_map.get(exc.code, pymysql.err.OperationalError)
            return self.classify(error(exc.code, exc.text))
        if not isinstance(exc, pymysql.err.Error):
            return None
        where = f"MySQL at {self.params.host}:{self.params.port}"
        code = exc.args[0] if exc.args and isinstance(exc.args[0], int) else 0
        text = str(exc.args[1]) if len(exc.args) > 1 else str(exc)
        lowered = text.lower()
        if code in {1045, 1698, 1251}:
            return UpstreamAuthFailed(f"{where} refused the credentials: {text}")
        if code == 1049:
            return NotFound(f"{where}: {text}")
        if code in {1044, 1142, 1143, 1227, 1370, 1290}:
            return UpstreamPermissionDenied(f"{where}: {text}")
        if code == 2026 or "ssl" in lowered or "certificate" in lowered:
            return UpstreamTLSError(f"{where}: TLS failed: {text}")
        if code in {2003, 2013, 2006, 2005, 2055} or (isinstance(exc, pymysql.err.OperationalError) and code >= 2000):
            if "timed out" in lowered or "timeout" in lowered:
                return UpstreamTimeout(f"{where} did not answer in time: {text}")
            return UpstreamUnavailable(f"{where} is unreachable: {text}")
        if code == 1792:
            return PermissionDenied(f"queries run read-only: {text}")
        if code in {1969, 3024, 1317}:
            return UpstreamTimeout(f"{where}: the statement ran past its time limit: {text}")
        if code == 1050:
            return Conflict(f"{where}: {text}")
        if isinstance(exc, (pymysql.err.ProgrammingError, pymysql.err.DataError, pymysql.err.IntegrityError)):
            return InvalidInput(text)
        if isinstance(exc, pymysql.err.OperationalError) and code in {
            1054,
            1146,
            1064,
            1366,
            1264,
            1265,
            1292,
            1406,
            1048,
        }:
            return InvalidInput(text)
        return UpstreamError(f"{where}: {text}")

    def probe(self, conn: Any, write: bool) -> None:
        with conn.cursor() as cur:
            cur.execute("SELECT CURRENT_USER(), @@global.read_only")
            current, read_only = cur.fetchone()
            if not write:
                return
            if int(read_only or 0):
                raise UpstreamPermissionDenied("the server only accepts reads (read_only is on)")
            user, _, host = current.rpartition("@")
            grantee = f"'{user}'@'{host}'"
            cur.execute(
                "SELECT PRIVILEGE_TYPE FROM information_schema.USER_PRIVILEGES WHERE GRANTEE = %(g)s"
                " UNION SELECT PRIVILEGE_TYPE FROM information_schema.SCHEMA_PRIVILEGES WHERE GRANTEE = %(g)s AND TABLE_SCHEMA = %(d)s"
                " UNION SELECT PRIVILEGE_TYPE FROM information_schema.TABLE_PRIVILEGES WHERE GRANTEE = %(g)s AND TABLE_SCHEMA = %(d)s",
                {"g": grantee, "d": self.params.database},
            )
            privileges = {r[0].upper() for r in cur.fetchall()}
        if not privileges & {"INSERT", "CREATE", "ALL PRIVILEGES"}:
            raise UpstreamPermissionDenied(
                f"user {self.user!r} can neither create tables in database {self.params.database!r} nor insert into them"
            )

    # ---- catalog ----------------------------------------------------------------------------

    def schemas(self, conn: Any) -> list[str]:
        with conn.cursor() as cur:
            cur.execute("SELECT SCHEMA_NAME FROM information_schema.SCHEMATA")
            return sorted(r[0] for r in cur.fetchall() if r[0].lower() not in SYSTEM_SCHEMAS)

    @staticmethod
    def _table_of(schema: str, row: tuple[Any, ...], columns: list[Column]) -> Table:
        name, table_type, rows, _engine = row
        is_table = table_type == "BASE TABLE"
        return Table(
            schema,
            name,
            "table" if is_table else "view",
            int(rows) if rows is not None and is_table else None,
            columns,
            is_table,
        )

    def tables(self, conn: Any, schema: str) -> list[Table]:
        with conn.cursor() as cur:
            cur.execute(
                "SELECT TABLE_NAME, TABLE_TYPE, TABLE_ROWS, ENGINE FROM information_schema.TABLES WHERE TABLE_SCHEMA = %s",
                (schema,),
            )
            return [self._table_of(schema, r, []) for r in sorted(cur.fetchall())]

    def _engine(self, conn: Any, schema: str, name: str) -> str | None:
        with conn.cursor() as cur:
            cur.execute(
                "SELECT ENGINE FROM information_schema.TABLES WHERE TABLE_SCHEMA = %s AND TABLE_NAME = %s",
                (schema, name),
            )
            row = cur.fetchone()
        return row[0] if row else None

    def table(self, conn: Any, schema: str, name: str) -> Table | None:
        with conn.cursor() as cur:
            cur.execute(
                "SELECT TABLE_NAME, TABLE_TYPE, TABLE_ROWS, ENGINE FROM information_schema.TABLES"
                " WHERE TABLE_SCHEMA = %s AND TABLE_NAME = %s",
                (schema, name),
            )
            found = [r for r in cur.fetchall() if r[0] == name]
            if not found:
                return None
            cur.execute(
                "SELECT COLUMN_NAME, DATA_TYPE, COLUMN_TYPE, IS_NULLABLE, NUMERIC_PRECISION, NUMERIC_SCALE"
                " FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = %s AND TABLE_NAME = %s ORDER BY ORDINAL_POSITION",
                (schema, name),
            )
            cols = [column_of(n, dt, ct, nullable == "YES", p, s) for n, dt, ct, nullable, p, s in cur.fetchall()]
        return self._table_of(schema, found[0], cols)

    # ---- reading ----------------------------------------------------------------------------

    @staticmethod
    def _expr(column: Column) -> str:
        if column.kind == "string" and not column.sqltype.lower().startswith(
            ("char", "varchar", "tinytext", "text", "mediumtext", "longtext", "enum", "set")
        ):
            return f"CAST({quote(column.name)} AS CHAR)"
        return quote(column.name)

    def export(self, conn: Any, table: Table, columns: list[Column], limit: int | None, fmt: str) -> Iterator[bytes]:
        arrow = isinstance(conn, mysql_arrow.ArrowSession)
        exprs = ", ".join(
            mysql_arrow.select_expr(c, quote(c.name), self._expr(c)) if arrow else self._expr(c) for c in columns
        )
        query = f"SELECT {exprs} FROM {quote(table.schema)}.{quote(table.name)}"
        if limit is not None:
            query += f" LIMIT {int(limit)}"
        if arrow:
            encoder = ParquetEncoder(columns, DIALECT, metadata={mysql_arrow.WRITER_KEY: mysql_arrow.WRITER})
            return mysql_arrow.parquet(conn, query, columns, encoder)
        conn.begin()
        cur = conn.cursor(pymysql.cursors.SSCursor)
        cur.execute(query)
        return encode_all(fmt, columns, DIALECT, _batches(cur, columns, None))

    def run_query(self, conn: Any, sql_text: str, fmt: str, limit: int | None, timeout: int) -> Iterator[bytes]:
        text = check_statement(check_read_only(sql_text, READ_ONLY_VERBS))
        with conn.cursor() as cur:
            if "mariadb" in conn.get_server_info().lower():
                cur.execute("SET SESSION max_statement_time = %s", (timeout,))
            else:
                cur.execute("SET SESSION max_execution_time = %s", (timeout * 1000,))
            cur.execute("SELECT @@SESSION.sql_mode")
            cur.execute("SET SESSION sql_mode = %s", (reading_sql_mode(cur.fetchone()[0] or ""),))
            cur.execute("SET SESSION TRANSACTION READ ONLY")
            cur.execute("START TRANSACTION READ ONLY")
        cur = conn.cursor(pymysql.cursors.SSCursor)
        cur.execute(text)
        if not cur.description:
            raise InvalidInput("the statement returns no rows to stream")
        fields = cur._result.fields if cur._result is not None else []
        columns = [_result_column(d, fields[i] if i < len(fields) else None) for i, d in enumerate(cur.description)]
        return _rolled_back(conn, cur, encode_all(fmt, columns, DIALECT, _batches(cur, columns, limit)))

    # ---- loading ----------------------------------------------------------------------------

    def _create(self, conn: Any, schema: str, name: str, decoder: Decoder) -> None:
        if len(name) > MAX_IDENTIFIER or any(len(n) > MAX_IDENTIFIER for n in decoder.names):
            raise InvalidInput(
                f"MySQL names are at most {MAX_IDENTIFIER} characters: shorten the table or column names"
            )
        columns = decoder.infer()
        origins: dict[str, str | None] = getattr(decoder, "origins", dict)()
        defs = ", ".join(
            f"{quote(c.name)} {safe_recorded_type(DIALECT, origins.get(c.name)) or type_for(DIALECT, c)}"
            for c in columns
        )
        with conn.cursor() as cur:
            cur.execute(f"CREATE TABLE {quote(schema)}.{quote(name)} ({defs}) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4")

    def load(self, conn: Any, schema: str, name: str, table: Table | None, decoder: Decoder, fmt: str) -> None:
        created = False
        try:
            with conn.cursor() as cur:
                cur.execute("SET SESSION sql_mode = %s", (STRICT_MODE,))
            if table is None:
                self._create(conn, schema, name, decoder)
                created = True
                table = self.table(conn, schema, name)
                assert table is not None
            else:
                engine = self._engine(conn, schema, name) or ""
                if engine.lower() not in TRANSACTIONAL:
                    raise NotSupported(
                        f"{schema}/{name} uses the {engine or 'unknown'} engine, which cannot undo a failed load"
                    )
            by_name = {c.name: c for c in table.columns}
            missing = [n for n in decoder.names if n not in by_name]
            if missing:
                raise InvalidInput(
                    f"the file's column(s) {', '.join(repr(m) for m in missing)} are not in {schema}/{name}"
                )
            columns = [by_name[n] for n in decoder.names]
            conn.begin()
            self._insert(conn, schema, name, columns, decoder)
            conn.commit()
        except BaseException:
            try:
                conn.rollback()
                if created:
                    with conn.cursor() as cur:
                        cur.execute(f"DROP TABLE IF EXISTS {quote(schema)}.{quote(name)}")
            except Exception:
                pass
            raise

    def _insert(self, conn: Any, schema: str, name: str, columns: list[Column], decoder: Decoder) -> None:
        prefix = f"INSERT INTO {quote(schema)}.{quote(name)} ({', '.join(quote(c.name) for c in columns)}) VALUES "
        holder = "(" + ", ".join(["%s"] * len(columns)) + ")"
        aware = [i for i, c in enumerate(columns) if c.kind in {"timestamptz", "timestamp"}]
        sent = 0
        with conn.cursor() as cur:
            for rows in decoder.batches(columns):
                start = 0
                while start < len(rows):
                    size, stop = 0, start
                    while stop < len(rows) and stop - start < INSERT_ROWS and size < INSERT_BYTES:
                        size += sum(len(v) for v in rows[stop] if isinstance(v, (str, bytes)))
                        stop += 1
                    part = rows[start:stop]
                    args: list[Any] = []
                    for row in part:
                        args.extend(_naive_utc(row, aware) if aware else row)
                    try:
                        cur.execute(prefix + ", ".join([holder] * len(part)), args)
                    except pymysql.err.Error as exc:
                        raise self._located(exc, decoder, sent, len(part)) from None
                    sent += len(part)
                    start = stop

    def _located(self, exc: pymysql.err.Error, decoder: Decoder, sent: int, count: int) -> HeadwaterError:
        typed = self.classify(exc) or UpstreamError(str(exc))
        found = _AT_ROW.search(typed.message)
        if found:
            where = decoder.where(sent + int(found.group(1)))
            typed.message = f"{where}: {_AT_ROW.sub('', typed.message).rstrip()}"
        elif isinstance(typed, InvalidInput):
            typed.message = f"{decoder.where(sent + 1)} to {decoder.where(sent + count)}: {typed.message}"
        typed.args = (typed.message,)
        return typed


def _rolled_back(conn: Any, cur: Any, chunks: Iterator[bytes]) -> Iterator[bytes]:
    """Relay a query's chunks, then roll its read-only transaction back.

    A result left unread (a limit, a reader gone) is not drained for that: closing the connection
    rolls the transaction back on the server as well.
    """
    yield from chunks
    result = cur._result
    if result is None or not result.unbuffered_active:
        conn.rollback()


def _naive_utc(row: tuple[Any, ...], indexes: list[int]) -> tuple[Any, ...]:
    values = list(row)
    for i in indexes:
        v = values[i]
        if isinstance(v, datetime) and v.tzinfo is not None:
            values[i] = v.astimezone(UTC).replace(tzinfo=None)
    return tuple(values)


def _result_column(description: tuple[Any, ...], field: Any) -> Column:
    name, type_code = description[0], description[1]
    kind = _FIELD_KINDS.get(type_code)
    flags = getattr(field, "flags", 0) or 0
    if kind is None:
        binary = getattr(field, "charsetnr", 0) == 63 and type_code in {
            FIELD_TYPE.BLOB,
            FIELD_TYPE.TINY_BLOB,
            FIELD_TYPE.MEDIUM_BLOB,
            FIELD_TYPE.LONG_BLOB,
            FIELD_TYPE.STRING,
            FIELD_TYPE.VAR_STRING,
        }
        kind = "binary" if binary else "string"
    if kind in _WIDER and flags & 32:  # UNSIGNED
        kind = _WIDER[kind]
    if kind == "decimal":
        length, scale = description[3] or 0, description[5]
        if scale is not None and length <= 40:
            return Column(name, kind, "decimal", precision=38, scale=scale)
    return Column(name, kind, kind)


def _batches(cur: Any, columns: list[Column], limit: int | None) -> Iterator[list[tuple[Any, ...]]]:
    zoned = [i for i, c in enumerate(columns) if c.kind == "timestamptz"]
    loose = [i for i, c in enumerate(columns) if c.kind == "string"]
    sent = 0
    while limit is None or sent < limit:
        rows = cur.fetchmany(BATCH_ROWS if limit is None else min(BATCH_ROWS, limit - sent))
        if not rows:
            return
        sent += len(rows)
        if zoned or loose:
            rows = [_canonical(row, zoned, loose) for row in rows]
        yield rows


def _canonical(row: tuple[Any, ...], zoned: list[int], loose: list[int]) -> tuple[Any, ...]:
    values = list(row)
    for i in zoned:
        if isinstance(values[i], datetime):
            values[i] = values[i].replace(tzinfo=UTC)
    for i in loose:
        v = values[i]
        if v is not None and not isinstance(v, str):
            values[i] = v.decode("utf-8", "replace") if isinstance(v, bytes) else str(v)
    return tuple(values)


def build(params: MysqlParams, credentials: Credentials | None, ctx: BuildContext) -> Connector:
    spool = ctx.data_dir / "spool" if ctx.data_dir else None
    return MysqlConnector(params, credentials, allow_private=ctx.allow_private_endpoints, spool_dir=spool)


KIND = Kind(
    name="mysql",
    title="MySQL / MariaDB",
    description="A MySQL or MariaDB server: databases as folders, tables as CSV, JSON lines or Parquet files; queries.",
    params=MysqlParams,
    capabilities=MysqlConnector.capabilities,
    build=build,
    credentials="optional",
    secret_types=("database",),
    aliases=("mariadb",),
)
