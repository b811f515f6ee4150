"""The `synthetic` kind: deterministic, bounded, and faithful to its column specs."""

from __future__ import annotations

import csv
import hashlib
import io
import json
import uuid
from datetime import UTC, datetime
from typing import Any

import pyarrow.parquet as pq
import pytest
from pydantic import ValidationError

from headwater.connectors.synthetic import SyntheticConnector, SyntheticParams
from headwater.errors import InvalidInput, NotFound, NotSupported

pytestmark = pytest.mark.anyio

SPEC: dict[str, Any] = {
    "datasets": {
        "orders": {
            "rows": 12_345,
            "seed": 42,
            "columns": [
                {"name": "id", "type": "int", "min": 1, "max": 100},
                {"name": "amount", "type": "float", "min": -5, "max": 5, "decimals": 2, "nullable": 0.25},
                {"name": "status", "type": "category", "choices": ["new", "paid", "sent"], "weights": [0, 1, 3]},
                {"name": "who", "type": "name"},
                {"name": "mail", "type": "email"},
                {"name": "at", "type": "timestamp", "min": "2024-01-01T00:00:00Z", "max": "2024-01-31T23:59:59Z"},
                {"name": "key", "type": "uuid"},
                {"name": "flag", "type": "bool"},
            ],
        },
        "tiny": {"rows": 3, "columns": [{"name": "n", "type": "int"}]},
    }
}


def make(spec: dict[str, Any] = SPEC) -> SyntheticConnector:
    return SyntheticConnector(SyntheticParams.model_validate(spec))


async def read_all(connector: SyntheticConnector, path: str, **options: str) -> bytes:
    return b"".join([chunk async for chunk in connector.read(path, options=options or None)])


async def test_listing_shows_each_dataset_in_each_format() -> None:
    page = await make().list("")
    assert [f.name for f in page.files] == [
        "orders.csv",
        "orders.jsonl",
        "orders.parquet",
        "tiny.csv",
        "tiny.jsonl",
        "tiny.parquet",
    ]
    paged = await make().list("", limit=4)
    assert len(paged.files) == 4 and paged.marker
    rest = await make().list("", marker=paged.marker, limit=4)
    assert [f.name for f in rest.files] == ["tiny.jsonl", "tiny.parquet"] and rest.marker is None


@pytest.mark.parametrize("fmt", ["csv", "jsonl", "parquet"])
async def test_same_params_give_byte_identical_files(fmt: str) -> None:
    first = await read_all(make(), f"orders.{fmt}")
    second = await read_all(make(), f"orders.{fmt}")
    assert hashlib.sha256(first).digest() == hashlib.sha256(second).digest() and len(first) > 10_000
    reseeded = json.loads(json.dumps(SPEC))
    reseeded["datasets"]["orders"]["seed"] = 43
    assert await read_all(make(reseeded), f"orders.{fmt}") != first


async def test_values_follow_the_column_specs() -> None:
    rows = [json.loads(line) for line in (await read_all(make(), "orders.jsonl")).splitlines()]
    assert len(rows) == 12_345
    assert all(1 <= r["id"] <= 100 for r in rows)
    amounts = [r["amount"] for r in rows]
    nulls = amounts.count(None) / len(amounts)
    assert 0.22 < nulls < 0.28 and all(a is None or (-5 <= a <= 5 and round(a, 2) == a) for a in amounts)
    statuses = [r["status"] for r in rows]
    assert "new" not in statuses and 0.70 < statuses.count("sent") / len(statuses) < 0.80
    assert all("@example." in r["mail"] and " " in r["who"] for r in rows)
    low, high = datetime(2024, 1, 1, tzinfo=UTC), datetime(2024, 1, 31, 23, 59, 59, tzinfo=UTC)
    assert all(low <= datetime.fromisoformat(r["at"]) <= high for r in rows)
    keys = [uuid.UUID(r["key"]) for r in rows]
    assert all(k.version == 4 for k in keys) and len(set(keys)) == len(keys)
    assert {r["flag"] for r in rows} == {True, False}


async def test_columns_and_limit_keep_the_values_of_the_rows_that_remain() -> None:
    full = [json.loads(line) for line in (await read_all(make(), "orders.jsonl")).splitlines()]
    part = [
        json.loads(line)
        for line in (await read_all(make(), "orders.jsonl", columns="key,amount", limit="20")).splitlines()
    ]
    assert part == [{"key": r["key"], "amount": r["amount"]} for r in full[:20]]
    with pytest.raises(InvalidInput):
        await read_all(make(), "orders.csv", columns="nope")


async def test_csv_and_parquet_carry_the_same_rows() -> None:
    table = pq.read_table(io.BytesIO(await read_all(make(), "orders.parquet")))
    assert table.num_rows == 12_345 and str(table.schema.field("at").type) == "timestamp[us, tz=UTC]"
    records = list(csv.DictReader(io.StringIO((await read_all(make(), "orders.csv")).decode())))
    assert [int(r["id"]) for r in records] == table.column("id").to_pylist()
    assert [r["key"] for r in records] == table.column("key").to_pylist()


async def test_stat_describes_and_unknown_datasets_are_not_found() -> None:
    entry = await make().stat("orders.parquet")
    assert entry.extra["rows"] == 12_345 and entry.content_type == "application/vnd.apache.parquet"
    described = json.loads(await read_all(make(), "orders"))
    assert [c["name"] for c in described["columns"]][:2] == ["id", "amount"]
    with pytest.raises(NotFound):
        await make().stat("missing.csv")
    with pytest.raises(NotFound):
        await make().stat("orders/deeper.csv")


async def test_the_kind_is_input_only() -> None:
    async def body() -> Any:
        yield b"x"

    with pytest.raises(NotSupported):
        await make().write("orders.csv", body())
    assert not SyntheticConnector.capabilities.output


async def test_empty_params_give_a_sample_dataset() -> None:
    connector = SyntheticConnector(SyntheticParams())
    lines = (await read_all(connector, "people.jsonl", limit="5")).splitlines()
    assert len(lines) == 5 and set(json.loads(lines[0])) >= {"id", "name", "email", "plan"}


@pytest.mark.parametrize(
    "column",
    [
        {"name": "c", "type": "category"},
        {"name": "c", "type": "category", "choices": ["a"], "weights": [1, 2]},
        {"name": "c", "type": "int", "min": 5, "max": 1},
        {"name": "c", "type": "email", "min": 1},
        {"name": "c", "type": "int", "nullable": 2},
        {"name": "c", "type": "colour"},
    ],
)
def test_inconsistent_column_specs_are_refused(column: dict[str, Any]) -> None:
    with pytest.raises(ValidationError):
        SyntheticParams.model_validate({"datasets": {"d": {"rows": 1, "columns": [column]}}})


def test_the_schema_is_published_for_the_catalogue() -> None:
    schema = SyntheticParams.model_json_schema()
    assert "datasets" in schema["properties"] and "SyntheticColumn" in json.dumps(schema)
