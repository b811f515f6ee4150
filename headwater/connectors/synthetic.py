"""The `synthetic` kind: deterministic generated datasets, streamed as CSV, JSON lines or Parquet.

Each column draws from its own generator, seeded by the dataset's seed and the
column's name, using only `random.Random.random()` (whose sequence Python keeps
stable across versions): the same parameters give byte-identical files, and choosing
`columns` or a `limit` does not change the values of the rows that remain.
Rows are generated in batches, so memory stays bounded whatever `rows` says.
"""

from __future__ import annotations

import json
import random
from bisect import bisect_right
from collections.abc import AsyncIterator, Callable, Iterator, Mapping
from datetime import UTC, datetime
from itertools import accumulate
from typing import Any, ClassVar, Literal

import anyio
from pydantic import BaseModel, ConfigDict, Field, model_validator

from headwater.connectors.base import (
    PAGE_SIZE,
    Capabilities,
    Connector,
    Credentials,
    Entry,
    Listing,
    Params,
    decode_marker,
    encode_marker,
)
from headwater.connectors.databases.base import read_options, split_name
from headwater.connectors.databases.columns import Column
from headwater.connectors.databases.formats import BATCH_ROWS, CONTENT_TYPES, FORMATS, encode_all
from headwater.connectors.kind import BuildContext, Kind
from headwater.errors import InvalidInput, NotFound, NotSupported

ColumnType = Literal["int", "float", "category", "name", "email", "timestamp", "uuid", "bool"]
KIND_OF: dict[str, str] = {
    "int": "int64",
    "float": "float64",
    "category": "string",
    "name": "string",
    "email": "string",
    "timestamp": "timestamptz",
    "uuid": "uuid",
    "bool": "bool",
}
FIRST = [
    "Ada",
    "Alan",
    "Amara",
    "Ana",
    "Bruno",
    "Chen",
    "Chloe",
    "Dara",
    "Diego",
    "Elena",
    "Emil",
    "Farah",
    "Grace",
    "Hana",
    "Ines",
    "Ivan",
    "Jonas",
    "Kai",
    "Lena",
    "Liam",
    "Maya",
    "Mateo",
    "Nadia",
    "Noah",
    "Omar",
    "Priya",
    "Rosa",
    "Sami",
    "Sofia",
    "Tariq",
    "Uma",
    "Vera",
    "Wei",
    "Yara",
    "Yusuf",
    "Zoe",
]
LAST = [
    "Abe",
    "Bauer",
    "Costa",
    "Dubois",
    "Eriksen",
    "Fischer",
    "Garcia",
    "Haddad",
    "Ito",
    "Jensen",
    "Kowalski",
    "Lopez",
    "Mensah",
    "Nakamura",
    "Okafor",
    "Patel",
    "Quinn",
    "Rossi",
    "Silva",
    "Tanaka",
    "Umar",
    "Varga",
    "Weber",
    "Xu",
    "Yilmaz",
    "Zhang",
]
DOMAINS = ("example.com", "example.org", "example.net")
EPOCH_MIN = datetime(2020, 1, 1, tzinfo=UTC)
EPOCH_MAX = datetime(2025, 1, 1, tzinfo=UTC)


class SyntheticColumn(BaseModel):
    """One generated column."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=128)
    type: ColumnType
    min: float | datetime | None = Field(
        default=None, description="Lowest value (int, float; an ISO time for timestamp)."
    )
    max: float | datetime | None = Field(
        default=None, description="Highest value (int, float; an ISO time for timestamp)."
    )
    choices: list[str] | None = Field(
        default=None, description="The categories of a `category` column.", max_length=10_000
    )
    weights: list[float] | None = Field(default=None, description="Relative weights of `choices` (default: equal).")
    nullable: float = Field(default=0.0, ge=0.0, le=1.0, description="The share of values that are NULL.")
    decimals: int | None = Field(default=None, ge=0, le=12, description="Round `float` values to this many decimals.")

    @model_validator(mode="after")
    def _consistent(self) -> SyntheticColumn:
        if self.type == "category" and not self.choices:
            raise ValueError(f"column {self.name!r}: a category column needs choices")
        if self.weights is not None:
            if not self.choices or len(self.weights) != len(self.choices):
                raise ValueError(f"column {self.name!r}: weights must match choices one to one")
            if any(w < 0 for w in self.weights) or sum(self.weights) <= 0:
                raise ValueError(f"column {self.name!r}: weights must be non-negative and not all zero")
        kinds = (int, float) if self.type in {"int", "float"} else (datetime,) if self.type == "timestamp" else ()
        for bound in (self.min, self.max):
            if bound is not None and not (kinds and isinstance(bound, kinds) and not isinstance(bound, bool)):
                raise ValueError(
                    f"column {self.name!r}: min/max apply to int, float (numbers) and timestamp (ISO times)"
                )
        if self.min is not None and self.max is not None and self.min > self.max:  # type: ignore[operator]
            raise ValueError(f"column {self.name!r}: min is above max")
        return self


class SyntheticDataset(BaseModel):
    """A dataset: how many rows, the seed, and its columns."""

    model_config = ConfigDict(extra="forbid")

    rows: int = Field(ge=0, le=10**10)
    seed: int = 0
    columns: list[SyntheticColumn] = Field(min_length=1, max_length=500)

    @model_validator(mode="after")
    def _unique(self) -> SyntheticDataset:
        names = [c.name for c in self.columns]
        if len(set(names)) != len(names):
            raise ValueError("column names must be unique")
        return self


DEFAULT_DATASETS = {
    "people": SyntheticDataset(
        rows=1000,
        seed=1,
        columns=[
            SyntheticColumn(name="id", type="uuid"),
            SyntheticColumn(name="name", type="name"),
            SyntheticColumn(name="email", type="email"),
            SyntheticColumn(name="age", type="int", min=18, max=90),
            SyntheticColumn(name="plan", type="category", choices=["free", "pro", "team"], weights=[6, 3, 1]),
            SyntheticColumn(name="score", type="float", min=0, max=100, decimals=2, nullable=0.1),
            SyntheticColumn(name="active", type="bool"),
            SyntheticColumn(name="signed_up", type="timestamp"),
        ],
    )
}


class SyntheticParams(Params):
    """Named datasets; each is served as NAME.csv, NAME.jsonl and NAME.parquet. Empty params give a sample."""

    datasets: dict[str, SyntheticDataset] = Field(default_factory=lambda: dict(DEFAULT_DATASETS), max_length=1000)

    @model_validator(mode="after")
    def _names(self) -> SyntheticParams:
        for name in self.datasets:
            if not name or len(name) > 128 or "/" in name or name.startswith(".") or "\x00" in name:
                raise ValueError(f"dataset name {name!r} is invalid: 1-128 characters, no '/', not starting with '.'")
        return self


class _Stream:
    """The value sequence of one column, drawn a batch at a time."""

    def __init__(self, spec: SyntheticColumn, seed: int) -> None:
        rng = random.Random(f"{seed}:{spec.name}")
        self.draw = rng.random
        self.null = spec.nullable
        self.make = _maker(spec, self.draw)

    def take(self, n: int) -> list[Any]:
        make, draw, null = self.make, self.draw, self.null
        if not null:
            return [make() for _ in range(n)]
        return [None if draw() < null else make() for _ in range(n)]


def _maker(spec: SyntheticColumn, draw: Callable[[], float]) -> Callable[[], Any]:
    kind = spec.type
    if kind == "int":
        low = int(spec.min) if spec.min is not None else 0  # type: ignore[arg-type]
        span = (int(spec.max) if spec.max is not None else 1_000_000) - low + 1  # type: ignore[arg-type]
        return lambda: low + int(draw() * span)
    if kind == "float":
        lo = float(spec.min) if spec.min is not None else 0.0  # type: ignore[arg-type]
        width = (float(spec.max) if spec.max is not None else 1.0) - lo  # type: ignore[arg-type]
        if spec.decimals is not None:
            places = spec.decimals
            return lambda: round(lo + draw() * width, places)
        return lambda: lo + draw() * width
    if kind == "category":
        choices = list(spec.choices or [])
        cumulative = list(accumulate(spec.weights or [1.0] * len(choices)))
        total = cumulative[-1]
        last = len(choices) - 1
        return lambda: choices[min(bisect_right(cumulative, draw() * total), last)]
    if kind == "name":
        return lambda: f"{FIRST[int(draw() * len(FIRST))]} {LAST[int(draw() * len(LAST))]}"
    if kind == "email":
        return lambda: (
            f"{FIRST[int(draw() * len(FIRST))].lower()}.{LAST[int(draw() * len(LAST))].lower()}"
            f"{int(draw() * 1000)}@{DOMAINS[int(draw() * len(DOMAINS))]}"
        )
    if kind == "timestamp":
        start = _utc(spec.min) if spec.min is not None else EPOCH_MIN  # type: ignore[arg-type]
        end = _utc(spec.max) if spec.max is not None else EPOCH_MAX  # type: ignore[arg-type]
        first = int(start.timestamp())
        seconds = int(end.timestamp()) - first + 1
        return lambda: datetime.fromtimestamp(first + int(draw() * seconds), tz=UTC)
    if kind == "uuid":

        def make_uuid() -> str:
            h = f"{int(draw() * 2**53):014x}{int(draw() * 2**53):014x}{int(draw() * 2**22):06x}"
            return f"{h[:8]}-{h[8:12]}-4{h[12:15]}-{'89ab'[int(h[15], 16) & 3]}{h[16:19]}-{h[19:31]}"

        return make_uuid
    return lambda: draw() < 0.5


def _utc(moment: datetime) -> datetime:
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def columns_of(dataset: SyntheticDataset, names: list[str] | None = None) -> list[SyntheticColumn]:
    if names is None:
        return list(dataset.columns)
    by_name = {c.name: c for c in dataset.columns}
    missing = [n for n in names if n not in by_name]
    if missing:
        raise InvalidInput(f"columns: {', '.join(repr(m) for m in missing)} not in the dataset")
    return [by_name[n] for n in names]


def batches(
    dataset: SyntheticDataset, specs: list[SyntheticColumn], limit: int | None = None
) -> Iterator[list[tuple[Any, ...]]]:
    """The dataset's rows, `BATCH_ROWS` at a time."""
    total = dataset.rows if limit is None else min(limit, dataset.rows)
    streams = [_Stream(spec, dataset.seed) for spec in specs]
    done = 0
    while done < total:
        n = min(BATCH_ROWS, total - done)
        cols = [stream.take(n) for stream in streams]
        done += n
        yield list(zip(*cols, strict=True))


def describe(name: str, dataset: SyntheticDataset) -> dict[str, Any]:
    return {
        "dataset": name,
        "rows": dataset.rows,
        "seed": dataset.seed,
        "columns": [
            {"name": c.name, "type": c.type, "kind": KIND_OF[c.type], "nullable": c.nullable > 0}
            for c in dataset.columns
        ],
        "files": [f"{name}.{fmt}" for fmt in FORMATS],
    }


class SyntheticConnector(Connector):
    """Generated datasets; input only."""

    kind: ClassVar[str] = "synthetic"
    capabilities: ClassVar[Capabilities] = Capabilities(input=True, output=False)
    read_options: ClassVar[frozenset[str]] = frozenset({"columns", "limit"})

    def __init__(self, params: SyntheticParams) -> None:
        self.datasets = params.datasets

    def _find(self, path: str) -> tuple[str, SyntheticDataset, str | None]:
        if "/" in path:
            raise NotFound(f"{path!r} does not exist: datasets are NAME.csv, NAME.jsonl or NAME.parquet")
        stem, fmt = split_name(path)
        if fmt is not None and stem in self.datasets:
            return stem, self.datasets[stem], fmt
        if path in self.datasets:
            return path, self.datasets[path], None
        raise NotFound(f"no dataset {stem!r}: this source defines {', '.join(sorted(self.datasets)) or 'none'}")

    def _entry(self, name: str, dataset: SyntheticDataset, fmt: str | None) -> Entry:
        extra = describe(name, dataset)
        if fmt is None:
            return Entry(name=name, is_dir=False, content_type="application/json", extra=extra)
        return Entry(name=f"{name}.{fmt}", is_dir=False, content_type=CONTENT_TYPES[fmt], extra=extra)

    async def check(self, *, write: bool = False) -> None:
        """Nothing to reach: the parameters were validated when the source was saved. Writes are refused."""
        if write:
            raise NotSupported("a synthetic source is input-only: give it access 'read'")

    async def stat(self, path: str) -> Entry:
        if not path:
            return Entry(name="", is_dir=True)
        return self._entry(*self._find(path))

    async def list(self, path: str, marker: str | None = None, limit: int = PAGE_SIZE) -> Listing:
        if path:
            self._find(path)
            raise InvalidInput(f"{path!r} is a dataset, not a directory")
        after = decode_marker(marker)
        files = sorted(
            (self._entry(n, d, fmt) for n, d in self.datasets.items() for fmt in FORMATS), key=lambda e: e.name
        )
        page = [e for e in files if after is None or e.name > after]
        rest = len(page) > limit
        page = page[:limit]
        return Listing([], page, encode_marker(page[-1].name) if rest else None)

    async def read(
        self, path: str, start: int | None = None, end: int | None = None, *, options: Mapping[str, str] | None = None
    ) -> AsyncIterator[bytes]:
        if start or end is not None:
            raise InvalidInput("datasets are generated as they are read: byte ranges are not supported")
        name, dataset, fmt = self._find(path)
        if fmt is None:
            yield json.dumps(describe(name, dataset), indent=2).encode() + b"\n"
            return
        names, limit = read_options(options)
        specs = columns_of(dataset, names)
        columns = [Column(s.name, KIND_OF[s.type], s.type, s.nullable > 0) for s in specs]
        chunks = encode_all(fmt, columns, "synthetic", batches(dataset, specs, limit))
        while True:
            chunk = await anyio.to_thread.run_sync(next, chunks, None)
            if chunk is None:
                return
            yield chunk


def build(params: SyntheticParams, credentials: Credentials | None, ctx: BuildContext) -> Connector:
    return SyntheticConnector(params)


KIND = Kind(
    name="synthetic",
    title="Synthetic data",
    description="Deterministic generated datasets (ints, floats, categories, names, emails, times, UUIDs), for tests.",
    params=SyntheticParams,
    capabilities=SyntheticConnector.capabilities,
    build=build,
)
