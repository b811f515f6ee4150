"""CSV, JSON lines and Parquet: rows of canonical values to bytes and back, in bounded memory.

Encoders take batches of rows and return the bytes to send; decoders read an upload
(a stream of byte chunks, spooled to disk only for Parquet, whose footer comes last)
and yield batches of rows coerced to the target columns, naming the line and column
of the first value that does not fit.
"""

from __future__ import annotations

import csv
import io
import json
import os
import tempfile
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.csv as pa_csv
import pyarrow.parquet as pq

from headwater.connectors.blocking import ChunkReader
from headwater.connectors.databases.columns import (
    CoercionError,
    Column,
    arrow_field,
    coercer,
    column_of_field,
    csv_value,
    exact_decimal,
    infer_json_kind,
    infer_text_kind,
    json_fragment,
)
from headwater.errors import InvalidInput

FORMATS = ("csv", "jsonl", "parquet")
CONTENT_TYPES = {
    "csv": "text/csv; charset=utf-8",
    "jsonl": "application/x-ndjson; charset=utf-8",
    "parquet": "application/vnd.apache.parquet",
}
BATCH_ROWS = 10_000
ROW_GROUP_ROWS = 128 * 1024
SAMPLE_ROWS = 1000
MAX_HEADER = 1024 * 1024

Rows = list[tuple[Any, ...]]


def check_format(fmt: str) -> str:
    if fmt not in FORMATS:
        raise InvalidInput(f"format {fmt!r} is not supported: use {', '.join(FORMATS)}")
    return fmt


# ---- encoding ----------------------------------------------------------------------------


class _Sink:
    """A write-only file that hands back what was written since the last drain."""

    def __init__(self) -> None:
        self.parts: list[bytes] = []
        self.position = 0
        self.closed = False

    def write(self, data: Any) -> int:
        chunk = bytes(data)
        self.parts.append(chunk)
        self.position += len(chunk)
        return len(chunk)

    def tell(self) -> int:
        return self.position

    def flush(self) -> None:
        pass

    def close(self) -> None:
        self.closed = True

    def drain(self) -> bytes:
        data = b"".join(self.parts)
        self.parts.clear()
        return data


def to_batch(
    columns: list[Column], rows: Rows, schema: pa.Schema, converters: list[Callable[[Any], Any] | None]
) -> pa.RecordBatch:
    """A record batch of canonical rows, each column converted as the target format needs."""
    width = len(columns)
    values = list(zip(*rows, strict=True)) if rows else [()] * width
    arrays = []
    for i, column in enumerate(columns):
        convert = converters[i]
        col = values[i] if convert is None else [convert(v) for v in values[i]]
        try:
            arrays.append(pa.array(col, type=schema.field(i).type))
        except (pa.ArrowInvalid, pa.ArrowTypeError, OverflowError) as exc:
            raise InvalidInput(f"column {column.name!r} holds a value its file type cannot: {exc}") from None
    return pa.RecordBatch.from_arrays(arrays, schema=schema)


def conform_array(array: pa.Array, target: pa.DataType, column: Column) -> pa.Array:
    """A driver's Arrow array in the file's own type for `column`; a value that type cannot hold is a 400."""
    if isinstance(array.type, pa.ExtensionType):
        array = array.storage
    if array.type == target:
        return array
    try:
        return array.cast(target)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError, pa.ArrowTypeError) as exc:
        raise InvalidInput(f"column {column.name!r} holds a value its file type cannot: {exc}") from None


class Encoder(ABC):
    """Rows in, bytes out: `encode` per batch, `finish` once."""

    content_type: str

    @abstractmethod
    def encode(self, rows: Rows) -> bytes: ...

    def finish(self) -> bytes:
        return b""


class JsonLinesEncoder(Encoder):
    content_type = CONTENT_TYPES["jsonl"]

    def __init__(self, columns: list[Column]) -> None:
        self.parts = [(json.dumps(c.name, ensure_ascii=False) + ":", json_fragment(c)) for c in columns]

    def encode(self, rows: Rows) -> bytes:
        parts = self.parts
        lines = [
            "{" + ",".join(key + frag(v) for (key, frag), v in zip(parts, row, strict=True)) + "}\n" for row in rows
        ]
        return "".join(lines).encode()


class CsvEncoder(Encoder):
    content_type = CONTENT_TYPES["csv"]

    def __init__(self, columns: list[Column], dialect: str) -> None:
        self.columns = columns
        self.converters = [csv_value(c) for c in columns]
        fields = [arrow_field(c, dialect) for c in columns]
        self.schema = pa.schema(
            [
                pa.field(f.name, pa.string()) if conv is not None else f
                for f, conv in zip(fields, self.converters, strict=True)
            ]
        )
        self.sink = _Sink()
        self.writer = pa_csv.CSVWriter(self.sink, self.schema)

    def encode(self, rows: Rows) -> bytes:
        if rows:
            self.writer.write_batch(to_batch(self.columns, rows, self.schema, self.converters))
        return self.sink.drain()

    def finish(self) -> bytes:
        self.writer.close()
        return self.sink.drain()


class ParquetEncoder(Encoder):
    content_type = CONTENT_TYPES["parquet"]

    def __init__(self, columns: list[Column], dialect: str, metadata: dict[bytes, bytes] | None = None) -> None:
        self.columns = columns
        self.schema = pa.schema([arrow_field(c, dialect) for c in columns], metadata=metadata)
        self.converters: list[Callable[[Any], Any] | None] = [
            (lambda v: None if v is None else str(v)) if c.kind == "decimal" and not exact_decimal(c) else None
            for c in columns
        ]
        self.sink = _Sink()
        self.writer = pq.ParquetWriter(self.sink, self.schema, compression="snappy")
        self.pending: list[pa.RecordBatch] = []
        self.pending_rows = 0

    def _flush(self) -> None:
        if self.pending:
            self.writer.write_table(pa.Table.from_batches(self.pending, self.schema), row_group_size=self.pending_rows)
            self.pending, self.pending_rows = [], 0

    def encode(self, rows: Rows) -> bytes:
        if rows:
            return self.encode_batch(to_batch(self.columns, rows, self.schema, self.converters))
        return self.sink.drain()

    def encode_batch(self, batch: pa.RecordBatch) -> bytes:
        """Add a record batch already in this file's schema (a driver's Arrow output); row groups stay bounded."""
        if batch.num_rows:
            self.pending.append(batch)
            self.pending_rows += batch.num_rows
            if self.pending_rows >= ROW_GROUP_ROWS:
                self._flush()
        return self.sink.drain()

    def finish(self) -> bytes:
        self._flush()
        self.writer.close()
        return self.sink.drain()


def encoder(fmt: str, columns: list[Column], dialect: str) -> Encoder:
    if fmt == "csv":
        return CsvEncoder(columns, dialect)
    if fmt == "jsonl":
        return JsonLinesEncoder(columns)
    return ParquetEncoder(columns, dialect)


def encode_all(fmt: str, columns: list[Column], dialect: str, batches: Iterable[Rows]) -> Iterator[bytes]:
    """Encode batches lazily: one chunk of output per batch, then the trailer."""
    enc = encoder(fmt, columns, dialect)
    for rows in batches:
        data = enc.encode(rows)
        if data:
            yield data
    tail = enc.finish()
    if tail:
        yield tail


# ---- decoding ----------------------------------------------------------------------------


def _located(where: str, column: str, exc: CoercionError) -> InvalidInput:
    return InvalidInput(f"{where}, column {column!r}: {exc}")


class Decoder(ABC):
    """An upload being read: its column names, a sample to infer types from, and coerced batches."""

    names: list[str]

    @abstractmethod
    def infer(self) -> list[Column]:
        """Columns for a new table, guessed from the file's own schema or a sample of its rows."""

    @abstractmethod
    def batches(self, columns: list[Column]) -> Iterator[Rows]:
        """Rows coerced to `columns` (one per name, in order), in batches."""

    def where(self, row: int) -> str:
        """Where the `row`-th record (1-based) of the file is, for an error message."""
        return f"row {row}"

    def close(self) -> None:  # noqa: B027 - a hook: only decoders that hold a reader close it
        pass


class CsvDecoder(Decoder):
    """A CSV file with a header line. Unquoted empty fields are NULL; `""` is the empty string."""

    def __init__(self, chunks: Iterator[bytes]) -> None:
        self.rest = chunks
        self.prefix = b""
        while b"\n" not in self.prefix:
            try:
                self.prefix += bytes(next(chunks))
            except StopIteration:
                break
            if len(self.prefix) > MAX_HEADER:
                raise InvalidInput("the CSV file's first line (its header) is longer than 1 MiB")
        header = self.prefix.split(b"\n", 1)[0].decode("utf-8-sig", errors="replace").rstrip("\r")
        if not header.strip():
            raise InvalidInput("the CSV file has no header line naming its columns")
        self.names = next(csv.reader([header]))
        _check_names(self.names)

    def where(self, row: int) -> str:
        return f"line {row + 1}"  # after the header (a value spanning lines shifts this)

    def raw_chunks(self) -> Iterator[bytes]:
        """The file's bytes as uploaded, header included."""
        if self.prefix:
            yield self.prefix
        self.prefix = b""
        yield from self.rest

    def infer(self) -> list[Column]:
        lines = self.prefix.count(b"\n")
        while lines <= SAMPLE_ROWS and len(self.prefix) < 4 * MAX_HEADER:
            try:
                chunk = bytes(next(self.rest))
            except StopIteration:
                break
            self.prefix += chunk
            lines += chunk.count(b"\n")
        text = self.prefix.decode("utf-8-sig", errors="replace")
        complete = text if text.endswith("\n") else text.rsplit("\n", 1)[0]
        records = list(csv.reader(io.StringIO(complete)))[1 : SAMPLE_ROWS + 1]
        columns = []
        for i, name in enumerate(self.names):
            values = [r[i] if i < len(r) and r[i] != "" else None for r in records]
            columns.append(Column(name, infer_text_kind(values)))  # type: ignore[arg-type]
        return columns

    def batches(self, columns: list[Column]) -> Iterator[Rows]:
        convert = [coercer(c, "text") for c in columns]
        reader = pa_csv.open_csv(
            ChunkReader(self.raw_chunks()),
            read_options=pa_csv.ReadOptions(use_threads=False, block_size=1 << 20),
            parse_options=pa_csv.ParseOptions(newlines_in_values=True),
            convert_options=pa_csv.ConvertOptions(
                column_types={n: pa.string() for n in self.names},
                null_values=[""],
                strings_can_be_null=True,
                quoted_strings_can_be_null=False,
            ),
        )
        seen = 0
        while True:
            try:
                batch = reader.read_next_batch()
            except StopIteration:
                return
            except pa.ArrowInvalid as exc:
                raise InvalidInput(f"CSV file is malformed after line {seen + 1}: {exc}") from None
            values = [batch.column(i).to_pylist() for i in range(len(columns))]
            for i, column in enumerate(columns):
                fn = convert[i]
                col = values[i]
                for r, v in enumerate(col):
                    try:
                        col[r] = fn(v)
                    except CoercionError as exc:
                        raise _located(f"line {seen + r + 2}", column.name, exc) from None
            seen += batch.num_rows
            yield list(zip(*values, strict=True))


def _lines(chunks: Iterator[bytes]) -> Iterator[bytes]:
    tail = b""
    for chunk in chunks:
        data = tail + bytes(chunk)
        parts = data.split(b"\n")
        tail = parts.pop()
        yield from parts
    if tail:
        yield tail


class JsonLinesDecoder(Decoder):
    """One JSON object per line; the columns are the keys of the first lines."""

    def __init__(self, chunks: Iterator[bytes]) -> None:
        self.lines = enumerate(_lines(chunks), start=1)
        self.blank: list[int] = []
        self.sample: list[tuple[int, dict[str, Any]]] = []
        for number, raw in self.lines:
            record = self._parse(number, raw)
            if record is not None:
                self.sample.append((number, record))
                if len(self.sample) >= SAMPLE_ROWS:
                    break
        names: dict[str, None] = {}
        for _, record in self.sample:
            names.update(dict.fromkeys(record))
        self.names = list(names)
        if not self.names:
            raise InvalidInput("the JSON lines file holds no object with a key")
        _check_names(self.names)

    def where(self, row: int) -> str:
        line = row
        for blank in self.blank:
            if blank <= line:
                line += 1
        return f"line {line}"

    def _parse(self, number: int, raw: bytes) -> dict[str, Any] | None:
        if not raw.strip():
            self.blank.append(number)
            return None
        try:
            record = json.loads(raw, parse_float=Decimal)
        except ValueError as exc:
            raise InvalidInput(f"line {number} is not valid JSON: {exc}") from None
        if not isinstance(record, dict):
            raise InvalidInput(f"line {number} is not a JSON object")
        return record

    def infer(self) -> list[Column]:
        columns = []
        for name in self.names:
            base = infer_json_kind([record.get(name) for _, record in self.sample])
            columns.append(Column(name, base.kind))
        return columns

    def _records(self) -> Iterator[tuple[int, dict[str, Any]]]:
        yield from self.sample
        self.sample = []
        for number, raw in self.lines:
            record = self._parse(number, raw)
            if record is not None:
                yield number, record

    def batches(self, columns: list[Column]) -> Iterator[Rows]:
        convert = [(c.name, coercer(c, "json")) for c in columns]
        known = set(self.names)
        rows: Rows = []
        for number, record in self._records():
            if len(record) > len(known) or not known.issuperset(record):
                extra = next(k for k in record if k not in known)
                raise InvalidInput(
                    f"line {number}, column {extra!r}: not among the columns of the first lines ({', '.join(self.names)})"
                )
            row = []
            for name, fn in convert:
                try:
                    row.append(fn(record.get(name)))
                except CoercionError as exc:
                    raise _located(f"line {number}", name, exc) from None
            rows.append(tuple(row))
            if len(rows) >= BATCH_ROWS:
                yield rows
                rows = []
        if rows:
            yield rows


class ParquetDecoder(Decoder):
    """A Parquet file, spooled to disk first (its footer comes last)."""

    def __init__(self, chunks: Iterator[bytes], spool_dir: Path | None) -> None:
        if spool_dir is not None:
            spool_dir.mkdir(parents=True, exist_ok=True)
        handle, name = tempfile.mkstemp(prefix="headwater-upload-", suffix=".parquet", dir=spool_dir)
        self.path = Path(name)
        try:
            with os.fdopen(handle, "wb") as out:
                for chunk in chunks:
                    out.write(chunk)
            self.file = pq.ParquetFile(self.path)
        except (pa.ArrowInvalid, OSError) as exc:
            self.close()
            raise InvalidInput(f"the upload is not a readable Parquet file: {exc}") from None
        except BaseException:
            self.close()
            raise
        self.schema = self.file.schema_arrow
        self.names = list(self.schema.names)
        _check_names(self.names)

    def infer(self) -> list[Column]:
        return [column_of_field(field)[0] for field in self.schema]

    def origins(self) -> dict[str, str | None]:
        """Each column's recorded database type (`dialect:type`), where the file kept one."""
        return {field.name: column_of_field(field)[1] for field in self.schema}

    def batches(self, columns: list[Column]) -> Iterator[Rows]:
        convert = [coercer(c, "arrow") for c in columns]
        seen = 0
        try:
            for batch in self.file.iter_batches(batch_size=BATCH_ROWS, columns=self.names, use_threads=False):
                values = [batch.column(i).to_pylist() for i in range(len(columns))]
                for i, column in enumerate(columns):
                    fn, col = convert[i], values[i]
                    for r, v in enumerate(col):
                        try:
                            col[r] = fn(v)
                        except CoercionError as exc:
                            raise _located(f"row {seen + r + 1}", column.name, exc) from None
                seen += batch.num_rows
                yield list(zip(*values, strict=True))
        except (pa.ArrowInvalid, OSError) as exc:
            raise InvalidInput(f"the Parquet file could not be read after row {seen}: {exc}") from None

    def close(self) -> None:
        self.path.unlink(missing_ok=True)


def _check_names(names: list[str]) -> None:
    seen: set[str] = set()
    for name in names:
        if not name or "\x00" in name or len(name) > 128:
            raise InvalidInput(f"column name {name!r} is invalid: 1-128 characters, no NUL")
        if name in seen:
            raise InvalidInput(f"column {name!r} appears twice in the file")
        seen.add(name)


def decoder(fmt: str, chunks: Iterator[bytes], spool_dir: Path | None = None) -> Decoder:
    if fmt == "csv":
        return CsvDecoder(chunks)
    if fmt == "jsonl":
        return JsonLinesDecoder(chunks)
    return ParquetDecoder(chunks, spool_dir)
