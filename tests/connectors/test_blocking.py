"""Blocking reads of async byte streams, from threads: what pyarrow, database loaders and job apps read through."""

from collections.abc import AsyncIterator

import anyio
import anyio.lowlevel
import anyio.to_thread
import pytest

from headwater.connectors.blocking import ChunkReader, bridge, bridge_ahead
from tests.fixtures.loops import run_coroutine

pytestmark = pytest.mark.anyio


def test_a_read_fills_the_whole_buffer_across_chunks_until_the_stream_ends() -> None:
    reader = ChunkReader(iter([b"ab", b"", b"cde", b"f"]))
    buffer = bytearray(4)
    assert reader.readinto(buffer) == 4 and bytes(buffer) == b"abcd"
    assert reader.readinto(buffer) == 2 and bytes(buffer[:2]) == b"ef"
    assert reader.readinto(buffer) == 0


async def test_a_thread_reads_an_async_stream_chunk_by_chunk_through_the_bridge() -> None:
    pulled: list[int] = []

    async def chunks() -> AsyncIterator[bytes]:
        for index, chunk in enumerate([b"one,", b"", b"two,", b"three"]):
            pulled.append(index)
            yield chunk

    token = anyio.lowlevel.current_token()

    def read_all() -> tuple[bytes, list[int]]:
        reader = ChunkReader(bridge(chunks(), token))
        first = reader.read(4)
        seen = list(pulled)  # only what the first read needed was pulled
        return first + reader.read(), seen

    data, seen_after_first = await anyio.to_thread.run_sync(read_all)
    assert data == b"one,two,three" and seen_after_first == [0]


async def recorded(pulled: list[bytes], *chunks: bytes) -> AsyncIterator[bytes]:
    for chunk in chunks:
        pulled.append(chunk)
        yield chunk


async def test_a_stream_within_the_lookahead_is_pulled_before_the_thread_reads_it() -> None:
    pulled: list[bytes] = []
    chunks = await bridge_ahead(recorded(pulled, b"one,", b"", b"two"), ahead=100)
    assert len(pulled) == 3  # all of it, here in the loop: the thread reads it with no hop back

    def read_all() -> bytes:
        return ChunkReader(chunks).read()

    assert await anyio.to_thread.run_sync(read_all) == b"one,two"


async def test_a_longer_stream_is_pulled_ahead_then_bridged_chunk_by_chunk() -> None:
    pulled: list[bytes] = []
    chunks = await bridge_ahead(recorded(pulled, b"a" * 60, b"b" * 60, b"c" * 60, b"d"), ahead=100)
    assert len(pulled) == 2  # the lookahead, and not a chunk more

    def read_all() -> tuple[bytes, int]:
        reader = ChunkReader(chunks)
        first = reader.read(120)
        seen = len(pulled)
        return first + reader.read(), seen

    data, seen_after_first = await anyio.to_thread.run_sync(read_all)
    assert data == b"a" * 60 + b"b" * 60 + b"c" * 60 + b"d" and seen_after_first == 2


def test_a_stream_within_the_lookahead_is_whole_for_a_reader_that_takes_bytes() -> None:
    chunks = run_coroutine(bridge_ahead(recorded([], b"one,", b"two,", b"three"), ahead=100))
    assert chunks.ended and chunks.whole() == b"one,two,three"


def test_a_stream_beyond_the_lookahead_is_not_whole() -> None:
    chunks = run_coroutine(bridge_ahead(recorded([], b"a" * 60, b"b" * 60, b"c"), ahead=100))
    assert not chunks.ended
    with pytest.raises(ValueError, match="did not end"):
        chunks.whole()
