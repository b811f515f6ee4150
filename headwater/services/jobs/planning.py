"""Partitioners: from the source listing to partitions with fixed output names.

* `object`: one partition per object matching the glob.
* `size` (`bytes`): byte ranges of at most `bytes` of each object.
* `rows` (`rows`): ranges of at most `rows` rows: CSV and JSONL by a streaming scan of
  row boundaries (CSV quotes respected; every CSV partition gets the header), Parquet
  by row groups, and any kind whose connector implements `RowRangeSource` (databases,
  synthetic data) by asking it.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import replace
from functools import partial
from itertools import pairwise
from pathlib import PurePosixPath
from typing import Any, Protocol, runtime_checkable

import anyio

from headwater import policy
from headwater.addresses import Address, join, normalise_path
from headwater.connectors.base import Entry
from headwater.errors import InvalidInput
from headwater.services import data
from headwater.services.jobs.apps import App
from headwater.services.jobs.inputs import RandomFile, format_of
from headwater.services.jobs.spec import PartitionSpec, Planned

MAX_PARTITIONS = 100_000
PARTITIONERS = ("object", "size", "rows")
Check = Callable[[], Awaitable[None]]


@runtime_checkable
class RowRangeSource(Protocol):
    """A connector that serves row ranges of a path itself (a table, a synthetic data set).

    `read_rows` streams rows [first, stop) as `row_format` ("csv" with a header line, or "jsonl").
    """

    row_format: str

    async def row_count(self, path: str) -> int: ...

    def read_rows(self, path: str, first: int, stop: int) -> AsyncIterator[bytes]: ...


def check_params(name: str, params: dict[str, Any]) -> dict[str, Any]:
    """Validate a partitioner's params at create time."""
    if name not in PARTITIONERS:
        raise InvalidInput(f"unknown partitioner {name!r}: use one of {', '.join(PARTITIONERS)}")
    known = {"object": set(), "size": {"bytes"}, "rows": {"rows", "format"}}[name]
    extra = set(params) - known
    if extra:
        raise InvalidInput(f"partitioner {name!r}: unknown params {', '.join(sorted(extra))}")
    if name == "size":
        size = params.get("bytes")
        if not isinstance(size, int) or isinstance(size, bool) or size < 1:
            raise InvalidInput("partitioner 'size': param 'bytes' must be a positive integer")
    if name == "rows":
        rows = params.get("rows")
        if not isinstance(rows, int) or isinstance(rows, bool) or rows < 1:
            raise InvalidInput("partitioner 'rows': param 'rows' must be a positive integer")
        format_of("", params.get("format"))
    return dict(params)


def at(target: data.Target, path: str, is_dir: bool = False) -> data.Target:
    """The same opened connection at another full path, which must be a normal path (no `..`, no `//`)."""
    address = target.address
    normal, _ = normalise_path(path)
    if normal != path:
        raise InvalidInput(f"{path!r} is not a normalised path")
    return replace(target, address=Address(address.protocol, address.label, path, is_dir))


async def list_files(
    base: data.Target, pattern: str | None, recursive: bool, matches: Callable[[str], bool]
) -> list[tuple[str, Entry]]:
    """Every file below `base` whose relative path matches, sorted; bounded by MAX_PARTITIONS."""
    if pattern is None:
        return [("", await data.stat(base))]
    found: list[tuple[str, Entry]] = []
    queue = [""]
    while queue:
        relative = queue.pop(0)
        here = at(base, join(base.address.path, relative) if relative else base.address.path, True)
        marker: str | None = None
        while True:
            page = await data.list_page(here, marker)
            for entry in page.files:
                name = join(relative, entry.name)
                if matches(name):
                    found.append((name, entry))
                    if len(found) > MAX_PARTITIONS:
                        raise InvalidInput(f"the source matches more than {MAX_PARTITIONS} objects: narrow the glob")
            if recursive:
                queue += [join(relative, folder.name) for folder in page.folders]
            marker = page.marker
            if marker is None:
                break
    return sorted(found, key=lambda item: item[0])


def part_name(name: str, number: int, count: int) -> str:
    if count == 1:
        return name
    path = PurePosixPath(name)
    return str(path.with_name(f"{path.stem}.part-{number:05d}{path.suffix}"))


class BoundaryScanner:
    """Finds the byte offset after every `every`-th row of a CSV (quotes respected) or JSONL stream."""

    _TOKENS = re.compile(rb'["\n]')

    def __init__(self, every: int, csv: bool) -> None:
        self.every = every
        self.csv = csv
        self.header_end: int | None = None if csv else 0
        self.boundaries: list[int] = []
        self._offset = 0
        self._in_quotes = False
        self._rows = 0

    def _row_end(self, position: int) -> None:
        if self.header_end is None:
            self.header_end = position
            return
        self._rows += 1
        if self._rows % self.every == 0:
            self.boundaries.append(position)

    def feed(self, chunk: bytes) -> None:
        base = self._offset
        self._offset += len(chunk)
        if not self.csv or (not self._in_quotes and b'"' not in chunk):
            position = chunk.find(b"\n")
            while position != -1:
                self._row_end(base + position + 1)
                position = chunk.find(b"\n", position + 1)
            return
        for match in self._TOKENS.finditer(chunk):
            if match.group() == b'"':
                self._in_quotes = not self._in_quotes
            elif not self._in_quotes:
                self._row_end(base + match.end())

    def ranges(self) -> tuple[tuple[int, int] | None, list[tuple[int, int]]]:
        """(header range or None, the row ranges) once the whole stream was fed."""
        start = self.header_end if self.header_end is not None else self._offset
        edges = [start] + [b for b in self.boundaries if b > start]
        if edges[-1] < self._offset or len(edges) == 1:
            edges.append(self._offset)
        header = (0, start) if self.csv else None
        return header, list(pairwise(edges))


async def _scan(
    target: data.Target, rows: int, csv: bool, check: Check
) -> tuple[tuple[int, int] | None, list[tuple[int, int]]]:
    scanner = BoundaryScanner(rows, csv)
    async for chunk in await data.read(target):
        await check()
        scanner.feed(chunk)
    return scanner.ranges()


async def _row_groups(target: data.Target, size: int, rows: int) -> list[tuple[int, ...]]:
    import pyarrow.parquet as pq

    random = RandomFile(partial(data.read, target), size)

    def groups() -> list[tuple[int, ...]]:
        meta = pq.ParquetFile(random, pre_buffer=False).metadata
        result: list[tuple[int, ...]] = []
        current: list[int] = []
        count = 0
        for index in range(meta.num_row_groups):
            current.append(index)
            count += meta.row_group(index).num_rows
            if count >= rows:
                result.append(tuple(current))
                current, count = [], 0
        if current or not result:
            result.append(tuple(current))
        return result

    return await anyio.to_thread.run_sync(groups)


async def _rows(
    target: data.Target, relative: str, name: str, entry: Entry, params: dict[str, Any], check: Check
) -> list[PartitionSpec]:
    rows = int(params["rows"])
    connector = target.connector
    if isinstance(connector, RowRangeSource):
        target.authorize(policy.Operation.READ)
        total = await connector.row_count(target.path)
        edges = [*range(0, total, rows), total]
        pairs = list(pairwise(edges)) or [(0, 0)]
        return [PartitionSpec(relative, rows=pair, format=connector.row_format) for pair in pairs]
    fmt = format_of(name, params.get("format"))
    if fmt == "parquet":
        groups = await _row_groups(target, entry.size or 0, rows)
        return [PartitionSpec(relative, size=entry.size, row_groups=g, format=fmt) for g in groups]
    if fmt not in ("csv", "jsonl"):
        raise InvalidInput(f"partitioner 'rows' reads CSV, JSONL or Parquet: {name!r} is none (set param 'format')")
    header, ranges = await _scan(target, rows, fmt == "csv", check)
    return [PartitionSpec(relative, size=entry.size, start=a, end=b, header=header, format=fmt) for a, b in ranges]


async def plan(
    base: data.Target,
    files: list[tuple[str, Entry]],
    partitioner: str,
    params: dict[str, Any],
    app: App,
    app_params: dict[str, Any],
    check: Check,
) -> list[Planned]:
    """The partitions of a job, in order, each with the fixed output name it writes."""
    planned: list[Planned] = []
    single = len(files) == 1 and files[0][0] == ""
    for relative, entry in files:
        name = relative or PurePosixPath(base.address.path).name
        target = base if single else at(base, join(base.address.path, relative))
        if partitioner == "object":
            specs = [PartitionSpec(relative, size=entry.size, format=format_of(name, params.get("format")))]
        elif partitioner == "size":
            step = int(params["bytes"])
            size = entry.size if entry.size is not None else (await data.stat(target)).size or 0
            specs = [PartitionSpec(relative, size=size, start=s, end=min(s + step, size)) for s in range(0, size, step)]
            specs = specs or [PartitionSpec(relative, size=0, start=0, end=0)]
        else:
            specs = await _rows(target, relative, name, entry, params, check)
        for number, spec in enumerate(specs):
            output = app.output_name(part_name(name, number, len(specs)), app_params)
            if normalise_path(output) != (output, False):
                raise InvalidInput(f"output name {output!r} is not a relative file path")
            planned.append(Planned(spec, output))
        if len(planned) > MAX_PARTITIONS:
            raise InvalidInput(f"the job would have more than {MAX_PARTITIONS} partitions: use larger ones")
    seen: set[str] = set()
    for item in planned:
        if item.output in seen:
            raise InvalidInput(f"two partitions would write the same output {item.output!r}")
        seen.add(item.output)
    return planned
