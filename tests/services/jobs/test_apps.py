"""The convert app on one partition: a small input is read whole before pyarrow starts, a larger one
streams through the thread; either way the output is the table, written in chunks of the hub's size."""

import io
import json
from collections.abc import AsyncIterator

import pyarrow as pa
import pyarrow.csv as pa_csv
import pyarrow.parquet as pq
import pytest

from headwater.connectors.base import Entry
from headwater.services.jobs import apps
from headwater.services.jobs.inputs import PartitionInput
from tests.fixtures.loops import run_coroutine

CHUNK = 1024


def csv_bytes(rows: int) -> tuple[pa.Table, bytes]:
    table = pa.table({"id": list(range(rows)), "name": [f"row {i}" for i in range(rows)]})
    sink = io.BytesIO()
    pa_csv.write_csv(table, sink)
    return table, sink.getvalue()


async def convert(body: bytes, to: str) -> tuple[bytes, list[int], int]:
    """Convert `body` (CSV, served in chunks of CHUNK bytes); the output, its chunk sizes, and the chunks read."""
    served: list[int] = []

    async def chunks() -> AsyncIterator[bytes]:
        for start in range(0, len(body), CHUNK):
            served.append(start)
            yield body[start : start + CHUNK]

    written: list[bytes] = []

    async def write(output: AsyncIterator[bytes]) -> Entry:
        async for chunk in output:
            written.append(chunk)
        return Entry(name="out", is_dir=False, size=sum(map(len, written)))

    context = apps.AppContext(
        input=PartitionInput("in.csv", "csv", chunks), params={"to": to}, write=write, chunk_size=CHUNK
    )
    entry = await apps.get("convert").run(context)
    output = b"".join(written)
    assert entry.size == len(output)
    return output, [len(c) for c in written], len(served)


@pytest.mark.parametrize("rows", [20, 5000])  # within the read-ahead; many times beyond it
def test_csv_converts_to_parquet_whether_read_whole_or_streamed(rows: int) -> None:
    table, body = csv_bytes(rows)
    output, sizes, served = run_coroutine(convert(body, "parquet"))
    assert pq.read_table(io.BytesIO(output)).equals(table)
    assert served == -(-len(body) // CHUNK)
    assert all(size >= CHUNK for size in sizes[:-1])  # pyarrow's small writes reach the destination a chunk at a time


def test_a_streamed_csv_converts_to_json_lines_row_for_row() -> None:
    table, body = csv_bytes(3000)
    assert len(body) > apps.READ_AHEAD * CHUNK
    output, _, _ = run_coroutine(convert(body, "jsonl"))
    assert [json.loads(line) for line in output.splitlines()] == table.to_pylist()
