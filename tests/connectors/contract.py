"""The connector contract, written once: every kind runs it, skipping only what its capabilities exclude.

In the spirit of fsspec's abstract tests and rclone's fstests. A kind joins by adding
a factory to `CONNECTOR_FACTORIES` in `test_contract.py`.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import AsyncIterator

import pytest

from headwater.connectors.base import Connector
from headwater.errors import Conflict, HeadwaterError, NotFound, NotSupported


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


class ConnectorContract:
    """The behaviours every writable, readable kind shares. `connector` is an empty, writable root."""

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

    async def test_stat_of_a_missing_path_is_not_found(self, connector: Connector) -> None:
        with pytest.raises(NotFound):
            await connector.stat("no/such/file")

    async def test_ranged_reads_return_exactly_the_range(self, connector: Connector) -> None:
        data = bytes(range(256)) * 40
        await connector.write("r.bin", chunks_of(data))
        assert await read_all(connector, "r.bin", 10, 20) == data[10:20]
        assert await read_all(connector, "r.bin", 10_000, None) == data[10_000:]
        assert await read_all(connector, "r.bin", 0, 1) == data[:1]

    async def test_overwrite_replaces_the_content(self, connector: Connector) -> None:
        await connector.write("o.txt", chunks_of(b"first version"))
        await connector.write("o.txt", chunks_of(b"second"))
        assert await read_all(connector, "o.txt") == b"second"

    async def test_a_failed_upload_leaves_no_object(self, connector: Connector) -> None:
        with pytest.raises(Exception):
            await connector.write("partial.bin", failing_after(os.urandom(100_000)))
        with pytest.raises(NotFound):
            await connector.stat("partial.bin")
        folders, files, _ = await list_all(connector, "", 1000)
        assert "partial.bin" not in files and files == []

    async def test_a_failed_overwrite_keeps_the_old_content(self, connector: Connector) -> None:
        await connector.write("keep.txt", chunks_of(b"committed"))
        with pytest.raises(Exception):
            await connector.write("keep.txt", failing_after(b"half"))
        assert await read_all(connector, "keep.txt") == b"committed"

    async def test_listing_pages_cover_everything_once(self, connector: Connector) -> None:
        names = [f"f{i:03d}.txt" for i in range(25)]
        for name in names:
            await connector.write(f"many/{name}", chunks_of(b"x"))
        await connector.write("many/sub/inner.txt", chunks_of(b"y"))
        folders, files, pages = await list_all(connector, "many", 10)
        assert pages >= 3
        assert sorted(files) == names and folders == ["sub"]

    async def test_listing_a_missing_directory_is_not_found(self, connector: Connector) -> None:
        with pytest.raises(NotFound):
            await connector.list("nowhere")

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

    async def test_delete_removes_a_file(self, connector: Connector) -> None:
        await connector.write("gone.txt", chunks_of(b"x"))
        await connector.delete("gone.txt")
        with pytest.raises(NotFound):
            await connector.stat("gone.txt")

    async def test_deleting_a_missing_file_is_not_found(self, connector: Connector) -> None:
        with pytest.raises(NotFound):
            await connector.delete("never-was.txt")

    async def test_check_passes_on_a_working_connection(self, connector: Connector) -> None:
        await connector.check(write=True)


class ReadOnlyContract:
    """What an input-only kind must refuse."""

    async def test_writes_are_refused(self, connector: Connector) -> None:
        with pytest.raises((NotSupported, HeadwaterError)):
            await connector.write("x", chunks_of(b"x"))
