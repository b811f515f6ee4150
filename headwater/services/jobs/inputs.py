"""What an app reads: one partition's bytes as a stream, or its object with random access (Parquet)."""

from __future__ import annotations

import io
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass
from pathlib import PurePosixPath
from typing import Any

import anyio
import anyio.lowlevel

from headwater.errors import InvalidInput

FORMATS = {
    ".csv": "csv",
    ".jsonl": "jsonl",
    ".ndjson": "jsonl",
    ".json": "jsonl",
    ".parquet": "parquet",
    ".pq": "parquet",
}
SUFFIX = {"csv": ".csv", "jsonl": ".jsonl", "parquet": ".parquet"}

#: Opens the bytes [start, end) of one object (as `services.data.read` does).
RangeReader = Callable[[int, int], Awaitable[AsyncIterator[bytes]]]


def format_of(name: str, given: str | None = None) -> str | None:
    """The tabular format of a file: given explicitly, or from its extension."""
    if given:
        if given not in SUFFIX:
            raise InvalidInput(f"format {given!r} is not one of {', '.join(SUFFIX)}")
        return given
    return FORMATS.get(PurePosixPath(name).suffix.lower())


class RandomFile(io.RawIOBase):
    """A seekable blocking reader over ranged reads of one object (for Parquet); made in the loop, read anywhere."""

    def __init__(self, read_range: RangeReader, size: int, token: Any = None) -> None:
        self._read_range = read_range
        self._token = token if token is not None else anyio.lowlevel.current_token()
        self._size = size
        self._pos = 0

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._pos

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self._pos, io.SEEK_END: self._size}[whence]
        self._pos = max(0, base + offset)
        return self._pos

    def size(self) -> int:
        return self._size

    async def _fetch(self, start: int, end: int) -> bytes:
        parts = [chunk async for chunk in await self._read_range(start, end)]
        return b"".join(parts)

    def readinto(self, target: Any) -> int:
        view = memoryview(target).cast("B")
        end = min(self._size, self._pos + len(view))
        if end <= self._pos:
            return 0
        data = anyio.from_thread.run(self._fetch, self._pos, end, token=self._token)
        view[: len(data)] = data
        self._pos += len(data)
        return len(data)


@dataclass
class PartitionInput:
    """One partition as an app sees it: its name and format, and ways to read it (never a connector)."""

    name: str
    format: str | None
    chunks: Callable[[], AsyncIterator[bytes]]
    random: Callable[[], Awaitable[RandomFile]] | None = None
    row_groups: tuple[int, ...] | None = None

    def batches(self, readable: Callable[[], Any], random: RandomFile | None) -> Iterator[Any]:
        """Record batches of a tabular partition (blocking: call from the app's thread). `readable` opens
        a CSV or JSONL input (a file, Python's or pyarrow's); `random` serves a Parquet one."""
        import pyarrow.csv as pa_csv
        import pyarrow.json as pa_json
        import pyarrow.parquet as pq

        if self.format == "csv":
            yield from pa_csv.open_csv(
                readable(),
                read_options=pa_csv.ReadOptions(block_size=1 << 20, use_threads=False),
            )
        elif self.format == "jsonl":
            yield from pa_json.open_json(
                readable(),
                read_options=pa_json.ReadOptions(block_size=1 << 20, use_threads=False),
            )
        elif self.format == "parquet":
            if random is None:
                raise InvalidInput(
                    "a Parquet input needs a whole object or row groups: use the object or rows partitioner"
                )
            parquet = pq.ParquetFile(io.BufferedReader(random, 1 << 20), pre_buffer=False)
            groups = list(self.row_groups) if self.row_groups is not None else None
            yield from parquet.iter_batches(batch_size=64 * 1024, row_groups=groups, use_threads=False)
        else:
            raise InvalidInput(f"{self.name!r} is not CSV, JSONL or Parquet: say which with the app param 'from'")
