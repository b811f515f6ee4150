"""Byte streams between a job's blocking app code and the async writes of its output."""

from collections.abc import AsyncIterator
from typing import Any

import anyio.from_thread
import pytest

from headwater.services.jobs.streams import AppFailed, ChunkWriter, through_thread
from tests.fixtures.loops import run_coroutine


async def collected(chunks: AsyncIterator[bytes]) -> list[bytes]:
    return [chunk async for chunk in chunks]


def test_an_output_within_a_chunk_reaches_the_writer_with_no_hop_back_into_the_loop(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    hops: list[Any] = []
    real = anyio.from_thread.run

    def counted(*args: Any, **kwargs: Any) -> Any:
        hops.append(args[0])
        return real(*args, **kwargs)

    monkeypatch.setattr(anyio.from_thread, "run", counted)

    def work(out: ChunkWriter) -> str:
        out.write(b"small ")
        out.write(b"output")
        return "worked"

    result, chunks = run_coroutine(through_thread(work, collected, chunk_size=1024))
    assert (result, chunks, hops) == ("worked", [b"small output"], [])


def test_a_longer_output_streams_chunk_by_chunk_while_the_app_runs() -> None:
    def work(out: ChunkWriter) -> None:
        for letter in b"abcde":
            out.write(bytes([letter]) * 40)

    _, chunks = run_coroutine(through_thread(work, collected, chunk_size=100))
    assert b"".join(chunks) == b"".join(bytes([c]) * 40 for c in b"abcde")
    assert len(chunks) > 1 and all(len(chunk) >= 100 for chunk in chunks[:-1])


def test_an_app_that_fails_hands_the_writer_no_end_so_nothing_commits() -> None:
    committed: list[bytes] = []

    async def commit(chunks: AsyncIterator[bytes]) -> None:
        async for chunk in chunks:
            committed.append(chunk)
        committed.append(b"<committed>")

    def work(out: ChunkWriter) -> None:
        out.write(b"partial")
        raise RuntimeError("the app broke")

    with pytest.raises((RuntimeError, AppFailed)):
        run_coroutine(through_thread(work, commit, chunk_size=1024))
    assert b"<committed>" not in committed
