"""Blocking reads of async byte streams: the one bridge from the event loop to code that reads
files (pyarrow's readers, database loaders, the apps of a job), which runs in threads of its own.

`bridge` pulls an async stream's chunks from any thread, one at a time, so memory stays bounded
by a chunk (`bridge_ahead` pulls the first chunk or so before the thread starts: a small stream
crosses no thread boundary at all); `ChunkReader` is a readable file over any iterator of chunks.
"""

from __future__ import annotations

import io
from collections.abc import AsyncIterable, Iterator
from typing import Any

import anyio.from_thread
import anyio.lowlevel
from anyio.lowlevel import EventLoopToken


def bridge(chunks: AsyncIterable[bytes], token: EventLoopToken | None = None) -> Iterator[bytes]:
    """The non-empty chunks of an async stream, pulled from a thread (`token`: the stream's event
    loop, needed when the thread was not started by that loop)."""
    iterator = chunks.__aiter__()

    async def pull() -> bytes | None:
        try:
            return await iterator.__anext__()
        except StopAsyncIteration:
            return None

    while True:
        chunk = anyio.from_thread.run(pull, token=token)
        if chunk is None:
            return
        if chunk:
            yield chunk


async def bridge_ahead(chunks: AsyncIterable[bytes], ahead: int) -> Iterator[bytes]:
    """`bridge` over a stream whose first `ahead` bytes (or a chunk more) are pulled now, in the loop: a
    stream that ends within them is then read from a thread with no hop back to the loop (a small file
    costs its reader none). Call it in the stream's event loop."""
    iterator = chunks.__aiter__()
    head: list[bytes] = []
    size = 0
    ended = False
    while size < ahead:
        try:
            chunk = await iterator.__anext__()
        except StopAsyncIteration:
            ended = True
            break
        if chunk:
            head.append(chunk)
            size += len(chunk)
    token = anyio.lowlevel.current_token()

    def read() -> Iterator[bytes]:
        while head:
            yield head.pop(0)
        if not ended:
            yield from bridge(iterator, token)

    return read()


class ChunkReader(io.RawIOBase):
    """A readable file over an iterator of byte chunks.

    A read fills the whole buffer unless the stream ends (pyarrow takes a short read for the end
    of a block), holding at most one chunk beyond what was asked for.
    """

    def __init__(self, chunks: Iterator[bytes]) -> None:
        self._chunks = chunks
        self._held = memoryview(b"")
        self._eof = False

    def readable(self) -> bool:
        return True

    def readinto(self, target: Any) -> int:
        view = memoryview(target).cast("B")
        filled = 0
        while filled < len(view):
            if not self._held:
                if self._eof:
                    break
                try:
                    self._held = memoryview(next(self._chunks)).cast("B")
                except StopIteration:
                    self._eof = True
                    break
            size = min(len(view) - filled, len(self._held))
            view[filled : filled + size] = self._held[:size]
            self._held = self._held[size:]
            filled += size
        return filled
