"""Database types for new tables: from a column's portable kind, or the file's recorded type if safe."""

from __future__ import annotations

import re

from headwater.connectors.databases.columns import Column

_TYPE_SHAPE = re.compile(r"[A-Za-z][A-Za-z0-9_ ]*(\(\s*\d+\s*(,\s*\d+\s*)?\))?[A-Za-z ]*(\[\])*")

#: The words a recorded type may be made of, per dialect: type names only, never a clause.
TYPE_WORDS = {
    "postgres": frozenset(
        [
            "smallint",
            "integer",
            "bigint",
            "int",
            "int2",
            "int4",
            "int8",
            "real",
            "double",
            "precision",
            "float4",
            "float8",
            "numeric",
            "decimal",
            "boolean",
            "bool",
            "text",
            "character",
            "varying",
            "varchar",
            "char",
            "bpchar",
            "name",
            "citext",
            "bytea",
            "date",
            "time",
            "timestamp",
            "timestamptz",
            "timetz",
            "with",
            "without",
            "zone",
            "interval",
            "json",
            "jsonb",
            "uuid",
            "inet",
            "cidr",
            "macaddr",
            "macaddr8",
            "money",
            "bit",
            "varbit",
            "xml",
            "tsvector",
            "oid",
        ]
    ),
    "mysql": frozenset(
        [
            "tinyint",
            "smallint",
            "mediumint",
            "int",
            "integer",
            "bigint",
            "unsigned",
            "float",
            "double",
            "real",
            "decimal",
            "numeric",
            "bit",
            "bool",
            "boolean",
            "char",
            "varchar",
            "binary",
            "varbinary",
            "tinytext",
            "text",
            "mediumtext",
            "longtext",
            "tinyblob",
            "blob",
            "mediumblob",
            "longblob",
            "date",
            "time",
            "datetime",
            "timestamp",
            "year",
            "json",
            "uuid",
            "inet4",
            "inet6",
        ]
    ),
}

_KIND_TYPES = {
    "postgres": {
        "bool": "boolean",
        "int8": "smallint",
        "int16": "smallint",
        "int32": "integer",
        "int64": "bigint",
        "uint64": "numeric(20,0)",
        "float32": "real",
        "float64": "double precision",
        "string": "text",
        "uuid": "uuid",
        "binary": "bytea",
        "date": "date",
        "time": "time",
        "timestamp": "timestamp",
        "timestamptz": "timestamptz",
        "json": "jsonb",
    },
    "mysql": {
        "bool": "boolean",
        "int8": "tinyint",
        "int16": "smallint",
        "int32": "int",
        "int64": "bigint",
        "uint64": "bigint unsigned",
        "float32": "float",
        "float64": "double",
        "string": "longtext",
        "uuid": "char(36)",
        "binary": "longblob",
        "date": "date",
        "time": "time(6)",
        "timestamp": "datetime(6)",
        "timestamptz": "datetime(6)",
        "json": "json",
        "list": "json",
    },
}


def safe_recorded_type(dialect: str, recorded: str | None) -> str | None:
    """A type recorded in a file by the same dialect, if it is nothing but type words."""
    if not recorded or not recorded.startswith(dialect + ":"):
        return None
    text = recorded.split(":", 1)[1].strip()
    if len(text) > 80 or not _TYPE_SHAPE.fullmatch(text):
        return None
    words = re.findall(r"[A-Za-z_][A-Za-z0-9_]*", text)
    if not words or any(w.lower() not in TYPE_WORDS[dialect] for w in words):
        return None
    return text


def type_for(dialect: str, column: Column) -> str:
    """The type a new table gives a column of this kind."""
    table = _KIND_TYPES[dialect]
    if column.kind == "decimal":
        if (
            column.precision is not None
            and column.scale is not None
            and 0 < column.precision <= (1000 if dialect == "postgres" else 65)
        ):
            return (
                f"numeric({column.precision},{column.scale})"
                if dialect == "postgres"
                else f"decimal({column.precision},{column.scale})"
            )
        return "numeric" if dialect == "postgres" else "longtext"
    if column.kind == "list" and dialect == "postgres":
        item = column.item or Column("item", "string")
        return type_for(dialect, item) + "[]"
    return table.get(column.kind, table["string"])
