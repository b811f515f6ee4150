"""Columns as the hub sees them: a portable kind, the database's own type, and value coercion.

Every dialect maps its types to one of `KINDS`; rows travel between databases and
file formats as tuples of *canonical* Python values:

bool → bool; int8..uint64 → int; float32/float64 → float; decimal → Decimal;
string and uuid → str; binary → bytes; date, time → date, time; timestamp → naive
datetime; timestamptz → aware datetime (UTC); json → the JSON text (str); list →
a list of the item kind's values. None is NULL everywhere.
"""

from __future__ import annotations

import base64
import binascii
import json
import math
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from decimal import Decimal, InvalidOperation
from typing import Any

import pyarrow as pa

KINDS = frozenset(
    {
        "bool",
        "int8",
        "int16",
        "int32",
        "int64",
        "uint64",
        "float32",
        "float64",
        "decimal",
        "string",
        "uuid",
        "binary",
        "date",
        "time",
        "timestamp",
        "timestamptz",
        "json",
        "list",
    }
)
INTEGERS = frozenset({"int8", "int16", "int32", "int64", "uint64"})
META_KIND = b"headwater.kind"
META_SQLTYPE = b"headwater.sqltype"
META_DIALECT = b"headwater.dialect"

Coerce = Callable[[Any], Any]


@dataclass(frozen=True)
class Column:
    """One column: its name, portable kind, the database's type text and nullability."""

    name: str
    kind: str
    sqltype: str = ""
    nullable: bool = True
    item: Column | None = None  # the element column of a list
    precision: int | None = None
    scale: int | None = None

    def describe(self) -> dict[str, Any]:
        shown: dict[str, Any] = {
            "name": self.name,
            "type": self.sqltype or self.kind,
            "kind": self.kind,
            "nullable": self.nullable,
        }
        if self.item is not None:
            shown["items"] = self.item.kind
        return shown


class CoercionError(ValueError):
    """A value that does not fit its column; the caller adds the line and column."""


# ---- Arrow -------------------------------------------------------------------------------

_ARROW: dict[str, pa.DataType] = {
    "bool": pa.bool_(),
    "int8": pa.int8(),
    "int16": pa.int16(),
    "int32": pa.int32(),
    "int64": pa.int64(),
    "uint64": pa.uint64(),
    "float32": pa.float32(),
    "float64": pa.float64(),
    "string": pa.string(),
    "uuid": pa.string(),
    "json": pa.string(),
    "binary": pa.binary(),
    "date": pa.date32(),
    "time": pa.time64("us"),
    "timestamp": pa.timestamp("us"),
    "timestamptz": pa.timestamp("us", tz="UTC"),
}


def exact_decimal(column: Column) -> bool:
    """Whether a decimal column fits Arrow's decimal128 exactly (else it travels as text)."""
    return (
        column.precision is not None
        and 0 < column.precision <= 38
        and column.scale is not None
        and 0 <= column.scale <= column.precision
    )


def arrow_type(column: Column) -> pa.DataType:
    if column.kind == "decimal":
        return pa.decimal128(column.precision, column.scale) if exact_decimal(column) else pa.string()
    if column.kind == "list":
        return pa.list_(arrow_type(column.item or Column("item", "string")))
    return _ARROW[column.kind]


def arrow_field(column: Column, dialect: str) -> pa.Field:
    meta = {META_KIND: column.kind.encode(), META_SQLTYPE: column.sqltype.encode(), META_DIALECT: dialect.encode()}
    return pa.field(column.name, arrow_type(column), nullable=column.nullable, metadata=meta)


def kind_of_arrow(dtype: pa.DataType) -> Column:
    """The portable column (without name) that holds an Arrow type's values."""
    if pa.types.is_boolean(dtype):
        return Column("", "bool")
    if pa.types.is_integer(dtype):
        if pa.types.is_unsigned_integer(dtype):
            return Column("", "uint64" if dtype.bit_width == 64 else "int64")
        return Column("", {8: "int16", 16: "int16", 32: "int32"}.get(dtype.bit_width, "int64"))
    if pa.types.is_floating(dtype):
        return Column("", "float32" if dtype.bit_width <= 32 else "float64")
    if pa.types.is_decimal(dtype):
        return Column("", "decimal", precision=dtype.precision, scale=dtype.scale)
    if pa.types.is_date(dtype):
        return Column("", "date")
    if pa.types.is_time(dtype):
        return Column("", "time")
    if pa.types.is_timestamp(dtype):
        return Column("", "timestamptz" if dtype.tz else "timestamp")
    if pa.types.is_binary(dtype) or pa.types.is_large_binary(dtype) or pa.types.is_fixed_size_binary(dtype):
        return Column("", "binary")
    if pa.types.is_list(dtype) or pa.types.is_large_list(dtype):
        return Column("", "list", item=kind_of_arrow(dtype.value_type))
    if pa.types.is_struct(dtype) or pa.types.is_map(dtype):
        return Column("", "json")
    return Column("", "string")


def column_of_field(field: pa.Field) -> tuple[Column, str | None]:
    """A column for a Parquet field, and the database type it came from (with its dialect) if recorded."""
    base = kind_of_arrow(field.type)
    meta = field.metadata or {}
    kind = meta.get(META_KIND, b"").decode() or base.kind
    if kind not in KINDS or (
        kind != base.kind and not (base.kind == "string" and kind in {"json", "uuid", "decimal", "string"})
    ):
        kind = base.kind
    sqltype = meta.get(META_SQLTYPE, b"").decode()
    dialect = meta.get(META_DIALECT, b"").decode()
    column = Column(
        field.name, kind, nullable=field.nullable, item=base.item, precision=base.precision, scale=base.scale
    )
    return column, (f"{dialect}:{sqltype}" if sqltype and dialect else None)


# ---- values into text (CSV, JSON) --------------------------------------------------------


def hex_bytes(value: bytes) -> str:
    return "\\x" + value.hex()


_SPECIAL = {
    "nan": '"NaN"',
    "inf": '"Infinity"',
    "-inf": '"-Infinity"',
    "infinity": '"Infinity"',
    "-infinity": '"-Infinity"',
}
SPECIAL_NUMBERS = frozenset({"NaN", "Infinity", "-Infinity"})


def json_text(value: Any) -> str:
    """JSON for a decoded value, numbers written exactly (Decimal included)."""
    if value is None:
        return "null"
    if value is True:
        return "true"
    if value is False:
        return "false"
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return repr(value) if math.isfinite(value) else _SPECIAL[str(value)]
    if isinstance(value, Decimal):
        return str(value) if value.is_finite() else _SPECIAL.get(str(value).lower(), '"NaN"')
    if isinstance(value, dict):
        return (
            "{" + ",".join(f"{json.dumps(str(k), ensure_ascii=False)}:{json_text(v)}" for k, v in value.items()) + "}"
        )
    if isinstance(value, (list, tuple)):
        return "[" + ",".join(json_text(v) for v in value) + "]"
    return json.dumps(str(value), ensure_ascii=False)


def json_fragment(column: Column) -> Callable[[Any], str]:
    """How a canonical value of `column` is written inside a JSON line."""
    kind = column.kind
    if kind == "json":
        return lambda v: "null" if v is None else v
    if kind == "binary":
        return lambda v: "null" if v is None else '"' + base64.b64encode(v).decode() + '"'
    if kind in {"date", "time", "timestamp", "timestamptz"}:
        return lambda v: "null" if v is None else '"' + v.isoformat() + '"'
    if kind == "list":
        inner = json_fragment(column.item or Column("item", "string"))
        return lambda v: "null" if v is None else "[" + ",".join(inner(x) for x in v) + "]"
    if kind in INTEGERS:
        return lambda v: "null" if v is None else str(int(v))
    return json_text


def csv_value(column: Column) -> Callable[[Any], Any] | None:
    """How a canonical value is turned into something Arrow's CSV writer can write (None: as it is)."""
    if column.kind == "binary":
        return lambda v: None if v is None else hex_bytes(v)
    if column.kind == "list":
        frag = json_fragment(column)
        return lambda v: None if v is None else frag(v)
    if column.kind == "decimal" and not exact_decimal(column):
        return lambda v: None if v is None else str(v)
    return None


# ---- values from files into canonical values ---------------------------------------------

_TRUE = {"t", "true", "1", "yes", "y", "on"}
_FALSE = {"f", "false", "0", "no", "n", "off"}
_INT = re.compile(r"[+-]?\d+")


def _to_bool(v: Any) -> bool:
    if isinstance(v, bool):
        return v
    if isinstance(v, (int, Decimal)) and v in (0, 1):
        return bool(v)
    if isinstance(v, str) and v.strip().lower() in _TRUE | _FALSE:
        return v.strip().lower() in _TRUE
    raise CoercionError(f"{_show(v)} is not a boolean")


def _to_int(v: Any) -> int:
    if isinstance(v, bool):
        raise CoercionError(f"{_show(v)} is not an integer")
    if isinstance(v, int):
        return v
    if isinstance(v, (float, Decimal)) and v == v and v == int(v):
        return int(v)
    if isinstance(v, str) and _INT.fullmatch(v.strip()):
        return int(v)
    raise CoercionError(f"{_show(v)} is not an integer")


def _to_float(v: Any) -> float:
    if isinstance(v, bool):
        raise CoercionError(f"{_show(v)} is not a number")
    try:
        return float(v)
    except (TypeError, ValueError):
        raise CoercionError(f"{_show(v)} is not a number") from None


def _to_decimal(v: Any) -> Decimal:
    if isinstance(v, bool):
        raise CoercionError(f"{_show(v)} is not a number")
    try:
        return v if isinstance(v, Decimal) else Decimal(str(v).strip())
    except InvalidOperation:
        raise CoercionError(f"{_show(v)} is not a number") from None


def _to_binary(text_binary: str) -> Coerce:
    def convert(v: Any) -> bytes:
        if isinstance(v, (bytes, bytearray, memoryview)):
            return bytes(v)
        if not isinstance(v, str):
            raise CoercionError(f"{_show(v)} is not binary data")
        try:
            if v.startswith("\\x"):
                return bytes.fromhex(v[2:])
            if text_binary == "base64":
                return base64.b64decode(v, validate=True)
        except (ValueError, binascii.Error):
            raise CoercionError(
                f"{_show(v)} is not {'base64' if text_binary == 'base64' else 'hex'} binary data"
            ) from None
        return v.encode()

    return convert


def _to_datetime(aware: bool) -> Coerce:
    def convert(v: Any) -> datetime:
        if isinstance(v, datetime):
            moment = v
        elif isinstance(v, date):
            moment = datetime(v.year, v.month, v.day)
        elif isinstance(v, str):
            try:
                moment = datetime.fromisoformat(v.strip())
            except ValueError:
                raise CoercionError(f"{_show(v)} is not an ISO 8601 timestamp") from None
        else:
            raise CoercionError(f"{_show(v)} is not a timestamp")
        if aware:
            return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
        return moment if moment.tzinfo is None else moment.astimezone(UTC).replace(tzinfo=None)

    return convert


def _to_date(v: Any) -> date:
    if isinstance(v, datetime):
        return v.date()
    if isinstance(v, date):
        return v
    try:
        return date.fromisoformat(str(v).strip())
    except ValueError:
        raise CoercionError(f"{_show(v)} is not an ISO 8601 date") from None


def _to_time(v: Any) -> time:
    if isinstance(v, time):
        return v
    try:
        return time.fromisoformat(str(v).strip())
    except ValueError:
        raise CoercionError(f"{_show(v)} is not an ISO 8601 time") from None


def _to_string(v: Any) -> str:
    if isinstance(v, str):
        return v
    if isinstance(v, (dict, list, tuple)):
        return json_text(v)
    if isinstance(v, (datetime, date, time)):
        return v.isoformat()
    if isinstance(v, bool):
        return "true" if v else "false"
    return str(v)


def _to_json(from_text: bool) -> Coerce:
    def convert(v: Any) -> str:
        if from_text and isinstance(v, str):
            try:
                json.loads(v)
            except ValueError:
                raise CoercionError(f"{_show(v)} is not valid JSON") from None
            return v
        return json_text(v)

    return convert


def coercer(column: Column, source: str) -> Coerce:
    """Turn one value read from a file (`source`: "text", "json" or "arrow") into a canonical value.

    Text (CSV) carries JSON documents as text; JSON lines carry them as values; Parquet
    carries them as text. Binary is `\\x`-hex in CSV, base64 in JSON, bytes in Parquet.
    """
    kind = column.kind
    if kind == "bool":
        fn: Coerce = _to_bool
    elif kind in INTEGERS:
        fn = _to_int
    elif kind in {"float32", "float64"}:
        fn = _to_float
    elif kind == "decimal":
        fn = _to_decimal
    elif kind == "binary":
        fn = _to_binary("base64" if source == "json" else "hex")
    elif kind == "timestamp":
        fn = _to_datetime(False)
    elif kind == "timestamptz":
        fn = _to_datetime(True)
    elif kind == "date":
        fn = _to_date
    elif kind == "time":
        fn = _to_time
    elif kind == "json":
        fn = _to_json(source != "json")
    elif kind == "list":
        item = coercer(column.item or Column("item", "string"), "json" if source == "text" else source)

        def fn(v: Any) -> Any:
            if isinstance(v, str) and source == "text":
                if v.startswith("{"):
                    return v  # the database's own array literal: it parses it
                try:
                    v = json.loads(v, parse_float=Decimal)
                except ValueError:
                    raise CoercionError(f"{_show(v)} is not a JSON array") from None
            if not isinstance(v, (list, tuple)):
                raise CoercionError(f"{_show(v)} is not an array")
            return [None if x is None else item(x) for x in v]
    else:
        fn = _to_string

    def convert(v: Any) -> Any:
        return None if v is None else fn(v)

    return convert


def _show(value: Any) -> str:
    text = (
        value
        if isinstance(value, str)
        else json_text(value)
        if isinstance(value, (dict, list, int, float, Decimal))
        else repr(value)
    )
    return repr(text[:60] + ("…" if len(text) > 60 else "")) if isinstance(text, str) else text


# ---- inference for new tables ------------------------------------------------------------


def _fits(test: Callable[[str], object], values: list[str]) -> bool:
    try:
        for v in values:
            test(v)
    except (ValueError, CoercionError, OverflowError):
        return False
    return True


def _is_timestamp(aware: bool) -> Callable[[str], object]:
    def test(v: str) -> object:
        moment = datetime.fromisoformat(v)
        if len(v.strip()) <= 10 or (moment.tzinfo is not None) != aware:
            raise ValueError(v)
        return moment

    return test


def _is_int(v: str) -> int:
    if not _INT.fullmatch(v.strip()) or not -(2**63) <= int(v) < 2**63:
        raise ValueError(v)
    return int(v)


def _is_bool(v: str) -> bool:
    if v.strip().lower() not in {"t", "f", "true", "false"}:
        raise ValueError(v)
    return True


def infer_text_kind(values: list[str], *, numbers: bool = True) -> str:
    """The narrowest kind that reads every sampled text value."""
    sample = [v for v in values if v is not None]
    if not sample:
        return "string"
    tests: list[tuple[str, Callable[[str], object]]] = []
    if numbers:
        tests += [("bool", _is_bool), ("int64", _is_int), ("float64", float)]
    tests += [
        ("date", lambda v: date.fromisoformat(v.strip()) if len(v.strip()) == 10 else int("x")),
        ("timestamp", _is_timestamp(False)),
        ("timestamptz", _is_timestamp(True)),
    ]
    for kind, test in tests:
        if _fits(test, sample):
            return kind
    return "string"


def infer_json_kind(values: list[Any]) -> Column:
    """The column that holds every sampled JSON value."""
    sample = [v for v in values if v is not None]
    if not sample:
        return Column("", "string")
    if all(isinstance(v, bool) for v in sample):
        return Column("", "bool")
    if all(isinstance(v, int) and not isinstance(v, bool) for v in sample):
        return Column("", "int64" if all(-(2**63) <= v < 2**63 for v in sample) else "decimal")
    if all(
        (isinstance(v, (int, Decimal)) and not isinstance(v, bool)) or (isinstance(v, str) and v in SPECIAL_NUMBERS)
        for v in sample
    ):
        return Column("", "float64")
    if all(isinstance(v, str) for v in sample):
        return Column("", infer_text_kind(sample, numbers=False))
    return Column("", "json")
