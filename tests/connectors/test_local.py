"""The `local` kind's writes: whole files or nothing, whatever the stream's length or where it fails."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from headwater.connectors.local import PARTIAL_PREFIX, LocalConnector
from headwater.errors import Conflict

pytestmark = pytest.mark.anyio


async def stream(*chunks: bytes, fail: bool = False) -> AsyncIterator[bytes]:
    for chunk in chunks:
        yield chunk
    if fail:
        raise RuntimeError("the producer stopped")


def leftovers(folder: Path) -> list[str]:
    return [p.name for p in folder.rglob(f"{PARTIAL_PREFIX}*")]


@pytest.mark.parametrize("chunks", [[], [b"one"], [b"one", b"", b"two"], [b"x" * 1000] * 5])
async def test_a_file_reads_back_as_its_chunks_joined(tmp_path: Path, chunks: list[bytes]) -> None:
    connector = LocalConnector(tmp_path)
    entry = await connector.write("a/b.bin", stream(*chunks))
    assert (tmp_path / "a" / "b.bin").read_bytes() == b"".join(chunks)
    assert entry.size == len(b"".join(chunks))
    assert leftovers(tmp_path) == []


@pytest.mark.parametrize("chunks", [[], [b"one"], [b"one", b"two", b"three"]])
async def test_a_stream_that_fails_leaves_neither_the_file_nor_a_temporary(tmp_path: Path, chunks: list[bytes]) -> None:
    connector = LocalConnector(tmp_path)
    (tmp_path / "kept.bin").write_bytes(b"old")
    with pytest.raises(RuntimeError):
        await connector.write("kept.bin", stream(*chunks, fail=True))
    assert (tmp_path / "kept.bin").read_bytes() == b"old"
    assert leftovers(tmp_path) == []


async def test_a_file_under_a_file_is_a_conflict_and_leaves_nothing(tmp_path: Path) -> None:
    connector = LocalConnector(tmp_path)
    (tmp_path / "plain").write_bytes(b"")
    with pytest.raises(Conflict):
        await connector.write("plain/b.bin", stream(b"one", b"two"))
    assert leftovers(tmp_path) == []
