"""MySQL and MariaDB tables to Parquet through ConnectorX's Arrow stream, on unencrypted connections.

ConnectorX (Rust) reads the rows over the binary protocol into Arrow record batches of
`BATCH_ROWS` rows, handed over one at a time (`return_type="arrow_stream"`), so nothing
holds more than a few batches and a row group. It takes a URL: the hub gives it the address
it checked and pinned (the one its own PyMySQL connection reached) and `ssl-mode=DISABLED`.
Its TLS cannot name the configured host while connecting to that address, so connections
that use TLS stay on the PyMySQL path. Each batch is brought to the hub's own column schema
(the same Arrow types and field metadata as every other export) before the Parquet writer.

Stopping early needs care: a reader dropped mid-stream leaves the driver's statement
running, so every statement carries a marker comment and `ArrowSession.cancel` kills the
statement that holds it through the side (PyMySQL) connection.
"""

from __future__ import annotations

import ipaddress
import re
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import pyarrow as pa

from headwater.connectors.databases.columns import Column
from headwater.connectors.databases.formats import BATCH_ROWS, ParquetEncoder, conform_array
from headwater.connectors.redaction import redact_urls

#: Written on every Parquet file this path makes (file metadata), so that readers and tests can tell.
WRITER_KEY = b"headwater.writer"
WRITER = b"connectorx-mysql"
#: Run on the driver's connection before the SELECT: timestamps in UTC, a read-only snapshot.
SETUP = ("SET time_zone = '+00:00'", "SET SESSION TRANSACTION READ ONLY", "START TRANSACTION READ ONLY")
_SERVER_ERROR = re.compile(r"ERROR (\d+) \(([0-9A-Z]{5})\): (.*?)(?:\s*\}\)*)?\s*$", re.S)
#: Column types the driver reads as text (its own Arrow type would lose digits or differ from the hub's).
_AS_TEXT = ("decimal", "json", "uuid")


class ArrowStreamError(Exception):
    """A failure reported by the driver: the server's error number and sentence when it gave them."""

    def __init__(self, text: str, code: int | None) -> None:
        super().__init__(text)
        self.text = text
        self.code = code


def failure(exc: BaseException) -> ArrowStreamError:
    """The driver's error as the server's number and sentence, with any URL (it holds the password) cut out."""
    message = redact_urls(str(exc))
    found = _SERVER_ERROR.search(message)
    if found:
        return ArrowStreamError(found.group(3).strip(), int(found.group(1)))
    return ArrowStreamError(message.strip() or type(exc).__name__, None)


def _driver_failure(exc: BaseException) -> BaseException:
    """The driver's failure as an `ArrowStreamError`; anything else (an interrupt) as it was.

    ConnectorX raises RuntimeError before the stream, and a Rust panic (`PanicException`, a
    BaseException) for a server error mid-stream.
    """
    if isinstance(exc, Exception) or type(exc).__name__ == "PanicException":
        return failure(exc)
    return exc


def url(address: str, port: int, user: str, password: str, database: str) -> str:
    """The driver's URL: the checked address (never a name to resolve again), no TLS, every part escaped."""
    host = f"[{address}]" if ipaddress.ip_address(address).version == 6 else address
    credentials = f"{quote(user, safe='')}:{quote(password, safe='')}"
    return f"mysql://{credentials}@{host}:{port}/{quote(database, safe='')}?ssl-mode=DISABLED"


@dataclass
class ArrowSession:
    """A checked PyMySQL connection (kept to stop the statement) and the driver's URL for the same server."""

    side: Any
    url: str
    marker: str = ""
    reader: Any = None

    def cancel(self) -> None:
        """Kill the driver's statement (found by its marker) if it is still running."""
        if not self.marker:
            return
        with self.side.cursor() as cur:
            cur.execute(
                "SELECT ID FROM information_schema.PROCESSLIST WHERE INFO LIKE %s AND ID <> CONNECTION_ID()",
                (f"%{self.marker}%",),
            )
            for (thread,) in cur.fetchall():
                cur.execute(f"KILL QUERY {int(thread)}")

    def close(self) -> None:
        for part in (self.reader, self.side):
            if part is None:
                continue
            try:
                part.close()
            except Exception:  # a broken connection closes anyway
                pass
        self.reader = None


def select_expr(column: Column, quoted: str, text: str) -> str:
    """A column as the driver should read it to land on the hub's Arrow type (`text` is its CAST to text)."""
    if column.kind in _AS_TEXT:
        return f"CAST({quoted} AS CHAR)"
    return text


def parquet(session: ArrowSession, statement: str, columns: list[Column], encoder: ParquetEncoder) -> Iterator[bytes]:
    """Run `statement` through the driver and stream its rows as one Parquet file, a batch at a time."""
    import connectorx

    session.marker = f"headwater-export-{uuid.uuid4().hex}"
    marked = f"/* {session.marker} */ {statement}"
    schema = encoder.schema
    try:
        session.reader = connectorx.read_sql(
            session.url, marked, return_type="arrow_stream", batch_size=BATCH_ROWS, pre_execution_query=list(SETUP)
        )
    except BaseException as exc:
        raise _driver_failure(exc) from None
    while True:
        try:
            batch = session.reader.read_next_batch()
        except StopIteration:
            break
        except BaseException as exc:
            raise _driver_failure(exc) from None
        arrays = [conform_array(batch.column(i), schema.field(i).type, c) for i, c in enumerate(columns)]
        data = encoder.encode_batch(pa.RecordBatch.from_arrays(arrays, schema=schema))
        if data:
            yield data
    session.marker = ""
    tail = encoder.finish()
    if tail:
        yield tail
