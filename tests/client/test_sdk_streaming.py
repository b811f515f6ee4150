"""Large transfers through the SDK: byte-identical, bounded memory both ways, one kept-alive connection."""

from __future__ import annotations

import hashlib
import os
import tracemalloc
import uuid
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from headwater.client import Client
from tests.fixtures.hub import RunningHub
from tests.fixtures.tcp_relay import relay_to

MiB = 1024 * 1024
SIZE = 48 * MiB


@pytest.fixture
def token(sqlite_hub: RunningHub) -> str:
    return sqlite_hub.token(org=f"org-{uuid.uuid4().hex[:10]}")


@pytest.fixture
def local(sqlite_hub: RunningHub, token: str, tmp_path: Path) -> str:
    """A read-write `local` source over a folder of tmp_path; returns its address root."""
    folder = tmp_path / "source"
    folder.mkdir()
    label = f"lab-{uuid.uuid4().hex[:8]}"
    with Client(sqlite_hub.url, token) as client:
        client.sources.create(protocol="local", label=label, params={"path": str(folder)}, access="read-write")
    return f"local+{label}://"


def pieces(count: int, size: int = MiB) -> Iterator[bytes]:
    """`count` distinct pieces, made as they are pulled (so nothing holds the whole)."""
    for index in range(count):
        yield index.to_bytes(4, "big") * (size // 4)


def digest(chunks: Iterator[bytes]) -> str:
    hashed = hashlib.sha256()
    for chunk in chunks:
        hashed.update(chunk)
    return hashed.hexdigest()


def test_large_transfers_are_identical_and_memory_stays_bounded(
    sqlite_hub: RunningHub, token: str, local: str, tmp_path: Path
) -> None:
    """48 MiB up from an iterator and back down (iterated, to a file, as bytes): the same bytes, and the
    process (client and in-process hub together) never holds more than a few chunks of them."""
    expected = digest(pieces(SIZE // MiB))
    with Client(sqlite_hub.url, token) as client:
        target = client.file(local + "big.bin")
        tracemalloc.start()
        try:
            target.put(pieces(SIZE // MiB), size=SIZE)
            with target.get() as download:
                sizes = []
                hashed = hashlib.sha256()
                for chunk in download:
                    sizes.append(len(chunk))
                    hashed.update(chunk)
            written = target.get_file(tmp_path / "down.bin")
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
        assert peak < 16 * MiB, peak
        assert hashed.hexdigest() == expected
        assert sum(sizes) == SIZE and max(sizes) <= client.chunk_size
        assert written == tmp_path / "down.bin" and written.stat().st_size == SIZE
        with written.open("rb") as handle:
            assert digest(iter(lambda: handle.read(MiB), b"")) == expected
        assert not list(tmp_path.glob(".down.bin.*"))  # no temporary file left behind
        assert hashlib.sha256(target.get_bytes()).hexdigest() == expected


def test_a_small_chunk_size_is_respected(sqlite_hub: RunningHub, token: str, local: str) -> None:
    """A client asking for 4 KiB chunks gets no larger ones, and every byte."""
    data = os.urandom(300_000)
    with Client(sqlite_hub.url, token, chunk_size=4096) as client:
        target = client.file(local + "small-chunks.bin")
        target.put(data)
        with target.get() as download:
            chunks = list(download)
    assert max(len(c) for c in chunks) <= 4096
    assert b"".join(chunks) == data


def test_an_upload_from_a_file_streams_it(sqlite_hub: RunningHub, token: str, local: str, tmp_path: Path) -> None:
    """`put_file` sends a 48 MiB local file without reading it whole."""
    source = tmp_path / "up.bin"
    with source.open("wb") as out:
        for piece in pieces(SIZE // MiB):
            out.write(piece)
    with Client(sqlite_hub.url, token) as client:
        target = client.file(local + "from-file.bin")
        tracemalloc.start()
        try:
            target.put_file(source)
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
        assert peak < 16 * MiB, peak
        assert target.info().size == SIZE
        with target.get() as download:
            assert digest(iter(download)) == digest(pieces(SIZE // MiB))


def test_one_connection_serves_many_requests(sqlite_hub: RunningHub, token: str, local: str, tmp_path: Path) -> None:
    """Uploads, downloads read to the end, `info` and listings all reuse one kept-alive connection."""
    hub = urlsplit(sqlite_hub.url)
    with relay_to(hub.hostname or "127.0.0.1", hub.port or 80) as relay, Client(relay.url, token) as client:
        for index in range(3):
            target = client.file(f"{local}keep/{index}.bin")
            target.put(pieces(3))
            assert target.get_bytes() == b"".join(pieces(3))
            target.get_file(tmp_path / f"{index}.bin")
            with target.get() as download:
                assert sum(len(c) for c in download) == 3 * MiB
            assert target.info().size == 3 * MiB
        assert len(list(client.dir(local + "keep").list())) == 3
        assert relay.connections == 1
