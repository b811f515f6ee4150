"""The connector contract, written once, in mixins chosen by what a kind can show (as fsspec's abstract tests).

A kind's test class states its `Traits` and inherits `contract(traits)`: the mixins its traits
call for, so it collects only the tests it can pass, and every kind runs the same ones for
the same trait. The fixtures a class provides:

- `connector`: the connection under test; for an output kind an empty, writable root;
- `sample` (input kinds): a `Sample` naming a file the connection serves and its bytes;
- `table` (table kinds): a `SampleTable` in the database behind the connection.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import os
from collections.abc import AsyncIterator
from dataclasses import dataclass

import pyarrow.parquet as pq
import pytest

from headwater.connectors.base import Connector, Span
from headwater.errors import Conflict, InvalidInput, NotFound, NotSupported, RangeNotSatisfiable


@dataclass(frozen=True)
class Traits:
    """What a kind can show. input: files read back; output: writes stored; directories: mkdir/rmdir;
    ranges: byte ranges; listing: directories list in pages; retains: what is written is kept
    (a sink discards it); tables: paths are SCHEMA/TABLE.csv|.jsonl|.parquet of a database;
    copies: files are copied within the connection without their bytes passing through the hub."""

    input: bool = True
    output: bool = True
    directories: bool = True
    ranges: bool = True
    listing: bool = True
    retains: bool = True
    tables: bool = False
    copies: bool = False


@dataclass(frozen=True)
class Sample:
    """A file an input kind serves: its path, and its bytes (None: generated, known only as deterministic)."""

    path: str
    data: bytes | None


@dataclass(frozen=True)
class SampleTable:
    """A table behind a database kind: its schema, name, columns and rows (as text)."""

    schema: str
    name: str
    columns: list[str]
    rows: list[list[str]]


async def chunks_of(data: bytes, size: int = 64 * 1024) -> AsyncIterator[bytes]:
    for i in range(0, len(data), size):
        yield data[i : i + size]


async def failing_after(data: bytes) -> AsyncIterator[bytes]:
    yield data
    raise RuntimeError("the client went away mid-upload")


async def read_all(connector: Connector, path: str, start: int | None = None, end: int | None = None) -> bytes:
    return b"".join([chunk async for chunk in connector.read(path, start, end)])


async def list_all(connector: Connector, path: str, limit: int) -> tuple[list[str], list[str], int]:
    folders: list[str] = []
    files: list[str] = []
    pages = 0
    marker = None
    while True:
        page = await connector.list(path, marker, limit)
        pages += 1
        folders += [f.name for f in page.folders]
        files += [f.name for f in page.files]
        marker = page.marker
        if not marker:
            return folders, files, pages


# -- input ---------------------------------------------------------------------------------


class ReadContract:
    """An input kind serves its files' bytes and says what is not there."""

    async def test_the_sample_reads_back_verbatim(self, connector: Connector, sample: Sample) -> None:
        data = await read_all(connector, sample.path)
        if sample.data is None:  # generated: the same bytes every time
            assert data and data == await read_all(connector, sample.path)
        else:
            assert hashlib.sha256(data).digest() == hashlib.sha256(sample.data).digest()

    async def test_stat_of_the_sample_is_a_file_of_its_size(self, connector: Connector, sample: Sample) -> None:
        entry = await connector.stat(sample.path)
        assert not entry.is_dir and entry.name == sample.path.rsplit("/", 1)[-1]
        if sample.data is not None:
            assert entry.size == len(sample.data)

    async def test_open_read_gives_the_entry_and_the_bytes(self, connector: Connector, sample: Sample) -> None:
        opened = await connector.open_read(sample.path)
        try:
            data = b"".join([chunk async for chunk in opened.chunks])
        finally:
            await opened.aclose()
        assert not opened.entry.is_dir and opened.span is None
        assert data == (sample.data if sample.data is not None else await read_all(connector, sample.path))

    async def test_the_root_is_a_directory(self, connector: Connector) -> None:
        assert (await connector.stat("")).is_dir

    async def test_stat_of_a_missing_path_is_not_found(self, connector: Connector) -> None:
        with pytest.raises(NotFound):
            await connector.stat("no-such-file.txt")

    async def test_read_of_a_missing_path_is_not_found(self, connector: Connector) -> None:
        with pytest.raises(NotFound):
            await read_all(connector, "no-such-file.txt")


class RangeContract:
    """Byte ranges return exactly the range; one that selects nothing is refused as such."""

    async def test_ranged_reads_return_exactly_the_range(self, connector: Connector, sample: Sample) -> None:
        data = sample.data
        assert data is not None and len(data) >= 32, "a range sample needs at least 32 known bytes"
        assert await read_all(connector, sample.path, 10, 20) == data[10:20]
        assert await read_all(connector, sample.path, len(data) - 5, None) == data[-5:]
        assert await read_all(connector, sample.path, 0, 1) == data[:1]

    async def test_open_read_of_a_span_serves_that_span(self, connector: Connector, sample: Sample) -> None:
        data = sample.data
        assert data is not None
        opened = await connector.open_read(sample.path, Span(suffix=3))
        try:
            got = b"".join([chunk async for chunk in opened.chunks])
        finally:
            await opened.aclose()
        assert got == data[-3:] and opened.span == (len(data) - 3, len(data)) and opened.entry.size == len(data)

    async def test_a_span_past_the_end_is_not_satisfiable(self, connector: Connector, sample: Sample) -> None:
        data = sample.data
        assert data is not None
        with pytest.raises(RangeNotSatisfiable):
            opened = await connector.open_read(sample.path, Span(start=len(data)))
            await opened.aclose()


class NoRangeContract:
    """A kind that generates its bytes as they are read refuses byte ranges by name."""

    async def test_byte_ranges_are_refused(self, connector: Connector, sample: Sample) -> None:
        with pytest.raises(InvalidInput):
            await read_all(connector, sample.path, 0, 1)


class ListingContract:
    """A directory lists what it holds; a missing one is not found."""

    async def test_the_root_lists_the_sample(self, connector: Connector, sample: Sample) -> None:
        first, _, rest = sample.path.partition("/")
        folders, files, _ = await list_all(connector, "", 1000)
        assert first in (folders if rest else files)

    async def test_listing_a_missing_directory_is_not_found(self, connector: Connector) -> None:
        with pytest.raises(NotFound):
            await connector.list("nowhere")


class NoListingContract:
    """A kind without listings (a folder URL) refuses one by name."""

    async def test_listing_is_refused(self, connector: Connector) -> None:
        with pytest.raises(NotSupported):
            await connector.list("")


class InputOnlyContract:
    """An input-only kind refuses every change as NotSupported: the kind cannot, whoever asks."""

    async def test_writes_are_refused(self, connector: Connector) -> None:
        with pytest.raises(NotSupported):
            await connector.write("x.txt", chunks_of(b"x"))

    async def test_a_write_check_is_refused(self, connector: Connector) -> None:
        with pytest.raises(NotSupported):
            await connector.check(write=True)

    async def test_deletes_are_refused(self, connector: Connector, sample: Sample) -> None:
        with pytest.raises(NotSupported):
            await connector.delete(sample.path)

    async def test_directories_cannot_be_made(self, connector: Connector) -> None:
        with pytest.raises(NotSupported):
            await connector.mkdir("made")

    async def test_a_read_check_passes(self, connector: Connector) -> None:
        await connector.check()


# -- output --------------------------------------------------------------------------------


class WrittenSample:
    """An output kind's sample is a file written through it."""

    @pytest.fixture
    async def sample(self, connector: Connector) -> Sample:
        data = bytes(range(256)) * 40
        await connector.write("sample/data.bin", chunks_of(data))
        return Sample("sample/data.bin", data)


class OutputContract(WrittenSample):
    """What is written is stored whole and atomically, and can be replaced and deleted."""

    async def test_written_bytes_read_back_verbatim(self, connector: Connector) -> None:
        data = os.urandom(300_000)
        entry = await connector.write("dir/blob.bin", chunks_of(data))
        assert entry.size == len(data)
        assert hashlib.sha256(await read_all(connector, "dir/blob.bin")).digest() == hashlib.sha256(data).digest()

    async def test_empty_files_are_files(self, connector: Connector) -> None:
        await connector.write("empty.txt", chunks_of(b""))
        entry = await connector.stat("empty.txt")
        assert not entry.is_dir and entry.size == 0
        assert await read_all(connector, "empty.txt") == b""

    async def test_stat_reports_size_and_time(self, connector: Connector) -> None:
        await connector.write("a.txt", chunks_of(b"hello"))
        entry = await connector.stat("a.txt")
        assert entry.size == 5 and entry.modified is not None and not entry.is_dir

    async def test_overwrite_replaces_the_content(self, connector: Connector) -> None:
        await connector.write("o.txt", chunks_of(b"first version"))
        await connector.write("o.txt", chunks_of(b"second"))
        assert await read_all(connector, "o.txt") == b"second"

    async def test_a_failed_upload_leaves_no_object(self, connector: Connector) -> None:
        with pytest.raises(RuntimeError, match="went away mid-upload"):
            await connector.write("partial.bin", failing_after(os.urandom(100_000)))
        with pytest.raises(NotFound):
            await connector.stat("partial.bin")
        _folders, files, _ = await list_all(connector, "", 1000)
        assert files == []

    async def test_a_failed_overwrite_keeps_the_old_content(self, connector: Connector) -> None:
        await connector.write("keep.txt", chunks_of(b"committed"))
        with pytest.raises(RuntimeError, match="went away mid-upload"):
            await connector.write("keep.txt", failing_after(b"half"))
        assert await read_all(connector, "keep.txt") == b"committed"

    async def test_delete_removes_a_file(self, connector: Connector) -> None:
        await connector.write("gone.txt", chunks_of(b"x"))
        await connector.delete("gone.txt")
        with pytest.raises(NotFound):
            await connector.stat("gone.txt")

    async def test_deleting_a_missing_file_is_not_found(self, connector: Connector) -> None:
        with pytest.raises(NotFound):
            await connector.delete("never-was.txt")

    async def test_a_write_check_passes(self, connector: Connector) -> None:
        await connector.check(write=True)


class PagedListingContract:
    """Listing pages cover every entry exactly once, folders apart from files."""

    async def test_listing_pages_cover_everything_once(self, connector: Connector) -> None:
        names = [f"f{i:03d}.txt" for i in range(25)]
        for name in names:
            await connector.write(f"many/{name}", chunks_of(b"x"))
        await connector.write("many/sub/inner.txt", chunks_of(b"y"))
        folders, files, pages = await list_all(connector, "many", 10)
        assert pages >= 3
        assert sorted(files) == names and folders == ["sub"]


class DirectoryContract:
    """Directories are made and removed; a non-empty one only on purpose."""

    async def test_mkdir_then_rmdir(self, connector: Connector) -> None:
        await connector.mkdir("made")
        assert (await connector.stat("made")).is_dir
        folders, _, _ = await list_all(connector, "", 1000)
        assert "made" in folders
        await connector.rmdir("made")
        with pytest.raises(NotFound):
            await connector.stat("made")

    async def test_rmdir_of_a_non_empty_directory_needs_recursive(self, connector: Connector) -> None:
        await connector.write("full/a.txt", chunks_of(b"a"))
        await connector.write("full/deep/b.txt", chunks_of(b"b"))
        with pytest.raises(Conflict):
            await connector.rmdir("full")
        assert await connector.rmdir("full", recursive=True) == 2
        with pytest.raises(NotFound):
            await connector.stat("full/a.txt")


class SinkContract:
    """A sink accepts every write and keeps nothing."""

    async def test_writes_are_counted_and_discarded(self, connector: Connector) -> None:
        entry = await connector.write("out/a.bin", chunks_of(b"x" * 1000))
        assert entry.size == 1000 and entry.name == "a.bin"
        with pytest.raises(NotFound):
            await connector.stat("out/a.bin")
        folders, files, _ = await list_all(connector, "", 1000)
        assert folders == [] and files == []

    async def test_nothing_is_ever_found(self, connector: Connector) -> None:
        with pytest.raises(NotFound):
            await read_all(connector, "out/a.bin")
        with pytest.raises(NotFound):
            await connector.list("out")
        with pytest.raises(NotFound):
            await connector.delete("out/a.bin")

    async def test_checks_pass_and_directories_are_accepted(self, connector: Connector) -> None:
        await connector.check(write=True)
        await connector.mkdir("made")
        assert (await connector.stat("")).is_dir


class CopyContract(WrittenSample):
    """A kind that copies within its connection makes a whole, separate copy, atomically, as a write would."""

    async def test_a_copy_reads_back_verbatim_and_keeps_the_source(self, connector: Connector, sample: Sample) -> None:
        assert sample.data is not None
        entry = await connector.copy(sample.path, "copies/one.bin")
        assert entry is not None and not entry.is_dir and entry.size == len(sample.data)
        assert await read_all(connector, "copies/one.bin") == sample.data
        assert await read_all(connector, sample.path) == sample.data
        await connector.write(sample.path, chunks_of(b"changed"))
        assert await read_all(connector, "copies/one.bin") == sample.data

    async def test_a_copy_replaces_what_was_there(self, connector: Connector, sample: Sample) -> None:
        await connector.write("copies/two.bin", chunks_of(b"the old content"))
        entry = await connector.copy(sample.path, "copies/two.bin", len(sample.data or b""))
        assert entry is not None and await read_all(connector, "copies/two.bin") == sample.data

    async def test_a_copy_of_a_missing_file_is_not_found_and_makes_nothing(self, connector: Connector) -> None:
        with pytest.raises(NotFound):
            await connector.copy("no-such-file.txt", "copies/none.bin")
        with pytest.raises(NotFound):
            await connector.stat("copies/none.bin")

    async def test_a_copy_onto_a_directory_is_a_conflict(self, connector: Connector, sample: Sample) -> None:
        await connector.write("taken/inner.txt", chunks_of(b"x"))
        with pytest.raises(Conflict):
            await connector.copy(sample.path, "taken")
        assert await read_all(connector, "taken/inner.txt") == b"x"


class NoCopyContract:
    """A kind without a copy of its own leaves every copy to the caller, who streams it."""

    async def test_a_copy_is_left_to_the_caller(self, connector: Connector) -> None:
        assert await connector.copy("a.txt", "b.txt") is None


# -- tables --------------------------------------------------------------------------------


def _csv_rows(data: bytes) -> list[list[str]]:
    return list(csv.reader(io.StringIO(data.decode())))


class DatabaseContract:
    """Schemas are folders and tables files in three formats; a table loads in one transaction."""

    async def test_the_root_lists_the_schema_and_the_schema_its_table(
        self, connector: Connector, table: SampleTable
    ) -> None:
        folders, _, _ = await list_all(connector, "", 1000)
        assert table.schema in folders
        _, files, _ = await list_all(connector, table.schema, 1000)
        assert {f"{table.name}.csv", f"{table.name}.jsonl", f"{table.name}.parquet"} <= set(files)

    async def test_a_table_reads_as_csv(self, connector: Connector, table: SampleTable) -> None:
        rows = _csv_rows(await read_all(connector, f"{table.schema}/{table.name}.csv"))
        assert rows == [table.columns, *table.rows]

    async def test_a_table_reads_as_json_lines(self, connector: Connector, table: SampleTable) -> None:
        data = await read_all(connector, f"{table.schema}/{table.name}.jsonl")
        records = [json.loads(line) for line in data.decode().splitlines()]
        assert [[str(r[c]) for c in table.columns] for r in records] == table.rows

    async def test_a_table_reads_as_parquet(self, connector: Connector, table: SampleTable) -> None:
        data = await read_all(connector, f"{table.schema}/{table.name}.parquet")
        read = pq.read_table(io.BytesIO(data)).to_pylist()
        assert [[str(r[c]) for c in table.columns] for r in read] == table.rows

    async def test_stat_of_a_missing_table_is_not_found(self, connector: Connector, table: SampleTable) -> None:
        with pytest.raises(NotFound):
            await connector.stat(f"{table.schema}/no_such_table.csv")

    async def test_a_loaded_table_reads_back(self, connector: Connector, table: SampleTable) -> None:
        text = io.StringIO()
        csv.writer(text, lineterminator="\n").writerows([table.columns, *table.rows])
        body = text.getvalue().encode()
        await connector.write(f"{table.schema}/{table.name}_copy.csv", chunks_of(body, 7))
        rows = _csv_rows(await read_all(connector, f"{table.schema}/{table.name}_copy.csv"))
        assert rows[1:] == table.rows

    async def test_a_failed_load_leaves_no_table(self, connector: Connector, table: SampleTable) -> None:
        with pytest.raises(RuntimeError, match="went away mid-upload"):
            await connector.write(f"{table.schema}/{table.name}_half.csv", failing_after(b"id,label\n1,a\n"))
        with pytest.raises(NotFound):
            await connector.stat(f"{table.schema}/{table.name}_half.csv")

    async def test_byte_ranges_are_refused(self, connector: Connector, table: SampleTable) -> None:
        with pytest.raises(InvalidInput):
            await read_all(connector, f"{table.schema}/{table.name}.csv", 0, 1)

    async def test_tables_are_not_deleted_through_a_connection(self, connector: Connector, table: SampleTable) -> None:
        with pytest.raises(NotSupported):
            await connector.delete(f"{table.schema}/{table.name}.csv")

    async def test_a_write_check_passes(self, connector: Connector) -> None:
        await connector.check(write=True)


def contract(traits: Traits) -> tuple[type, ...]:
    """The mixins a kind with these traits runs (its test class inherits them)."""
    copying: tuple[type, ...] = (CopyContract,) if traits.copies else (NoCopyContract,)
    if traits.tables:
        return (DatabaseContract, *copying)
    if not traits.retains:
        return (SinkContract, *copying)
    mixins: list[type] = list(copying)
    if traits.output:
        mixins.append(OutputContract)
    if traits.input:
        mixins += [ReadContract, RangeContract if traits.ranges else NoRangeContract]
    if traits.listing:
        mixins.append(ListingContract)
        if traits.output:
            mixins.append(PagedListingContract)
    elif traits.input:
        mixins.append(NoListingContract)
    if traits.output and traits.directories:
        mixins.append(DirectoryContract)
    if not traits.output:
        mixins.append(InputOnlyContract)
    return tuple(mixins)
