"""Blocking reads of async byte streams: the one bridge from the event loop to code that reads
files (pyarrow's readers, database loaders, the apps of a job), which runs in threads of its own.

`bridge` pulls an async stream's chunks from any thread, one at a time, so memory stays bounded
by a chunk; `ChunkReader` is a readable file over any iterator of chunks.
"""

from __future__ import annotations

import io
from collections.abc import AsyncIterable, Iterator
from typing import Any

import anyio.from_thread
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
